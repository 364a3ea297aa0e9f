/* journal.c - the crash journal (see journal.h). */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/rand.h"
#include "task/task.h"

#define JOURNAL_MAGIC "tfjrnl2"
#define JOURNAL_SUFFIX ".journal"
/* A dead journal of another table this old is deleted by anyone: every
 * lease it could speak for is long over (visibility is at most 12 h). */
#define JOURNAL_STALE_S (24 * 3600)

enum {
	SLOT_FREE,
	SLOT_RUNNING,
	SLOT_CRASHED,
	SLOT_CLAIMING                 /* being filled in: not yet a run */
};

/* The file: a header, then `slots` slots. Native layout: only this machine
 * reads it. */
struct jheader {
	char magic[8];
	uint32_t slots;
	uint32_t slot_size;           /* sizeof(struct jslot), checked on read */
	atomic_int crash;             /* 0, a signal number, or -1 for exit() */
	char owner[256];
	char table[256];
};

struct jslot {
	atomic_int state;             /* SLOT_* */
	atomic_int how;               /* SLOT_CRASHED: signal number, -1: exit() */
	int64_t gen;
	char task_id[TF_TASK_ID_MAX + 1];
};

/* Where the slots start: past the header, aligned for them. */
#define SLOTS_AT ((sizeof(struct jheader) + 63) & ~(size_t)63)

struct tf_journal {
	int fd;                       /* locked for the life of the process */
	char *path;                   /* owned */
	void *map;                    /* the whole file, shared */
	size_t size;
	struct jheader *hdr;          /* in map */
	struct jslot *slots;          /* in map */
	atomic_int next_slot;         /* where the next search for a free slot
	                                 starts */
};

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };

/* The open journal, for the handlers; NULL when none. */
static struct tf_journal *_Atomic active;
/* The slot of the run whose runner the calling thread is calling
 * (tf_journal_enter()), -1 when none. */
static _Thread_local int my_slot = -1;
/* The calling thread is inside a runner. */
static _Thread_local int in_run;

/* Marks the calling thread's run as the one that crashed (how: a signal
 * number, -1 for exit()). Async-signal-safe: loads and stores only. */
static void
mark_crash(int how)
{
	struct tf_journal *j = atomic_load(&active);
	struct jslot *s;
	int none = 0;

	/* The first crash is the cause: exit() runs destructors while other
	 * threads still run, and a fault they cause is not their run's. */
	if (j == NULL || !atomic_compare_exchange_strong(&j->hdr->crash, &none,
	    how))
		return;
	if (my_slot < 0 || !in_run)
		return;
	s = &j->slots[my_slot];
	atomic_store(&s->how, how);
	atomic_store(&s->state, SLOT_CRASHED);
}

static void
on_fatal_signal(int sig)
{
	mark_crash(sig);
	/* SA_RESETHAND restored the default action: the pending signal kills
	 * the process (with a core, as without the journal) once this returns. */
	raise(sig);
}

/* exit() called: by a runner in the middle of its run (then the process
 * ends here, with the runner's status, before exit() runs the libraries'
 * destructors while the other workers still use what they free: a fault or
 * a sanitizer report there is noise, and the run to charge is marked), or by
 * the consumer itself when it ends (nothing to do). */
static void
on_exit_call(int status, void *arg)
{
	int in_a_run = my_slot >= 0 && in_run;

	(void)arg;
	mark_crash(-1);
	if (in_a_run)
		_exit(status);
}

const char *
tf_journal_dir(char *buf, size_t len)
{
	const char *v = getenv("TASKFLEET_JOURNAL_DIR"), *tmp;

	if (v != NULL && strcmp(v, "off") == 0)
		return NULL;
	if (v != NULL && *v != '\0') {
		snprintf(buf, len, "%s", v);
		return buf;
	}
	tmp = getenv("TMPDIR");
	snprintf(buf, len, "%s/taskfleet-journal-%ld",
	    tmp != NULL && *tmp == '/' ? tmp : "/tmp", (long)geteuid());
	return buf;
}

