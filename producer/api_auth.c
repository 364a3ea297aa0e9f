/* api_auth.c - API keys and CORS origins of the REST API (api_auth.h). */
#include "api_auth.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/alloc.h"
#include "task/task.h"

/* Splits text at sep into a new array of new strings, entries trimmed of
 * spaces and empty ones kept (the caller decides). *out: caller frees each
 * and the array with tf_free(). Returns the count, or -1 when out of
 * memory. */
static long
split(const char *text, char sep, char ***out)
{
	const char *p = text, *e, *b;
	char **v = NULL, **nv;
	long n = 0;

	*out = NULL;
	for (;;) {
		e = strchr(p, sep);
		if (e == NULL)
			e = p + strlen(p);
		b = p;
		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		nv = tf_realloc(v, (size_t)(n + 1) * sizeof(*v));
		if (nv == NULL)
			goto oom;
		v = nv;
		v[n] = tf_strndup(b, (size_t)(e - b));
		if (v[n] == NULL)
			goto oom;
		n++;
		p = strchr(p, sep);
		if (p == NULL)
			break;
		p++;
	}
	*out = v;
	return n;
oom:
	while (n > 0)
		tf_free(v[--n]);
	tf_free(v);
	return -1;
}

static void
free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		tf_free(v[i]);
	tf_free(v);
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static enum tf_err bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum tf_err
bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return TF_ERR_INVALID;
}

/* Parses one SHA256HEX:SCOPE:NAMESPACES[:RATE] entry (number pos, from 1)
 * into *k. */
