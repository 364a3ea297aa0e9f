/* runners.c - the runner loader: find, check, initialise and call runners. */
#include "task/runners.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/alloc.h"
#include "base/log.h"
#include "task/task.h"

#ifndef TF_PREFIX
#define TF_PREFIX "/usr/local"
#endif

#define NAME_MAX_LEN    64
#define VERSION_MAX_LEN 256

/*
 * The bytes of a descriptor this host reads: every field of ABI 1.0. When a
 * later minor appends fields, this stays the end of the 1.0 fields and the
 * new ones are read only when the runner's size covers them, so runners
 * built against an older minor keep loading.
 */
#define DESC_READ_SIZE (offsetof(struct tf_runner, fini) + \
	sizeof(((const struct tf_runner *)0)->fini))

struct tf_loaded_runner {
	char *name;              /* owned copy of the descriptor's name */
	char *version;           /* owned copy; "" when the runner gave none */
	char *path;              /* owned: the file as the spec reached it */
	uint32_t flags;          /* the descriptor's TF_RUNNER_* flags */
	uint16_t abi_minor;      /* the minor it was built against */
	uint32_t size;           /* its descriptor's size */
	int (*init)(const struct tf_host_api *, const char *, void **);
	void (*run)(void *, const struct tf_task_view *, struct tf_run_result *);
	void (*fini)(void *);
	int (*validate)(const char *, size_t, char *, size_t);  /* NULL: none,
	                                                           or ABI 1.0 */
	enum tf_start_status (*start)(void *, const struct tf_task_view *,
	    struct tf_run_result *);   /* NULL: none, or before ABI 1.2 */
	void *handle;            /* owned: from dlopen() */
	void *state;             /* the runner's, from init() */
	bool initialised;        /* init() succeeded, or there is none */
	bool isolated;           /* runs in another process: no init() here */
	int64_t time_limit_ms;   /* the host's limit for one run; 0: none */
	pthread_mutex_t *serial; /* owned; only for TF_RUNNER_SINGLE_THREADED */
};

struct tf_runner_set {
	struct tf_loaded_runner **runners;  /* owned array of owned runners */
	size_t count;
	bool init_called;
};

/* One file a spec names. */
struct file_entry {
	char *path;   /* owned */
	dev_t dev;
	ino_t ino;
};

