/*
 * bench/ceiling.c - the simplest client that makes the same requests as a
 * consumer, to measure what the local stand-ins sustain.
 *
 * THREADS threads, each with one kept-alive libcurl handle and one request
 * at a time (the fleet's concurrency). Each thread loops: ReceiveMessage of
 * up to BATCH messages, then for each message the claim UpdateItem (the
 * consumer's expression, ReturnValues ALL_NEW), the outcome UpdateItem (the
 * consumer's expression), a SendMessage with DelaySeconds when a countdown
 * task has runs left, and one DeleteMessageBatch for the batch. A message
 * that comes before its due time waits in its thread, as in the consumer.
 * RECEIVE (messages per ReceiveMessage) and DELETE (handles per
 * DeleteMessageBatch; a thread keeps handles across receives until it has
 * that many) are chosen by bench/run so that ReceiveMessage and
 * DeleteMessageBatch per task-iteration match the consumer's own counters.
 *
 * What it leaves out is the worker: no signing (the stand-ins check only
 * that the headers are there), no JSON library (fixed templates and strstr),
 * no runner, no logging, no retries. It stops when ITERATIONS runs are done
 * or after TIMEOUT seconds, and prints one JSON line: runs, first and last
 * run times (epoch ms), requests by operation, condition failures.
 *
 *   ceiling SQS_URL DDB_URL QUEUE_URL TABLE THREADS RECEIVE DELETE ITERATIONS TIMEOUT
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum op { RECEIVE, SEND, DELETE_BATCH, UPDATE_ITEM, GET_ITEM, N_OPS };
static const char *const op_name[N_OPS] = { "ReceiveMessage", "SendMessage",
	"DeleteMessageBatch", "UpdateItem", "GetItem" };
static const char *const op_target[N_OPS] = { "AmazonSQS.ReceiveMessage",
	"AmazonSQS.SendMessage", "AmazonSQS.DeleteMessageBatch",
	"DynamoDB_20120810.UpdateItem", "DynamoDB_20120810.GetItem" };

static const char *sqs_url, *ddb_url, *queue_url, *table;
static int batch, delete_batch;
static bool debug;          /* CEILING_DEBUG=1: print failed writes */
static long target_runs;
static int64_t deadline_ms;
static atomic_long runs, cond_failed, errors, requests[N_OPS];
static atomic_llong first_start = INT64_MAX, last_end;

struct buf {
	char *p;
	size_t len, cap;
};

static int64_t
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t k = size * n;

	if (b->len + k + 1 > b->cap) {
		b->cap = (b->len + k + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			abort();
	}
	memcpy(b->p + b->len, p, k);
	b->len += k;
	b->p[b->len] = '\0';
	return k;
}

/* One POST; the response body is in *out. Returns the HTTP status (0 on a
 * transport error). */
static long
call(CURL *h, enum op op, const char *body, struct buf *out)
{
	struct curl_slist *hd = NULL;
	char target[96], date[40], auth[200];
	bool sqs = op <= DELETE_BATCH;
	time_t t = time(NULL);
	struct tm tm;
	long status = 0;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "X-Amz-Date: %Y%m%dT%H%M%SZ", &tm);
	snprintf(target, sizeof(target), "X-Amz-Target: %s", op_target[op]);
	snprintf(auth, sizeof(auth), "Authorization: AWS4-HMAC-SHA256 "
	    "Credential=local/%.8s/us-east-1/%s/aws4_request, "
	    "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0", date + 12,
	    sqs ? "sqs" : "dynamodb");
	hd = curl_slist_append(hd, "Content-Type: application/x-amz-json-1.0");
	hd = curl_slist_append(hd, target);
	hd = curl_slist_append(hd, date);
	hd = curl_slist_append(hd, auth);
	hd = curl_slist_append(hd, "Expect:");
	out->len = 0;
	if (out->p)
		out->p[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, sqs ? sqs_url : ddb_url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	atomic_fetch_add(&requests[op], 1);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hd);
	if (status != 200 && !(status == 400 && out->p &&
	    strstr(out->p, "ConditionalCheckFailed")))
		atomic_fetch_add(&errors, 1);
	return status;
}

/* Copies the JSON string value after `key` (e.g. "\"Body\":\"") starting at
 * *from into dst, raw (escapes kept) or unescaped; advances *from. */
