/* json_scan.c - a strict JSON reader that builds no tree. */
#include "base/json_scan.h"

#include <string.h>

#include "base/alloc.h"

void
tf_json_scan_init(struct tf_json_scan *sc, const char *text, size_t len)
{
	memset(sc, 0, sizeof(*sc));
	sc->s = text;
	sc->len = len;
}

/* Records the first error (what: static text) at the current position;
 * returns false for the caller to pass on. */
static bool
fail(struct tf_json_scan *sc, const char *what)
{
	if (sc->error == NULL) {
		sc->error = sc->pos >= sc->len ? "unexpected end of JSON text" : what;
		sc->error_pos = sc->pos;
	}
	return false;
}

static void
skip_ws(struct tf_json_scan *sc)
{
	char c;

	while (sc->pos < sc->len) {
		c = sc->s[sc->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		sc->pos++;
	}
}

/* The next byte after whitespace, not consumed; -1 at the end of the text
 * or after an error. */
static int
next_byte(struct tf_json_scan *sc)
{
	if (sc->error != NULL)
		return -1;
	skip_ws(sc);
	return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : -1;
}

/* The value of the 4 hex digits at p; -1 when they are not hex digits. */
static long
hex4(const char *p)
{
	long v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Checks the \u escape whose backslash is at sc->pos (a surrogate pair
 * counts as one) and moves past it. */
static bool
scan_unicode(struct tf_json_scan *sc)
{
	long cp, lo;

	if (sc->len - sc->pos < 6 || (cp = hex4(sc->s + sc->pos + 2)) < 0)
		return fail(sc, "bad \\u escape in string");
	if (cp == 0)
		return fail(sc, "\\u0000 in string");
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return fail(sc, "unpaired UTF-16 surrogate in string");
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (sc->len - sc->pos < 12 || sc->s[sc->pos + 6] != '\\' ||
		    sc->s[sc->pos + 7] != 'u' ||
		    (lo = hex4(sc->s + sc->pos + 8)) < 0xDC00 || lo > 0xDFFF)
			return fail(sc, "unpaired UTF-16 surrogate in string");
		sc->pos += 6;
	}
	sc->pos += 6;
	return true;
}

/* The bytes a string holds as they are: not a control character, a quote or
 * a backslash. */
static const unsigned char plain_byte[256] = {
	[0x20 ... '"' - 1] = 1, ['"' + 1 ... '\\' - 1] = 1,
	['\\' + 1 ... 0xFF] = 1,
};

/* Reads the string whose opening quote is at sc->pos into *out. */
static bool
scan_string(struct tf_json_scan *sc, struct tf_json_str *out)
{
	const unsigned char *p, *end;
	unsigned char c;

	out->raw = sc->s + ++sc->pos;
	out->escaped = false;
	for (;;) {
		if (sc->pos >= sc->len)
			return fail(sc, "unterminated string");
		c = (unsigned char)sc->s[sc->pos];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(sc, "control character in string");
		if (c != '\\') {
			/* The plain run to the next quote, backslash or control
			 * character, in one tight loop. */
			p = (const unsigned char *)sc->s + sc->pos + 1;
			end = (const unsigned char *)sc->s + sc->len;
			while (p < end && plain_byte[*p])
				p++;
			sc->pos = (size_t)(p - (const unsigned char *)sc->s);
			continue;
		}
		out->escaped = true;
		if (sc->pos + 1 >= sc->len)
			return fail(sc, "unterminated string");
		switch (sc->s[sc->pos + 1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			sc->pos += 2;
			break;
		case 'u':
			if (!scan_unicode(sc))
				return false;
			break;
		default:
			return fail(sc, "bad escape in string");
		}
	}
	out->len = (size_t)(sc->s + sc->pos - out->raw);
	sc->pos++;
	return true;
}

static bool
is_digit(struct tf_json_scan *sc)
{
	return sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9';
}

/* Moves past the digits at sc->pos; false when there is none. */
static bool
digits(struct tf_json_scan *sc)
{
	if (!is_digit(sc))
		return fail(sc, "digit expected in number");
	while (is_digit(sc))
		sc->pos++;
	return true;
}

/* Reads the number at sc->pos (RFC 8259's grammar, any size) into *out. */
static bool
scan_number(struct tf_json_scan *sc, struct tf_json_str *out)
{
	size_t start = sc->pos;

	if (sc->s[sc->pos] == '-')
		sc->pos++;
	if (sc->pos < sc->len && sc->s[sc->pos] == '0')
		sc->pos++;
	else if (!digits(sc))
		return false;
	if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
		sc->pos++;
		if (!digits(sc))
			return false;
	}
	if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
		sc->pos++;
		if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
			sc->pos++;
		if (!digits(sc))
			return false;
	}
	out->raw = sc->s + start;
	out->len = sc->pos - start;
	out->escaped = false;
	return true;
}

