/* cli.c - helpers the producer's commands share. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "task/due.h"
#include "task/task.h"
#include "time/timefmt.h"

/* True when s is lo to hi bytes, each a letter, a digit or in `extra`. */
static bool
name_ok(const char *s, size_t lo, size_t hi, const char *extra)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++)
		if (n >= hi || !(isalnum((unsigned char)s[n]) ||
		    strchr(extra, s[n]) != NULL))
			return false;
	return n >= lo;
}

/* True for an http:// or https:// URL with a host. */
static bool
endpoint_ok(const char *url)
{
	const char *rest;
	size_t i;

	if (strncmp(url, "http://", 7) == 0)
		rest = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		rest = url + 8;
	else
		return false;
	for (i = 0; url[i] != '\0'; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return false;
	return rest[0] != '\0' && rest[0] != '/' && rest[0] != ':';
}

/*
 * Checks the settings that name AWS resources (flags or environment) before
 * they reach AWS, so that a malformed one is bad input (exit 2, one line
 * naming it) rather than an AWS error or a misleading "not found". The
 * rules are AWS's own: table names 3 to 255 of A-Z a-z 0-9 _ . -, queue
 * names 1 to 80 of A-Z a-z 0-9 _ - (a FIFO queue's ".fifo" aside), and an
 * endpoint is an http:// or https:// URL.
 */
static int
check_settings(const struct cli *c)
{
	static const char *const ep_vars[TF_AWS__SERVICES] = {
		[TF_AWS_SQS] = "AWS_ENDPOINT_URL_SQS",
		[TF_AWS_DYNAMODB] = "AWS_ENDPOINT_URL_DYNAMODB",
		[TF_AWS_SECRETSMANAGER] = "AWS_ENDPOINT_URL_SECRETS_MANAGER",
		[TF_AWS_SSM] = "AWS_ENDPOINT_URL_SSM",
	};
	const char *q = c->cfg.queue_name;
	size_t qlen;
	int i;

	if (!name_ok(c->cfg.region, 1, 64, "-_"))
		return cli_usage_error("taskfleet", "--region (AWS_REGION): \"%.64s\" "
		    "is not a region name such as us-east-1",
		    c->cfg.region ? c->cfg.region : "");
	for (i = 0; i < TF_AWS__SERVICES; i++) {
		if (c->cfg.endpoint[i] != NULL && c->cfg.endpoint[i][0] != '\0' &&
		    !endpoint_ok(c->cfg.endpoint[i]))
			return cli_usage_error("taskfleet", "--endpoint-url (%s): \"%.80s\" "
			    "is not an http:// or https:// URL with a host", ep_vars[i],
			    c->cfg.endpoint[i]);
	}
	if (!name_ok(c->cfg.table, 3, 255, "_.-"))
		return cli_usage_error("taskfleet", "--table (TASKFLEET_TABLE): \"%.64s\" "
		    "is not a table name (3 to 255 of A-Z a-z 0-9 _ . -)",
		    c->cfg.table ? c->cfg.table : "");
	if (c->cfg.queue_url == NULL && q != NULL) {
		qlen = strlen(q);
		if (qlen > 5 && strcmp(q + qlen - 5, ".fifo") == 0)
			qlen -= 5;
		if (qlen < 1 || qlen > 80 || strspn(q, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_-") != qlen ||
		    (q[qlen] != '\0' && strcmp(q + qlen, ".fifo") != 0))
			return cli_usage_error("taskfleet", "--queue (TASKFLEET_QUEUE): "
			    "\"%.64s\" is not a queue name (1 to 80 of A-Z a-z 0-9 _ -) "
			    "or URL", q);
	}
	return 0;
}

int
cli_open(struct cli *c)
{
	struct tf_due_timing timing;
	enum tf_err rc;
	int code;

	if (c->opened)
		return 0;
	if ((code = check_settings(c)) != 0)
		return code;
	rc = tf_context_open(&c->ctx, &c->cfg);
	if (rc != TF_OK) {
		fprintf(stderr, "taskfleet: cannot set up the AWS client: %s\n",
		    tf_strerror(rc));
		return EXIT_FAILED;
	}
	c->opened = true;
	/* The due_at of the tasks this process writes (task/due.h). */
	tf_due_get(&timing);
	timing.horizon_ms = c->cfg.horizon_ms;
	timing.grace_ms = c->cfg.sweep_grace_ms;
	timing.shards = 0;  /* the table's, read before the first write */
	tf_due_set(&timing);
	return 0;
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

int
cli_bad_option(const char *cmd, int ch, char **argv)
{
	const char *opt = optind > 0 ? argv[optind - 1] : "?";
	size_t n = strcspn(opt, "=");

	if (ch == ':')
		return cli_usage_error(cmd, "option %.*s needs a value (see %s --help)",
		    (int)n, opt, cmd);
	/* getopt_long sets optopt to the option's own code for a long flag
	 * given a value (--json=1): name the flag, not its internal letter. */
	if (strncmp(opt, "--", 2) == 0 && opt[n] == '=' && optopt != 0)
		return cli_usage_error(cmd, "option %.*s takes no value (see %s "
		    "--help)", (int)n, opt, cmd);
	if (optopt != 0 && strncmp(opt, "--", 2) != 0)
		return cli_usage_error(cmd, "unknown option -%c (see %s --help)",
		    optopt, cmd);
	return cli_usage_error(cmd, "unknown option %.*s (see %s --help)", (int)n,
	    opt, cmd);
}

void
cli_aws_reason(enum tf_err rc, char *buf, size_t len)
{
	tf_aws_reason(rc, buf, len);
}

int
cli_aws_error(const char *cmd, const char *what, enum tf_err rc)
{
	char reason[800];

	cli_aws_reason(rc, reason, sizeof(reason));
	fprintf(stderr, "%s: %s: %s%s\n", cmd, what, reason, cli_resource_missing() ?
	    "; `taskfleet init` creates the table and the queue" : "");
	return EXIT_FAILED;
}

bool
cli_resource_missing(void)
{
	return tf_aws_resource_missing();
}

int
cli_print_json(const cJSON *o)
{
	char *text = cJSON_PrintUnformatted(o);

	if (text == NULL) {
		fprintf(stderr, "taskfleet: out of memory\n");
		return EXIT_FAILED;
	}
	printf("%s\n", text);
	cJSON_free(text);
	return 0;
}

enum tf_err
cli_read_arg(const char *arg, char **text, size_t *len, char *errbuf,
    size_t errlen)
{
	struct tf_buf b = TF_BUF_INIT;
	enum tf_err rc = TF_ERR_IO;
	const char *path = arg + 1;
	FILE *f = NULL;
	char chunk[8192];
	size_t n;
	int saved;

	*text = NULL;
	*len = 0;
	if (arg[0] != '@') {
		*text = tf_strdup(arg);
		*len = strlen(arg);
		return *text != NULL ? TF_OK : TF_ERR_NOMEM;
	}
	if (path[0] == '\0') {
		snprintf(errbuf, errlen, "\"@\" needs a file name (@FILE, or @- for "
		    "standard input)");
		return TF_ERR_INVALID;
	}
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		saved = errno;
		snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(saved));
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + n > CLI_FILE_MAX) {
			snprintf(errbuf, errlen, "%s is larger than %d bytes", path,
			    CLI_FILE_MAX);
			rc = TF_ERR_TOO_LARGE;
			goto out;
		}
		if (tf_buf_append(&b, chunk, n) != TF_OK) {
			snprintf(errbuf, errlen, "out of memory");
			rc = TF_ERR_NOMEM;
			goto out;
		}
	}
	if (ferror(f)) {
		saved = errno;
		snprintf(errbuf, errlen, "cannot read %s: %s", path, strerror(saved));
		goto out;
	}
	*len = b.len;
	*text = tf_buf_steal(&b);
	rc = *text != NULL ? TF_OK : TF_ERR_NOMEM;
	if (rc == TF_ERR_NOMEM)
		snprintf(errbuf, errlen, "out of memory");
out:
	if (f != NULL && f != stdin)
		fclose(f);
	tf_buf_free(&b);
	return rc;
}

