/*
 * cmd_http.c - `taskfleet http`: creates a task for the `http` runner, a
 * webhook (docs/design.md section 11).
 *
 * The options become the task's params (lib/webhook/http_task.h describes them),
 * built as a cJSON object and checked with tf_http_task_parse(), the
 * function the runner checks them with before each delivery: what this
 * command accepts the runner accepts, and the other way round. The params
 * then pass the same DynamoDB check as `submit --params`. A refusal names
 * the option that set the field ("params.method: ..." is printed as
 * "--method: ...") and writes nothing. Scheduling and the write itself are
 * submit's, shared through submit_option() and submit_create().
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/marshal.h"
#include "base/alloc.h"
#include "cli.h"
#include "task/task.h"
#include "time/timefmt.h"
#include "webhook/http_task.h"

static const char http_usage[] =
    "usage: taskfleet http --url URL [--method M] [--header 'Name: value']...\n"
    "                      [--body DATA|@FILE | --json-body JSON|@FILE]\n"
    "                      [--timeout DUR] [--success LIST] [--follow-redirects]\n"
    "                      [--max-redirects N] [--result-header NAME]...\n"
    "                      [--at TIME] [--every DUR | --cron EXPR] [--tz ZONE]\n"
    "                      [--max-runs N] [--until TIME] [--ns NS] [--id ID]\n"
    "                      [--max-attempts N] [--name TEXT]\n"
    "                      [--description TEXT] [--json]\n";

static void
http_help(void)
{
	printf("%s\n"
	    "Creates a task for the http runner (a webhook) and prints its id.\n"
	    "\n"
	    "  --url URL         where to send it: http:// or https://, with a host and\n"
	    "                    no user:password@ (put credentials in a header)\n"
	    "  --method M        GET, POST, PUT, PATCH, DELETE or HEAD, in any case;\n"
	    "                    default GET\n"
	    "  --header 'Name: value'\n"
	    "                    a request header, split at the first colon, spaces\n"
	    "                    around the value dropped; repeat for more, each name\n"
	    "                    once. The headers the runner sets itself (Host,\n"
	    "                    Content-Length, Connection, Taskfleet-*, ...) are\n"
	    "                    refused\n"
	    "  --body DATA       the request body as it is, or @FILE (@- reads\n"
	    "                    standard input); Content-Type text/plain;\n"
	    "                    charset=utf-8 unless a --header sets one\n"
	    "  --json-body JSON  the request body as JSON of any type, or @FILE;\n"
	    "                    sent with Content-Type application/json. Not with\n"
	    "                    --body; neither with --method HEAD\n"
	    "  --timeout DUR     the request's time limit, 1ms to 15m (30s, 2m);\n"
	    "                    default the consumer's TASKFLEET_HTTP_TIMEOUT when\n"
	    "                    the webhook runs, else 10s\n"
	    "  --success LIST    the statuses that count as success, comma-separated:\n"
	    "                    200, 2xx (a class), 200-204 (a range); default 2xx\n"
	    "  --follow-redirects\n"
	    "                    follow 301, 302, 303, 307 and 308; without it a 3xx\n"
	    "                    fails unless --success lists it\n"
	    "  --max-redirects N redirects to follow at most, 0 to %d; default %d\n"
	    "  --result-header NAME\n"
	    "                    a response header to record in the result; repeat\n"
	    "                    for more. Default: Content-Type, Content-Length,\n"
	    "                    Location, Retry-After, ETag, X-Request-Id\n",
	    http_usage, TF_HTTP_REDIRECTS_MAX, TF_HTTP_REDIRECTS_DEFAULT);
	submit_options_help();
	printf("\n"
	    "The params are checked as the runner checks them before each\n"
	    "delivery; `taskfleet get ID` shows them. Everything else is as for\n"
	    "submit (see taskfleet submit --help).\n"
	    "Exit: 0 created or already there, 1 failed, 2 bad input (nothing written).\n");
}

/* The options that make the params, as given (borrowed from argv). */
struct http_opts {
	const char *url;             /* --url */
	const char *method;          /* --method, or NULL */
	const char **headers;        /* --header, n_headers of them */
	size_t n_headers;
	const char *body;            /* --body DATA|@FILE, or NULL */
	const char *json_body;       /* --json-body JSON|@FILE, or NULL */
	const char *timeout;         /* --timeout DUR, or NULL */
	const char *success;         /* --success LIST, or NULL */
	bool follow_redirects;       /* --follow-redirects */
	const char *max_redirects;   /* --max-redirects N, or NULL */
	const char **result_headers; /* --result-header, n_result_headers */
	size_t n_result_headers;
};