static bool
string_after(const char **from, const char *key, char *dst, size_t cap, bool raw)
{
	const char *s = strstr(*from, key);
	size_t n = 0;

	if (s == NULL)
		return false;
	for (s += strlen(key); *s != '\0' && *s != '"'; s++) {
		if (*s == '\\' && s[1] != '\0') {
			if (raw && n + 1 < cap)
				dst[n++] = *s;
			s++;
		}
		if (n + 1 < cap)
			dst[n++] = *s;
	}
	dst[n] = '\0';
	*from = s;
	return true;
}

static int64_t
number_after(const char *s, const char *key)
{
	const char *p = s ? strstr(s, key) : NULL;

	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* Just past the JSON object that starts at p ('{'), strings skipped. */
static char *
object_end(char *p)
{
	int depth = 0;

	for (; *p != '\0'; p++) {
		if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++)
				if (*p == '\\' && p[1] != '\0')
					p++;
			if (*p == '\0')
				break;
		} else if (*p == '{') {
			depth++;
		} else if (*p == '}' && --depth == 0) {
			return p + 1;
		}
	}
	return p;
}

struct msg {
	char receipt[1024];
	char id[128];
	int64_t target, gen;
};

/* The claim, as lib/task/task.c tf_task_claim makes it for a message with gen. */
static long
claim(CURL *h, struct buf *out, const struct msg *m, int64_t now)
{
	char body[2048];

	snprintf(body, sizeof(body), "{\"TableName\":\"%s\",\"Key\":{\"id\":{\"S\":\"%s\"}},"
	    "\"UpdateExpression\":\"SET #st = :processing, gen = :ng, lease_owner = :me, "
	    "lease_until = :lu, lease_token = :tok, due_at = :lu, "
	    "due_shard = if_not_exists(due_shard, :shard), "
	    "updated_at = :now, completed = :f, ns = if_not_exists(ns, :dns), "
	    "iteration = if_not_exists(iteration, :zero), "
	    "attempts = if_not_exists(attempts, :zero), "
	    "max_attempts = if_not_exists(max_attempts, :dmax), "
	    "created_at = if_not_exists(created_at, :now), "
	    "next_run = if_not_exists(next_run, :now) REMOVE enqueued_for\","
	    "\"ConditionExpression\":\"#st = :pending AND next_run <= :due AND gen = :g\","
	    "\"ExpressionAttributeNames\":{\"#st\":\"status\"},"
	    "\"ExpressionAttributeValues\":{\":processing\":{\"S\":\"PROCESSING\"},"
	    "\":pending\":{\"S\":\"PENDING\"},\":ng\":{\"N\":\"%" PRId64 "\"},"
	    "\":g\":{\"N\":\"%" PRId64 "\"},\":me\":{\"S\":\"ceiling\"},"
	    "\":lu\":{\"N\":\"%" PRId64 "\"},\":tok\":{\"S\":\"%016" PRIx64 "\"},"
	    "\":shard\":{\"S\":\"0\"},\":now\":{\"N\":\"%" PRId64 "\"},"
	    "\":due\":{\"N\":\"%" PRId64 "\"},\":f\":{\"BOOL\":false},"
	    "\":dns\":{\"S\":\"default\"},\":zero\":{\"N\":\"0\"},\":dmax\":{\"N\":\"3\"}},"
	    "\"ReturnValues\":\"ALL_NEW\"}", table, m->id, m->gen + 1, m->gen,
	    now + 60000, (uint64_t)now * 2654435761u, now, now + 250);
	return call(h, UPDATE_ITEM, body, out);
}

/* The outcome, as lib/task/task.c write_outcome makes it for a run that succeeded:
 * COMPLETED, or PENDING with new params and the next run. */
