/* marshal.c - plain JSON to DynamoDB AttributeValue JSON and back. */
#include "aws/marshal.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/json_escape.h"

/* Path frames kept for messages: an attribute, 32 container levels, slack. */
#define PATH_FRAMES (TF_MARSHAL_MAX_DEPTH + 4)
/* Bytes of a key shown in a path, and of a number or name in a message. */
#define SHOW_KEY 32
#define SHOW_TEXT 40
/* Exponents are clamped here while scanning, so no arithmetic overflows. */
#define EXP_CLAMP 1000000000LL
/* DynamoDB's range as exponents of the first significant digit. */
#define MIN_EXP10 (-130)
#define MAX_EXP10 125

/* One step of the path from the root to the value being worked on. */
struct frame {
	const char *key;  /* borrowed; NULL for a list index */
	size_t keylen;    /* bytes of key */
	size_t index;     /* list index when key is NULL */
};

/* What every walk carries: where it is, and where a message goes. */
struct ctx {
	struct frame path[PATH_FRAMES];  /* frames 0 .. depth-1 */
	int depth;                       /* frames pushed (PATH_FRAMES kept) */
	char *errbuf;                    /* borrowed; may be NULL */
	size_t errlen;                   /* bytes of errbuf */
};

/* A number's text, as far as DynamoDB cares. */
struct num {
	int json;           /* the text is a JSON number lexeme as it stands */
	int neg;            /* starts with '-' */
	int zero;           /* every digit is 0 */
	size_t sig;         /* significant digits (outer zeros trimmed) */
	long long exp10;    /* exponent of the first significant digit */
	const char *ip;     /* integer digits (borrowed from the text) */
	size_t il;
	const char *fp;     /* fraction digits, after '.' */
	size_t fl;
	const char *ep;     /* exponent after 'e': optional sign and digits */
	size_t el;          /* 0 when there is no exponent */
};

/* A bounded, always terminated writer into the caller's errbuf. */
struct out {
	char *p;     /* borrowed */
	size_t len;  /* bytes written, without the terminator */
	size_t cap;  /* bytes of p; 0 writes nothing */
};

/* The strict JSON text parser's state. */
struct parser {
	struct ctx *c;                   /* borrowed */
	const unsigned char *s;          /* borrowed text */
	size_t len;
	size_t pos;                      /* next byte to read */
	struct tf_buf key[PATH_FRAMES];  /* owned: current key at each level */
	struct tf_buf scratch;           /* owned: strings, number lexemes */
};

static enum tf_err fail(struct ctx *c, enum tf_err rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- messages and paths ---- */

static void
out_mem(struct out *o, const char *s, size_t n)
{
	if (o->cap == 0)
		return;
	while (n > 0 && o->len + 1 < o->cap) {
		o->p[o->len++] = *s++;
		n--;
	}
	o->p[o->len] = '\0';
}

static void
out_str(struct out *o, const char *s)
{
	out_mem(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if none. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c < 0xC2 || c > 0xF4)
		return 0;
	if (c < 0xE0)
		return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c < 0xF0) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
			return 0;  /* overlong, or a UTF-16 surrogate */
		return 3;
	}
	if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
	    (s[3] & 0xC0) != 0x80)
		return 0;
	if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
		return 0;  /* overlong, or above U+10FFFF */
	return 4;
}

