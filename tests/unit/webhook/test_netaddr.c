/* test_netaddr.c - address classes, the TASKFLEET_HTTP_ALLOW list and the
 * TASKFLEET_HTTP_TARGETS list.
 *
 * Every address is built in memory with inet_pton; nothing here looks up a
 * name or opens a socket. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "base/alloc.h"
#include "base/err.h"
#include "webhook/netaddr.h"

#define PUB TF_ADDR_PUBLIC
#define LOOP TF_ADDR_LOOPBACK
#define PRIV TF_ADDR_PRIVATE
#define LINK TF_ADDR_LINK_LOCAL
#define META TF_ADDR_METADATA
#define MCAST TF_ADDR_MULTICAST
#define UNSPEC TF_ADDR_UNSPECIFIED
#define RSVD TF_ADDR_RESERVED

/* Fills *ss with the numeric address text and port; false when it does not
 * parse. The address is copied in, so no cast depends on alignment. */
static bool
make_sa_port(const char *text, unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(ss, 0, sizeof(*ss));
	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, text, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		memcpy(ss, &sin, sizeof(sin));
		return true;
	}
	if (inet_pton(AF_INET6, text, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons((uint16_t)port);
		memcpy(ss, &sin6, sizeof(sin6));
		return true;
	}
	return false;
}

/* make_sa_port() with port 443. */
static bool
make_sa(const char *text, struct sockaddr_storage *ss)
{
	return make_sa_port(text, 443, ss);
}

#define SA(ss) ((const struct sockaddr *)(ss))

/* ---- Classification ------------------------------------------------- */

struct class_case {
	const char *ip;
	enum tf_addr_class cls;
};

/* Both sides of every range boundary, and the IPv6 forms embedding IPv4. */
static const struct class_case class_cases[] = {
	/* IPv4 public */
	{ "8.8.8.8", PUB },
	{ "1.1.1.1", PUB },
	{ "223.255.255.255", PUB },
	/* 0.0.0.0/8 */
	{ "0.0.0.0", UNSPEC },
	{ "0.255.255.255", UNSPEC },
	{ "1.0.0.0", PUB },
	/* 10.0.0.0/8 */
	{ "9.255.255.255", PUB },
	{ "10.0.0.0", PRIV },
	{ "10.255.255.255", PRIV },
	{ "11.0.0.0", PUB },
	/* 100.64.0.0/10, with Alibaba's metadata address inside it */
	{ "100.63.255.255", PUB },
	{ "100.64.0.0", PRIV },
	{ "100.100.100.199", PRIV },
	{ "100.100.100.200", META },
	{ "100.100.100.201", PRIV },
	{ "100.127.255.255", PRIV },
	{ "100.128.0.0", PUB },
	/* 127.0.0.0/8 */
	{ "126.255.255.255", PUB },
	{ "127.0.0.0", LOOP },
	{ "127.0.0.1", LOOP },
	{ "127.255.255.255", LOOP },
	{ "128.0.0.0", PUB },
	/* 169.254.0.0/16 and the metadata addresses in it */
	{ "169.253.255.255", PUB },
	{ "169.254.0.0", LINK },
	{ "169.254.169.253", LINK },
	{ "169.254.169.254", META },
	{ "169.254.169.255", LINK },
	{ "169.254.170.1", LINK },
	{ "169.254.170.2", META },
	{ "169.254.170.3", LINK },
	{ "169.254.170.23", META },
	{ "169.254.255.255", LINK },
	{ "169.255.0.0", PUB },
	/* 172.16.0.0/12 */
	{ "172.15.255.255", PUB },
	{ "172.16.0.0", PRIV },
	{ "172.31.255.255", PRIV },
	{ "172.32.0.0", PUB },
	/* 192.0.0.0/24, 192.0.2.0/24 */
	{ "191.255.255.255", PUB },
	{ "192.0.0.0", RSVD },
	{ "192.0.0.255", RSVD },
	{ "192.0.1.0", PUB },
	{ "192.0.2.0", RSVD },
	{ "192.0.2.255", RSVD },
	{ "192.0.3.0", PUB },
	/* 192.168.0.0/16 */
	{ "192.167.255.255", PUB },
	{ "192.168.0.0", PRIV },
	{ "192.168.255.255", PRIV },
	{ "192.169.0.0", PUB },
	/* 198.18.0.0/15 */
	{ "198.17.255.255", PUB },
	{ "198.18.0.0", RSVD },
	{ "198.19.255.255", RSVD },
	{ "198.20.0.0", PUB },
	/* 198.51.100.0/24 */
	{ "198.51.99.255", PUB },
	{ "198.51.100.0", RSVD },
	{ "198.51.100.255", RSVD },
	{ "198.51.101.0", PUB },
	/* 203.0.113.0/24 */
	{ "203.0.112.255", PUB },
	{ "203.0.113.0", RSVD },
	{ "203.0.113.255", RSVD },
	{ "203.0.114.0", PUB },
	/* 224.0.0.0/4, 240.0.0.0/4 */
	{ "224.0.0.0", MCAST },
	{ "239.255.255.255", MCAST },
	{ "240.0.0.0", RSVD },
	{ "255.255.255.255", RSVD },

	/* IPv6 specials */
	{ "::", UNSPEC },
	{ "::1", LOOP },
	{ "2606:4700::1", PUB },
	{ "2001:4860:4860::8888", PUB },
	/* 2000::/3 and what lies outside it */
	{ "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RSVD },
	{ "2000::", PUB },
	{ "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PUB },
	{ "4000::", RSVD },
	{ "5f00::1", RSVD },
	/* 3fff::/20 documentation */
	{ "3fff::", RSVD },
	{ "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", RSVD },
	{ "3fff:1000::", PUB },
	/* 2001::/32 Teredo, 2001:2::/48 benchmarking, 2001:db8::/32 */
	{ "2001::1", RSVD },
	{ "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", RSVD },
	{ "2001:1::1", PUB },
	{ "2001:2::1", RSVD },
	{ "2001:2:0:ffff:ffff:ffff:ffff:ffff", RSVD },
	{ "2001:2:1::", PUB },
	{ "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", PUB },
	{ "2001:db8::", RSVD },
	{ "2001:db8::1", RSVD },
	{ "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", RSVD },
	{ "2001:db9::", PUB },
	/* 100::/64 discard */
	{ "100::", RSVD },
	{ "100::ffff:ffff:ffff:ffff", RSVD },
	/* fc00::/7 and the metadata addresses in it */
	{ "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RSVD },
	{ "fc00::", PRIV },
	{ "fc00::1", PRIV },
	{ "fd00:ec2::23", META },
	{ "fd00:ec2::253", PRIV },
	{ "fd00:ec2::254", META },
	{ "fd00:ec2::255", PRIV },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PRIV },
	{ "fe00::", RSVD },
	/* fe80::/10 link-local, fec0::/10 old site-local */
	{ "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", RSVD },
	{ "fe80::", LINK },
	{ "fe80::1", LINK },
	{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", LINK },
	{ "fec0::", PRIV },
	{ "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PRIV },
	/* ff00::/8 */
	{ "ff00::", MCAST },
	{ "ff02::1", MCAST },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", MCAST },

	/* IPv4-mapped ::ffff:0:0/96 */
	{ "::ffff:127.0.0.1", LOOP },
	{ "::ffff:10.1.2.3", PRIV },
	{ "::ffff:172.16.0.1", PRIV },
	{ "::ffff:169.254.1.1", LINK },
	{ "::ffff:169.254.169.254", META },
	{ "::ffff:0.0.0.0", UNSPEC },
	{ "::ffff:8.8.8.8", PUB },
	/* IPv4-compatible ::/96 (:: and ::1 are not) */
	{ "::127.0.0.1", LOOP },
	{ "::10.0.0.1", PRIV },
	{ "::169.254.169.254", META },
	{ "::0.0.0.2", UNSPEC },
	{ "::8.8.8.8", PUB },
	/* NAT64 64:ff9b::/96, and local-use 64:ff9b:1::/48 */
	{ "64:ff9b::127.0.0.1", LOOP },
	{ "64:ff9b::192.168.1.1", PRIV },
	{ "64:ff9b::a9fe:a9fe", META },
	{ "64:ff9b::8.8.8.8", PUB },
	{ "64:ff9b:1::1", PRIV },
	{ "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", PRIV },
	{ "64:ff9b:2::", RSVD },
	/* 6to4 2002::/16: the IPv4 address in bits 16 to 47 */
	{ "2002:7f00:1::", LOOP },
	{ "2002:a00:1::1", PRIV },
	{ "2002:c0a8:101::", PRIV },
	{ "2002:a9fe:a9fe::1", META },
	{ "2002:808:808::1", PUB },
	/* Not IPv4 forms: SIIT ::ffff:0:0:0/96 lies outside 2000::/3 */
	{ "::ffff:0:7f00:1", RSVD },
};

static void
check_class_case(const struct class_case *c)
{
	struct sockaddr_storage ss;
	bool ok = false;

	CHECK_MSG(make_sa(c->ip, &ss), "%s does not parse", c->ip);
	CHECK_STR_EQ(tf_addr_class_name(tf_addr_classify(SA(&ss))),
	    tf_addr_class_name(c->cls));
	CHECK_INT_EQ(tf_addr_classify_text(c->ip, &ok), c->cls);
	CHECK(ok);
}

static void
test_class_names(void)
{
	CHECK_STR_EQ(tf_addr_class_name(TF_ADDR_PUBLIC), "public");
	CHECK_STR_EQ(tf_addr_class_name(TF_ADDR_LOOPBACK), "loopback");
	CHECK_STR_EQ(tf_addr_class_name(TF_ADDR_PRIVATE), "private");
	CHECK_STR_EQ(tf_addr_class_name(TF_ADDR_LINK_LOCAL), "link-local");
	CHECK_STR_EQ(tf_addr_class_name(TF_ADDR_METADATA), "metadata");
	CHECK_STR_EQ(tf_addr_class_name(TF_ADDR_MULTICAST), "multicast");
	CHECK_STR_EQ(tf_addr_class_name(TF_ADDR_UNSPECIFIED), "unspecified");
	CHECK_STR_EQ(tf_addr_class_name(TF_ADDR_RESERVED), "reserved");
	CHECK_STR_EQ(tf_addr_class_name((enum tf_addr_class)99), "unknown");
}

static void
test_classify_bad_input(void)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "[::1]",
		"::1%lo", "fe80::1%1", "::g", "localhost", " 127.0.0.1",
		"10.0.0.0/8",
	};
	struct sockaddr_un un;
	struct sockaddr_storage ss;
	bool ok;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ok = true;
		CHECK_INT_EQ(tf_addr_classify_text(bad[i], &ok), TF_ADDR_RESERVED);
		CHECK_MSG(!ok, "%s parsed", bad[i]);
	}
	ok = true;
	CHECK_INT_EQ(tf_addr_classify_text(NULL, &ok), TF_ADDR_RESERVED);
	CHECK(!ok);
	/* ok may be NULL. */
	CHECK_INT_EQ(tf_addr_classify_text("127.0.0.1", NULL), TF_ADDR_LOOPBACK);
	/* Other families and NULL are reserved. */
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &un, sizeof(un));
	CHECK_INT_EQ(tf_addr_classify(SA(&ss)), TF_ADDR_RESERVED);
	CHECK_INT_EQ(tf_addr_classify(NULL), TF_ADDR_RESERVED);
}

