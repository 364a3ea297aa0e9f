/* test_task_store.c - the task's conditional state changes against the
 * DynamoDB stand-in: create, claim, extend, finish, generations and leases. */
#include "harness.h"
#include "itest.h"

#include "aws/ddb.h"
#include "aws/schema.h"
#include "task/task.h"
#include "task/task_manage.h"

#define AWS (itest_ctx.aws)

static char *table;

/* Creates a task due now; caller frees the id with tf_free(). */
static char *
create(const char *type, const char *params, int64_t max_attempts)
{
	struct tf_task_spec s = { 0 };
	char *id = NULL, err[256];
	bool enqueue;

	s.type = type;
	s.params_json = params;
	s.next_run = tf_now_ms();
	s.max_attempts = max_attempts;
	if (tf_task_create(AWS, table, &s, tf_now_ms(), &id, &enqueue, err,
	    sizeof(err)) != TF_OK)
		printf("# create failed: %s\n", err);
	return id;
}

static void
test_create_and_get(void)
{
	struct tf_task_spec s = { 0 };
	struct tf_task t;
	char *id = NULL, *again = NULL, err[256];
	bool enqueue = false;

	s.id = itest_name("task");
	s.ns = "acme";
	s.type = "countdown";
	s.params_json = "{\"n\": 3, \"big\": 12345678901234567890}";
	s.next_run = tf_now_ms() + 60000;
	CHECK_MSG(tf_task_create(AWS, table, &s, tf_now_ms(), &id, &enqueue, err,
	    sizeof(err)) == TF_OK, "create: %s / %s", err, tf_aws_last_error()->message);
	CHECK(enqueue);
	CHECK_INT_EQ(tf_task_get(AWS, table, id, &t, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(t.status, TF_TASK_PENDING);
	CHECK_INT_EQ(t.gen, 1);
	CHECK_INT_EQ(t.enqueued_for, s.next_run);
	CHECK_STR_EQ(t.params_json, "{\"n\":3,\"big\":12345678901234567890}");
	tf_task_free(&t);
	/* The same id again: refused by the condition, nothing overwritten. */
	CHECK_INT_EQ(tf_task_create(AWS, table, &s, tf_now_ms(), &again, &enqueue,
	    err, sizeof(err)), TF_ERR_CONDITION);
	/* Beyond the enqueue horizon: no message now. */
	tf_free((char *)s.id);
	s.id = NULL;
	s.next_run = tf_now_ms() + 3600 * 1000;
	tf_free(id);
	CHECK_INT_EQ(tf_task_create(AWS, table, &s, tf_now_ms(), &id, &enqueue, err,
	    sizeof(err)), TF_OK);
	CHECK(!enqueue);
	CHECK_INT_EQ(strlen(id), 36);
	tf_free(id);
}

static void
test_create_refuses_bad_input(void)
{
	struct tf_task_spec s = { 0 };
	char *id = NULL, err[256];
	bool enqueue;

	s.type = "noop";
	s.next_run = tf_now_ms();
	s.params_json = "[1,2]";
	CHECK_INT_EQ(tf_task_create(AWS, table, &s, 0, &id, &enqueue, err, sizeof(err)),
	    TF_ERR_INVALID);
	CHECK(strstr(err, "params") != NULL);
	s.params_json = "{\"a\": }";
	CHECK_INT_EQ(tf_task_create(AWS, table, &s, 0, &id, &enqueue, err, sizeof(err)),
	    TF_ERR_INVALID);
	s.params_json = NULL;
	s.type = "Bad Type";
	CHECK_INT_EQ(tf_task_create(AWS, table, &s, 0, &id, &enqueue, err, sizeof(err)),
	    TF_ERR_INVALID);
	CHECK(strstr(err, "type") != NULL);
	s.type = "noop";
	s.ns = "a/b";
	CHECK_INT_EQ(tf_task_create(AWS, table, &s, 0, &id, &enqueue, err, sizeof(err)),
	    TF_ERR_INVALID);
	CHECK(id == NULL);
}

static void
test_claim_run_finish_generations(void)
{
	char *id = create("countdown", "{\"n\":2}", 3);
	struct tf_task t, t2, check;
	struct tf_task_outcome o = { 0 };
	enum tf_task_status state;
	int64_t next_gen, enqueue_at, now = tf_now_ms();
	char err[256];

	CHECK(id != NULL);
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, 1, "c1", now, 250, 30000, &t, err,
	    sizeof(err)), TF_OK);
	CHECK_INT_EQ(t.status, TF_TASK_PROCESSING);
	CHECK_INT_EQ(t.gen, 2);
	CHECK_STR_EQ(t.lease_owner, "c1");
	/* A duplicate message (gen 1) cannot claim it again. */
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, 1, "c2", now, 250, 30000, &t2, err,
	    sizeof(err)), TF_ERR_CONDITION);
	CHECK_INT_EQ(tf_task_extend_lease(AWS, table, id, 2, "c1", now + 60000), TF_OK);
	CHECK_INT_EQ(tf_task_extend_lease(AWS, table, id, 2, "c2", now + 60000),
	    TF_ERR_CONDITION);
	/* Someone else's lease cannot write the outcome. */
	o.kind = TF_OUTCOME_DONE;
	o.next_run = now + 5000;
	o.new_params = "{\"n\":1}";
	tf_free(t.lease_owner);
	t.lease_owner = tf_strdup("c2");
	CHECK_INT_EQ(tf_task_finish(AWS, table, &t, &o, now, &state, &next_gen,
	    &enqueue_at, err, sizeof(err)), TF_ERR_CONDITION);
	tf_free(t.lease_owner);
	t.lease_owner = tf_strdup("c1");
	CHECK_INT_EQ(tf_task_finish(AWS, table, &t, &o, now, &state, &next_gen,
	    &enqueue_at, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(state, TF_TASK_PENDING);
	CHECK_INT_EQ(next_gen, 3);
	CHECK_INT_EQ(enqueue_at, now + 5000);
	/* The same write again (as when its reply was lost and it was retried)
	 * is recognised as already applied: success, and nothing written twice. */
	CHECK_INT_EQ(tf_task_finish(AWS, table, &t, &o, now, &state, &next_gen,
	    &enqueue_at, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(state, TF_TASK_PENDING);
	CHECK_INT_EQ(enqueue_at, now + 5000);
	/* A different write for the same old lease fails its condition. */
	CHECK_INT_EQ(tf_task_finish(AWS, table, &t, &o, now + 1, &state, &next_gen,
	    &enqueue_at, err, sizeof(err)), TF_ERR_CONDITION);
	CHECK_INT_EQ(tf_task_get(AWS, table, id, &check, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(check.status, TF_TASK_PENDING);
	CHECK_INT_EQ(check.iteration, 1);
	CHECK_INT_EQ(check.gen, 3);
	CHECK_INT_EQ(check.next_run, now + 5000);
	CHECK_INT_EQ(check.enqueued_for, now + 5000);
	CHECK(check.lease_owner == NULL);
	CHECK_STR_EQ(check.params_json, "{\"n\":1}");
	/* Not due yet: a claim for gen 3 now fails. */
	tf_task_free(&t);
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, 3, "c1", now, 250, 30000, &t, err,
	    sizeof(err)), TF_ERR_CONDITION);
	tf_task_free(&check);
	tf_free(id);
}

static void
test_retries_keep_ten_errors_then_fail(void)
{
	char *id = create("fail", NULL, 12);
	struct tf_task t, check;
	struct tf_task_outcome o = { 0 };
	enum tf_task_status state = TF_TASK_PENDING;
	int64_t gen = 1, next_gen, enqueue_at;
	char err[256], text[32];
	cJSON *errors;
	const cJSON *list;
	int i;

	CHECK(id != NULL);
	o.kind = TF_OUTCOME_RETRY;
	for (i = 1; i <= 12; i++) {
		CHECK_INT_EQ(tf_task_claim(AWS, table, id, gen, "c1", tf_now_ms(), 250,
		    30000, &t, err, sizeof(err)), TF_OK);
		snprintf(text, sizeof(text), "error %d", i);
		o.error = text;
		o.retry_at = tf_now_ms();
		CHECK_INT_EQ(tf_task_finish(AWS, table, &t, &o, tf_now_ms(), &state,
		    &next_gen, &enqueue_at, err, sizeof(err)), TF_OK);
		gen = next_gen;
		tf_task_free(&t);
	}
	CHECK_INT_EQ(state, TF_TASK_FAILED);
	CHECK_INT_EQ(enqueue_at, 0);
	CHECK_INT_EQ(tf_task_get(AWS, table, id, &check, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(check.status, TF_TASK_FAILED);
	CHECK_INT_EQ(check.attempts, 12);
	CHECK_STR_EQ(check.last_error, "error 12");
	CHECK(check.errors_av != NULL);
	errors = cJSON_Parse(check.errors_av);
	list = cJSON_GetObjectItem(errors, "L");
	CHECK_INT_EQ(cJSON_GetArraySize(list), 10);
	CHECK_STR_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
	    cJSON_GetArrayItem(list, 0), "M"), "error"), "S")->valuestring, "error 3");
	CHECK(check.finished_at > 0);
	cJSON_Delete(errors);
	tf_task_free(&check);
	tf_free(id);
}

/* The run's `history` entry as plain JSON: entry i of the task's list. */
static const cJSON *
history_entry(const cJSON *json, int i)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(json, "history"), i);
}