/* True when s (n bytes) is valid UTF-8. */
static int
utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_seq(u + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

bool
tf_marshal_utf8_valid(const char *s, size_t n)
{
	return utf8_valid(s, n) != 0;
}

/* True for keys shown as .key rather than ["key"]. */
static int
is_plain_key(const char *k, size_t n)
{
	size_t i;

	if (n == 0 || n > SHOW_KEY)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = k[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

/* Writes up to `max` bytes of s (n bytes) for a message: valid UTF-8 stays,
 * other bytes and control characters become '?', '"' and '\' are escaped
 * when `quote` is set, and "..." marks a cut. */
static void
out_shown(struct out *o, const char *s, size_t n, size_t max, int quote)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n && i < max) {
		if (u[i] >= 0x80) {
			k = utf8_seq(u + i, n - i);
			if (k == 0 || i + k > max) {
				if (k != 0)
					break;
				out_mem(o, "?", 1);
				i++;
				continue;
			}
			out_mem(o, s + i, k);
			i += k;
		} else if (u[i] < 0x20 || u[i] == 0x7f) {
			out_mem(o, "?", 1);
			i++;
		} else {
			if (quote && (u[i] == '"' || u[i] == '\\'))
				out_mem(o, "\\", 1);
			out_mem(o, s + i, 1);
			i++;
		}
	}
	if (i < n)
		out_mem(o, "...", 3);
}

static void
out_path(struct out *o, const struct ctx *c)
{
	char num[32];
	int i, kept = c->depth < PATH_FRAMES ? c->depth : PATH_FRAMES;

	if (kept <= 0) {
		out_str(o, "top level");
		return;
	}
	for (i = 0; i < kept; i++) {
		const struct frame *f = &c->path[i];

		if (f->key == NULL) {
			snprintf(num, sizeof(num), "[%zu]", f->index);
			out_str(o, num);
		} else if (is_plain_key(f->key, f->keylen)) {
			if (i > 0)
				out_mem(o, ".", 1);
			out_mem(o, f->key, f->keylen);
		} else {
			out_mem(o, "[\"", 2);
			out_shown(o, f->key, f->keylen, SHOW_KEY, 1);
			out_mem(o, "\"]", 2);
		}
	}
	if (c->depth > kept)
		out_str(o, "...");
}

/* Writes "<path>: <message>" into the caller's errbuf and returns rc. */
static enum tf_err
fail(struct ctx *c, enum tf_err rc, const char *fmt, ...)
{
	struct out o = { c->errbuf, 0, c->errbuf != NULL ? c->errlen : 0 };
	va_list ap;

	if (o.cap == 0)
		return rc;
	o.p[0] = '\0';
	out_path(&o, c);
	out_str(&o, ": ");
	if (o.len + 1 < o.cap) {
		va_start(ap, fmt);
		vsnprintf(o.p + o.len, o.cap - o.len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static enum tf_err
too_deep(struct ctx *c, enum tf_err rc)
{
	return fail(c, rc, "nested deeper than %d levels",
	    TF_MARSHAL_MAX_DEPTH);
}

static enum tf_err
nomem(struct ctx *c)
{
	if (c->errbuf != NULL && c->errlen > 0)
		snprintf(c->errbuf, c->errlen, "out of memory");
	return TF_ERR_NOMEM;
}

/* Copies up to SHOW_TEXT bytes of s (n bytes) into out (SHOW_TEXT + 8 bytes)
 * for a message; returns out. */
static const char *
shown(char *out, const char *s, size_t n)
{
	struct out o = { out, 0, SHOW_TEXT + 8 };

	out[0] = '\0';
	out_shown(&o, s, n, SHOW_TEXT, 1);
	return out;
}

static void
ctx_init(struct ctx *c, char *errbuf, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->errbuf = errbuf;
	c->errlen = errbuf != NULL ? errlen : 0;
	if (c->errlen > 0)
		errbuf[0] = '\0';
}

static void
push_key(struct ctx *c, const char *key, size_t keylen)
{
	if (c->depth >= 0 && c->depth < PATH_FRAMES) {
		c->path[c->depth].key = key;
		c->path[c->depth].keylen = keylen;
		c->path[c->depth].index = 0;
	}
	c->depth++;
}

static void
push_index(struct ctx *c, size_t index)
{
	if (c->depth >= 0 && c->depth < PATH_FRAMES) {
		c->path[c->depth].key = NULL;
		c->path[c->depth].keylen = 0;
		c->path[c->depth].index = index;
	}
	c->depth++;
}

static void
pop(struct ctx *c)
{
	c->depth--;
}

/* ---- numbers ---- */

static int
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * Scans s (len bytes) as a number in the lenient grammar DynamoDB accepts,
 * [+-]? digits? ('.' digits?)? ([eE] [+-]? digits)? with at least one digit
 * before the exponent, and fills *n (which borrows from s). Returns 0, or -1
 * when s is no number at all.
 */
static int
num_scan(const char *s, size_t len, struct num *n)
{
	size_t i = 0, k, first = 0, last = 0, total;
	long long e = 0;
	int eneg = 0, seen = 0;

	memset(n, 0, sizeof(*n));
	if (i < len && (s[i] == '-' || s[i] == '+')) {
		n->neg = s[i] == '-';
		i++;
	}
	n->ip = s + i;
	while (i < len && is_digit(s[i]))
		i++;
	n->il = (size_t)(s + i - n->ip);
	n->json = n->il > 0 && s[0] != '+' && (n->il == 1 || n->ip[0] != '0');
	if (i < len && s[i] == '.') {
		i++;
		n->fp = s + i;
		while (i < len && is_digit(s[i]))
			i++;
		n->fl = (size_t)(s + i - n->fp);
		if (n->fl == 0)
			n->json = 0;
	}
	if (n->il + n->fl == 0)
		return -1;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		n->ep = s + i;
		if (i < len && (s[i] == '-' || s[i] == '+')) {
			eneg = s[i] == '-';
			i++;
		}
		k = i;
		while (i < len && is_digit(s[i])) {
			if (e < EXP_CLAMP)
				e = e * 10 + (s[i] - '0');
			i++;
		}
		if (i == k)
			return -1;
		n->el = (size_t)(s + i - n->ep);
	}
	if (i != len)
		return -1;

	/* Significant digits of the integer digits followed by the fraction. */
	total = n->il + n->fl;
	for (k = 0; k < total; k++) {
		char d = k < n->il ? n->ip[k] : n->fp[k - n->il];

		if (d != '0') {
			if (!seen)
				first = k;
			seen = 1;
			last = k;
		}
	}
	n->zero = !seen;
	if (seen) {
		n->sig = last - first + 1;
		if (e > EXP_CLAMP)
			e = EXP_CLAMP;
		n->exp10 = (eneg ? -e : e) + (long long)n->il - 1 -
		    (long long)first;
	}
	return 0;
}

/* Why DynamoDB would refuse the scanned number; NULL when it accepts it. */
static const char *
num_refusal(const struct num *n)
{
	if (n->zero)
		return NULL;
	if (n->sig > TF_MARSHAL_MAX_DIGITS)
		return "has more than 38 significant digits";
	if (n->exp10 > MAX_EXP10)
		return "is out of range (magnitude over "
		    "9.9999999999999999999999999999999999999E+125)";
	if (n->exp10 < MIN_EXP10)
		return "is out of range (magnitude under 1E-130)";
	return NULL;
}

/* Appends the scanned number as a JSON number lexeme of the same value. */
static enum tf_err
num_append_json(struct tf_buf *b, const struct num *n)
{
	enum tf_err rc = TF_OK;
	const char *ip = n->ip;
	size_t il = n->il;

	while (il > 1 && ip[0] == '0') {
		ip++;
		il--;
	}
	if (n->neg)
		rc = tf_buf_append_char(b, '-');
	if (rc == TF_OK)
		rc = il > 0 ? tf_buf_append(b, ip, il) :
		    tf_buf_append_char(b, '0');
	if (rc == TF_OK && n->fl > 0) {
		rc = tf_buf_append_char(b, '.');
		if (rc == TF_OK)
			rc = tf_buf_append(b, n->fp, n->fl);
	}
	if (rc == TF_OK && n->el > 0) {
		rc = tf_buf_append_char(b, 'e');
		if (rc == TF_OK)
			rc = tf_buf_append(b, n->ep, n->el);
	}
	return rc;
}

/* Writes d (finite) as the shortest text that reads back as d; integers
 * below 1e17 without an exponent. out holds at least 32 bytes. */
static void
format_double(double d, char *out, size_t outlen)
{
	int prec;

	if (d == floor(d) && fabs(d) < 1e17) {
		snprintf(out, outlen, "%.0f", d);
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(out, outlen, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

/* ---- base64 ---- */

static int
is_b64(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
}

/* True when s (n bytes) is padded standard base64; *decoded gets its size. */
static int
b64_valid(const char *s, size_t n, size_t *decoded)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, pad = 0;

	*decoded = 0;
	if (n % 4 != 0)
		return 0;
	if (n > 0 && u[n - 1] == '=')
		pad = n > 1 && u[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n - pad; i++)
		if (!is_b64(u[i]))
			return 0;
	*decoded = n / 4 * 3 - pad;
	return 1;
}

/* ---- sizes ---- */

static size_t
sat_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t
number_size(const char *s)
{
	struct num n;
	size_t len = strlen(s);

	if (num_scan(s, len, &n) != 0)
		return len / 2 + 2;
	return n.sig / 2 + 2;
}

static size_t
binary_size(const char *s)
{
	size_t len = strlen(s), decoded;

	return b64_valid(s, len, &decoded) ? decoded : len / 4 * 3;
}

/* Size of the string, number or binary members of a set. */
static size_t
set_size(const cJSON *set, size_t (*member)(const char *))
{
	const cJSON *e;
	size_t size = 0;

	cJSON_ArrayForEach(e, set)
		if (cJSON_IsString(e) && e->valuestring != NULL)
			size = sat_add(size, member(e->valuestring));
	return size;
}

static size_t
string_size(const char *s)
{
	return strlen(s);
}

/* DynamoDB's size of av, which sits inside `depth` containers. */
static size_t
av_size(const cJSON *av, int depth)
{
	const cJSON *v, *e;
	const char *t;
	size_t size;

	if (!cJSON_IsObject(av) || av->child == NULL ||
	    av->child->string == NULL)
		return 0;
	v = av->child;
	t = v->string;
	if (strcmp(t, "BOOL") == 0 || strcmp(t, "NULL") == 0)
		return 1;
	if (strcmp(t, "SS") == 0)
		return set_size(v, string_size);
	if (strcmp(t, "NS") == 0)
		return set_size(v, number_size);
	if (strcmp(t, "BS") == 0)
		return set_size(v, binary_size);
	if (strcmp(t, "M") == 0 || strcmp(t, "L") == 0) {
		if (depth >= TF_MARSHAL_MAX_DEPTH)
			return SIZE_MAX;
		size = 3;
		cJSON_ArrayForEach(e, v) {
			size = sat_add(size, 1);
			if (t[0] == 'M' && e->string != NULL)
				size = sat_add(size, strlen(e->string));
			size = sat_add(size, av_size(e, depth + 1));
		}
		return size;
	}
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return 0;
	if (strcmp(t, "S") == 0)
		return strlen(v->valuestring);
	if (strcmp(t, "N") == 0)
		return number_size(v->valuestring);
	if (strcmp(t, "B") == 0)
		return binary_size(v->valuestring);
	return 0;
}

size_t
tf_marshal_value_size(const cJSON *av)
{
	return av_size(av, 0);
}

size_t
tf_marshal_item_size(const cJSON *item)
{
	const cJSON *a;
	size_t size = 0;

	if (!cJSON_IsObject(item))
		return 0;
	cJSON_ArrayForEach(a, item) {
		if (a->string != NULL)
			size = sat_add(size, strlen(a->string));
		size = sat_add(size, av_size(a, 0));
	}
	return size;
}

/* ---- keys ---- */

static int
cmp_keys(const void *a, const void *b)
{
	const cJSON *const *x = a;
	const cJSON *const *y = b;

	return strcmp((*x)->string, (*y)->string);
}

/* Sets *dup to a member of obj whose key occurs twice, or NULL. All keys
 * must be non-NULL. Returns TF_OK or TF_ERR_NOMEM. */
static enum tf_err
find_duplicate(const cJSON *obj, const cJSON **dup)
{
	const cJSON *a, *b;
	const cJSON **all = NULL;
	size_t n = 0, i;

	*dup = NULL;
	cJSON_ArrayForEach(a, obj)
		n++;
	if (n <= 16) {
		for (a = obj->child; a != NULL && *dup == NULL; a = a->next)
			for (b = a->next; b != NULL; b = b->next)
				if (strcmp(a->string, b->string) == 0) {
					*dup = b;
					break;
				}
		return TF_OK;
	}
	all = tf_malloc(n * sizeof(*all));
	if (all == NULL)
		return TF_ERR_NOMEM;
	i = 0;
	cJSON_ArrayForEach(a, obj)
		all[i++] = a;
	qsort(all, n, sizeof(*all), cmp_keys);
	for (i = 1; i < n; i++)
		if (strcmp(all[i - 1]->string, all[i]->string) == 0) {
			*dup = all[i];
			break;
		}
	tf_free(all);
	return TF_OK;
}

/*
 * Checks the keys of obj: present, valid UTF-8, unique; when `writing`, also
 * non-empty and at most TF_MARSHAL_MAX_NAME bytes. Failures return `code`.
 */
static enum tf_err
check_keys(struct ctx *c, const cJSON *obj, enum tf_err code, int writing,
    const char *what)
{
	const cJSON *a, *dup;
	size_t len;
	enum tf_err rc;

	cJSON_ArrayForEach(a, obj) {
		if (a->string == NULL)
			return fail(c, code, "member without a name");
		len = strlen(a->string);
		if (writing && len == 0)
			return fail(c, code, "empty %s", what);
		if (writing && len > TF_MARSHAL_MAX_NAME)
			return fail(c, code, "%s of %zu bytes (more than %d)",
			    what, len, TF_MARSHAL_MAX_NAME);
		if (!utf8_valid(a->string, len))
			return fail(c, code, "%s is not valid UTF-8", what);
	}
	rc = find_duplicate(obj, &dup);
	if (rc != TF_OK)
		return nomem(c);
	if (dup != NULL) {
		push_key(c, dup->string, strlen(dup->string));
		rc = fail(c, code, "duplicate %s", what);
		pop(c);
		return rc;
	}
	return TF_OK;
}

/* ---- marshalling ---- */

/* Sets *out to {type: inner}. Takes ownership of inner (NULL means an
 * allocation failed); type must be a string literal. */
static enum tf_err
wrap(struct ctx *c, const char *type, cJSON *inner, cJSON **out)
{
	cJSON *av = NULL;

	*out = NULL;
	if (inner == NULL)
		return nomem(c);
	av = cJSON_CreateObject();
	if (av == NULL || !cJSON_AddItemToObjectCS(av, type, inner)) {
		cJSON_Delete(inner);
		cJSON_Delete(av);
		return nomem(c);
	}
	*out = av;
	return TF_OK;
}

/* Sets *av_out to {"N": text} after checking text (NUL-terminated, borrowed)
 * is a JSON number lexeme DynamoDB can hold. */
static enum tf_err
marshal_number(struct ctx *c, const char *text, cJSON **av_out)
{
	char show[SHOW_TEXT + 8];
	const char *why;
	struct num n;
	size_t len = strlen(text);

	*av_out = NULL;
	if (num_scan(text, len, &n) != 0 || !n.json)
		return fail(c, TF_ERR_INVALID, "\"%s\" is not a JSON number",
		    shown(show, text, len));
	why = num_refusal(&n);
	if (why != NULL)
		return fail(c, TF_ERR_INVALID, "number %s %s",
		    shown(show, text, len), why);
	return wrap(c, "N", cJSON_CreateString(text), av_out);
}

/* JSON value -> AV; json sits inside `depth` containers. On TF_OK *av_out is
 * owned by the caller. */
static enum tf_err
marshal_value(struct ctx *c, const cJSON *json, int depth, cJSON **av_out)
{
	enum tf_err rc = TF_OK;
	cJSON *inner = NULL, *child_av = NULL;
	const cJSON *child;
	char num[40];
	size_t i = 0;

	*av_out = NULL;
	switch (json->type & 0xFF) {
	case cJSON_False:
		rc = wrap(c, "BOOL", cJSON_CreateFalse(), av_out);
		break;
	case cJSON_True:
		rc = wrap(c, "BOOL", cJSON_CreateTrue(), av_out);
		break;
	case cJSON_NULL:
		rc = wrap(c, "NULL", cJSON_CreateTrue(), av_out);
		break;
	case cJSON_Number:
		if (!isfinite(json->valuedouble)) {
			rc = fail(c, TF_ERR_INVALID, "number is not finite");
			break;
		}
		format_double(json->valuedouble, num, sizeof(num));
		rc = marshal_number(c, num, av_out);
		break;
	case cJSON_Raw:
		if (json->valuestring == NULL)
			rc = fail(c, TF_ERR_INVALID, "raw JSON without text");
		else
			rc = marshal_number(c, json->valuestring, av_out);
		break;
	case cJSON_String:
		if (json->valuestring == NULL)
			rc = fail(c, TF_ERR_INVALID, "string without text");
		else if (!utf8_valid(json->valuestring,
		    strlen(json->valuestring)))
			rc = fail(c, TF_ERR_INVALID,
			    "string is not valid UTF-8");
		else
			rc = wrap(c, "S", cJSON_CreateString(json->valuestring),
			    av_out);
		break;
	case cJSON_Array:
		if (depth >= TF_MARSHAL_MAX_DEPTH) {
			rc = too_deep(c, TF_ERR_INVALID);
			break;
		}
		inner = cJSON_CreateArray();
		if (inner == NULL) {
			rc = nomem(c);
			break;
		}
		cJSON_ArrayForEach(child, json) {
			push_index(c, i++);
			rc = marshal_value(c, child, depth + 1, &child_av);
			pop(c);
			if (rc != TF_OK)
				goto out;
			cJSON_AddItemToArray(inner, child_av);
		}
		rc = wrap(c, "L", inner, av_out);
		inner = NULL;
		break;
	case cJSON_Object:
		if (depth >= TF_MARSHAL_MAX_DEPTH) {
			rc = too_deep(c, TF_ERR_INVALID);
			break;
		}
		rc = check_keys(c, json, TF_ERR_INVALID, 1, "key");
		if (rc != TF_OK)
			break;
		inner = cJSON_CreateObject();
		if (inner == NULL) {
			rc = nomem(c);
			break;
		}
		cJSON_ArrayForEach(child, json) {
			push_key(c, child->string, strlen(child->string));
			rc = marshal_value(c, child, depth + 1, &child_av);
			pop(c);
			if (rc != TF_OK)
				goto out;
			if (!cJSON_AddItemToObject(inner, child->string,
			    child_av)) {
				cJSON_Delete(child_av);
				rc = nomem(c);
				goto out;
			}
		}
		rc = wrap(c, "M", inner, av_out);
		inner = NULL;
		break;
	default:
		rc = fail(c, TF_ERR_INVALID, "not a JSON value (cJSON type %d)",
		    json->type & 0xFF);
		break;
	}
out:
	cJSON_Delete(inner);
	return rc;
}

/* Checks the size of a marshalled value (item when `is_item`). */
static enum tf_err
check_size(struct ctx *c, const cJSON *av, int is_item)
{
	size_t size = is_item ? tf_marshal_item_size(av) :
	    tf_marshal_value_size(av);

	if (size <= TF_MARSHAL_MAX_ITEM_SIZE)
		return TF_OK;
	return fail(c, TF_ERR_TOO_LARGE, "%s is %zu bytes, over DynamoDB's "
	    "item limit of %d bytes (400 KB)", is_item ? "item" : "value", size,
	    TF_MARSHAL_MAX_ITEM_SIZE);
}

/* JSON object -> item. On TF_OK *item_out is owned by the caller. */
static enum tf_err
marshal_item(struct ctx *c, const cJSON *obj, cJSON **item_out)
{
	enum tf_err rc;
	cJSON *item = NULL, *av = NULL;
	const cJSON *a;

	*item_out = NULL;
	if (!cJSON_IsObject(obj))
		return fail(c, TF_ERR_INVALID, "not a JSON object");
	rc = check_keys(c, obj, TF_ERR_INVALID, 1, "attribute name");
	if (rc != TF_OK)
		goto out;
	item = cJSON_CreateObject();
	if (item == NULL) {
		rc = nomem(c);
		goto out;
	}
	cJSON_ArrayForEach(a, obj) {
		push_key(c, a->string, strlen(a->string));
		rc = marshal_value(c, a, 0, &av);
		pop(c);
		if (rc != TF_OK)
			goto out;
		if (!cJSON_AddItemToObject(item, a->string, av)) {
			cJSON_Delete(av);
			rc = nomem(c);
			goto out;
		}
	}
	rc = check_size(c, item, 1);
	if (rc != TF_OK)
		goto out;
	*item_out = item;
	item = NULL;
out:
	cJSON_Delete(item);
	return rc;
}

enum tf_err
tf_marshal_value(const cJSON *json, cJSON **av_out, char *errbuf,
    size_t errlen)
{
	struct ctx c;
	enum tf_err rc;
	cJSON *av = NULL;

	ctx_init(&c, errbuf, errlen);
	*av_out = NULL;
	if (json == NULL)
		return fail(&c, TF_ERR_INVALID, "no value");
	rc = marshal_value(&c, json, 0, &av);
	if (rc == TF_OK)
		rc = check_size(&c, av, 0);
	if (rc != TF_OK) {
		cJSON_Delete(av);
		return rc;
	}
	*av_out = av;
	return TF_OK;
}

enum tf_err
tf_marshal_item(const cJSON *object, cJSON **item_out, char *errbuf,
    size_t errlen)
{
	struct ctx c;

	ctx_init(&c, errbuf, errlen);
	*item_out = NULL;
	if (object == NULL)
		return fail(&c, TF_ERR_INVALID, "no object");
	return marshal_item(&c, object, item_out);
}

/* ---- the strict JSON text parser ---- */

static enum tf_err
syntax(struct parser *p, const char *what)
{
	if (p->pos >= p->len)
		return fail(p->c, TF_ERR_INVALID, "unexpected end of JSON text "
		    "(byte %zu)", p->pos);
	return fail(p->c, TF_ERR_INVALID, "%s (byte %zu)", what, p->pos);
}

static void
skip_ws(struct parser *p)
{
	unsigned char ch;

	while (p->pos < p->len) {
		ch = p->s[p->pos];
		if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
			break;
		p->pos++;
	}
}

/* Reads 4 hex digits at p->pos into *cp; returns 0 or -1. */
static int
hex4(struct parser *p, unsigned *cp)
{
	unsigned v = 0;
	int i;

	if (p->len - p->pos < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		unsigned char ch = p->s[p->pos + (size_t)i];

		v <<= 4;
		if (ch >= '0' && ch <= '9')
			v |= ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			v |= ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			v |= ch - 'A' + 10;
		else
			return -1;
	}
	p->pos += 4;
	*cp = v;
	return 0;
}

static enum tf_err
append_utf8(struct tf_buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return tf_buf_append(b, u, n);
}

/* Decodes the \u escape whose 'u' is at p->pos into out. */
static enum tf_err
parse_unicode_escape(struct parser *p, struct tf_buf *out)
{
	unsigned cp, lo;
	size_t at = p->pos - 1;

	p->pos++;
	if (hex4(p, &cp) != 0)
		return syntax(p, "bad \\u escape in string");
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (p->len - p->pos < 2 || p->s[p->pos] != '\\' ||
		    p->s[p->pos + 1] != 'u') {
			p->pos = at;
			return syntax(p, "unpaired UTF-16 surrogate in string");
		}
		p->pos += 2;
		if (hex4(p, &lo) != 0)
			return syntax(p, "bad \\u escape in string");
		if (lo < 0xDC00 || lo > 0xDFFF) {
			p->pos = at;
			return syntax(p, "unpaired UTF-16 surrogate in string");
		}
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
		p->pos = at;
		return syntax(p, "unpaired UTF-16 surrogate in string");
	} else if (cp == 0) {
		p->pos = at;
		return syntax(p, "\\u0000 is not supported in strings");
	}
	return append_utf8(out, cp) == TF_OK ? TF_OK : nomem(p->c);
}

/* Decodes the string whose opening quote is at p->pos into out (reset
 * first; tf_buf_str(out) is the result). */
static enum tf_err
parse_string(struct parser *p, struct tf_buf *out)
{
	const unsigned char *s = p->s;
	size_t start, k;
	enum tf_err rc;
	char ch;

	tf_buf_reset(out);
	p->pos++;
	for (;;) {
		if (p->pos >= p->len)
			return syntax(p, "unterminated string");
		if (s[p->pos] == '"') {
			p->pos++;
			return TF_OK;
		}
		if (s[p->pos] == '\\') {
			p->pos++;
			if (p->pos >= p->len)
				return syntax(p, "unterminated string");
			switch (s[p->pos]) {
			case '"':  ch = '"'; break;
			case '\\': ch = '\\'; break;
			case '/':  ch = '/'; break;
			case 'b':  ch = '\b'; break;
			case 'f':  ch = '\f'; break;
			case 'n':  ch = '\n'; break;
			case 'r':  ch = '\r'; break;
			case 't':  ch = '\t'; break;
			case 'u':
				rc = parse_unicode_escape(p, out);
				if (rc != TF_OK)
					return rc;
				continue;
			default:
				return syntax(p, "bad escape in string");
			}
			p->pos++;
			if (tf_buf_append_char(out, ch) != TF_OK)
				return nomem(p->c);
			continue;
		}
		if (s[p->pos] < 0x20)
			return syntax(p, "control character in string");
		start = p->pos;
		if (s[p->pos] < 0x80) {
			while (p->pos < p->len && s[p->pos] >= 0x20 &&
			    s[p->pos] < 0x80 && s[p->pos] != '"' &&
			    s[p->pos] != '\\')
				p->pos++;
		} else {
			k = utf8_seq(s + p->pos, p->len - p->pos);
			if (k == 0)
				return syntax(p, "invalid UTF-8 in string");
			p->pos += k;
		}
		if (tf_buf_append(out, s + start, p->pos - start) != TF_OK)
			return nomem(p->c);
	}
}

/* Reads a strict JSON number at p->pos into a cJSON_Raw holding its lexeme. */
static enum tf_err
parse_number(struct parser *p, cJSON **out)
{
	const unsigned char *s = p->s;
	size_t start = p->pos;

	if (p->pos < p->len && s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && s[p->pos] == '0') {
		p->pos++;
	} else if (p->pos < p->len && s[p->pos] >= '1' && s[p->pos] <= '9') {
		while (p->pos < p->len && is_digit((char)s[p->pos]))
			p->pos++;
	} else {
		return syntax(p, "bad number");
	}
	if (p->pos < p->len && s[p->pos] == '.') {
		p->pos++;
		if (p->pos >= p->len || !is_digit((char)s[p->pos]))
			return syntax(p, "bad number");
		while (p->pos < p->len && is_digit((char)s[p->pos]))
			p->pos++;
	}
	if (p->pos < p->len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (s[p->pos] == '+' || s[p->pos] == '-'))
			p->pos++;
		if (p->pos >= p->len || !is_digit((char)s[p->pos]))
			return syntax(p, "bad number");
		while (p->pos < p->len && is_digit((char)s[p->pos]))
			p->pos++;
	}
	tf_buf_reset(&p->scratch);
	if (tf_buf_append(&p->scratch, s + start, p->pos - start) != TF_OK)
		return nomem(p->c);
	*out = cJSON_CreateRaw(tf_buf_str(&p->scratch));
	return *out != NULL ? TF_OK : nomem(p->c);
}

static enum tf_err parse_value(struct parser *p, int level, cJSON **out);

/* Reads the object whose '{' is at p->pos; it is container level `level`. */
static enum tf_err
parse_object(struct parser *p, int level, cJSON **out)
{
	enum tf_err rc = TF_OK;
	cJSON *obj = NULL, *child = NULL;
	struct tf_buf *key;

	if (level > TF_MARSHAL_MAX_DEPTH)
		return too_deep(p->c, TF_ERR_INVALID);
	key = &p->key[level];
	obj = cJSON_CreateObject();
	if (obj == NULL)
		return nomem(p->c);
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		goto done;
	}
	for (;;) {
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != '"') {
			rc = syntax(p, "expected a string key");
			goto out;
		}
		rc = parse_string(p, key);
		if (rc != TF_OK)
			goto out;
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':') {
			rc = syntax(p, "expected ':'");
			goto out;
		}
		p->pos++;
		push_key(p->c, tf_buf_str(key), key->len);
		rc = parse_value(p, level + 1, &child);
		pop(p->c);
		if (rc != TF_OK)
			goto out;
		if (!cJSON_AddItemToObject(obj, tf_buf_str(key), child)) {
			cJSON_Delete(child);
			rc = nomem(p->c);
			goto out;
		}
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}') {
			p->pos++;
			break;
		}
		rc = syntax(p, "expected ',' or '}'");
		goto out;
	}
