/* sqs_wire.c - SQS request bodies and answers, without JSON trees. */
#include "aws/sqs_wire.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/alloc.h"
#include "base/json_escape.h"
#include "base/json_scan.h"
#include "base/log.h"

enum tf_err
tf_sqs_check_send(const char *body, int delay_seconds)
{
	if (body != NULL && strlen(body) > TF_SQS_MAX_BODY)
		return TF_ERR_TOO_LARGE;
	if (body == NULL || body[0] == '\0' || delay_seconds < 0 ||
	    delay_seconds > TF_SQS_MAX_DELAY_S)
		return TF_ERR_INVALID;
	return TF_OK;
}

void
tf_sqs_md5_hex(const char *s, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	EVP_Digest(s, strlen(s), md, &len, EVP_md5(), NULL);
	for (i = 0; i < len && i < 16; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[32] = '\0';
}

/* Appends "name": to b, with a comma before it unless first; name is a
 * plain word that needs no escaping. */
static enum tf_err
put_name(struct tf_buf *b, const char *name, int first)
{
	if ((!first && tf_buf_append_char(b, ',') != TF_OK) ||
	    tf_buf_append_char(b, '"') != TF_OK ||
	    tf_buf_append_str(b, name) != TF_OK)
		return TF_ERR_NOMEM;
	return tf_buf_append(b, "\":", 2);
}

/* Appends "name": and the string s (escaped) to b. */
static enum tf_err
put_str(struct tf_buf *b, const char *name, const char *s, int first)
{
	enum tf_err rc = put_name(b, name, first);

	if (rc == TF_OK)
		rc = tf_json_escape_append(b, s, strlen(s));
	return rc;
}

/* Appends ,"name": and the integer v to b. */
static enum tf_err
put_int(struct tf_buf *b, const char *name, long v)
{
	char digits[24], *p = digits + sizeof(digits);
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
	enum tf_err rc = put_name(b, name, 0);

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	if (rc == TF_OK)
		rc = tf_buf_append(b, p, (size_t)(digits + sizeof(digits) - p));
	return rc;
}

/* Empties b and opens the request object with its QueueUrl. */
static enum tf_err
begin(struct tf_buf *b, const char *queue_url)
{
	tf_buf_reset(b);
	if (tf_buf_append_char(b, '{') != TF_OK)
		return TF_ERR_NOMEM;
	return put_str(b, "QueueUrl", queue_url, 1);
}

/* Appends a batch entry {"Id":id,"name":s} to b, with ,"int_name":v when
 * int_name is not NULL; a comma before it unless first. */
static enum tf_err
put_entry(struct tf_buf *b, int first, const char *id, const char *name,
    const char *s, const char *int_name, long v)
{
	enum tf_err rc = tf_buf_append_str(b, first ? "{" : ",{");

	if (rc == TF_OK)
		rc = put_str(b, "Id", id, 1);
	if (rc == TF_OK)
		rc = put_str(b, name, s, 0);
	if (rc == TF_OK && int_name != NULL)
		rc = put_int(b, int_name, v);
	if (rc == TF_OK)
		rc = tf_buf_append_char(b, '}');
	return rc;
}

/* begin(), then the opening of the batch's entry list. */
static enum tf_err
begin_entries(struct tf_buf *b, const char *queue_url)
{
	enum tf_err rc = begin(b, queue_url);

	return rc == TF_OK ? tf_buf_append_str(b, ",\"Entries\":[") : rc;
}

/* Closes the entry list and the request, after rc (the writing so far). */
static enum tf_err
end_entries(struct tf_buf *b, enum tf_err rc)
{
	return rc == TF_OK ? tf_buf_append_str(b, "]}") : rc;
}

enum tf_err
tf_sqs_send_body(struct tf_buf *b, const char *queue_url, const char *body,
    int delay_seconds)
{
	enum tf_err rc = tf_sqs_check_send(body, delay_seconds);

	if (rc == TF_OK)
		rc = begin(b, queue_url);
	if (rc == TF_OK)
		rc = put_str(b, "MessageBody", body, 0);
	if (rc == TF_OK)
		rc = put_int(b, "DelaySeconds", delay_seconds);
	if (rc == TF_OK)
		rc = tf_buf_append_char(b, '}');
	return rc;
}

enum tf_err
tf_sqs_send_batch_body(struct tf_buf *b, const char *queue_url,
    const struct tf_sqs_send_entry *entries, size_t n,
    struct tf_sqs_sent *sent)
{
	enum tf_err rc;
	size_t i;

	if (n == 0 || n > TF_SQS_MAX_BATCH)
		return TF_ERR_INVALID;
	for (i = 0; i < n; i++)
		if (tf_sqs_check_send(entries[i].body,
		    entries[i].delay_seconds) != TF_OK ||
		    strlen(entries[i].id) >= sizeof(sent[i].id))
			return TF_ERR_INVALID;
	rc = begin_entries(b, queue_url);
	for (i = 0; rc == TF_OK && i < n; i++) {
		rc = put_entry(b, i == 0, entries[i].id, "MessageBody",
		    entries[i].body, "DelaySeconds", entries[i].delay_seconds);
		snprintf(sent[i].id, sizeof(sent[i].id), "%s", entries[i].id);
		tf_sqs_md5_hex(entries[i].body, sent[i].md5);
	}
	return end_entries(b, rc);
}

enum tf_err
tf_sqs_receive_body(struct tf_buf *b, const char *queue_url,
    const struct tf_sqs_receive_opts *opts)
{
	enum tf_err rc;

	if (opts->max_messages < 1 || opts->max_messages > TF_SQS_MAX_BATCH ||
	    opts->wait_seconds < 0 || opts->wait_seconds > TF_SQS_MAX_WAIT_S ||
	    opts->visibility_timeout > TF_SQS_MAX_VISIBILITY_S)
		return TF_ERR_INVALID;
	rc = begin(b, queue_url);
	if (rc == TF_OK)
		rc = put_int(b, "MaxNumberOfMessages", opts->max_messages);
	if (rc == TF_OK)
		rc = put_int(b, "WaitTimeSeconds", opts->wait_seconds);
	if (rc == TF_OK && opts->visibility_timeout >= 0)
		rc = put_int(b, "VisibilityTimeout", opts->visibility_timeout);
	/* Both spellings: AttributeNames is deprecated but still the one some
	 * implementations read. */
	if (rc == TF_OK)
		rc = tf_buf_append_str(b, ",\"MessageSystemAttributeNames\":"
		    "[\"All\"],\"AttributeNames\":[\"All\"]}");
	return rc;
}

enum tf_err
tf_sqs_handle_body(struct tf_buf *b, const char *queue_url,
    const char *receipt_handle, int visibility_timeout)
{
	enum tf_err rc;

	if (visibility_timeout > TF_SQS_MAX_VISIBILITY_S)
		return TF_ERR_INVALID;
	rc = begin(b, queue_url);
	if (rc == TF_OK)
		rc = put_str(b, "ReceiptHandle", receipt_handle, 0);
	if (rc == TF_OK && visibility_timeout >= 0)
		rc = put_int(b, "VisibilityTimeout", visibility_timeout);
	if (rc == TF_OK)
		rc = tf_buf_append_char(b, '}');
	return rc;
}

enum tf_err
tf_sqs_handle_batch_body(struct tf_buf *b, const char *queue_url,
    const struct tf_sqs_handle_entry *entries, size_t n, int with_visibility)
{
	enum tf_err rc;
	size_t i;

	if (n == 0 || n > TF_SQS_MAX_BATCH)
		return TF_ERR_INVALID;
	rc = begin_entries(b, queue_url);
	for (i = 0; rc == TF_OK && i < n; i++)
		rc = put_entry(b, i == 0, entries[i].id, "ReceiptHandle",
		    entries[i].receipt_handle, with_visibility ?
		    "VisibilityTimeout" : NULL, entries[i].visibility_timeout);
	return end_entries(b, rc);
}

/* Starts reading an answer: an empty one reads as "{}". */
static void
scan_answer(struct tf_json_scan *sc, const char *text, size_t len)
{
	if (len == 0)
		tf_json_scan_init(sc, "{}", 2);
	else
		tf_json_scan_init(sc, text, len);
}

/* Reads the member value at sc into *out when it is a string and *out is
 * not yet set (the first of duplicate members counts, as cJSON reads them);
 * skips it otherwise. */
static bool
take_str(struct tf_json_scan *sc, struct tf_json_str *out)
{
	if (out->raw == NULL && tf_json_peek(sc) == TF_JSON_STRING)
		return tf_json_string(sc, out);
	return tf_json_skip(sc);
}

/* True when the reply's MD5 (absent: true) matches the expected one. */
static bool
md5_ok(const struct tf_json_str *got, const char md5[33])
{
	return got->raw == NULL || tf_json_str_eq(got, md5);
}

enum tf_err
tf_sqs_read_send(const char *text, size_t len, const char md5[33],
    char **message_id)
{
	struct tf_json_str key, id = { 0 }, got = { 0 };
	struct tf_json_scan sc;

	if (message_id != NULL)
		*message_id = NULL;
	scan_answer(&sc, text, len);
	if (!tf_json_enter(&sc, TF_JSON_OBJECT))
		return TF_ERR_PARSE;
	while (tf_json_member(&sc, &key)) {
		if (tf_json_str_eq(&key, "MessageId"))
			take_str(&sc, &id);
		else if (tf_json_str_eq(&key, "MD5OfMessageBody"))
			take_str(&sc, &got);
		else
			tf_json_skip(&sc);
	}
	if (!tf_json_finish(&sc))
		return TF_ERR_PARSE;
	if (!md5_ok(&got, md5)) {
		tf_log(TF_LOG_ERROR, "SendMessage: MD5 of the body does not match");
		return TF_ERR_PARSE;
	}
	if (message_id == NULL)
		return TF_OK;
	if (id.raw == NULL)
		return TF_ERR_PARSE;
	*message_id = tf_json_str_dup(&id);
	return *message_id != NULL ? TF_OK : TF_ERR_NOMEM;
}

/* One message of a ReceiveMessage answer, as found in the text. */
struct msg_text {
	struct tf_json_str id, receipt_handle, body, md5;
	int64_t receive_count, sent_ms, first_receive_ms;
};

/* Reads the system attributes the consumer uses (numbers in strings) from
 * the object at sc; the others are skipped. */
static void
read_attributes(struct tf_json_scan *sc, struct msg_text *m)
{
	struct tf_json_str key, v;
	int64_t *slot;

	if (tf_json_peek(sc) != TF_JSON_OBJECT) {
		tf_json_skip(sc);
		return;
	}
	tf_json_enter(sc, TF_JSON_OBJECT);
	while (tf_json_member(sc, &key)) {
		slot = tf_json_str_eq(&key, "ApproximateReceiveCount") ?
		    &m->receive_count : tf_json_str_eq(&key, "SentTimestamp") ?
		    &m->sent_ms : tf_json_str_eq(&key,
		    "ApproximateFirstReceiveTimestamp") ? &m->first_receive_ms : NULL;
		if (slot == NULL || tf_json_peek(sc) != TF_JSON_STRING) {
			tf_json_skip(sc);
			continue;
		}
		if (tf_json_string(sc, &v) && !tf_json_str_int64(&v, slot))
			*slot = 0;
	}
}

/* Reads the message object at sc into *m (zeroed here); false when the value
 * is not an object. */
static bool
read_message(struct tf_json_scan *sc, struct msg_text *m)
{
	struct tf_json_str key;

	memset(m, 0, sizeof(*m));
	if (tf_json_peek(sc) != TF_JSON_OBJECT) {
		tf_json_skip(sc);
		return false;
	}
	tf_json_enter(sc, TF_JSON_OBJECT);
	while (tf_json_member(sc, &key)) {
		if (tf_json_str_eq(&key, "Body"))
			take_str(sc, &m->body);
		else if (tf_json_str_eq(&key, "ReceiptHandle"))
			take_str(sc, &m->receipt_handle);
		else if (tf_json_str_eq(&key, "MessageId"))
			take_str(sc, &m->id);
		else if (tf_json_str_eq(&key, "MD5OfBody"))
			take_str(sc, &m->md5);
		else if (tf_json_str_eq(&key, "Attributes"))
			read_attributes(sc, m);
		else
			tf_json_skip(sc);
	}
	return true;
}

/* Turns a message found in the text into out (zeroed); TF_ERR_INVALID when
 * it is to be skipped (no body or receipt handle, or a body whose MD5
 * differs: it reappears after its visibility timeout). */
static enum tf_err
take_message(const struct msg_text *m, struct tf_sqs_message *out)
{
	char md5[33];

	if (m->body.raw == NULL || m->receipt_handle.raw == NULL) {
		tf_log(TF_LOG_ERROR, "ReceiveMessage: a message without body or "
		    "receipt handle was skipped");
		return TF_ERR_INVALID;
	}
	out->body = tf_json_str_dup(&m->body);
	if (out->body == NULL)
		return TF_ERR_NOMEM;
	if (m->md5.raw != NULL) {
		tf_sqs_md5_hex(out->body, md5);
		if (!md5_ok(&m->md5, md5)) {
			tf_log(TF_LOG_ERROR, "ReceiveMessage: MD5 of a message body "
			    "does not match; skipped");
			tf_sqs_message_clear(out);
			return TF_ERR_INVALID;
		}
	}
	out->receipt_handle = tf_json_str_dup(&m->receipt_handle);
	out->message_id = m->id.raw != NULL ? tf_json_str_dup(&m->id) :
	    tf_strdup("");
	out->receive_count = (int)m->receive_count;
	out->sent_ms = m->sent_ms;
	out->first_receive_ms = m->first_receive_ms;
	if (out->receipt_handle == NULL || out->message_id == NULL) {
		tf_sqs_message_clear(out);
		return TF_ERR_NOMEM;
	}
	return TF_OK;
}

/* Makes room for one more element of *arr (of size bytes each; *n in use,
 * *cap allocated). */
static enum tf_err
grow(void **arr, size_t size, size_t n, size_t *cap)
{
	void *bigger;
	size_t want = *cap ? *cap * 2 : TF_SQS_MAX_BATCH;

	if (n < *cap)
		return TF_OK;
	bigger = tf_realloc(*arr, want * size);
	if (bigger == NULL)
		return TF_ERR_NOMEM;
	memset((char *)bigger + *cap * size, 0, (want - *cap) * size);
	*arr = bigger;
	*cap = want;
	return TF_OK;
}

enum tf_err
tf_sqs_read_receive(const char *text, size_t len,
    struct tf_sqs_message **messages, size_t *n)
{
	struct tf_sqs_message *out = NULL;
	struct tf_json_str key;
	struct tf_json_scan sc;
	struct msg_text m;
	size_t count = 0, cap = 0;
	enum tf_err rc = TF_OK, taken;
	bool seen = false;

	*messages = NULL;
	*n = 0;
	scan_answer(&sc, text, len);
	if (!tf_json_enter(&sc, TF_JSON_OBJECT))
		return TF_ERR_PARSE;
	while (rc == TF_OK && tf_json_member(&sc, &key)) {
		if (seen || !tf_json_str_eq(&key, "Messages") ||
		    tf_json_peek(&sc) != TF_JSON_ARRAY) {
			tf_json_skip(&sc);
			continue;
		}
		seen = true;
		tf_json_enter(&sc, TF_JSON_ARRAY);
		while (rc == TF_OK && tf_json_element(&sc)) {
			if (!read_message(&sc, &m)) {
				tf_log(TF_LOG_ERROR, "ReceiveMessage: a message "
				    "without body or receipt handle was skipped");
				continue;
			}
			if (sc.error != NULL)
				break;
			rc = grow((void **)&out, sizeof(*out), count, &cap);
			if (rc != TF_OK)
				break;
			taken = take_message(&m, &out[count]);
			if (taken == TF_OK)
				count++;
			else if (taken == TF_ERR_NOMEM)
				rc = taken;
		}
	}
	if (rc == TF_OK && !tf_json_finish(&sc))
		rc = TF_ERR_PARSE;
	if (rc != TF_OK) {
		tf_sqs_messages_free(out, count);
		return rc;
	}
	if (count == 0) {
		tf_free(out);
		out = NULL;
	}
	*messages = out;
	*n = count;
	return TF_OK;
}

/* Reads one entry of a batch answer's "Failed" list into *f (zeroed). */
static void
read_failed(struct tf_json_scan *sc, struct tf_sqs_failed_entry *f)
{
	struct tf_json_str key, s;
	char *field;
	size_t cap;
	bool b;

	if (tf_json_peek(sc) != TF_JSON_OBJECT) {
		tf_json_skip(sc);
		return;
	}
	tf_json_enter(sc, TF_JSON_OBJECT);
	while (tf_json_member(sc, &key)) {
		field = NULL;
		cap = 0;
		if (tf_json_str_eq(&key, "Id")) {
			field = f->id;
			cap = sizeof(f->id);
		} else if (tf_json_str_eq(&key, "Code")) {
			field = f->code;
			cap = sizeof(f->code);
		} else if (tf_json_str_eq(&key, "Message")) {
			field = f->message;
			cap = sizeof(f->message);
		} else if (tf_json_str_eq(&key, "SenderFault") &&
		    tf_json_peek(sc) == TF_JSON_BOOL) {
			if (tf_json_bool(sc, &b))
				f->sender_fault = b;
			continue;
		}
		if (field != NULL && field[0] == '\0' &&
		    tf_json_peek(sc) == TF_JSON_STRING) {
			if (tf_json_string(sc, &s))
				tf_json_str_copy(&s, field, cap);
		} else {
			tf_json_skip(sc);
		}
	}
}

/* Reads one entry of a send batch answer's "Successful" list and sets the
 * message id of the sent entry it names, when its MD5 matches. */
static enum tf_err
read_successful(struct tf_json_scan *sc, const struct tf_sqs_sent *sent,
    size_t n_sent, struct tf_sqs_batch_result *result)
{
	struct tf_json_str key, id = { 0 }, message_id = { 0 }, md5 = { 0 };
	size_t i;

	if (tf_json_peek(sc) != TF_JSON_OBJECT)
		return tf_json_skip(sc) ? TF_OK : TF_ERR_PARSE;
	tf_json_enter(sc, TF_JSON_OBJECT);
	while (tf_json_member(sc, &key)) {
		if (tf_json_str_eq(&key, "Id"))
			take_str(sc, &id);
		else if (tf_json_str_eq(&key, "MessageId"))
			take_str(sc, &message_id);
		else if (tf_json_str_eq(&key, "MD5OfMessageBody"))
			take_str(sc, &md5);
		else
			tf_json_skip(sc);
	}
	for (i = 0; id.raw != NULL && i < n_sent; i++) {
		if (!tf_json_str_eq(&id, sent[i].id))
			continue;
		if (!md5_ok(&md5, sent[i].md5)) {
			tf_log(TF_LOG_ERROR, "SendMessageBatch: MD5 mismatch for "
			    "entry %s", sent[i].id);
			break;
		}
		tf_free(result->message_ids[i]);
		result->message_ids[i] = NULL;
		if (message_id.raw != NULL &&
		    (result->message_ids[i] = tf_json_str_dup(&message_id)) == NULL)
			return TF_ERR_NOMEM;
	}
	return TF_OK;
}

enum tf_err
tf_sqs_read_batch(const char *text, size_t len,
    const struct tf_sqs_sent *sent, size_t n_sent,
    struct tf_sqs_batch_result *result)
{
	struct tf_json_str key;
	struct tf_json_scan sc;
	enum tf_err rc = TF_OK;
	size_t cap = 0;
	int failed;

	if (sent != NULL) {
		result->message_ids = tf_calloc(n_sent ? n_sent : 1,
		    sizeof(char *));
		if (result->message_ids == NULL)
			return TF_ERR_NOMEM;
		result->n_entries = n_sent;
	}
	scan_answer(&sc, text, len);
	if (!tf_json_enter(&sc, TF_JSON_OBJECT))
		return TF_ERR_PARSE;
	while (rc == TF_OK && tf_json_member(&sc, &key)) {
		failed = tf_json_str_eq(&key, "Failed");
		if ((!failed && (sent == NULL || !tf_json_str_eq(&key,
		    "Successful"))) || tf_json_peek(&sc) != TF_JSON_ARRAY) {
			tf_json_skip(&sc);
			continue;
		}
		tf_json_enter(&sc, TF_JSON_ARRAY);
		while (rc == TF_OK && tf_json_element(&sc)) {
			if (!failed) {
				rc = read_successful(&sc, sent, n_sent, result);
				continue;
			}
			rc = grow((void **)&result->failed, sizeof(*result->failed),
			    result->n_failed, &cap);
			if (rc == TF_OK)
				read_failed(&sc, &result->failed[result->n_failed++]);
		}
	}
	if (rc == TF_OK && !tf_json_finish(&sc))
		rc = TF_ERR_PARSE;
	return rc;
}
