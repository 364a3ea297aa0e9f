/* test_http_sign.c - webhook signatures and signing keys (lib/webhook/http_sign.c).
 *
 * The expected signatures were computed independently of this code, with
 * Python's hmac module:
 *
 *   python3 -c 'import hmac,hashlib; print(hmac.new(KEY, MESSAGE,
 *       hashlib.sha256).hexdigest())'
 *
 * with KEY and MESSAGE as given next to each value below. */
#include "harness.h"

#include <stdbool.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/err.h"
#include "webhook/http_sign.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* 32 bytes. */
#define KEY1 "0123456789abcdef0123456789abcdef"
/* Exactly TF_HTTP_SIGN_KEY_MIN (16) bytes. */
#define KEY2 "second-key-16byt"

#define TS 1795430400
#define JSON_BODY "{\"event\":\"paid\",\"amount\":12345678901234567890}"

/* KEY1, b"1795430400." + JSON_BODY */
#define SIG_JSON_KEY1 \
	"c3d2e32d138aa9071519834bc5f0f09102bae043b8d363e061769f956ef6f488"
/* KEY2, b"1795430400." + JSON_BODY */
#define SIG_JSON_KEY2 \
	"1fed5c2bb48aecf1f69f0143220b633f6bcac12859924383feeb56365660085c"
/* KEY1, b"1795430400." */
#define SIG_EMPTY_KEY1 \
	"8b34ba440edc23774c3e89abb54f260ee596e3e8a71164852623f3d46c5c98e7"
/* KEY1, b"1795430400." + b"a\x00b\xff\xfe\x80c" */
#define SIG_BINARY_KEY1 \
	"ef336b4c44d6a3b01fb3098931b933e62118379f6c847780772a26f28856e6bb"
/* KEY2, b"0." */
#define SIG_TS0_KEY2 \
	"d4aed661dfa91802b27f36e4e246bffbd1d3c197ad0bb0a126bb292de3048255"
/* KEY2, b"-1.x" */
#define SIG_NEG_KEY2 \
	"aafd9747477c7c8233695296d724a8d7bcae49ca33ce24fb1971fcc20001ee60"

/* True when every byte of k is zero: what tf_http_keys_free() and a failed
 * parse leave. */
static bool
keys_are_empty(const struct tf_http_keys *k)
{
	static const struct tf_http_keys zero;

	return memcmp(k, &zero, sizeof(zero)) == 0;
}

/* Signs body with the keys in text, into *out (emptied first). */
static enum tf_err
sign_with(const char *text, int64_t ts, const void *body, size_t len,
    struct tf_buf *out)
{
	struct tf_http_keys keys;
	char err[256];
	enum tf_err rc;

	tf_buf_reset(out);
	rc = tf_http_keys_parse(text, &keys, err, sizeof(err));
	if (rc != TF_OK)
		return rc;
	rc = tf_http_sign(&keys, ts, body, len, out);
	tf_http_keys_free(&keys);
	return rc;
}

/* ---- Known answers ------------------------------------------------------ */

static void
test_sign_json_body(void)
{
	struct tf_buf out = TF_BUF_INIT;

	CHECK(sign_with(KEY1, TS, JSON_BODY, strlen(JSON_BODY), &out) == TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "v1=" SIG_JSON_KEY1);
	CHECK_INT_EQ(out.len, 3 + 64);
	CHECK(sign_with(KEY2, TS, JSON_BODY, strlen(JSON_BODY), &out) == TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "v1=" SIG_JSON_KEY2);
	tf_buf_free(&out);
}

static void
test_sign_empty_body(void)
{
	struct tf_buf out = TF_BUF_INIT;

	/* No body: NULL with 0 bytes, and a non-NULL pointer with 0 bytes,
	 * sign just "<ts>.". */
	CHECK(sign_with(KEY1, TS, NULL, 0, &out) == TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "v1=" SIG_EMPTY_KEY1);
	CHECK(sign_with(KEY1, TS, "ignored", 0, &out) == TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "v1=" SIG_EMPTY_KEY1);
	CHECK(sign_with(KEY2, 0, NULL, 0, &out) == TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "v1=" SIG_TS0_KEY2);
	tf_buf_free(&out);
}

/* The body is bytes: a NUL and bytes that are not UTF-8 are signed as they
 * are, and only len bytes are read. */
