/* ini.c - the AWS shared config and credentials file format. */
#include "aws/ini.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"

struct kv {
	char *key;    /* owned; lower case */
	char *value;  /* owned */
};

struct tf_ini_section {
	char *name;    /* owned; trimmed */
	struct kv *kv; /* owned array of n entries */
	size_t n;
	size_t cap;
};

struct tf_ini {
	struct tf_ini_section **sec;  /* owned array of owned sections; pointers
	                                 stay put while the array grows */
	size_t n;
	size_t cap;
};

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Narrows [*s, *e) to drop blanks at both ends. */
static void
trim(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && is_blank((*e)[-1]))
		(*e)--;
}

static void
set_error(struct tf_ini_error *err, int line, int errnum, const char *what)
{
	if (err == NULL)
		return;
	err->line = line;
	err->errnum = errnum;
	err->what = what;
}

static void
section_free(struct tf_ini_section *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++) {
		tf_free(s->kv[i].key);
		tf_free(s->kv[i].value);
	}
	tf_free(s->kv);
	tf_free(s->name);
	tf_free(s);
}

void
tf_ini_free(struct tf_ini *ini)
{
	size_t i;

	if (ini == NULL)
		return;
	for (i = 0; i < ini->n; i++)
		section_free(ini->sec[i]);
	tf_free(ini->sec);
	tf_free(ini);
}

const struct tf_ini_section *
tf_ini_section(const struct tf_ini *ini, const char *name)
{
	size_t i;

	if (ini == NULL)
		return NULL;
	for (i = 0; i < ini->n; i++)
		if (strcmp(ini->sec[i]->name, name) == 0)
			return ini->sec[i];
	return NULL;
}

const char *
tf_ini_get(const struct tf_ini_section *s, const char *key)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < s->n; i++)
		if (strcasecmp(s->kv[i].key, key) == 0)
			return s->kv[i].value;
	return NULL;
}

/* Finds or adds the section [name, name + len); *out is borrowed from ini. */
static enum tf_err
section_open(struct tf_ini *ini, const char *name, size_t len,
    struct tf_ini_section **out)
{
	enum tf_err rc = TF_ERR_NOMEM;
	struct tf_ini_section *s = NULL;
	size_t i;

	for (i = 0; i < ini->n; i++) {
		if (strlen(ini->sec[i]->name) == len &&
		    memcmp(ini->sec[i]->name, name, len) == 0) {
			*out = ini->sec[i];
			return TF_OK;
		}
	}
	if (ini->n == ini->cap) {
		size_t cap = ini->cap ? ini->cap * 2 : 8;
		struct tf_ini_section **p = tf_realloc(ini->sec, cap * sizeof(*p));

		if (p == NULL)
			goto out;
		ini->sec = p;
		ini->cap = cap;
	}
	s = tf_calloc(1, sizeof(*s));
	if (s == NULL)
		goto out;
	s->name = tf_strndup(name, len);
	if (s->name == NULL)
		goto out;
	ini->sec[ini->n++] = s;
	*out = s;
	s = NULL;
	rc = TF_OK;
out:
	section_free(s);
	return rc;
}

/* Sets key (klen bytes, stored in lower case) to value (vlen bytes) in s,
 * replacing an earlier value. *index is where the pair now sits in s. */
static enum tf_err
section_set(struct tf_ini_section *s, const char *key, size_t klen,
    const char *value, size_t vlen, size_t *index)
{
	enum tf_err rc = TF_ERR_NOMEM;
	char *k = NULL, *v = NULL;
	size_t i;

	k = tf_strndup(key, klen);
	v = tf_strndup(value, vlen);
	if (k == NULL || v == NULL)
		goto out;
	for (i = 0; i < klen; i++)
		if (k[i] >= 'A' && k[i] <= 'Z')
			k[i] = (char)(k[i] - 'A' + 'a');
	for (i = 0; i < s->n; i++) {
		if (strcmp(s->kv[i].key, k) == 0) {
			tf_free(s->kv[i].value);
			s->kv[i].value = v;
			v = NULL;
			*index = i;
			rc = TF_OK;
			goto out;
		}
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct kv *p = tf_realloc(s->kv, cap * sizeof(*p));

		if (p == NULL)
			goto out;
		s->kv = p;
		s->cap = cap;
	}
	s->kv[s->n].key = k;
	s->kv[s->n].value = v;
	k = v = NULL;
	*index = s->n++;
	rc = TF_OK;
out:
	tf_free(k);
	tf_free(v);
	return rc;
}

/* Appends "\n" and [s, e) to the value of pair index of sec. */
static enum tf_err
value_continue(struct tf_ini_section *sec, size_t index, const char *s,
    const char *e)
{
	struct kv *kv = &sec->kv[index];
	size_t old = strlen(kv->value);
	char *p = tf_realloc(kv->value, old + 1 + (size_t)(e - s) + 1);

	if (p == NULL)
		return TF_ERR_NOMEM;
	p[old] = '\n';
	memcpy(p + old + 1, s, (size_t)(e - s));
	p[old + 1 + (size_t)(e - s)] = '\0';
	kv->value = p;
	return TF_OK;
}