static int64_t
entry_n(const cJSON *entry, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(entry, key);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

static const char *
entry_s(const cJSON *entry, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(entry, key));

	return s != NULL ? s : "(none)";
}

static void
test_history_keeps_the_latest_runs(void)
{
	char *id = create("countdown", NULL, 5), *quiet = create("noop", NULL, 3);
	struct tf_task t, check;
	struct tf_task_outcome o;
	enum tf_task_status state = TF_TASK_PENDING;
	int64_t gen = 1, next_gen, enqueue_at, now;
	cJSON *json = NULL;
	const cJSON *e;
	char err[256];
	int i;

	CHECK(id != NULL && quiet != NULL);
	/* Five runs: success, retry, success, retry, then completed; three are
	 * kept, oldest first. */
	for (i = 1; i <= 5; i++) {
		now = tf_now_ms();
		CHECK_INT_EQ(tf_task_claim(AWS, table, id, gen, "c1", now, 250, 30000,
		    &t, err, sizeof(err)), TF_OK);
		memset(&o, 0, sizeof(o));
		o.kind = i % 2 == 0 ? TF_OUTCOME_RETRY : TF_OUTCOME_DONE;
		o.completed = i == 5;
		o.next_run = now;
		o.retry_at = now;
		o.error = i % 2 == 0 ? "flaky" : NULL;
		o.history_kept = 3;
		o.duration_ms = i * 10;
		o.late_ms = i;
		CHECK_INT_EQ(tf_task_finish(AWS, table, &t, &o, now, &state, &next_gen,
		    &enqueue_at, err, sizeof(err)), TF_OK);
		gen = next_gen;
		tf_task_free(&t);
	}
	CHECK_INT_EQ(state, TF_TASK_COMPLETED);
	CHECK_INT_EQ(tf_task_get(AWS, table, id, &check, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_task_to_json(&check, &json), TF_OK);
	CHECK_INT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(json, "history")), 3);
	e = history_entry(json, 0);
	CHECK_STR_EQ(entry_s(e, "outcome"), "success");
	CHECK_INT_EQ(entry_n(e, "iteration"), 1);
	CHECK_INT_EQ(entry_n(e, "attempt"), 2);   /* after the retry of run 2 */
	CHECK_INT_EQ(entry_n(e, "ms"), 30);
	e = history_entry(json, 1);
	CHECK_STR_EQ(entry_s(e, "outcome"), "retry");
	CHECK_INT_EQ(entry_n(e, "iteration"), 2);
	CHECK_INT_EQ(entry_n(e, "attempt"), 1);
	e = history_entry(json, 2);
	CHECK_STR_EQ(entry_s(e, "outcome"), "completed");
	CHECK_INT_EQ(entry_n(e, "iteration"), 2);
	CHECK_INT_EQ(entry_n(e, "attempt"), 2);
	CHECK_INT_EQ(entry_n(e, "ms"), 50);
	CHECK_INT_EQ(entry_n(e, "late_ms"), 5);
	CHECK(entry_n(e, "at") >= entry_n(history_entry(json, 0), "at"));
	cJSON_Delete(json);
	json = NULL;
	tf_task_free(&check);

	/* history_kept 0 (TASKFLEET_HISTORY=0) writes none; an unknown
	 * duration is left out. */
	now = tf_now_ms();
	CHECK_INT_EQ(tf_task_claim(AWS, table, quiet, 1, "c1", now, 250, 30000, &t,
	    err, sizeof(err)), TF_OK);
	memset(&o, 0, sizeof(o));
	o.kind = TF_OUTCOME_RETRY;
	o.error = "lease expired";
	o.retry_at = now;
	CHECK_INT_EQ(tf_task_finish(AWS, table, &t, &o, now, &state, &next_gen,
	    &enqueue_at, err, sizeof(err)), TF_OK);
	tf_task_free(&t);
	CHECK_INT_EQ(tf_task_get(AWS, table, quiet, &check, err, sizeof(err)), TF_OK);
	CHECK(check.history_av == NULL);
	tf_task_free(&check);
	CHECK_INT_EQ(tf_task_claim(AWS, table, quiet, next_gen, "c1", now, 250,
	    30000, &t, err, sizeof(err)), TF_OK);
	o.history_kept = 5;
	o.duration_ms = -1;
	CHECK_INT_EQ(tf_task_finish(AWS, table, &t, &o, now, &state, &next_gen,
	    &enqueue_at, err, sizeof(err)), TF_OK);
	tf_task_free(&t);
	CHECK_INT_EQ(tf_task_get(AWS, table, quiet, &check, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_task_to_json(&check, &json), TF_OK);
	e = history_entry(json, 0);
	CHECK_STR_EQ(entry_s(e, "outcome"), "retry");
	CHECK_INT_EQ(entry_n(e, "attempt"), 2);
	CHECK(cJSON_GetObjectItem(e, "ms") == NULL);
	CHECK(cJSON_GetObjectItem(e, "late_ms") == NULL);
	cJSON_Delete(json);
	tf_task_free(&check);
	tf_free(id);
	tf_free(quiet);
}