static enum tf_err
parse_key(const char *entry, size_t pos, struct api_key *k, char *err,
    size_t errlen)
{
	const char *c1, *c2, *c3;
	char **ns = NULL, *nstext = NULL, why[160];
	long n, i;
	int hi, lo;

	c1 = strchr(entry, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (c2 == NULL)
		return bad(err, errlen, "TASKFLEET_API_KEYS: entry %zu: expected "
		    "SHA256HEX:SCOPE:NAMESPACES[:RATE]", pos);
	if (c1 - entry != 64)
		return bad(err, errlen, "TASKFLEET_API_KEYS: entry %zu: the hash "
		    "must be 64 hex digits (the SHA-256 of the key)", pos);
	for (i = 0; i < 32; i++) {
		hi = hexval((unsigned char)entry[2 * i]);
		lo = hexval((unsigned char)entry[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return bad(err, errlen, "TASKFLEET_API_KEYS: entry %zu: the "
			    "hash must be 64 hex digits (the SHA-256 of the key)", pos);
		k->hash[i] = (unsigned char)(hi << 4 | lo);
	}
	if ((size_t)(c2 - c1 - 1) == 4 && strncmp(c1 + 1, "read", 4) == 0)
		k->scope = API_SCOPE_READ;
	else if ((size_t)(c2 - c1 - 1) == 5 && strncmp(c1 + 1, "write", 5) == 0)
		k->scope = API_SCOPE_WRITE;
	else
		return bad(err, errlen, "TASKFLEET_API_KEYS: entry %zu: the scope "
		    "must be read or write", pos);
	/* Namespaces have no ':', so a third one starts the rate (which may
	 * have its own, before the burst). */
	c3 = strchr(c2 + 1, ':');
	if (c3 != NULL) {
		if (rate_parse(c3 + 1, &k->rate, why, sizeof(why)) != TF_OK)
			return bad(err, errlen, "TASKFLEET_API_KEYS: entry %zu: the "
			    "rate: %s", pos, why);
		k->has_rate = true;
	}
	nstext = tf_strndup(c2 + 1, c3 != NULL ? (size_t)(c3 - c2 - 1) :
	    strlen(c2 + 1));
	if (nstext == NULL)
		return TF_ERR_NOMEM;
	if (strcmp(nstext, "*") == 0) {
		tf_free(nstext);
		k->all_ns = true;
		return TF_OK;
	}
	n = split(nstext, '|', &ns);
	tf_free(nstext);
	if (n < 0)
		return TF_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		if (!tf_task_ns_valid(ns[i])) {
			free_strings(ns, (size_t)n);
			return bad(err, errlen, "TASKFLEET_API_KEYS: entry %zu: "
			    "namespaces must be * or ns1|ns2 (each 1 to %d of A-Z a-z "
			    "0-9 _ . -)", pos, TF_TASK_NS_MAX);
		}
	}
	k->ns = ns;
	k->n_ns = (size_t)n;
	return TF_OK;
}

enum tf_err
api_keys_parse(const char *text, struct api_keys **out, char *err,
    size_t errlen)
{
	struct api_keys *k = NULL;
	char **entries = NULL;
	long n = 0, i;
	enum tf_err rc = TF_ERR_NOMEM;

	*out = NULL;
	if (text == NULL || text[strspn(text, " \t")] == '\0')
		return bad(err, errlen, "TASKFLEET_API_KEYS: no keys");
	n = split(text, ',', &entries);
	if (n < 0)
		goto out;
	k = tf_calloc(1, sizeof(*k));
	if (k == NULL)
		goto out;
	k->keys = tf_calloc((size_t)n, sizeof(*k->keys));
	if (k->keys == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		rc = parse_key(entries[i], (size_t)i + 1, &k->keys[i], err, errlen);
		k->n = (size_t)i + 1;
		if (rc != TF_OK)
			goto out;
	}
	*out = k;
	k = NULL;
	rc = TF_OK;
out:
	if (rc == TF_ERR_NOMEM)
		bad(err, errlen, "out of memory");
	if (entries != NULL)
		free_strings(entries, (size_t)n);
	api_keys_free(k);
	return rc;
}

void
api_keys_free(struct api_keys *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->n; i++)
		free_strings(k->keys[i].ns, k->keys[i].n_ns);
	tf_free(k->keys);
	tf_free(k);
}

const struct api_key *
api_keys_match(const struct api_keys *k, const char *token)
{
	const struct api_key *found = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t i;

	if (k == NULL || token == NULL ||
	    !EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32)
		return NULL;
	/* No early exit: every hash is compared, each in constant time. */
	for (i = 0; i < k->n; i++)
		if (CRYPTO_memcmp(md, k->keys[i].hash, 32) == 0 && found == NULL)
			found = &k->keys[i];
	OPENSSL_cleanse(md, sizeof(md));
	return found;
}

bool
api_key_has_scope(const struct api_key *key, enum api_scope scope)
{
	return scope == API_SCOPE_READ || key->scope == API_SCOPE_WRITE;
}

bool
api_key_allows(const struct api_key *key, const char *ns, enum api_scope scope)
{
	size_t i;

	if (!api_key_has_scope(key, scope))
		return false;
	if (key->all_ns)
		return true;
	for (i = 0; i < key->n_ns; i++)
		if (strcmp(key->ns[i], ns) == 0)
			return true;
	return false;
}

/* True for scheme://host[:port] with http or https and no path. */
static bool
origin_ok(const char *s)
{
	const char *rest;

	if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else
		return false;
	if (*rest == '\0')
		return false;
	for (; *rest != '\0'; rest++)
		if (!(isalnum((unsigned char)*rest) || strchr(".-:[]", *rest)))
			return false;
	return true;
}

enum tf_err
api_origins_parse(const char *text, struct api_origins *o, char *err,
    size_t errlen)
{
	long n, i;

	memset(o, 0, sizeof(*o));
	if (text == NULL || text[strspn(text, " \t")] == '\0')
		return TF_OK;
	n = split(text, ',', &o->v);
	if (n < 0)
		return bad(err, errlen, "out of memory");
	o->n = (size_t)n;
	for (i = 0; i < n; i++)
		if (!origin_ok(o->v[i]))
			return bad(err, errlen, "TASKFLEET_API_CORS_ORIGINS: \"%.80s\" "
			    "is not an origin such as https://console.example.com",
			    o->v[i]);
	return TF_OK;
}

void
api_origins_free(struct api_origins *o)
{
	free_strings(o->v, o->n);
	o->v = NULL;
	o->n = 0;
}

bool
api_origin_allowed(const struct api_origins *o, const char *origin)
{
	size_t i;

	if (origin == NULL)
		return false;
	for (i = 0; i < o->n; i++)
		if (strcmp(o->v[i], origin) == 0)
			return true;
	return false;
}
