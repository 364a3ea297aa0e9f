/*
 * journal.h - the crash journal: which run took the consumer down.
 *
 * A runner in the consumer's own process that crashes (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGABRT) or calls exit() ends every run in flight. Lease
 * expiry would charge each of them a failed attempt, so healthy tasks beside
 * a poison one would end FAILED. The journal tells the runs apart:
 *
 *   - each consumer process keeps one small file in the journal directory,
 *     mapped into memory, with one slot per run in flight: the run
 *     (task id, the generation its claim writes; the lease owner is in the
 *     file's header), from just before its claim (a claim in flight when the
 *     process dies may still be applied) until its outcome is written;
 *   - a fatal-signal handler, and an on_exit() handler for exit(), mark the
 *     slot of the run whose runner the crashing thread was calling as the
 *     one that crashed (a
 *     store into the mapping: async-signal-safe), then the process dies: on
 *     a signal as it would have, on a runner's exit() at once with its
 *     status (_exit(), so no library's exit handler frees what the other
 *     workers still use);
 *   - the process holds an flock() on its file while it lives. A consumer
 *     starting on the same machine (a supervisor's restart) reads the files
 *     of processes that are gone (their lock is free) for its own table,
 *     before it receives anything: when one names a crashed run, that run is
 *     charged its attempt and every other run of that process is put back to
 *     PENDING without one (tf_sweeper_recover_crashed()); the file is then
 *     deleted. A file without a crashed run (kill -9, the OOM killer, a fault
 *     outside any run) changes nothing: lease expiry recovers those runs and
 *     charges each, as before.
 *
 * TASKFLEET_JOURNAL_DIR names the directory (made 0700 when missing, refused
 * when another user owns it or may write to it); "off" turns the journal
 * off. Default: $TMPDIR (else /tmp) + "/taskfleet-journal-UID".
 */
#ifndef TF_JOURNAL_H
#define TF_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct tf_journal;

/* A run found in the journal of a consumer that is gone. Borrowed: valid
 * during the callback only. */
struct tf_journal_run {
	const char *task_id;
	int64_t gen;              /* the generation its claim wrote */
	const char *owner;        /* its lease owner (the dead consumer) */
	bool crashed;             /* this run crashed the process */
	int how;                  /* crashed: the signal number, or -1 for exit() */
};

/* Called for each run in flight in a dead consumer's journal; culprit_known:
 * that journal names a run that crashed (this one or another). */
typedef void (*tf_journal_recover_fn)(void *arg,
    const struct tf_journal_run *run, bool culprit_known);

/* The journal directory from TASKFLEET_JOURNAL_DIR (or the default) written
 * into buf; NULL when the journal is off. */
const char *tf_journal_dir(char *buf, size_t len);

/*
 * Reads the journals in dir that consumers of table left behind when they
 * died, calls fn for each run they had in flight, and deletes them. Journals
 * of other tables are left for their own consumers (deleted once a day old).
 * Returns how many journals of table were read.
 */
int tf_journal_recover(const char *dir, const char *table,
    tf_journal_recover_fn fn, void *arg);

/*
 * Creates this process's journal in dir (borrowed strings: owner, the lease
 * owner name; table) with `slots` slots (the most runs in flight at once), locks it for the
 * life of the process and installs the fatal-signal and exit handlers.
 * TF_ERR_INVALID with a message in err when the directory or file cannot be
 * used. One journal per process. Caller closes it with tf_journal_close().
 */
enum tf_err tf_journal_open(const char *dir, const char *owner,
    const char *table, int slots, struct tf_journal **out, char *err,
    size_t errlen);

/* A clean stop: deletes the journal and frees j (NULL is fine). */
void tf_journal_close(struct tf_journal *j);

/* Records that generation gen of task_id (borrowed, copied) is in flight,
 * until tf_journal_run_end(). Returns its slot, or -1 when j is NULL
 * (journal off) or every slot is taken (not journaled). Any thread. */
int tf_journal_run_begin(struct tf_journal *j, const char *task_id,
    int64_t gen);
/* The run in slot (from tf_journal_run_begin(); -1 is ignored) is over. */
void tf_journal_run_end(struct tf_journal *j, int slot);

/* The calling thread calls the runner of the run in slot now, until
 * tf_journal_leave(): a crash or exit() on this thread meanwhile is that
 * run's. */
void tf_journal_enter(struct tf_journal *j, int slot);
void tf_journal_leave(struct tf_journal *j);

#endif /* TF_JOURNAL_H */
