/* netaddr.c - which addresses the `http` runner (webhooks) may connect to. */
#include "webhook/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"

#define NAME_MAX_LEN 253   /* the longest host name DNS can carry */
#define LABEL_MAX_LEN 63   /* the longest label */
#define ENTRY_MAX 300      /* longer than any valid entry */
#define QUOTE_MAX 64       /* how much of an entry or host a message quotes */

/* An IP address of either family. */
struct ip {
	int family;           /* AF_INET or AF_INET6 */
	unsigned char b[16];  /* network byte order; AF_INET uses b[0..3], the
	                         rest stays zero */
};

/* One line of a classification table: addresses whose first `bits` bits are
 * those of net belong to cls. The first matching line wins. */
struct range {
	unsigned char net[16];
	unsigned bits;
	enum tf_addr_class cls;
};

/* IPv4, most specific first (IANA IPv4 special-purpose registry). */
static const struct range ranges4[] = {
	{ { 169, 254, 169, 254 }, 32, TF_ADDR_METADATA },  /* EC2, GCP, Azure, OCI... */
	{ { 169, 254, 170, 2 }, 32, TF_ADDR_METADATA },    /* ECS task metadata, credentials */
	{ { 169, 254, 170, 23 }, 32, TF_ADDR_METADATA },   /* EKS Pod Identity credentials */
	{ { 100, 100, 100, 200 }, 32, TF_ADDR_METADATA },  /* Alibaba Cloud */
	{ { 0 }, 8, TF_ADDR_UNSPECIFIED },                 /* "this network" */
	{ { 127 }, 8, TF_ADDR_LOOPBACK },
	{ { 10 }, 8, TF_ADDR_PRIVATE },
	{ { 172, 16 }, 12, TF_ADDR_PRIVATE },
	{ { 192, 168 }, 16, TF_ADDR_PRIVATE },
	{ { 100, 64 }, 10, TF_ADDR_PRIVATE },              /* shared address space (CGNAT) */
	{ { 169, 254 }, 16, TF_ADDR_LINK_LOCAL },
	{ { 224 }, 4, TF_ADDR_MULTICAST },
	{ { 240 }, 4, TF_ADDR_RESERVED },                  /* with 255.255.255.255 */
	{ { 192, 0, 0 }, 24, TF_ADDR_RESERVED },           /* IETF protocol assignments */
	{ { 192, 0, 2 }, 24, TF_ADDR_RESERVED },           /* TEST-NET-1 */
	{ { 198, 18 }, 15, TF_ADDR_RESERVED },             /* benchmarking */
	{ { 198, 51, 100 }, 24, TF_ADDR_RESERVED },        /* TEST-NET-2 */
	{ { 203, 0, 113 }, 24, TF_ADDR_RESERVED },         /* TEST-NET-3 */
	{ { 0 }, 0, TF_ADDR_PUBLIC },
};

/* IPv6 after ::, ::1 and the forms embedding IPv4 (see classify()). */
static const struct range ranges6[] = {
	{ { 0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54 }, 128,
	    TF_ADDR_METADATA },                             /* fd00:ec2::254, EC2 */
	{ { 0xfd, 0x00, 0x0e, 0xc2, [15] = 0x23 }, 128,
	    TF_ADDR_METADATA },                             /* fd00:ec2::23, EKS */
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48,
	    TF_ADDR_PRIVATE },                              /* local-use NAT64 */
	{ { 0x01, 0x00 }, 64, TF_ADDR_RESERVED },         /* discard */
	{ { 0x20, 0x01, 0x00, 0x02, 0x00, 0x00 }, 48,
	    TF_ADDR_RESERVED },                             /* benchmarking */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, TF_ADDR_RESERVED }, /* documentation */
	{ { 0x20, 0x01, 0x00, 0x00 }, 32, TF_ADDR_RESERVED }, /* Teredo */
	{ { 0x3f, 0xff }, 20, TF_ADDR_RESERVED },         /* documentation */
	{ { 0xfc }, 7, TF_ADDR_PRIVATE },                 /* unique local */
	{ { 0xfe, 0xc0 }, 10, TF_ADDR_PRIVATE },          /* old site-local */
	{ { 0xfe, 0x80 }, 10, TF_ADDR_LINK_LOCAL },
	{ { 0xff }, 8, TF_ADDR_MULTICAST },
	{ { 0x20 }, 3, TF_ADDR_PUBLIC },                  /* global unicast */
	{ { 0 }, 0, TF_ADDR_RESERVED },
};