done:
	*out = obj;
	obj = NULL;
out:
	cJSON_Delete(obj);
	return rc;
}

/* Reads the array whose '[' is at p->pos; it is container level `level`. */
static enum tf_err
parse_array(struct parser *p, int level, cJSON **out)
{
	enum tf_err rc = TF_OK;
	cJSON *arr = NULL, *child = NULL;
	size_t i = 0;

	if (level > TF_MARSHAL_MAX_DEPTH)
		return too_deep(p->c, TF_ERR_INVALID);
	arr = cJSON_CreateArray();
	if (arr == NULL)
		return nomem(p->c);
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
		goto done;
	}
	for (;;) {
		push_index(p->c, i++);
		rc = parse_value(p, level + 1, &child);
		pop(p->c);
		if (rc != TF_OK)
			goto out;
		cJSON_AddItemToArray(arr, child);
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == ']') {
			p->pos++;
			break;
		}
		rc = syntax(p, "expected ',' or ']'");
		goto out;
	}
done:
	*out = arr;
	arr = NULL;
out:
	cJSON_Delete(arr);
	return rc;
}

/* Matches the literal word at p->pos. */
static int
literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return 0;
	p->pos += n;
	return 1;
}

/* Reads one JSON value; a container here would be level `level`. On TF_OK
 * *out is owned by the caller. */
