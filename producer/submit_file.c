/*
 * submit_file.c - `taskfleet submit --file FILE` (submit_file.h): one task
 * a line, streamed through task_bulk.h as fast as the writes go; the file
 * is never held in memory whole.
 */
#include "submit_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/marshal.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "submit_spec.h"
#include "task/runners.h"
#include "task/task_bulk.h"

/* The line errors kept for the report; more are only counted. */
#define ERRORS_KEPT 1000
/* How often the progress line is redrawn (ms). */
#define PROGRESS_MS 200

/* One line on its way through tf_bulk_create(); owns what its spec
 * borrows. */
struct line_task {
	struct tf_bulk_task bt;
	long lineno;
	cJSON *doc, *av;
	struct submit_json_task j;
	struct submit_spec ss;
};

/* A failed line, for the report. */
struct line_error {
	long lineno;
	char *text;                 /* owned */
};

struct loader {
	struct cli *c;
	const char *cmd;
	FILE *in;
	struct tf_runner_set *runners;  /* owned */
	int64_t horizon_ms;
	char *line;                 /* getline()'s buffer */
	size_t cap;
	long lineno;
	int read_errno;             /* reading stopped on an error */
	/* Counts. */
	size_t created, existing, failed, not_enqueued;
	struct line_error *errors;  /* owned: the first ERRORS_KEPT */
	size_t n_errors;
	bool oom;
	/* Progress, when standard error is a terminal. */
	bool progress;
	int64_t started_ms, shown_ms;
};

static void
line_task_free(struct line_task *lt)
{
	if (lt == NULL)
		return;
	submit_spec_free(&lt->ss);
	submit_json_task_free(&lt->j);
	cJSON_Delete(lt->doc);
	cJSON_Delete(lt->av);
	tf_free(lt);
}

/* Keeps "why" for line lineno's report. */
static void
line_failed(struct loader *l, long lineno, const char *why)
{
	struct line_error *e;

	l->failed++;
	if (l->n_errors >= ERRORS_KEPT)
		return;
	if (l->errors == NULL) {
		l->errors = tf_calloc(ERRORS_KEPT, sizeof(*l->errors));
		if (l->errors == NULL) {
			l->oom = true;
			return;
		}
	}
	e = &l->errors[l->n_errors];
	e->lineno = lineno;
	e->text = tf_strdup(why);
	if (e->text == NULL)
		l->oom = true;
	else
		l->n_errors++;
}

/* Redraws the progress line (when due, or always when final). */
static void
show_progress(struct loader *l, bool final)
{
	int64_t now = tf_now_ms(), el;
	size_t done = l->created + l->existing + l->failed;

	if (!l->progress || (!final && now - l->shown_ms < PROGRESS_MS))
		return;
	l->shown_ms = now;
	el = now - l->started_ms;
	fprintf(stderr, "\r%s: line %ld, %zu done: %zu created, %zu already "
	    "there, %zu failed (%.0f tasks/s)\033[K%s", l->cmd, l->lineno, done,
	    l->created, l->existing, l->failed,
	    el > 0 ? (double)done * 1000.0 / (double)el : 0.0, final ? "\n" : "");
}

/* True when line holds nothing but white space. */
static bool
blank(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' &&
		    line[i] != '\n')
			return false;
	return true;
}

/* Checks the line just read (len bytes) into a new *out. 0, or the exit
 * code of the check with the message in err. */
static int
parse_line(struct loader *l, size_t len, struct line_task **out, char *err,
    size_t errlen)
{
	struct cli *c = l->c;
	struct line_task *lt;
	int code;

	*out = NULL;
	lt = tf_calloc(1, sizeof(*lt));
	if (lt == NULL) {
		snprintf(err, errlen, "out of memory");
		return EXIT_FAILED;
	}
	lt->lineno = l->lineno;
	if (tf_marshal_value_json_text(l->line, len, &lt->av, err,
	    errlen) != TF_OK) {
		code = EXIT_USAGE;
		goto out;
	}
	lt->doc = cJSON_ParseWithLength(l->line, len);
	if (lt->doc == NULL) {
		snprintf(err, errlen, "not JSON");
		code = EXIT_USAGE;
		goto out;
	}
	code = submit_parse_task(lt->doc, lt->av, &lt->j, err, errlen);
	if (code == 0)
		code = submit_spec_build(&lt->j.o, lt->j.type, lt->j.params,
		    SUBMIT_FIELDS, l->runners, NULL, tf_now_ms(), l->horizon_ms,
		    &lt->ss, err, errlen);
	if (code != 0)
		goto out;
	lt->bt.spec = lt->ss.spec;
	/* No max_attempts: the fleet's default, as `submit` has it. */
	if (lt->bt.spec.max_attempts == 0)
		lt->bt.spec.max_attempts = c->cfg.default_max_attempts;
	lt->bt.user = lt;
	*out = lt;
	lt = NULL;
out:
	line_task_free(lt);
	return code;
}

/* tf_bulk_next_fn: the next good line; bad ones are reported and skipped. */
static struct tf_bulk_task *
next_line(void *ctx)
{
	struct loader *l = ctx;
	struct line_task *lt;
	char err[800], why[840];
	ssize_t n;

	for (;;) {
		errno = 0;
		n = getline(&l->line, &l->cap, l->in);
		if (n < 0) {
			l->read_errno = errno;
			return NULL;
		}
		l->lineno++;
		if (blank(l->line, (size_t)n))
			continue;
		if ((size_t)n > CLI_FILE_MAX) {
			snprintf(why, sizeof(why), "longer than %d bytes", CLI_FILE_MAX);
			line_failed(l, l->lineno, why);
			continue;
		}
		if (parse_line(l, (size_t)n, &lt, err, sizeof(err)) == 0)
			return &lt->bt;
		line_failed(l, l->lineno, err);
		show_progress(l, false);
	}
}

