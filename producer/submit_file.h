/*
 * submit_file.h - `taskfleet submit --file FILE`: bulk loading (docs/design.md
 * section 11).
 *
 * FILE (or standard input for "-") holds one task a line in the JSON form
 * POST /v1/tasks accepts for one task ({"type": "noop", "id": "t-1",
 * "params": {...}, "at": "+1h", ...}; blank lines are skipped). Each line is
 * checked as the API checks a task, then all are written through
 * task_bulk.h: concurrently, each conditional on its id being free, so a
 * file run again creates nothing twice. A bad line is reported with its
 * number and skipped; the rest are still created.
 */
#ifndef TF_PRODUCER_SUBMIT_FILE_H
#define TF_PRODUCER_SUBMIT_FILE_H

#include "cli.h"

/* Writes at once unless --in-flight says, and the most it may say. */
#define SUBMIT_FILE_IN_FLIGHT 64
#define SUBMIT_FILE_IN_FLIGHT_MAX 256

/*
 * Loads the tasks of path (borrowed; "-": standard input) with in_flight
 * writes at once (1 to SUBMIT_FILE_IN_FLIGHT_MAX). Shows progress
 * on standard error when it is a terminal; at the end prints the lines that
 * failed (by number) and a summary (created, already there, failed) on
 * standard error, and with --json (c->json) the summary as one JSON object
 * on standard output. Returns 0 when every line was created or there
 * already, EXIT_FAILED when any line failed (bad, not written, or its
 * queue message not sent), EXIT_USAGE when the file cannot be read.
 */
int submit_file(struct cli *c, const char *cmd, const char *path,
    int in_flight);

#endif /* TF_PRODUCER_SUBMIT_FILE_H */