static void
test_sign_binary_body(void)
{
	static const unsigned char body[] = {
		'a', 0x00, 'b', 0xff, 0xfe, 0x80, 'c', 'X', 'Y',
	};
	struct tf_buf out = TF_BUF_INIT;

	CHECK(sign_with(KEY1, TS, body, 7, &out) == TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "v1=" SIG_BINARY_KEY1);
	CHECK(sign_with(KEY1, TS, body, sizeof(body), &out) == TF_OK);
	CHECK(strcmp(tf_buf_str(&out), "v1=" SIG_BINARY_KEY1) != 0);
	tf_buf_free(&out);
}

static void
test_sign_negative_timestamp(void)
{
	struct tf_buf out = TF_BUF_INIT;

	CHECK(sign_with(KEY2, -1, "x", 1, &out) == TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "v1=" SIG_NEG_KEY2);
	tf_buf_free(&out);
}

/* Two keys: one entry per key, comma-joined, in key order. */
static void
test_sign_two_keys(void)
{
	struct tf_buf out = TF_BUF_INIT;

	CHECK(sign_with(KEY1 "," KEY2, TS, JSON_BODY, strlen(JSON_BODY), &out) ==
	    TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "v1=" SIG_JSON_KEY1 ",v1=" SIG_JSON_KEY2);
	CHECK(sign_with(KEY2 "," KEY1, TS, JSON_BODY, strlen(JSON_BODY), &out) ==
	    TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "v1=" SIG_JSON_KEY2 ",v1=" SIG_JSON_KEY1);
	/* The same key twice signs twice. */
	CHECK(sign_with(KEY1 "," KEY1, TS, NULL, 0, &out) == TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "v1=" SIG_EMPTY_KEY1 ",v1=" SIG_EMPTY_KEY1);
	tf_buf_free(&out);
}

/* tf_http_sign appends to what out already holds. */
static void
test_sign_appends(void)
{
	struct tf_buf out = TF_BUF_INIT;
	struct tf_http_keys keys;
	char err[256];

	CHECK(tf_http_keys_parse(KEY1, &keys, err, sizeof(err)) == TF_OK);
	CHECK(tf_buf_append_str(&out, "Taskfleet-Signature: ") == TF_OK);
	CHECK(tf_http_sign(&keys, TS, NULL, 0, &out) == TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "Taskfleet-Signature: v1=" SIG_EMPTY_KEY1);
	CHECK(tf_http_sign(&keys, TS, NULL, 0, &out) == TF_OK);
	CHECK_STR_EQ(tf_buf_str(&out), "Taskfleet-Signature: v1=" SIG_EMPTY_KEY1
	    "v1=" SIG_EMPTY_KEY1);
	tf_http_keys_free(&keys);
	tf_buf_free(&out);
}

/* No keys: TF_ERR_INVALID, and out is untouched. */
static void
test_sign_no_keys(void)
{
	struct tf_buf out = TF_BUF_INIT;
	struct tf_http_keys keys;
	char err[256];

	memset(&keys, 0, sizeof(keys));
	CHECK(tf_http_sign(&keys, TS, "x", 1, &out) == TF_ERR_INVALID);
	CHECK(out.data == NULL && out.len == 0);
	CHECK(tf_http_keys_parse("", &keys, err, sizeof(err)) == TF_OK);
	CHECK(tf_buf_append_str(&out, "kept") == TF_OK);
	CHECK(tf_http_sign(&keys, TS, NULL, 0, &out) == TF_ERR_INVALID);
	CHECK_STR_EQ(tf_buf_str(&out), "kept");
	tf_http_keys_free(&keys);
	tf_buf_free(&out);
}

/* ---- Key parsing --------------------------------------------------------- */

static void
test_keys_none(void)
{
	struct tf_http_keys keys;
	char err[256];

	memset(&keys, 0x5a, sizeof(keys));
	CHECK(tf_http_keys_parse(NULL, &keys, err, sizeof(err)) == TF_OK);
	CHECK_INT_EQ(keys.n, 0);
	CHECK(keys_are_empty(&keys));
	memset(&keys, 0x5a, sizeof(keys));
	CHECK(tf_http_keys_parse("", &keys, err, sizeof(err)) == TF_OK);
	CHECK_INT_EQ(keys.n, 0);
	CHECK(keys_are_empty(&keys));
	tf_http_keys_free(&keys);
	CHECK(keys_are_empty(&keys));
}