static enum tf_err
parse_value(struct parser *p, int level, cJSON **out)
{
	enum tf_err rc;

	*out = NULL;
	skip_ws(p);
	if (p->pos >= p->len)
		return syntax(p, "expected a value");
	switch (p->s[p->pos]) {
	case '{':
		return parse_object(p, level, out);
	case '[':
		return parse_array(p, level, out);
	case '"':
		rc = parse_string(p, &p->scratch);
		if (rc != TF_OK)
			return rc;
		*out = cJSON_CreateString(tf_buf_str(&p->scratch));
		break;
	case 't':
		if (!literal(p, "true"))
			return syntax(p, "unexpected character");
		*out = cJSON_CreateTrue();
		break;
	case 'f':
		if (!literal(p, "false"))
			return syntax(p, "unexpected character");
		*out = cJSON_CreateFalse();
		break;
	case 'n':
		if (!literal(p, "null"))
			return syntax(p, "unexpected character");
		*out = cJSON_CreateNull();
		break;
	default:
		if (p->s[p->pos] == '-' || is_digit((char)p->s[p->pos]))
			return parse_number(p, out);
		return syntax(p, "unexpected character");
	}
	return *out != NULL ? TF_OK : nomem(p->c);
}

/*
 * Parses text (len bytes) as one strict JSON value into a cJSON tree whose
 * numbers are cJSON_Raw items holding their lexemes. A container at the top
 * is level `level`. On TF_OK *out is owned by the caller.
 */
