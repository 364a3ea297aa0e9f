/*
 * api_auth.h - who may call the REST API (api.c): API keys given as SHA-256
 * hashes in TASKFLEET_API_KEYS, each with a scope and a set of namespaces,
 * and the allowed CORS origins of TASKFLEET_API_CORS_ORIGINS.
 *
 * TASKFLEET_API_KEYS is a comma-separated list of
 * SHA256HEX:SCOPE:NAMESPACES[:RATE], with SCOPE read or write (write implies
 * read), NAMESPACES ns1|ns2 or * (all), and RATE the key's own request rate
 * (rate_limit.h: 20/s, 600/min:50, off; without it TASKFLEET_API_RATE's).
 * The server never holds a key itself, only its hash: a request's bearer
 * token is hashed and compared with every configured hash in constant
 * time.
 *
 * Everything here is immutable once parsed and may be shared by any number of
 * threads.
 */
#ifndef TF_PRODUCER_API_AUTH_H
#define TF_PRODUCER_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "rate_limit.h"

enum api_scope {
	API_SCOPE_READ,
	API_SCOPE_WRITE    /* implies read */
};

/* One configured key. */
struct api_key {
	unsigned char hash[32];   /* SHA-256 of the key */
	enum api_scope scope;
	bool all_ns;              /* NAMESPACES was "*" */
	char **ns;                /* owned; n_ns names otherwise */
	size_t n_ns;
	bool has_rate;            /* a RATE field was given */
	struct rate rate;         /* its rate, when has_rate */
};

/* The configured keys. */
struct api_keys {
	struct api_key *keys;     /* owned */
	size_t n;
};

/* Parses TASKFLEET_API_KEYS text. *out: caller frees with api_keys_free().
 * TF_ERR_INVALID with a one-line message naming the entry (by position, never
 * echoing it; a bad RATE field is quoted) for anything malformed, including
 * an empty list. */
enum tf_err api_keys_parse(const char *text, struct api_keys **out,
    char *err, size_t errlen);
void api_keys_free(struct api_keys *k);

/* The key whose hash is the SHA-256 of token (token borrowed), or NULL.
 * Every configured hash is compared, in constant time, whatever matches. */
const struct api_key *api_keys_match(const struct api_keys *k,
    const char *token);

/* True when key may act on namespace ns with scope. */
bool api_key_allows(const struct api_key *key, const char *ns,
    enum api_scope scope);

/* True when key has scope (whatever the namespace). */
bool api_key_has_scope(const struct api_key *key, enum api_scope scope);

/* The allowed CORS origins (exact matches: scheme://host[:port]). */
struct api_origins {
	char **v;                 /* owned */
	size_t n;
};

/* Parses TASKFLEET_API_CORS_ORIGINS (comma-separated; NULL or empty: none)
 * into *o (emptied first; free with api_origins_free() either way).
 * TF_ERR_INVALID with a message for an entry that is not an http:// or
 * https:// origin without a path. */
enum tf_err api_origins_parse(const char *text, struct api_origins *o,
    char *err, size_t errlen);
void api_origins_free(struct api_origins *o);

/* True when origin (borrowed; may be NULL) is one of o. */
bool api_origin_allowed(const struct api_origins *o, const char *origin);

#endif /* TF_PRODUCER_API_AUTH_H */