/* tf_bulk_done_fn: counts a line's outcome. */
static void
line_done(void *ctx, struct tf_bulk_task *t)
{
	struct loader *l = ctx;
	struct line_task *lt = t->user;
	char why[800];

	switch (t->outcome) {
	case TF_BULK_CREATED:
		l->created++;
		if (t->send_failed) {
			l->not_enqueued++;
			snprintf(why, sizeof(why), "task %s was created, but %.600s; the "
			    "sweeper will enqueue it", t->id, t->error);
			line_failed(l, lt->lineno, why);
			l->failed--;    /* created all the same */
		}
		break;
	case TF_BULK_EXISTS:
		l->existing++;
		break;
	case TF_BULK_FAILED:
		line_failed(l, lt->lineno, t->error);
		break;
	}
	line_task_free(lt);
	show_progress(l, false);
}

static int
cmp_errors(const void *a, const void *b)
{
	const struct line_error *x = a, *y = b;

	return x->lineno < y->lineno ? -1 : x->lineno > y->lineno;
}

/* Prints the failed lines in order, the summary, and the JSON summary. */
static int
report(struct loader *l)
{
	size_t i;
	cJSON *o;
	int code = 0;

	show_progress(l, true);
	if (l->n_errors > 0)
		qsort(l->errors, l->n_errors, sizeof(*l->errors), cmp_errors);
	for (i = 0; i < l->n_errors; i++)
		fprintf(stderr, "%s: line %ld: %s\n", l->cmd, l->errors[i].lineno,
		    l->errors[i].text);
	if (l->failed + l->not_enqueued > l->n_errors)
		fprintf(stderr, "%s: ... and %zu more lines failed\n", l->cmd,
		    l->failed + l->not_enqueued - l->n_errors);
	fprintf(stderr, "%s: %zu created, %zu already there, %zu failed "
	    "(%ld lines)\n", l->cmd, l->created, l->existing, l->failed,
	    l->lineno);
	if (l->c->json) {
		o = cJSON_CreateObject();
		if (o == NULL ||
		    cJSON_AddNumberToObject(o, "lines", (double)l->lineno) == NULL ||
		    cJSON_AddNumberToObject(o, "created", (double)l->created) == NULL ||
		    cJSON_AddNumberToObject(o, "existing",
		    (double)l->existing) == NULL ||
		    cJSON_AddNumberToObject(o, "failed", (double)l->failed) == NULL ||
		    cJSON_AddNumberToObject(o, "not_enqueued",
		    (double)l->not_enqueued) == NULL)
			l->oom = true;
		else
			code = cli_print_json(o);
		cJSON_Delete(o);
	}
	if (l->oom) {
		fprintf(stderr, "%s: out of memory\n", l->cmd);
		return EXIT_FAILED;
	}
	if (code != 0 || l->failed > 0 || l->not_enqueued > 0)
		return EXIT_FAILED;
	return 0;
}

int
submit_file(struct cli *c, const char *cmd, const char *path, int in_flight)
{
	struct loader l;
	struct tf_bulk_opts o = { 0 };
	char err[512];
	size_t i;
	int code;
	enum tf_err rc;

	memset(&l, 0, sizeof(l));
	l.c = c;
	l.cmd = cmd;
	l.horizon_ms = c->cfg.horizon_ms > 0 ? c->cfg.horizon_ms :
	    TF_ENQUEUE_HORIZON_MS;
	l.in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (l.in == NULL) {
		code = errno;
		return cli_usage_error(cmd, "--file: %s: %s", path, strerror(code));
	}
	/* The runners are loaded once, to check every line's type. */
	if (tf_runner_set_load(c->cfg.runners, &l.runners, err,
	    sizeof(err)) != TF_OK) {
		fprintf(stderr, "%s: cannot load the runners that task types are "
		    "checked against: %s (TASKFLEET_RUNNERS says where they are)\n",
		    cmd, err);
		code = EXIT_FAILED;
		goto out;
	}
	if ((code = cli_open(c)) != 0)
		goto out;
	rc = tf_context_resolve_queue(&c->ctx, &c->cfg);
	if (rc != TF_OK) {
		code = cli_aws_error(cmd, "finding the queue (nothing was written)",
		    rc);
		goto out;
	}
	l.progress = isatty(STDERR_FILENO) == 1;
	l.started_ms = tf_now_ms();
	o.in_flight = in_flight;
	o.queue_url = c->ctx.queue_url;
	o.next = next_line;
	o.done = line_done;
	o.ctx = &l;
	rc = tf_bulk_create(c->ctx.aws, c->cfg.table, &o);
	if (rc != TF_OK) {
		code = cli_aws_error(cmd, "loading the tasks", rc);
		goto out;
	}
	code = report(&l);
	if (l.read_errno != 0) {
		fprintf(stderr, "%s: --file: %s: reading stopped after line %ld: %s\n",
		    cmd, path, l.lineno, strerror(l.read_errno));
		code = EXIT_FAILED;
	}
out:
	for (i = 0; i < l.n_errors; i++)
		tf_free(l.errors[i].text);
	tf_free(l.errors);
	free(l.line);
	tf_runner_set_free(l.runners);
	if (l.in != NULL && l.in != stdin)
		fclose(l.in);
	return code;
}
