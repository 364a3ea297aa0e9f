/* sigv4.c - AWS Signature Version 4 header signing on OpenSSL 3. */
#include "aws/sigv4.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/alloc.h"
#include "base/buf.h"

#define ALGORITHM  "AWS4-HMAC-SHA256"
#define SHA256_LEN 32

/* One header on its way into the canonical request. */
struct hdr {
	size_t name_off;    /* offset of the lower-cased name in the name pool */
	const char *name;   /* lower-cased name; borrowed from the name pool */
	const char *value;  /* borrowed from the caller's request */
	size_t idx;         /* position in the caller's array: keeps order stable */
};

/* One query parameter, encoded. Both strings live in the query pool. */
struct qparam {
	size_t name_off;
	size_t value_off;
	const char *name;
	const char *value;
};

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

/* RFC 3986 unreserved characters, which AWS leaves unencoded. */
static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* RFC 7230 tchar: what a header name or a method may be made of. */
static int
is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The whitespace folded in header values: what C's isspace() accepts in the
 * "C" locale, without depending on the locale. */
static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
	    c == '\r';
}

/* True when s is a non-empty token. */
static int
is_token(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!is_tchar((unsigned char)*s))
			return 0;
	return 1;
}

/* True when s may go into the credential scope or the Credential= field:
 * non-empty, no '/', ',', whitespace or control characters. */
static int
is_scope_part(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL || *p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '/' || *p == ',')
			return 0;
	return 1;
}

