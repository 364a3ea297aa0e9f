/*
 * creds_process.c - credential_process: split the command line, run it
 * without a shell (posix_spawnp(), never fork(): the consumer has threads),
 * read its output within a deadline, parse the JSON.
 */
#include "aws/creds_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"

#define STDERR_KEEP 1024   /* bytes of the command's stderr kept for the log */

/* ---- Splitting ------------------------------------------------------ */

void
tf_creds_process_argv_free(char **argv)
{
	char **a;

	if (argv == NULL)
		return;
	for (a = argv; *a != NULL; a++)
		tf_free(*a);
	tf_free(argv);
}

/* Appends the finished word w to *argv (growing it), taking w's text. */
static enum tf_err
push_word(struct tf_buf *w, char ***argv, int *argc)
{
	char **grown;
	char *s;

	grown = tf_realloc(*argv, sizeof(char *) * ((size_t)*argc + 2));
	if (grown == NULL)
		return TF_ERR_NOMEM;
	*argv = grown;
	s = w->data != NULL ? tf_buf_steal(w) : tf_strdup("");
	if (s == NULL)
		return TF_ERR_NOMEM;
	grown[(*argc)++] = s;
	grown[*argc] = NULL;
	return TF_OK;
}

enum tf_err
tf_creds_process_split(const char *command, char ***argv, int *argc)
{
	enum tf_err rc = TF_OK;
	struct tf_buf w = TF_BUF_INIT;
	const char *p = command;
	bool in_word = false;
	char quote = 0;

	*argv = NULL;
	*argc = 0;
	for (; rc == TF_OK && *p != '\0'; p++) {
		char c = *p;

		if (quote == '\'') {
			if (c == '\'')
				quote = 0;
			else
				rc = tf_buf_append_char(&w, c);
		} else if (quote == '"') {
			if (c == '"') {
				quote = 0;
			} else if (c == '\\' && p[1] != '\0' && strchr("\"\\$`\n", p[1]) != NULL) {
				rc = tf_buf_append_char(&w, *++p);
			} else {
				rc = tf_buf_append_char(&w, c);
			}
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (in_word)
				rc = push_word(&w, argv, argc);
			in_word = false;
		} else if (c == '\'' || c == '"') {
			quote = c;
			in_word = true;
		} else if (c == '\\') {
			if (p[1] == '\0') {
				rc = TF_ERR_INVALID;
				break;
			}
			in_word = true;
			rc = tf_buf_append_char(&w, *++p);
		} else {
			in_word = true;
			rc = tf_buf_append_char(&w, c);
		}
	}
	if (rc == TF_OK && quote != 0)
		rc = TF_ERR_INVALID;
	if (rc == TF_OK && in_word)
		rc = push_word(&w, argv, argc);
	if (rc == TF_OK && *argc == 0)
		rc = TF_ERR_INVALID;
	tf_buf_free(&w);
	if (rc != TF_OK) {
		tf_creds_process_argv_free(*argv);
		*argv = NULL;
		*argc = 0;
	}
	return rc;
}

/* ---- The output ----------------------------------------------------- */

/* The string member name of obj, or NULL. Borrowed from obj. */
static const char *
member(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

enum tf_err
tf_creds_process_parse(const char *json, size_t len, struct tf_creds *out,
    char *why, size_t whylen)
{
	enum tf_err rc = TF_ERR_CREDENTIALS;
	cJSON *root = NULL;
	const cJSON *version;
	const char *id, *secret, *token, *exp;
	int64_t exp_ms = 0;

	root = cJSON_ParseWithLength(json, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		snprintf(why, whylen, "its output is not a JSON object");
		goto out;
	}
	version = cJSON_GetObjectItemCaseSensitive(root, "Version");
	if (!cJSON_IsNumber(version) || version->valuedouble != 1) {
		snprintf(why, whylen, "its output has no \"Version\": 1");
		goto out;
	}
	id = member(root, "AccessKeyId");
	secret = member(root, "SecretAccessKey");
	token = member(root, "SessionToken");
	exp = member(root, "Expiration");
	if (id == NULL || *id == '\0' || secret == NULL || *secret == '\0') {
		snprintf(why, whylen, "its output has no AccessKeyId or SecretAccessKey");
		goto out;
	}
	if (exp != NULL && tf_creds_parse_expiration(exp, &exp_ms) != TF_OK) {
		snprintf(why, whylen, "its Expiration \"%.40s\" is not an ISO 8601 time", exp);
		goto out;
	}
	if (tf_creds_set(out, id, secret, token, exp_ms, "process") != TF_OK) {
		snprintf(why, whylen, "it printed a key or token that is too long");
		goto out;
	}
	rc = TF_OK;
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- Running -------------------------------------------------------- */

/* Starts argv with stdout and stderr on pipes and stdin on /dev/null.
 * Returns 0 or an errno value. */
static int
spawn(char **argv, pid_t *pid, int *out_fd, int *err_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int o[2] = { -1, -1 }, e[2] = { -1, -1 }, rc;
	bool fa_ok = false, attr_ok = false;

	if (pipe2(o, O_CLOEXEC) != 0 || pipe2(e, O_CLOEXEC) != 0) {
		rc = errno;
		goto out;
	}
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		goto out;
	fa_ok = true;
	if ((rc = posix_spawnattr_init(&attr)) != 0)
		goto out;
	attr_ok = true;
	sigemptyset(&none);
	sigfillset(&all);
	if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, o[1], 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, e[1], 2)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF)) != 0)
		goto out;
	rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	if (o[1] >= 0)
		close(o[1]);
	if (e[1] >= 0)
		close(e[1]);
	if (rc != 0) {
		if (o[0] >= 0)
			close(o[0]);
		if (e[0] >= 0)
			close(e[0]);
		return rc;
	}
	*out_fd = o[0];
	*err_fd = e[0];
	return 0;
}

