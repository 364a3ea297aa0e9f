/*
 * fuzz_marshal.c - libFuzzer target for the marshaller (lib/aws/marshal.c).
 *
 * The input bytes are used three ways:
 *   1. as JSON text for tf_marshal_value_json_text and tf_marshal_json_text:
 *      when accepted, unmarshalling to text and marshalling that text again
 *      must work and give an equal AV (numbers compared as text);
 *   2. parsed by cJSON as plain JSON for tf_marshal_value: when accepted,
 *      tf_unmarshal_value then tf_marshal_value must give an equal AV;
 *   3. parsed by cJSON as AV JSON (as from the network) for the unmarshal
 *      functions: when accepted and the JSON text marshals again, it must
 *      unmarshal to the very same text.
 * Any other outcome, a crash or a leak is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/marshal.h"
#include "base/alloc.h"
#include "base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run with a message; libFuzzer saves the input. */
static void
finding(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_marshal: %s: %s\n", what,
	    detail != NULL ? detail : "");
	abort();
}

/* True when the two AVs print the same. Both come from the marshaller, so
 * member order is deterministic. (cJSON_Compare is not used: it walks object
 * members in both directions, which takes 2^depth steps on nested AVs.) */
static int
same_av(const cJSON *a, const cJSON *b)
{
	char *ta = cJSON_PrintUnformatted(a);
	char *tb = cJSON_PrintUnformatted(b);
	int same;

	if (ta == NULL || tb == NULL)
		finding("cJSON_PrintUnformatted failed", NULL);
	same = strcmp(ta, tb) == 0;
	cJSON_free(ta);
	cJSON_free(tb);
	return same;
}

/* Path 1: text -> AV -> text -> AV; the two AVs must be equal. */
static void
text_roundtrip(const char *text, size_t len, int item)
{
	char err[256];
	cJSON *av1 = NULL, *av2 = NULL;
	char *back = NULL;
	enum tf_err rc;

	rc = item ? tf_marshal_json_text(text, len, &av1, err, sizeof(err)) :
	    tf_marshal_value_json_text(text, len, &av1, err, sizeof(err));
	if (rc != TF_OK) {
		if (rc != TF_ERR_INVALID && rc != TF_ERR_TOO_LARGE)
			finding("marshal text: unexpected code", err);
		if (av1 != NULL || err[0] == '\0')
			finding("marshal text: bad output or message", err);
		return;
	}
	rc = item ? tf_unmarshal_to_json_text(av1, &back, err, sizeof(err)) :
	    tf_unmarshal_value_to_json_text(av1, &back, err, sizeof(err));
	if (rc != TF_OK)
		finding("unmarshal of our own AV failed", err);
	rc = item ? tf_marshal_json_text(back, strlen(back), &av2, err,
	    sizeof(err)) : tf_marshal_value_json_text(back, strlen(back), &av2,
	    err, sizeof(err));
	if (rc != TF_OK)
		finding("marshal of our own text failed", err);
	if (!same_av(av1, av2))
		finding("text round trip changed the AV", back);
	cJSON_Delete(av1);
	cJSON_Delete(av2);
	tf_free(back);
}

/* Path 2: cJSON tree -> AV -> tree -> AV; the two AVs must be equal. */
static void
tree_roundtrip(const cJSON *json)
{
	char err[256];
	cJSON *av1 = NULL, *av2 = NULL, *back = NULL;

	if (tf_marshal_value(json, &av1, err, sizeof(err)) != TF_OK)
		return;
	if (tf_unmarshal_value(av1, &back, err, sizeof(err)) != TF_OK)
		finding("tree unmarshal of our own AV failed", err);
	if (tf_marshal_value(back, &av2, err, sizeof(err)) != TF_OK)
		finding("tree marshal of our own tree failed", err);
	if (!same_av(av1, av2))
		finding("tree round trip changed the AV", NULL);
	cJSON_Delete(av1);
	cJSON_Delete(av2);
	cJSON_Delete(back);
}

/* Path 3: AV from the network -> text -> AV -> text; the texts must match. */
static void
av_roundtrip(const cJSON *av, int item)
{
	char err[256];
	cJSON *av2 = NULL, *tree = NULL;
	char *t1 = NULL, *t2 = NULL;
	enum tf_err rc;

	rc = item ? tf_unmarshal_to_json_text(av, &t1, err, sizeof(err)) :
	    tf_unmarshal_value_to_json_text(av, &t1, err, sizeof(err));
	if (rc != TF_OK) {
		if (rc != TF_ERR_PARSE || t1 != NULL || err[0] == '\0')
			finding("unmarshal: wrong failure", err);
		/* The tree form must refuse the same input. */
		rc = item ? tf_unmarshal_item(av, &tree, err, sizeof(err)) :
		    tf_unmarshal_value(av, &tree, err, sizeof(err));
		if (rc != TF_ERR_PARSE || tree != NULL)
			finding("tree unmarshal accepted what text refused",
			    err);
		return;
	}
	rc = item ? tf_unmarshal_item(av, &tree, err, sizeof(err)) :
	    tf_unmarshal_value(av, &tree, err, sizeof(err));
	if (rc != TF_OK)
		finding("tree unmarshal refused what text accepted", err);
	cJSON_Delete(tree);
	(void)tf_marshal_value_size(av);
	(void)tf_marshal_item_size(av);
	rc = item ? tf_marshal_json_text(t1, strlen(t1), &av2, err,
	    sizeof(err)) : tf_marshal_value_json_text(t1, strlen(t1), &av2, err,
	    sizeof(err));
	if (rc == TF_OK) {
		if (item)
			rc = tf_unmarshal_to_json_text(av2, &t2, err, sizeof(err));
		else
			rc = tf_unmarshal_value_to_json_text(av2, &t2, err,
			    sizeof(err));
		if (rc != TF_OK)
			finding("unmarshal of our own AV failed", err);
		if (strcmp(t1, t2) != 0)
			finding("AV round trip changed the text", t1);
	} else if (rc != TF_ERR_INVALID && rc != TF_ERR_TOO_LARGE) {
		finding("marshal of unmarshalled text: unexpected code", err);
	}
	cJSON_Delete(av2);
	tf_free(t1);
	tf_free(t2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	const char *text = (const char *)data;
	cJSON *json;

	if (!initialised) {
		tf_alloc_init();
		initialised = 1;
	}
	text_roundtrip(text, size, 0);
	text_roundtrip(text, size, 1);
	json = cJSON_ParseWithLength(text, size);
	if (json != NULL) {
		tree_roundtrip(json);
		av_roundtrip(json, 0);
		av_roundtrip(json, 1);
		cJSON_Delete(json);
	}
	return 0;
}