static const char *const class_names[] = {
	[TF_ADDR_PUBLIC] = "public",
	[TF_ADDR_LOOPBACK] = "loopback",
	[TF_ADDR_PRIVATE] = "private",
	[TF_ADDR_LINK_LOCAL] = "link-local",
	[TF_ADDR_METADATA] = "metadata",
	[TF_ADDR_MULTICAST] = "multicast",
	[TF_ADDR_UNSPECIFIED] = "unspecified",
	[TF_ADDR_RESERVED] = "reserved",
};

/* Top-level domains reserved for private use (RFC 6761, RFC 6762, ICANN's
 * .internal): nobody can register a name below them in public DNS, so a
 * wildcard over one of them is not too broad. */
static const char *const private_tlds[] = {
	"internal", "local", "localhost", "test", NULL
};

const char *
tf_addr_class_name(enum tf_addr_class c)
{
	if ((unsigned)c >= sizeof(class_names) / sizeof(class_names[0]))
		return "unknown";
	return class_names[c];
}

/* The number of bits in an address of a's family. */
static unsigned
ip_bits(const struct ip *a)
{
	return a->family == AF_INET ? 32 : 128;
}

/* True when the first `bits` bits of a and net agree. */
static bool
prefix_match(const unsigned char *a, const unsigned char *net, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, net, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (unsigned char)(0xff << (8 - rest));
	return ((a[whole] ^ net[whole]) & mask) == 0;
}

/* Zeroes the bits of a below the first `bits`. */
static void
apply_mask(struct ip *a, unsigned bits)
{
	unsigned i;

	for (i = 0; i < sizeof(a->b); i++) {
		if (i * 8 >= bits)
			a->b[i] = 0;
		else if (i * 8 + 8 > bits)
			a->b[i] &= (unsigned char)(0xff << (8 - (bits - i * 8)));
	}
}

/* Copies the address out of sa (which must be a whole sockaddr_in or
 * sockaddr_in6 for those families). False for NULL or another family. */
static bool
ip_from_sockaddr(const struct sockaddr *sa, struct ip *out)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(out, 0, sizeof(*out));
	if (sa == NULL)
		return false;
	/* Copied rather than cast: the caller's storage need not be aligned
	 * for the larger structs. */
	if (sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof(sin));
		out->family = AF_INET;
		memcpy(out->b, &sin.sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(&sin6, sa, sizeof(sin6));
		out->family = AF_INET6;
		memcpy(out->b, &sin6.sin6_addr, 16);
		return true;
	}
	return false;
}

/* Parses a numeric IPv4 or IPv6 address (no brackets, no prefix). */
static bool
ip_from_text(const char *text, struct ip *out)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return false;
	if (inet_pton(AF_INET, text, out->b) == 1) {
		out->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, out->b) == 1) {
		out->family = AF_INET6;
		return true;
	}
	return false;
}

/* Writes a's numeric form into buf (len bytes, cut when too small). */
static void
ip_format(const struct ip *a, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (inet_ntop(a->family, a->b, tmp, sizeof(tmp)) == NULL)
		snprintf(tmp, sizeof(tmp), "(bad address)");
	snprintf(buf, len, "%s", tmp);
}

/* When a is an IPv6 address that stands for an IPv4 one, writes that IPv4
 * address to *v4 and returns true: IPv4-mapped ::ffff:0:0/96, NAT64
 * 64:ff9b::/96, IPv4-compatible ::/96 other than :: and ::1, and with
 * with_6to4 also 6to4 2002::/16. */