/* Claims task id (gen 1) and writes outcome o at now; the state written,
 * or TF_TASK__STATUSES when the claim or the write failed. */
static enum tf_task_status
claim_and_finish(const char *id, struct tf_task_outcome *o, int64_t now)
{
	struct tf_task t;
	enum tf_task_status state = TF_TASK__STATUSES;
	int64_t next_gen, enqueue_at;
	char err[256] = "";

	memset(&t, 0, sizeof(t));
	if (tf_task_claim(AWS, table, id, 1, "c1", now, 250, 30000, &t, err,
	    sizeof(err)) != TF_OK || tf_task_finish(AWS, table, &t, o, now, &state,
	    &next_gen, &enqueue_at, err, sizeof(err)) != TF_OK) {
		printf("# claim or finish of %s failed: %s\n", id, err);
		state = TF_TASK__STATUSES;
	}
	tf_task_free(&t);
	return state;
}

/* The `ttl` of task id as stored (0: none). */
static int64_t
stored_ttl(const char *id)
{
	struct tf_task t;
	int64_t ttl = -1;
	char err[256];

	if (tf_task_get(AWS, table, id, &t, err, sizeof(err)) == TF_OK)
		ttl = t.ttl;
	tf_task_free(&t);
	return ttl;
}

static void
test_retention_sets_ttl_on_finished_tasks(void)
{
	char *done = create("noop", NULL, 3), *failed = create("noop", NULL, 1);
	char *going = create("countdown", NULL, 3), *kept = create("noop", NULL, 3);
	struct tf_task_outcome o;
	struct tf_task t;
	cJSON *json = NULL;
	int64_t now = tf_now_ms(), week = 7LL * 24 * 3600 * 1000;
	char err[256];

	CHECK(done && failed && going && kept);
	memset(&o, 0, sizeof(o));
	o.kind = TF_OUTCOME_DONE;
	o.completed = true;
	o.retention_ms = week;
	CHECK_INT_EQ(claim_and_finish(done, &o, now), TF_TASK_COMPLETED);
	CHECK_INT_EQ(stored_ttl(done), (now + week) / 1000);
	/* It is in the task's JSON (get --json, the API). */
	CHECK_INT_EQ(tf_task_get(AWS, table, done, &t, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_task_to_json(&t, &json), TF_OK);
	CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(json, "ttl")) ==
	    (double)((now + week) / 1000));
	cJSON_Delete(json);
	tf_task_free(&t);

	memset(&o, 0, sizeof(o));
	o.kind = TF_OUTCOME_FAILED;
	o.error = "gone for good";
	o.retention_ms = 3600 * 1000;
	CHECK_INT_EQ(claim_and_finish(failed, &o, now), TF_TASK_FAILED);
	CHECK_INT_EQ(stored_ttl(failed), (now + 3600 * 1000) / 1000);

	/* A task that goes on gets none; nor does one finished without a
	 * retention. */
	memset(&o, 0, sizeof(o));
	o.kind = TF_OUTCOME_DONE;
	o.next_run = now + 60000;
	o.retention_ms = week;
	CHECK_INT_EQ(claim_and_finish(going, &o, now), TF_TASK_PENDING);
	CHECK_INT_EQ(stored_ttl(going), 0);
	memset(&o, 0, sizeof(o));
	o.kind = TF_OUTCOME_DONE;
	o.completed = true;
	CHECK_INT_EQ(claim_and_finish(kept, &o, now), TF_TASK_COMPLETED);
	CHECK_INT_EQ(stored_ttl(kept), 0);
	tf_free(done);
	tf_free(failed);
	tf_free(going);
	tf_free(kept);
}

