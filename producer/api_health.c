/* api_health.c - /healthz and /readyz of `taskfleet serve` (api_health.h). */
#include "api_health.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "aws/ready.h"
#include "base/alloc.h"
#include "base/clock.h"

struct api_health {
	struct cli *c;                 /* borrowed */
	atomic_bool stopping;
	pthread_mutex_t lock;          /* one AWS check at a time; guards the
	                                  fields below */
	int64_t at_ms;                 /* monotonic; 0: never checked */
	bool ok;
	char why[600];
};

struct api_health *
api_health_new(struct cli *c)
{
	struct api_health *h = tf_calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->c = c;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

void
api_health_free(struct api_health *h)
{
	if (h == NULL)
		return;
	pthread_mutex_destroy(&h->lock);
	tf_free(h);
}

void
api_health_stopping(struct api_health *h)
{
	atomic_store(&h->stopping, true);
}

bool
api_health_live(struct api_health *h, char *why, size_t n)
{
	if (atomic_load(&h->stopping)) {
		snprintf(why, n, "stopping\n");
		return false;
	}
	snprintf(why, n, "ok\n");
	return true;
}

bool
api_health_ready(struct api_health *h, char *why, size_t n)
{
	bool ok;

	if (!api_health_live(h, why, n))
		return false;
	pthread_mutex_lock(&h->lock);
	if (h->at_ms == 0 || tf_mono_ms() - h->at_ms >= API_READY_TTL_MS) {
		h->ok = tf_aws_table_queue_ready(h->c->ctx.aws, h->c->cfg.table,
		    h->c->ctx.queue_url, h->why, sizeof(h->why));
		h->at_ms = tf_mono_ms();
	}
	ok = h->ok;
	snprintf(why, n, "%s", h->why);
	pthread_mutex_unlock(&h->lock);
	return ok;
}