static bool
embedded_v4(const struct ip *a, struct ip *v4, bool with_6to4)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const unsigned char zero[12];
	const unsigned char *src = NULL;

	if (a->family != AF_INET6)
		return false;
	if (memcmp(a->b, mapped, 12) == 0 || memcmp(a->b, nat64, 12) == 0)
		src = a->b + 12;
	else if (memcmp(a->b, zero, 12) == 0 &&
	    !(a->b[12] == 0 && a->b[13] == 0 && a->b[14] == 0 && a->b[15] <= 1))
		src = a->b + 12;
	else if (with_6to4 && a->b[0] == 0x20 && a->b[1] == 0x02)
		src = a->b + 2;
	if (src == NULL)
		return false;
	memset(v4, 0, sizeof(*v4));
	v4->family = AF_INET;
	memcpy(v4->b, src, 4);
	return true;
}

/* The class of the first line of table (n lines, the last matching
 * everything) that contains address bytes b. */
static enum tf_addr_class
lookup(const struct range *table, size_t n, const unsigned char *b)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (prefix_match(b, table[i].net, table[i].bits))
			return table[i].cls;
	return TF_ADDR_RESERVED;
}

static enum tf_addr_class
classify(const struct ip *a)
{
	static const unsigned char zero[16];
	struct ip v4;

	if (a->family == AF_INET)
		return lookup(ranges4, sizeof(ranges4) / sizeof(ranges4[0]), a->b);
	if (a->family != AF_INET6)
		return TF_ADDR_RESERVED;
	if (memcmp(a->b, zero, 16) == 0)
		return TF_ADDR_UNSPECIFIED;
	if (memcmp(a->b, zero, 15) == 0 && a->b[15] == 1)
		return TF_ADDR_LOOPBACK;
	if (embedded_v4(a, &v4, true))
		return lookup(ranges4, sizeof(ranges4) / sizeof(ranges4[0]), v4.b);
	return lookup(ranges6, sizeof(ranges6) / sizeof(ranges6[0]), a->b);
}

enum tf_addr_class
tf_addr_classify(const struct sockaddr *sa)
{
	struct ip a;

	if (!ip_from_sockaddr(sa, &a))
		return TF_ADDR_RESERVED;
	return classify(&a);
}

enum tf_addr_class
tf_addr_classify_text(const char *ip, bool *ok)
{
	struct ip a;
	bool parsed = ip_from_text(ip, &a);

	if (ok != NULL)
		*ok = parsed;
	return parsed ? classify(&a) : TF_ADDR_RESERVED;
}

void
tf_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	struct ip a;

	if (buf == NULL || len == 0)
		return;
	if (ip_from_sockaddr(sa, &a))
		ip_format(&a, buf, len);
	else if (sa == NULL)
		snprintf(buf, len, "(no address)");
	else
		snprintf(buf, len, "(address family %d)", (int)sa->sa_family);
}

/* ---- The allow list and the target list ----------------------------- */

enum entry_kind {
	ENTRY_NAME,      /* exactly this host name */
	ENTRY_WILDCARD,  /* any name below this suffix */
	ENTRY_NET        /* an address or CIDR range */
};

struct entry {
	enum entry_kind kind;
	char *name;       /* owned (ENTRY_NAME, ENTRY_WILDCARD): lower case, no
	                     trailing dot; a wildcard's suffix without "*." */
	size_t name_len;  /* strlen(name) */
	struct ip net;    /* ENTRY_NET: the range, bits below prefix zero */
	unsigned prefix;  /* ENTRY_NET: 0 to 32 or 128 */
	unsigned port;    /* target lists: the port it is limited to; 0: any */
};

/* The parsed entries of either list. */
struct entries {
	struct entry *e;  /* owned array of n entries */
	size_t n;
};

struct tf_allow_list {
	struct entries list;
};

struct tf_target_list {
	struct entries list;
};

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Frees what list holds and empties it. */
static void
entries_clear(struct entries *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		tf_free(list->e[i].name);
	tf_free(list->e);
	list->e = NULL;
	list->n = 0;
}