enum tf_err
tf_ini_parse(const char *text, size_t len, struct tf_ini **out,
    struct tf_ini_error *err)
{
	enum tf_err rc = TF_ERR_NOMEM;
	struct tf_ini *ini = NULL;
	struct tf_ini_section *cur = NULL;  /* borrowed from ini */
	bool have_kv = false;               /* cur->kv[kv_index] may be continued */
	size_t kv_index = 0;
	const char *p = text, *end = text + len;
	int line = 0;

	*out = NULL;
	set_error(err, 0, 0, NULL);
	ini = tf_calloc(1, sizeof(*ini));
	if (ini == NULL)
		goto out;
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		const char *s = p, *e;
		bool indented;

		line++;
		p = nl != NULL ? nl + 1 : end;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		e = s + n;
		if (memchr(s, '\0', n) != NULL) {
			set_error(err, line, 0, "NUL byte");
			rc = TF_ERR_PARSE;
			goto out;
		}
		indented = s < e && is_blank(*s);
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (indented && have_kv) {
			rc = value_continue(cur, kv_index, s, e);
			if (rc != TF_OK)
				goto out;
			continue;
		}
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(e - s));
			const char *ns = s + 1, *ne, *rest;

			if (close == NULL) {
				set_error(err, line, 0, "section header without ']'");
				rc = TF_ERR_PARSE;
				goto out;
			}
			rest = close + 1;
			if (rest < e && *rest != '#' && *rest != ';' && !is_blank(*rest)) {
				set_error(err, line, 0, "text after section header");
				rc = TF_ERR_PARSE;
				goto out;
			}
			while (rest < e && is_blank(*rest))
				rest++;
			if (rest < e && *rest != '#' && *rest != ';') {
				set_error(err, line, 0, "text after section header");
				rc = TF_ERR_PARSE;
				goto out;
			}
			ne = close;
			trim(&ns, &ne);
			if (ns == ne) {
				set_error(err, line, 0, "empty section name");
				rc = TF_ERR_PARSE;
				goto out;
			}
			rc = section_open(ini, ns, (size_t)(ne - ns), &cur);
			if (rc != TF_OK)
				goto out;
			have_kv = false;
		} else {
			const char *eq = memchr(s, '=', (size_t)(e - s));
			const char *ks = s, *ke, *vs, *ve, *c;

			if (eq == NULL) {
				set_error(err, line, 0, "expected 'key = value' or '[section]'");
				rc = TF_ERR_PARSE;
				goto out;
			}
			if (cur == NULL) {
				set_error(err, line, 0, "property before the first section");
				rc = TF_ERR_PARSE;
				goto out;
			}
			ke = eq;
			trim(&ks, &ke);
			if (ks == ke) {
				set_error(err, line, 0, "empty key");
				rc = TF_ERR_PARSE;
				goto out;
			}
			vs = eq + 1;
			ve = e;
			for (c = vs + 1; c < ve; c++) {
				if ((*c == '#' || *c == ';') && is_blank(c[-1])) {
					ve = c;
					break;
				}
			}
			trim(&vs, &ve);
			rc = section_set(cur, ks, (size_t)(ke - ks), vs,
			    (size_t)(ve - vs), &kv_index);
			if (rc != TF_OK)
				goto out;
			have_kv = true;
		}
	}
	*out = ini;
	ini = NULL;
	rc = TF_OK;
out:
	tf_ini_free(ini);
	return rc;
}

enum tf_err
tf_ini_load(const char *path, struct tf_ini **out, struct tf_ini_error *err)
{
	enum tf_err rc = TF_ERR_IO;
	struct tf_buf text = TF_BUF_INIT;
	struct stat st;
	int fd, e;

	*out = NULL;
	set_error(err, 0, 0, NULL);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		set_error(err, 0, e, "cannot open");
		return e == ENOENT || e == ENOTDIR ? TF_ERR_NOT_FOUND : TF_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		set_error(err, 0, errno, "cannot stat");
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		set_error(err, 0, EISDIR, "is a directory");
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (text.len > TF_INI_MAX_FILE) {
			set_error(err, 0, 0, "file too large");
			rc = TF_ERR_TOO_LARGE;
			goto out;
		}
		rc = tf_buf_reserve(&text, 4096);
		if (rc != TF_OK)
			goto out;
		rc = TF_ERR_IO;
		n = read(fd, text.data + text.len, text.cap - text.len - 1);
		if (n < 0) {
			e = errno;
			if (e == EINTR)
				continue;
			set_error(err, 0, e, "cannot read");
			goto out;
		}
		if (n == 0)
			break;
		text.len += (size_t)n;
		text.data[text.len] = '\0';
	}
	rc = tf_ini_parse(tf_buf_str(&text), text.len, out, err);