static long
outcome(CURL *h, struct buf *out, const struct msg *m, int64_t gen,
    int64_t n_left, int64_t every, int64_t next, int64_t now)
{
	char body[2048];
	bool done = n_left <= 0;

	snprintf(body, sizeof(body), "{\"TableName\":\"%s\",\"Key\":{\"id\":{\"S\":\"%s\"}},"
	    "\"UpdateExpression\":\"SET #st = :state, completed = :done, gen = :ng, "
	    "updated_at = :now, iteration = iteration + :one, attempts = :zero%s "
	    "REMOVE lease_owner, lease_until, lease_token, suspend_requested%s\","
	    "\"ConditionExpression\":\"gen = :g AND lease_owner = :me AND "
	    "#st = :processing%s\",\"ExpressionAttributeNames\":{\"#st\":\"status\"},"
	    "\"ExpressionAttributeValues\":{\":g\":{\"N\":\"%" PRId64 "\"},"
	    "\":me\":{\"S\":\"ceiling\"},\":processing\":{\"S\":\"PROCESSING\"},"
	    "\":ng\":{\"N\":\"%" PRId64 "\"},\":now\":{\"N\":\"%" PRId64 "\"},"
	    "\":state\":{\"S\":\"%s\"},\":done\":{\"BOOL\":%s},\":one\":{\"N\":\"1\"},"
	    "\":zero\":{\"N\":\"0\"}",
	    table, m->id,
	    done ? ", finished_at = :now" : ", params = :params, next_run = :next, "
	    "due_at = :next, enqueued_for = :next",
	    done ? ", due_shard, due_at, enqueued_for" : "",
	    done ? "" : " AND attribute_not_exists(suspend_requested)",
	    gen, gen + 1, now, done ? "COMPLETED" : "PENDING", done ? "true" : "false");
	if (!done) {
		size_t k = strlen(body);

		snprintf(body + k, sizeof(body) - k, ",\":params\":{\"M\":{\"n\":{\"N\":"
		    "\"%" PRId64 "\"},\"every_ms\":{\"N\":\"%" PRId64 "\"}}},"
		    "\":next\":{\"N\":\"%" PRId64 "\"}", n_left, every, next);
	}
	strncat(body, "}}", sizeof(body) - strlen(body) - 1);
	return call(h, UPDATE_ITEM, body, out);
}

/* One DeleteMessageBatch per (at most) ten pending handles. */
static void
flush_deletes(CURL *h, struct buf *out, char (*pend)[1024], int *n_pend,
    char *body, size_t cap, char *item, size_t icap)
{
	int done = 0, i;

	while (done < *n_pend) {
		size_t k = (size_t)snprintf(body, cap, "{\"QueueUrl\":\"%s\",\"Entries\":[",
		    queue_url);

		for (i = 0; i < 10 && done + i < *n_pend; i++) {
			snprintf(item, icap, "%s{\"Id\":\"%d\",\"ReceiptHandle\":\"%s\"}",
			    i ? "," : "", i, pend[done + i]);
			k += (size_t)snprintf(body + k, cap - k, "%s", item);
		}
		snprintf(body + k, cap - k, "]}");
		call(h, DELETE_BATCH, body, out);
		done += i;
	}
	*n_pend = 0;
}

