/* log.c - JSON-lines logging on stderr. */
#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json_escape.h"

static atomic_int threshold = TF_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* The consumer id every line carries (tf_log_set_consumer); "" for none. */
static char consumer_id[256];

int
tf_log_init(void)
{
	const char *v = getenv("TASKFLEET_LOG");
	const char *id = getenv("TASKFLEET_LOG_CONSUMER");
	int i;

	if (id != NULL)
		snprintf(consumer_id, sizeof(consumer_id), "%s", id);
	if (v == NULL || *v == '\0')
		return 0;
	for (i = 0; i <= TF_LOG_ERROR; i++) {
		if (strcmp(v, level_names[i]) == 0) {
			atomic_store(&threshold, i);
			return 0;
		}
	}
	if (strcmp(v, "warning") == 0) {
		atomic_store(&threshold, TF_LOG_WARN);
		return 0;
	}
	return -1;
}

void
tf_log_set_level(enum tf_log_level level)
{
	atomic_store(&threshold, (int)level);
}

int
tf_log_enabled(enum tf_log_level level)
{
	return (int)level >= atomic_load(&threshold);
}

void
tf_log_set_consumer(const char *id)
{
	snprintf(consumer_id, sizeof(consumer_id), "%s", id != NULL ? id : "");
	if (id != NULL)
		setenv("TASKFLEET_LOG_CONSUMER", id, 1);
	else
		unsetenv("TASKFLEET_LOG_CONSUMER");
}

/* Writes the whole line, retrying short writes; logging never fails loudly. */
static void
write_line(const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, s, len);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void
vlog(enum tf_log_level level, const struct tf_log_field *fields, int nfields,
    const char *fmt, va_list ap)
{
	struct tf_buf line = TF_BUF_INIT;
	struct tf_buf msg = TF_BUF_INIT;
	struct timeval tv;
	struct tm tm;
	char stamp[32];
	const char *text = "";  /* the message */
	int i, ms;

	if (!tf_log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* "%s" (job lines, most of the run's lines) needs no format pass. */
	if (fmt[0] == '%' && fmt[1] == 's' && fmt[2] == '\0') {
		text = va_arg(ap, const char *);
		if (text == NULL)
			text = "(null)";  /* what printf writes */
	}
	else if (tf_buf_vappendf(&msg, fmt, ap) == TF_OK)
		text = tf_buf_str(&msg);
	ms = (int)(tv.tv_usec / 1000);
	tf_buf_append_str(&line, "{\"time\":\"");
	tf_buf_append_str(&line, stamp);
	tf_buf_append_char(&line, '.');
	tf_buf_append_char(&line, (char)('0' + ms / 100));
	tf_buf_append_char(&line, (char)('0' + ms / 10 % 10));
	tf_buf_append_char(&line, (char)('0' + ms % 10));
	tf_buf_append_str(&line, "Z\",\"level\":\"");
	tf_buf_append_str(&line, level_names[level]);
	tf_buf_append_str(&line, "\",\"msg\":");
	tf_json_escape_append(&line, text, strlen(text));
	for (i = 0; i < nfields; i++) {
		if (fields[i].value == NULL)
			continue;
		tf_buf_append_char(&line, ',');
		tf_json_escape_append(&line, fields[i].key, strlen(fields[i].key));
		tf_buf_append_char(&line, ':');
		tf_json_escape_append(&line, fields[i].value, strlen(fields[i].value));
	}
	if (consumer_id[0] != '\0') {
		tf_buf_append_str(&line, ",\"consumer\":");
		tf_json_escape_append(&line, consumer_id, strlen(consumer_id));
	}
	tf_buf_append(&line, "}\n", 2);
	if (line.data != NULL)
		write_line(line.data, line.len);
	tf_buf_free(&line);
	tf_buf_free(&msg);
}

void
tf_log(enum tf_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void
tf_log_fields(enum tf_log_level level, const struct tf_log_field *fields,
    int nfields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fields, nfields, fmt, ap);
	va_end(ap);
}