out:
	close(fd);
	tf_buf_free(&text);
	return rc;
}

/* The home directory: HOME, else the password database. *out is freshly
 * allocated; caller frees with tf_free(). */
static enum tf_err
home_dir(char **out)
{
	enum tf_err rc = TF_ERR_NOT_FOUND;
	const char *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	char *scratch = NULL;
	long size;

	*out = NULL;
	if (home != NULL && *home != '\0') {
		*out = tf_strdup(home);
		return *out != NULL ? TF_OK : TF_ERR_NOMEM;
	}
	size = sysconf(_SC_GETPW_R_SIZE_MAX);
	if (size <= 0)
		size = 16384;
	scratch = tf_malloc((size_t)size);
	if (scratch == NULL) {
		rc = TF_ERR_NOMEM;
		goto out;
	}
	if (getpwuid_r(getuid(), &pw, scratch, (size_t)size, &res) != 0 ||
	    res == NULL || pw.pw_dir == NULL || *pw.pw_dir == '\0')
		goto out;
	*out = tf_strdup(pw.pw_dir);
	rc = *out != NULL ? TF_OK : TF_ERR_NOMEM;
out:
	tf_free(scratch);
	return rc;
}

enum tf_err
tf_aws_file_path(enum tf_aws_file which, char **out)
{
	enum tf_err rc;
	const char *env = which == TF_AWS_CONFIG_FILE ? "AWS_CONFIG_FILE" :
	    which == TF_AWS_CREDENTIALS_FILE ? "AWS_SHARED_CREDENTIALS_FILE" : NULL;
	const char *path = env != NULL ? getenv(env) : NULL;
	struct tf_buf b = TF_BUF_INIT;
	char *home = NULL;

	*out = NULL;
	if (path == NULL || *path == '\0')
		path = which == TF_AWS_CONFIG_FILE ? "~/.aws/config" :
		    which == TF_AWS_CREDENTIALS_FILE ? "~/.aws/credentials" :
		    "~/.aws/sso/cache";
	if (path[0] != '~' || (path[1] != '/' && path[1] != '\0')) {
		*out = tf_strdup(path);
		return *out != NULL ? TF_OK : TF_ERR_NOMEM;
	}
	rc = home_dir(&home);
	if (rc != TF_OK)
		goto out;
	rc = tf_buf_appendf(&b, "%s%s", home, path + 1);
	if (rc != TF_OK)
		goto out;
	*out = tf_buf_steal(&b);
	if (*out == NULL)
		rc = TF_ERR_NOMEM;
out:
	tf_free(home);
	tf_buf_free(&b);
	return rc;
}

const char *
tf_aws_profile_name(bool *is_explicit)
{
	const char *p = getenv("AWS_PROFILE");
	bool set = p != NULL && *p != '\0';

	if (is_explicit != NULL)
		*is_explicit = set;
	return set ? p : "default";
}

const struct tf_ini_section *
tf_aws_profile_section(const struct tf_ini *ini, enum tf_aws_file which,
    const char *profile)
{
	size_t i;

	if (ini == NULL)
		return NULL;
	if (which == TF_AWS_CREDENTIALS_FILE)
		return tf_ini_section(ini, profile);
	for (i = 0; i < ini->n; i++) {
		const char *name = ini->sec[i]->name;

		if (strncmp(name, "profile", 7) != 0 || !is_blank(name[7]))
			continue;
		name += 7;
		while (is_blank(*name))
			name++;
		if (strcmp(name, profile) == 0)
			return ini->sec[i];
	}
	if (strcmp(profile, "default") == 0)
		return tf_ini_section(ini, "default");
	return NULL;
}

enum tf_err
tf_aws_profile_region(char *out, size_t outlen)
{
	enum tf_err rc;
	struct tf_ini *ini = NULL;
	char *path = NULL;
	const char *region;
	size_t n;

	if (outlen == 0)
		return TF_ERR_TOO_LARGE;
	out[0] = '\0';
	rc = tf_aws_file_path(TF_AWS_CONFIG_FILE, &path);
	if (rc != TF_OK)
		goto out;
	rc = tf_ini_load(path, &ini, NULL);
	if (rc != TF_OK)
		goto out;
	region = tf_ini_get(tf_aws_profile_section(ini, TF_AWS_CONFIG_FILE,
	    tf_aws_profile_name(NULL)), "region");
	if (region == NULL || *region == '\0') {
		rc = TF_ERR_NOT_FOUND;
		goto out;
	}
	n = strlen(region);
	if (n >= outlen) {
		rc = TF_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, region, n + 1);
	rc = TF_OK;
out:
	tf_ini_free(ini);
	tf_free(path);
	return rc;
}
