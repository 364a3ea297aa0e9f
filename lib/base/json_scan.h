/*
 * json_scan.h - reading JSON text in place, without building a tree.
 *
 * A strict (RFC 8259) pull reader that allocates nothing: the caller walks
 * the text value by value (tf_json_enter, tf_json_member, tf_json_element,
 * tf_json_string, ...) and skips what it does not need (tf_json_skip), and
 * strings come back as spans of the text that are decoded only when asked
 * (tf_json_str_eq, tf_json_str_copy, tf_json_str_dup). Whatever is read or
 * skipped is checked as it goes: a reader that reaches the end of the text
 * with tf_json_finish() returning true has seen well-formed JSON.
 *
 * The first error sticks: every later call fails too, and sc->error says
 * what went wrong and at which byte. Strings may not contain \u0000 (what
 * they decode to is a C string). Bytes of 0x80 and above are taken as they
 * are, as cJSON takes them.
 */
#ifndef TF_JSON_SCAN_H
#define TF_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deeper nesting than this is an error (a guard against stack-like abuse;
 * AWS answers are a few levels deep). */
#define TF_JSON_MAX_DEPTH 64

enum tf_json_type {
	TF_JSON_INVALID,   /* not the start of a value (or an error is set) */
	TF_JSON_OBJECT,
	TF_JSON_ARRAY,
	TF_JSON_STRING,
	TF_JSON_NUMBER,
	TF_JSON_BOOL,
	TF_JSON_NULL
};

/* A string as it appears in the text, between its quotes, escapes not yet
 * decoded. Borrowed from the text. */
struct tf_json_str {
	const char *raw;   /* the first byte after the opening quote */
	size_t len;        /* bytes up to the closing quote */
	bool escaped;      /* it holds at least one backslash escape */
};

struct tf_json_scan {
	const char *s;     /* borrowed: the text */
	size_t len;
	size_t pos;        /* the next byte to read */
	int depth;         /* containers entered and not yet left */
	bool first;        /* no member or element read yet in the innermost
	                      container */
	const char *error; /* static text; NULL while all is well */
	size_t error_pos;  /* the byte the error was found at */
};

/* Starts reading text (len bytes, borrowed; must outlive the scan). */
void tf_json_scan_init(struct tf_json_scan *sc, const char *text, size_t len);

/* The type of the value at the current position, without reading it. */
enum tf_json_type tf_json_peek(struct tf_json_scan *sc);

/* Reads the '{' or '[' of an object or array of that type (false, with an
 * error, when the value is of another type). */
bool tf_json_enter(struct tf_json_scan *sc, enum tf_json_type type);

/* Inside an object: reads the next member's key into *key and stops at its
 * value, which the caller must read or skip; false at the closing '}' (read,
 * so the object is left) or on an error (sc->error set). */
bool tf_json_member(struct tf_json_scan *sc, struct tf_json_str *key);

/* Inside an array: stops at the next element; false at the closing ']'
 * (read) or on an error. */
bool tf_json_element(struct tf_json_scan *sc);

/* Reads a string value into *out; false (error set) for any other value. */
bool tf_json_string(struct tf_json_scan *sc, struct tf_json_str *out);

/* Reads a number's text into *out (escaped is false); false for any other
 * value. */
bool tf_json_number(struct tf_json_scan *sc, struct tf_json_str *out);

/* Reads true or false; false (error set) for any other value. */
bool tf_json_bool(struct tf_json_scan *sc, bool *out);

/* Reads and checks the value at the current position, whatever it is,
 * nested values included. */
bool tf_json_skip(struct tf_json_scan *sc);

/* True when no error was found and only whitespace follows a complete
 * top-level value. */
bool tf_json_finish(struct tf_json_scan *sc);

/* True when s decodes to exactly the C string lit. */
bool tf_json_str_eq(const struct tf_json_str *s, const char *lit);

/* Decodes s into out (cap bytes, cap > 0), cut at a character boundary to
 * fit, always terminated; returns the bytes written before the terminator.
 * A decoded string is never longer than s->len. */
size_t tf_json_str_copy(const struct tf_json_str *s, char *out, size_t cap);

/* A decoded copy of s; caller frees with tf_free(). NULL when out of
 * memory. */
char *tf_json_str_dup(const struct tf_json_str *s);

/* Reads s (a string's or a number's span) as a decimal integer: optional
 * '-' and digits only, within int64_t. False otherwise (fractions, exponents,
 * numbers too large). */
bool tf_json_str_int64(const struct tf_json_str *s, int64_t *out);

#endif /* TF_JSON_SCAN_H */
