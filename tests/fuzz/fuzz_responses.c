/*
 * fuzz_responses.c - libFuzzer target for everything that parses AWS replies:
 * error bodies, ReceiveMessage replies, batch "Failed" lists and the item
 * accessors the engine reads DynamoDB replies with, and the tree-less readers
 * of SQS answers (sqs_wire.h) and of a claim's answer (task_answer.h, which
 * must agree with the tree's reading whenever it accepts one) and of an SQS
 * message's body (tf_task_message_parse) on the raw bytes, and the credential chain's
 * readers of STS's XML and credential_process output. Any input must be handled
 * without a crash, a leak or undefined behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "aws/creds_process.h"
#include "aws/creds_sts.h"
#include "aws/ddb.h"
#include "aws/sqs.h"
#include "aws/sqs_wire.h"
#include "base/alloc.h"
#include "base/log.h"
#include "task/task.h"
#include "task/task_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The tree-less readers on the raw bytes: whatever they return, they free
 * what they allocated, and the messages they hand out are complete. */
static void
read_raw(const char *text, size_t len)
{
	static const struct tf_sqs_sent sent[2] = {
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "b", "92eb5ffee6ae2fec3ad71c777531578f" },
	};
	struct tf_sqs_message *msgs = NULL;
	struct tf_sqs_batch_result res;
	char *id = NULL;
	size_t count = 0, i;

	if (tf_sqs_read_receive(text, len, &msgs, &count) == TF_OK) {
		for (i = 0; i < count; i++)
			if (msgs[i].body == NULL || msgs[i].receipt_handle == NULL ||
			    msgs[i].message_id == NULL)
				__builtin_trap();
		tf_sqs_messages_free(msgs, count);
	} else if (msgs != NULL || count != 0) {
		__builtin_trap();
	}
	memset(&res, 0, sizeof(res));
	tf_sqs_read_batch(text, len, sent, 2, &res);
	tf_sqs_batch_result_free(&res);
	if (tf_sqs_read_send(text, len, sent[0].md5, &id) == TF_OK && id == NULL)
		__builtin_trap();
	tf_free(id);
}

static int
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The claim's answer read without a tree: what it accepts, the tree reads
 * the same way (the fields the consumer acts on). */
static void
read_claim(const char *text, size_t len)
{
	struct tf_task a, b;
	char why[256];
	cJSON *doc;

	if (tf_task_from_answer(text, len, "Attributes", &a, why,
	    sizeof(why)) == TF_OK) {
		if (a.id == NULL || a.type == NULL || a.ns == NULL ||
		    a.params_json == NULL)
			__builtin_trap();
		doc = cJSON_ParseWithLength(text, len);
		if (doc == NULL || tf_task_from_item(
		    cJSON_GetObjectItemCaseSensitive(doc, "Attributes"), &b, why,
		    sizeof(why)) != TF_OK)
			__builtin_trap();
		if (!same_str(a.id, b.id) || !same_str(a.type, b.type) ||
		    !same_str(a.params_json, b.params_json) ||
		    !same_str(a.lease_token, b.lease_token) ||
		    !same_str(a.history_av, b.history_av) ||
		    !same_str(a.errors_av, b.errors_av) || a.gen != b.gen ||
		    a.status != b.status || a.next_run != b.next_run ||
		    a.priority != b.priority)
			__builtin_trap();
		tf_task_free(&b);
		cJSON_Delete(doc);
	}
	if (strlen(why) >= sizeof(why))
		__builtin_trap();
	tf_task_free(&a);
}

/* A message body (NUL-terminated, as SQS hands it over): what is accepted
 * has a valid id. */
static void
read_message_body(const char *text, size_t len)
{
	struct tf_task_message m;
	char why[256], *body = tf_malloc(len + 1);

	if (body == NULL)
		return;
	memcpy(body, text, len);
	body[len] = '\0';
	if (tf_task_message_parse(body, &m, why, sizeof(why)) == TF_OK &&
	    !tf_task_id_valid(m.id))
		__builtin_trap();
	tf_free(body);
}

/* The credential readers: what they accept is complete and terminated. */
static void
read_creds(const char *text, size_t len)
{
	struct tf_creds c;
	char why[256];

	memset(&c, 0, sizeof(c));
	if (tf_sts_parse_response(200, text, len, "assume-role", &c, why,
	    sizeof(why)) == TF_OK && (c.access_key_id[0] == '\0' ||
	    c.secret_access_key[0] == '\0' || c.session_token[0] == '\0' ||
	    c.expires_at_ms == 0))
		__builtin_trap();
	(void)tf_sts_parse_response(403, text, len, "assume-role", &c, why, sizeof(why));
	if (strlen(why) >= sizeof(why))
		__builtin_trap();
	memset(&c, 0, sizeof(c));
	if (tf_creds_process_parse(text, len, &c, why, sizeof(why)) == TF_OK &&
	    (c.access_key_id[0] == '\0' || c.secret_access_key[0] == '\0'))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	struct tf_sqs_message *msgs = NULL;
	struct tf_sqs_batch_result res;
	char type[128], message[512];
	const cJSON *item;
	cJSON *doc;
	int64_t n;
	size_t count = 0, i;

	if (!initialised) {
		tf_alloc_init();
		tf_log_set_level(TF_LOG_ERROR + 1);
		initialised = 1;
	}
	tf_aws_parse_error_body((const char *)data, size, type, sizeof(type),
	    message, sizeof(message));
	if (strlen(type) >= sizeof(type) || strlen(message) >= sizeof(message))
		__builtin_trap();

	read_raw((const char *)data, size);
	read_claim((const char *)data, size);
	read_message_body((const char *)data, size);
	read_creds((const char *)data, size);
	doc = cJSON_ParseWithLength((const char *)data, size);
	if (doc == NULL)
		return 0;
	if (tf_sqs_parse_receive(doc, &msgs, &count) == TF_OK) {
		for (i = 0; i < count; i++)
			if (msgs[i].body == NULL || msgs[i].receipt_handle == NULL)
				__builtin_trap();
		tf_sqs_messages_free(msgs, count);
	}
	memset(&res, 0, sizeof(res));
	tf_sqs_parse_failed(doc, &res);
	tf_sqs_batch_result_free(&res);
	item = cJSON_GetObjectItemCaseSensitive(doc, "Item");
	(void)tf_ddb_item_s(item, "id");
	(void)tf_ddb_item_n(item, "gen", &n);
	cJSON_Delete(doc);
	return 0;
}