void
tf_allow_list_free(struct tf_allow_list *l)
{
	if (l == NULL)
		return;
	entries_clear(&l->list);
	tf_free(l);
}

size_t
tf_allow_list_count(const struct tf_allow_list *l)
{
	return l != NULL ? l->list.n : 0;
}

void
tf_target_list_free(struct tf_target_list *l)
{
	if (l == NULL)
		return;
	entries_clear(&l->list);
	tf_free(l);
}

size_t
tf_target_list_count(const struct tf_target_list *l)
{
	return l != NULL ? l->list.n : 0;
}

/* Parses an address or CIDR entry t (modified in place) into en. Returns
 * false with the reason in why when it is not one. */
static bool
parse_net(char *t, struct entry *en, char *why, size_t whylen)
{
	char *addr = t, *plen = NULL, *p;
	bool bracketed = false;
	unsigned max, prefix = 0;
	struct ip masked;
	char shown[INET6_ADDRSTRLEN];

	if (*t == '[') {
		char *close = strchr(t, ']');

		if (close == NULL) {
			tf_errf(why, whylen, "'[' without ']'");
			return false;
		}
		if (close[1] != '\0' && close[1] != '/') {
			tf_errf(why, whylen, "text after ']' (a prefix length "
			    "is written \"[fd00::]/8\")");
			return false;
		}
		if (close[1] == '/')
			plen = close + 2;
		*close = '\0';
		addr = t + 1;
		bracketed = true;
	} else if ((p = strchr(t, '/')) != NULL) {
		*p = '\0';
		plen = p + 1;
	}
	if (!ip_from_text(addr, &en->net)) {
		if (strchr(addr, ':') != NULL)
			tf_errf(why, whylen, "not a valid IPv6 address");
		else if (*addr != '\0' && strspn(addr, "0123456789.") == strlen(addr))
			tf_errf(why, whylen, "not a valid IPv4 address");
		else
			tf_errf(why, whylen, "not an IP address or CIDR range");
		return false;
	}
	if (bracketed && en->net.family != AF_INET6) {
		tf_errf(why, whylen, "brackets are only for IPv6 addresses");
		return false;
	}
	max = ip_bits(&en->net);
	prefix = max;
	if (plen != NULL) {
		size_t n = strlen(plen), i;

		if (n == 0 || n > 3 || strspn(plen, "0123456789") != n) {
			tf_errf(why, whylen, "prefix length must be 0 to %u", max);
			return false;
		}
		prefix = 0;
		for (i = 0; i < n; i++)
			prefix = prefix * 10 + (unsigned)(plen[i] - '0');
		if (prefix > max) {
			tf_errf(why, whylen, "prefix length must be 0 to %u", max);
			return false;
		}
	}
	masked = en->net;
	apply_mask(&masked, prefix);
	if (memcmp(masked.b, en->net.b, sizeof(masked.b)) != 0) {
		ip_format(&masked, shown, sizeof(shown));
		tf_errf(why, whylen, "host bits set; did you mean %s/%u?", shown,
		    prefix);
		return false;
	}
	en->kind = ENTRY_NET;
	en->prefix = prefix;
	return true;
}

/* Parses a host name or "*." wildcard entry t (len bytes) into en. Returns
 * TF_ERR_INVALID with the reason in why when it is not one, TF_ERR_NOMEM. */