/* Makes dir (0700) when missing; refuses one another user owns or may write
 * to, where anyone could plant a journal. Returns 0, or -1 with err set. */
static int
check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int e;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		e = errno;
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(e));
		return -1;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		snprintf(err, errlen, "%s is not this user's alone (owner %ld, mode "
		    "%03o)", dir, (long)st.st_uid, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

/* True for a name ending in JOURNAL_SUFFIX. */
static bool
is_journal_name(const char *name)
{
	size_t n = strlen(name), k = strlen(JOURNAL_SUFFIX);

	return n > k && strcmp(name + n - k, JOURNAL_SUFFIX) == 0;
}

/* Reads one dead journal (fd locked, text its contents) and calls fn for
 * its runs when it is one of table's (*ours set). Returns true when the file
 * is done with (delete it). */
static bool
recover_one(const char *text, size_t size, const char *table, time_t mtime,
    tf_journal_recover_fn fn, void *arg, bool *ours)
{
	const struct jheader *h = (const void *)text;
	const struct jslot *slots;
	struct tf_journal_run run;
	bool culprit = false;
	char owner[sizeof(h->owner)], table_in[sizeof(h->table)];
	uint32_t i;

	if (size < SLOTS_AT || memcmp(h->magic, JOURNAL_MAGIC, 8) != 0 ||
	    h->slot_size != sizeof(struct jslot) ||
	    size < SLOTS_AT + (size_t)h->slots * sizeof(struct jslot))
		return true;  /* not a journal of this version: nothing to do */
	memcpy(owner, h->owner, sizeof(owner));
	owner[sizeof(owner) - 1] = '\0';
	memcpy(table_in, h->table, sizeof(table_in));
	table_in[sizeof(table_in) - 1] = '\0';
	if (strcmp(table_in, table) != 0)
		return time(NULL) - mtime > JOURNAL_STALE_S;
	*ours = true;
	slots = (const void *)(text + SLOTS_AT);
	for (i = 0; i < h->slots; i++)
		if (atomic_load(&slots[i].state) == SLOT_CRASHED)
			culprit = true;
	for (i = 0; i < h->slots; i++) {
		char id[TF_TASK_ID_MAX + 1];
		int state = atomic_load(&slots[i].state);

		if (state != SLOT_RUNNING && state != SLOT_CRASHED)
			continue;
		memcpy(id, slots[i].task_id, sizeof(id));
		id[sizeof(id) - 1] = '\0';
		run = (struct tf_journal_run){
			.task_id = id, .gen = slots[i].gen, .owner = owner,
			.crashed = state == SLOT_CRASHED,
			.how = atomic_load(&slots[i].how),
		};
		fn(arg, &run, culprit);
	}
	return true;
}

int
tf_journal_recover(const char *dir, const char *table,
    tf_journal_recover_fn fn, void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	char path[4096], *text;
	int fd, n = 0;
	bool ours;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!is_journal_name(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		/* Locked: its consumer lives (or another one is reading it). */
		if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_size > 64 * 1024 * 1024) {
			close(fd);
			continue;
		}
		text = tf_malloc((size_t)st.st_size + 1);
		ours = false;
		if (text != NULL &&
		    pread(fd, text, (size_t)st.st_size, 0) == st.st_size &&
		    recover_one(text, (size_t)st.st_size, table, st.st_mtime, fn,
		    arg, &ours))
			unlink(path);
		n += ours;
		tf_free(text);
		close(fd);  /* drops the lock */
	}
	closedir(d);
	return n;
}