static void
test_format(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "127.0.0.1", "127.0.0.1" },
		{ "::1", "::1" },
		{ "::ffff:127.0.0.1", "::ffff:127.0.0.1" },
		{ "0:0:0:0:0:ffff:7f00:1", "::ffff:127.0.0.1" },
		{ "2606:4700:0:0:0:0:0:1", "2606:4700::1" },
		{ "FD00:EC2::254", "fd00:ec2::254" },
		{ "255.255.255.255", "255.255.255.255" },
	};
	struct sockaddr_storage ss;
	struct sockaddr_un un;
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(make_sa(cases[i].in, &ss));
		tf_addr_format(SA(&ss), buf, sizeof(buf));
		CHECK_STR_EQ(buf, cases[i].out);
	}
	/* A short buffer is cut and terminated; len 0 writes nothing. */
	CHECK(make_sa("127.0.0.1", &ss));
	tf_addr_format(SA(&ss), buf, 6);
	CHECK_STR_EQ(buf, "127.0");
	strcpy(buf, "untouched");
	tf_addr_format(SA(&ss), buf, 0);
	CHECK_STR_EQ(buf, "untouched");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &un, sizeof(un));
	tf_addr_format(SA(&ss), buf, sizeof(buf));
	CHECK_STR_EQ(buf, "(address family 1)");
	tf_addr_format(NULL, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "(no address)");
}

/* ---- Parsing TASKFLEET_HTTP_ALLOW ----------------------------------- */

/* Parses text as an allow list, or with targets as a target list, and
 * frees it. Returns the result; *count gets the entries, *set whether the
 * list pointer was set (non-NULL) afterwards. */
static enum tf_err
parse_either(bool targets, const char *text, char *err, size_t errlen,
    size_t *count, bool *set)
{
	/* Not NULL before, so a parse that leaves it alone is seen. */
	struct tf_allow_list *a = (struct tf_allow_list *)1;
	struct tf_target_list *t = (struct tf_target_list *)1;
	enum tf_err rc;

	*count = 0;
	if (targets) {
		rc = tf_target_list_parse(text, &t, err, errlen);
		*set = t != NULL;
		if (t != (struct tf_target_list *)1) {
			*count = tf_target_list_count(t);
			tf_target_list_free(t);
		}
	} else {
		rc = tf_allow_list_parse(text, &a, err, errlen);
		*set = a != NULL;
		if (a != (struct tf_allow_list *)1) {
			*count = tf_allow_list_count(a);
			tf_allow_list_free(a);
		}
	}
	return rc;
}

/* Parses text (as parse_either()), expecting success with count entries. */
static bool
list_parses(bool targets, const char *text, size_t count)
{
	char err[256] = "";
	size_t n;
	bool set;
	enum tf_err rc = parse_either(targets, text, err, sizeof(err), &n, &set);
	bool good = rc == TF_OK && set && n == count && err[0] == '\0';

	if (!good)
		printf("# %s: rc %d, %zu entries, \"%s\"\n", text, (int)rc, n, err);
	return good;
}