/* An item in the original scheduler's format (id, completed, type, params);
 * caller frees with cJSON_Delete(). */
static cJSON *
legacy_item(const char *id, bool completed)
{
	cJSON *item = cJSON_CreateObject(), *params = cJSON_CreateObject();

	cJSON_AddItemToObject(item, "id", tf_ddb_av_s(id));
	cJSON_AddItemToObject(item, "completed", tf_ddb_av_bool(completed));
	cJSON_AddItemToObject(item, "type", tf_ddb_av_s("noop"));
	cJSON_AddItemToObject(params, "M", cJSON_CreateObject());
	cJSON_AddItemToObject(item, "params", params);
	return item;
}

/* Writes legacy_item(id, completed) and returns it as written; caller frees
 * with cJSON_Delete(). */
static cJSON *
put_legacy(const char *id, bool completed)
{
	cJSON *item = legacy_item(id, completed);

	if (tf_ddb_put_item(AWS, table, item, NULL) != TF_OK) {
		cJSON_Delete(item);
		return NULL;
	}
	return item;
}

static void
test_legacy_item_is_claimed_once(void)
{
	char *id = itest_name("legacy");
	cJSON *item = put_legacy(id, false);
	struct tf_task t;
	char err[256];

	CHECK(item != NULL);
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, 0, "c1", tf_now_ms(), 250, 30000,
	    &t, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(t.gen, 1);
	CHECK_STR_EQ(t.ns, "default");
	CHECK_INT_EQ(t.max_attempts, 3);
	CHECK(!t.legacy);
	tf_task_free(&t);
	/* Another message without gen is stale now. */
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, 0, "c2", tf_now_ms(), 250, 30000,
	    &t, err, sizeof(err)), TF_ERR_CONDITION);
	cJSON_Delete(item);
	tf_free(id);
}

