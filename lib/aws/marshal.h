/*
 * marshal.h - plain JSON to DynamoDB AttributeValue JSON and back.
 *
 * An AttributeValue (AV) is a cJSON object with exactly one type key:
 * {"S":"x"}, {"N":"12.5"}, {"B":"<base64>"}, {"BOOL":true}, {"NULL":true},
 * {"M":{name: AV, ...}}, {"L":[AV, ...]}, {"SS":[...]}, {"NS":[...]},
 * {"BS":[...]}. An item is a cJSON object mapping attribute names to AVs.
 *
 * Marshalling (JSON -> AV) refuses, with TF_ERR_INVALID or TF_ERR_TOO_LARGE,
 * what DynamoDB refuses, so a bad document fails at submit time with a path
 * instead of as a ValidationException later:
 *   - empty keys, at every level (see "Empty keys" below), and keys over
 *     65535 bytes;
 *   - duplicate keys in one object;
 *   - containers nested more than TF_MARSHAL_MAX_DEPTH levels deep;
 *   - numbers with more than 38 significant digits, or a magnitude outside
 *     1E-130 .. 9.9999999999999999999999999999999999999E+125 (zero is fine);
 *     NaN and infinities;
 *   - strings and keys that are not valid UTF-8, or hold U+0000;
 *   - an item (or a single value) larger than TF_MARSHAL_MAX_ITEM_SIZE.
 * Plain JSON never produces B or the set types.
 *
 * Unmarshalling (AV -> JSON) reads data that came from the network, so it
 * accepts any cJSON tree without crashing and refuses malformed AVs with
 * TF_ERR_PARSE: not an object, no or two type keys, an unknown type, the
 * wrong JSON type under a type key, NULL other than true, N that is not a
 * number DynamoDB could hold, B that is not base64, strings that are not
 * valid UTF-8, duplicate map keys, nesting deeper than TF_MARSHAL_MAX_DEPTH.
 * It is lenient where DynamoDB's own rules do not affect the JSON: empty
 * keys, empty sets and duplicate set members are passed through.
 *   - B becomes a JSON string holding the base64 text unchanged (BS: an
 *     array of such strings). Marshalling it again gives S, not B.
 *   - SS, NS and BS become JSON arrays, in the order received.
 *   - N in a cJSON tree (tf_unmarshal_value, tf_unmarshal_item) becomes a
 *     cJSON number, i.e. a double: big or long numbers lose precision there.
 *     The text functions keep them exact (below).
 *
 * Number exactness. cJSON stores numbers as doubles, so:
 *   - tf_marshal_json_text and tf_marshal_value_json_text parse the JSON
 *     text with this module's own strict RFC 8259 parser, and copy each
 *     number's lexeme into N exactly as written ("1.50", "-0", "1E+3",
 *     "12345678901234567890" stay as they are);
 *   - tf_unmarshal_to_json_text and tf_unmarshal_value_to_json_text write
 *     each N into the JSON text verbatim (a lexeme that is not JSON syntax,
 *     such as "+1", ".5" or "5.", is rewritten to the same value: "1", "0.5",
 *     "5");
 *   - in cJSON trees given to tf_marshal_value/tf_marshal_item, a cJSON_Raw
 *     item holding a JSON number lexeme is taken as that exact number; a
 *     cJSON_Number is written as the shortest text that reads back as the
 *     same double (integers below 1e17 without exponent).
 * So JSON text -> AV -> JSON text is text-exact through this module. Through
 * DynamoDB it is value-exact only: DynamoDB normalises numbers ("1.50" comes
 * back as "1.5", "-0" as "0").
 *
 * Item size (TF_ERR_TOO_LARGE). DynamoDB's rules from its developer guide:
 * attribute names and map keys count their UTF-8 bytes; S its UTF-8 bytes;
 * B and BS members their decoded bytes; BOOL and NULL 1 byte; M and L 3
 * bytes plus 1 byte per element; sets the sum of their members. N counts
 * floor(d/2) + 2 bytes for d significant digits (leading and trailing zeros
 * trimmed): the guide says "about 1 byte per two significant digits plus 1";
 * the extra byte covers digit pairs that straddle the decimal point, so the
 * count never falls below DynamoDB's and exceeds it by at most 1 byte per
 * number.
 *
 * Nesting depth. A container (M or L, and on unmarshal also a set) that is
 * the value of an attribute, or the value given to the *_value functions,
 * is level 1; a container inside it level 2, and so on. Level 33 is refused.
 *
 * Empty keys. DynamoDB requires attribute names of 1 to 65535 bytes. Its
 * documentation does not say clearly whether the same holds for keys inside
 * a nested map, and since 2020 it accepts empty string values. We refuse
 * empty keys at every level when marshalling (a write we refuse up front, with
 * a path, beats a ValidationException from the service), and accept them when
 * unmarshalling (an item written by someone else must stay readable).
 *
 * Error messages. Every function that takes errbuf writes a one-line,
 * NUL-terminated message into it on failure (truncated to errlen; errbuf may
 * be NULL when errlen is 0) and an empty string on success. The message
 * starts with the path of the offending value, e.g. "params.a.b: empty key",
 * "tags[3]: number 1e400 out of range", "top level: not a JSON object". Keys
 * that are not plain identifiers appear as ["key"]. Errors in JSON text also
 * give the byte offset. On TF_ERR_NOMEM the message is "out of memory".
 *
 * Functions never modify their input; outputs are set to NULL on failure.
 * cJSON allocations go through tf_malloc once tf_alloc_init() has run.
 */
