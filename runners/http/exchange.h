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
	bool on_loop;                        /* transfers go to the host's loop
	                                        (http_client_get()) */
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

#define EXCHANGE_ERROR_MAX 512

/* What came back. Owned; free with exchange_result_free(). */
struct exchange_result {
	enum exchange_failure failure;
	char *error;                 /* owned, with a failure: what happened
	                                (at most EXCHANGE_ERROR_MAX - 1 bytes;
	                                read it with exchange_error()) */
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

/* The state of one hop, shared with libcurl's callbacks. */
struct hop {
	const struct exchange_env *env;
	const struct tf_http_task *task;
	struct exchange_result *res;
	char *host;                /* owned by the exchange: the URL's host,
	                              brackets stripped */
	bool refused;
	char *why;                 /* owned by the exchange: the last refusal
	                              (allocated when an address is refused),
	                              NULL */
	size_t header_bytes;
	bool headers_over;         /* the response headers passed the cap */
	bool read_capped;          /* the body passed max_response */
	bool cancelled;
	bool nomem;
};

#define EXCHANGE_ORIGIN_MAX 300

/* One delivery in progress: its hops, one easy handle at a time. Owned by
 * whoever drives it (exchange_perform() on its stack, or an asynchronous
 * run on the heap); must stay at its address from exchange_begin() to
 * exchange_end(). */
struct exchange {
	const struct exchange_env *env;      /* borrowed */
	struct exchange_meta meta;           /* its strings borrowed */
	const struct tf_http_task *t;        /* borrowed */
	struct exchange_result *res;         /* borrowed */
	struct hop h;
	CURL *e;                             /* owned: the hop's handle */
	struct curl_slist *headers;          /* owned */
	char errbuf[CURL_ERROR_SIZE];
	/* scheme://host:port of the first hop (a URL whose origin is longer
	 * than EXCHANGE_ORIGIN_MAX is refused: a DNS name has at most 253
	 * bytes), allocated to its size: one per webhook in flight. */
	char *first_origin;                  /* owned */
	bool same_origin;                    /* this hop's origin is the first's */
	bool https;                          /* this hop's scheme is https */
	char method[8];
	unsigned port;
	const char *body;                    /* borrowed from t, NULL: none */
	size_t body_len;
	char *url, *next;                    /* owned */
	struct http_origin *tls;             /* the hop's https origin (the
	                                        client's), NULL: none */
	int64_t start;                       /* monotonic ms */
	long timeout_ms;
	enum tf_err err;                     /* TF_ERR_NOMEM: res incomplete */
};

/*
 * Begins delivering t (env, meta, t and res borrowed until exchange_end();
 * res is filled as the hops go). Returns true when x->e is set up for the
 * first hop: perform it (curl_easy_perform(), or a multi handle) and pass
 * the result to exchange_hop_done(). false when the delivery is over
 * already (a URL that does not parse, a refused target...).
 */
bool exchange_begin(struct exchange *x, const struct exchange_env *env,
    const struct exchange_meta *meta, const struct tf_http_task *t,
    struct exchange_result *res);

/* The hop on x->e ended with rc: records its response, and when a redirect
 * is followed sets x->e up for the next hop and returns true; false when
 * the delivery is over. */
bool exchange_hop_done(struct exchange *x, CURLcode rc);

/* The hop set up on x->e waited before it was performed (the TLS ramp,
 * client.h): its time limit is set again to what the delivery has left.
 * false, with the timeout in res, when nothing is left. */
bool exchange_hop_resume(struct exchange *x);

/* Ends the delivery: fills the rest of res (free it with
 * exchange_result_free() in every case) and releases x. Returns TF_OK, or
 * TF_ERR_NOMEM when memory ran out before res could describe the outcome. */
enum tf_err exchange_end(struct exchange *x);

/* Delivers t. Fills *res (free it with exchange_result_free() in every
 * case). Returns TF_OK when *res describes the outcome, TF_ERR_NOMEM when
 * memory ran out before it could. */
enum tf_err exchange_perform(const struct exchange_env *env,
    const struct exchange_meta *meta, const struct tf_http_task *t,
    struct exchange_result *res);

void exchange_result_free(struct exchange_result *res);

/* The text of res's failure (borrowed from res): "out of memory" when
 * there was no memory to keep it. */
const char *exchange_error(const struct exchange_result *res);

/* Makes res the failure of a delivery the host cancelled. */
void exchange_cancelled(struct exchange_result *res);

#endif /* TF_HTTP_RUNNER_EXCHANGE_H */