/* Writes an item with id, status (NULL: none, as the original scheduler
 * wrote), completed, gen (< 0: none) and next_run in the past. */
static enum tf_err
put_item(const char *id, const char *status, bool completed, int64_t gen)
{
	cJSON *item = legacy_item(id, completed);
	enum tf_err rc;

	if (status != NULL) {
		cJSON_AddItemToObject(item, "status", tf_ddb_av_s(status));
		cJSON_AddItemToObject(item, "ns", tf_ddb_av_s("default"));
		cJSON_AddItemToObject(item, "next_run", tf_ddb_av_n(tf_now_ms() - 1000));
		cJSON_AddItemToObject(item, "max_attempts", tf_ddb_av_n(3));
	}
	if (gen >= 0)
		cJSON_AddItemToObject(item, "gen", tf_ddb_av_n(gen));
	rc = tf_ddb_put_item(AWS, table, item, NULL);
	cJSON_Delete(item);
	return rc;
}

/* A message of the item's very generation claims only a PENDING task: not
 * one that runs, not one that is over, nor a completed item of the original
 * scheduler. */
static void
test_claim_needs_a_pending_task(void)
{
	static const char *const statuses[] = { "PROCESSING", "COMPLETED",
		"FAILED", "SUSPENDED" };
	char *id = itest_name("notpending");
	struct tf_task t;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		CHECK_INT_EQ(put_item(id, statuses[i], statuses[i][0] == 'C', 5), TF_OK);
		CHECK_MSG(tf_task_claim(AWS, table, id, 5, "c1", tf_now_ms(), 250,
		    30000, &t, err, sizeof(err)) == TF_ERR_CONDITION,
		    "a %s task was claimed", statuses[i]);
	}
	CHECK_INT_EQ(put_item(id, NULL, true, -1), TF_OK);
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, 0, "c1", tf_now_ms(), 250, 30000,
	    &t, err, sizeof(err)), TF_ERR_CONDITION);
	/* The same item not completed is claimed: the refusals were the state. */
	CHECK_INT_EQ(put_item(id, NULL, false, -1), TF_OK);
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, 0, "c1", tf_now_ms(), 250, 30000,
	    &t, err, sizeof(err)), TF_OK);
	tf_task_free(&t);
	tf_free(id);
}

