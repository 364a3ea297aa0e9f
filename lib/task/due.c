/* due.c - the due index's sort key and partition for each state of a task. */
#include "task/due.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "aws/ddb.h"
#include "task/task.h"

static pthread_mutex_t timing_lock = PTHREAD_MUTEX_INITIALIZER;
static bool shards_known;          /* the table's count is in timing */
static struct tf_due_timing timing = {
	.horizon_ms = 15 * 60 * 1000,
	.grace_ms = 60000,
	.shards = TF_DUE_SHARDS_DEFAULT,
};

void
tf_due_set(const struct tf_due_timing *t)
{
	int shards;

	pthread_mutex_lock(&timing_lock);
	shards = timing.shards;
	timing = *t;
	if (t->shards >= 1 && t->shards <= TF_DUE_SHARDS_MAX)
		shards_known = true;
	else
		timing.shards = shards;
	pthread_mutex_unlock(&timing_lock);
}

void
tf_due_get(struct tf_due_timing *out)
{
	pthread_mutex_lock(&timing_lock);
	*out = timing;
	pthread_mutex_unlock(&timing_lock);
}

/* t, or (t NULL) the process's timing copied into *buf. */
static const struct tf_due_timing *
timing_of(const struct tf_due_timing *t, struct tf_due_timing *buf)
{
	if (t != NULL)
		return t;
	tf_due_get(buf);
	return buf;
}

int64_t
tf_due_at_message(const struct tf_due_timing *t, int64_t enqueued_for)
{
	struct tf_due_timing buf;

	t = timing_of(t, &buf);
	return enqueued_for + t->grace_ms + t->horizon_ms;
}

int64_t
tf_due_at_lease(const struct tf_due_timing *t, int64_t lease_until)
{
	struct tf_due_timing buf;

	return lease_until + timing_of(t, &buf)->horizon_ms;
}

void
tf_due_shard(const char *id, int shards, char out[TF_DUE_SHARD_SIZE])
{
	struct tf_due_timing now;
	uint32_t h = 2166136261u;  /* FNV-1a */

	if (shards < 1 || shards > TF_DUE_SHARDS_MAX) {
		tf_due_get(&now);
		shards = now.shards;
	}
	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	tf_due_shard_name((int)(h % (uint32_t)shards), out);
}

void
tf_due_shard_name(int shard, char out[TF_DUE_SHARD_SIZE])
{
	snprintf(out, TF_DUE_SHARD_SIZE, "%u",
	    (unsigned)shard % TF_DUE_SHARDS_MAX);
}

bool
tf_due_internal_id(const char *id)
{
	return id != NULL && strchr(id, ' ') != NULL;
}

/* The config item's key. Caller frees with cJSON_Delete(); NULL when out of
 * memory. */
static cJSON *
config_key(void)
{
	return tf_task_key(TF_DUE_CONFIG_ID);
}

enum tf_err
tf_due_shards_from_item(const cJSON *item, int *shards)
{
	int64_t n = 0;

	*shards = TF_DUE_SHARDS_DEFAULT;
	/* Without `shards` (an item that `pause --ns` or `limit set` made)
	 * the table has the default. */
	if (item == NULL ||
	    cJSON_GetObjectItemCaseSensitive(item, "shards") == NULL)
		return TF_OK;
	if (!tf_ddb_item_n(item, "shards", &n) || n < 1 ||
	    n > TF_DUE_SHARDS_MAX)
		return TF_ERR_PARSE;
	*shards = (int)n;
	return TF_OK;
}

enum tf_err
tf_due_config_read(struct tf_aws *aws, const char *table, cJSON **item)
{
	cJSON *key = config_key();
	enum tf_err rc = TF_ERR_NOMEM;

	*item = NULL;
	if (key != NULL)
		rc = tf_ddb_get_item(aws, table, key, true, NULL, item);
	cJSON_Delete(key);
	if (rc == TF_ERR_NOT_FOUND) {
		cJSON_Delete(*item);
		*item = NULL;
		rc = TF_OK;
	}
	return rc;
}

enum tf_err
tf_due_read_shards(struct tf_aws *aws, const char *table, int *shards)
{
	cJSON *item;
	enum tf_err rc = tf_due_config_read(aws, table, &item);

	*shards = TF_DUE_SHARDS_DEFAULT;
	if (rc == TF_OK)
		rc = tf_due_shards_from_item(item, shards);
	cJSON_Delete(item);
	return rc;
}

enum tf_err
tf_due_load(struct tf_aws *aws, const char *table)
{
	struct tf_due_timing t = { 0 };
	bool known;
	enum tf_err rc;

	pthread_mutex_lock(&timing_lock);
	known = shards_known;
	pthread_mutex_unlock(&timing_lock);
	if (known)
		return TF_OK;
	rc = tf_due_read_shards(aws, table, &t.shards);
	if (rc != TF_OK)
		return rc;
	pthread_mutex_lock(&timing_lock);
	timing.shards = t.shards;
	shards_known = true;
	pthread_mutex_unlock(&timing_lock);
	return TF_OK;
}

enum tf_err
tf_due_write_shards(struct tf_aws *aws, const char *table, int want,
    int *now)
{
	struct tf_ddb_expr e = { 0 };
	cJSON *key = NULL;
	int have = 0;
	enum tf_err rc;

	*now = 0;
	if (want < 0 || want > TF_DUE_SHARDS_MAX)
		return TF_ERR_INVALID;
	rc = tf_due_read_shards(aws, table, &have);
	if (rc != TF_OK)
		return rc;
	if (want == 0 || want == have) {
		*now = have;
		return TF_OK;
	}
	if (want < have)
		return TF_ERR_INVALID;
	rc = TF_ERR_NOMEM;
	key = config_key();
	if (key == NULL)
		goto out;
	/* Never lowered, even by an init racing this one: the condition keeps
	 * the higher count. */
	e.update = "SET shards = :n";
	e.condition = "attribute_not_exists(shards) OR shards <= :n";
	if (tf_ddb_expr_value_n(&e, ":n", want) != TF_OK)
		goto out;
	rc = tf_ddb_update_item(aws, table, key, &e, NULL, NULL);
	if (rc == TF_ERR_CONDITION)
		rc = tf_due_read_shards(aws, table, &have);
	else if (rc == TF_OK)
		have = want;
	if (rc == TF_OK)
		*now = have;
out:
	cJSON_Delete(key);
	tf_ddb_expr_free(&e);
	return rc;
}