static enum tf_err
parse_name(const char *t, size_t len, struct entry *en, char *why,
    size_t whylen)
{
	const char *name = t;
	size_t n = len, i, start, labels = 0;
	bool wild = false, digits_only = true;

	if (len == 1 && t[0] == '*') {
		tf_errf(why, whylen, "\"*\" alone would open every host name; "
		    "list the names, or a domain as \"*.example.com\"");
		return TF_ERR_INVALID;
	}
	if (len >= 2 && t[0] == '*' && t[1] == '.') {
		wild = true;
		name += 2;
		n -= 2;
	}
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0) {
		tf_errf(why, whylen, "empty host name");
		return TF_ERR_INVALID;
	}
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (c == '*') {
			tf_errf(why, whylen, "'*' may only be the whole first "
			    "label, as in \"*.example.com\"");
			return TF_ERR_INVALID;
		}
		if (!is_digit(c) && !(lower(c) >= 'a' && lower(c) <= 'z') &&
		    c != '-' && c != '.') {
			if (c >= 0x20 && c < 0x7f)
				tf_errf(why, whylen, "'%c' is not allowed in a "
				    "host name", c);
			else
				tf_errf(why, whylen, "byte 0x%02x is not allowed "
				    "in a host name", (unsigned)(unsigned char)c);
			return TF_ERR_INVALID;
		}
	}
	if (n + (wild ? 2 : 0) > NAME_MAX_LEN) {
		tf_errf(why, whylen, "host name longer than %d characters",
		    NAME_MAX_LEN);
		return TF_ERR_INVALID;
	}
	for (start = 0; start <= n; start = i + 1) {
		for (i = start; i < n && name[i] != '.'; i++)
			;
		if (i == start) {
			tf_errf(why, whylen, "empty label in host name");
			return TF_ERR_INVALID;
		}
		if (i - start > LABEL_MAX_LEN) {
			tf_errf(why, whylen, "label longer than %d characters",
			    LABEL_MAX_LEN);
			return TF_ERR_INVALID;
		}
		labels++;
		/* Only the last label's digits-only flag survives the loop. */
		digits_only = strspn(name + start, "0123456789") >= i - start;
	}
	if (digits_only) {
		tf_errf(why, whylen, "not a valid IPv4 address, and a host name "
		    "cannot end in an all-digit label");
		return TF_ERR_INVALID;
	}
	if (wild && labels == 1) {
		const char *const *tld;
		bool reserved = false;

		for (tld = private_tlds; *tld != NULL; tld++)
			if (strlen(*tld) == n && strncasecmp(*tld, name, n) == 0)
				reserved = true;
		if (!reserved) {
			tf_errf(why, whylen, "too broad: a wildcard needs at least "
			    "two labels after \"*.\" (\"*.example.com\"), "
			    "unless the top-level domain is reserved for "
			    "private use (internal, local, localhost, test)");
			return TF_ERR_INVALID;
		}
	}
	en->name = tf_strndup(name, n);
	if (en->name == NULL)
		return TF_ERR_NOMEM;
	for (i = 0; i < n; i++)
		en->name[i] = lower(en->name[i]);
	en->name_len = n;
	en->kind = wild ? ENTRY_WILDCARD : ENTRY_NAME;
	return TF_OK;
}

/* Cuts a ":port" suffix off entry t (modified in place) into *port (0
 * when there is none): after the ']' of a bracketed IPv6 address (and its
 * prefix length), or after the only ':' of anything else; an entry with two
 * or more ':' outside brackets is an IPv6 address and has no port. Returns
 * false with the reason in why when the port is not 1 to 65535. */
static bool
split_port(char *t, unsigned *port, char *why, size_t whylen)
{
	char *colon = NULL, *close;
	size_t n, i;
	unsigned long v = 0;

	*port = 0;
	if (t[0] == '[') {
		if ((close = strchr(t, ']')) != NULL)
			colon = strchr(close, ':');
	} else if ((colon = strchr(t, ':')) != NULL &&
	    strchr(colon + 1, ':') != NULL) {
		colon = NULL;
	}
	if (colon == NULL)
		return true;
	n = strlen(colon + 1);
	if (n == 0 || n > 5 || strspn(colon + 1, "0123456789") != n ||
	    colon[1] == '0') {
		tf_errf(why, whylen, "port must be 1 to 65535");
		return false;
	}
	for (i = 0; i < n; i++)
		v = v * 10 + (unsigned long)(colon[1 + i] - '0');
	if (v > 65535) {
		tf_errf(why, whylen, "port must be 1 to 65535");
		return false;
	}
	*port = (unsigned)v;
	*colon = '\0';
	return true;
}

/* Parses one trimmed entry s (len bytes) into en (zeroed); with_ports, a
 * ":port" suffix is allowed. Returns TF_ERR_INVALID with the reason in why,
 * or TF_ERR_NOMEM. */