/*
 * Prints a message of tf_http_task_parse() or of the DynamoDB check as a
 * usage error naming the option that set the field: "params.url: ..."
 * becomes "--url: ...", "params.headers.X-A: ..." "--header X-A: ...".
 * Control characters become '?', so the message stays one line. Returns
 * EXIT_USAGE.
 */
static int
params_error(const char *cmd, const struct http_opts *o, const char *msg)
{
	static const char *const fields[][2] = {
		{ "url", "--url" }, { "method", "--method" },
		{ "headers", "--header" }, { "body", "--body" },
		{ "timeout_ms", "--timeout" }, { "success", "--success" },
		{ "follow_redirects", "--follow-redirects" },
		{ "max_redirects", "--max-redirects" },
		{ "result_headers", "--result-header" },
	};
	char line[1024], *p;
	const char *rest, *opt;
	size_t i, n;

	snprintf(line, sizeof(line), "%s", msg);
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	rest = line;
	if (strncmp(rest, "params.", 7) == 0)
		rest += 7;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		n = strlen(fields[i][0]);
		if (strncmp(rest, fields[i][0], n) != 0 ||
		    (rest[n] != ':' && rest[n] != '.'))
			continue;
		opt = fields[i][1];
		if (strcmp(fields[i][0], "body") == 0 && o->json_body != NULL)
			opt = "--json-body";
		if (rest[n] == '.')
			return cli_usage_error(cmd, "%s %s", opt, rest + n + 1);
		return cli_usage_error(cmd, "%s%s", opt, rest + n);
	}
	return cli_usage_error(cmd, "%s", line);
}

/* Adds the --header options to params as the object "headers". Returns 0,
 * EXIT_USAGE after a message, or EXIT_FAILED when out of memory. */
static int
add_headers(const char *cmd, const struct http_opts *o, cJSON *params)
{
	cJSON *headers;
	char *name = NULL, *value = NULL, q[80];
	const char *colon, *v, *end;
	size_t i;
	int code = EXIT_FAILED;

	if (o->n_headers == 0)
		return 0;
	if ((headers = cJSON_AddObjectToObject(params, "headers")) == NULL)
		goto out;
	for (i = 0; i < o->n_headers; i++) {
		colon = strchr(o->headers[i], ':');
		if (colon == NULL) {
			tf_err_quote(q, sizeof(q), o->headers[i], strlen(o->headers[i]),
			    64);
			code = cli_usage_error(cmd, "--header: \"%s\" has no colon "
			    "(expected 'Name: value')", q);
			goto out;
		}
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (end = v + strlen(v); end > v && (end[-1] == ' ' ||
		    end[-1] == '\t'); end--)
			;
		name = tf_strndup(o->headers[i], (size_t)(colon - o->headers[i]));
		value = tf_strndup(v, (size_t)(end - v));
		/* A name given twice is added twice, and tf_http_task_parse()
		 * refuses it in the runner's words. */
		if (name == NULL || value == NULL ||
		    cJSON_AddStringToObject(headers, name, value) == NULL)
			goto out;
		tf_free(name);
		tf_free(value);
		name = value = NULL;
	}
	code = 0;
out:
	if (code == EXIT_FAILED)
		fprintf(stderr, "%s: out of memory\n", cmd);
	tf_free(name);
	tf_free(value);
	return code;
}

