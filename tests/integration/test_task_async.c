/* test_task_async.c - the consumer's task writes on an event loop
 * (lib/task/task_async.c) against the local stand-ins: the claim, the
 * outcome write (compared with what tf_task_finish() writes), the outcome
 * with the next iteration claimed in the same write (docs/design.md section
 * 12.1), the next message, and writes whose replies are lost on the way
 * back (a proxy in this program drops them). Every callback must come exactly
 * once, and never inside the call that started the work. */
#include "harness.h"
#include "itest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aws/ddb.h"
#include "aws/sqs.h"
#include "loop/loop.h"
#include "task/task.h"
#include "task/task_async.h"
#include "task/task_manage.h"

#define AWS (itest_ctx.aws)
#define LEASE_MS 30000

static char *table;

/* One asynchronous call and what came back through its callback. */
struct call {
	struct tf_loop *loop;
	bool starting;              /* inside the call that starts the work */
	int calls;                  /* callbacks so far */
	int inside;                 /* of those, made inside the starting call */
	enum tf_err rc;
	struct tf_task t;           /* claim and chain: the task handed back
	                               (owned; tf_task_free()) */
	enum tf_task_status state;  /* finish: the status written */
	int64_t next_gen, enqueue_at;
	char err[512];
	bool stalled;               /* no callback came in time: the loop was
	                               stopped, which cancelled the call */
};

/* Counts a callback and stops the loop. */
static void
called(struct call *c, enum tf_err rc, const char *err)
{
	c->calls++;
	c->inside += c->starting;
	c->rc = rc;
	snprintf(c->err, sizeof(c->err), "%s", err != NULL ? err : "");
	tf_loop_stop(c->loop);
}

static void
on_claim(void *ctx, enum tf_err rc, struct tf_task *t, const char *err)
{
	struct call *c = ctx;

	tf_task_free(&c->t);
	c->t = *t;  /* the callback takes the contents */
	called(c, rc, err);
}

static void
on_finish(void *ctx, enum tf_err rc, enum tf_task_status state,
    int64_t next_gen, int64_t enqueue_at, const char *err)
{
	struct call *c = ctx;

	c->state = state;
	c->next_gen = next_gen;
	c->enqueue_at = enqueue_at;
	called(c, rc, err);
}

static void
on_send(void *ctx, enum tf_err rc, const char *err)
{
	called(ctx, rc, err);
}

/* A batch send's end: the first message that failed, else TF_OK. */
static void
on_send_batch(void *ctx, size_t n, const enum tf_err *rc,
    const char *const *err)
{
	size_t i;

	for (i = 0; i < n && rc[i] == TF_OK; i++)
		;
	called(ctx, i < n ? rc[i] : TF_OK, i < n ? err[i] : NULL);
}

/* Empties c (freeing the task it held) and gives it a new loop. */
static bool
call_begin(struct call *c)
{
	tf_task_free(&c->t);
	memset(c, 0, sizeof(*c));
	c->rc = TF_ERR__COUNT;
	if (tf_loop_new(NULL, &c->loop) != TF_OK)
		return false;
	c->starting = true;
	return true;
}

/* Runs the loop until the callback stopped it, then frees it. */
static void
call_end(struct call *c)
{
	c->starting = false;
	tf_loop_run(c->loop);
	tf_loop_free(c->loop);
	c->loop = NULL;
}

static void
claim_async(struct tf_aws *aws, const char *id, int64_t msg_gen,
    const char *owner, int64_t now, struct call *c)
{
	if (!call_begin(c))
		return;
	tf_task_claim_async(aws, c->loop, table, id, msg_gen, owner, now, 250,
	    LEASE_MS, on_claim, c);
	call_end(c);
}

/* t and o are borrowed until it returns. */
static void
finish_async(struct tf_aws *aws, const struct tf_task *t,
    const struct tf_task_outcome *o, int64_t now, struct call *c)
{
	if (!call_begin(c))
		return;
	tf_task_finish_async(aws, c->loop, table, t, o, now, on_finish, c);
	call_end(c);
}

static void
chain_async(struct tf_aws *aws, const struct tf_task *t,
    struct tf_task_outcome *o, int64_t now, const char *owner, struct call *c)
{
	if (!call_begin(c))
		return;
	tf_task_chain_async(aws, c->loop, table, t, o, now, owner, LEASE_MS,
	    on_claim, c);
	call_end(c);
}

static void
send_async(const char *url, const char *id, int64_t due, int64_t gen,
    int64_t now, struct call *c)
{
	if (!call_begin(c))
		return;
	tf_task_send_message_async(AWS, c->loop, url, TF_PRIORITY_NORMAL, id, due,
	    gen, now, on_send, c);
	call_end(c);
}

/* Creates a countdown task due at `now`; caller frees the id with
 * tf_free(). */
static char *
create(const char *params, int64_t max_attempts, int64_t now)
{
	struct tf_task_spec s = { 0 };
	char *id = NULL, err[256];
	bool enqueue;

	s.type = "countdown";
	s.params_json = params;
	s.next_run = now;
	s.max_attempts = max_attempts;
	if (tf_task_create(AWS, table, &s, now, &id, &enqueue, err,
	    sizeof(err)) != TF_OK)
		printf("# create failed: %s\n", err);
	return id;
}

/* Creates a task and claims it synchronously as "c1"; false (with *id
 * freed) when either fails. */
static bool
create_claimed(const char *params, int64_t max_attempts, int64_t now,
    char **id, struct tf_task *t)
{
	char err[256];

	memset(t, 0, sizeof(*t));
	*id = create(params, max_attempts, now);
	if (*id != NULL && tf_task_claim(AWS, table, *id, 1, "c1", now, 250,
	    LEASE_MS, t, err, sizeof(err)) == TF_OK)
		return true;
	tf_free(*id);
	*id = NULL;
	return false;
}