static enum tf_err
parse_entry(const char *s, size_t len, bool with_ports, struct entry *en,
    char *why, size_t whylen)
{
	char t[ENTRY_MAX + 1];

	if (len == 0) {
		tf_errf(why, whylen, "empty entry (two commas in a row, or a "
		    "comma at either end)");
		return TF_ERR_INVALID;
	}
	if (len > ENTRY_MAX) {
		tf_errf(why, whylen, "too long for a host name or address");
		return TF_ERR_INVALID;
	}
	memcpy(t, s, len);
	t[len] = '\0';
	if (with_ports) {
		if (!split_port(t, &en->port, why, whylen))
			return TF_ERR_INVALID;
		len = strlen(t);
		if (len == 0) {
			tf_errf(why, whylen, "no host before the port");
			return TF_ERR_INVALID;
		}
	}
	/* Anything with ':', '/' or '[', or made of digits and dots only, is
	 * meant as an address; the rest as a name. */
	if (t[0] == '[' || strchr(t, ':') != NULL || strchr(t, '/') != NULL ||
	    strspn(t, "0123456789.") == len)
		return parse_net(t, en, why, whylen) ? TF_OK : TF_ERR_INVALID;
	return parse_name(t, len, en, why, whylen);
}

/* Parses the comma-separated list text (NULL or blank: no entries) of the
 * setting named setting into list (empty), ports allowed when with_ports.
 * On an error list is left empty and errbuf names the setting and entry. */
static enum tf_err
parse_list(const char *text, const char *setting, bool with_ports,
    struct entries *list, char *errbuf, size_t errlen)
{
	enum tf_err rc;
	const char *p, *s, *e;
	size_t count = 1, i;
	char why[256], q[QUOTE_MAX + 8];

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	for (p = text != NULL ? text : ""; is_blank(*p); p++)
		;
	if (*p == '\0')
		return TF_OK;
	for (p = text; *p != '\0'; p++)
		if (*p == ',')
			count++;
	list->e = tf_calloc(count, sizeof(*list->e));
	if (list->e == NULL)
		return TF_ERR_NOMEM;
	for (p = text, i = 0; i < count; i++) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		s = p;
		while (s < e && is_blank(*s))
			s++;
		while (e > s && is_blank(e[-1]))
			e--;
		rc = parse_entry(s, (size_t)(e - s), with_ports, &list->e[i], why,
		    sizeof(why));
		if (rc == TF_ERR_INVALID) {
			tf_err_quote(q, sizeof(q), s, (size_t)(e - s), QUOTE_MAX);
			tf_errf(errbuf, errlen, "%s: entry %zu \"%s\": %s", setting,
			    i + 1, q, why);
		}
		if (rc != TF_OK) {
			entries_clear(list);
			return rc;
		}
		list->n++;
		p = strchr(p, ',');
		if (p == NULL)
			break;
		p++;
	}
	return TF_OK;
}

enum tf_err
tf_allow_list_parse(const char *text, struct tf_allow_list **out,
    char *errbuf, size_t errlen)
{
	struct tf_allow_list *l;
	enum tf_err rc;

	*out = NULL;
	l = tf_calloc(1, sizeof(*l));
	if (l == NULL)
		return TF_ERR_NOMEM;
	rc = parse_list(text, "TASKFLEET_HTTP_ALLOW", false, &l->list, errbuf,
	    errlen);
	if (rc != TF_OK) {
		tf_allow_list_free(l);
		return rc;
	}
	*out = l;
	return TF_OK;
}

enum tf_err
tf_target_list_parse(const char *text, struct tf_target_list **out,
    char *errbuf, size_t errlen)
{
	struct tf_target_list *l;
	enum tf_err rc;

	*out = NULL;
	l = tf_calloc(1, sizeof(*l));
	if (l == NULL)
		return TF_ERR_NOMEM;
	rc = parse_list(text, "TASKFLEET_HTTP_TARGETS", true, &l->list, errbuf,
	    errlen);
	if (rc != TF_OK) {
		tf_target_list_free(l);
		return rc;
	}
	*out = l;
	return TF_OK;
}

