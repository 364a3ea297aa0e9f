/*
 * fuzz_http_params.c - libFuzzer target for the `http` runner's params
 * (lib/webhook/http_task.c) and the TASKFLEET_HTTP_ALLOW and TASKFLEET_HTTP_TARGETS
 * lists (lib/webhook/netaddr.c).
 *
 * The input bytes are used two ways:
 *   1. as params text for tf_http_task_parse(), once with the default body
 *      cap and once with a small one. A refusal must be TF_ERR_INVALID with
 *      a one-line "params..." message and an empty struct; an accepted task
 *      must satisfy every promise of http_task.h (method, URL, headers,
 *      body, ranges, success table, result_headers), and the two caps may
 *      only differ in the body size check;
 *   2. as a NUL-terminated allow list for tf_allow_list_parse(). An
 *      accepted list is asked about a few fixed addresses, built in memory
 *      (nothing here resolves a name or opens a socket): a public address
 *      is always allowed, a refusal always says why, a host name never
 *      opens a metadata address, and an IPv4-mapped address is allowed
 *      whenever its IPv4 address is;
 *   3. as a target list for tf_target_list_parse(), asked about the same
 *      addresses: a refusal always says why, an empty list allows
 *      everything, an IPv4-mapped address is allowed whenever its IPv4
 *      address is, and the check before resolving never refuses a host the
 *      connection's check would allow.
 * Any other outcome, a crash or a leak is a finding.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "base/alloc.h"
#include "base/err.h"
#include "webhook/http_task.h"
#include "webhook/netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The small body cap of the second parse. */
#define SMALL_MAX_BODY 64

/* Stops the run with a message; libFuzzer saves the input. */
static void
finding(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_http_params: %s: %s\n", what,
	    detail != NULL ? detail : "");
	abort();
}