static void
test_keys_good(void)
{
	struct tf_http_keys keys;
	char err[256];

	CHECK(tf_http_keys_parse(KEY2, &keys, err, sizeof(err)) == TF_OK);
	CHECK_INT_EQ(keys.n, 1);
	CHECK_INT_EQ(keys.len[0], 16);
	CHECK(memcmp(keys.key[0], KEY2, 16) == 0);
	tf_http_keys_free(&keys);
	CHECK(keys_are_empty(&keys));

	CHECK(tf_http_keys_parse(KEY1 "," KEY2 "," KEY1 "," KEY2, &keys, err,
	    sizeof(err)) == TF_OK);
	CHECK_INT_EQ(keys.n, 4);
	CHECK_INT_EQ(keys.len[0], 32);
	CHECK_INT_EQ(keys.len[1], 16);
	CHECK_INT_EQ(keys.len[2], 32);
	CHECK_INT_EQ(keys.len[3], 16);
	CHECK(memcmp(keys.key[0], KEY1, 32) == 0);
	CHECK(memcmp(keys.key[1], KEY2, 16) == 0);
	CHECK(memcmp(keys.key[3], KEY2, 16) == 0);
	tf_http_keys_free(&keys);
	CHECK(keys_are_empty(&keys));
	/* Freeing an emptied set again is harmless. */
	tf_http_keys_free(&keys);
	CHECK(keys_are_empty(&keys));

	/* Blanks and any other bytes are part of a key: nothing is trimmed. */
	CHECK(tf_http_keys_parse(" " KEY2 " ", &keys, err, sizeof(err)) == TF_OK);
	CHECK_INT_EQ(keys.len[0], 18);
	tf_http_keys_free(&keys);
}

struct key_error {
	const char *text;
	const char *msg;
};

static const struct key_error key_errors[] = {
	{ "a,b", "signing keys: key 1 is shorter than 16 bytes" },
	{ "a", "signing keys: key 1 is shorter than 16 bytes" },
	/* 15 bytes: one short of the minimum. */
	{ "second-key-16by", "signing keys: key 1 is shorter than 16 bytes" },
	{ KEY1 ",tiny-secret-015", "signing keys: key 2 is shorter than 16 bytes" },
	/* Empty elements. */
	{ KEY1 ",", "signing keys: key 2 is shorter than 16 bytes" },
	{ "," KEY1, "signing keys: key 1 is shorter than 16 bytes" },
	{ KEY1 ",," KEY2, "signing keys: key 2 is shorter than 16 bytes" },
	{ ",", "signing keys: key 1 is shorter than 16 bytes" },
	/* Five keys. */
	{ KEY1 "," KEY2 "," KEY1 "," KEY2 "," KEY1,
	  "signing keys: more than 4 keys" },
	{ KEY2 "," KEY2 "," KEY2 "," KEY2 ",", "signing keys: more than 4 keys" },
};