/* A run whose lease was taken back, by the same consumer's next claim too,
 * can neither extend nor write: the generation tells its lease apart. */
static void
test_old_lease_of_the_same_owner_is_refused(void)
{
	char *id = create("noop", NULL, 3);
	struct tf_task old, now_run, check;
	struct tf_task_outcome o = { 0 };
	enum tf_task_status state;
	int64_t next_gen, enqueue_at, now = tf_now_ms();
	char err[256];

	CHECK(id != NULL);
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, 1, "c1", now, 250, 30000, &old,
	    err, sizeof(err)), TF_OK);
	/* The sweeper takes the run back (its lease over), and c1 claims the
	 * retry's message. */
	o.kind = TF_OUTCOME_RETRY;
	o.retry_at = now;
	o.error = "lease expired";
	o.lease_expired_before = now + 60000;
	CHECK_INT_EQ(tf_task_finish(AWS, table, &old, &o, now, &state, &next_gen,
	    &enqueue_at, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, next_gen, "c1", now, 250, 30000,
	    &now_run, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(now_run.gen, 4);
	/* The first run comes back. */
	CHECK_INT_EQ(tf_task_extend_lease(AWS, table, id, old.gen, "c1", now + 60000),
	    TF_ERR_CONDITION);
	memset(&o, 0, sizeof(o));
	o.kind = TF_OUTCOME_DONE;
	o.completed = true;
	CHECK_INT_EQ(tf_task_finish(AWS, table, &old, &o, now + 1, &state, &next_gen,
	    &enqueue_at, err, sizeof(err)), TF_ERR_CONDITION);
	CHECK_INT_EQ(tf_task_get(AWS, table, id, &check, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(check.status, TF_TASK_PROCESSING);
	CHECK_INT_EQ(check.gen, 4);
	tf_task_free(&check);
	tf_task_free(&now_run);
	tf_task_free(&old);
	tf_free(id);
}

/* A suspend requested while the task runs wins over the run's "run again":
 * the result is kept and the task ends SUSPENDED, out of the due index. */
static void
test_suspend_during_the_run_is_kept(void)
{
	char *id = create("noop", NULL, 3);
	struct tf_task t, check;
	struct tf_task_outcome o = { 0 };
	struct tf_manage_result r;
	enum tf_task_status state;
	int64_t next_gen, enqueue_at, now = tf_now_ms();
	char err[256];

	CHECK(id != NULL);
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, 1, "c1", now, 250, 30000, &t, err,
	    sizeof(err)), TF_OK);
	CHECK_INT_EQ(tf_manage_change(AWS, table, id, TF_MANAGE_SUSPEND, now, 0, &r,
	    err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_REQUEST);
	o.kind = TF_OUTCOME_DONE;
	o.next_run = now + 5000;
	CHECK_INT_EQ(tf_task_finish(AWS, table, &t, &o, now, &state, &next_gen,
	    &enqueue_at, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(state, TF_TASK_SUSPENDED);
	CHECK_INT_EQ(enqueue_at, 0);
	CHECK_INT_EQ(tf_task_get(AWS, table, id, &check, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(check.status, TF_TASK_SUSPENDED);
	CHECK_INT_EQ(check.iteration, 1);
	CHECK(!check.suspend_requested);
	tf_task_free(&check);
	tf_task_free(&t);
	tf_free(id);
}

/* The sweeper's enqueue holds only for the generation it read: a sweeper
 * that read an older one (another sent the message meanwhile) sends none;
 * the message it sends makes the older one stale. */
static void
test_sweep_enqueue_needs_the_generation_read(void)
{
	char *id = create("noop", NULL, 3);
	struct tf_task t;
	int64_t now = tf_now_ms();
	char err[256];

	CHECK(id != NULL);
	CHECK_INT_EQ(tf_task_get(AWS, table, id, &t, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(t.gen, 1);
	CHECK_INT_EQ(tf_task_sweep_enqueue(AWS, table, id, 0, t.next_run, now + 1000,
	    now, NULL), TF_ERR_CONDITION);
	CHECK_INT_EQ(tf_task_sweep_enqueue(AWS, table, id, 1, t.next_run, now + 1000,
	    now, NULL), TF_OK);
	tf_task_free(&t);
	CHECK_INT_EQ(tf_task_get(AWS, table, id, &t, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(t.gen, 2);
	tf_task_free(&t);
	/* The message of generation 1 is stale now: only the new one claims. */
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, 1, "c1", now, 250, 30000, &t, err,
	    sizeof(err)), TF_ERR_CONDITION);
	CHECK_INT_EQ(tf_task_claim(AWS, table, id, 2, "c1", now, 250, 30000, &t, err,
	    sizeof(err)), TF_OK);
	tf_task_free(&t);
	tf_free(id);
}

/* adopt: a pending legacy item becomes PENDING in both indexes' keys, a
 * completed one COMPLETED; a second adopt of the same read writes nothing;
 * an item a consumer claimed after it was read is left as the claim made it. */
static void
test_adopt_legacy_items(void)
{
	char *id = itest_name("adopt"), *done_id = itest_name("adopt-done");
	char *claimed_id = itest_name("adopt-claimed");
	cJSON *item = put_legacy(id, false), *done = put_legacy(done_id, true);
	cJSON *claimed = put_legacy(claimed_id, false), *got = NULL;
	cJSON *key = tf_task_key(id);
	enum tf_adopt_outcome out;
	int64_t now = tf_now_ms(), due_at = 0;
	struct tf_task t;
	char err[256];

	CHECK(item != NULL && done != NULL && claimed != NULL);
	CHECK_INT_EQ(tf_manage_adopt(AWS, table, item, "legacy-ns", now, true,
	    &out), TF_OK);
	CHECK_INT_EQ(out, TF_ADOPT_PENDING);
	CHECK_INT_EQ(tf_task_get(AWS, table, id, &t, err, sizeof(err)), TF_OK);
	CHECK_MSG(t.legacy, "a dry run wrote the item");
	tf_task_free(&t);

	CHECK_INT_EQ(tf_manage_adopt(AWS, table, item, "legacy-ns", now, false,
	    &out), TF_OK);
	CHECK_INT_EQ(out, TF_ADOPT_PENDING);
	CHECK_INT_EQ(tf_task_get(AWS, table, id, &t, err, sizeof(err)), TF_OK);
	CHECK(!t.legacy);
	CHECK_INT_EQ(t.status, TF_TASK_PENDING);
	CHECK_STR_EQ(t.ns, "legacy-ns");
	CHECK_INT_EQ(t.next_run, now);
	CHECK_INT_EQ(t.gen, 0);
	tf_task_free(&t);
	CHECK_INT_EQ(tf_ddb_get_item(AWS, table, key, true, NULL, &got), TF_OK);
	CHECK(tf_ddb_item_s(got, "due_shard") != NULL);
	CHECK(tf_ddb_item_n(got, "due_at", &due_at) && due_at == now);
	cJSON_Delete(got);
	/* The same read again: the item has a status now, so nothing is written. */
	CHECK_INT_EQ(tf_manage_adopt(AWS, table, item, NULL, now + 5, false, &out),
	    TF_OK);
	CHECK_INT_EQ(out, TF_ADOPT_CHANGED);

	CHECK_INT_EQ(tf_manage_adopt(AWS, table, done, NULL, now, false, &out),
	    TF_OK);
	CHECK_INT_EQ(out, TF_ADOPT_COMPLETED);
	CHECK_INT_EQ(tf_task_get(AWS, table, done_id, &t, err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(t.status, TF_TASK_COMPLETED);
	CHECK_STR_EQ(t.ns, "default");
	tf_task_free(&t);

	/* Read by adopt's Scan, then claimed by a consumer: the claim stands. */
	CHECK_INT_EQ(tf_task_claim(AWS, table, claimed_id, 0, "c1", tf_now_ms(),
	    250, 30000, &t, err, sizeof(err)), TF_OK);
	tf_task_free(&t);
	CHECK_INT_EQ(tf_manage_adopt(AWS, table, claimed, NULL, now, false, &out),
	    TF_OK);
	CHECK_INT_EQ(out, TF_ADOPT_CHANGED);
	CHECK_INT_EQ(tf_task_get(AWS, table, claimed_id, &t, err, sizeof(err)),
	    TF_OK);
	CHECK_INT_EQ(t.status, TF_TASK_PROCESSING);
	CHECK_STR_EQ(t.lease_owner, "c1");
	CHECK_INT_EQ(t.gen, 1);
	tf_task_free(&t);
	cJSON_Delete(item);
	cJSON_Delete(done);
	cJSON_Delete(claimed);
	cJSON_Delete(key);
	tf_free(id);
	tf_free(done_id);
	tf_free(claimed_id);
}

static void
test_delete(void)
{
	char *id = create("noop", NULL, 0);

	CHECK(id != NULL);
	CHECK_INT_EQ(tf_task_delete(AWS, table, id), TF_OK);
	CHECK_INT_EQ(tf_task_delete(AWS, table, id), TF_ERR_NOT_FOUND);
	tf_free(id);
}

int
main(void)
{
	struct tf_schema_opts o = { 0 };
	struct tf_schema_changes ch;
	char step[200];
	int rc;

	if (itest_open() != 0)
		return 1;
	table = itest_name("tf-tasks");
	o.table = table;
	if (tf_schema_create_table(AWS, &o, &ch, step, sizeof(step)) != TF_OK) {
		printf("FAIL setup: cannot create table %s\n", table);
		return 1;
	}
	TF_RUN(test_create_and_get);
	TF_RUN(test_create_refuses_bad_input);
	TF_RUN(test_claim_run_finish_generations);
	TF_RUN(test_retries_keep_ten_errors_then_fail);
	TF_RUN(test_history_keeps_the_latest_runs);
	TF_RUN(test_retention_sets_ttl_on_finished_tasks);
	TF_RUN(test_legacy_item_is_claimed_once);
	TF_RUN(test_adopt_legacy_items);
	TF_RUN(test_claim_needs_a_pending_task);
	TF_RUN(test_old_lease_of_the_same_owner_is_refused);
	TF_RUN(test_suspend_during_the_run_is_kept);
	TF_RUN(test_sweep_enqueue_needs_the_generation_read);
	TF_RUN(test_delete);
	rc = tf_test_summary();
	tf_ddb_delete_table(AWS, table);
	tf_free(table);
	itest_close();
	return rc;
}
