/*
 * netaddr.h - which addresses the `http` runner (webhooks) may connect to.
 *
 * Webhook URLs come from whoever submits tasks. Left alone, a URL naming (or
 * a DNS name resolving to) loopback, the private network or the cloud
 * instance metadata service would let a submitter reach services that trust
 * the consumer's place in the network, and read its credentials. So the
 * runner's libcurl CURLOPT_OPENSOCKETFUNCTION callback asks
 * tf_allow_list_permits() about each address curl is about to connect to:
 * the check sees the address DNS actually returned, for every connection and
 * every redirect, so a name that resolves differently the second time
 * (DNS rebinding) is caught too.
 *
 * Public addresses are always allowed; everything else only when
 * TASKFLEET_HTTP_ALLOW opens it, and the metadata addresses only when it
 * names them one by one.
 *
 * A deployment may also name the only targets webhooks may reach,
 * TASKFLEET_HTTP_TARGETS (tf_target_list_permits(), asked at the same
 * point): that list restricts, and the checks above still apply on top.
 *
 * Nothing here looks up names or touches the network. Every function is safe
 * to call from any thread; a parsed list is immutable and may be shared.
 */
#ifndef TF_NETADDR_H
#define TF_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "base/err.h"

/* What kind of destination an address is. The ranges are IANA's
 * special-purpose registries, plus the metadata addresses. */
enum tf_addr_class {
	TF_ADDR_PUBLIC,       /* globally routable unicast */
	TF_ADDR_LOOPBACK,     /* 127.0.0.0/8, ::1 */
	TF_ADDR_PRIVATE,      /* 10/8, 172.16/12, 192.168/16, 100.64/10 (shared
	                         CGNAT), fc00::/7 (ULA), fec0::/10 (old
	                         site-local), 64:ff9b:1::/48 (local-use NAT64) */
	TF_ADDR_LINK_LOCAL,   /* 169.254/16, fe80::/10 */
	TF_ADDR_METADATA,     /* cloud instance metadata and credential
	                         endpoints: 169.254.169.254 (EC2, GCP, Azure...),
	                         169.254.170.2 (ECS task metadata/credentials),
	                         169.254.170.23 and fd00:ec2::23 (EKS Pod
	                         Identity), fd00:ec2::254 (EC2 over IPv6),
	                         100.100.100.200 (Alibaba Cloud); takes precedence
	                         over link-local and private */
	TF_ADDR_MULTICAST,    /* 224/4, ff00::/8 */
	TF_ADDR_UNSPECIFIED,  /* 0.0.0.0/8 ("this network"), :: */
	TF_ADDR_RESERVED      /* anything else that is not routable: 192.0.0.0/24,
	                         192.0.2.0/24, 198.18.0.0/15, 198.51.100.0/24,
	                         203.0.113.0/24, 240.0.0.0/4 with 255.255.255.255,
	                         2001:db8::/32 and 3fff::/20 (documentation),
	                         2001:2::/48 (benchmarking), 2001::/32 (Teredo),
	                         100::/64 (discard), IPv6 outside 2000::/3 that
	                         has no other class; and non-IP families */
};

/* Classifies an AF_INET (struct sockaddr_in) or AF_INET6 (struct
 * sockaddr_in6) address; any other family, or NULL, is TF_ADDR_RESERVED.
 * IPv6 forms that embed an IPv4 address are classified by that IPv4
 * address: IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d (except ::
 * and ::1), NAT64 64:ff9b::/96 and 6to4 2002::/16 (the IPv4 address in bits
 * 16 to 47). */
enum tf_addr_class tf_addr_classify(const struct sockaddr *sa);

/* Classifies the numeric address ip ("10.0.0.1", "::1"; no brackets), for
 * tests and messages. *ok (may be NULL) tells whether ip parsed; when it did
 * not the result is TF_ADDR_RESERVED. */
enum tf_addr_class tf_addr_classify_text(const char *ip, bool *ok);

/* The class's name: "public", "loopback", "private", "link-local",
 * "metadata", "multicast", "unspecified", "reserved". Static; never NULL. */
const char *tf_addr_class_name(enum tf_addr_class c);

/* Writes sa's numeric address into buf (len bytes, always terminated when
 * len > 0, cut when too small): "127.0.0.1", "::1", an IPv4-mapped address as
 * "::ffff:127.0.0.1"; "(address family N)" for a family that is not IP. */
void tf_addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* A parsed TASKFLEET_HTTP_ALLOW. */
struct tf_allow_list;

/* Parses TASKFLEET_HTTP_ALLOW: comma-separated entries, blanks around each
 * ignored. NULL or blank text is an empty list; an empty entry ("a,,b",
 * "a,") is an error. An entry is
 *  - a host name: letters, digits, '-' and '.', any case, a trailing dot
 *    ignored, at most 253 characters with labels of at most 63; it matches
 *    exactly that name. Its last label may not be all digits (that would be a
 *    mistyped IPv4 address);
 *  - "*.example.com": any name ending in ".example.com", at any depth, but
 *    not example.com itself. "*" alone and single-label suffixes ("*.com")
 *    are refused as too broad, except the top-level domains that are reserved
 *    for private use and cannot be registered in public DNS: "*.internal",
 *    "*.local", "*.localhost", "*.test";
 *  - an IPv4 or IPv6 address (a /32 or /128), or a CIDR range "10.0.0.0/8",
 *    "fd00::/8", whose bits below the prefix must be zero. An IPv6 address may
 *    be in brackets: "[::1]", "[fd00::]/8".
 * On success *out is freshly allocated; caller frees with
 * tf_allow_list_free(). Otherwise *out is NULL and the result is
 * TF_ERR_INVALID, with a message naming the entry in errbuf (errlen bytes;
 * errbuf may be NULL when errlen is 0), e.g.
 *   TASKFLEET_HTTP_ALLOW: entry 3 "10.0.0.0/33": prefix length must be 0 to 32
 * or TF_ERR_NOMEM. */