/* The item as stored, without the attributes that follow from its id.
 * Caller frees with cJSON_Delete(); NULL when it cannot be read. */
static cJSON *
item_without_id(const char *id)
{
	cJSON *key = tf_task_key(id), *item = NULL;

	if (key == NULL || tf_ddb_get_item(AWS, table, key, true, NULL,
	    &item) != TF_OK)
		item = NULL;
	cJSON_Delete(key);
	cJSON_DeleteItemFromObject(item, "id");
	cJSON_DeleteItemFromObject(item, "due_shard");
	return item;
}

/* Reads task id; false when it cannot be read. */
static bool
get(const char *id, struct tf_task *t)
{
	char err[256];

	memset(t, 0, sizeof(*t));
	return tf_task_get(AWS, table, id, t, err, sizeof(err)) == TF_OK;
}

static int
history_length(const struct tf_task *t)
{
	cJSON *av = t->history_av != NULL ? cJSON_Parse(t->history_av) : NULL;
	int n = cJSON_GetArraySize(cJSON_GetObjectItem(av, "L"));

	cJSON_Delete(av);
	return n;
}

static bool
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
test_claim_wins_once_per_generation(void)
{
	struct call c = { 0 };
	struct tf_task item;
	int64_t now = tf_now_ms();
	char *id = create("{\"n\":2}", 3, now), *token = NULL;

	CHECK(id != NULL);
	claim_async(AWS, id, 1, "c1", now, &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc == TF_OK, "claim: %s", c.err);
	CHECK_STR_EQ(c.t.id, id);
	CHECK_INT_EQ(c.t.status, TF_TASK_PROCESSING);
	CHECK_INT_EQ(c.t.gen, 2);
	CHECK_STR_EQ(c.t.lease_owner, "c1");
	CHECK_INT_EQ(c.t.lease_until, now + LEASE_MS);
	CHECK(c.t.lease_token != NULL && strlen(c.t.lease_token) >= 16);
	CHECK_STR_EQ(c.t.params_json, "{\"n\":2}");
	token = tf_strdup(c.t.lease_token);
	/* The handed-back task is the item as written. */
	CHECK(get(id, &item));
	CHECK_INT_EQ(item.status, TF_TASK_PROCESSING);
	CHECK_INT_EQ(item.gen, 2);
	CHECK_STR_EQ(item.lease_token, token);
	tf_task_free(&item);
	/* A second message of generation 1 loses, and changes nothing. */
	claim_async(AWS, id, 1, "c2", now, &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc == TF_ERR_CONDITION, "second claim gave %s",
	    tf_strerror(c.rc));
	CHECK(get(id, &item));
	CHECK_INT_EQ(item.gen, 2);
	CHECK_STR_EQ(item.lease_owner, "c1");
	CHECK_STR_EQ(item.lease_token, token);
	tf_task_free(&item);
	tf_task_free(&c.t);
	tf_free(token);
	tf_free(id);
}

/* An outcome, and the tasks it is written to. */
struct finish_case {
	const char *name;
	int64_t max_attempts;
	struct tf_task_outcome o;   /* times relative to now (added below) */
	enum tf_task_status want;
};

/* Two identical tasks, claimed alike; the outcome written to one by
 * tf_task_finish() and to the other by tf_task_finish_async() at the same
 * now: the same answer, and the same item apart from the id. */
static void
finish_like_sync(const struct finish_case *fc)
{
	struct tf_task_outcome o = fc->o;
	struct tf_task ta, tb, ia, ib;
	struct call c = { 0 };
	enum tf_task_status state;
	int64_t now = tf_now_ms(), next_gen, enqueue_at;
	char *a = NULL, *b = NULL, err[256], *pa = NULL, *pb = NULL;
	cJSON *xa = NULL, *xb = NULL;

	if (o.next_run != 0)
		o.next_run += now;
	if (o.retry_at != 0)
		o.retry_at += now;
	CHECK(create_claimed("{\"n\":3}", fc->max_attempts, now, &a, &ta));
	CHECK(create_claimed("{\"n\":3}", fc->max_attempts, now, &b, &tb));
	CHECK_MSG(tf_task_finish(AWS, table, &ta, &o, now + 7, &state, &next_gen,
	    &enqueue_at, err, sizeof(err)) == TF_OK, "sync finish: %s", err);
	finish_async(AWS, &tb, &o, now + 7, &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc == TF_OK, "async finish: %s", c.err);
	CHECK_INT_EQ(state, fc->want);
	CHECK_INT_EQ(c.state, state);
	CHECK_INT_EQ(c.next_gen, next_gen);
	CHECK_INT_EQ(c.enqueue_at, enqueue_at);
	CHECK(get(a, &ia));
	CHECK(get(b, &ib));
	CHECK_INT_EQ(ib.status, ia.status);
	CHECK_INT_EQ(ib.status, fc->want);
	CHECK_INT_EQ(ib.gen, ia.gen);
	CHECK_INT_EQ(ib.gen, 3);
	CHECK_INT_EQ(ib.iteration, ia.iteration);
	CHECK_INT_EQ(ib.attempts, ia.attempts);
	CHECK_INT_EQ(ib.next_run, ia.next_run);
	CHECK_INT_EQ(ib.enqueued_for != 0, ia.enqueued_for != 0);
	CHECK_INT_EQ(ib.enqueued_for, ia.enqueued_for);
	CHECK_INT_EQ(history_length(&ib), history_length(&ia));
	CHECK(history_length(&ib) >= 1);
	CHECK(ib.lease_owner == NULL && ib.lease_token == NULL);
	CHECK(same_str(ib.params_json, ia.params_json));
	CHECK(same_str(ib.result_json, ia.result_json));
	CHECK(same_str(ib.last_error, ia.last_error));
	/* Every other attribute too. */
	xa = item_without_id(a);
	xb = item_without_id(b);
	pa = cJSON_PrintUnformatted(xa);
	pb = cJSON_PrintUnformatted(xb);
	cJSON_Delete(xa);
	cJSON_Delete(xb);
	CHECK_MSG(pa != NULL && pb != NULL && strcmp(pa, pb) == 0,
	    "the items differ:\n  sync:  %s\n  async: %s", pa ? pa : "-",
	    pb ? pb : "-");
	cJSON_free(pa);
	cJSON_free(pb);
	tf_task_free(&ia);
	tf_task_free(&ib);
	tf_task_free(&ta);
	tf_task_free(&tb);
	tf_free(a);
	tf_free(b);
}