/* Parses text as an allow list, expecting success with count entries. */
static bool
parses(const char *text, size_t count)
{
	return list_parses(false, text, count);
}

/* name: "a" repeated n times. */
static void
repeat(char *out, char c, size_t n)
{
	memset(out, c, n);
	out[n] = '\0';
}

static void
test_parse_good(void)
{
	char text[600], label[70];

	CHECK(parses(NULL, 0));
	CHECK(parses("", 0));
	CHECK(parses(" \t ", 0));
	CHECK(parses("127.0.0.1", 1));
	CHECK(parses(" 127.0.0.1 ", 1));
	CHECK(parses("127.0.0.1/32,10.0.0.0/8,172.16.0.0/12,0.0.0.0/0", 4));
	CHECK(parses("::1,fd00::/8,::/0,fe80::/10,::ffff:127.0.0.1,"
	    "::ffff:0:0/96,fd00:ec2::254/128", 7));
	CHECK(parses("[::1], [fd00::]/8 ,[fd00:ec2::254]/128", 3));
	CHECK(parses("  hooks.example.com ,\tHOOKS.Example.COM.,localhost,internal", 4));
	CHECK(parses("*.example.com,*.a.b.example.com.,*.home.arpa,*.internal,"
	    "*.local,*.localhost,*.test,*.INTERNAL.", 8));
	CHECK(parses("a-b.c-d,xn--bcher-kva.example,123.example,a1.b2", 4));
	CHECK(parses("10.0.0.0/08,10.0.0.0/008", 2));
	/* Labels up to 63 characters, names up to 253. */
	repeat(label, 'a', 63);
	snprintf(text, sizeof(text), "%s.example", label);
	CHECK(parses(text, 1));
	/* 4 labels of 63 + 3 dots = 255: too long; 3 of 63 + 61 + 3 dots = 253. */
	snprintf(text, sizeof(text), "%s.%s.%s.", label, label, label);
	repeat(text + strlen(text), 'b', 61);
	CHECK_INT_EQ(strlen(text), 253);
	CHECK(parses(text, 1));
	/* ... also with its trailing dot. */
	strcat(text, ".");
	CHECK(parses(text, 1));
	/* A wildcard's whole form counts: "*." and 251 characters. */
	snprintf(text, sizeof(text), "*.%s.%s.%s.", label, label, label);
	repeat(text + strlen(text), 'b', 59);
	CHECK_INT_EQ(strlen(text), 253);
	CHECK(parses(text, 1));
	CHECK_INT_EQ(tf_allow_list_count(NULL), 0);
}

struct parse_error {
	const char *text;
	const char *message;
};

static const struct parse_error parse_errors[] = {
	{ "a.example, b.example, 10.0.0.0/33",
	  "TASKFLEET_HTTP_ALLOW: entry 3 \"10.0.0.0/33\": prefix length must be 0 to 32" },
	{ "fd00::/129",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"fd00::/129\": prefix length must be 0 to 128" },
	{ "10.0.0.0/",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"10.0.0.0/\": prefix length must be 0 to 32" },
	{ "10.0.0.0/x",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"10.0.0.0/x\": prefix length must be 0 to 32" },
	{ "10.0.0.0/-1",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"10.0.0.0/-1\": prefix length must be 0 to 32" },
	{ "10.0.0.0/0008",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"10.0.0.0/0008\": prefix length must be 0 to 32" },
	{ "10.0.0.0/ 8",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"10.0.0.0/ 8\": prefix length must be 0 to 32" },
	{ "10.0.0.1/8",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"10.0.0.1/8\": host bits set; did you mean 10.0.0.0/8?" },
	{ "192.168.1.1/23",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"192.168.1.1/23\": host bits set; did you mean 192.168.0.0/23?" },
	{ "127.0.0.1/0",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"127.0.0.1/0\": host bits set; did you mean 0.0.0.0/0?" },
	{ "fd00::1/8",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"fd00::1/8\": host bits set; did you mean fd00::/8?" },
	{ "x.example,[fe80::1]/10",
	  "TASKFLEET_HTTP_ALLOW: entry 2 \"[fe80::1]/10\": host bits set; did you mean fe80::/10?" },
	{ "a,,b",
	  "TASKFLEET_HTTP_ALLOW: entry 2 \"\": empty entry (two commas in a row, or a comma at either end)" },
	{ "a,",
	  "TASKFLEET_HTTP_ALLOW: entry 2 \"\": empty entry (two commas in a row, or a comma at either end)" },
	{ ",a",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"\": empty entry (two commas in a row, or a comma at either end)" },
	{ " , ",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"\": empty entry (two commas in a row, or a comma at either end)" },
	{ "*",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"*\": \"*\" alone would open every host name; list the names, or a domain as \"*.example.com\"" },
	{ "*.com",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"*.com\": too broad: a wildcard needs at least two labels after \"*.\" (\"*.example.com\"), unless the top-level domain is reserved for private use (internal, local, localhost, test)" },
	{ "*.lan.",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"*.lan.\": too broad: a wildcard needs at least two labels after \"*.\" (\"*.example.com\"), unless the top-level domain is reserved for private use (internal, local, localhost, test)" },
	{ "*.",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"*.\": empty host name" },
	{ ".",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \".\": not a valid IPv4 address" },
	{ "a.*.com",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"a.*.com\": '*' may only be the whole first label, as in \"*.example.com\"" },
	{ "*example.com",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"*example.com\": '*' may only be the whole first label, as in \"*.example.com\"" },
	{ "*.*.example.com",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"*.*.example.com\": '*' may only be the whole first label, as in \"*.example.com\"" },
	{ "a..b",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"a..b\": empty label in host name" },
	{ ".example.com",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \".example.com\": empty label in host name" },
	{ "example.com..",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"example.com..\": empty label in host name" },
	{ "a_b.example",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"a_b.example\": '_' is not allowed in a host name" },
	{ "a b",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"a b\": ' ' is not allowed in a host name" },
	{ "a\"b",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"a?b\": '\"' is not allowed in a host name" },
	{ "caf\xc3\xa9.example",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"caf??.example\": byte 0xc3 is not allowed in a host name" },
	{ "10.0.0",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"10.0.0\": not a valid IPv4 address" },
	{ "256.1.1.1",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"256.1.1.1\": not a valid IPv4 address" },
	{ "01.2.3.4",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"01.2.3.4\": not a valid IPv4 address" },
	{ "10.0.0.1.",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"10.0.0.1.\": not a valid IPv4 address" },
	{ "example.123",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"example.123\": not a valid IPv4 address, and a host name cannot end in an all-digit label" },
	{ "0x7f.1",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"0x7f.1\": not a valid IPv4 address, and a host name cannot end in an all-digit label" },
	{ "::g",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"::g\": not a valid IPv6 address" },
	{ "fe80::1%eth0",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"fe80::1%eth0\": not a valid IPv6 address" },
	{ "example.com:8080",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"example.com:8080\": not a valid IPv6 address" },
	{ "example.com/8",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"example.com/8\": not an IP address or CIDR range" },
	{ "/8",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"/8\": not an IP address or CIDR range" },
	{ "[::1",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"[::1\": '[' without ']'" },
	{ "[::1]x",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"[::1]x\": text after ']' (a prefix length is written \"[fd00::]/8\")" },
	{ "[fd00::/8]",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"[fd00::/8]\": not a valid IPv6 address" },
	{ "[127.0.0.1]",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"[127.0.0.1]\": brackets are only for IPv6 addresses" },
	{ "[]",
	  "TASKFLEET_HTTP_ALLOW: entry 1 \"[]\": not an IP address or CIDR range" },
};

