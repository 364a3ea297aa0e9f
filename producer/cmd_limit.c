/*
 * cmd_limit.c - `taskfleet limit`: limits per key, enforced across the
 * fleet (lib/task/limits.h, docs/design.md section 14): list, set, rm.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "task/limits.h"
#include "time/timefmt.h"

static const char limit_usage[] =
    "usage: taskfleet limit [list] [--json]\n"
    "       taskfleet limit set KEY [--rate R] [--burst B] [--in-flight N] "
    "[--ordered] [--json]\n"
    "       taskfleet limit rm KEY [--json]\n";

static const char limit_help[] =
    "Limits per key, enforced by every consumer of the table. KEY is\n"
    "ns:NAME (a namespace), type:NAME (a runner type), host:NAME (the host of\n"
    "an http task's url, lower case) or flow:NAME (the flow key a task\n"
    "carries; flow:* limits each flow key on its own).\n"
    "  --rate R        runs started per second, fleet-wide (R > 0; may be a\n"
    "                  fraction: 0.5 is one run every 2 s)\n"
    "  --burst B       runs that may start at once under the rate (default 1)\n"
    "  --in-flight N   runs of the key at once, fleet-wide\n"
    "  --ordered       a flow key with --in-flight 1: its runs start one at a\n"
    "                  time in due order (within the task's namespace)\n"
    "A run over its limit waits (no attempt charged). Consumers see a change\n"
    "within 2 s. `limit` alone lists the table's limits, and the hosts held\n"
    "for the fleet after a 429 or 503 with Retry-After (until when).\n"
    "Exit: 0 done, 1 failed, 2 bad input, 3 no such limit (rm).\n";

/* `taskfleet limit [list]`: the limits, then the holds in force (a host's
 * Retry-After, held for the fleet). */
static int
list_limits(struct cli *c, const char *cmd)
{
	struct tf_limits ls;
	cJSON *o;
	char iso[40];
	size_t i;
	int code;
	enum tf_err rc;

	if ((code = cli_open(c)) != 0)
		return code;
	rc = tf_limits_read(c->ctx.aws, c->cfg.table, &ls);
	if (rc != TF_OK)
		return cli_aws_error(cmd, "reading the limits", rc);
	if (!c->json) {
		if (ls.n == 0)
			printf("no limit is set\n");
		for (i = 0; i < ls.n; i++) {
			printf("%s", ls.v[i].key);
			if (ls.v[i].rate > 0)
				printf(" rate=%g burst=%lld", ls.v[i].rate,
				    (long long)ls.v[i].burst);
			if (ls.v[i].in_flight > 0)
				printf(" in_flight=%lld", (long long)ls.v[i].in_flight);
			if (ls.v[i].ordered)
				printf(" ordered");
			printf("\n");
		}
		for (i = 0; i < ls.n_holds; i++)
			printf("%s held until %s\n", ls.holds[i].key,
			    tf_timefmt_format(ls.holds[i].until, iso, sizeof(iso)));
		tf_limits_free(&ls);
		return 0;
	}
	o = tf_limits_json(&ls);
	code = o != NULL ? cli_print_json(o) : EXIT_FAILED;
	cJSON_Delete(o);
	tf_limits_free(&ls);
	return code;
}

/* Parses a rate: a number above 0. */
static bool
parse_rate(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && end != s && *end == '\0' && isfinite(*out) &&
	    *out > 0;
}

int
cmd_limit(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rate", required_argument, NULL, 'r' },
		{ "burst", required_argument, NULL, 'b' },
		{ "in-flight", required_argument, NULL, 'f' },
		{ "ordered", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *verb, *key;
	struct tf_limit l;
	long long n;
	char err[512];
	cJSON *o;
	int ch, code;
	enum tf_err rc;

	memset(&l, 0, sizeof(l));
	l.burst = 1;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			if (!parse_rate(optarg, &l.rate) || l.rate > TF_LIMIT_RATE_MAX)
				return cli_usage_error(cmd, "--rate: must be a number "
				    "of runs a second above 0, at most %g, got \"%s\"",
				    TF_LIMIT_RATE_MAX, optarg);
			break;
		case 'b':
		case 'f':
			if (!cli_parse_int(optarg, 1, TF_LIMIT_COUNT_MAX, &n))
				return cli_usage_error(cmd, "--%s: must be a whole "
				    "number from 1 to %d, got \"%s\"", ch == 'b' ?
				    "burst" : "in-flight", TF_LIMIT_COUNT_MAX, optarg);
			if (ch == 'b')
				l.burst = n;
			else
				l.in_flight = n;
			break;
		case 'o':
			l.ordered = true;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			printf("%s\n%s", limit_usage, limit_help);
			return 0;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	verb = optind < argc ? argv[optind++] : "list";
	if (strcmp(verb, "list") == 0) {
		if (optind != argc)
			return cli_usage_error(cmd, "unexpected argument \"%s\"",
			    argv[optind]);
		return list_limits(c, cmd);
	}
	if (strcmp(verb, "set") != 0 && strcmp(verb, "rm") != 0)
		return cli_usage_error(cmd, "unknown action \"%s\" (list, set, rm)",
		    verb);
	if (optind >= argc)
		return cli_usage_error(cmd, "%s: a KEY is required", verb);
	key = argv[optind++];
	if (optind != argc)
		return cli_usage_error(cmd, "unexpected argument \"%s\"",
		    argv[optind]);
	if (tf_limit_check_key(key, err, sizeof(err)) != TF_OK)
		return cli_usage_error(cmd, "%s", err);
	if (strcmp(verb, "rm") == 0) {
		if (l.rate > 0 || l.in_flight > 0 || l.burst != 1 || l.ordered)
			return cli_usage_error(cmd, "rm takes no --rate, --burst, "
			    "--in-flight or --ordered");
		if ((code = cli_open(c)) != 0)
			return code;
		rc = tf_limit_remove(c->ctx.aws, c->cfg.table, key);
		if (rc == TF_ERR_NOT_FOUND) {
			fprintf(stderr, "%s: no limit is set on %s\n", cmd, key);
			return EXIT_NOTFOUND;
		}
		if (rc != TF_OK)
			return cli_aws_error(cmd, "removing the limit", rc);
		if (!c->json) {
			printf("removed the limit on %s\n", key);
			return 0;
		}
		o = cJSON_CreateObject();
		code = o != NULL && cJSON_AddStringToObject(o, "key", key) != NULL &&
		    cJSON_AddBoolToObject(o, "removed", true) != NULL ?
		    cli_print_json(o) : EXIT_FAILED;
		cJSON_Delete(o);
		return code;
	}
	snprintf(l.key, sizeof(l.key), "%s", key);
	if (l.burst != 1 && l.rate == 0)
		return cli_usage_error(cmd, "--burst needs --rate");
	if (tf_limit_check(&l, err, sizeof(err)) != TF_OK)
		return cli_usage_error(cmd, "%s", err);
	if ((code = cli_open(c)) != 0)
		return code;
	rc = tf_limit_write(c->ctx.aws, c->cfg.table, &l);
	if (rc != TF_OK)
		return cli_aws_error(cmd, "setting the limit", rc);
	if (!c->json) {
		printf("limit on %s set: every consumer applies it within 2 s\n",
		    key);
		return 0;
	}
	o = tf_limit_json(&l);
	code = o != NULL ? cli_print_json(o) : EXIT_FAILED;
	cJSON_Delete(o);
	return code;
}