static enum tf_err
parse_text(struct ctx *c, const char *text, size_t len, int level,
    cJSON **out)
{
	struct parser p;
	enum tf_err rc;
	cJSON *tree = NULL;
	int i;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.s = (const unsigned char *)text;
	p.len = text != NULL ? len : 0;
	*out = NULL;
	rc = parse_value(&p, level, &tree);
	if (rc == TF_OK) {
		skip_ws(&p);
		if (p.pos < p.len)
			rc = syntax(&p, "unexpected data after the JSON value");
	}
	for (i = 0; i < PATH_FRAMES; i++)
		tf_buf_free(&p.key[i]);
	tf_buf_free(&p.scratch);
	if (rc != TF_OK) {
		cJSON_Delete(tree);
		return rc;
	}
	*out = tree;
	return TF_OK;
}

enum tf_err
tf_marshal_json_text(const char *text, size_t len, cJSON **item_out,
    char *errbuf, size_t errlen)
{
	struct ctx c;
	enum tf_err rc;
	cJSON *tree = NULL;
	size_t i = 0;

	ctx_init(&c, errbuf, errlen);
	*item_out = NULL;
	while (text != NULL && i < len && (text[i] == ' ' || text[i] == '\t' ||
	    text[i] == '\n' || text[i] == '\r'))
		i++;
	if (text == NULL || i >= len || text[i] != '{')
		return fail(&c, TF_ERR_INVALID, "not a JSON object");
	rc = parse_text(&c, text, len, 0, &tree);
	if (rc == TF_OK)
		rc = marshal_item(&c, tree, item_out);
	cJSON_Delete(tree);
	return rc;
}