/* The files a spec names, in load order. */
struct file_list {
	struct file_entry *v;  /* owned array */
	size_t count;
	size_t cap;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes a one-line message into err: control characters (a newline in a
 * file name or in dlerror() text) become spaces. */
static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	char *p;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (p = err; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
}

/* Copies at most max bytes of s (not ours: a runner's) into out for a
 * message, with anything but printable ASCII shown as '?'. */
static void
printable(const char *s, size_t max, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; i < max && i + 1 < outlen && s[i] != '\0'; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

/* True when path is a directory (following symlinks). */
static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* "<a>/<b>", or "<a><b>" when a already ends with '/'. Caller frees with
 * tf_free(); NULL when out of memory. */
static char *
join_path(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);
	bool slash = alen > 0 && a[alen - 1] != '/';
	char *s = tf_malloc(alen + slash + blen + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, a, alen);
	if (slash)
		s[alen] = '/';
	memcpy(s + alen + slash, b, blen + 1);
	return s;
}

static void
file_list_free(struct file_list *fl)
{
	size_t i;

	for (i = 0; i < fl->count; i++)
		tf_free(fl->v[i].path);
	tf_free(fl->v);
	memset(fl, 0, sizeof(*fl));
}

/*
 * Appends path (borrowed; st its stat) unless the same file is already in
 * the list. A path without '/' gets "./" in front, so that dlopen() opens
 * that file instead of searching the library path.
 */
static enum tf_err
file_list_add(struct file_list *fl, const char *path, const struct stat *st)
{
	struct file_entry *grown;
	char *copy;
	size_t i, cap;

	for (i = 0; i < fl->count; i++) {
		if (fl->v[i].dev == st->st_dev && fl->v[i].ino == st->st_ino)
			return TF_OK;
	}
	if (fl->count == fl->cap) {
		cap = fl->cap == 0 ? 8 : fl->cap * 2;
		grown = tf_realloc(fl->v, cap * sizeof(*grown));
		if (grown == NULL)
			return TF_ERR_NOMEM;
		fl->v = grown;
		fl->cap = cap;
	}
	copy = strchr(path, '/') != NULL ? tf_strdup(path) : join_path(".", path);
	if (copy == NULL)
		return TF_ERR_NOMEM;
	fl->v[fl->count].path = copy;
	fl->v[fl->count].dev = st->st_dev;
	fl->v[fl->count].ino = st->st_ino;
	fl->count++;
	return TF_OK;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True when a directory entry name looks like a runner: "*.so", not hidden. */
static bool
runner_file_name(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 3 && strcmp(name + len - 3, ".so") == 0;
}

/*
 * Adds the "*.so" regular files of directory dir (borrowed) to fl, in
 * strcmp order. A "*.so" entry that cannot be stat()ed (a dangling symlink)
 * is an error: the consumer must not start without a runner it was given.
 */
static enum tf_err
collect_dir(struct file_list *fl, const char *dir, char *err, size_t errlen)
{
	enum tf_err rc = TF_ERR_NOMEM;
	DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	char **names = NULL, **grown;
	char *path = NULL;
	size_t n = 0, cap = 0, i;
	int e;

	d = opendir(dir);
	if (d == NULL) {
		e = errno;
		rc = e == ENOENT ? TF_ERR_NOT_FOUND : TF_ERR_IO;
		set_err(err, errlen, "cannot read runner directory %s: %s", dir,
		    strerror(e));
		goto out;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			e = errno;
			if (e == 0)
				break;
			rc = TF_ERR_IO;
			set_err(err, errlen, "cannot read runner directory %s: %s",
			    dir, strerror(e));
			goto out;
		}
		if (!runner_file_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			grown = tf_realloc(names, cap * sizeof(*names));
			if (grown == NULL)
				goto out;
			names = grown;
		}
		if ((names[n] = tf_strdup(de->d_name)) == NULL)
			goto out;
		n++;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		tf_free(path);
		if ((path = join_path(dir, names[i])) == NULL)
			goto out;
		if (stat(path, &st) != 0) {
			e = errno;
			rc = e == ENOENT ? TF_ERR_NOT_FOUND : TF_ERR_IO;
			set_err(err, errlen, "runner %s: %s", path, strerror(e));
			goto out;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if (file_list_add(fl, path, &st) != TF_OK)
			goto out;
	}
	rc = TF_OK;
out:
	if (rc == TF_ERR_NOMEM)
		set_err(err, errlen, "out of memory listing runner directory %s", dir);
	tf_free(path);
	for (i = 0; i < n; i++)
		tf_free(names[i]);
	tf_free(names);
	if (d != NULL)
		closedir(d);
	return rc;
}

/* Adds the files of a colon-separated list of files and directories. */
static enum tf_err
collect_spec(struct file_list *fl, const char *spec, char *err, size_t errlen)
{
	enum tf_err rc = TF_ERR_NOMEM;
	struct stat st;
	char *copy = NULL, *elem, *next;
	int e;

	if ((copy = tf_strdup(spec)) == NULL) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	for (elem = copy; elem != NULL; elem = next) {
		next = strchr(elem, ':');
		if (next != NULL)
			*next++ = '\0';
		if (*elem == '\0')
			continue;
		if (stat(elem, &st) != 0) {
			e = errno;
			rc = e == ENOENT ? TF_ERR_NOT_FOUND : TF_ERR_IO;
			set_err(err, errlen, "runner path %s: %s", elem, strerror(e));
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = collect_dir(fl, elem, err, errlen);
			if (rc != TF_OK)
				goto out;
		} else if (S_ISREG(st.st_mode)) {
			rc = file_list_add(fl, elem, &st);
			if (rc != TF_OK) {
				set_err(err, errlen, "out of memory");
				goto out;
			}
		} else {
			rc = TF_ERR_INVALID;
			set_err(err, errlen, "runner path %s is neither a file nor a "
			    "directory", elem);
			goto out;
		}
	}
	rc = TF_OK;
out:
	tf_free(copy);
	return rc;
}

/*
 * Checks that directory dir (borrowed) of runner file `path` cannot be
 * changed by every user: world-writable is refused unless the sticky bit
 * keeps others from replacing files they do not own (as in /tmp).
 */
static enum tf_err
check_dir_safety(const char *path, const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int e;

	if (stat(dir, &st) != 0) {
		e = errno;
		set_err(err, errlen, "runner %s: cannot check its directory %s: %s",
		    path, dir, strerror(e));
		return e == ENOENT ? TF_ERR_NOT_FOUND : TF_ERR_IO;
	}
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		set_err(err, errlen, "runner %s: refused: its directory %s is "
		    "world-writable (mode %04o), so anyone could replace the file",
		    path, dir, (unsigned)(st.st_mode & 07777));
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

/* The directory part of path: "." when it has no '/', "/" for "/x". Caller
 * frees with tf_free(); NULL when out of memory. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return tf_strdup(".");
	if (slash == path)
		return tf_strdup("/");
	return tf_strndup(path, (size_t)(slash - path));
}

/*
 * Refuses a runner file anyone could have written: the file itself (after
 * symlinks) world-writable, or the directory it is reached through, or the
 * directory it really lives in, world-writable without the sticky bit.
 * Code loaded from such a file would run with the consumer's credentials.
 */
static enum tf_err
check_file_safety(const char *path, char *err, size_t errlen)
{
	enum tf_err rc = TF_ERR_NOMEM;
	struct stat st;
	char *real = NULL, *dir = NULL, *realdir = NULL;
	int e;

	real = realpath(path, NULL);
	if (real == NULL) {
		e = errno;
		rc = e == ENOENT ? TF_ERR_NOT_FOUND : e == ENOMEM ? TF_ERR_NOMEM :
		    TF_ERR_IO;
		set_err(err, errlen, "runner %s: %s", path, strerror(e));
		goto out;
	}
	if (stat(real, &st) != 0) {
		e = errno;
		rc = e == ENOENT ? TF_ERR_NOT_FOUND : TF_ERR_IO;
		set_err(err, errlen, "runner %s: %s", path, strerror(e));
		goto out;
	}
	if (st.st_mode & S_IWOTH) {
		rc = TF_ERR_INVALID;
		set_err(err, errlen, "runner %s: refused: the file is world-writable "
		    "(mode %04o)", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((dir = dir_of(path)) == NULL || (realdir = dir_of(real)) == NULL) {
		set_err(err, errlen, "out of memory checking runner %s", path);
		goto out;
	}
	rc = check_dir_safety(path, dir, err, errlen);
	if (rc == TF_OK && strcmp(dir, realdir) != 0)
		rc = check_dir_safety(path, realdir, err, errlen);
out:
	free(real);  /* from realpath(): the C library's allocator */
	tf_free(dir);
	tf_free(realdir);
	return rc;
}

/* Frees r and everything it owns; closes its library. NULL is fine. Does not
 * call fini(). */
static void
loaded_runner_free(struct tf_loaded_runner *r)
{
	if (r == NULL)
		return;
	if (r->serial != NULL) {
		pthread_mutex_destroy(r->serial);
		tf_free(r->serial);
	}
	if (r->handle != NULL)
		dlclose(r->handle);
	tf_free(r->name);
	tf_free(r->version);
	tf_free(r->path);
	tf_free(r);
}

/*
 * Opens path (borrowed), checks its descriptor and appends the runner to
 * set. Checks in the order the ABI requires: the magic and the major before
 * anything else in the descriptor, then the size before any field past the
 * header. On failure nothing of the file stays loaded.
 */
static enum tf_err
load_one(struct tf_runner_set *set, const char *path, char *err, size_t errlen)
{
	const struct tf_runner *(*entry)(void) = NULL;
	const struct tf_runner *d;
	const struct tf_loaded_runner *other;
	struct tf_loaded_runner *r = NULL;
	void *handle = NULL, *sym;
	const char *why;
	char shown[NAME_MAX_LEN + 2];
	enum tf_err rc = TF_ERR_INVALID;

	rc = check_file_safety(path, err, errlen);
	if (rc != TF_OK)
		goto out;
	rc = TF_ERR_INVALID;
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL) {
		why = dlerror();
		set_err(err, errlen, "runner %s: cannot load: %s", path,
		    why != NULL ? why : "unknown dlopen error");
		goto out;
	}
	(void)dlerror();
	sym = dlsym(handle, TF_RUNNER_ENTRY_SYMBOL);
	if (sym == NULL) {
		why = dlerror();
		set_err(err, errlen, "runner %s: no %s() entry point: %s", path,
		    TF_RUNNER_ENTRY_SYMBOL, why != NULL ? why : "the symbol is NULL");
		goto out;
	}
	/* POSIX guarantees a dlsym() result converts to a function pointer. */
	memcpy(&entry, &sym, sizeof(entry));
	d = entry();
	if (d == NULL) {
		set_err(err, errlen, "runner %s: %s() returned NULL", path,
		    TF_RUNNER_ENTRY_SYMBOL);
		goto out;
	}
	if ((uintptr_t)d % _Alignof(struct tf_runner) != 0) {
		set_err(err, errlen, "runner %s: %s() returned a misaligned "
		    "descriptor", path, TF_RUNNER_ENTRY_SYMBOL);
		goto out;
	}
	if (d->magic != TF_RUNNER_MAGIC) {
		set_err(err, errlen, "runner %s: bad magic 0x%08" PRIx32 ", expected "
		    "0x%08" PRIx32 ": not a taskfleet runner", path, d->magic,
		    (uint32_t)TF_RUNNER_MAGIC);
		goto out;
	}
	if (d->abi_major != TF_RUNNER_ABI_MAJOR) {
		set_err(err, errlen, "runner %s: built for runner ABI %u.%u, this "
		    "taskfleet has runner ABI %u.%u: the major versions must match",
		    path, (unsigned)d->abi_major, (unsigned)d->abi_minor,
		    (unsigned)TF_RUNNER_ABI_MAJOR, (unsigned)TF_RUNNER_ABI_MINOR);
		goto out;
	}
	if (d->size < DESC_READ_SIZE) {
		set_err(err, errlen, "runner %s: descriptor is %" PRIu32 " bytes "
		    "(runner ABI %u.%u), too small for the %zu bytes this taskfleet "
		    "(runner ABI %u.%u) reads", path, d->size,
		    (unsigned)d->abi_major, (unsigned)d->abi_minor, DESC_READ_SIZE,
		    (unsigned)TF_RUNNER_ABI_MAJOR, (unsigned)TF_RUNNER_ABI_MINOR);
		goto out;
	}
	if (d->name == NULL) {
		set_err(err, errlen, "runner %s: no name", path);
		goto out;
	}
	/* The check submit and the API make on a task's type. */
	if (!tf_task_type_valid(d->name)) {
		printable(d->name, NAME_MAX_LEN + 1, shown, sizeof(shown));
		set_err(err, errlen, "runner %s: invalid name \"%s\": a name is %s",
		    path, shown, TF_TASK_TYPE_SYNTAX);
		goto out;
	}
	if (d->run == NULL) {
		set_err(err, errlen, "runner %s (\"%s\"): run() is NULL", path,
		    d->name);
		goto out;
	}
	other = tf_runner_set_find(set, d->name);
	if (other != NULL) {
		set_err(err, errlen, "two runners are named \"%s\": %s and %s",
		    d->name, other->path, path);
		goto out;
	}

	rc = TF_ERR_NOMEM;
	if ((r = tf_calloc(1, sizeof(*r))) == NULL ||
	    (r->name = tf_strdup(d->name)) == NULL ||
	    (r->version = tf_strndup(d->version != NULL ? d->version : "",
	    VERSION_MAX_LEN)) == NULL ||
	    (r->path = tf_strdup(path)) == NULL) {
		set_err(err, errlen, "out of memory loading runner %s", path);
		goto out;
	}
	r->flags = d->flags;
	r->abi_minor = d->abi_minor;
	r->size = d->size;
	r->init = d->init;
	r->run = d->run;
	r->fini = d->fini;
	/* ABI 1.1: only when the runner's descriptor is large enough to have
	 * the field; a 1.0 runner's memory past its size is not ours to read. */
	if (TF_RUNNER_HAS(d, struct tf_runner, validate))
		r->validate = d->validate;
	if (TF_RUNNER_HAS(d, struct tf_runner, start))
		r->start = d->start;
	if (r->flags & TF_RUNNER_SINGLE_THREADED) {
		if ((r->serial = tf_malloc(sizeof(*r->serial))) == NULL) {
			set_err(err, errlen, "out of memory loading runner %s", path);
			goto out;
		}
		if (pthread_mutex_init(r->serial, NULL) != 0) {
			tf_free(r->serial);
			r->serial = NULL;
			set_err(err, errlen, "cannot create a mutex for runner %s", path);
			goto out;
		}
	}
	r->handle = handle;
	handle = NULL;
	set->runners[set->count++] = r;
	tf_debug("loaded runner %s %s from %s (runner ABI %u.%u)", r->name,
	    r->version, r->path, (unsigned)TF_RUNNER_ABI_MAJOR,
	    (unsigned)r->abi_minor);
	r = NULL;
	rc = TF_OK;
out:
	loaded_runner_free(r);
	if (handle != NULL)
		dlclose(handle);
	return rc;
}

const char *
tf_runner_install_dir(void)
{
	return TF_PREFIX "/lib/taskfleet/runners";
}

/*
 * "<dir of exe>/../runners", written without "..": exe's directory's parent
 * plus "/runners". Falls back to the literal form when the directory part
 * ends in "." or "..". Caller frees with tf_free(); NULL when out of memory.
 */
static char *
sibling_runners_dir(const char *exe)
{
	const char *slash, *prev, *last;
	size_t dirlen, lastlen;
	char *dir, *s;

	slash = strrchr(exe, '/');
	if (slash == NULL)
		return tf_strdup("../runners");
	dirlen = (size_t)(slash - exe);
	if (dirlen == 0)
		return tf_strdup("/runners");
	prev = memrchr(exe, '/', dirlen);
	last = prev != NULL ? prev + 1 : exe;
	lastlen = (size_t)(slash - last);
	if ((lastlen == 1 && last[0] == '.') ||
	    (lastlen == 2 && last[0] == '.' && last[1] == '.')) {
		if ((dir = tf_strndup(exe, dirlen)) == NULL)
			return NULL;
		s = join_path(dir, "../runners");
		tf_free(dir);
		return s;
	}
	if (prev == NULL)
		return tf_strdup("runners");
	if (prev == exe)
		return tf_strdup("/runners");
	if ((dir = tf_strndup(exe, (size_t)(prev - exe))) == NULL)
		return NULL;
	s = join_path(dir, "runners");
	tf_free(dir);
	return s;
}

enum tf_err
tf_runner_default_dir(const char *exe, const char *install_dir, char **out,
    char *err, size_t errlen)
{
	enum tf_err rc = TF_ERR_NOMEM;
	char *self = NULL, *first = NULL;
	ssize_t n;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (install_dir == NULL)
		install_dir = tf_runner_install_dir();
	if (exe == NULL) {
		if ((self = tf_malloc(PATH_MAX + 1)) == NULL)
			goto out;
		n = readlink("/proc/self/exe", self, PATH_MAX);
		if (n > 0) {
			self[n] = '\0';
			exe = self;
		}
	}
	if (exe != NULL) {
		if ((first = sibling_runners_dir(exe)) == NULL)
			goto out;
		if (is_dir(first)) {
			*out = first;
			first = NULL;
			rc = TF_OK;
			goto out;
		}
	}
	if (is_dir(install_dir)) {
		if ((*out = tf_strdup(install_dir)) == NULL)
			goto out;
		rc = TF_OK;
		goto out;
	}
	rc = TF_ERR_NOT_FOUND;
	set_err(err, errlen, "no runner directory: neither %s nor %s exists "
	    "(set TASKFLEET_RUNNERS)", first != NULL ? first :
	    "<dir of the program>/../runners", install_dir);
out:
	if (rc == TF_ERR_NOMEM)
		set_err(err, errlen, "out of memory");
	tf_free(self);
	tf_free(first);
	return rc;
}

enum tf_err
tf_runner_set_load(const char *spec, struct tf_runner_set **out, char *err,
    size_t errlen)
{
	struct file_list fl = { NULL, 0, 0 };
	struct tf_runner_set *set = NULL;
	char *dir = NULL;
	enum tf_err rc;
	size_t i;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (spec == NULL || *spec == '\0') {
		rc = tf_runner_default_dir(NULL, NULL, &dir, err, errlen);
		if (rc == TF_OK)
			rc = collect_dir(&fl, dir, err, errlen);
	} else {
		rc = collect_spec(&fl, spec, err, errlen);
	}
	if (rc != TF_OK)
		goto out;
	if (fl.count == 0) {
		rc = TF_ERR_NOT_FOUND;
		set_err(err, errlen, "no runners: %s names no runner file (*.so)",
		    dir != NULL ? dir : spec);
		goto out;
	}
	rc = TF_ERR_NOMEM;
	if ((set = tf_calloc(1, sizeof(*set))) == NULL ||
	    (set->runners = tf_calloc(fl.count, sizeof(*set->runners))) == NULL) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < fl.count; i++) {
		rc = load_one(set, fl.v[i].path, err, errlen);
		if (rc != TF_OK)
			goto out;
	}
	*out = set;
	set = NULL;
	rc = TF_OK;
out:
	tf_runner_set_free(set);
	file_list_free(&fl);
	tf_free(dir);
	return rc;
}

enum tf_err
tf_runner_config_var(const char *name, char *out, size_t outlen)
{
	size_t plen = strlen(TF_RUNNER_CONFIG_ENV_PREFIX), nlen = strlen(name), i;
	char c;

	if (plen + nlen + 1 > outlen)
		return TF_ERR_INVALID;
	memcpy(out, TF_RUNNER_CONFIG_ENV_PREFIX, plen);
	for (i = 0; i < nlen; i++) {
		c = name[i];
		if (c == '-')
			c = '_';
		else if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		out[plen + i] = c;
	}
	out[plen + nlen] = '\0';
	return TF_OK;
}

/*
 * Checks that text (borrowed) is one JSON object and nothing else; writes
 * what is wrong into err naming the variable but not its value.
 */
static enum tf_err
check_config(const char *var, const char *runner, const char *text, char *err,
    size_t errlen)
{
	cJSON *json;
	enum tf_err rc = TF_OK;

	json = cJSON_ParseWithOpts(text, NULL, 1);
	if (json == NULL) {
		rc = TF_ERR_INVALID;
		set_err(err, errlen, "%s (the configuration of runner \"%s\") is "
		    "not valid JSON", var, runner);
	} else if (!cJSON_IsObject(json)) {
		rc = TF_ERR_INVALID;
		set_err(err, errlen, "%s (the configuration of runner \"%s\") is "
		    "not a JSON object", var, runner);
	}
	cJSON_Delete(json);
	return rc;
}

enum tf_err
tf_runner_set_init(struct tf_runner_set *set, const struct tf_host_api *host,
    char *err, size_t errlen)
{
	enum tf_err rc = TF_ERR_NOMEM;
	char var[TF_RUNNER_CONFIG_VAR_MAX];
	const char **configs = NULL;
	struct tf_loaded_runner *r;
	const char *v;
	void *state;
	size_t i;
	int ret;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (set->init_called) {
		rc = TF_ERR_INVALID;
		set_err(err, errlen, "runners initialised twice");
		goto out;
	}
	set->init_called = true;
	if ((configs = tf_calloc(set->count, sizeof(*configs))) == NULL) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	/* Every configuration is checked before any runner starts. */
	for (i = 0; i < set->count; i++) {
		r = set->runners[i];
		if (tf_runner_config_var(r->name, var, sizeof(var)) != TF_OK) {
			rc = TF_ERR_INVALID;
			set_err(err, errlen, "runner name \"%s\" too long", r->name);
			goto out;
		}
		v = getenv(var);
		if (v == NULL || *v == '\0') {
			v = "{}";
		} else if ((rc = check_config(var, r->name, v, err, errlen)) != TF_OK) {
			goto out;
		}
		configs[i] = v;
	}
	for (i = 0; i < set->count; i++) {
		r = set->runners[i];
		if (r->isolated)
			continue;  /* its worker process initialises it */
		if (r->init != NULL) {
			state = NULL;
			ret = r->init(host, configs[i], &state);
			if (ret != 0) {
				rc = TF_ERR_INVALID;
				set_err(err, errlen, "runner \"%s\" (%s) refused to start: "
				    "init() returned %d", r->name, r->path, ret);
				goto out;
			}
			r->state = state;
		}
		r->initialised = true;
	}
	rc = TF_OK;
out:
	tf_free(configs);
	return rc;
}

size_t
tf_runner_set_count(const struct tf_runner_set *set)
{
	return set->count;
}

const struct tf_loaded_runner *
tf_runner_set_at(const struct tf_runner_set *set, size_t i)
{
	return i < set->count ? set->runners[i] : NULL;
}

const struct tf_loaded_runner *
tf_runner_set_find(const struct tf_runner_set *set, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < set->count; i++) {
		if (strcmp(set->runners[i]->name, name) == 0)
			return set->runners[i];
	}
	return NULL;
}

void
tf_runner_set_free(struct tf_runner_set *set)
{
	struct tf_loaded_runner *r;
	size_t i;

	if (set == NULL)
		return;
	for (i = set->count; i > 0; i--) {
		r = set->runners[i - 1];
		if (r->initialised && r->fini != NULL)
			r->fini(r->state);
		loaded_runner_free(r);
	}
	tf_free(set->runners);
	tf_free(set);
}

const char *
tf_loaded_runner_name(const struct tf_loaded_runner *r)
{
	return r->name;
}

const char *
tf_loaded_runner_version(const struct tf_loaded_runner *r)
{
	return r->version;
}

const char *
tf_loaded_runner_path(const struct tf_loaded_runner *r)
{
	return r->path;
}

uint32_t
tf_loaded_runner_flags(const struct tf_loaded_runner *r)
{
	return r->flags;
}

unsigned
tf_loaded_runner_abi_minor(const struct tf_loaded_runner *r)
{
	return r->abi_minor;
}

uint32_t
tf_loaded_runner_size(const struct tf_loaded_runner *r)
{
	return r->size;
}

/* The runner of set named name, writable; NULL when there is none. */
static struct tf_loaded_runner *
find_mutable(struct tf_runner_set *set, const char *name)
{
	size_t i;

	for (i = 0; i < set->count; i++) {
		if (strcmp(set->runners[i]->name, name) == 0)
			return set->runners[i];
	}
	return NULL;
}

enum tf_err
tf_runner_set_isolate(struct tf_runner_set *set, const char *name)
{
	struct tf_loaded_runner *r = find_mutable(set, name);

	if (r == NULL)
		return TF_ERR_NOT_FOUND;
	if (set->init_called)
		return TF_ERR_INVALID;
	r->isolated = true;
	return TF_OK;
}

enum tf_err
tf_runner_set_time_limit(struct tf_runner_set *set, const char *name,
    int64_t ms)
{
	struct tf_loaded_runner *r = find_mutable(set, name);

	if (r == NULL)
		return TF_ERR_NOT_FOUND;
	if (ms < 0)
		return TF_ERR_INVALID;
	r->time_limit_ms = ms;
	return TF_OK;
}

bool
tf_loaded_runner_isolated(const struct tf_loaded_runner *r)
{
	return r->isolated;
}

int64_t
tf_loaded_runner_time_limit_ms(const struct tf_loaded_runner *r)
{
	return r->time_limit_ms;
}

bool
tf_loaded_runner_validates(const struct tf_loaded_runner *r)
{
	return r->validate != NULL;
}

enum tf_err
tf_runner_validate(const struct tf_loaded_runner *r, const char *params,
    size_t len, char *err, size_t errlen)
{
	char text[TF_RUNNER_ERROR_SIZE];
	size_t n;
	int ret;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (r->validate == NULL)
		return TF_OK;
	text[0] = '\0';
	if (r->serial != NULL)
		pthread_mutex_lock(r->serial);
	ret = r->validate(params, len, text, sizeof(text));
	if (r->serial != NULL)
		pthread_mutex_unlock(r->serial);
	if (ret == 0)
		return TF_OK;
	text[sizeof(text) - 1] = '\0';
	if (text[0] == '\0')
		set_err(err, errlen, "runner \"%s\" refused the params without a "
		    "message", r->name);
	else
		set_err(err, errlen, "%s", text);
	/* One line: a trailing newline the runner wrote is not part of it. */
	for (n = err != NULL ? strlen(err) : 0; n > 0 && err[n - 1] == ' '; n--)
		err[n - 1] = '\0';
	return TF_ERR_INVALID;
}

void
tf_run_result_prepare(struct tf_run_result *result, char *errbuf, size_t errlen)
{
	memset(result, 0, sizeof(*result));
	result->size = sizeof(*result);
	result->outcome = TF_RUN_SUCCESS;
	result->error = errbuf;
	result->error_size = errlen;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
}

enum tf_err
tf_run_result_check_times(const struct tf_run_result *result, char *err,
    size_t errlen)
{
	const struct {
		const char *name;
		int64_t ms;
	} times[] = {
		{ "new_target_timestamp", result->new_target_timestamp },
		{ "retry_after_ms", result->retry_after_ms },
	};
	size_t i;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		if (times[i].ms == 0 || (times[i].ms >= TF_RUNNER_TIME_MIN_MS &&
		    times[i].ms <= TF_RUNNER_TIME_MAX_MS))
			continue;
		set_err(err, errlen, "%s %" PRId64 " is not a time from "
		    "2000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z (epoch ms; 0 "
		    "for none)", times[i].name, times[i].ms);
		return TF_ERR_INVALID;
	}
	return TF_OK;
}

/* Writes text into the host's error buffer of the result. */
static void
set_run_error(struct tf_run_result *result, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
set_run_error(struct tf_run_result *result, const char *fmt, ...)
{
	va_list ap;

	if (result->error == NULL || result->error_size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(result->error, result->error_size, fmt, ap);
	va_end(ap);
}

void
tf_run_result_settle(const struct tf_loaded_runner *r,
    struct tf_run_result *result, char *errbuf, size_t errsize)
{
	unsigned outcome;
	const char *text;
	size_t n;

	_Static_assert(sizeof(result->outcome) == sizeof(outcome),
	    "enum tf_run_outcome is not the size of an unsigned int");

	/* A runner that pointed error at its own text: copy it in. */
	text = result->error;
	if (text != errbuf && text != NULL && errbuf != NULL && errsize > 0) {
		n = errsize - 1;
		/* Pointing into our own buffer: read no further than its end. */
		if ((uintptr_t)text > (uintptr_t)errbuf &&
		    (uintptr_t)text < (uintptr_t)errbuf + errsize)
			n = (size_t)((uintptr_t)errbuf + errsize - (uintptr_t)text) - 1;
		n = strnlen(text, n);
		memmove(errbuf, text, n);
		errbuf[n] = '\0';
	}
	result->error = errbuf;
	result->error_size = errsize;
	result->size = sizeof(*result);
	if (errbuf != NULL && errsize > 0)
		errbuf[errsize - 1] = '\0';

	/* Read the outcome as a plain number: a runner may have stored any. */
	memcpy(&outcome, &result->outcome, sizeof(outcome));
	if (outcome != TF_RUN_SUCCESS && outcome != TF_RUN_RETRY &&
	    outcome != TF_RUN_FAILED) {
		result->outcome = TF_RUN_FAILED;
		set_run_error(result, "runner \"%s\" returned an unknown outcome %u",
		    r->name, outcome);
	} else if (outcome != TF_RUN_SUCCESS &&
	    (errbuf == NULL || errsize == 0 || errbuf[0] == '\0')) {
		set_run_error(result, "runner \"%s\" reported a %s without a message",
		    r->name, outcome == TF_RUN_RETRY ? "retryable error" :
		    "permanent failure");
	}
}

void
tf_runner_invoke(const struct tf_loaded_runner *r,
    const struct tf_task_view *task, struct tf_run_result *result)
{
	char *errbuf = result->error;
	size_t errsize = result->error_size;

	if (!r->initialised) {
		result->outcome = TF_RUN_FAILED;
		set_run_error(result, "runner \"%s\" was not initialised%s", r->name,
		    r->isolated ? " in this process (it runs isolated)" : "");
		return;
	}
	if (r->serial != NULL)
		pthread_mutex_lock(r->serial);
	r->run(r->state, task, result);
	if (r->serial != NULL)
		pthread_mutex_unlock(r->serial);
	tf_run_result_settle(r, result, errbuf, errsize);
}

bool
tf_loaded_runner_starts(const struct tf_loaded_runner *r)
{
	return r->start != NULL && !r->isolated;
}

bool
tf_runner_start(const struct tf_loaded_runner *r,
    const struct tf_task_view *task, struct tf_run_result *result)
{
	char *errbuf = result->error;
	size_t errsize = result->error_size;
	enum tf_start_status st;

	if (!r->initialised || r->start == NULL) {
		tf_runner_invoke(r, task, result);
		return false;
	}
	st = r->start(r->state, task, result);
	if (st == TF_START_PENDING)
		return true;
	tf_run_result_settle(r, result, errbuf, errsize);
	return false;
}