static const struct finish_case finish_cases[] = {
	{ "test_finish_like_sync_done_next_iteration", 3,
	  { .kind = TF_OUTCOME_DONE, .next_run = 5000, .new_params = "{\"n\":2}",
	    .result_json = "{\"left\":2}", .history_kept = 5, .duration_ms = 12,
	    .late_ms = 3 }, TF_TASK_PENDING },
	{ "test_finish_like_sync_done_beyond_horizon", 3,
	  { .kind = TF_OUTCOME_DONE, .next_run = 3600 * 1000,
	    .history_kept = 5, .duration_ms = 1 }, TF_TASK_PENDING },
	{ "test_finish_like_sync_done_completed", 3,
	  { .kind = TF_OUTCOME_DONE, .completed = true,
	    .result_json = "{\"ok\":true}", .history_kept = 5, .duration_ms = 4,
	    .retention_ms = 86400000 }, TF_TASK_COMPLETED },
	{ "test_finish_like_sync_retry", 3,
	  { .kind = TF_OUTCOME_RETRY, .retry_at = 2000, .error = "try again",
	    .history_kept = 5, .duration_ms = 5 }, TF_TASK_PENDING },
	{ "test_finish_like_sync_retry_exhausted", 1,
	  { .kind = TF_OUTCOME_RETRY, .retry_at = 2000, .error = "no more",
	    .history_kept = 5, .duration_ms = 5 }, TF_TASK_FAILED },
	{ "test_finish_like_sync_failed", 3,
	  { .kind = TF_OUTCOME_FAILED, .error = "broken", .history_kept = 5,
	    .duration_ms = 6 }, TF_TASK_FAILED },
};

static void
test_finish_with_lost_lease_fails(void)
{
	struct tf_task_outcome o = { 0 }, other = { 0 };
	struct tf_task t, item;
	struct call c = { 0 };
	enum tf_task_status state;
	int64_t now = tf_now_ms(), next_gen, enqueue_at;
	char *id = NULL, err[256];

	CHECK(create_claimed("{\"n\":3}", 3, now, &id, &t));
	o.kind = TF_OUTCOME_DONE;
	o.next_run = now + 5000;
	o.history_kept = 5;
	/* Not the owner of the lease. */
	tf_free(t.lease_owner);
	t.lease_owner = tf_strdup("c2");
	finish_async(AWS, &t, &o, now, &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc == TF_ERR_CONDITION, "gave %s", tf_strerror(c.rc));
	CHECK_INT_EQ(c.enqueue_at, 0);
	CHECK(get(id, &item));
	CHECK_INT_EQ(item.status, TF_TASK_PROCESSING);
	CHECK_INT_EQ(item.gen, 2);
	CHECK_INT_EQ(item.iteration, 0);
	tf_task_free(&item);
	/* The run was taken over: another write ended it first (as the
	 * sweeper does when the lease ran out). */
	tf_free(t.lease_owner);
	t.lease_owner = tf_strdup("c1");
	other.kind = TF_OUTCOME_RETRY;
	other.retry_at = now + 1000;
	other.error = "lease expired";
	CHECK_INT_EQ(tf_task_finish(AWS, table, &t, &other, now + 40000, &state,
	    &next_gen, &enqueue_at, err, sizeof(err)), TF_OK);
	finish_async(AWS, &t, &o, now, &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc == TF_ERR_CONDITION, "gave %s", tf_strerror(c.rc));
	CHECK(get(id, &item));
	CHECK_INT_EQ(item.status, TF_TASK_PENDING);
	CHECK_INT_EQ(item.gen, 3);
	CHECK_INT_EQ(item.attempts, 1);
	CHECK_STR_EQ(item.last_error, "lease expired");
	tf_task_free(&item);
	tf_task_free(&t);
	tf_free(id);
}

/* A suspend requested during the run: the run's "again" becomes SUSPENDED,
 * as tf_task_finish() makes it. */