/* Reads the literal word (true, false, null) at sc->pos. */
static bool
scan_word(struct tf_json_scan *sc, const char *word)
{
	size_t n = strlen(word);

	if (sc->len - sc->pos < n || memcmp(sc->s + sc->pos, word, n) != 0)
		return fail(sc, "invalid literal");
	sc->pos += n;
	return true;
}

enum tf_json_type
tf_json_peek(struct tf_json_scan *sc)
{
	switch (next_byte(sc)) {
	case '{': return TF_JSON_OBJECT;
	case '[': return TF_JSON_ARRAY;
	case '"': return TF_JSON_STRING;
	case 't': case 'f': return TF_JSON_BOOL;
	case 'n': return TF_JSON_NULL;
	case '-': case '0': case '1': case '2': case '3': case '4': case '5':
	case '6': case '7': case '8': case '9':
		return TF_JSON_NUMBER;
	default:
		return TF_JSON_INVALID;
	}
}

bool
tf_json_enter(struct tf_json_scan *sc, enum tf_json_type type)
{
	if (tf_json_peek(sc) != type || (type != TF_JSON_OBJECT &&
	    type != TF_JSON_ARRAY))
		return fail(sc, type == TF_JSON_ARRAY ? "array expected" :
		    "object expected");
	if (sc->depth >= TF_JSON_MAX_DEPTH)
		return fail(sc, "JSON nested too deeply");
	sc->depth++;
	sc->pos++;
	sc->first = true;
	return true;
}

/* Reads the separator before the next member or element of the innermost
 * container, or its closing byte `close` (then false, and the container is
 * left). */
static bool
next_in(struct tf_json_scan *sc, char close)
{
	int c = next_byte(sc);

	if (c == close) {
		sc->pos++;
		sc->depth--;
		sc->first = false;
		return false;
	}
	if (!sc->first) {
		if (c != ',')
			return fail(sc, close == '}' ? "',' or '}' expected" :
			    "',' or ']' expected");
		sc->pos++;
	}
	sc->first = false;
	return sc->error == NULL;
}

bool
tf_json_member(struct tf_json_scan *sc, struct tf_json_str *key)
{
	if (!next_in(sc, '}'))
		return false;
	if (next_byte(sc) != '"')
		return fail(sc, "member name expected");
	if (!scan_string(sc, key))
		return false;
	if (next_byte(sc) != ':')
		return fail(sc, "':' expected");
	sc->pos++;
	return true;
}

bool
tf_json_element(struct tf_json_scan *sc)
{
	return next_in(sc, ']');
}

bool
tf_json_string(struct tf_json_scan *sc, struct tf_json_str *out)
{
	if (tf_json_peek(sc) != TF_JSON_STRING)
		return fail(sc, "string expected");
	return scan_string(sc, out);
}

bool
tf_json_number(struct tf_json_scan *sc, struct tf_json_str *out)
{
	if (tf_json_peek(sc) != TF_JSON_NUMBER)
		return fail(sc, "number expected");
	return scan_number(sc, out);
}

bool
tf_json_bool(struct tf_json_scan *sc, bool *out)
{
	if (tf_json_peek(sc) != TF_JSON_BOOL)
		return fail(sc, "true or false expected");
	*out = sc->s[sc->pos] == 't';
	return scan_word(sc, *out ? "true" : "false");
}

bool
tf_json_skip(struct tf_json_scan *sc)
{
	uint64_t is_object = 0;  /* bit d: the container at depth d is one */
	int base = sc->depth, d;
	struct tf_json_str s;
	bool more;

	do {
		d = sc->depth - base;  /* containers opened by this skip */
		if (d > 0) {
			more = (is_object >> (d - 1) & 1) ?
			    tf_json_member(sc, &s) : tf_json_element(sc);
			if (!more) {
				if (sc->error != NULL)
					return false;
				continue;  /* left a container */
			}
		}
		switch (tf_json_peek(sc)) {
		case TF_JSON_OBJECT:
		case TF_JSON_ARRAY:
			if (d >= 64) /* the bit stack; depth is checked too */
				return fail(sc, "JSON nested too deeply");
			if (tf_json_peek(sc) == TF_JSON_OBJECT)
				is_object |= (uint64_t)1 << d;
			else
				is_object &= ~((uint64_t)1 << d);
			if (!tf_json_enter(sc, tf_json_peek(sc)))
				return false;
			break;
		case TF_JSON_STRING:
			if (!scan_string(sc, &s))
				return false;
			break;
		case TF_JSON_NUMBER:
			if (!scan_number(sc, &s))
				return false;
			break;
		case TF_JSON_BOOL:
			if (!scan_word(sc, sc->s[sc->pos] == 't' ? "true" : "false"))
				return false;
			break;
		case TF_JSON_NULL:
			if (!scan_word(sc, "null"))
				return false;
			break;
		default:
			return fail(sc, "value expected");
		}
	} while (sc->depth > base);
	return sc->error == NULL;
}