enum tf_err
tf_marshal_value_json_text(const char *text, size_t len, cJSON **av_out,
    char *errbuf, size_t errlen)
{
	struct ctx c;
	enum tf_err rc;
	cJSON *tree = NULL, *av = NULL;

	ctx_init(&c, errbuf, errlen);
	*av_out = NULL;
	rc = parse_text(&c, text, len, 1, &tree);
	if (rc != TF_OK)
		goto out;
	rc = marshal_value(&c, tree, 0, &av);
	if (rc != TF_OK)
		goto out;
	rc = check_size(&c, av, 0);
	if (rc != TF_OK)
		goto out;
	*av_out = av;
	av = NULL;
out:
	cJSON_Delete(av);
	cJSON_Delete(tree);
	return rc;
}

/* ---- unmarshalling ---- */

/* A string under a type key: present and valid UTF-8. */
static enum tf_err
av_string(struct ctx *c, const cJSON *v, const char **s)
{
	*s = NULL;
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return fail(c, TF_ERR_PARSE, "%s is not a JSON string",
		    v->string);
	if (!utf8_valid(v->valuestring, strlen(v->valuestring)))
		return fail(c, TF_ERR_PARSE, "%s is not valid UTF-8",
		    v->string);
	*s = v->valuestring;
	return TF_OK;
}

/* The N text s (borrowed; named `what` in messages) -> a JSON number: a
 * cJSON_Raw with an exact lexeme when `exact`, else a cJSON number. */