/* Adds --body (a string) or --json-body (any JSON value, numbers kept as
 * written) to params as "body". Returns 0, EXIT_USAGE after a message, or
 * EXIT_FAILED when out of memory. */
static int
add_body(const char *cmd, const struct http_opts *o, cJSON *params)
{
	const char *opt = o->body != NULL ? "--body" : "--json-body";
	char errbuf[512], *text = NULL, *json = NULL;
	cJSON *av = NULL, *body = NULL;
	size_t len;
	enum tf_err rc;
	int code = EXIT_USAGE;

	if (o->body == NULL && o->json_body == NULL)
		return 0;
	rc = cli_read_arg(o->body != NULL ? o->body : o->json_body, &text, &len,
	    errbuf, sizeof(errbuf));
	if (rc != TF_OK) {
		code = rc == TF_ERR_NOMEM ? EXIT_FAILED : EXIT_USAGE;
		cli_usage_error(cmd, "%s: %s", opt, errbuf);
		goto out;
	}
	if (o->body != NULL) {
		if (strlen(text) != len) {
			cli_usage_error(cmd, "--body: holds a NUL byte (at byte %zu)",
			    strlen(text));
			goto out;
		}
		body = cJSON_CreateString(text);
	} else {
		/* The strict parser of `submit --params`: RFC 8259, what DynamoDB
		 * can hold, and the numbers' text kept for the compact copy. */
		rc = tf_marshal_value_json_text(text, len, &av, errbuf,
		    sizeof(errbuf));
		if (rc == TF_OK)
			rc = tf_unmarshal_value_to_json_text(av, &json, errbuf,
			    sizeof(errbuf));
		if (rc == TF_ERR_NOMEM) {
			code = EXIT_FAILED;
			cli_usage_error(cmd, "--json-body: out of memory");
			goto out;
		}
		if (rc != TF_OK) {
			cli_usage_error(cmd, "--json-body: %s", errbuf);
			goto out;
		}
		body = cJSON_CreateRaw(json);
	}
	if (body == NULL || !cJSON_AddItemToObject(params, "body", body)) {
		cJSON_Delete(body);
		code = EXIT_FAILED;
		fprintf(stderr, "%s: out of memory\n", cmd);
		goto out;
	}
	code = 0;
out:
	cJSON_Delete(av);
	tf_free(json);
	tf_free(text);
	return code;
}

/* Adds --success LIST to params as the array "success": whole numbers as
 * numbers, "2xx" and "200-204" as strings (tf_http_task_parse() checks
 * them). Returns 0, EXIT_USAGE after a message, or EXIT_FAILED when out of
 * memory. */
static int
add_success(const char *cmd, const char *list, cJSON *params)
{
	cJSON *arr, *e;
	char *item = NULL, q[80];
	const char *p = list, *start, *end;
	size_t n, i;
	bool digits;
	int code = EXIT_FAILED;

	if ((arr = cJSON_AddArrayToObject(params, "success")) == NULL)
		goto out;
	for (;;) {
		for (start = p; *start == ' ' || *start == '\t'; start++)
			;
		n = strcspn(start, ",");
		for (end = start + n; end > start && (end[-1] == ' ' ||
		    end[-1] == '\t'); end--)
			;
		if (end == start) {
			tf_err_quote(q, sizeof(q), list, strlen(list), 64);
			code = cli_usage_error(cmd, "--success: an empty entry in "
			    "\"%s\" (expected a list such as 200,2xx,300-302)", q);
			goto out;
		}
		item = tf_strndup(start, (size_t)(end - start));
		if (item == NULL)
			goto out;
		digits = strlen(item) <= 9;
		for (i = 0; item[i] != '\0' && digits; i++)
			digits = item[i] >= '0' && item[i] <= '9';
		e = digits ? cJSON_CreateNumber(strtod(item, NULL)) :
		    cJSON_CreateString(item);
		if (e == NULL)
			goto out;
		cJSON_AddItemToArray(arr, e);
		tf_free(item);
		item = NULL;
		if (start[n] == '\0')
			break;
		p = start + n + 1;
	}
	code = 0;
out:
	if (code == EXIT_FAILED)
		fprintf(stderr, "%s: out of memory\n", cmd);
	tf_free(item);
	return code;
}