enum tf_err tf_allow_list_parse(const char *text, struct tf_allow_list **out,
    char *errbuf, size_t errlen);

/* Frees l; NULL is fine. */
void tf_allow_list_free(struct tf_allow_list *l);

/* How many entries l has; 0 for NULL. */
size_t tf_allow_list_count(const struct tf_allow_list *l);

/* Decides whether a connection to sa, made to fetch a URL whose host is host
 * (a name or an IP literal as the URL has it, brackets stripped; may be
 * NULL), may go ahead. l may be NULL (an empty list).
 *  - A public address is always allowed.
 *  - A metadata address is allowed only by an address entry that is exactly
 *    that one address (/32 or /128), never by a wider range or a host name:
 *    the credentials endpoint has to be opened on purpose.
 *  - Any other address is allowed by an address or range entry containing it
 *    (an IPv4-mapped, IPv4-compatible or NAT64 address also by one containing
 *    its IPv4 address; 6to4 is not translated), or by a host-name entry
 *    matching host (any case, a trailing dot ignored).
 *  - A family that is not IPv4 or IPv6 is always refused.
 * Returns true to allow. why (whylen bytes; may be NULL) gets "" when
 * allowing and a one-line reason when refusing, e.g.
 *   127.0.0.1 is a loopback address (host "localhost"); allow it with
 *   TASKFLEET_HTTP_ALLOW */
bool tf_allow_list_permits(const struct tf_allow_list *l, const char *host,
    const struct sockaddr *sa, char *why, size_t whylen);

/* A parsed TASKFLEET_HTTP_TARGETS: the only targets webhooks may reach.
 * It restricts; it never opens an address the classes above refuse (both
 * checks must pass). */
struct tf_target_list;

/* Parses TASKFLEET_HTTP_TARGETS: entries written as in TASKFLEET_HTTP_ALLOW
 * (host names, "*.example.com", IPv4 and IPv6 addresses, CIDR ranges), each
 * with an optional ":port" (1 to 65535, no leading zero) that limits it to
 * that port: "api.example.com:443", "*.example.com:8443", "10.0.0.0/8:80",
 * "[::1]:8080", "[fd00::]/8:443". An IPv6 address without brackets has no
 * port ("::1:80" is an address). NULL or blank text is an empty list, which
 * restricts nothing. Ownership and errors as tf_allow_list_parse(), the
 * message naming TASKFLEET_HTTP_TARGETS, e.g.
 *   TASKFLEET_HTTP_TARGETS: entry 2 "example.com:0": port must be 1 to 65535
 * Caller frees *out with tf_target_list_free(). */
enum tf_err tf_target_list_parse(const char *text, struct tf_target_list **out,
    char *errbuf, size_t errlen);

/* Frees l; NULL is fine. */
void tf_target_list_free(struct tf_target_list *l);

/* How many entries l has; 0 for NULL. */
size_t tf_target_list_count(const struct tf_target_list *l);

/* Decides whether a connection to sa (its address and port), made to fetch
 * a URL whose host is host (as in tf_allow_list_permits(); may be NULL), is
 * to a listed target. An empty or NULL list permits everything. Otherwise an
 * entry must match the port connected to, when it names one, and
 *  - a host-name entry matches host, any case, a trailing dot ignored; a
 *    wildcard "*.example.com" matches "a.example.com" and
 *    "a.b.example.com" but not "example.com"; names are never resolved, so
 *    the name must be listed whatever it resolves to;
 *  - an address or range entry matches the address connected to, whatever
 *    the URL's host: a name resolving to a listed address is allowed (an
 *    IPv4-mapped or NAT64 address also by its IPv4 address).
 * Returns true to allow. why (whylen bytes; may be NULL) gets "" when
 * allowing and a one-line reason when refusing, e.g.
 *   host "localhost" port 8080 (address ::1) is not on TASKFLEET_HTTP_TARGETS */
bool tf_target_list_permits(const struct tf_target_list *l, const char *host,
    const struct sockaddr *sa, char *why, size_t whylen);

/* The same question before host is resolved, for port (the URL's port, or
 * its scheme's default): false when no address host could resolve to would
 * be permitted, so a refused name is not even looked up. A host that is an
 * IP literal is decided exactly; a name passes when a host-name entry
 * matches it or any address or range entry has a matching port (the
 * connection is then checked by tf_target_list_permits()). why as there,
 * without an address:
 *   host "127.0.0.1" port 8081 is not on TASKFLEET_HTTP_TARGETS */
bool tf_target_list_may_permit(const struct tf_target_list *l,
    const char *host, unsigned port, char *why, size_t whylen);

#endif /* TF_NETADDR_H */