static enum tf_err
unmarshal_number(struct ctx *c, const char *s, const char *what, int exact,
    cJSON **out)
{
	char show[SHOW_TEXT + 8];
	struct tf_buf b = TF_BUF_INIT;
	const char *why, *lexeme = s;
	struct num n;
	size_t len = strlen(s);
	enum tf_err rc = TF_OK;

	*out = NULL;
	if (num_scan(s, len, &n) != 0) {
		rc = fail(c, TF_ERR_PARSE, "%s \"%s\" is not a number", what,
		    shown(show, s, len));
		goto out;
	}
	why = num_refusal(&n);
	if (why != NULL) {
		rc = fail(c, TF_ERR_PARSE, "%s %s %s", what,
		    shown(show, s, len), why);
		goto out;
	}
	if (!n.json) {
		if (num_append_json(&b, &n) != TF_OK) {
			rc = nomem(c);
			goto out;
		}
		lexeme = tf_buf_str(&b);
	}
	*out = exact ? cJSON_CreateRaw(lexeme) :
	    cJSON_CreateNumber(strtod(lexeme, NULL));
	if (*out == NULL)
		rc = nomem(c);
out:
	tf_buf_free(&b);
	return rc;
}

/* One member of the set type t (SS, NS or BS) -> a JSON string or number.
 * On TF_OK *out is owned by the caller. */
static enum tf_err
set_member(struct ctx *c, const cJSON *e, const char *t, int exact,
    cJSON **out)
{
	const char *s = e->valuestring;
	size_t decoded;

	*out = NULL;
	if (!cJSON_IsString(e) || s == NULL)
		return fail(c, TF_ERR_PARSE, "%s member is not a JSON string",
		    t);
	if (t[0] == 'N')
		return unmarshal_number(c, s, "NS member", exact, out);
	if (!utf8_valid(s, strlen(s)))
		return fail(c, TF_ERR_PARSE, "%s member is not valid UTF-8", t);
	if (t[0] == 'B' && !b64_valid(s, strlen(s), &decoded))
		return fail(c, TF_ERR_PARSE, "BS member is not base64");
	*out = cJSON_CreateString(s);
	return *out != NULL ? TF_OK : nomem(c);
}

/* A set (SS, NS or BS, named by v->string) -> a JSON array. On TF_OK *out
 * is owned by the caller. */
static enum tf_err
unmarshal_set(struct ctx *c, const cJSON *v, int exact, cJSON **out)
{
	enum tf_err rc = TF_OK;
	cJSON *arr = NULL, *member = NULL;
	const cJSON *e;
	size_t i = 0;

	*out = NULL;
	if (!cJSON_IsArray(v))
		return fail(c, TF_ERR_PARSE, "%s is not a JSON array",
		    v->string);
	arr = cJSON_CreateArray();
	if (arr == NULL)
		return nomem(c);
	cJSON_ArrayForEach(e, v) {
		push_index(c, i++);
		rc = set_member(c, e, v->string, exact, &member);
		pop(c);
		if (rc != TF_OK)
			goto out;
		cJSON_AddItemToArray(arr, member);
	}
	*out = arr;
	arr = NULL;
out:
	cJSON_Delete(arr);
	return rc;
}

static enum tf_err unmarshal_map(struct ctx *c, const cJSON *m, int depth,
    int exact, int item, cJSON **out);
static enum tf_err unmarshal_value(struct ctx *c, const cJSON *av, int depth,
    int exact, cJSON **out);

/* An L's array -> a JSON array whose members sit inside `depth` containers.
 * On TF_OK *out is owned by the caller. */
static enum tf_err
unmarshal_list(struct ctx *c, const cJSON *l, int depth, int exact,
    cJSON **out)
{
	enum tf_err rc = TF_OK;
	cJSON *arr = NULL, *child = NULL;
	const cJSON *e;
	size_t i = 0;

	*out = NULL;
	if (!cJSON_IsArray(l))
		return fail(c, TF_ERR_PARSE, "L is not a JSON array");
	arr = cJSON_CreateArray();
	if (arr == NULL)
		return nomem(c);
	cJSON_ArrayForEach(e, l) {
		push_index(c, i++);
		rc = unmarshal_value(c, e, depth, exact, &child);
		pop(c);
		if (rc != TF_OK)
			goto out;
		cJSON_AddItemToArray(arr, child);
	}
	*out = arr;
	arr = NULL;
out:
	cJSON_Delete(arr);
	return rc;
}

/* The scalar under type key t (S, N, B, BOOL, NULL) -> JSON. On TF_OK *out
 * is owned by the caller. */
static enum tf_err
unmarshal_scalar(struct ctx *c, const cJSON *v, const char *t, int exact,
    cJSON **out)
{
	char show[SHOW_TEXT + 8];
	const char *s;
	size_t decoded;
	enum tf_err rc;

	*out = NULL;
	if (strcmp(t, "BOOL") == 0) {
		if (!cJSON_IsBool(v))
			return fail(c, TF_ERR_PARSE,
			    "BOOL is not true or false");
		*out = cJSON_CreateBool(cJSON_IsTrue(v));
	} else if (strcmp(t, "NULL") == 0) {
		if (!cJSON_IsTrue(v))
			return fail(c, TF_ERR_PARSE, "NULL is not true");
		*out = cJSON_CreateNull();
	} else if (strcmp(t, "N") == 0) {
		if (!cJSON_IsString(v) || v->valuestring == NULL)
			return fail(c, TF_ERR_PARSE, "N is not a JSON string");
		return unmarshal_number(c, v->valuestring, "N", exact, out);
	} else if (strcmp(t, "S") == 0 || strcmp(t, "B") == 0) {
		rc = av_string(c, v, &s);
		if (rc != TF_OK)
			return rc;
		if (t[0] == 'B' && !b64_valid(s, strlen(s), &decoded))
			return fail(c, TF_ERR_PARSE, "B is not base64");
		*out = cJSON_CreateString(s);
	} else {
		return fail(c, TF_ERR_PARSE,
		    "unknown AttributeValue type \"%s\"", shown(show, t,
		    strlen(t)));
	}
	return *out != NULL ? TF_OK : nomem(c);
}

/* AV -> JSON; av sits inside `depth` containers. On TF_OK *out is owned by
 * the caller. */
static enum tf_err
unmarshal_value(struct ctx *c, const cJSON *av, int depth, int exact,
    cJSON **out)
{
	char show1[SHOW_TEXT + 8], show2[SHOW_TEXT + 8];
	const cJSON *v;
	const char *t;

	*out = NULL;
	if (!cJSON_IsObject(av))
		return fail(c, TF_ERR_PARSE,
		    "not an AttributeValue (a JSON object)");
	v = av->child;
	if (v == NULL)
		return fail(c, TF_ERR_PARSE, "AttributeValue without a type");
	if (v->string == NULL || (v->next != NULL && v->next->string == NULL))
		return fail(c, TF_ERR_PARSE,
		    "AttributeValue member without a name");
	if (v->next != NULL)
		return fail(c, TF_ERR_PARSE, "AttributeValue with more than "
		    "one type (\"%s\", \"%s\")",
		    shown(show1, v->string, strlen(v->string)),
		    shown(show2, v->next->string, strlen(v->next->string)));
	t = v->string;
	if (strcmp(t, "M") != 0 && strcmp(t, "L") != 0 &&
	    strcmp(t, "SS") != 0 && strcmp(t, "NS") != 0 &&
	    strcmp(t, "BS") != 0)
		return unmarshal_scalar(c, v, t, exact, out);
	if (depth >= TF_MARSHAL_MAX_DEPTH)
		return too_deep(c, TF_ERR_PARSE);
	if (t[0] == 'M')
		return unmarshal_map(c, v, depth + 1, exact, 0, out);
	if (t[0] == 'L')
		return unmarshal_list(c, v, depth + 1, exact, out);
	return unmarshal_set(c, v, exact, out);
}