/*
 * Builds the params object from the options, in the order of
 * lib/webhook/http_task.h, with only the fields that were given (the runner's
 * defaults are the rest). *out: caller frees with cJSON_Delete(). Returns 0,
 * EXIT_USAGE after a message, or EXIT_FAILED when out of memory.
 */
static int
build_params(const char *cmd, const struct http_opts *o, cJSON **out)
{
	cJSON *params = NULL, *arr;
	char errbuf[256], *method = NULL, *p;
	long long max_redirects;
	int64_t timeout_ms;
	size_t i;
	int code = EXIT_FAILED;

	*out = NULL;
	if ((params = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(params, "url", o->url) == NULL)
		goto out_nomem;
	if (o->method != NULL) {
		/* Upper case in the item; tf_http_task_parse() checks the name. */
		if ((method = tf_strdup(o->method)) == NULL)
			goto out_nomem;
		for (p = method; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		if (cJSON_AddStringToObject(params, "method", method) == NULL)
			goto out_nomem;
	}
	if ((code = add_headers(cmd, o, params)) != 0 ||
	    (code = add_body(cmd, o, params)) != 0)
		goto out;
	code = EXIT_USAGE;
	if (o->timeout != NULL) {
		if (tf_timefmt_parse_duration(o->timeout, &timeout_ms, errbuf,
		    sizeof(errbuf)) != TF_OK) {
			cli_usage_error(cmd, "--timeout: %s", errbuf);
			goto out;
		}
		if (timeout_ms < 1 || timeout_ms > TF_HTTP_TIMEOUT_MAX) {
			cli_usage_error(cmd, "--timeout: \"%s\" is not from 1ms to 15m",
			    o->timeout);
			goto out;
		}
		if (cJSON_AddNumberToObject(params, "timeout_ms",
		    (double)timeout_ms) == NULL)
			goto out_nomem;
	}
	if (o->success != NULL && (code = add_success(cmd, o->success, params)) != 0)
		goto out;
	code = EXIT_USAGE;
	if (o->follow_redirects &&
	    cJSON_AddTrueToObject(params, "follow_redirects") == NULL)
		goto out_nomem;
	if (o->max_redirects != NULL) {
		if (!cli_parse_int(o->max_redirects, 0, TF_HTTP_REDIRECTS_MAX,
		    &max_redirects)) {
			cli_usage_error(cmd, "--max-redirects: expected a number from 0 "
			    "to %d, got \"%.32s\"", TF_HTTP_REDIRECTS_MAX,
			    o->max_redirects);
			goto out;
		}
		if (cJSON_AddNumberToObject(params, "max_redirects",
		    (double)max_redirects) == NULL)
			goto out_nomem;
	}
	if (o->n_result_headers > 0) {
		if ((arr = cJSON_AddArrayToObject(params, "result_headers")) == NULL)
			goto out_nomem;
		for (i = 0; i < o->n_result_headers; i++)
			if (!cJSON_AddItemToArray(arr,
			    cJSON_CreateString(o->result_headers[i])))
				goto out_nomem;
	}
	*out = params;
	params = NULL;
	code = 0;
	goto out;
out_nomem:
	fprintf(stderr, "%s: out of memory\n", cmd);
	code = EXIT_FAILED;
out:
	tf_free(method);
	cJSON_Delete(params);
	return code;
}

/*
 * Checks the params text as the runner will (tf_http_task_parse()) and as
 * DynamoDB will (the check of `submit --params`). Returns 0, EXIT_USAGE
 * after a message naming the option, or EXIT_FAILED when out of memory.
 */
static int
check_params(const char *cmd, const struct http_opts *o, const char *text)
{
	struct tf_http_task t;
	char errbuf[512], *p;
	cJSON *av = NULL;
	enum tf_err rc;
	int code = EXIT_USAGE;

	rc = tf_http_task_parse(text, strlen(text), 0, &t, errbuf, sizeof(errbuf));
	tf_http_task_free(&t);
	if (rc == TF_OK) {
		rc = tf_marshal_value_json_text(text, strlen(text), &av, errbuf,
		    sizeof(errbuf));
		/* Its byte offsets count in text, which the user never saw. */
		if (rc != TF_OK && (p = strstr(errbuf, " (byte ")) != NULL)
			*p = '\0';
	}
	cJSON_Delete(av);
	if (rc == TF_ERR_NOMEM) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		code = EXIT_FAILED;
	} else if (rc != TF_OK)
		params_error(cmd, o, errbuf);
	else
		code = 0;
	return code;
}

int
cmd_http(struct cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "method", required_argument, NULL, 'M' },
		{ "header", required_argument, NULL, 'H' },
		{ "body", required_argument, NULL, 'b' },
		{ "json-body", required_argument, NULL, 'J' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "success", required_argument, NULL, 'S' },
		{ "follow-redirects", no_argument, NULL, 'F' },
		{ "max-redirects", required_argument, NULL, 'X' },
		{ "result-header", required_argument, NULL, 'r' },
		{ "type", required_argument, NULL, 't' },
		{ "params", required_argument, NULL, 'p' },
		CLI_SUBMIT_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0];
	struct http_opts o = { 0 };
	struct submit_opts so;
	cJSON *params = NULL;
	char *text = NULL;
	int ch, code = EXIT_FAILED;

	submit_opts_init(&so);
	/* Each repeatable option takes at most one slot per argument. */
	o.headers = tf_calloc((size_t)argc, sizeof(*o.headers));
	o.result_headers = tf_calloc((size_t)argc, sizeof(*o.result_headers));
	if (o.headers == NULL || o.result_headers == NULL) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		goto out;
	}
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			o.url = optarg;
			break;
		case 'M':
			o.method = optarg;
			break;
		case 'H':
			o.headers[o.n_headers++] = optarg;
			break;
		case 'b':
			o.body = optarg;
			break;
		case 'J':
			o.json_body = optarg;
			break;
		case 'T':
			o.timeout = optarg;
			break;
		case 'S':
			o.success = optarg;
			break;
		case 'F':
			o.follow_redirects = true;
			break;
		case 'X':
			o.max_redirects = optarg;
			break;
		case 'r':
			o.result_headers[o.n_result_headers++] = optarg;
			break;
		case 'h':
			http_help();
			code = 0;
			goto out;
		default:
			if ((code = submit_shorthand_option(c, cmd, &so, "http",
			    ch, optarg, argv)) != 0)
				goto out;
			break;
		}
	}
	code = EXIT_USAGE;
	if (optind != argc) {
		cli_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
		goto out;
	}
	if (o.url == NULL) {
		cli_usage_error(cmd, "--url is required (see %s --help)", cmd);
		goto out;
	}
	if (o.body != NULL && o.json_body != NULL) {
		cli_usage_error(cmd, "--body and --json-body exclude each other");
		goto out;
	}
	if ((code = build_params(cmd, &o, &params)) != 0)
		goto out;
	if ((text = cJSON_PrintUnformatted(params)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", cmd);
		code = EXIT_FAILED;
		goto out;
	}
	if ((code = check_params(cmd, &o, text)) != 0)
		goto out;
	code = submit_create(c, cmd, &so, "http", text);
out:
	cJSON_free(text);
	cJSON_Delete(params);
	tf_free(o.headers);
	tf_free(o.result_headers);
	return code;
}
