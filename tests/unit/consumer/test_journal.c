/* test_journal.c - the crash journal (consumer/journal.c): a child process
 * runs "runs" and dies (a fault, exit(), or killed), and the journal it
 * leaves names the run that crashed it, or none. End to end, with a real
 * consumer and a crashing runner: tests/scripts/engine_crash.sh. */
#include "harness.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "journal.h"

static char dir[256];

/* What tf_journal_recover() reported. */
struct seen {
	int n;
	char id[8][32];
	bool crashed[8];
	int how[8];
	bool culprit_known[8];
};

static void
record_run(void *arg, const struct tf_journal_run *run, bool culprit_known)
{
	struct seen *s = arg;

	if (s->n >= 8)
		return;
	snprintf(s->id[s->n], sizeof(s->id[0]), "%s/%lld", run->task_id,
	    (long long)run->gen);
	s->crashed[s->n] = run->crashed;
	s->how[s->n] = run->how;
	s->culprit_known[s->n] = culprit_known;
	s->n++;
}

/* Index of id ("task/gen") in s, or -1. */
static int
find(const struct seen *s, const char *id)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->id[i], id) == 0)
			return i;
	return -1;
}

static int
journal_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d != NULL && (de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	return n;
}

static pthread_mutex_t started_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t started = PTHREAD_COND_INITIALIZER;
static int side_started;

/* A runner thread calling the runner of run "side/7", for ever. */
static void *
side_worker(void *arg)
{
	tf_journal_enter(arg, tf_journal_run_begin(arg, "side", 7));
	pthread_mutex_lock(&started_lock);
	side_started = 1;
	pthread_cond_signal(&started);
	pthread_mutex_unlock(&started_lock);
	for (;;)
		pause();
	return NULL;
}

/* Forks a consumer of table that runs "main/5" on its main thread and
 * "side/7" on another, then ends by `how`: "segv", "exit", "kill", or
 * "clean" (the run ended, the journal closed); "segv-between": main/5 is
 * in flight (waiting on AWS) but no thread is in its runner when the main
 * thread faults. Returns the wait status. */
