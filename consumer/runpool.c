/* runpool.c - the threads that call blocking runners (see runpool.h). */
#include "runpool.h"

#include <pthread.h>
#include <stdbool.h>

#include "base/alloc.h"

struct job {
	tf_runpool_fn *fn;
	void *ctx;
	struct job *next;
};

struct tf_runpool {
	pthread_mutex_t lock;          /* guards the fields below */
	pthread_cond_t work;           /* a job was queued, or stopping */
	struct job *head, *tail;       /* owned: the queue, oldest first */
	bool stopping;
	pthread_t *threads;            /* owned: max_threads slots */
	int n_threads;                 /* started so far */
	int max_threads;
	int idle;                      /* threads waiting for a job */
};

static void *
pool_main(void *arg)
{
	struct tf_runpool *p = arg;
	struct job *j;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->head == NULL && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->work, &p->lock);
			p->idle--;
		}
		j = p->head;
		if (j == NULL)
			break;  /* stopping, and nothing is left */
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);
		j->fn(j->ctx);
		tf_free(j);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

enum tf_err
tf_runpool_start(int threads, struct tf_runpool **out)
{
	struct tf_runpool *p = tf_calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return TF_ERR_NOMEM;
	if (threads < 1)
		threads = 1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	p->max_threads = threads;
	p->threads = tf_calloc((size_t)threads, sizeof(*p->threads));
	if (p->threads == NULL) {
		tf_runpool_stop(p);
		return TF_ERR_NOMEM;
	}
	*out = p;
	return TF_OK;
}

enum tf_err
tf_runpool_submit(struct tf_runpool *p, tf_runpool_fn *fn, void *ctx)
{
	struct job *j = tf_malloc(sizeof(*j));

	if (j == NULL)
		return TF_ERR_NOMEM;
	*j = (struct job){ fn, ctx, NULL };
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		tf_free(j);
		return TF_ERR_CANCELLED;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	/* Threads start when work needs them: a consumer whose runners all
	 * return at once never starts one. */
	if (p->idle == 0 && p->n_threads < p->max_threads &&
	    pthread_create(&p->threads[p->n_threads], NULL, pool_main, p) == 0)
		p->n_threads++;
	if (p->n_threads == 0) {
		/* No thread could start: nothing would ever run j (the only job
		 * queued, as every earlier one was refused the same way). */
		p->head = p->tail = NULL;
		pthread_mutex_unlock(&p->lock);
		tf_free(j);
		return TF_ERR_NOMEM;
	}
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return TF_OK;
}

void
tf_runpool_stop(struct tf_runpool *p)
{
	int i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	tf_free(p->threads);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	tf_free(p);
}