static void *
worker(void *arg)
{
	CURL *h = curl_easy_init();
	struct buf out = { 0 };
	struct msg *ms = calloc((size_t)batch, sizeof(*ms));
	char (*pend)[1024] = calloc(20, sizeof(*pend));
	char body[16384], item[1400], raw[4096];
	int n_pend = 0;
	char *p;
	int n, i;

	(void)arg;
	if (h == NULL || ms == NULL)
		abort();
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
	while (atomic_load(&runs) < target_runs && now_ms() < deadline_ms) {
		snprintf(body, sizeof(body), "{\"QueueUrl\":\"%s\",\"MaxNumberOfMessages\":%d,"
		    "\"WaitTimeSeconds\":1}", queue_url, batch);
		if (call(h, RECEIVE, body, &out) != 200 || out.p == NULL)
			continue;
		/* Each element of "Messages" is one object: cut the reply at its
		 * closing brace and read the handle and the body inside it. */
		p = strstr(out.p, "\"Messages\":[");
		p = p ? strchr(p, '{') : NULL;
		for (n = 0; n < batch && p != NULL; n++) {
			char *end = object_end(p), save = *end;
			const char *q = p;

			*end = '\0';
			if (!string_after(&q, "\"ReceiptHandle\":\"", ms[n].receipt,
			    sizeof(ms[n].receipt), true))
				ms[n].receipt[0] = '\0';
			q = p;
			if (!string_after(&q, "\"Body\":\"", raw, sizeof(raw), false))
				raw[0] = '\0';
			q = raw;
			if (!string_after(&q, "\"taskId\":\"", ms[n].id, sizeof(ms[n].id), false))
				ms[n].id[0] = '\0';
			ms[n].target = number_after(raw, "\"targetTimestamp\":");
			ms[n].gen = number_after(raw, "\"gen\":");
			*end = save;
			p = *end != '\0' ? strchr(end, '{') : NULL;
		}
		if (n == 0)
			continue;
		for (i = 0; i < n; i++) {
			int64_t left = ms[i].target - now_ms(), start, gen = ms[i].gen + 1;
			int64_t nn = 0, every = 0, next;
			long st;

			if (left > 0 && left <= 1500)
				usleep((useconds_t)left * 1000);
			start = now_ms();
			st = claim(h, &out, &ms[i], start);
			if (st != 200) {
				if (debug)
					fprintf(stderr, "claim: %s\n", out.p);
				atomic_fetch_add(&cond_failed, 1);
				continue;
			}
			if (strstr(out.p, "\"S\":\"countdown\"") != NULL) {
				nn = number_after(out.p, "\"n\":{\"N\":\"");
				every = number_after(out.p, "\"every_ms\":{\"N\":\"");
			}
			if (nn > 0)
				nn--;
			next = now_ms() + every;
			if (outcome(h, &out, &ms[i], gen, nn, every, next, now_ms()) != 200) {
				if (debug)
					fprintf(stderr, "outcome: %s\n", out.p);
				atomic_fetch_add(&cond_failed, 1);
				continue;
			}
			if (nn > 0) {
				int64_t d = next - now_ms();

				snprintf(body, sizeof(body), "{\"QueueUrl\":\"%s\",\"MessageBody\":"
				    "\"{\\\"taskId\\\":\\\"%s\\\",\\\"targetTimestamp\\\":%" PRId64
				    ",\\\"priority\\\":null,\\\"gen\\\":%" PRId64 "}\","
				    "\"DelaySeconds\":%d}", queue_url, ms[i].id, next, gen + 1,
				    d <= 0 ? 0 : (int)(d / 1000));
				call(h, SEND, body, &out);
			}
			atomic_fetch_add(&runs, 1);
			{
				long long f = atomic_load(&first_start), e = now_ms();

				while (start < f && !atomic_compare_exchange_weak(&first_start, &f, start))
					;
				f = atomic_load(&last_end);
				while (e > f && !atomic_compare_exchange_weak(&last_end, &f, e))
					;
			}
		}
		for (i = 0; i < n; i++)
			if (ms[i].receipt[0] != '\0')
				snprintf(pend[n_pend++], sizeof(pend[0]), "%s", ms[i].receipt);
		if (n_pend >= delete_batch)
			flush_deletes(h, &out, pend, &n_pend, body, sizeof(body), item, sizeof(item));
	}
	if (n_pend > 0)
		flush_deletes(h, &out, pend, &n_pend, body, sizeof(body), item, sizeof(item));
	free(ms);
	free(pend);
	free(out.p);
	curl_easy_cleanup(h);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t *t;
	int threads, i;

	if (argc != 10) {
		fprintf(stderr, "usage: ceiling SQS_URL DDB_URL QUEUE_URL TABLE THREADS "
		    "RECEIVE DELETE ITERATIONS TIMEOUT\n");
		return 2;
	}
	sqs_url = argv[1];
	ddb_url = argv[2];
	queue_url = argv[3];
	table = argv[4];
	threads = atoi(argv[5]);
	batch = atoi(argv[6]);
	delete_batch = atoi(argv[7]);
	target_runs = atol(argv[8]);
	deadline_ms = now_ms() + atol(argv[9]) * 1000;
	if (threads < 1 || batch < 1 || batch > 10 || delete_batch < 1 || delete_batch > 10)
		return 2;
	debug = getenv("CEILING_DEBUG") != NULL;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	t = calloc((size_t)threads, sizeof(*t));
	for (i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	printf("{\"runs\":%ld,\"first_start\":%lld,\"last_end\":%lld,\"condition_failed\":%ld,"
	    "\"errors\":%ld,\"requests\":{", atomic_load(&runs), atomic_load(&first_start),
	    atomic_load(&last_end), atomic_load(&cond_failed), atomic_load(&errors));
	for (i = 0; i < N_OPS; i++)
		printf("%s\"%s\":%ld", i ? "," : "", op_name[i], atomic_load(&requests[i]));
	printf("}}\n");
	curl_global_cleanup();
	return 0;
}