/* Installs the handlers, once per process. */
static void
install_handlers(void)
{
	static atomic_int done;
	struct sigaction sa;
	size_t i;

	if (atomic_exchange(&done, 1) != 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		sigaction(fatal_signals[i], &sa, NULL);
	on_exit(on_exit_call, NULL);
}

enum tf_err
tf_journal_open(const char *dir, const char *owner, const char *table,
    int slots, struct tf_journal **out, char *err, size_t errlen)
{
	struct tf_journal *j = NULL;
	char final[4096], tmp[sizeof(final) + 8];
	int e;

	*out = NULL;
	if (slots < 1 || check_dir(dir, err, errlen) != 0)
		return TF_ERR_INVALID;
	j = tf_calloc(1, sizeof(*j));
	if (j == NULL)
		return TF_ERR_NOMEM;
	j->fd = -1;
	j->map = MAP_FAILED;
	j->size = SLOTS_AT + (size_t)slots * sizeof(struct jslot);
	/* Made under a temporary name and locked before it is renamed to one
	 * that tf_journal_recover() reads, so no one ever sees it unlocked. */
	snprintf(final, sizeof(final), "%s/consumer-%ld-%016llx%s", dir,
	    (long)getpid(), (unsigned long long)tf_random_below(INT64_MAX),
	    JOURNAL_SUFFIX);
	snprintf(tmp, sizeof(tmp), "%s.new", final);
	j->path = tf_strdup(final);
	if (j->path == NULL)
		goto fail;
	j->fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->fd < 0 || flock(j->fd, LOCK_EX | LOCK_NB) != 0 ||
	    ftruncate(j->fd, (off_t)j->size) != 0)
		goto fail;
	j->map = mmap(NULL, j->size, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
	if (j->map == MAP_FAILED)
		goto fail;
	j->hdr = j->map;
	j->slots = (struct jslot *)((char *)j->map + SLOTS_AT);
	memcpy(j->hdr->magic, JOURNAL_MAGIC, 8);
	j->hdr->slots = (uint32_t)slots;
	j->hdr->slot_size = sizeof(struct jslot);
	snprintf(j->hdr->owner, sizeof(j->hdr->owner), "%s", owner);
	snprintf(j->hdr->table, sizeof(j->hdr->table), "%s", table);
	if (rename(tmp, final) != 0)
		goto fail;
	install_handlers();
	atomic_store(&active, j);
	*out = j;
	return TF_OK;
fail:
	e = errno;
	snprintf(err, errlen, "cannot create a journal in %s: %s", dir,
	    strerror(e));
	if (j->fd >= 0)
		unlink(tmp);
	tf_journal_close(j);
	return TF_ERR_INVALID;
}

void
tf_journal_close(struct tf_journal *j)
{
	if (j == NULL)
		return;
	if (atomic_load(&active) == j)
		atomic_store(&active, NULL);
	if (j->map != MAP_FAILED) {
		unlink(j->path);
		munmap(j->map, j->size);
	}
	if (j->fd >= 0)
		close(j->fd);
	tf_free(j->path);
	tf_free(j);
}

int
tf_journal_run_begin(struct tf_journal *j, const char *task_id, int64_t gen)
{
	struct jslot *s;
	int i, n, slot, free_state;

	if (j == NULL)
		return -1;
	n = (int)j->hdr->slots;
	/* Every run in flight holds a slot, and there are as many slots as
	 * runs can be in flight: a free one is found, from where the last
	 * search ended. */
	for (i = 0; i < n; i++) {
		slot = (atomic_fetch_add(&j->next_slot, 1) % n + n) % n;
		s = &j->slots[slot];
		free_state = SLOT_FREE;
		if (!atomic_compare_exchange_strong(&s->state, &free_state,
		    SLOT_CLAIMING))
			continue;
		snprintf(s->task_id, sizeof(s->task_id), "%s", task_id);
		s->gen = gen;
		atomic_store(&s->how, 0);
		atomic_store(&s->state, SLOT_RUNNING);
		return slot;
	}
	return -1;  /* more runs than slots: this one is not journaled */
}

void
tf_journal_run_end(struct tf_journal *j, int slot)
{
	if (j == NULL || slot < 0 || slot >= (int)j->hdr->slots)
		return;
	atomic_store(&j->slots[slot].state, SLOT_FREE);
}

void
tf_journal_enter(struct tf_journal *j, int slot)
{
	if (j == NULL || slot < 0 || slot >= (int)j->hdr->slots)
		return;
	my_slot = slot;
	in_run = 1;
}

void
tf_journal_leave(struct tf_journal *j)
{
	(void)j;
	in_run = 0;
	my_slot = -1;
}
