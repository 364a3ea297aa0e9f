/* api_keyring.c - the API keys' source and their reloads (api_keyring.h). */
#include "api_keyring.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_metrics.h"
#include "aws/secrets.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/ticker.h"
#include "time/timefmt.h"

/* The shortest TASKFLEET_API_KEYS_REFRESH: AWS is not asked more often. */
#define REFRESH_MIN_MS 1000

/* One parsed text of the keys and the requests holding it. */
struct api_keyset {
	struct api_keys *keys;   /* owned */
	long refs;               /* holders, the ring's "current" included */
};

struct api_keyring {
	enum api_keys_source source;
	char *name;                   /* owned: the secret or parameter */
	struct tf_aws *aws;           /* borrowed */
	struct api_metrics *m;        /* borrowed; may be NULL */
	int64_t refresh_ms;
	pthread_mutex_t lock;         /* guards cur, every refs */
	struct api_keyset *cur;       /* the keys new requests get */
	struct tf_ticker ticker;      /* the reload thread, when started */
};

/* The variable that names the source. */
static const char *const source_var[] = {
	[API_KEYS_ENV] = "TASKFLEET_API_KEYS",
	[API_KEYS_SECRET] = "TASKFLEET_API_KEYS_SECRET",
	[API_KEYS_PARAMETER] = "TASKFLEET_API_KEYS_PARAMETER",
};

/* Drops one reference to s (under r->lock), freeing it with the last. */
static void
set_unref(struct api_keyset *s)
{
	if (s != NULL && --s->refs == 0) {
		api_keys_free(s->keys);
		tf_free(s);
	}
}

/* text with newlines read as commas and empty entries dropped, so a secret
 * may hold one key a line. Caller frees with tf_free(); NULL: no memory. */
static char *
normalise(const char *text)
{
	char *out = tf_malloc(strlen(text) + 1), *o = out;
	const char *p;
	bool entry = false;

	if (out == NULL)
		return NULL;
	for (p = text; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r' || *p == ',') {
			if (entry)
				*o++ = ',';
			entry = false;
		} else if (entry || (*p != ' ' && *p != '\t')) {
			*o++ = *p;
			entry = true;
		}
	}
	if (o > out && o[-1] == ',')
		o--;
	*o = '\0';
	return out;
}

/* Reads the source and parses it into *out. The reason in err. */
static enum tf_err
load(struct api_keyring *r, struct api_keys **out, char *err, size_t errlen)
{
	char *text = NULL, *norm = NULL, why[400];
	enum tf_err rc;

	*out = NULL;
	if (r->source == API_KEYS_SECRET)
		rc = tf_secrets_get_string(r->aws, r->name, &text);
	else
		rc = tf_ssm_get_parameter(r->aws, r->name, &text);
	if (rc != TF_OK) {
		tf_errf(err, errlen, "%s %s: %s (%s)", source_var[r->source],
		    r->name, tf_strerror(rc), rc == TF_ERR_PARSE ?
		    "the answer holds no string" : tf_aws_last_error()->message);
		return rc;
	}
	norm = normalise(text);
	explicit_bzero(text, strlen(text));
	tf_free(text);
	if (norm == NULL) {
		tf_errf(err, errlen, "out of memory");
		return TF_ERR_NOMEM;
	}
	rc = api_keys_parse(norm, out, why, sizeof(why));
	if (rc != TF_OK)
		tf_errf(err, errlen, "%s %s: %s", source_var[r->source], r->name,
		    why);
	explicit_bzero(norm, strlen(norm));
	tf_free(norm);
	return rc;
}

/* Makes keys (owned) the current set. */
static enum tf_err
install(struct api_keyring *r, struct api_keys *keys)
{
	struct api_keyset *s = tf_calloc(1, sizeof(*s));

	if (s == NULL) {
		api_keys_free(keys);
		return TF_ERR_NOMEM;
	}
	s->keys = keys;
	s->refs = 1;
	pthread_mutex_lock(&r->lock);
	set_unref(r->cur);
	r->cur = s;
	pthread_mutex_unlock(&r->lock);
	api_metrics_keys(r->m, API_KEYS_LOADED, keys->n);
	return TF_OK;
}