/* ASCII case-insensitive equality of name with lower, which is lower case. */
static int
name_is(const char *name, const char *lower)
{
	unsigned char c;

	for (; *name != '\0' && *lower != '\0'; name++, lower++) {
		c = (unsigned char)*name;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c != (unsigned char)*lower)
			return 0;
	}
	return *name == '\0' && *lower == '\0';
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
hex_encode(const unsigned char *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex_lower[in[i] >> 4];
		out[2 * i + 1] = hex_lower[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* Appends c to b as AWS URI-encodes it: unreserved as is, the rest %XX. */
static enum tf_err
append_encoded_byte(struct tf_buf *b, unsigned char c)
{
	char esc[3];

	if (is_unreserved(c))
		return tf_buf_append_char(b, (char)c);
	esc[0] = '%';
	esc[1] = hex_upper[c >> 4];
	esc[2] = hex_upper[c & 0x0f];
	return tf_buf_append(b, esc, sizeof(esc));
}

/* Appends the len bytes at s URI-encoded. */
static enum tf_err
append_encoded(struct tf_buf *b, const char *s, size_t len)
{
	enum tf_err rc = TF_OK;
	size_t i;

	for (i = 0; i < len && rc == TF_OK; i++)
		rc = append_encoded_byte(b, (unsigned char)s[i]);
	return rc;
}

/* Appends the len bytes at s percent-decoded once (a '%' not followed by two
 * hex digits stays a literal '%') and then URI-encoded: the canonical form
 * of one query name or value. */
static enum tf_err
append_reencoded(struct tf_buf *b, const char *s, size_t len)
{
	enum tf_err rc = TF_OK;
	unsigned char c;
	int hi, lo;
	size_t i;

	for (i = 0; i < len && rc == TF_OK; i++) {
		c = (unsigned char)s[i];
		if (c == '%' && i + 2 < len &&
		    (hi = hex_value((unsigned char)s[i + 1])) >= 0 &&
		    (lo = hex_value((unsigned char)s[i + 2])) >= 0) {
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		rc = append_encoded_byte(b, c);
	}
	return rc;
}

/* True when path is acceptable as the path of a request: NULL, "", or
 * starting with '/' and holding no '?' or '#'. */
static int
path_is_valid(const char *path)
{
	if (path == NULL || *path == '\0')
		return 1;
	return path[0] == '/' && strpbrk(path, "?#") == NULL;
}

/*
 * Appends the canonical URI of path to b: segments that are empty or "."
 * dropped, ".." removing the segment before it, each remaining segment
 * URI-encoded, a trailing '/' kept when the path had one and something is
 * left. This is botocore's remove_dot_segments() followed by its quote().
 * Encoded segments never contain '/', so ".." can undo the last segment
 * by cutting b back to its last '/'.
 */
static enum tf_err
append_canonical_path(struct tf_buf *b, const char *path)
{
	const size_t start = b->len;
	const char *p, *seg;
	size_t seg_len;
	enum tf_err rc;

	if (path == NULL)
		path = "";
	for (p = path; *p != '\0';) {
		while (*p == '/')
			p++;
		seg = p;
		while (*p != '\0' && *p != '/')
			p++;
		seg_len = (size_t)(p - seg);
		if (seg_len == 0 || (seg_len == 1 && seg[0] == '.'))
			continue;
		if (seg_len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (b->len > start && b->data[b->len - 1] != '/')
				b->len--;
			if (b->len > start) {
				b->len--;
				b->data[b->len] = '\0';
			}
			continue;
		}
		rc = tf_buf_append_char(b, '/');
		if (rc != TF_OK)
			return rc;
		rc = append_encoded(b, seg, seg_len);
		if (rc != TF_OK)
			return rc;
	}
	if (b->len == start || path[strlen(path) - 1] == '/')
		return tf_buf_append_char(b, '/');
	return TF_OK;
}

static int
cmp_qparam(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/* Appends the canonical query string of query (see sigv4.h) to b. */
static enum tf_err
append_canonical_query(struct tf_buf *b, const char *query)
{
	struct tf_buf pool = TF_BUF_INIT;
	struct qparam *params = NULL;
	const char *p, *end, *eq;
	size_t n = 1, count = 0, i;
	enum tf_err rc = TF_OK;

	if (query == NULL || *query == '\0')
		goto out;
	for (p = query; *p != '\0'; p++)
		if (*p == '&')
			n++;
	rc = TF_ERR_NOMEM;
	params = tf_calloc(n, sizeof(*params));
	if (params == NULL)
		goto out;
	rc = TF_OK;
	/* Encode every name and value into one pool, "name\0value\0" each. */
	for (p = query; *p != '\0'; p = *end == '&' ? end + 1 : end) {
		end = strchr(p, '&');
		if (end == NULL)
			end = p + strlen(p);
		if (end == p)
			continue;
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL)
			eq = end;
		params[count].name_off = pool.len;
		rc = append_reencoded(&pool, p, (size_t)(eq - p));
		if (rc == TF_OK)
			rc = tf_buf_append(&pool, "", 1);
		params[count].value_off = pool.len;
		if (rc == TF_OK && eq < end)
			rc = append_reencoded(&pool, eq + 1, (size_t)(end - eq - 1));
		if (rc == TF_OK)
			rc = tf_buf_append(&pool, "", 1);
		if (rc != TF_OK)
			goto out;
		count++;
	}
	/* The pool no longer moves: turn offsets into pointers and sort. */
	for (i = 0; i < count; i++) {
		params[i].name = pool.data + params[i].name_off;
		params[i].value = pool.data + params[i].value_off;
	}
	if (count > 1)
		qsort(params, count, sizeof(*params), cmp_qparam);
	for (i = 0; i < count && rc == TF_OK; i++) {
		if (i > 0)
			rc = tf_buf_append_char(b, '&');
		if (rc == TF_OK)
			rc = tf_buf_append_str(b, params[i].name);
		if (rc == TF_OK)
			rc = tf_buf_append_char(b, '=');
		if (rc == TF_OK)
			rc = tf_buf_append_str(b, params[i].value);
	}
out:
	tf_free(params);
	tf_buf_free(&pool);
	return rc;
}

static int
cmp_hdr(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Appends value trimmed, with each inner run of whitespace folded to one
 * space. */
static enum tf_err
append_folded(struct tf_buf *b, const char *value)
{
	const unsigned char *p = (const unsigned char *)value, *run;
	enum tf_err rc = TF_OK;
	int pending_space = 0, wrote = 0;

	while (*p != '\0' && rc == TF_OK) {
		if (is_space(*p)) {
			pending_space = wrote;
			p++;
			continue;
		}
		if (pending_space)
			rc = tf_buf_append_char(b, ' ');
		/* The run of non-space bytes at once. */
		for (run = p; *p != '\0' && !is_space(*p); p++)
			;
		if (rc == TF_OK)
			rc = tf_buf_append(b, run, (size_t)(p - run));
		pending_space = 0;
		wrote = 1;
	}
	return rc;
}

/*
 * Checks req's headers and sorts them by lower-cased name, keeping the
 * caller's order among equal names. On success *out is a freshly allocated
 * array of req->n_headers entries (NULL when there are none) whose names
 * live in *pool; the caller frees both.
 */
static enum tf_err
sort_headers(const struct tf_sigv4_request *req, struct tf_buf *pool,
    struct hdr **out)
{
	struct hdr *hdrs = NULL;
	const char *name;
	size_t i, n = req->n_headers;
	enum tf_err rc = TF_OK;

	*out = NULL;
	if (n == 0)
		goto out;
	rc = TF_ERR_NOMEM;
	hdrs = tf_calloc(n, sizeof(*hdrs));
	if (hdrs == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		name = req->headers[i].name;
		rc = TF_ERR_INVALID;
		if (!is_token(name) || req->headers[i].value == NULL ||
		    name_is(name, "authorization"))
			goto out;
		hdrs[i].name_off = pool->len;
		hdrs[i].value = req->headers[i].value;
		hdrs[i].idx = i;
		for (rc = TF_OK; *name != '\0' && rc == TF_OK; name++)
			rc = tf_buf_append_char(pool, *name >= 'A' && *name <= 'Z' ?
			    (char)(*name - 'A' + 'a') : *name);
		if (rc == TF_OK)
			rc = tf_buf_append(pool, "", 1);
		if (rc != TF_OK)
			goto out;
	}
	for (i = 0; i < n; i++)
		hdrs[i].name = pool->data + hdrs[i].name_off;
	if (n > 1)
		qsort(hdrs, n, sizeof(*hdrs), cmp_hdr);
	*out = hdrs;
	hdrs = NULL;
out:
	tf_free(hdrs);
	return rc;
}

/* Appends "name:value,value\n" for each distinct name of the n sorted
 * headers to b, and "name;name" to sh. */
static enum tf_err
append_canonical_headers(struct tf_buf *b, struct tf_buf *sh,
    const struct hdr *hdrs, size_t n)
{
	enum tf_err rc = TF_OK;
	size_t i, j;

	for (i = 0; i < n && rc == TF_OK; i = j) {
		if (i > 0)
			rc = tf_buf_append_char(sh, ';');
		if (rc == TF_OK)
			rc = tf_buf_append_str(sh, hdrs[i].name);
		if (rc == TF_OK)
			rc = tf_buf_append_str(b, hdrs[i].name);
		if (rc == TF_OK)
			rc = tf_buf_append_char(b, ':');
		for (j = i; j < n && strcmp(hdrs[j].name, hdrs[i].name) == 0; j++) {
			if (rc == TF_OK && j > i)
				rc = tf_buf_append_char(b, ',');
			if (rc == TF_OK)
				rc = append_folded(b, hdrs[j].value);
		}
		if (rc == TF_OK)
			rc = tf_buf_append_char(b, '\n');
	}
	return rc;
}

/* SHA-256 fetched once for the process: OpenSSL 3 fetches the algorithm
 * again on every call given EVP_sha256(), most of a short digest's cost. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *
sha256(void)
{
	pthread_once(&sha256_once, fetch_sha256);
	return sha256_md != NULL ? sha256_md : EVP_sha256();
}

enum tf_err
tf_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	out[0] = '\0';
	if (data == NULL)
		data = "";
	if (EVP_Digest(data, len, md, &md_len, sha256(), NULL) != 1 ||
	    md_len != SHA256_LEN)
		return TF_ERR_NOMEM;
	hex_encode(md, SHA256_LEN, out);
	return TF_OK;
}

/* HMAC-SHA256 of data under key into out, which may be the key buffer.
 * Returns 0, or -1 if OpenSSL fails. */
static int
hmac_sha256(const void *key, size_t key_len, const void *data,
    size_t data_len, unsigned char out[SHA256_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int ret = -1;

	if (key_len > INT_MAX)
		goto out;
	if (HMAC(sha256(), key, (int)key_len, data, data_len, md,
	    &md_len) == NULL || md_len != SHA256_LEN)
		goto out;
	memcpy(out, md, SHA256_LEN);
	ret = 0;
out:
	OPENSSL_cleanse(md, sizeof(md));
	return ret;
}

/* Writes v as `width` decimal digits, zero-padded. */
static void
put_digits(char *out, long v, int width)
{
	while (width-- > 0) {
		out[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

enum tf_err
tf_sigv4_amz_date(time_t t, char out[17])
{
	struct tm tm;
	long year;

	out[0] = '\0';
	if (gmtime_r(&t, &tm) == NULL)
		return TF_ERR_INVALID;
	year = (long)tm.tm_year + 1900;
	if (year < 0 || year > 9999)
		return TF_ERR_INVALID;
	put_digits(out, year, 4);
	put_digits(out + 4, tm.tm_mon + 1, 2);
	put_digits(out + 6, tm.tm_mday, 2);
	out[8] = 'T';
	put_digits(out + 9, tm.tm_hour, 2);
	put_digits(out + 11, tm.tm_min, 2);
	put_digits(out + 13, tm.tm_sec, 2);
	out[15] = 'Z';
	out[16] = '\0';
	return TF_OK;
}

enum tf_err
tf_sigv4_canonical_request(const struct tf_sigv4_request *req,
    char **canonical, char **signed_headers)
{
	struct tf_buf out = TF_BUF_INIT;
	struct tf_buf sh = TF_BUF_INIT;
	struct tf_buf names = TF_BUF_INIT;
	struct hdr *hdrs = NULL;
	char payload_hash[65];
	char *sh_str = NULL;
	enum tf_err rc = TF_ERR_INVALID;

	if (canonical != NULL)
		*canonical = NULL;
	if (signed_headers != NULL)
		*signed_headers = NULL;
	if (req == NULL || canonical == NULL || !is_token(req->method) ||
	    !path_is_valid(req->path) ||
	    (req->headers == NULL && req->n_headers > 0) ||
	    (req->payload == NULL && req->payload_len > 0))
		goto out;
	rc = sort_headers(req, &names, &hdrs);
	if (rc != TF_OK)
		goto out;
	rc = tf_sha256_hex(req->payload, req->payload_len, payload_hash);
	if (rc != TF_OK)
		goto out;

	rc = tf_buf_append_str(&out, req->method);
	if (rc == TF_OK)
		rc = tf_buf_append_char(&out, '\n');
	if (rc == TF_OK)
		rc = append_canonical_path(&out, req->path);
	if (rc == TF_OK)
		rc = tf_buf_append_char(&out, '\n');
	if (rc == TF_OK)
		rc = append_canonical_query(&out, req->query);
	if (rc == TF_OK)
		rc = tf_buf_append_char(&out, '\n');
	if (rc == TF_OK)
		rc = append_canonical_headers(&out, &sh, hdrs, req->n_headers);
	/* Plain appends: this runs for every request (no format parsing). */
	if (rc == TF_OK)
		rc = tf_buf_append_char(&out, '\n');
	if (rc == TF_OK)
		rc = tf_buf_append_str(&out, tf_buf_str(&sh));
	if (rc == TF_OK)
		rc = tf_buf_append_char(&out, '\n');
	if (rc == TF_OK)
		rc = tf_buf_append_str(&out, payload_hash);
	if (rc != TF_OK)
		goto out;

	if (signed_headers != NULL) {
		rc = TF_ERR_NOMEM;
		sh_str = tf_buf_steal(&sh);
		if (sh_str == NULL)
			goto out;
	}
	/* out holds at least the method, so stealing it cannot fail. */
	*canonical = tf_buf_steal(&out);
	if (signed_headers != NULL)
		*signed_headers = sh_str;
	sh_str = NULL;
	rc = TF_OK;
out:
	tf_free(sh_str);
	tf_free(hdrs);
	tf_buf_free(&names);
	tf_buf_free(&sh);
	tf_buf_free(&out);
	return rc;
}

enum tf_err
tf_sigv4_string_to_sign(const char *canonical, time_t t, const char *region,
    const char *service, char **out)
{
	struct tf_buf b = TF_BUF_INIT;
	char amz_date[17], hash[65];
	enum tf_err rc = TF_ERR_INVALID;

	if (out == NULL)
		return TF_ERR_INVALID;
	*out = NULL;
	if (canonical == NULL || !is_scope_part(region) || !is_scope_part(service))
		goto out;
	rc = tf_sigv4_amz_date(t, amz_date);
	if (rc != TF_OK)
		goto out;
	rc = tf_sha256_hex(canonical, strlen(canonical), hash);
	if (rc != TF_OK)
		goto out;
	if ((rc = tf_buf_append_str(&b, ALGORITHM "\n")) == TF_OK &&
	    (rc = tf_buf_append_str(&b, amz_date)) == TF_OK &&
	    (rc = tf_buf_append_char(&b, '\n')) == TF_OK &&
	    (rc = tf_buf_append(&b, amz_date, 8)) == TF_OK &&
	    (rc = tf_buf_append_char(&b, '/')) == TF_OK &&
	    (rc = tf_buf_append_str(&b, region)) == TF_OK &&
	    (rc = tf_buf_append_char(&b, '/')) == TF_OK &&
	    (rc = tf_buf_append_str(&b, service)) == TF_OK &&
	    (rc = tf_buf_append_str(&b, "/aws4_request\n")) == TF_OK)
		rc = tf_buf_append_str(&b, hash);
	if (rc != TF_OK)
		goto out;
	*out = tf_buf_steal(&b);
out:
	tf_buf_free(&b);
	return rc;
}

/*
 * The signing key (kSigning) derives from the secret, the day, the region
 * and the service alone, so it is the same for every request of a day: each
 * thread keeps the last few it derived (one per service it calls: a
 * consumer's loop signs for SQS and DynamoDB in turn), each as two SHA-256
 * states that have absorbed the key's inner and outer pads, so a signature
 * costs two short digests instead of five HMACs. Inputs longer than the
 * cache's buffers are signed without it.
 */
#define CACHED_KEYS 4

struct cached_key {
	int valid;
	unsigned long used;           /* the cache's clock at its last use */
	char secret[256];
	char date[9];
	char region[64];
	char service[64];
	EVP_MD_CTX *inner, *outer;    /* owned: SHA-256 after K^ipad, K^opad */
};

struct signing_key_cache {
	struct cached_key keys[CACHED_KEYS];
	unsigned long clock;
	EVP_MD_CTX *work;             /* owned: a scratch state */
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static int cache_key_ok;

/* A thread's cache at its exit. */
static void
free_cache(void *p)
{
	struct signing_key_cache *c = p;
	int i;

	for (i = 0; i < CACHED_KEYS; i++) {
		EVP_MD_CTX_free(c->keys[i].inner);
		EVP_MD_CTX_free(c->keys[i].outer);
	}
	EVP_MD_CTX_free(c->work);
	OPENSSL_cleanse(c, sizeof(*c));
	tf_free(c);
}

static void
make_cache_key(void)
{
	cache_key_ok = pthread_key_create(&cache_key, free_cache) == 0;
}

/* The calling thread's cache, made on first use; NULL when it cannot be. */
static struct signing_key_cache *
thread_cache(void)
{
	struct signing_key_cache *c;
	int i, ok;

	pthread_once(&cache_once, make_cache_key);
	if (!cache_key_ok)
		return NULL;
	c = pthread_getspecific(cache_key);
	if (c != NULL)
		return c;
	c = tf_calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->work = EVP_MD_CTX_new();
	ok = c->work != NULL;
	for (i = 0; i < CACHED_KEYS; i++) {
		c->keys[i].inner = EVP_MD_CTX_new();
		c->keys[i].outer = EVP_MD_CTX_new();
		ok = ok && c->keys[i].inner != NULL && c->keys[i].outer != NULL;
	}
	if (!ok || pthread_setspecific(cache_key, c) != 0) {
		free_cache(c);
		return NULL;
	}
	return c;
}

/* Derives kSigning into out; 0 or -1. */
static int
derive_signing_key(const struct tf_sigv4_key *key, const char *amz_date,
    unsigned char out[SHA256_LEN])
{
	unsigned char *secret, k[SHA256_LEN];
	size_t secret_len = 4 + strlen(key->secret_access_key);
	int rc = -1;

	secret = tf_malloc(secret_len);
	if (secret == NULL)
		return -1;
	/* kSecret = "AWS4" + secret; kDate, kRegion, kService, kSigning. */
	memcpy(secret, "AWS4", 4);
	memcpy(secret + 4, key->secret_access_key, secret_len - 4);
	if (hmac_sha256(secret, secret_len, amz_date, 8, out) == 0 &&
	    hmac_sha256(out, SHA256_LEN, key->region, strlen(key->region), k) == 0 &&
	    hmac_sha256(k, SHA256_LEN, key->service, strlen(key->service), out) == 0 &&
	    hmac_sha256(out, SHA256_LEN, "aws4_request", 12, k) == 0) {
		memcpy(out, k, SHA256_LEN);
		rc = 0;
	}
	OPENSSL_cleanse(secret, secret_len);
	OPENSSL_cleanse(k, sizeof(k));
	tf_free(secret);
	return rc;
}

/* Loads k with kSigning (32 bytes): the SHA-256 states after its pads. */
static int
cache_load(struct cached_key *c, const unsigned char ks[SHA256_LEN])
{
	unsigned char pad[64];
	int i, ok;

	for (i = 0; i < 64; i++)
		pad[i] = (unsigned char)((i < SHA256_LEN ? ks[i] : 0) ^ 0x36);
	ok = EVP_DigestInit_ex(c->inner, sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c->inner, pad, 64) == 1;
	for (i = 0; i < 64; i++)
		pad[i] = (unsigned char)((i < SHA256_LEN ? ks[i] : 0) ^ 0x5c);
	ok = ok && EVP_DigestInit_ex(c->outer, sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c->outer, pad, 64) == 1;
	OPENSSL_cleanse(pad, sizeof(pad));
	return ok ? 0 : -1;
}

/* HMAC-SHA256 of data under k's key into out (work: a scratch state);
 * 0 or -1. */
static int
cache_hmac(struct cached_key *c, EVP_MD_CTX *work, const void *data,
    size_t len, unsigned char out[SHA256_LEN])
{
	unsigned char ih[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int ok;

	ok = EVP_MD_CTX_copy_ex(work, c->inner) == 1 &&
	    EVP_DigestUpdate(work, data, len) == 1 &&
	    EVP_DigestFinal_ex(work, ih, &n) == 1 && n == SHA256_LEN &&
	    EVP_MD_CTX_copy_ex(work, c->outer) == 1 &&
	    EVP_DigestUpdate(work, ih, SHA256_LEN) == 1 &&
	    EVP_DigestFinal_ex(work, out, &n) == 1 && n == SHA256_LEN;
	OPENSSL_cleanse(ih, sizeof(ih));
	return ok ? 0 : -1;
}

/* The signature of string-to-sign sts under key for amz_date's day into
 * out, through the thread's cache when the inputs fit it; 0 or -1. */
static int
signature(const struct tf_sigv4_key *key, const char *amz_date,
    const char *sts, unsigned char out[SHA256_LEN])
{
	struct signing_key_cache *c = thread_cache();
	struct cached_key *k = NULL, *e;
	unsigned char ks[SHA256_LEN];
	int i, rc;

	for (i = 0; c != NULL && i < CACHED_KEYS; i++) {
		e = &c->keys[i];
		if (e->valid && strncmp(e->date, amz_date, 8) == 0 &&
		    strcmp(e->secret, key->secret_access_key) == 0 &&
		    strcmp(e->region, key->region) == 0 &&
		    strcmp(e->service, key->service) == 0) {
			e->used = ++c->clock;
			return cache_hmac(e, c->work, sts, strlen(sts), out);
		}
		/* The entry to replace: an empty one, else the least recent. */
		if (k == NULL || (k->valid && (!e->valid || e->used < k->used)))
			k = e;
	}
	if (derive_signing_key(key, amz_date, ks) != 0)
		return -1;
	if (k != NULL && strlen(key->secret_access_key) < sizeof(k->secret) &&
	    strlen(key->region) < sizeof(k->region) &&
	    strlen(key->service) < sizeof(k->service) && cache_load(k, ks) == 0) {
		k->valid = 1;
		k->used = ++c->clock;
		snprintf(k->secret, sizeof(k->secret), "%s", key->secret_access_key);
		snprintf(k->date, sizeof(k->date), "%.8s", amz_date);
		snprintf(k->region, sizeof(k->region), "%s", key->region);
		snprintf(k->service, sizeof(k->service), "%s", key->service);
		rc = cache_hmac(k, c->work, sts, strlen(sts), out);
	} else {
		if (k != NULL)
			k->valid = 0;
		rc = hmac_sha256(ks, SHA256_LEN, sts, strlen(sts), out);
	}
	OPENSSL_cleanse(ks, sizeof(ks));
	return rc;
}

/* True unless req carries an x-amz-date header whose trimmed value is not
 * amz_date. */
static int
date_headers_match(const struct tf_sigv4_request *req, const char *amz_date)
{
	const char *v, *end;
	size_t i;

	for (i = 0; i < req->n_headers; i++) {
		if (req->headers[i].name == NULL || req->headers[i].value == NULL ||
		    !name_is(req->headers[i].name, "x-amz-date"))
			continue;
		v = req->headers[i].value;
		while (is_space((unsigned char)*v))
			v++;
		end = v + strlen(v);
		while (end > v && is_space((unsigned char)end[-1]))
			end--;
		if ((size_t)(end - v) != strlen(amz_date) ||
		    memcmp(v, amz_date, (size_t)(end - v)) != 0)
			return 0;
	}
	return 1;
}

enum tf_err
tf_sigv4_sign(const struct tf_sigv4_request *req,
    const struct tf_sigv4_key *key, time_t t, char **authorization)
{
	struct tf_buf b = TF_BUF_INIT;
	char *canonical = NULL, *signed_headers = NULL, *sts = NULL;
	unsigned char k1[SHA256_LEN], k2[SHA256_LEN];
	char amz_date[17], sig_hex[2 * SHA256_LEN + 1];
	enum tf_err rc = TF_ERR_INVALID;

	if (authorization == NULL)
		return TF_ERR_INVALID;
	*authorization = NULL;
	memset(k1, 0, sizeof(k1));
	memset(k2, 0, sizeof(k2));
	if (req == NULL || key == NULL || key->secret_access_key == NULL ||
	    !is_scope_part(key->access_key_id))
		goto out;
	rc = tf_sigv4_amz_date(t, amz_date);
	if (rc != TF_OK)
		goto out;
	rc = TF_ERR_INVALID;
	if (req->headers != NULL && !date_headers_match(req, amz_date))
		goto out;
	rc = tf_sigv4_canonical_request(req, &canonical, &signed_headers);
	if (rc != TF_OK)
		goto out;
	rc = tf_sigv4_string_to_sign(canonical, t, key->region, key->service,
	    &sts);
	if (rc != TF_OK)
		goto out;

	rc = TF_ERR_NOMEM;
	if (signature(key, amz_date, sts, k1) != 0)
		goto out;
	hex_encode(k1, SHA256_LEN, sig_hex);

	/* Plain appends, as for the canonical request: every request is
	 * signed, and printf's parsing was a tenth of the signing. */
	if ((rc = tf_buf_append_str(&b, ALGORITHM " Credential=")) != TF_OK ||
	    (rc = tf_buf_append_str(&b, key->access_key_id)) != TF_OK ||
	    (rc = tf_buf_append_char(&b, '/')) != TF_OK ||
	    (rc = tf_buf_append(&b, amz_date, 8)) != TF_OK ||
	    (rc = tf_buf_append_char(&b, '/')) != TF_OK ||
	    (rc = tf_buf_append_str(&b, key->region)) != TF_OK ||
	    (rc = tf_buf_append_char(&b, '/')) != TF_OK ||
	    (rc = tf_buf_append_str(&b, key->service)) != TF_OK ||
	    (rc = tf_buf_append_str(&b, "/aws4_request, SignedHeaders=")) != TF_OK ||
	    (rc = tf_buf_append_str(&b, signed_headers)) != TF_OK ||
	    (rc = tf_buf_append_str(&b, ", Signature=")) != TF_OK ||
	    (rc = tf_buf_append(&b, sig_hex, 2 * SHA256_LEN)) != TF_OK)
		goto out;
	*authorization = tf_buf_steal(&b);
out:
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	tf_free(sts);
	tf_free(signed_headers);
	tf_free(canonical);
	tf_buf_free(&b);
	return rc;
}
