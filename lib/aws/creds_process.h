/*
 * creds_process.h - credentials from an external command, the profile key
 * credential_process.
 *
 * The command line is split into words the way the AWS CLI and botocore do
 * it (POSIX shell quoting, shlex.split): blanks separate words, '...' keeps
 * everything literally, "..." keeps everything but a backslash before
 * " \ $ ` or a newline, and a backslash outside quotes keeps the next
 * character. No shell runs it: there are no pipes, variables or globs. The
 * first word is looked up in PATH.
 *
 * The command's standard output must be one JSON object:
 *   {"Version": 1, "AccessKeyId": "...", "SecretAccessKey": "...",
 *    "SessionToken": "...", "Expiration": "2026-11-23T20:15:30Z"}
 * SessionToken and Expiration are optional; without Expiration the
 * credentials never expire (and are not fetched again). Its standard error
 * goes to our log when it fails. It gets TF_CREDS_PROCESS_TIMEOUT_MS to
 * finish, then it is killed.
 */
#ifndef TF_CREDS_PROCESS_H
#define TF_CREDS_PROCESS_H

#include <stddef.h>

#include "aws/creds.h"
#include "base/err.h"

#define TF_CREDS_PROCESS_TIMEOUT_MS (60 * 1000)
#define TF_CREDS_PROCESS_MAX_OUTPUT (64 * 1024)

/* Splits command into words. On TF_OK *argv is a freshly allocated
 * NULL-terminated array of *argc freshly allocated words; caller frees with
 * tf_creds_process_argv_free(). TF_ERR_INVALID for an unclosed quote, a
 * trailing backslash or no word at all; TF_ERR_NOMEM. */
enum tf_err tf_creds_process_split(const char *command, char ***argv, int *argc);

/* Frees an argv from tf_creds_process_split(); NULL is fine. */
void tf_creds_process_argv_free(char **argv);

/* Runs command (from profile, for messages) and parses its output into
 * *out, labelled "process". timeout_ms 0 means TF_CREDS_PROCESS_TIMEOUT_MS.
 * TF_ERR_CREDENTIALS for a command that cannot start, fails, times out or
 * prints something unusable (the cause is logged); TF_ERR_NOMEM. */
enum tf_err tf_creds_process_run(const char *command, const char *profile,
    long timeout_ms, struct tf_creds *out);

/* Parses a credential_process output of len bytes. TF_ERR_CREDENTIALS with
 * why (whylen bytes) filled when it is unusable. Exposed for tests. */
enum tf_err tf_creds_process_parse(const char *json, size_t len,
    struct tf_creds *out, char *why, size_t whylen);

#endif /* TF_CREDS_PROCESS_H */