/* Parses c->text (as parse_either()), expecting c->message and no list. */
static void
check_error(bool targets, const struct parse_error *c)
{
	char err[512];
	size_t n;
	bool set;

	CHECK_INT_EQ(parse_either(targets, c->text, err, sizeof(err), &n, &set),
	    TF_ERR_INVALID);
	CHECK(!set);
	CHECK_STR_EQ(err, c->message);
}

static void
check_parse_error(const struct parse_error *c)
{
	check_error(false, c);
}

static void
test_parse_long_names(void)
{
	struct tf_allow_list *l = NULL;
	char text[600], label[70], err[512], expect[512];

	/* A 64-character label. */
	repeat(label, 'a', 64);
	snprintf(text, sizeof(text), "%s.example", label);
	CHECK_INT_EQ(tf_allow_list_parse(text, &l, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(strstr(err, "\": label longer than 63 characters") != NULL);
	CHECK(strncmp(err, "TASKFLEET_HTTP_ALLOW: entry 1 \"aaaa", 35) == 0);
	/* 254 characters: 3 labels of 63, 62 more and 3 dots. */
	repeat(label, 'a', 63);
	snprintf(text, sizeof(text), "ok.example,%s.%s.%s.", label, label, label);
	repeat(text + strlen(text), 'b', 62);
	CHECK_INT_EQ(strlen(text), 11 + 254);
	CHECK_INT_EQ(tf_allow_list_parse(text, &l, err, sizeof(err)), TF_ERR_INVALID);
	/* The quote is cut at 64 characters, with "...". */
	snprintf(expect, sizeof(expect), "TASKFLEET_HTTP_ALLOW: entry 2 \"%s."
	    "...\": host name longer than 253 characters", label);
	CHECK_STR_EQ(err, expect);
	/* A wildcard of 254 characters with its "*.". */
	snprintf(text, sizeof(text), "*.%s.%s.%s.", label, label, label);
	repeat(text + strlen(text), 'b', 60);
	CHECK_INT_EQ(strlen(text), 254);
	CHECK_INT_EQ(tf_allow_list_parse(text, &l, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(strstr(err, "\": host name longer than 253 characters") != NULL);
	/* Far longer than any entry can be. */
	repeat(text, 'a', 400);
	CHECK_INT_EQ(tf_allow_list_parse(text, &l, err, sizeof(err)), TF_ERR_INVALID);
	CHECK(strstr(err, "...\": too long for a host name or address") != NULL);
	CHECK(l == NULL);
}

static void
test_parse_errbuf(void)
{
	struct tf_allow_list *l = NULL;
	char small[16];

	/* No error buffer at all, or a small one that is cut. */
	CHECK_INT_EQ(tf_allow_list_parse("10.0.0.0/33", &l, NULL, 0), TF_ERR_INVALID);
	CHECK(l == NULL);
	CHECK_INT_EQ(tf_allow_list_parse("10.0.0.0/33", &l, small, sizeof(small)),
	    TF_ERR_INVALID);
	CHECK_STR_EQ(small, "TASKFLEET_HTTP_");
	/* Success clears it. */
	CHECK_INT_EQ(tf_allow_list_parse("10.0.0.0/8", &l, small, sizeof(small)), TF_OK);
	CHECK_STR_EQ(small, "");
	tf_allow_list_free(l);
	tf_allow_list_free(NULL);
}

/* Parses text (as parse_either()) while every allocation in turn fails:
 * each run must fail cleanly, until one passes with count entries. */
static void
check_nomem(bool targets, const char *text, size_t count)
{
	enum tf_err rc = TF_ERR_NOMEM;
	size_t entries = 0;
	bool set = false;
	long n;

	for (n = 0; n < 100; n++) {
		tf_alloc_fail_after(n);
		rc = parse_either(targets, text, NULL, 0, &entries, &set);
		tf_alloc_fail_after(-1);
		if (rc == TF_OK)
			break;
		CHECK_INT_EQ(rc, TF_ERR_NOMEM);
		CHECK(!set);
	}
	CHECK_INT_EQ(rc, TF_OK);
	CHECK(n >= 4);
	CHECK_INT_EQ(entries, count);
}

static void
test_parse_nomem(void)
{
	check_nomem(false, "a.example, *.b.example, 10.0.0.0/8, [::1], C.Example.",
	    5);
}

/* ---- Deciding ------------------------------------------------------- */

/* Parses list (must succeed) and asks whether host may reach ip; *why gets
 * the reason. */
static bool
permits(const char *list, const char *host, const char *ip, char *why,
    size_t whylen)
{
	struct tf_allow_list *l = NULL;
	struct sockaddr_storage ss;
	char err[256];
	bool ok;

	if (tf_allow_list_parse(list, &l, err, sizeof(err)) != TF_OK) {
		printf("# list %s: %s\n", list, err);
		snprintf(why, whylen, "list did not parse");
		return false;
	}
	if (!make_sa(ip, &ss)) {
		tf_allow_list_free(l);
		snprintf(why, whylen, "address did not parse");
		return false;
	}
	ok = tf_allow_list_permits(l, host, SA(&ss), why, whylen);
	tf_allow_list_free(l);
	return ok;
}

struct permit_case {
	const char *list;
	const char *host;
	const char *ip;
	bool allowed;
};

static const struct permit_case permit_cases[] = {
	/* Loopback */
	{ "", "localhost", "127.0.0.1", false },
	{ "127.0.0.1", "localhost", "127.0.0.1", true },
	{ "127.0.0.0/8", "localhost", "127.0.0.1", true },
	{ "127.0.0.2", "localhost", "127.0.0.1", false },
	{ "127.0.0.0/31", "localhost", "127.0.0.1", true },
	{ "127.0.0.0/31", "localhost", "127.0.0.2", false },
	{ "10.0.0.0/8, 127.0.0.1", "localhost", "127.0.0.1", true },
	{ "0.0.0.0/0", "x", "127.0.0.1", true },
	{ "localhost", "localhost", "127.0.0.1", true },
	{ "localhost", "LOCALHOST.", "127.0.0.1", true },
	{ "localhost", "localhost.localdomain", "127.0.0.1", false },
	{ "localhost", "127.0.0.1", "127.0.0.1", false },
	/* IPv4 forms in IPv6 match the IPv4 entries */
	{ "127.0.0.1", "x", "::ffff:127.0.0.1", true },
	{ "127.0.0.2", "x", "::ffff:127.0.0.1", false },
	{ "127.0.0.0/8", "x", "::127.0.0.1", true },
	{ "127.0.0.1", "x", "64:ff9b::7f00:1", true },
	{ "10.0.0.0/8", "x", "::ffff:10.9.8.7", true },
	{ "10.0.0.0/8", "x", "::ffff:11.0.0.1", true },  /* public anyway */
	/* ... and the IPv6 entries too */
	{ "::ffff:0:0/96", "x", "::ffff:10.9.8.7", true },
	/* 6to4 is classified by its IPv4 address but not matched as it */
	{ "127.0.0.1", "x", "2002:7f00:1::", false },
	{ "2002::/16", "x", "2002:7f00:1::", true },
	/* IPv6 loopback is not IPv4 loopback */
	{ "127.0.0.1", "x", "::1", false },
	{ "::1", "x", "::1", true },
	{ "[::1]", "::1", "::1", true },
	{ "::/0", "x", "::1", true },
	{ "0.0.0.0/0", "x", "::1", false },
	/* Private, link-local, ULA */
	{ "", "db.example", "10.1.2.3", false },
	{ "10.0.0.0/8", "db.example", "10.1.2.3", true },
	{ "10.0.0.0/16", "db.example", "10.1.2.3", false },
	{ "fd00::/8", "x", "fd12:3456::1", true },
	{ "fd00::/8", "x", "fc00::1", false },
	{ "fc00::/7", "x", "fc00::1", true },
	{ "[fe80::]/10", "x", "fe80::1", true },
	{ "169.254.0.0/16", "x", "169.254.169.253", true },
	{ "", "x", "169.254.169.253", false },
	/* Host names */
	{ "*.internal", "hooks.internal", "10.0.0.5", true },
	{ "*.internal", "a.b.hooks.internal", "10.0.0.5", true },
	{ "*.internal", "HOOKS.Internal.", "10.0.0.5", true },
	{ "*.internal", "internal", "10.0.0.5", false },
	{ "*.internal", "xinternal", "10.0.0.5", false },
	{ "*.internal", ".internal", "10.0.0.5", false },
	{ "*.internal", "a..internal", "10.0.0.5", false },
	{ "*.internal", "hooks.internal.evil.example", "10.0.0.5", false },
	{ "*.internal", NULL, "10.0.0.5", false },
	{ "*.internal", "", "10.0.0.5", false },
	{ "*.example.com", "example.com", "10.0.0.5", false },
	{ "*.example.com", "a.example.com", "10.0.0.5", true },
	{ "*.example.com", "a.b.example.com", "10.0.0.5", true },
	{ "*.example.com", "aexample.com", "10.0.0.5", false },
	/* Long enough for the suffix and a label, but no dot before it */
	{ "*.example.com", "evilexample.com", "10.0.0.5", false },
	{ "*.internal", "my-internal", "10.0.0.5", false },
	{ "hooks.example.com", "hooks.example.com", "192.168.1.10", true },
	{ "Hooks.Example.Com.", "hooks.example.COM", "192.168.1.10", true },
	{ "hooks.example.com", "a.hooks.example.com", "192.168.1.10", false },
	{ "hooks.example.com", "hooks.example.co", "192.168.1.10", false },
	{ "hooks.example.com", "hooks.example.comm", "192.168.1.10", false },
	/* A name opens every class but metadata, for that name only. */
	{ "hooks.internal", "hooks.internal", "::1", true },
	{ "hooks.internal", "hooks.internal", "0.0.0.0", true },
	{ "hooks.internal", "other.internal", "0.0.0.0", false },
	/* Metadata: only an exact single-address entry */
	{ "", "169.254.169.254", "169.254.169.254", false },
	{ "169.254.0.0/16", "169.254.169.254", "169.254.169.254", false },
	{ "169.254.169.254/31", "x", "169.254.169.254", false },
	{ "0.0.0.0/0", "x", "169.254.169.254", false },
	{ "metadata.internal", "metadata.internal", "169.254.169.254", false },
	{ "*.internal", "metadata.internal", "169.254.169.254", false },
	{ "169.254.169.254", "169.254.169.254", "169.254.169.254", true },
	{ "169.254.169.254/32", "x", "169.254.169.254", true },
	{ "169.254.169.254", "x", "::ffff:169.254.169.254", true },
	{ "169.254.169.254", "x", "169.254.170.2", false },
	{ "169.254.170.2", "x", "169.254.170.2", true },
	{ "169.254.170.2", "x", "169.254.170.23", false },
	{ "100.64.0.0/10", "x", "100.100.100.200", false },
	{ "100.64.0.0/10", "x", "100.100.100.201", true },
	{ "fd00::/8", "x", "fd00:ec2::254", false },
	{ "fd00:ec2::/32", "x", "fd00:ec2::254", false },
	{ "::/0", "x", "fd00:ec2::254", false },
	{ "fd00:ec2::254", "x", "fd00:ec2::254", true },
	{ "[fd00:ec2::254]/128", "x", "fd00:ec2::254", true },
	{ "fd00:ec2::254", "x", "fd00:ec2::23", false },
	/* Public is always allowed, whatever the list and host */
	{ "", "example.com", "8.8.8.8", true },
	{ "", NULL, "8.8.8.8", true },
	{ "10.0.0.0/8", "example.com", "2606:4700::1", true },
	{ "", "x", "::ffff:8.8.8.8", true },
	{ "", "x", "2002:808:808::1", true },
	/* Reserved, multicast and unspecified are refused unless opened */
	{ "", "x", "192.0.2.1", false },
	{ "192.0.2.0/24", "x", "192.0.2.1", true },
	{ "", "x", "ff02::1", false },
	{ "", "x", "0.0.0.0", false },
	{ "", "x", "::", false },
	{ "", "x", "2001:db8::1", false },
};

static void
check_permit_case(const struct permit_case *c)
{
	char why[256] = "unset";
	bool ok = permits(c->list, c->host, c->ip, why, sizeof(why));

	CHECK_MSG(ok == c->allowed, "expected %s; why: %s",
	    c->allowed ? "allowed" : "refused", why);
	/* why is empty exactly when allowed. */
	CHECK_MSG((why[0] == '\0') == c->allowed, "why: \"%s\"", why);
}

static void
test_permits_why(void)
{
	struct tf_allow_list *l = NULL;
	struct sockaddr_storage ss;
	struct sockaddr_un un;
	char why[256], tiny[10];

	CHECK(!permits("", "localhost", "127.0.0.1", why, sizeof(why)));
	CHECK_STR_EQ(why, "127.0.0.1 is a loopback address (host \"localhost\"); "
	    "allow it with TASKFLEET_HTTP_ALLOW");
	CHECK(!permits("127.0.0.2", "localhost", "::ffff:127.0.0.1", why, sizeof(why)));
	CHECK_STR_EQ(why, "::ffff:127.0.0.1 is a loopback address (host "
	    "\"localhost\"); allow it with TASKFLEET_HTTP_ALLOW");
	CHECK(!permits("", NULL, "10.0.0.1", why, sizeof(why)));
	CHECK_STR_EQ(why, "10.0.0.1 is a private address; allow it with "
	    "TASKFLEET_HTTP_ALLOW");
	CHECK(!permits("", "", "fe80::1", why, sizeof(why)));
	CHECK_STR_EQ(why, "fe80::1 is a link-local address; allow it with "
	    "TASKFLEET_HTTP_ALLOW");
	CHECK(!permits("", "x", "0.0.0.0", why, sizeof(why)));
	CHECK_STR_EQ(why, "0.0.0.0 is an unspecified address (host \"x\"); "
	    "allow it with TASKFLEET_HTTP_ALLOW");
	CHECK(!permits("", "x", "ff02::1", why, sizeof(why)));
	CHECK_STR_EQ(why, "ff02::1 is a multicast address (host \"x\"); "
	    "allow it with TASKFLEET_HTTP_ALLOW");
	CHECK(!permits("", "x", "240.0.0.1", why, sizeof(why)));
	CHECK_STR_EQ(why, "240.0.0.1 is a reserved address (host \"x\"); "
	    "allow it with TASKFLEET_HTTP_ALLOW");
	CHECK(!permits("169.254.0.0/16", "169.254.169.254", "169.254.169.254",
	    why, sizeof(why)));
	CHECK_STR_EQ(why, "169.254.169.254 is an instance metadata address "
	    "(host \"169.254.169.254\"); refused unless TASKFLEET_HTTP_ALLOW "
	    "lists exactly that address");
	CHECK(!permits("*.internal", "imds.internal", "fd00:ec2::254", why,
	    sizeof(why)));
	CHECK_STR_EQ(why, "fd00:ec2::254 is an instance metadata address "
	    "(host \"imds.internal\"); refused unless TASKFLEET_HTTP_ALLOW "
	    "lists exactly that address");
	/* The host is quoted safely. */
	CHECK(!permits("", "a\"b\n", "10.0.0.1", why, sizeof(why)));
	CHECK_STR_EQ(why, "10.0.0.1 is a private address (host \"a?b?\"); "
	    "allow it with TASKFLEET_HTTP_ALLOW");
	/* A small why is cut; a NULL one is fine; allowing clears it. */
	CHECK(!permits("", "x", "10.0.0.1", tiny, sizeof(tiny)));
	CHECK_STR_EQ(tiny, "10.0.0.1 ");
	CHECK(make_sa("10.0.0.1", &ss));
	CHECK(!tf_allow_list_permits(NULL, "x", SA(&ss), NULL, 0));
	CHECK(permits("10.0.0.0/8", "x", "10.0.0.1", tiny, sizeof(tiny)));
	CHECK_STR_EQ(tiny, "");
	/* A NULL list is the empty list. */
	CHECK(make_sa("8.8.8.8", &ss));
	strcpy(why, "unset");
	CHECK(tf_allow_list_permits(NULL, NULL, SA(&ss), why, sizeof(why)));
	CHECK_STR_EQ(why, "");
	/* Not IP: refused whatever the list says. */
	CHECK(tf_allow_list_parse("0.0.0.0/0, ::/0, *.internal, x.internal", &l,
	    NULL, 0) == TF_OK);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &un, sizeof(un));
	CHECK(!tf_allow_list_permits(l, "x.internal", SA(&ss), why, sizeof(why)));
	CHECK_STR_EQ(why, "address family 1 is not IPv4 or IPv6; refused");
	CHECK(!tf_allow_list_permits(l, "x.internal", NULL, why, sizeof(why)));
	CHECK_STR_EQ(why, "no address to connect to; refused");
	tf_allow_list_free(l);
}

/* ---- The target list (TASKFLEET_HTTP_TARGETS) ------------------------ */

/* Parses text as a target list, expecting success with count entries. */
static bool
target_parses(const char *text, size_t count)
{
	return list_parses(true, text, count);
}

static void
test_targets_parse_good(void)
{
	struct tf_allow_list *a = NULL;

	CHECK(target_parses(NULL, 0));
	CHECK(target_parses(" ", 0));
	CHECK(target_parses("*.example.com, api.other.com", 2));
	CHECK(target_parses("api.example.com:443,*.example.com:8443,"
	    "API.Example.COM.:80", 3));
	CHECK(target_parses("127.0.0.1:8080, 127.0.0.1:1,127.0.0.1:65535", 3));
	CHECK(target_parses("10.0.0.0/8:80,0.0.0.0/0,203.0.113.0/24:443", 3));
	CHECK(target_parses("[::1]:8080, [fd00::]/8:443, [::1], ::1, "
	    "2606:4700::/32, ::1:80, [2001:db8::1]:65535", 7));
	/* The allow-list's reserved wildcards, and any public names. */
	CHECK(target_parses("*.internal:443,localhost:8080", 2));
	/* The allow-list itself still has no ports. */
	CHECK_INT_EQ(tf_allow_list_parse("example.com:443", &a, NULL, 0),
	    TF_ERR_INVALID);
	CHECK(a == NULL);
	CHECK_INT_EQ(tf_target_list_count(NULL), 0);
	tf_target_list_free(NULL);
}

static const struct parse_error target_errors[] = {
	{ "a.example, example.com:0",
	  "TASKFLEET_HTTP_TARGETS: entry 2 \"example.com:0\": port must be 1 to 65535" },
	{ "example.com:65536",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"example.com:65536\": port must be 1 to 65535" },
	{ "example.com:080",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"example.com:080\": port must be 1 to 65535" },
	{ "example.com:",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"example.com:\": port must be 1 to 65535" },
	{ "example.com:8o",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"example.com:8o\": port must be 1 to 65535" },
	{ "example.com:+80",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"example.com:+80\": port must be 1 to 65535" },
	{ "127.0.0.1:100000",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"127.0.0.1:100000\": port must be 1 to 65535" },
	{ "[::1]:",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"[::1]:\": port must be 1 to 65535" },
	{ "[::1]:99999",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"[::1]:99999\": port must be 1 to 65535" },
	{ ":80",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \":80\": no host before the port" },
	{ "example.com:80:90",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"example.com:80:90\": not a valid IPv6 address" },
	{ "[::1]x:80",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"[::1]x:80\": text after ']' (a prefix length is written \"[fd00::]/8\")" },
	{ "[127.0.0.1]:80",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"[127.0.0.1]:80\": brackets are only for IPv6 addresses" },
	{ "10.0.0.0/33:80",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"10.0.0.0/33:80\": prefix length must be 0 to 32" },
	{ "10.0.0.1/8",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"10.0.0.1/8\": host bits set; did you mean 10.0.0.0/8?" },
	{ "[fd00::1]/8:443",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"[fd00::1]/8:443\": host bits set; did you mean fd00::/8?" },
	{ "*:443",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"*:443\": \"*\" alone would open every host name; list the names, or a domain as \"*.example.com\"" },
	{ "*.com",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"*.com\": too broad: a wildcard needs at least two labels after \"*.\" (\"*.example.com\"), unless the top-level domain is reserved for private use (internal, local, localhost, test)" },
	{ "a.*.example.com:80",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"a.*.example.com:80\": '*' may only be the whole first label, as in \"*.example.com\"" },
	{ "a_b.example:80",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"a_b.example:80\": '_' is not allowed in a host name" },
	{ "a.example,,b.example",
	  "TASKFLEET_HTTP_TARGETS: entry 2 \"\": empty entry (two commas in a row, or a comma at either end)" },
	{ "256.1.1.1:80",
	  "TASKFLEET_HTTP_TARGETS: entry 1 \"256.1.1.1:80\": not a valid IPv4 address" },
};

static void
check_target_error(const struct parse_error *c)
{
	check_error(true, c);
}

static void
test_targets_parse_nomem(void)
{
	check_nomem(true, "a.example:443, *.b.example, 10.0.0.0/8:80, [::1]:8080",
	    4);
}

struct target_case {
	const char *list;
	const char *host;
	const char *ip;     /* the address connected to */
	unsigned port;      /* and its port */
	bool allowed;
};

static const struct target_case target_cases[] = {
	/* No list, no restriction */
	{ "", "anything.example", "8.8.8.8", 443, true },
	{ "", NULL, "127.0.0.1", 1, true },
	/* An address with a port: that address and port only */
	{ "127.0.0.1:8080", "127.0.0.1", "127.0.0.1", 8080, true },
	{ "127.0.0.1:8080", "127.0.0.1", "127.0.0.1", 8081, false },
	{ "127.0.0.1:8080", "127.0.0.2", "127.0.0.2", 8080, false },
	/* ... matched by the address connected to, whatever the URL's host */
	{ "127.0.0.1:8080", "localhost", "127.0.0.1", 8080, true },
	{ "127.0.0.1:8080", "localhost", "::1", 8080, false },
	{ "127.0.0.1:8080", "x", "::ffff:127.0.0.1", 8080, true },
	{ "127.0.0.1:8080", "x", "64:ff9b::7f00:1", 8080, true },
	/* An address without a port: any port */
	{ "203.0.113.7", "x", "203.0.113.7", 1, true },
	{ "203.0.113.7", "x", "203.0.113.8", 443, false },
	/* CIDR ranges, v4 and v6, with and without ports */
	{ "10.0.0.0/8:80", "x", "10.1.2.3", 80, true },
	{ "10.0.0.0/8:80", "x", "10.1.2.3", 81, false },
	{ "10.0.0.0/8:80", "x", "11.0.0.1", 80, false },
	{ "2606:4700::/32", "x", "2606:4700::1", 443, true },
	{ "2606:4700::/32", "x", "2606:4701::1", 443, false },
	{ "[fd00::]/8:443", "x", "fd12::1", 443, true },
	{ "[fd00::]/8:443", "x", "fd12::1", 80, false },
	{ "[fd00::]/8:443", "x", "fe80::1", 443, false },
	{ "[::1]:8080", "::1", "::1", 8080, true },
	{ "[::1]:8080", "x", "127.0.0.1", 8080, false },
	/* "::1:80" is an address, not ::1 with a port */
	{ "::1:80", "x", "::1:80", 443, true },
	{ "::1:80", "x", "::1", 80, false },
	/* Host names: by the URL's host, any case, a trailing dot ignored */
	{ "api.example.com", "api.example.com", "8.8.8.8", 443, true },
	{ "api.example.com", "API.Example.COM.", "8.8.8.8", 443, true },
	{ "api.example.com", "[api.example.com]", "8.8.8.8", 443, true },
	{ "api.example.com", "other.example.com", "8.8.8.8", 443, false },
	{ "api.example.com", "api.example.com.evil", "8.8.8.8", 443, false },
	{ "api.example.com", "8.8.8.8", "8.8.8.8", 443, false },
	{ "api.example.com", NULL, "8.8.8.8", 443, false },
	{ "localhost:8080", "localhost", "127.0.0.1", 8080, true },
	{ "localhost:8080", "localhost", "127.0.0.1", 8081, false },
	{ "localhost:8080", "127.0.0.1", "127.0.0.1", 8080, false },
	/* Wildcards: below the domain at any depth, not the domain itself */
	{ "*.example.com", "a.example.com", "8.8.8.8", 443, true },
	{ "*.example.com", "a.b.example.com", "8.8.8.8", 443, true },
	{ "*.example.com", "A.EXAMPLE.COM.", "8.8.8.8", 443, true },
	{ "*.example.com", "example.com", "8.8.8.8", 443, false },
	{ "*.example.com", "aexample.com", "8.8.8.8", 443, false },
	{ "*.example.com", ".example.com", "8.8.8.8", 443, false },
	{ "*.example.com", "a.example.com.evil", "8.8.8.8", 443, false },
	{ "*.example.com:8443", "a.example.com", "8.8.8.8", 8443, true },
	{ "*.example.com:8443", "a.example.com", "8.8.8.8", 443, false },
	/* The example */
	{ "*.example.com, api.other.com", "api.other.com", "8.8.4.4", 443, true },
	{ "*.example.com, api.other.com", "hooks.example.com", "8.8.4.4", 80, true },
	{ "*.example.com, api.other.com", "www.other.com", "8.8.4.4", 443, false },
	{ "*.example.com, api.other.com", "other.com", "8.8.4.4", 443, false },
	/* Any entry of several will do */
	{ "a.example:1, 127.0.0.1:2, [::1]:3", "x", "::1", 3, true },
	{ "a.example:1, 127.0.0.1:2, [::1]:3", "a.example", "::1", 2, false },
};

/* Parses list as a target list (must succeed) and asks whether host may be
 * reached at ip and port; *why gets the reason. */
static bool
target_permits(const char *list, const char *host, const char *ip,
    unsigned port, char *why, size_t whylen)
{
	struct tf_target_list *l = NULL;
	struct sockaddr_storage ss;
	char err[256];
	bool ok;

	if (tf_target_list_parse(list, &l, err, sizeof(err)) != TF_OK) {
		printf("# list %s: %s\n", list, err);
		snprintf(why, whylen, "list did not parse");
		return false;
	}
	if (!make_sa_port(ip, port, &ss)) {
		tf_target_list_free(l);
		snprintf(why, whylen, "address did not parse");
		return false;
	}
	ok = tf_target_list_permits(l, host, SA(&ss), why, whylen);
	tf_target_list_free(l);
	return ok;
}

static void
check_target_case(const struct target_case *c)
{
	char why[256] = "unset";
	bool ok = target_permits(c->list, c->host, c->ip, c->port, why,
	    sizeof(why));

	CHECK_MSG(ok == c->allowed, "expected %s; why: %s",
	    c->allowed ? "allowed" : "refused", why);
	CHECK_MSG((why[0] == '\0') == c->allowed, "why: \"%s\"", why);
}

/* Parses list as a target list (must succeed) and asks whether host and
 * port may be permitted before resolving; *why gets the reason. */
static bool
target_may(const char *list, const char *host, unsigned port, char *why,
    size_t whylen)
{
	struct tf_target_list *l = NULL;
	bool ok;

	if (tf_target_list_parse(list, &l, NULL, 0) != TF_OK) {
		snprintf(why, whylen, "list did not parse");
		return false;
	}
	ok = tf_target_list_may_permit(l, host, port, why, whylen);
	tf_target_list_free(l);
	return ok;
}

static void
test_targets_before_resolving(void)
{
	char why[256];

	/* No list: everything. */
	CHECK(target_may("", "anything", 1, why, sizeof(why)));
	CHECK(tf_target_list_may_permit(NULL, NULL, 80, why, sizeof(why)));
	/* An IP literal is decided exactly. */
	CHECK(target_may("127.0.0.1:8080", "127.0.0.1", 8080, why, sizeof(why)));
	CHECK_STR_EQ(why, "");
	CHECK(!target_may("127.0.0.1:8080", "127.0.0.1", 8081, why, sizeof(why)));
	CHECK_STR_EQ(why, "host \"127.0.0.1\" port 8081 is not on "
	    "TASKFLEET_HTTP_TARGETS");
	CHECK(!target_may("127.0.0.1:8080", "127.0.0.2", 8080, why, sizeof(why)));
	CHECK(!target_may("127.0.0.1:8080", "[::1]", 8080, why, sizeof(why)));
	CHECK(target_may("[::1]:8080", "[::1]", 8080, why, sizeof(why)));
	CHECK(target_may("127.0.0.0/8", "::ffff:127.0.0.9", 1, why, sizeof(why)));
	/* A name: by a name entry, or left to the connection when an address
	 * entry has its port. */
	CHECK(target_may("127.0.0.1:8080", "localhost", 8080, why, sizeof(why)));
	CHECK(!target_may("127.0.0.1:8080", "localhost", 8081, why, sizeof(why)));
	CHECK_STR_EQ(why, "host \"localhost\" port 8081 is not on "
	    "TASKFLEET_HTTP_TARGETS");
	CHECK(target_may("*.example.com", "a.example.com", 443, why, sizeof(why)));
	CHECK(!target_may("*.example.com", "evil.com", 443, why, sizeof(why)));
	CHECK(!target_may("*.example.com", "10.0.0.1", 443, why, sizeof(why)));
	CHECK(!target_may("*.example.com:443", "a.example.com", 80, why,
	    sizeof(why)));
	CHECK(!target_may("api.example.com", NULL, 443, why, sizeof(why)));
	CHECK_STR_EQ(why, "host \"\" port 443 is not on TASKFLEET_HTTP_TARGETS");
}

static void
test_targets_why(void)
{
	struct tf_target_list *l = NULL;
	struct sockaddr_storage ss;
	struct sockaddr_un un;
	char why[256], tiny[10];

	CHECK(!target_permits("127.0.0.1:8080", "localhost", "::1", 8080, why,
	    sizeof(why)));
	CHECK_STR_EQ(why, "host \"localhost\" port 8080 (address ::1) is not on "
	    "TASKFLEET_HTTP_TARGETS");
	CHECK(!target_permits("*.example.com", "b.example.org", "8.8.8.8", 443,
	    why, sizeof(why)));
	CHECK_STR_EQ(why, "host \"b.example.org\" port 443 (address 8.8.8.8) is "
	    "not on TASKFLEET_HTTP_TARGETS");
	/* The host is quoted safely; a small why is cut. */
	CHECK(!target_permits("a.example", "a\"b\n", "10.0.0.1", 80, why,
	    sizeof(why)));
	CHECK_STR_EQ(why, "host \"a?b?\" port 80 (address 10.0.0.1) is not on "
	    "TASKFLEET_HTTP_TARGETS");
	CHECK(!target_permits("a.example", "x", "10.0.0.1", 80, tiny,
	    sizeof(tiny)));
	CHECK_STR_EQ(tiny, "host \"x\" ");
	/* A NULL list restricts nothing; allowing clears why. */
	CHECK(make_sa("10.0.0.1", &ss));
	strcpy(why, "unset");
	CHECK(tf_target_list_permits(NULL, "x", SA(&ss), why, sizeof(why)));
	CHECK_STR_EQ(why, "");
	/* Not IP: refused by any list. */
	CHECK(tf_target_list_parse("0.0.0.0/0, ::/0, x.internal", &l, NULL, 0) ==
	    TF_OK);
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &un, sizeof(un));
	CHECK(!tf_target_list_permits(l, "x.internal", SA(&ss), why, sizeof(why)));
	CHECK_STR_EQ(why, "host \"x.internal\" port 0 is not on "
	    "TASKFLEET_HTTP_TARGETS");
	CHECK(!tf_target_list_permits(l, "x.internal", NULL, NULL, 0));
	tf_target_list_free(l);
}

/* A test name of prefix and text, with anything not printable as '?'. */
static void
test_name(char *out, size_t len, const char *prefix, const char *text)
{
	size_t i;

	snprintf(out, len, "%s%s", prefix, text);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
			out[i] = '?';
}

int
main(void)
{
	char name[200], what[160];
	size_t i;

	tf_alloc_init();
	for (i = 0; i < sizeof(class_cases) / sizeof(class_cases[0]); i++) {
		snprintf(what, sizeof(what), "%s %s", class_cases[i].ip,
		    tf_addr_class_name(class_cases[i].cls));
		test_name(name, sizeof(name), "classify ", what);
		TF_RUN_NAMED(name, check_class_case, &class_cases[i]);
	}
	TF_RUN(test_class_names);
	TF_RUN(test_classify_bad_input);
	TF_RUN(test_format);
	TF_RUN(test_parse_good);
	for (i = 0; i < sizeof(parse_errors) / sizeof(parse_errors[0]); i++) {
		test_name(name, sizeof(name), "allow_parse_error ",
		    parse_errors[i].text);
		TF_RUN_NAMED(name, check_parse_error, &parse_errors[i]);
	}
	TF_RUN(test_parse_long_names);
	TF_RUN(test_parse_errbuf);
	TF_RUN(test_parse_nomem);
	for (i = 0; i < sizeof(permit_cases) / sizeof(permit_cases[0]); i++) {
		snprintf(what, sizeof(what), "[%s] host %s -> %s: %s",
		    permit_cases[i].list,
		    permit_cases[i].host != NULL ? permit_cases[i].host : "(null)",
		    permit_cases[i].ip,
		    permit_cases[i].allowed ? "allowed" : "refused");
		test_name(name, sizeof(name), "permits ", what);
		TF_RUN_NAMED(name, check_permit_case, &permit_cases[i]);
	}
	TF_RUN(test_permits_why);
	TF_RUN(test_targets_parse_good);
	for (i = 0; i < sizeof(target_errors) / sizeof(target_errors[0]); i++) {
		test_name(name, sizeof(name), "targets_parse_error ",
		    target_errors[i].text);
		TF_RUN_NAMED(name, check_target_error, &target_errors[i]);
	}
	TF_RUN(test_targets_parse_nomem);
	for (i = 0; i < sizeof(target_cases) / sizeof(target_cases[0]); i++) {
		snprintf(what, sizeof(what), "[%s] host %s -> %s port %u: %s",
		    target_cases[i].list,
		    target_cases[i].host != NULL ? target_cases[i].host : "(null)",
		    target_cases[i].ip, target_cases[i].port,
		    target_cases[i].allowed ? "allowed" : "refused");
		test_name(name, sizeof(name), "targets ", what);
		TF_RUN_NAMED(name, check_target_case, &target_cases[i]);
	}
	TF_RUN(test_targets_before_resolving);
	TF_RUN(test_targets_why);
	return tf_test_summary();
}