static void
check_key_error(const struct key_error *c)
{
	struct tf_http_keys keys;
	char err[256], text[256], *tok, *save;

	memset(&keys, 0x5a, sizeof(keys));
	memset(err, 'z', sizeof(err));
	CHECK(tf_http_keys_parse(c->text, &keys, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	CHECK(keys_are_empty(&keys));
	CHECK_STR_EQ(err, c->msg);
	/* No key of 4 bytes or more, nor its first 4 bytes, appears in the
	 * message (shorter ones would match its ordinary words). */
	snprintf(text, sizeof(text), "%s", c->text);
	for (tok = strtok_r(text, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (strlen(tok) < 4)
			continue;
		CHECK_MSG(strstr(err, tok) == NULL, "key text in: %s", err);
		tok[4] = '\0';
		CHECK_MSG(strstr(err, tok) == NULL, "key text in: %s", err);
	}
}

/* The short keys' text is never quoted, even with an odd key. */
static void
test_keys_secret_not_in_message(void)
{
	struct tf_http_keys keys;
	char err[256];

	CHECK(tf_http_keys_parse(KEY1 ",hunter2", &keys, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	CHECK_STR_EQ(err, "signing keys: key 2 is shorter than 16 bytes");
	CHECK(strstr(err, "hunter") == NULL);
	CHECK(tf_http_keys_parse("hunter2", &keys, NULL, 0) == TF_ERR_INVALID);
	CHECK(keys_are_empty(&keys));
}

/* tf_http_keys_add checks the same rules, one key at a time. */
static void
test_keys_add(void)
{
	struct tf_http_keys keys;
	char err[256];
	int i;

	memset(&keys, 0, sizeof(keys));
	CHECK(tf_http_keys_add(&keys, KEY1, 15, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	CHECK_STR_EQ(err, "signing keys: key 1 is shorter than 16 bytes");
	CHECK_INT_EQ(keys.n, 0);
	/* A NUL byte inside len would make the copy shorter than len. */
	CHECK(tf_http_keys_add(&keys, "0123456789abcdef\0XYZ", 20, err,
	    sizeof(err)) == TF_ERR_INVALID);
	CHECK_STR_EQ(err, "signing keys: key 1 holds a NUL byte");
	CHECK_INT_EQ(keys.n, 0);
	/* A key is len bytes of the text, not up to its end. */
	CHECK(tf_http_keys_add(&keys, KEY1, 16, err, sizeof(err)) == TF_OK);
	CHECK_INT_EQ(keys.len[0], 16);
	CHECK(memcmp(keys.key[0], "0123456789abcdef", 16) == 0);
	for (i = 1; i < TF_HTTP_SIGN_KEYS_MAX; i++)
		CHECK(tf_http_keys_add(&keys, KEY2, 16, err, sizeof(err)) == TF_OK);
	CHECK(tf_http_keys_add(&keys, KEY2, 16, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	CHECK_STR_EQ(err, "signing keys: more than 4 keys");
	CHECK_INT_EQ(keys.n, 4);
	tf_http_keys_free(&keys);
	CHECK(keys_are_empty(&keys));
}

/* Every allocation in turn fails: TF_ERR_NOMEM and an empty set, or the
 * whole set; the signature never depends on the run. (ASan checks leaks.) */
static void
test_keys_nomem(void)
{
	struct tf_http_keys keys;
	struct tf_buf out = TF_BUF_INIT;
	char err[256];
	long n;
	enum tf_err rc;

	for (n = 0; n < 20; n++) {
		tf_alloc_fail_after(n);
		rc = tf_http_keys_parse(KEY1 "," KEY2, &keys, err, sizeof(err));
		tf_alloc_fail_after(-1);
		if (rc == TF_OK)
			break;
		CHECK_INT_EQ(rc, TF_ERR_NOMEM);
		CHECK(keys_are_empty(&keys));
	}
	CHECK_INT_EQ(n, 2);
	CHECK_INT_EQ(keys.n, 2);
	for (n = 0; n < 20; n++) {
		tf_buf_reset(&out);
		tf_alloc_fail_after(n);
		rc = tf_http_sign(&keys, TS, JSON_BODY, strlen(JSON_BODY), &out);
		tf_alloc_fail_after(-1);
		if (rc == TF_OK)
			break;
		CHECK_INT_EQ(rc, TF_ERR_NOMEM);
	}
	CHECK_STR_EQ(tf_buf_str(&out), "v1=" SIG_JSON_KEY1 ",v1=" SIG_JSON_KEY2);
	tf_http_keys_free(&keys);
	tf_buf_free(&out);
}

int
main(void)
{
	char name[200];
	size_t i;

	tf_alloc_init();
	TF_RUN(test_sign_json_body);
	TF_RUN(test_sign_empty_body);
	TF_RUN(test_sign_binary_body);
	TF_RUN(test_sign_negative_timestamp);
	TF_RUN(test_sign_two_keys);
	TF_RUN(test_sign_appends);
	TF_RUN(test_sign_no_keys);
	TF_RUN(test_keys_none);
	TF_RUN(test_keys_good);
	for (i = 0; i < NELEM(key_errors); i++) {
		/* Name the case by its shape, not by its key text. */
		snprintf(name, sizeof(name), "keys_error %zu (%zu bytes, ", i,
		    strlen(key_errors[i].text));
		snprintf(name + strlen(name), sizeof(name) - strlen(name),
		    "%s)", key_errors[i].msg + strlen("signing keys: "));
		TF_RUN_NAMED(name, check_key_error, &key_errors[i]);
	}
	TF_RUN(test_keys_secret_not_in_message);
	TF_RUN(test_keys_add);
	TF_RUN(test_keys_nomem);
	return tf_test_summary();
}