bool
tf_json_finish(struct tf_json_scan *sc)
{
	if (sc->error != NULL)
		return false;
	if (sc->depth != 0)
		return fail(sc, "unterminated object or array");
	skip_ws(sc);
	if (sc->pos != sc->len)
		return fail(sc, "text after the JSON value");
	return true;
}

/* Writes code point cp as UTF-8 to out; returns the bytes written (1-4). */
static size_t
utf8_put(unsigned long cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decodes the character of s at *i (checked by scan_string) into piece;
 * returns its decoded length and moves *i past it. A raw UTF-8 sequence is
 * one character. */
static size_t
decode_one(const struct tf_json_str *s, size_t *i, char piece[4])
{
	unsigned char c = (unsigned char)s->raw[*i];
	size_t n = 1, k;
	long cp, lo;

	if (c != '\\') {
		if (c >= 0xC0)
			n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
		for (k = 1; k < n && *i + k < s->len &&
		    ((unsigned char)s->raw[*i + k] & 0xC0) == 0x80; k++)
			;
		memcpy(piece, s->raw + *i, k);
		*i += k;
		return k;
	}
	c = (unsigned char)s->raw[*i + 1];
	*i += 2;
	switch (c) {
	case 'b': piece[0] = '\b'; return 1;
	case 'f': piece[0] = '\f'; return 1;
	case 'n': piece[0] = '\n'; return 1;
	case 'r': piece[0] = '\r'; return 1;
	case 't': piece[0] = '\t'; return 1;
	case 'u':
		cp = hex4(s->raw + *i);
		*i += 4;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			lo = hex4(s->raw + *i + 2);
			*i += 6;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		}
		return utf8_put((unsigned long)cp, piece);
	default:  /* '"', '\\', '/' */
		piece[0] = (char)c;
		return 1;
	}
}

size_t
tf_json_str_copy(const struct tf_json_str *s, char *out, size_t cap)
{
	size_t i = 0, n = 0, k;
	const char *end;
	char piece[4];

	if (!s->escaped && s->len < cap) {
		memcpy(out, s->raw, s->len);
		out[s->len] = '\0';
		return s->len;
	}
	while (i < s->len) {
		if (s->raw[i] != '\\') {
			/* A run of bytes up to the next escape is copied at once,
			 * cut (if it must be) before a UTF-8 continuation byte. */
			end = memchr(s->raw + i, '\\', s->len - i);
			k = end != NULL ? (size_t)(end - (s->raw + i)) : s->len - i;
			if (n + k >= cap) {
				for (k = cap - 1 - n; k > 0 &&
				    ((unsigned char)s->raw[i + k] & 0xC0) == 0x80; k--)
					;
				memcpy(out + n, s->raw + i, k);
				n += k;
				break;
			}
			memcpy(out + n, s->raw + i, k);
			n += k;
			i += k;
			continue;
		}
		k = decode_one(s, &i, piece);
		if (n + k >= cap)
			break;
		memcpy(out + n, piece, k);
		n += k;
	}
	out[n] = '\0';
	return n;
}

bool
tf_json_str_eq(const struct tf_json_str *s, const char *lit)
{
	size_t i = 0, n = 0, litlen = strlen(lit), k;
	char piece[4];

	if (!s->escaped)
		return s->len == litlen && memcmp(s->raw, lit, litlen) == 0;
	while (i < s->len) {
		k = decode_one(s, &i, piece);
		if (n + k > litlen || memcmp(lit + n, piece, k) != 0)
			return false;
		n += k;
	}
	return n == litlen;
}

char *
tf_json_str_dup(const struct tf_json_str *s)
{
	char *out = tf_malloc(s->len + 1);

	if (out != NULL)
		tf_json_str_copy(s, out, s->len + 1);
	return out;
}

bool
tf_json_str_int64(const struct tf_json_str *s, int64_t *out)
{
	uint64_t v = 0, limit;
	size_t i = 0;
	bool neg;

	if (s->escaped || s->len == 0)
		return false;
	neg = s->raw[0] == '-';
	i = neg;
	if (i == s->len)
		return false;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < s->len; i++) {
		unsigned d = (unsigned char)s->raw[i] - '0';

		if (d > 9 || v > (limit - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}