static void
test_finish_after_suspend_request_suspends(void)
{
	struct tf_task_outcome o = { 0 };
	struct tf_task t, item;
	struct tf_manage_result r;
	struct call c = { 0 };
	int64_t now = tf_now_ms();
	char *id = NULL, err[256];

	CHECK(create_claimed("{\"n\":3}", 3, now, &id, &t));
	CHECK_INT_EQ(tf_manage_change(AWS, table, id, TF_MANAGE_SUSPEND, now, 0, &r,
	    err, sizeof(err)), TF_OK);
	CHECK_INT_EQ(r.verdict, TF_MANAGE_REQUEST);
	o.kind = TF_OUTCOME_DONE;
	o.next_run = now + 5000;
	o.new_params = "{\"n\":2}";
	o.history_kept = 5;
	finish_async(AWS, &t, &o, now, &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc == TF_OK, "finish: %s", c.err);
	CHECK_INT_EQ(c.state, TF_TASK_SUSPENDED);
	CHECK_INT_EQ(c.enqueue_at, 0);
	CHECK(get(id, &item));
	CHECK_INT_EQ(item.status, TF_TASK_SUSPENDED);
	CHECK_INT_EQ(item.iteration, 1);
	CHECK(!item.suspend_requested);
	CHECK_INT_EQ(item.enqueued_for, 0);
	CHECK_STR_EQ(item.params_json, "{\"n\":2}");
	tf_task_free(&item);
	tf_task_free(&t);
	tf_free(id);
}

/* The chain's outcome: DONE, the next iteration due now. */
static void
chain_outcome(struct tf_task_outcome *o, int64_t now)
{
	memset(o, 0, sizeof(*o));
	o->kind = TF_OUTCOME_DONE;
	o->next_run = now;
	o->new_params = "{\"n\":2}";
	o->result_json = "{\"left\":2}";
	o->history_kept = 5;
	o->duration_ms = 1;
}

static void
test_chain_claims_the_next_iteration(void)
{
	struct tf_task_outcome o;
	struct tf_task t, item;
	struct call c = { 0 }, f = { 0 };
	int64_t now = tf_now_ms();
	char *id = NULL;

	CHECK(create_claimed("{\"n\":3}", 3, now, &id, &t));
	/* A message said to be out for the running generation: the chained
	 * iteration has none. */
	CHECK_INT_EQ(tf_task_mark_enqueued(AWS, table, id, t.gen, now), TF_OK);
	chain_outcome(&o, now);
	chain_async(AWS, &t, &o, now, "c1", &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc == TF_OK, "chain: %s", c.err);
	/* The task handed back is the next iteration, claimed. */
	CHECK_STR_EQ(c.t.id, id);
	CHECK_INT_EQ(c.t.status, TF_TASK_PROCESSING);
	CHECK_INT_EQ(c.t.gen, t.gen + 2);
	CHECK_STR_EQ(c.t.lease_owner, "c1");
	CHECK_INT_EQ(c.t.lease_until, now + LEASE_MS);
	CHECK(c.t.lease_token != NULL && !same_str(c.t.lease_token, t.lease_token));
	CHECK_INT_EQ(c.t.iteration, t.iteration + 1);
	CHECK_INT_EQ(c.t.attempts, 0);
	CHECK_STR_EQ(c.t.params_json, "{\"n\":2}");
	CHECK_INT_EQ(c.t.enqueued_for, 0);
	/* The item is what was handed back, with the run in its history. */
	CHECK(get(id, &item));
	CHECK_INT_EQ(item.status, TF_TASK_PROCESSING);
	CHECK_INT_EQ(item.gen, t.gen + 2);
	CHECK_STR_EQ(item.lease_owner, "c1");
	CHECK_STR_EQ(item.lease_token, c.t.lease_token);
	CHECK_INT_EQ(item.iteration, t.iteration + 1);
	CHECK_INT_EQ(item.attempts, 0);
	CHECK_STR_EQ(item.params_json, "{\"n\":2}");
	CHECK_STR_EQ(item.result_json, "{\"left\":2}");
	CHECK_INT_EQ(item.enqueued_for, 0);
	CHECK_INT_EQ(history_length(&item), 1);
	tf_task_free(&item);
	/* The chained claim is a claim like any other: its run ends with an
	 * ordinary outcome write. */
	memset(&o, 0, sizeof(o));
	o.kind = TF_OUTCOME_DONE;
	o.completed = true;
	o.history_kept = 5;
	finish_async(AWS, &c.t, &o, now + 1, &f);
	CHECK_INT_EQ(f.calls, 1);
	CHECK_MSG(f.rc == TF_OK, "finish of the chained run: %s", f.err);
	CHECK_INT_EQ(f.state, TF_TASK_COMPLETED);
	CHECK(get(id, &item));
	CHECK_INT_EQ(item.status, TF_TASK_COMPLETED);
	CHECK_INT_EQ(item.gen, t.gen + 3);
	CHECK_INT_EQ(item.iteration, t.iteration + 2);
	CHECK_INT_EQ(history_length(&item), 2);
	tf_task_free(&item);
	tf_task_free(&c.t);
	tf_task_free(&t);
	tf_free(id);
}

/* Why a chain's condition fails. */
enum refusal {
	SUSPEND_REQUESTED,    /* a suspend arrived during the run */
	OTHER_OWNER,          /* the lease is not the writer's */
	TAKEN_OVER            /* the run was ended (its lease ran out) and
	                         another consumer claimed the next attempt */
};

static const char *const refusal_name[] = { "with a suspend requested",
	"under another's lease", "after the run was taken over" };

/* A chain whose condition fails writes nothing: the caller then writes the
 * outcome the ordinary way. */
