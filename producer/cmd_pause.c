/*
 * cmd_pause.c - `taskfleet pause --ns NS`, `taskfleet resume --ns NS` and
 * `taskfleet pause` (which namespaces are paused): a whole namespace at once
 * (lib/task/ns_pause.h, docs/design.md section 13).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "cli.h"
#include "task/ns_pause.h"
#include "task/task.h"

static const char pause_usage[] =
    "usage: taskfleet pause [--ns NS] [--json]\n";
static const char resume_ns_usage[] =
    "usage: taskfleet resume --ns NS [--json]\n";

/* `taskfleet pause` without --ns: the paused namespaces. */
static int
list_paused(struct cli *c, const char *cmd)
{
	struct tf_ns_paused p;
	cJSON *o, *a;
	size_t i;
	int code;
	enum tf_err rc;

	if ((code = cli_open(c)) != 0)
		return code;
	rc = tf_ns_paused_read(c->ctx.aws, c->cfg.table, &p);
	if (rc != TF_OK)
		return cli_aws_error(cmd, "reading the paused namespaces", rc);
	if (!c->json) {
		if (p.n == 0)
			printf("no namespace is paused\n");
		for (i = 0; i < p.n; i++)
			printf("%s\n", p.names[i]);
		tf_ns_paused_free(&p);
		return 0;
	}
	code = EXIT_FAILED;
	o = cJSON_CreateObject();
	a = o != NULL ? cJSON_AddArrayToObject(o, "paused") : NULL;
	for (i = 0; a != NULL && i < p.n; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(p.names[i])))
			a = NULL;
	if (a != NULL)
		code = cli_print_json(o);
	cJSON_Delete(o);
	tf_ns_paused_free(&p);
	return code;
}

/* Parses --ns and --json (and --help, printing help). Returns -1 to go on,
 * else the exit code. */
static int
parse_ns(struct cli *c, int argc, char **argv, const char *usage,
    const char *help, const char **ns)
{
	static const struct option longopts[] = {
		{ "ns", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0];
	int ch;

	*ns = NULL;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			*ns = optarg;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			printf("%s\n%s", usage, help);
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (*ns != NULL && !tf_task_ns_valid(*ns))
		return cli_usage_error(cmd, "--ns: must be 1 to %d of A-Z a-z 0-9 _ . -",
		    TF_TASK_NS_MAX);
	return -1;
}

int
cmd_pause(struct cli *c, int argc, char **argv)
{
	const char *cmd = argv[0], *ns;
	cJSON *o;
	int code;
	enum tf_err rc;

	code = parse_ns(c, argc, argv, pause_usage,
	    "Pauses a whole namespace: no run of its tasks starts until it is\n"
	    "resumed (taskfleet resume --ns NS). Runs under way finish. A task whose\n"
	    "time comes while paused is suspended, with no attempt charged, and\n"
	    "resumed with the namespace (a recurring task runs its missed\n"
	    "occurrence once). Every consumer sees the pause within 2 s: the\n"
	    "command returns after that. Without --ns: the paused namespaces.\n"
	    "With --json: {\"ns\", \"paused\": true} ({\"paused\": [NS...]}).\n"
	    "Exit: 0 paused, 1 failed, 2 bad input.\n", &ns);
	if (code >= 0)
		return code;
	if (ns == NULL)
		return list_paused(c, cmd);
	if ((code = cli_open(c)) != 0)
		return code;
	rc = tf_ns_pause(c->ctx.aws, c->cfg.table, ns);
	if (rc != TF_OK)
		return cli_aws_error(cmd, "pausing the namespace", rc);
	if (!c->json) {
		printf("paused namespace %s: no run of it starts until `taskfleet "
		    "resume --ns %s`\n", ns, ns);
		return 0;
	}
	o = cli_ns_pause_json(ns, true, 0, 0);
	code = o != NULL ? cli_print_json(o) : EXIT_FAILED;
	cJSON_Delete(o);
	return code;
}

/* {"ns", "paused"} and, after a resume, {"resumed", "failed"}: the CLI's
 * and the API's answer. */
cJSON *
cli_ns_pause_json(const char *ns, bool paused, int64_t resumed,
    int64_t failed)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "ns", ns) == NULL ||
	    cJSON_AddBoolToObject(o, "paused", paused) == NULL ||
	    (!paused && (cJSON_AddNumberToObject(o, "resumed",
	    (double)resumed) == NULL ||
	    cJSON_AddNumberToObject(o, "failed", (double)failed) == NULL))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int
cmd_resume_ns(struct cli *c, int argc, char **argv)
{
	const char *cmd = argv[0], *ns;
	char errbuf[512];
	int64_t resumed = 0, failed = 0;
	bool unpaused;
	cJSON *o;
	int code;
	enum tf_err rc;

	code = parse_ns(c, argc, argv, resume_ns_usage,
	    "Resumes a paused namespace: its runs start again, and every task the\n"
	    "pause suspended is resumed (due now if its time passed: a recurring\n"
	    "task runs its missed occurrence once). Tasks suspended one by one\n"
	    "(taskfleet suspend) stay suspended.\n"
	    "With --json: {\"ns\", \"paused\": false, \"resumed\", \"failed\"}.\n"
	    "Exit: 0 resumed, 1 failed (or some tasks could not be resumed),\n"
	    "2 bad input.\n", &ns);
	if (code >= 0)
		return code;
	if (ns == NULL)
		return cli_usage_error(cmd, "--ns is required (see %s --help)", cmd);
	if ((code = cli_open(c)) != 0)
		return code;
	if ((rc = tf_context_resolve_queue(&c->ctx, &c->cfg)) != TF_OK)
		return cli_aws_error(cmd, "finding the queue (nothing was changed)", rc);
	rc = tf_ns_resume(c->ctx.aws, c->cfg.table, c->ctx.queue_url, ns,
	    c->cfg.horizon_ms, &unpaused, &resumed, &failed, errbuf,
	    sizeof(errbuf));
	if (rc != TF_OK && !unpaused)
		return cli_aws_error(cmd, "resuming the namespace", rc);
	if (rc != TF_OK) {
		fprintf(stderr, "%s: namespace %s is no longer paused; resuming its "
		    "suspended tasks failed after %" PRId64 ": %s (run it again)\n",
		    cmd, ns, resumed, tf_strerror(rc));
		return EXIT_FAILED;
	}
	if (failed > 0)
		fprintf(stderr, "%s: %" PRId64 " task%s could not be resumed, e.g. "
		    "%s\n", cmd, failed, failed == 1 ? "" : "s", errbuf);
	code = failed > 0 ? EXIT_FAILED : 0;
	if (!c->json) {
		printf("resumed namespace %s: %" PRId64 " suspended task%s resumed\n",
		    ns, resumed, resumed == 1 ? "" : "s");
		return code;
	}
	o = cli_ns_pause_json(ns, false, resumed, failed);
	if (o == NULL || cli_print_json(o) != 0)
		code = EXIT_FAILED;
	cJSON_Delete(o);
	return code;
}