bool
cli_parse_status(const char *s, enum tf_task_status *out)
{
	char up[16];
	size_t i;

	for (i = 0; s[i] != '\0' && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)s[i]);
	up[i] = '\0';
	return s[i] == '\0' && tf_task_status_parse(up, out);
}

bool
cli_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	/* strtoll would also take leading spaces and a "+". */
	if (!((s[0] >= '0' && s[0] <= '9') || s[0] == '-'))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int
cli_parse_id_command(struct cli *c, int argc, char **argv, const char *usage,
    const char *help, const char **id)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0];
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
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
	return cli_take_id(cmd, argc, argv, id);
}

int
cli_take_id(const char *cmd, int argc, char **argv, const char **id)
{
	if (argc - optind != 1)
		return cli_usage_error(cmd, "%s (see %s --help)", argc == optind ?
		    "the task ID is missing" : "one task ID only", cmd);
	*id = argv[optind];
	if (!tf_task_id_valid(*id)) {
		if (strlen(*id) > TF_TASK_ID_MAX)
			return cli_usage_error(cmd, "ID: too long (%zu bytes; at most %d)",
			    strlen(*id), TF_TASK_ID_MAX);
		return cli_usage_error(cmd, "ID: must be 1 to %d printable characters "
		    "without spaces", TF_TASK_ID_MAX);
	}
	return -1;
}

const char *
cli_when(int64_t at, int64_t now_ms, char *buf, size_t len)
{
	char iso[TF_TIMEFMT_ISO_SIZE], dur[TF_TIMEFMT_DUR_SIZE];
	int64_t d = at - now_ms;

	tf_timefmt_format(at, iso, sizeof(iso));
	/* Whole seconds are enough to read at a glance. */
	tf_timefmt_format_duration((d < 0 ? -d : d) / 1000 * 1000, dur, sizeof(dur));
	if (d > -1000 && d < 1000)
		snprintf(buf, len, "%s (now)", iso);
	else
		snprintf(buf, len, "%s (%s%s%s)", iso, d > 0 ? "in " : "", dur,
		    d > 0 ? "" : " ago");
	return buf;
}