static void
chain_refused(enum refusal why)
{
	struct tf_task_outcome o = { 0 };
	struct tf_task t, other;
	struct tf_manage_result r;
	struct call c = { 0 };
	enum tf_task_status state;
	int64_t now = tf_now_ms(), next_gen, enqueue_at;
	char *id = NULL, err[256], *before = NULL, *after = NULL;
	cJSON *item;

	CHECK(create_claimed("{\"n\":3}", 3, now, &id, &t));
	if (why == SUSPEND_REQUESTED) {
		CHECK_INT_EQ(tf_manage_change(AWS, table, id, TF_MANAGE_SUSPEND, now,
		    0, &r, err, sizeof(err)), TF_OK);
		CHECK_INT_EQ(r.verdict, TF_MANAGE_REQUEST);
	} else if (why == OTHER_OWNER) {
		tf_free(t.lease_owner);
		t.lease_owner = tf_strdup("c2");
	} else {
		/* The sweeper ends the run whose lease ran out; c2 claims the
		 * retry. */
		o.kind = TF_OUTCOME_RETRY;
		o.retry_at = now;
		o.error = "lease expired";
		o.lease_expired_before = now + 2 * LEASE_MS;
		CHECK_INT_EQ(tf_task_finish(AWS, table, &t, &o, now + LEASE_MS + 1,
		    &state, &next_gen, &enqueue_at, err, sizeof(err)), TF_OK);
		CHECK_INT_EQ(tf_task_claim(AWS, table, id, next_gen, "c2", now, 250,
		    LEASE_MS, &other, err, sizeof(err)), TF_OK);
		tf_task_free(&other);
	}
	item = item_without_id(id);
	before = cJSON_PrintUnformatted(item);
	cJSON_Delete(item);
	chain_outcome(&o, now);
	chain_async(AWS, &t, &o, now, "c1", &c);
	item = item_without_id(id);
	after = cJSON_PrintUnformatted(item);
	cJSON_Delete(item);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc != TF_OK, "a chain %s was written", refusal_name[why]);
	CHECK_MSG(before != NULL && after != NULL && strcmp(before, after) == 0,
	    "the item changed:\n  before: %s\n  after:  %s", before ? before : "-",
	    after ? after : "-");
	CHECK(strstr(after, "\"PROCESSING\"") != NULL);
	cJSON_free(before);
	cJSON_free(after);
	tf_task_free(&c.t);
	tf_task_free(&t);
	tf_free(id);
}

static void
test_chain_refused_when_suspend_requested(void)
{
	chain_refused(SUSPEND_REQUESTED);
}

static void
test_chain_refused_under_another_lease(void)
{
	chain_refused(OTHER_OWNER);
}

static void
test_chain_refused_after_a_takeover(void)
{
	chain_refused(TAKEN_OVER);
}

/* Work that cannot be built fails from the loop, not inside the call. */
static void
test_unbuildable_writes_fail_from_the_loop(void)
{
	struct tf_task_outcome o = { 0 };
	struct tf_task t, item;
	struct call c = { 0 };
	int64_t now = tf_now_ms();
	char *id = NULL;

	CHECK(create_claimed("{\"n\":3}", 3, now, &id, &t));
	o.kind = TF_OUTCOME_DONE;
	o.next_run = now;
	o.new_params = "{\"n\": ";
	finish_async(AWS, &t, &o, now, &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc != TF_OK, "a finish with bad params was written");
	chain_async(AWS, &t, &o, now, "c1", &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc != TF_OK, "a chain with bad params was written");
	CHECK(get(id, &item));
	CHECK_INT_EQ(item.status, TF_TASK_PROCESSING);
	CHECK_INT_EQ(item.gen, 2);
	tf_task_free(&item);
	tf_task_free(&c.t);
	tf_task_free(&t);
	tf_free(id);
}

/* Receives one message from url within the deadline; its body (caller
 * frees with tf_free()) or NULL. *at: when it was received (monotonic). */
static char *
receive_one(const char *url, int64_t deadline, int64_t *at)
{
	struct tf_sqs_receive_opts ro = { 1, 1, 60, NULL };
	struct tf_sqs_message *m = NULL;
	size_t n = 0;
	char *body = NULL;

	while (body == NULL && tf_mono_ms() < deadline) {
		if (tf_sqs_receive_message(AWS, url, &ro, &m, &n) != TF_OK)
			break;
		if (n > 0) {
			body = tf_strdup(m[0].body);
			*at = tf_mono_ms();
		}
		tf_sqs_messages_free(m, n);
		m = NULL;
	}
	return body;
}

static void
test_send_message_body_and_delay(void)
{
	struct call c = { 0 };
	char *name = itest_name("tf-async"), *url = NULL, *body = NULL;
	int64_t now = tf_now_ms(), sent, at = 0;
	cJSON *doc = NULL;

	CHECK(name != NULL);
	CHECK_INT_EQ(tf_sqs_create_queue(AWS, name, NULL, &url), TF_OK);
	tf_free(name);
	/* Due in 2.5 s: DelaySeconds 2 (rounded down). */
	sent = tf_mono_ms();
	send_async(url, "task-a", now + 2500, 7, now, &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc == TF_OK, "send: %s", c.err);
	body = receive_one(url, tf_mono_ms() + 20000, &at);
	CHECK(body != NULL);
	/* Not visible before its delay: it cannot come early, however busy
	 * the machine. */
	CHECK_MSG(at - sent >= 1500, "a message delayed 2 s arrived after %lld ms",
	    (long long)(at - sent));
	doc = cJSON_Parse(body);
	tf_free(body);
	CHECK(doc != NULL);
	CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "taskId")),
	    "task-a");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(doc, "targetTimestamp")));
	CHECK_INT_EQ((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(doc,
	    "targetTimestamp")), now + 2500);
	CHECK_INT_EQ((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(doc,
	    "gen")), 7);
	cJSON_Delete(doc);
	/* Due already: no delay. */
	send_async(url, "task-b", now - 1000, 8, tf_now_ms(), &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK_MSG(c.rc == TF_OK, "send: %s", c.err);
	body = receive_one(url, tf_mono_ms() + 20000, &at);
	CHECK(body != NULL);
	doc = cJSON_Parse(body);
	tf_free(body);
	CHECK(doc != NULL);
	CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "taskId")),
	    "task-b");
	CHECK_INT_EQ((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(doc,
	    "gen")), 8);
	cJSON_Delete(doc);
	/* A queue that does not exist: the error comes back through cb. */
	send_async("http://127.0.0.1:1/000000000000/none", "task-c", now, 9, now,
	    &c);
	CHECK_INT_EQ(c.calls, 1);
	CHECK_INT_EQ(c.inside, 0);
	CHECK(c.rc != TF_OK);
	tf_sqs_delete_queue(AWS, url);
	tf_free(url);
}

