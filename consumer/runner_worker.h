/*
 * runner_worker.h - the worker process of an isolated runner, and the wire
 * protocol between it and the consumer (isolate.c).
 *
 * The consumer starts a worker by running its own program again:
 *
 *     taskfleet-consumer --runner-worker PARENT_PID NAME PATH
 *
 * with one end of a socket pair as fd TF_RUNNER_WORKER_FD. The worker loads
 * only the runner file PATH (with the loader's checks), requires its name to
 * be NAME, calls its init() with its configuration variable, and answers
 * with a READY frame. Then it serves runs one at a time: a RUN frame in, a
 * DONE frame out. EOF on the socket: it calls fini() and exits 0. SIGUSR1
 * asks the current run to stop (cancelled() turns true). The worker dies
 * with the consumer (PR_SET_PDEATHSIG) and keeps its own process group.
 *
 * Frames: a 4-byte length (host order; both ends are the same program)
 * followed by that many bytes of payload, at most TF_WORKER_FRAME_MAX. A
 * payload is a one-byte type and fields: integers as 8 bytes (host order),
 * strings as a 4-byte length, the bytes and a terminating NUL (length
 * TF_WORKER_NO_STRING: absent, no bytes follow).
 *
 *   READY  'Y'  status (0: started), message
 *   RUN    'R'  iteration, attempt, max_attempts, target_ms, deadline_ms,
 *               id, ns, type, params
 *   DONE   'D'  outcome, completed, new_target_timestamp, retry_after_ms,
 *               error, new params (or absent), result (or absent)
 */
#ifndef TF_RUNNER_WORKER_H
#define TF_RUNNER_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* The hidden first argument that makes the consumer a worker. */
#define TF_RUNNER_WORKER_ARG "--runner-worker"
/* The worker's end of the socket pair. */
#define TF_RUNNER_WORKER_FD 3
/* The largest frame either side accepts: params and two documents of at
 * most TF_HOST_MAX_DOCUMENT each fit with room to spare. */
#define TF_WORKER_FRAME_MAX (4u * 1024 * 1024)
#define TF_WORKER_NO_STRING UINT32_MAX

enum tf_worker_frame {
	TF_WORKER_READY = 'Y',
	TF_WORKER_RUN = 'R',
	TF_WORKER_DONE = 'D',
};

/* The worker's main(): argv as above. Returns the exit status. */
int tf_runner_worker_main(int argc, char **argv);

/* Building a payload in b (a frame without its length). Each returns TF_OK
 * or TF_ERR_NOMEM. s is borrowed; NULL writes an absent string. */
enum tf_err tf_worker_put_type(struct tf_buf *b, enum tf_worker_frame type);
enum tf_err tf_worker_put_int(struct tf_buf *b, int64_t v);
enum tf_err tf_worker_put_str(struct tf_buf *b, const char *s, size_t len);

/* Reading a payload: fields in order. A read past the end or a malformed
 * string sets bad and returns 0 / NULL; check bad once at the end. */
struct tf_worker_reader {
	const char *p;      /* borrowed: the next unread byte */
	size_t left;        /* bytes after p */
	bool bad;           /* a read failed */
};

void tf_worker_reader_init(struct tf_worker_reader *r, const char *payload,
    size_t len);
int tf_worker_get_type(struct tf_worker_reader *r);
int64_t tf_worker_get_int(struct tf_worker_reader *r);
/* A string (borrowed from the payload, NUL-terminated) and its length; NULL
 * with *len 0 when absent. */
const char *tf_worker_get_str(struct tf_worker_reader *r, size_t *len);

/* Writes the frame with payload b to fd, whole, retrying after EINTR and
 * short writes. Returns 0, or -1 with errno set. */
int tf_worker_send(int fd, const struct tf_buf *b);

/* Reads one whole frame from blocking fd. Returns 1 with *out a new payload
 * (caller frees with tf_free()) and *len its size, 0 on EOF before a frame,
 * -1 on an error, EOF inside a frame, or a frame over TF_WORKER_FRAME_MAX. */
int tf_worker_recv(int fd, char **out, size_t *len);

#endif /* TF_RUNNER_WORKER_H */