/* A NUL-terminated copy of the bytes (caller frees). */
static char *
text_of(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* ---- 1. Params ---------------------------------------------------------- */

/* Checks a refusal: the code, the message and the emptied struct. */
static void
check_refusal(enum tf_err rc, const struct tf_http_task *t, const char *err)
{
	static const struct tf_http_task zero;

	if (rc != TF_ERR_INVALID)
		finding("parse: unexpected code", err);
	if (memcmp(t, &zero, sizeof(zero)) != 0)
		finding("parse: struct not empty after a refusal", err);
	if (strncmp(err, "params", 6) != 0)
		finding("parse: message does not name params", err);
	if (strchr(err, '\n') != NULL || strchr(err, '\r') != NULL)
		finding("parse: message is not one line", err);
}

/* Checks every promise http_task.h makes about an accepted task. */
static void
check_task(const struct tf_http_task *t, size_t max_body)
{
	static const char *const methods[] = {
		"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
	};
	size_t i, j, n;
	bool known = false, ctype = false, any = false, bit;
	const char *p;
	cJSON *body;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(t->method, methods[i]) == 0)
			known = true;
	if (!known)
		finding("task: method not one of the six", t->method);
	if (t->url == NULL)
		finding("task: no url", NULL);
	n = strlen(t->url);
	if (n == 0 || n > TF_HTTP_URL_MAX)
		finding("task: url length", t->url);
	for (p = t->url; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
			finding("task: space or control character in url", t->url);
	if (strncasecmp(t->url, "http", 4) != 0)
		finding("task: url not http(s)", t->url);

	if (t->n_headers > TF_HTTP_HEADERS_MAX ||
	    (t->n_headers > 0) != (t->headers != NULL))
		finding("task: header count", NULL);
	for (i = 0; i < t->n_headers; i++) {
		const char *name = t->headers[i].name;

		if (name == NULL || t->headers[i].value == NULL)
			finding("task: header without name or value", NULL);
		if (!tf_http_header_name_valid(name) ||
		    tf_http_header_reserved(name))
			finding("task: bad or reserved header name", name);
		if (!tf_http_header_value_valid(t->headers[i].value))
			finding("task: bad header value", name);
		if (strcasecmp(name, "content-type") == 0)
			ctype = true;
		for (j = 0; j < i; j++)
			if (strcasecmp(t->headers[j].name, name) == 0)
				finding("task: header given twice", name);
	}
	if (ctype != t->has_content_type)
		finding("task: has_content_type is wrong", NULL);

	if (t->body == NULL) {
		if (t->body_len != 0 || t->body_is_json)
			finding("task: body fields without a body", NULL);
	} else {
		if (strcmp(t->method, "HEAD") == 0)
			finding("task: HEAD with a body", t->body);
		if (t->body_len != strlen(t->body) || t->body_len > max_body)
			finding("task: body length", NULL);
		if (t->body_is_json) {
			body = cJSON_ParseWithLength(t->body, t->body_len);
			if (body == NULL)
				finding("task: JSON body that is not JSON", t->body);
			cJSON_Delete(body);
		}
	}

	if (t->timeout_ms < 1 || t->timeout_ms > TF_HTTP_TIMEOUT_MAX)
		finding("task: timeout_ms out of range", NULL);
	if (t->max_redirects < 0 || t->max_redirects > TF_HTTP_REDIRECTS_MAX)
		finding("task: max_redirects out of range", NULL);

	for (i = 0; i < TF_HTTP_STATUS_END; i++) {
		bit = (t->success[i / 8] >> (i % 8) & 1) != 0;
		if (bit && i < 100)
			finding("task: success below 100", NULL);
		if (bit)
			any = true;
		if (tf_http_task_is_success(t, (long)i) != bit)
			finding("task: is_success disagrees with the table", NULL);
	}
	if (!any)
		finding("task: no status counts as success", NULL);
	if (tf_http_task_is_success(t, -1) || tf_http_task_is_success(t, 600) ||
	    tf_http_task_is_success(t, 100000) ||
	    tf_http_task_is_success(t, -100000))
		finding("task: success outside 0..599", NULL);

	if (t->n_result_headers > TF_HTTP_RESULT_HEADERS_MAX ||
	    (t->n_result_headers > 0) != (t->result_headers != NULL))
		finding("task: result_headers count", NULL);
	for (i = 0; i < t->n_result_headers; i++) {
		const char *name = t->result_headers[i];

		if (name == NULL || !tf_http_header_name_valid(name))
			finding("task: bad result header", name);
		for (p = name; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				finding("task: result header not lower case", name);
	}
}

/* True when the two tasks hold the same values. */
static bool
same_task(const struct tf_http_task *a, const struct tf_http_task *b)
{
	size_t i;

	if (strcmp(a->method, b->method) != 0 || strcmp(a->url, b->url) != 0 ||
	    a->n_headers != b->n_headers || a->body_len != b->body_len ||
	    a->body_is_json != b->body_is_json ||
	    a->has_content_type != b->has_content_type ||
	    a->timeout_ms != b->timeout_ms ||
	    memcmp(a->success, b->success, sizeof(a->success)) != 0 ||
	    a->follow_redirects != b->follow_redirects ||
	    a->max_redirects != b->max_redirects ||
	    a->n_result_headers != b->n_result_headers ||
	    (a->body == NULL) != (b->body == NULL) ||
	    (a->body != NULL && strcmp(a->body, b->body) != 0))
		return false;
	for (i = 0; i < a->n_headers; i++)
		if (strcmp(a->headers[i].name, b->headers[i].name) != 0 ||
		    strcmp(a->headers[i].value, b->headers[i].value) != 0)
			return false;
	for (i = 0; i < a->n_result_headers; i++)
		if (strcmp(a->result_headers[i], b->result_headers[i]) != 0)
			return false;
	return true;
}

static void
fuzz_params(const uint8_t *data, size_t size)
{
	struct tf_http_task big, small;
	char err_big[512], err_small[512], want[128];
	const char *params = (const char *)data;
	enum tf_err rc_big, rc_small;

	err_big[0] = err_small[0] = '\0';
	rc_big = tf_http_task_parse(params, size, 0, &big, err_big,
	    sizeof(err_big));
	rc_small = tf_http_task_parse(params, size, SMALL_MAX_BODY, &small,
	    err_small, sizeof(err_small));
	if (rc_big == TF_OK)
		check_task(&big, TF_HTTP_REQUEST_MAX_DEFAULT);
	else
		check_refusal(rc_big, &big, err_big);
	if (rc_small == TF_OK)
		check_task(&small, SMALL_MAX_BODY);
	else
		check_refusal(rc_small, &small, err_small);

	/* The caps differ only in the body size check. */
	if (rc_small == TF_OK && rc_big != TF_OK)
		finding("a smaller cap accepted what the default refused", err_big);
	if (rc_small == TF_OK && !same_task(&big, &small))
		finding("the two caps gave different tasks", NULL);
	if (rc_big == TF_OK && rc_small != TF_OK) {
		snprintf(want, sizeof(want), "params.body: %zu bytes; at most %d",
		    big.body_len, SMALL_MAX_BODY);
		if (big.body_len <= SMALL_MAX_BODY || strcmp(err_small, want) != 0)
			finding("the small cap refused for another reason", err_small);
	}
	if (rc_big != TF_OK && rc_small != TF_OK &&
	    strncmp(err_small, "params.body: ", 13) != 0 &&
	    strcmp(err_big, err_small) != 0)
		finding("the two caps refused with different messages", err_small);

	tf_http_task_free(&big);
	tf_http_task_free(&small);
	/* Freeing twice is harmless. */
	tf_http_task_free(&big);
}

/* ---- 2. Allow list -------------------------------------------------------- */

/* The fixed addresses, built once in memory. */
static struct sockaddr_storage sa_loop, sa_mapped10, sa_plain10, sa_meta,
    sa_public;

/* Fills *ss with the numeric address text (port 443). */
static void
make_sa(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(ss, 0, sizeof(*ss));
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, text, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons(443);
		memcpy(ss, &sin, sizeof(sin));
	} else if (inet_pton(AF_INET6, text, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(443);
		memcpy(ss, &sin6, sizeof(sin6));
	} else {
		abort();
	}
}

#define SA(ss) ((const struct sockaddr *)(ss))

/* Asks l about sa for host and checks the reason agrees with the answer. */
static bool
permits(const struct tf_allow_list *l, const char *host,
    const struct sockaddr_storage *ss)
{
	char why[512];
	bool ok;

	memset(why, 'z', sizeof(why));
	ok = tf_allow_list_permits(l, host, SA(ss), why, sizeof(why));
	if (memchr(why, '\0', sizeof(why)) == NULL)
		finding("permits: reason not terminated", NULL);
	if (ok != (why[0] == '\0'))
		finding("permits: reason disagrees with the answer", why);
	return ok;
}

static void
fuzz_allow_list(const uint8_t *data, size_t size)
{
	static const char *const fixed_hosts[] = {
		NULL, "", "localhost", "metadata.google.internal",
		"169.254.169.254", "[::ffff:10.0.0.1]", "a.internal.",
	};
	const char *hosts[sizeof(fixed_hosts) / sizeof(fixed_hosts[0]) + 1];
	struct tf_allow_list *l = (struct tf_allow_list *)1;
	char err[512], *text;
	size_t i, commas = 0;
	enum tf_err rc;
	bool meta0;

	text = text_of(data, size);
	err[0] = '\0';
	rc = tf_allow_list_parse(text, &l, err, sizeof(err));
	if (rc != TF_OK) {
		if (rc != TF_ERR_INVALID || l != NULL ||
		    strncmp(err, "TASKFLEET_HTTP_ALLOW: entry ", 28) != 0 ||
		    strchr(err, '\n') != NULL)
			finding("allow list: bad refusal", err);
		free(text);
		return;
	}
	for (i = 0; text[i] != '\0'; i++)
		if (text[i] == ',')
			commas++;
	if (tf_allow_list_count(l) > commas + 1)
		finding("allow list: more entries than elements", text);

	for (i = 0; i < sizeof(fixed_hosts) / sizeof(fixed_hosts[0]); i++)
		hosts[i] = fixed_hosts[i];
	/* The input itself as the URL's host, to reach the name matching. */
	hosts[i] = text;
	meta0 = permits(l, NULL, &sa_meta);
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		if (!permits(l, hosts[i], &sa_public))
			finding("allow list: a public address was refused", text);
		(void)permits(l, hosts[i], &sa_loop);
		/* A host name never opens the metadata address. */
		if (permits(l, hosts[i], &sa_meta) != meta0)
			finding("allow list: the host changed the metadata answer",
			    text);
		/* What allows 10.0.0.1 allows ::ffff:10.0.0.1 too. */
		if (permits(l, hosts[i], &sa_plain10) &&
		    !permits(l, hosts[i], &sa_mapped10))
			finding("allow list: mapped address refused, IPv4 allowed",
			    text);
	}
	/* Without a list, only the public address. */
	if (permits(NULL, "localhost", &sa_loop) ||
	    permits(NULL, NULL, &sa_meta) ||
	    !permits(NULL, NULL, &sa_public))
		finding("allow list: the empty list opened something", NULL);
	tf_allow_list_free(l);
	free(text);
}

/* Asks target list l about sa for host, checks the reason agrees with the
 * answer, and that the check before resolving (on port 443, the port of
 * every sa here) would not have refused an allowed connection. */
static bool
target_permits(const struct tf_target_list *l, const char *host,
    const struct sockaddr_storage *ss)
{
	char why[512];
	bool ok;

	memset(why, 'z', sizeof(why));
	ok = tf_target_list_permits(l, host, SA(ss), why, sizeof(why));
	if (memchr(why, '\0', sizeof(why)) == NULL)
		finding("targets: reason not terminated", NULL);
	if (ok != (why[0] == '\0'))
		finding("targets: reason disagrees with the answer", why);
	if (ok && !tf_target_list_may_permit(l, host, 443, why, sizeof(why)))
		finding("targets: refused before resolving, allowed after", why);
	return ok;
}

static void
fuzz_target_list(const uint8_t *data, size_t size)
{
	/* Names (never IP literals): any address may be theirs. */
	static const char *const names[] = {
		NULL, "", "localhost", "a.example.com", "A.B.Example.COM.",
		"a.internal.",
	};
	const struct sockaddr_storage *const addrs[] = {
		&sa_loop, &sa_mapped10, &sa_plain10, &sa_meta, &sa_public,
	};
	struct tf_target_list *l = (struct tf_target_list *)1;
	char err[512], *text;
	size_t i, j;
	enum tf_err rc;

	text = text_of(data, size);
	err[0] = '\0';
	rc = tf_target_list_parse(text, &l, err, sizeof(err));
	if (rc != TF_OK) {
		if (rc != TF_ERR_INVALID || l != NULL ||
		    strncmp(err, "TASKFLEET_HTTP_TARGETS: entry ", 30) != 0 ||
		    strchr(err, '\n') != NULL)
			finding("targets: bad refusal", err);
		free(text);
		return;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (j = 0; j < sizeof(addrs) / sizeof(addrs[0]); j++) {
			bool ok = target_permits(l, names[i], addrs[j]);

			if (tf_target_list_count(l) == 0 && !ok)
				finding("targets: the empty list refused", text);
		}
	/* IP literals with their own address. */
	(void)target_permits(l, "127.0.0.1", &sa_loop);
	(void)target_permits(l, "[::ffff:10.0.0.1]", &sa_mapped10);
	(void)target_permits(l, "169.254.169.254", &sa_meta);
	/* The input itself as the host, to reach the name matching (it may
	 * be an IP literal other than the address, so only the reason). */
	err[0] = 'z';
	if (tf_target_list_permits(l, text, SA(&sa_public), err,
	    sizeof(err)) != (err[0] == '\0'))
		finding("targets: reason disagrees with the answer", err);
	if (target_permits(l, "localhost", &sa_plain10) &&
	    !target_permits(l, "localhost", &sa_mapped10))
		finding("targets: mapped address refused, IPv4 allowed", text);
	tf_target_list_free(l);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;

	if (!initialised) {
		tf_alloc_init();
		make_sa("127.0.0.1", &sa_loop);
		make_sa("::ffff:10.0.0.1", &sa_mapped10);
		make_sa("10.0.0.1", &sa_plain10);
		make_sa("169.254.169.254", &sa_meta);
		make_sa("8.8.8.8", &sa_public);
		initialised = 1;
	}
	fuzz_params(data, size);
	fuzz_allow_list(data, size);
	fuzz_target_list(data, size);
	return 0;
}