/* Reads the command's stdout into out and the start of its stderr into
 * err until both close or deadline (monotonic ms) passes. Returns TF_OK,
 * TF_ERR_TIMEOUT, TF_ERR_TOO_LARGE, TF_ERR_IO or TF_ERR_NOMEM. */
static enum tf_err
collect(int out_fd, int err_fd, int64_t deadline, struct tf_buf *out,
    struct tf_buf *err)
{
	struct pollfd pf[2] = { { out_fd, POLLIN, 0 }, { err_fd, POLLIN, 0 } };
	char chunk[4096];
	int i, left;

	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		int64_t wait = deadline - tf_mono_ms();

		if (wait <= 0)
			return TF_ERR_TIMEOUT;
		if (poll(pf, 2, (int)(wait > 1000 ? 1000 : wait)) < 0) {
			if (errno == EINTR)
				continue;
			return TF_ERR_IO;
		}
		for (i = 0; i < 2; i++) {
			ssize_t n;

			if (pf[i].fd < 0 || pf[i].revents == 0)
				continue;
			n = read(pf[i].fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				pf[i].fd = -1;
				continue;
			}
			if (i == 0) {
				if ((size_t)n > TF_CREDS_PROCESS_MAX_OUTPUT - out->len)
					return TF_ERR_TOO_LARGE;
				if (tf_buf_append(out, chunk, (size_t)n) != TF_OK)
					return TF_ERR_NOMEM;
			} else if (err->len < STDERR_KEEP) {
				left = STDERR_KEEP - (int)err->len;
				if (tf_buf_append(err, chunk, (size_t)(n < left ? n : left)) != TF_OK)
					return TF_ERR_NOMEM;
			}
		}
	}
	return TF_OK;
}

/* Waits for pid until deadline; kills it then. *status gets its wait
 * status. Returns TF_OK or TF_ERR_TIMEOUT (killed). */
static enum tf_err
reap(pid_t pid, int64_t deadline, int *status)
{
	struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return TF_OK;
		if (tf_mono_ms() >= deadline)
			break;
		nanosleep(&ten_ms, NULL);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return TF_ERR_TIMEOUT;
}

enum tf_err
tf_creds_process_run(const char *command, const char *profile,
    long timeout_ms, struct tf_creds *out)
{
	enum tf_err rc, rrc;
	struct tf_buf o = TF_BUF_INIT, e = TF_BUF_INIT;
	char **argv = NULL;
	char why[256];
	int argc, status = 0, se, out_fd = -1, err_fd = -1;
	int64_t deadline;
	pid_t pid;

	if (timeout_ms <= 0)
		timeout_ms = TF_CREDS_PROCESS_TIMEOUT_MS;
	rc = tf_creds_process_split(command, &argv, &argc);
	if (rc != TF_OK) {
		if (rc == TF_ERR_INVALID)
			tf_error("credentials: profile \"%s\": credential_process \"%s\" "
			    "is empty or has an unclosed quote", profile, command);
		rc = rc == TF_ERR_NOMEM ? rc : TF_ERR_CREDENTIALS;
		goto out;
	}
	se = spawn(argv, &pid, &out_fd, &err_fd);
	if (se != 0) {
		tf_error("credentials: profile \"%s\": cannot run credential_process "
		    "%s: %s", profile, argv[0], strerror(se));
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	deadline = tf_mono_ms() + timeout_ms;
	rc = collect(out_fd, err_fd, deadline, &o, &e);
	/* The command may still run after closing its output: the same deadline. */
	rrc = reap(pid, rc == TF_OK ? deadline : 0, &status);
	if (rc == TF_OK)
		rc = rrc;
	while (e.len > 0 && strchr(" \t\r\n", e.data[e.len - 1]) != NULL)
		e.data[--e.len] = '\0';
	if (rc == TF_ERR_NOMEM)
		goto out;
	if (rc == TF_ERR_TIMEOUT) {
		tf_error("credentials: profile \"%s\": credential_process %s did not "
		    "finish within %ld ms; killed it", profile, argv[0], timeout_ms);
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	if (rc != TF_OK) {
		tf_error("credentials: profile \"%s\": credential_process %s: %s",
		    profile, argv[0], rc == TF_ERR_TOO_LARGE ?
		    "output over 64 KiB" : "cannot read its output");
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			tf_error("credentials: profile \"%s\": credential_process %s "
			    "exited with status %d%s%s", profile, argv[0],
			    WEXITSTATUS(status), e.len > 0 ? ": " : "", tf_buf_str(&e));
		else
			tf_error("credentials: profile \"%s\": credential_process %s "
			    "was killed by signal %d", profile, argv[0],
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		rc = TF_ERR_CREDENTIALS;
		goto out;
	}
	rc = tf_creds_process_parse(tf_buf_str(&o), o.len, out, why, sizeof(why));
	if (rc != TF_OK)
		tf_error("credentials: profile \"%s\": credential_process %s: %s",
		    profile, argv[0], why);
out:
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	tf_creds_process_argv_free(argv);
	if (o.data != NULL)
		explicit_bzero(o.data, o.cap);
	tf_buf_free(&o);
	tf_buf_free(&e);
	return rc;
}