/* ---- replies lost on their way back ------------------------------------- */

/* A proxy on 127.0.0.1 in front of the DynamoDB stand-in. It forwards each
 * request and its answer, but drops the answers of the next `drop`
 * UpdateItem requests after they took effect: it closes the client's
 * connection instead of answering, as a connection reset after forwarding
 * does. The client cannot know whether its write was applied. */
struct lossy {
	int fd;                       /* the listening socket */
	int port;
	int upstream_port;            /* the stand-in's, on 127.0.0.1 */
	atomic_int drop;              /* UpdateItem answers still to drop */
	atomic_int dropped;           /* answers dropped so far */
	pthread_t thread;
};

/* Reads one HTTP message with a Content-Length body from fd into buf
 * (size len, NUL-terminated); its length, or -1 at EOF or on error. */
static ssize_t
read_message(int fd, char *buf, size_t len)
{
	size_t have = 0, want = 0;
	ssize_t n;
	char *end, *cl;

	for (;;) {
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end != NULL && want == 0) {
			want = (size_t)(end + 4 - buf);
			for (cl = buf; (cl = strchr(cl, '\n')) != NULL && cl < end; ) {
				cl++;
				if (strncasecmp(cl, "content-length:", 15) == 0)
					want += strtoul(cl + 15, NULL, 10);
			}
		}
		if (want > 0 && have >= want)
			return (ssize_t)have;
		if (have + 1 >= len)
			return -1;
		n = read(fd, buf + have, len - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
}

static bool
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

struct lossy_conn {
	struct lossy *l;              /* borrowed */
	int fd;                       /* owned: the client's connection */
};

/* Serves one client connection over its own upstream connection. */
static void *
lossy_conn_main(void *arg)
{
	struct lossy_conn *c = arg;
	struct sockaddr_in up = { 0 };
	static const size_t size = 1 << 20;
	char *req = tf_malloc(size), *resp = tf_malloc(size);
	ssize_t nreq, nresp;
	int ufd = socket(AF_INET, SOCK_STREAM, 0);
	bool update;

	up.sin_family = AF_INET;
	up.sin_port = htons((uint16_t)c->l->upstream_port);
	up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (req == NULL || resp == NULL || ufd < 0 ||
	    connect(ufd, (struct sockaddr *)&up, sizeof(up)) != 0)
		goto out;
	while ((nreq = read_message(c->fd, req, size)) > 0) {
		update = strstr(req, "DynamoDB_20120810.UpdateItem\r\n") != NULL;
		if (!write_all(ufd, req, (size_t)nreq) ||
		    (nresp = read_message(ufd, resp, size)) < 0)
			break;
		if (update && atomic_load(&c->l->drop) > 0) {
			atomic_fetch_sub(&c->l->drop, 1);
			atomic_fetch_add(&c->l->dropped, 1);
			break;  /* applied, and no answer */
		}
		if (!write_all(c->fd, resp, (size_t)nresp))
			break;
	}
out:
	if (ufd >= 0)
		close(ufd);
	close(c->fd);
	tf_free(req);
	tf_free(resp);
	tf_free(c);
	return NULL;
}

/* Accepts connections until the listening socket is shut down. */
static void *
lossy_main(void *arg)
{
	struct lossy *l = arg;
	struct lossy_conn *c;
	pthread_t t;
	int fd;

	while ((fd = accept(l->fd, NULL, NULL)) >= 0) {
		c = tf_malloc(sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		*c = (struct lossy_conn){ l, fd };
		if (pthread_create(&t, NULL, lossy_conn_main, c) != 0) {
			close(fd);
			tf_free(c);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

/* Starts the proxy in front of the DynamoDB endpoint the tests use; false
 * when it cannot. */
static bool
lossy_start(struct lossy *l)
{
	struct sockaddr_in a = { 0 };
	socklen_t alen = sizeof(a);
	const char *ep = itest_cfg.endpoint[TF_AWS_DYNAMODB], *colon;

	memset(l, 0, sizeof(*l));
	colon = ep != NULL ? strrchr(ep, ':') : NULL;
	l->upstream_port = colon != NULL ? atoi(colon + 1) : 0;
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (l->upstream_port <= 0 || l->fd < 0 ||
	    bind(l->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(l->fd, 16) != 0 ||
	    getsockname(l->fd, (struct sockaddr *)&a, &alen) != 0 ||
	    pthread_create(&l->thread, NULL, lossy_main, l) != 0) {
		if (l->fd >= 0)
			close(l->fd);
		return false;
	}
	l->port = ntohs(a.sin_port);
	return true;
}

static void
lossy_stop(struct lossy *l)
{
	shutdown(l->fd, SHUT_RDWR);
	pthread_join(l->thread, NULL);
	close(l->fd);
}

/* A claim, a chained claim and an outcome write, each of whose first reply
 * is lost after the write took effect: each one's retry fails its condition,
 * the item read afterwards shows the write was its own, and each reports
 * success with what it wrote. */
/* A queue made before priorities has no -high or -low queue: a message of
 * those priorities, alone or in a batch, goes to the normal queue. */
static void
test_send_falls_back_to_the_normal_queue(void)
{
	struct call c = { 0 };
	struct tf_task_send_item m[2] = { { "task-low-1", 0, 1 },
	    { "task-low-2", 0, 1 } };
	char *name = itest_name("tf-async-old"), *url = NULL, *body;
	int64_t now = tf_now_ms(), at;
	int i, got = 0;

	CHECK(name != NULL);
	CHECK_INT_EQ(tf_sqs_create_queue(AWS, name, NULL, &url), TF_OK);
	tf_free(name);
	if (call_begin(&c)) {
		tf_task_send_message_async(AWS, c.loop, url, TF_PRIORITY_HIGH,
		    "task-high", now, 1, now, on_send, &c);
		call_end(&c);
	}
	CHECK_INT_EQ(c.calls, 1);
	CHECK_MSG(c.rc == TF_OK, "send: %s", c.err);
	body = receive_one(url, tf_mono_ms() + 20000, &at);
	CHECK(body != NULL && strstr(body, "\"task-high\"") != NULL);
	tf_free(body);
	if (call_begin(&c)) {
		tf_task_send_messages_async(AWS, c.loop, url, TF_PRIORITY_LOW, m,
		    2, now, on_send_batch, &c);
		call_end(&c);
	}
	CHECK_INT_EQ(c.calls, 1);
	CHECK_MSG(c.rc == TF_OK, "batch: %s", c.err);
	for (i = 0; i < 2; i++) {
		body = receive_one(url, tf_mono_ms() + 20000, &at);
		got += body != NULL && strstr(body, "\"task-low-") != NULL;
		tf_free(body);
	}
	CHECK_INT_EQ(got, 2);
	tf_sqs_delete_queue(AWS, url);
	tf_free(url);
	tf_task_free(&c.t);
}

static void
test_lost_replies_are_recovered(void)
{
	struct tf_aws_config ac = { 0 };
	struct tf_aws *lossy_aws = NULL;
	struct tf_task_outcome o;
	struct tf_task item;
	struct call claim = { 0 }, chain = { 0 }, fin = { 0 };
	struct lossy l;
	int64_t now = tf_now_ms();
	char *id = create("{\"n\":3}", 3, now), url[64];

	CHECK(id != NULL);
	CHECK(lossy_start(&l));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", l.port);
	ac.region = itest_cfg.region;
	ac.endpoint[TF_AWS_SQS] = itest_cfg.endpoint[TF_AWS_SQS];
	ac.endpoint[TF_AWS_DYNAMODB] = url;
	ac.creds = itest_ctx.creds;
	ac.max_attempts = 3;
	if (tf_aws_new(&ac, &lossy_aws) != TF_OK) {
		lossy_stop(&l);
		CHECK_MSG(0, "cannot build the client behind the proxy");
	}
	atomic_store(&l.drop, 1);
	claim_async(lossy_aws, id, 1, "c1", now, &claim);
	atomic_store(&l.drop, 1);
	chain_outcome(&o, now);
	if (claim.rc == TF_OK)
		chain_async(lossy_aws, &claim.t, &o, now, "c1", &chain);
	atomic_store(&l.drop, 1);
	memset(&o, 0, sizeof(o));
	o.kind = TF_OUTCOME_DONE;
	o.next_run = now + 5000;
	o.history_kept = 5;
	if (chain.rc == TF_OK)
		finish_async(lossy_aws, &chain.t, &o, now + 1, &fin);
	tf_aws_free(lossy_aws);
	lossy_stop(&l);
	CHECK_INT_EQ(claim.calls, 1);
	CHECK_INT_EQ(claim.inside, 0);
	CHECK_MSG(claim.rc == TF_OK, "claim: %s", claim.err);
	CHECK_INT_EQ(claim.t.gen, 2);
	CHECK_STR_EQ(claim.t.lease_owner, "c1");
	CHECK_INT_EQ(chain.calls, 1);
	CHECK_INT_EQ(chain.inside, 0);
	CHECK_MSG(chain.rc == TF_OK, "chain: %s", chain.err);
	CHECK_INT_EQ(chain.t.gen, 4);
	CHECK_INT_EQ(chain.t.iteration, 1);
	CHECK_INT_EQ(fin.calls, 1);
	CHECK_INT_EQ(fin.inside, 0);
	CHECK_MSG(fin.rc == TF_OK, "finish: %s", fin.err);
	CHECK_INT_EQ(fin.state, TF_TASK_PENDING);
	CHECK_INT_EQ(fin.next_gen, 5);
	CHECK_INT_EQ(fin.enqueue_at, now + 5000);
	/* The replies really were lost, each after its write took effect. */
	CHECK_INT_EQ(atomic_load(&l.dropped), 3);
	CHECK(get(id, &item));
	CHECK_INT_EQ(item.status, TF_TASK_PENDING);
	CHECK_INT_EQ(item.gen, 5);
	CHECK_INT_EQ(item.iteration, 2);
	CHECK_INT_EQ(item.enqueued_for, now + 5000);
	CHECK_INT_EQ(history_length(&item), 2);
	tf_task_free(&item);
	tf_task_free(&claim.t);
	tf_task_free(&chain.t);
	tf_free(id);
}

/* ---- allocation failures ------------------------------------------------ */

enum op { CLAIM, FINISH, CHAIN, SEND };

/* Longer than any call against the stand-ins takes, retries included. */
#define STALL_MS 10000

static const char *const op_name[] = { "claim", "finish", "chain", "send" };

/* Stops a loop whose callback never came. */
static void
on_too_long(void *ctx, enum tf_err rc)
{
	struct call *c = ctx;

	if (rc == TF_OK && c->calls == 0) {
		c->stalled = true;
		tf_loop_stop(c->loop);
	}
}

/* Runs op once with the allocation after n more failing (a fresh task for
 * each run); *failed says whether an allocation was failed. False when the
 * run could not be set up. */
static bool
op_with_failure(enum op op, const char *url, long n, struct call *c,
    bool *failed)
{
	struct tf_task_outcome o;
	struct tf_task t;
	int64_t now = tf_now_ms();
	long before;
	char *id = NULL;
	bool ready = false;

	memset(&t, 0, sizeof(t));
	*failed = false;
	if (op == CLAIM ? (id = create("{\"n\":3}", 3, now)) == NULL :
	    op != SEND && !create_claimed("{\"n\":3}", 3, now, &id, &t))
		return false;
	if (!call_begin(c) ||
	    tf_loop_after(c->loop, STALL_MS, on_too_long, c, NULL) != TF_OK)
		goto out;
	ready = true;
	chain_outcome(&o, now);
	before = tf_alloc_failures();
	tf_alloc_fail_after(n);
	switch (op) {
	case CLAIM:
		tf_task_claim_async(AWS, c->loop, table, id, 1, "c1", now, 250,
		    LEASE_MS, on_claim, c);
		break;
	case FINISH:
		tf_task_finish_async(AWS, c->loop, table, &t, &o, now, on_finish, c);
		break;
	case CHAIN:
		tf_task_chain_async(AWS, c->loop, table, &t, &o, now, "c1",
		    LEASE_MS, on_claim, c);
		break;
	case SEND:
		tf_task_send_message_async(AWS, c->loop, url, TF_PRIORITY_NORMAL,
		    "task-t", now, 1, now, on_send, c);
		break;
	}
	c->starting = false;
	tf_loop_run(c->loop);
	tf_alloc_fail_after(-1);
	*failed = tf_alloc_failures() != before;
	tf_loop_free(c->loop);
	c->loop = NULL;
out:
	tf_task_free(&t);
	tf_free(id);
	return ready;
}

/* Every allocation of op failed in turn: whichever fails, the callback
 * comes exactly once, by itself (not only when the loop is stopped) and
 * from the loop, and the run with no failure succeeds. One exception is
 * allowed: when the very first allocation (the call's own state) fails,
 * task_async.c calls back at once, inside the starting call (task_async.h
 * promises "later" even then). */
static void
ops_survive_allocation_failures(enum op op)
{
	struct call c = { 0 };
	char *name = itest_name("tf-async-oom"), *url = NULL;
	bool failed = true;
	long n;

	CHECK(name != NULL);
	CHECK_INT_EQ(tf_sqs_create_queue(AWS, name, NULL, &url), TF_OK);
	tf_free(name);
	for (n = 0; failed && n < 5000; n++) {
		CHECK_MSG(op_with_failure(op, url, n, &c, &failed), "setup: cannot "
		    "create or claim a task for the %s", op_name[op]);
		CHECK_MSG(!c.stalled, "%s with allocation %ld failing: no callback "
		    "within %d s (only the loop's stop called back)", op_name[op], n,
		    STALL_MS / 1000);
		CHECK_MSG(c.calls == 1, "%s with allocation %ld failing: %d callbacks",
		    op_name[op], n, c.calls);
		CHECK_MSG(c.inside == 0 || n == 0, "%s with allocation %ld failing "
		    "called back inside the starting call", op_name[op], n);
	}
	CHECK_MSG(!failed, "%s still failing after %ld allocations", op_name[op], n);
	CHECK_MSG(c.rc == TF_OK, "%s with no allocation failing: %s", op_name[op],
	    c.err);
	printf("# %s: %ld allocations failed in turn\n", op_name[op], n - 1);
	tf_task_free(&c.t);
	tf_sqs_delete_queue(AWS, url);
	tf_free(url);
}

int
main(void)
{
	size_t i;
	int rc;

	if (itest_open() != 0 || (table = itest_create_table("tf-async")) == NULL)
		return 1;
	TF_RUN(test_claim_wins_once_per_generation);
	for (i = 0; i < sizeof(finish_cases) / sizeof(finish_cases[0]); i++)
		TF_RUN_NAMED(finish_cases[i].name, finish_like_sync, &finish_cases[i]);
	TF_RUN(test_finish_with_lost_lease_fails);
	TF_RUN(test_finish_after_suspend_request_suspends);
	TF_RUN(test_chain_claims_the_next_iteration);
	TF_RUN(test_chain_refused_when_suspend_requested);
	TF_RUN(test_chain_refused_under_another_lease);
	TF_RUN(test_chain_refused_after_a_takeover);
	TF_RUN(test_unbuildable_writes_fail_from_the_loop);
	TF_RUN(test_send_message_body_and_delay);
	TF_RUN(test_send_falls_back_to_the_normal_queue);
	TF_RUN(test_lost_replies_are_recovered);
	TF_RUN_NAMED("test_claim_survives_allocation_failures",
	    ops_survive_allocation_failures, CLAIM);
	TF_RUN_NAMED("test_finish_survives_allocation_failures",
	    ops_survive_allocation_failures, FINISH);
	TF_RUN_NAMED("test_chain_survives_allocation_failures",
	    ops_survive_allocation_failures, CHAIN);
	TF_RUN_NAMED("test_send_survives_allocation_failures",
	    ops_survive_allocation_failures, SEND);
	rc = tf_test_summary();
	tf_ddb_delete_table(AWS, table);
	tf_free(table);
	itest_close();
	return rc;
}