/* The object m (an M's map, or an item when `item`) -> a JSON object whose
 * members sit inside `depth` containers. On TF_OK *out is owned by the
 * caller. */
static enum tf_err
unmarshal_map(struct ctx *c, const cJSON *m, int depth, int exact, int item,
    cJSON **out)
{
	enum tf_err rc;
	cJSON *obj = NULL, *child = NULL;
	const cJSON *a;

	*out = NULL;
	if (!cJSON_IsObject(m))
		return fail(c, TF_ERR_PARSE, "%s", item ?
		    "not an item (a JSON object)" : "M is not a JSON object");
	rc = check_keys(c, m, TF_ERR_PARSE, 0, item ? "attribute name" : "key");
	if (rc != TF_OK)
		return rc;
	obj = cJSON_CreateObject();
	if (obj == NULL)
		return nomem(c);
	cJSON_ArrayForEach(a, m) {
		push_key(c, a->string, strlen(a->string));
		rc = unmarshal_value(c, a, depth, exact, &child);
		pop(c);
		if (rc != TF_OK)
			goto out;
		if (!cJSON_AddItemToObject(obj, a->string, child)) {
			cJSON_Delete(child);
			rc = nomem(c);
			goto out;
		}
	}
	*out = obj;
	obj = NULL;
out:
	cJSON_Delete(obj);
	return rc;
}

/* Writes the members of the array or object j to b, with brackets. */
static enum tf_err
print_container(struct tf_buf *b, const cJSON *j)
{
	int is_object = cJSON_IsObject(j);
	enum tf_err rc = tf_buf_append_char(b, is_object ? '{' : '[');
	const char *key;
	const cJSON *e;

	cJSON_ArrayForEach(e, j) {
		if (rc == TF_OK && e != j->child)
			rc = tf_buf_append_char(b, ',');
		if (rc == TF_OK && is_object) {
			key = e->string != NULL ? e->string : "";
			rc = tf_json_escape_append(b, key, strlen(key));
			if (rc == TF_OK)
				rc = tf_buf_append_char(b, ':');
		}
		if (rc == TF_OK)
			rc = tf_marshal_write_json(b, e);
		if (rc != TF_OK)
			return rc;
	}
	return tf_buf_append_char(b, is_object ? '}' : ']');
}

enum tf_err
tf_marshal_write_json(struct tf_buf *b, const cJSON *j)
{
	char num[40];

	switch (j->type & 0xFF) {
	case cJSON_False:
		return tf_buf_append_str(b, "false");
	case cJSON_True:
		return tf_buf_append_str(b, "true");
	case cJSON_NULL:
		return tf_buf_append_str(b, "null");
	case cJSON_Number:
		if (!isfinite(j->valuedouble))
			return tf_buf_append_str(b, "null");
		format_double(j->valuedouble, num, sizeof(num));
		return tf_buf_append_str(b, num);
	case cJSON_Raw:
		return tf_buf_append_str(b, j->valuestring != NULL ?
		    j->valuestring : "null");
	case cJSON_String:
		if (j->valuestring == NULL)
			return tf_buf_append_str(b, "\"\"");
		return tf_json_escape_append(b, j->valuestring,
		    strlen(j->valuestring));
	case cJSON_Array:
	case cJSON_Object:
		return print_container(b, j);
	default:
		return tf_buf_append_str(b, "null");
	}
}

/* Writes tree as JSON text into *text_out (owned by the caller, tf_free). */
static enum tf_err
print_text(struct ctx *c, const cJSON *tree, char **text_out)
{
	struct tf_buf b = TF_BUF_INIT;

	*text_out = NULL;
	if (tf_marshal_write_json(&b, tree) != TF_OK) {
		tf_buf_free(&b);
		return nomem(c);
	}
	*text_out = tf_buf_steal(&b);
	return *text_out != NULL ? TF_OK : nomem(c);
}

enum tf_err
tf_unmarshal_value(const cJSON *av, cJSON **json_out, char *errbuf,
    size_t errlen)
{
	struct ctx c;

	ctx_init(&c, errbuf, errlen);
	*json_out = NULL;
	if (av == NULL)
		return fail(&c, TF_ERR_PARSE, "no AttributeValue");
	return unmarshal_value(&c, av, 0, 0, json_out);
}

enum tf_err
tf_unmarshal_item(const cJSON *item, cJSON **json_out, char *errbuf,
    size_t errlen)
{
	struct ctx c;

	ctx_init(&c, errbuf, errlen);
	*json_out = NULL;
	if (item == NULL)
		return fail(&c, TF_ERR_PARSE, "no item");
	return unmarshal_map(&c, item, 0, 0, 1, json_out);
}

enum tf_err
tf_unmarshal_to_json_text(const cJSON *item, char **json_text_out,
    char *errbuf, size_t errlen)
{
	struct ctx c;
	enum tf_err rc;
	cJSON *tree = NULL;

	ctx_init(&c, errbuf, errlen);
	*json_text_out = NULL;
	if (item == NULL)
		return fail(&c, TF_ERR_PARSE, "no item");
	rc = unmarshal_map(&c, item, 0, 1, 1, &tree);
	if (rc == TF_OK)
		rc = print_text(&c, tree, json_text_out);
	cJSON_Delete(tree);
	return rc;
}

enum tf_err
tf_unmarshal_value_to_json_text(const cJSON *av, char **json_text_out,
    char *errbuf, size_t errlen)
{
	struct ctx c;
	enum tf_err rc;
	cJSON *tree = NULL;

	ctx_init(&c, errbuf, errlen);
	*json_text_out = NULL;
	if (av == NULL)
		return fail(&c, TF_ERR_PARSE, "no AttributeValue");
	rc = unmarshal_value(&c, av, 0, 1, &tree);
	if (rc == TF_OK)
		rc = print_text(&c, tree, json_text_out);
	cJSON_Delete(tree);
	return rc;
}
