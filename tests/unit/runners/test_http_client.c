/*
 * test_http_client.c - the http runner's TLS session sharing
 * (runners/http/client.c, compiled in here: the runner's files are not in
 * the library): the ramp of new connections to an https origin, the signal
 * that its session reached libcurl's cache, and the copy of the cached
 * session each connection resumes. libcurl's part is played by a stand-in
 * new-session callback on a real OpenSSL context; no connection is made.
 */
#include "harness.h"

#include "../../../runners/http/client.c"

static int curl_kept;   /* sessions the stand-in of libcurl's callback took */

/* Plays libcurl's new-session callback: keeps the session (frees it here:
 * the test has no cache). */
static int
fake_curl_new_session(SSL *ssl, SSL_SESSION *session)
{
	curl_kept++;
	SSL_SESSION_free(session);
	return 1;
}

/* The first hop to an origin goes, the rest wait until a hop to it ended;
 * another origin has its own first hop; no origin (http): no wait. */
static void
test_ramp_first_goes_rest_wait(void)
{
	struct http_client *c = NULL;
	struct http_origin *a, *b;

	CHECK_INT_EQ(http_client_new(&c), TF_OK);
	a = http_client_origin(c, "127.0.0.1", 8443);
	b = http_client_origin(c, "127.0.0.2", 8443);
	CHECK(a != NULL && b != NULL && a != b);
	CHECK(http_client_origin(c, "127.0.0.1", 8443) == a);
	CHECK(http_origin_may_connect(a, 1000));
	CHECK(!http_origin_may_connect(a, 1001));
	CHECK(!http_origin_may_connect(a, 1000 + HTTP_RAMP_MAX_MS - 1));
	CHECK(http_origin_may_connect(b, 1001));
	CHECK(http_origin_may_connect(NULL, 1001));
	http_origin_hop_ended(a);
	CHECK(http_origin_may_connect(a, 1002));
	http_client_free(c);
}

/* A first hop that neither ends nor brings a session holds the rest for
 * HTTP_RAMP_MAX_MS at most. */
static void
test_ramp_wait_is_bounded(void)
{
	struct http_client *c = NULL;
	struct http_origin *a;

	CHECK_INT_EQ(http_client_new(&c), TF_OK);
	a = http_client_origin(c, "127.0.0.1", 443);
	CHECK(http_origin_may_connect(a, 5000));
	CHECK(!http_origin_may_connect(a, 5001));
	CHECK(http_origin_may_connect(a, 5000 + HTTP_RAMP_MAX_MS));
	CHECK(http_origin_may_connect(a, 5001));
	http_client_free(c);
}

/* A session libcurl keeps for a connection's context makes its origin warm
 * (the waiting hops go), and each connection released its idle buffers. */
static void
test_session_cached_warms_origin(void)
{
	struct http_client *c = NULL;
	struct http_origin *a;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	SSL_SESSION *s = NULL;
	new_session_fn *cb;

	CHECK_INT_EQ(http_client_new(&c), TF_OK);
	a = http_client_origin(c, "127.0.0.1", 443);
	CHECK(http_origin_may_connect(a, 0));
	CHECK(!http_origin_may_connect(a, 1));
	ctx = SSL_CTX_new(TLS_client_method());
	CHECK(ctx != NULL);
	SSL_CTX_sess_set_new_cb(ctx, fake_curl_new_session);
	CHECK_INT_EQ(http_client_ssl_ctx(NULL, ctx, a), CURLE_OK);
	CHECK((SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS) != 0);
	cb = SSL_CTX_sess_get_new_cb(ctx);
	CHECK(cb != NULL && cb != fake_curl_new_session);
	ssl = SSL_new(ctx);
	s = SSL_SESSION_new();
	CHECK(ssl != NULL && s != NULL);
	curl_kept = 0;
	CHECK_INT_EQ(cb(ssl, s), 1);
	s = NULL;
	CHECK_INT_EQ(curl_kept, 1);
	CHECK(http_origin_may_connect(a, 2));
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	http_client_free(c);
}

/* At a handshake's start a connection set to resume the cached session
 * gets a copy of it: OpenSSL's marking of a resumed TLS 1.3 session (not
 * resumable) must not reach the cache's object. */
static void
test_handshake_resumes_a_copy(void)
{
	struct http_client *c = NULL;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL, *plain = NULL;
	SSL_SESSION *cached = NULL;
	void (*info)(const SSL *, int, int);

	CHECK_INT_EQ(http_client_new(&c), TF_OK);
	ctx = SSL_CTX_new(TLS_client_method());
	CHECK(ctx != NULL);
	SSL_CTX_sess_set_new_cb(ctx, fake_curl_new_session);
	CHECK_INT_EQ(http_client_ssl_ctx(NULL, ctx,
	    http_client_origin(c, "127.0.0.1", 443)), CURLE_OK);
	info = SSL_CTX_get_info_callback(ctx);
	CHECK(info != NULL);
	ssl = SSL_new(ctx);
	plain = SSL_new(ctx);
	cached = SSL_SESSION_new();
	CHECK(ssl != NULL && plain != NULL && cached != NULL);
	CHECK_INT_EQ(SSL_set_session(ssl, cached), 1);
	info(ssl, SSL_CB_HANDSHAKE_START, 1);
	CHECK(SSL_get_session(ssl) != NULL);
	CHECK(SSL_get_session(ssl) != cached);
	/* Other events, and a connection with no session, are left alone. */
	info(plain, SSL_CB_HANDSHAKE_START, 1);
	CHECK(SSL_get_session(plain) == NULL);
	SSL_SESSION_free(cached);
	SSL_free(ssl);
	SSL_free(plain);
	SSL_CTX_free(ctx);
	http_client_free(c);
}

int
main(void)
{
	TF_RUN(test_ramp_first_goes_rest_wait);
	TF_RUN(test_ramp_wait_is_bounded);
	TF_RUN(test_session_cached_warms_origin);
	TF_RUN(test_handshake_resumes_a_copy);
	return tf_test_summary();
}
