/*
 * http_sign.c - HMAC-SHA256 signatures for webhook deliveries (http_sign.h).
 *
 * The MAC is streamed (timestamp, ".", body) through OpenSSL's EVP_MAC, so a
 * large body is not copied to be signed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base/alloc.h"
#include "webhook/http_sign.h"

void
tf_http_keys_free(struct tf_http_keys *keys)
{
	size_t i;

	for (i = 0; i < keys->n; i++) {
		OPENSSL_cleanse(keys->key[i], keys->len[i]);
		tf_free(keys->key[i]);
	}
	memset(keys, 0, sizeof(*keys));
}

enum tf_err
tf_http_keys_add(struct tf_http_keys *keys, const char *key, size_t len,
    char *errbuf, size_t errlen)
{
	if (keys->n == TF_HTTP_SIGN_KEYS_MAX) {
		tf_errf(errbuf, errlen, "signing keys: more than %d keys",
		    TF_HTTP_SIGN_KEYS_MAX);
		return TF_ERR_INVALID;
	}
	if (memchr(key, '\0', len) != NULL) {
		tf_errf(errbuf, errlen, "signing keys: key %zu holds a NUL byte",
		    keys->n + 1);
		return TF_ERR_INVALID;
	}
	if (len < TF_HTTP_SIGN_KEY_MIN) {
		tf_errf(errbuf, errlen, "signing keys: key %zu is shorter than %d "
		    "bytes", keys->n + 1, TF_HTTP_SIGN_KEY_MIN);
		return TF_ERR_INVALID;
	}
	keys->key[keys->n] = tf_strndup(key, len);
	if (keys->key[keys->n] == NULL)
		return TF_ERR_NOMEM;
	keys->len[keys->n++] = len;
	return TF_OK;
}

enum tf_err
tf_http_keys_parse(const char *text, struct tf_http_keys *keys,
    char *errbuf, size_t errlen)
{
	const char *p = text, *end;
	enum tf_err rc;

	memset(keys, 0, sizeof(*keys));
	if (text == NULL || *text == '\0')
		return TF_OK;
	for (;;) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		rc = tf_http_keys_add(keys, p, (size_t)(end - p), errbuf, errlen);
		if (rc != TF_OK) {
			tf_http_keys_free(keys);
			return rc;
		}
		if (*end == '\0')
			return TF_OK;
		p = end + 1;
	}
}

/* HMAC-SHA256 of "<ts>.<body>" under key into md (32 bytes). */
static enum tf_err
mac_one(EVP_MAC *mac, const char *key, size_t key_len, const char *ts,
    const void *body, size_t len, unsigned char *md)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t md_len = 0;
	enum tf_err rc = TF_ERR_NOMEM;

	ctx = EVP_MAC_CTX_new(mac);
	if (ctx == NULL)
		return TF_ERR_NOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, (const unsigned char *)key, key_len, params) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts)) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
	    (len == 0 || EVP_MAC_update(ctx, body, len) == 1) &&
	    EVP_MAC_final(ctx, md, &md_len, 32) == 1 && md_len == 32)
		rc = TF_OK;
	EVP_MAC_CTX_free(ctx);
	return rc;
}

enum tf_err
tf_http_sign(const struct tf_http_keys *keys, int64_t ts, const void *body,
    size_t len, struct tf_buf *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	char ts_text[24], md_hex[65];
	EVP_MAC *mac;
	size_t i, j;
	enum tf_err rc = TF_OK;

	if (keys->n == 0)
		return TF_ERR_INVALID;
	snprintf(ts_text, sizeof(ts_text), "%" PRId64, ts);
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return TF_ERR_NOMEM;
	for (i = 0; i < keys->n && rc == TF_OK; i++) {
		rc = mac_one(mac, keys->key[i], keys->len[i], ts_text, body, len, md);
		if (rc != TF_OK)
			break;
		for (j = 0; j < 32; j++) {
			md_hex[2 * j] = hex[md[j] >> 4];
			md_hex[2 * j + 1] = hex[md[j] & 15];
		}
		md_hex[64] = '\0';
		rc = tf_buf_appendf(out, "%sv1=%s", i ? "," : "", md_hex);
	}
	OPENSSL_cleanse(md, sizeof(md));
	EVP_MAC_free(mac);
	return rc;
}