/* True when en is a range containing a. */
static bool
net_contains(const struct entry *en, const struct ip *a)
{
	return en->kind == ENTRY_NET && en->net.family == a->family &&
	    prefix_match(a->b, en->net.b, en->prefix);
}

/* True when name entry en matches host (hlen bytes, trailing dot gone). */
static bool
name_matches(const struct entry *en, const char *host, size_t hlen)
{
	size_t at;

	if (en->kind == ENTRY_NAME)
		return hlen == en->name_len &&
		    strncasecmp(host, en->name, hlen) == 0;
	if (en->kind != ENTRY_WILDCARD || hlen < en->name_len + 2)
		return false;
	/* host is "<label>[.<label>...].<suffix>" with no empty label next
	 * to the dot before the suffix. */
	at = hlen - en->name_len;
	return host[at - 1] == '.' && host[at - 2] != '.' && host[0] != '.' &&
	    strncasecmp(host + at, en->name, en->name_len) == 0;
}

/* The part of a URL's host (may be NULL) that entries are matched
 * against: brackets and a trailing dot dropped. Returns where it starts in
 * host (borrowed), its length in *hlen; 0 when there is none. */
static const char *
host_key(const char *host, size_t *hlen)
{
	const char *h = host;
	size_t n = 0;

	if (h != NULL) {
		n = strlen(h);
		if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
			h++;
			n -= 2;
		}
		if (n > 0 && h[n - 1] == '.')
			n--;
	}
	*hlen = n;
	return h;
}

bool
tf_allow_list_permits(const struct tf_allow_list *l, const char *host,
    const struct sockaddr *sa, char *why, size_t whylen)
{
	struct ip a, v4;
	bool has_v4;
	enum tf_addr_class cls;
	size_t n = tf_allow_list_count(l), i, hlen;
	const char *h;
	char shown[INET6_ADDRSTRLEN], q[QUOTE_MAX + 8], hostpart[QUOTE_MAX + 24];

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (!ip_from_sockaddr(sa, &a)) {
		if (sa == NULL)
			tf_errf(why, whylen, "no address to connect to; refused");
		else
			tf_errf(why, whylen, "address family %d is not IPv4 or "
			    "IPv6; refused", (int)sa->sa_family);
		return false;
	}
	cls = classify(&a);
	if (cls == TF_ADDR_PUBLIC)
		return true;
	has_v4 = embedded_v4(&a, &v4, false);
	for (i = 0; i < n; i++) {
		const struct entry *en = &l->list.e[i];

		if (en->kind != ENTRY_NET)
			continue;
		/* Metadata only by an entry naming exactly one address. */
		if (cls == TF_ADDR_METADATA && en->prefix != ip_bits(&en->net))
			continue;
		if (net_contains(en, &a) || (has_v4 && net_contains(en, &v4)))
			return true;
	}
	h = host_key(host, &hlen);
	if (cls != TF_ADDR_METADATA && hlen > 0)
		for (i = 0; i < n; i++)
			if (name_matches(&l->list.e[i], h, hlen))
				return true;
	ip_format(&a, shown, sizeof(shown));
	hostpart[0] = '\0';
	if (host != NULL && *host != '\0') {
		tf_err_quote(q, sizeof(q), host, strlen(host), QUOTE_MAX);
		snprintf(hostpart, sizeof(hostpart), " (host \"%s\")", q);
	}
	if (cls == TF_ADDR_METADATA)
		tf_errf(why, whylen, "%s is an instance metadata address%s; "
		    "refused unless TASKFLEET_HTTP_ALLOW lists exactly that "
		    "address", shown, hostpart);
	else
		tf_errf(why, whylen, "%s is %s %s address%s; allow it with "
		    "TASKFLEET_HTTP_ALLOW", shown,
		    cls == TF_ADDR_UNSPECIFIED ? "an" : "a",
		    tf_addr_class_name(cls), hostpart);
	return false;
}

/* ---- Matching the target list ---------------------------------------- */

