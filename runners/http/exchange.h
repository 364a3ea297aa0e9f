/*
 * exchange.h - one webhook delivery: the request of an http task, its
 * redirects when they are enabled, and what came back, through libcurl with
 * the runner's guards:
 *
 *  - every address a connection is about to be made to (each hop, each
 *    address a name resolves to) is checked against the address classes and
 *    the allow-list (netaddr.h), so neither DNS nor a redirect can reach a
 *    refused address;
 *  - with a target list, each hop's host and port must be on it (checked
 *    before the name is resolved and again for each address connected to);
 *  - only http and https, no proxies from the environment, TLS verified;
 *  - the response is read up to a cap, its body kept up to an excerpt size,
 *    and only the selected headers recorded;
 *  - the whole delivery, redirects included, has one time limit, and the
 *    host's cancellation stops it within a tenth of a second.
 */
#ifndef TF_HTTP_RUNNER_EXCHANGE_H
#define TF_HTTP_RUNNER_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "client.h"
#include "webhook/http_sign.h"
#include "webhook/http_task.h"
#include "webhook/netaddr.h"

/* The deployment's side of a delivery: borrowed, shared by every run. */
struct exchange_env {
	struct http_client *client;
	const struct tf_allow_list *allow;   /* NULL: nothing beyond public */
	const struct tf_target_list *targets; /* NULL or empty: any target */
	const struct tf_http_keys *keys;     /* no keys: unsigned */
	const char *ca_bundle;               /* NULL: the system's */
	const char *user_agent;
	size_t max_response;                 /* bytes read at most */
	size_t excerpt;                      /* body bytes kept */
	/* The host's cancellation check: non-zero stops the transfer. */
	int (*cancelled)(void *arg);
	void *cancel_arg;
	int64_t (*now_ms)(void);
};

/* Who the delivery is for, sent in the Taskfleet-* headers. Borrowed. */
struct exchange_meta {
	const char *task_id;
	int64_t iteration;
	int32_t attempt;
	int64_t deadline_ms;                 /* 0: none beyond the timeout */
};

/* How a delivery ended before any HTTP status was known. */
enum exchange_failure {
	EXCHANGE_OK,          /* a response arrived: see status */
	EXCHANGE_REFUSED,     /* a target address was refused: permanent */
	EXCHANGE_TIMEOUT,     /* the time limit passed: retryable */
	EXCHANGE_CANCELLED,   /* the host cancelled the run: retryable */
	EXCHANGE_BAD_REDIRECT,/* a redirect to a URL we will not follow: permanent */
	EXCHANGE_TLS,         /* the certificate did not verify: permanent */
	EXCHANGE_NETWORK      /* connection refused, reset, DNS: retryable */
};

#define EXCHANGE_HEADER_VALUE_MAX 512

struct exchange_header {
	char *name;    /* owned, lower case */
	char *value;   /* owned, at most EXCHANGE_HEADER_VALUE_MAX bytes */
};

/* What came back. Owned; free with exchange_result_free(). */
struct exchange_result {
	enum exchange_failure failure;
	char error[512];             /* with a failure: what happened */
	long status;                 /* 0 without a response */
	int64_t duration_ms;         /* the whole delivery */
	int64_t retry_after_s;       /* Retry-After in seconds, -1 when absent */
	int redirects;               /* hops followed */
	char *final_url;             /* owned: the URL of the last request */
	struct exchange_header *headers;
	size_t n_headers;
	struct tf_buf body;          /* the excerpt, raw bytes */
	uint64_t body_bytes;         /* body bytes received */
	bool body_truncated;         /* the excerpt or the read was cut */
};

/* Delivers t. Fills *res (free it with exchange_result_free() in every
 * case). Returns TF_OK when *res describes the outcome, TF_ERR_NOMEM when
 * memory ran out before it could. */
enum tf_err exchange_perform(const struct exchange_env *env,
    const struct exchange_meta *meta, const struct tf_http_task *t,
    struct exchange_result *res);

void exchange_result_free(struct exchange_result *res);

#endif /* TF_HTTP_RUNNER_EXCHANGE_H */
