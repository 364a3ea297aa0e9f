/*
 * api_keyring.h - where `taskfleet serve` gets its API keys (api_auth.h)
 * and how they change while it runs. One source:
 *   TASKFLEET_API_KEYS            the keys themselves (read once);
 *   TASKFLEET_API_KEYS_SECRET     an AWS Secrets Manager secret (name or
 *                                 ARN) whose SecretString holds them;
 *   TASKFLEET_API_KEYS_PARAMETER  an SSM Parameter Store parameter (a
 *                                 SecureString, decrypted) holding them.
 * The text is TASKFLEET_API_KEYS's format; newlines separate entries as
 * commas do. A secret or parameter is read at start (serve does not start
 * without it) and again every TASKFLEET_API_KEYS_REFRESH (default
 * API_KEYS_REFRESH_DEFAULT) on a thread of its own: a good new text
 * replaces the keys for the requests that start after it; a failed read or
 * bad text keeps the keys before (logged, and counted in /metrics).
 *
 * A request holds the key set it was authorised with until it ends
 * (api_keyring_hold / _release), so a reload never frees a key in use.
 */
#ifndef TF_PRODUCER_API_KEYRING_H
#define TF_PRODUCER_API_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "api_auth.h"
#include "aws/aws.h"
#include "base/err.h"

struct api_metrics;

#define API_KEYS_REFRESH_DEFAULT "5m"

/* Where the keys come from. */
enum api_keys_source {
	API_KEYS_ENV,
	API_KEYS_SECRET,
	API_KEYS_PARAMETER
};

struct api_keyring;
struct api_keyset;

/* Reads the source named by the environment (exactly one of the three
 * variables; none: *out NULL, for --no-auth) through aws (borrowed; must
 * outlive the ring) and counts the load in m (borrowed; may be NULL).
 * *out: caller frees with api_keyring_free(). TF_ERR_INVALID with a line in
 * err for a bad setting or bad keys; an AWS error (reason in err) when the
 * source cannot be read. */
enum tf_err api_keyring_open(struct tf_aws *aws, struct api_metrics *m,
    struct api_keyring **out, char *err, size_t errlen);

/* Starts the reload thread of a secret or parameter source (nothing for the
 * environment). TF_ERR_NOMEM when the thread cannot start. */
enum tf_err api_keyring_start(struct api_keyring *r);

/* Stops the reload thread and frees the ring; every held set must have been
 * released. r may be NULL. */
void api_keyring_free(struct api_keyring *r);

/* The current keys, held until api_keyring_release(*held). Any thread. */
const struct api_keys *api_keyring_hold(struct api_keyring *r,
    struct api_keyset **held);
void api_keyring_release(struct api_keyring *r, struct api_keyset *held);

/* Reads the source again now (what the thread does). TF_OK when the keys
 * were replaced; otherwise the keys stay and err says why. */
enum tf_err api_keyring_reload(struct api_keyring *r, char *err,
    size_t errlen);

#endif /* TF_PRODUCER_API_KEYRING_H */