enum tf_err
api_keyring_open(struct tf_aws *aws, struct api_metrics *m,
    struct api_keyring **out, char *err, size_t errlen)
{
	struct api_keyring *r = NULL;
	struct api_keys *keys = NULL;
	const char *v, *refresh;
	char why[160];
	int i, found = -1;
	enum tf_err rc = TF_ERR_INVALID;

	*out = NULL;
	for (i = API_KEYS_ENV; i <= API_KEYS_PARAMETER; i++) {
		v = getenv(source_var[i]);
		if (v == NULL || (i != API_KEYS_ENV && v[0] == '\0'))
			continue;
		if (found >= 0) {
			tf_errf(err, errlen, "%s and %s: give one source of API keys",
			    source_var[found], source_var[i]);
			return TF_ERR_INVALID;
		}
		found = i;
	}
	if (found < 0)
		return TF_OK;
	r = tf_calloc(1, sizeof(*r));
	if (r == NULL)
		goto nomem;
	pthread_mutex_init(&r->lock, NULL);
	r->source = (enum api_keys_source)found;
	r->aws = aws;
	r->m = m;
	refresh = getenv("TASKFLEET_API_KEYS_REFRESH");
	if (refresh == NULL || refresh[0] == '\0')
		refresh = API_KEYS_REFRESH_DEFAULT;
	if (tf_timefmt_parse_duration(refresh, &r->refresh_ms, why,
	    sizeof(why)) != TF_OK || r->refresh_ms < REFRESH_MIN_MS) {
		tf_errf(err, errlen, "TASKFLEET_API_KEYS_REFRESH: expected a "
		    "duration of 1s or more, got \"%.32s\"", refresh);
		goto fail;
	}
	if (r->source == API_KEYS_ENV) {
		rc = api_keys_parse(getenv(source_var[found]), &keys, err, errlen);
	} else {
		r->name = tf_strdup(getenv(source_var[found]));
		if (r->name == NULL)
			goto nomem;
		rc = load(r, &keys, err, errlen);
	}
	if (rc != TF_OK)
		goto fail;
	rc = install(r, keys);
	if (rc != TF_OK)
		goto nomem;
	*out = r;
	return TF_OK;
nomem:
	tf_errf(err, errlen, "out of memory");
	rc = TF_ERR_NOMEM;
fail:
	api_keyring_free(r);
	return rc;
}

enum tf_err
api_keyring_reload(struct api_keyring *r, char *err, size_t errlen)
{
	struct api_keys *keys = NULL;
	enum tf_err rc;

	if (r->source == API_KEYS_ENV) {
		tf_errf(err, errlen, "TASKFLEET_API_KEYS is read once");
		return TF_ERR_INVALID;
	}
	rc = load(r, &keys, err, errlen);
	if (rc == TF_OK)
		rc = install(r, keys);
	if (rc != TF_OK)
		api_metrics_keys(r->m, API_KEYS_FAILED, 0);
	return rc;
}

/* The reload: every refresh_ms (tf_ticker). */
static void
reload_tick(void *arg)
{
	struct api_keyring *r = arg;
	char err[600];

	if (api_keyring_reload(r, err, sizeof(err)) != TF_OK)
		tf_log(TF_LOG_WARN, "api: reloading the API keys: %s; the keys "
		    "before stay", err);
}

enum tf_err
api_keyring_start(struct api_keyring *r)
{
	if (r == NULL || r->source == API_KEYS_ENV)
		return TF_OK;
	return tf_ticker_start(&r->ticker, r->refresh_ms, false, reload_tick, r);
}

void
api_keyring_free(struct api_keyring *r)
{
	if (r == NULL)
		return;
	tf_ticker_stop(&r->ticker);
	pthread_mutex_lock(&r->lock);
	set_unref(r->cur);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_destroy(&r->lock);
	tf_free(r->name);
	tf_free(r);
}

const struct api_keys *
api_keyring_hold(struct api_keyring *r, struct api_keyset **held)
{
	struct api_keyset *s;

	pthread_mutex_lock(&r->lock);
	s = r->cur;
	s->refs++;
	pthread_mutex_unlock(&r->lock);
	*held = s;
	return s->keys;
}

void
api_keyring_release(struct api_keyring *r, struct api_keyset *held)
{
	if (held == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	set_unref(held);
	pthread_mutex_unlock(&r->lock);
}
