/*
 * ini.h - the AWS shared config and credentials file format.
 *
 * The format, as the AWS SDKs read it:
 *   - "[name]" starts a section; the name is trimmed ("[ a ]" is "a"), and a
 *     comment may follow the closing bracket. Section names are case-sensitive.
 *   - "key = value": both sides trimmed; keys are case-insensitive. In a value,
 *     '#' or ';' after a space or tab starts a comment ("a=b #c" is "b", but
 *     "a=b#c" is "b#c"). Quotes are kept as they are.
 *   - Lines whose first non-blank character is '#' or ';' are comments; blank
 *     lines are ignored; CRLF line ends and a UTF-8 byte order mark are fine.
 *   - An indented line after a property continues its value (sub-properties
 *     such as "s3 =\n  max_concurrent_requests = 10"): the value gets "\n" and
 *     the trimmed line appended.
 *   - A section named twice is merged; a key set twice keeps the last value.
 *   - Anything else (a property before the first section, a line without '=',
 *     an unclosed or empty "[", a NUL byte) is a parse error with its line.
 *
 * The config file names profiles "[profile NAME]" (and "[default]" or
 * "[profile default]"); the credentials file names them "[NAME]".
 */
#ifndef TF_INI_H
#define TF_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

/* Files larger than this are refused (TF_ERR_TOO_LARGE). */
#define TF_INI_MAX_FILE (1024 * 1024)

struct tf_ini;
struct tf_ini_section;

/* Where loading or parsing failed; all fields 0/NULL on success. */
struct tf_ini_error {
	int line;          /* 1-based line of a TF_ERR_PARSE */
	int errnum;        /* errno of a TF_ERR_IO or TF_ERR_NOT_FOUND */
	const char *what;  /* static text naming the problem */
};

/* Parses len bytes of text. On success *out is freshly allocated; caller
 * frees with tf_ini_free(). Returns TF_ERR_PARSE (details in *err, which may
 * be NULL) or TF_ERR_NOMEM; *out is NULL then. */
enum tf_err tf_ini_parse(const char *text, size_t len, struct tf_ini **out,
    struct tf_ini_error *err);

/* Reads and parses the file at path. As tf_ini_parse(), and also
 * TF_ERR_NOT_FOUND when the file does not exist, TF_ERR_IO when it cannot be
 * read, TF_ERR_TOO_LARGE when it is over TF_INI_MAX_FILE. */
enum tf_err tf_ini_load(const char *path, struct tf_ini **out,
    struct tf_ini_error *err);

/* The section with exactly this (trimmed) name, or NULL. Borrowed from ini. */
const struct tf_ini_section *tf_ini_section(const struct tf_ini *ini,
    const char *name);

/* The value of key (any case) in section s, or NULL when s is NULL or has no
 * such key. Borrowed from the tf_ini that s belongs to. */
const char *tf_ini_get(const struct tf_ini_section *s, const char *key);

/* Frees ini; NULL is fine. */
void tf_ini_free(struct tf_ini *ini);

/* The two AWS shared files. */
enum tf_aws_file {
	TF_AWS_CONFIG_FILE,       /* AWS_CONFIG_FILE, default ~/.aws/config */
	TF_AWS_CREDENTIALS_FILE,  /* AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials */
	TF_AWS_SSO_CACHE_DIR,     /* ~/.aws/sso/cache, where aws sso login keeps tokens */
};

/* The path of one shared file as the environment says now; a leading "~/"
 * is expanded with HOME (or the password database when HOME is unset). *out
 * is freshly allocated; caller frees with tf_free(). Returns TF_ERR_NOT_FOUND
 * when the path needs a home directory and none is known. */
enum tf_err tf_aws_file_path(enum tf_aws_file which, char **out);

/* AWS_PROFILE, or "default" when it is unset or empty. *is_explicit (may be
 * NULL) tells whether AWS_PROFILE named it. Borrowed: valid until the
 * environment changes. */
const char *tf_aws_profile_name(bool *is_explicit);

/* The section holding profile in a parsed file of kind which: "[NAME]" in
 * the credentials file; "[profile NAME]" in the config file, where the
 * default profile may also be "[default]" ("[profile default]" wins when
 * both exist). NULL when absent. Borrowed from ini. */
const struct tf_ini_section *tf_aws_profile_section(const struct tf_ini *ini,
    enum tf_aws_file which, const char *profile);

/* Copies the `region` of the current profile (AWS_PROFILE, default
 * "default") in the config file (AWS_CONFIG_FILE, default ~/.aws/config) into
 * out, for the AWS_REGION fallback. Returns TF_ERR_NOT_FOUND when the file,
 * the profile or the key is missing (or the value is empty), TF_ERR_PARSE or
 * TF_ERR_IO for a file that cannot be read, TF_ERR_TOO_LARGE when out
 * (outlen bytes) is too small, TF_ERR_NOMEM. out is "" on any error. */
enum tf_err tf_aws_profile_region(char *out, size_t outlen);

#endif /* TF_INI_H */