static int
child(const char *table, const char *how)
{
	struct tf_journal *j;
	pthread_t t;
	char err[256];
	pid_t pid = fork();
	int status, slot;

	if (pid == 0) {
		if (tf_journal_open(dir, "c1", table, 4, &j, err, sizeof(err)) != TF_OK)
			_exit(100);
		pthread_create(&t, NULL, side_worker, j);
		pthread_mutex_lock(&started_lock);
		while (!side_started)
			pthread_cond_wait(&started, &started_lock);
		pthread_mutex_unlock(&started_lock);
		slot = tf_journal_run_begin(j, "main", 5);
		if (strcmp(how, "segv-between") != 0)
			tf_journal_enter(j, slot);
		if (strncmp(how, "segv", 4) == 0)
			raise(SIGSEGV);
		if (strcmp(how, "exit") == 0)
			exit(3);
		if (strcmp(how, "clean") == 0) {
			tf_journal_leave(j);
			tf_journal_run_end(j, slot);
			tf_journal_close(j);
		}
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return status;
}

static void
test_fault_names_the_run(void)
{
	struct seen s = { 0 };
	int st = child("t1", "segv"), m, o;

	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	CHECK_INT_EQ(tf_journal_recover(dir, "t1", record_run, &s), 1);
	CHECK_INT_EQ(s.n, 2);
	m = find(&s, "main/5");
	o = find(&s, "side/7");
	CHECK(m >= 0 && o >= 0);
	CHECK(s.crashed[m] && s.how[m] == SIGSEGV && s.culprit_known[m]);
	CHECK(!s.crashed[o] && s.culprit_known[o]);
	CHECK_INT_EQ(journal_files(), 0);   /* read once, then deleted */
}

static void
test_exit_names_the_run(void)
{
	struct seen s = { 0 };
	int st = child("t1", "exit"), m;

	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	tf_journal_recover(dir, "t1", record_run, &s);
	CHECK_INT_EQ(s.n, 2);
	m = find(&s, "main/5");
	CHECK(m >= 0 && s.crashed[m] && s.how[m] == -1);
}

static void
test_killed_names_no_run(void)
{
	struct seen s = { 0 };

	child("t1", "kill");
	tf_journal_recover(dir, "t1", record_run, &s);
	CHECK_INT_EQ(s.n, 2);
	CHECK(!s.crashed[0] && !s.culprit_known[0]);
	CHECK(!s.crashed[1] && !s.culprit_known[1]);
}

/* A fault on a thread that is in no runner names no run, though runs are
 * in flight: the event loop's runs wait on AWS between runner calls. */
static void
test_fault_between_runner_calls_names_no_run(void)
{
	struct seen s = { 0 };
	int st = child("t1", "segv-between"), m, o;

	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	tf_journal_recover(dir, "t1", record_run, &s);
	CHECK_INT_EQ(s.n, 2);
	m = find(&s, "main/5");
	o = find(&s, "side/7");
	CHECK(m >= 0 && o >= 0 && !s.crashed[m] && !s.crashed[o]);
	CHECK(!s.culprit_known[m] && !s.culprit_known[o]);
}

/* Every slot can be taken by a run in flight, each run its own slot; a
 * slot freed is taken again. */
static void
test_slots_per_run(void)
{
	struct tf_journal *j = NULL;
	char err[256];
	int a, b, c;

	CHECK(tf_journal_open(dir, "me", "t3", 2, &j, err, sizeof(err)) == TF_OK);
	a = tf_journal_run_begin(j, "a", 1);
	b = tf_journal_run_begin(j, "b", 1);
	c = tf_journal_run_begin(j, "c", 1);
	CHECK(a >= 0 && b >= 0 && a != b);
	CHECK_INT_EQ(c, -1);
	tf_journal_run_end(j, a);
	c = tf_journal_run_begin(j, "c", 1);
	CHECK_INT_EQ(c, a);
	tf_journal_run_end(j, b);
	tf_journal_run_end(j, c);
	tf_journal_close(j);
}

static void
test_clean_stop_leaves_nothing(void)
{
	struct seen s = { 0 };

	child("t1", "clean");
	CHECK_INT_EQ(journal_files(), 0);
	CHECK_INT_EQ(tf_journal_recover(dir, "t1", record_run, &s), 0);
}

static void
test_other_table_and_live_journals_are_left(void)
{
	struct seen s = { 0 };
	struct tf_journal *mine = NULL;
	char err[256];
	int slot;

	child("t2", "segv");
	CHECK(tf_journal_open(dir, "me", "t1", 2, &mine, err, sizeof(err)) == TF_OK);
	slot = tf_journal_run_begin(mine, "live", 1);
	/* A live consumer's journal is locked; another table's is not ours. */
	CHECK_INT_EQ(tf_journal_recover(dir, "t1", record_run, &s), 0);
	CHECK_INT_EQ(s.n, 0);
	CHECK_INT_EQ(journal_files(), 2);
	tf_journal_run_end(mine, slot);
	tf_journal_close(mine);
	CHECK_INT_EQ(tf_journal_recover(dir, "t2", record_run, &s), 1);
	CHECK_INT_EQ(s.n, 2);
	CHECK_INT_EQ(journal_files(), 0);
}

static void
test_unsafe_dir_refused(void)
{
	struct tf_journal *j = NULL;
	char err[256], open_dir[300];

	snprintf(open_dir, sizeof(open_dir), "%s/open", dir);
	CHECK(mkdir(open_dir, 0777) == 0 && chmod(open_dir, 0777) == 0);
	CHECK(tf_journal_open(open_dir, "me", "t1", 2, &j, err, sizeof(err)) ==
	    TF_ERR_INVALID);
	CHECK(j == NULL && strstr(err, "not this user's alone") != NULL);
	rmdir(open_dir);
}

int
main(void)
{
	char tmpl[] = "/tmp/test_journal.XXXXXX";

	tf_log_init();
	if (mkdtemp(tmpl) == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "%s", tmpl);
	TF_RUN(test_fault_names_the_run);
	TF_RUN(test_exit_names_the_run);
	TF_RUN(test_killed_names_no_run);
	TF_RUN(test_fault_between_runner_calls_names_no_run);
	TF_RUN(test_slots_per_run);
	TF_RUN(test_clean_stop_leaves_nothing);
	TF_RUN(test_other_table_and_live_journals_are_left);
	TF_RUN(test_unsafe_dir_refused);
	rmdir(dir);
	return tf_test_summary();
}