#ifndef TF_MARSHAL_H
#define TF_MARSHAL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/err.h"

/* DynamoDB's item size limit, in bytes (400 KB). */
#define TF_MARSHAL_MAX_ITEM_SIZE 409600
/* The deepest container level DynamoDB accepts. */
#define TF_MARSHAL_MAX_DEPTH 32
/* The most significant digits a DynamoDB number can have. */
#define TF_MARSHAL_MAX_DIGITS 38
/* The longest attribute name or map key, in bytes. */
#define TF_MARSHAL_MAX_NAME 65535

/* JSON -> AttributeValue. `json` is borrowed. On TF_OK *av_out is a new AV
 * the caller frees with cJSON_Delete(). Numbers: see "Number exactness". */
enum tf_err tf_marshal_value(const cJSON *json, cJSON **av_out,
    char *errbuf, size_t errlen);

/* JSON object -> item (attribute name -> AV). `object` is borrowed. On TF_OK
 * *item_out is a new item the caller frees with cJSON_Delete(). Refuses
 * anything but an object, empty attribute names and items over 400 KB. */
enum tf_err tf_marshal_item(const cJSON *object, cJSON **item_out,
    char *errbuf, size_t errlen);

/* JSON text (len bytes, need not be NUL-terminated; borrowed) holding an
 * object -> item, with every number kept exactly as written. On TF_OK
 * *item_out is a new item the caller frees with cJSON_Delete(). Text that is
 * not strict JSON gives TF_ERR_INVALID with the byte offset. */
enum tf_err tf_marshal_json_text(const char *text, size_t len,
    cJSON **item_out, char *errbuf, size_t errlen);

/* As tf_marshal_json_text for any JSON value: on TF_OK *av_out is a new AV
 * (e.g. {"M":{...}} for params) the caller frees with cJSON_Delete(). */
enum tf_err tf_marshal_value_json_text(const char *text, size_t len,
    cJSON **av_out, char *errbuf, size_t errlen);

/* AttributeValue -> JSON. `av` is borrowed. On TF_OK *json_out is a new cJSON
 * value the caller frees with cJSON_Delete(); N becomes a double. */
enum tf_err tf_unmarshal_value(const cJSON *av, cJSON **json_out,
    char *errbuf, size_t errlen);

/* Item -> JSON object. `item` is borrowed (e.g. the "Item" of a GetItem
 * response). On TF_OK *json_out is a new object the caller frees with
 * cJSON_Delete(); N becomes a double. */
enum tf_err tf_unmarshal_item(const cJSON *item, cJSON **json_out,
    char *errbuf, size_t errlen);

/* Item -> compact JSON object text with every N written verbatim. `item` is
 * borrowed. On TF_OK *json_text_out is a new NUL-terminated string the
 * caller frees with tf_free(). */
enum tf_err tf_unmarshal_to_json_text(const cJSON *item, char **json_text_out,
    char *errbuf, size_t errlen);

/* As tf_unmarshal_to_json_text for one AV (e.g. the params {"M":{...}}). */
enum tf_err tf_unmarshal_value_to_json_text(const cJSON *av,
    char **json_text_out, char *errbuf, size_t errlen);

/* Appends the JSON tree j (borrowed) to b as compact JSON text, strings
 * escaped by tf_json_escape_append(), numbers as their shortest exact text
 * (cJSON_Raw verbatim). Request bodies use it to write keys, items and
 * expression values without building and printing another tree. */
enum tf_err tf_marshal_write_json(struct tf_buf *b, const cJSON *j);

/* DynamoDB's size of an item (names plus values) or of one AV, by the rules
 * above. Both are borrowed and meant to be well formed (as the marshal
 * functions or DynamoDB produce them): parts that are not AVs count 0 bytes;
 * nesting deeper than DynamoDB allows counts as SIZE_MAX. Use the item size
 * to check an item assembled from separately marshalled values. */
size_t tf_marshal_item_size(const cJSON *item);
size_t tf_marshal_value_size(const cJSON *av);

/* True when s (n bytes) is valid UTF-8 as DynamoDB takes it: no overlong
 * forms, no UTF-16 surrogates, nothing above U+10FFFF. */
bool tf_marshal_utf8_valid(const char *s, size_t n);

#endif /* TF_MARSHAL_H */