/* The port of an AF_INET or AF_INET6 sa (whole for its family); 0 for
 * another family. */
static unsigned
sockaddr_port(const struct sockaddr *sa)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof(sin));
		return ntohs(sin.sin_port);
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(&sin6, sa, sizeof(sin6));
		return ntohs(sin6.sin6_port);
	}
	return 0;
}

/* True when en names no port or names port. */
static bool
port_matches(const struct entry *en, unsigned port)
{
	return en->port == 0 || en->port == port;
}

/* True when an address or range entry of l with a matching port contains
 * a (or the IPv4 address an IPv4-mapped, -compatible or NAT64 a stands
 * for). */
static bool
targets_contain(const struct tf_target_list *l, const struct ip *a,
    unsigned port)
{
	struct ip v4;
	bool has_v4 = embedded_v4(a, &v4, false);
	size_t i;

	for (i = 0; i < l->list.n; i++) {
		const struct entry *en = &l->list.e[i];

		if (port_matches(en, port) && (net_contains(en, a) ||
		    (has_v4 && net_contains(en, &v4))))
			return true;
	}
	return false;
}

/* True when a host-name entry of l with a matching port matches h (hlen
 * bytes, from host_key()); with any_net, also when l has an address or
 * range entry with a matching port. */
static bool
targets_name(const struct tf_target_list *l, const char *h, size_t hlen,
    unsigned port, bool any_net)
{
	size_t i;

	for (i = 0; i < l->list.n; i++) {
		const struct entry *en = &l->list.e[i];

		if (!port_matches(en, port))
			continue;
		if (any_net && en->kind == ENTRY_NET)
			return true;
		if (hlen > 0 && name_matches(en, h, hlen))
			return true;
	}
	return false;
}

/* Writes the refusal of host (may be NULL) and port, and the address a
 * when not NULL, into why. */
static void
target_refusal(const char *host, unsigned port, const struct ip *a,
    char *why, size_t whylen)
{
	char addr[INET6_ADDRSTRLEN], shown[INET6_ADDRSTRLEN + 16];
	char q[QUOTE_MAX + 8];

	shown[0] = '\0';
	if (a != NULL) {
		ip_format(a, addr, sizeof(addr));
		snprintf(shown, sizeof(shown), " (address %s)", addr);
	}
	tf_err_quote(q, sizeof(q), host != NULL ? host : "",
	    host != NULL ? strlen(host) : 0, QUOTE_MAX);
	tf_errf(why, whylen, "host \"%s\" port %u%s is not on "
	    "TASKFLEET_HTTP_TARGETS", q, port, shown);
}

bool
tf_target_list_permits(const struct tf_target_list *l, const char *host,
    const struct sockaddr *sa, char *why, size_t whylen)
{
	struct ip a;
	unsigned port;
	size_t hlen;
	const char *h;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (tf_target_list_count(l) == 0)
		return true;
	if (!ip_from_sockaddr(sa, &a)) {
		target_refusal(host, 0, NULL, why, whylen);
		return false;
	}
	port = sockaddr_port(sa);
	h = host_key(host, &hlen);
	if (targets_contain(l, &a, port) ||
	    targets_name(l, h, hlen, port, false))
		return true;
	target_refusal(host, port, &a, why, whylen);
	return false;
}

bool
tf_target_list_may_permit(const struct tf_target_list *l,
    const char *host, unsigned port, char *why, size_t whylen)
{
	struct ip a;
	size_t hlen;
	const char *h;
	char literal[INET6_ADDRSTRLEN];

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (tf_target_list_count(l) == 0)
		return true;
	h = host_key(host, &hlen);
	if (h != NULL && hlen < sizeof(literal)) {
		memcpy(literal, h, hlen);
		literal[hlen] = '\0';
	} else {
		literal[0] = '\0';
	}
	if (ip_from_text(literal, &a) ? targets_contain(l, &a, port) :
	    targets_name(l, h, hlen, port, true))
		return true;
	target_refusal(host, port, NULL, why, whylen);
	return false;
}
