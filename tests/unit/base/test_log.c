/* test_log.c - JSON log lines on stderr: format, escaping, fields, levels. */
#include "harness.h"

#include <fcntl.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/alloc.h"
#include "base/log.h"

static int saved_stderr = -1;
static char capture_path[] = "/tmp/tf-log-XXXXXX";

/* Sends stderr to a fresh temporary file. */
static void
capture_start(void)
{
	int fd = mkstemp(capture_path);

	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* Restores stderr; returns what was written (caller frees with free()). */
static char *
capture_end(void)
{
	FILE *f;
	char *text = calloc(1, 65536);

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	f = fopen(capture_path, "r");
	if (f != NULL) {
		size_t n = fread(text, 1, 65535, f);

		text[n] = '\0';
		fclose(f);
	}
	unlink(capture_path);
	memcpy(capture_path + strlen(capture_path) - 6, "XXXXXX", 6);
	return text;
}

static void
test_line_is_json_with_fields(void)
{
	struct tf_log_field f[] = { { "task", "t\"1" }, { "skip", NULL }, { "runner", "noop" } };
	cJSON *doc;
	char *out;

	tf_log_set_level(TF_LOG_INFO);
	capture_start();
	tf_log_fields(TF_LOG_WARN, f, 3, "ran %d times\nwith \"quotes\"", 3);
	out = capture_end();
	CHECK(strchr(out, '\n') == out + strlen(out) - 1);
	doc = cJSON_Parse(out);
	CHECK(doc != NULL);
	CHECK_STR_EQ(cJSON_GetObjectItem(doc, "level")->valuestring, "warn");
	CHECK_STR_EQ(cJSON_GetObjectItem(doc, "msg")->valuestring,
	    "ran 3 times\nwith \"quotes\"");
	CHECK_STR_EQ(cJSON_GetObjectItem(doc, "task")->valuestring, "t\"1");
	CHECK_STR_EQ(cJSON_GetObjectItem(doc, "runner")->valuestring, "noop");
	CHECK(cJSON_GetObjectItem(doc, "skip") == NULL);
	CHECK(strlen(cJSON_GetObjectItem(doc, "time")->valuestring) == 24);
	cJSON_Delete(doc);
	free(out);
}

/* A "%s" message (the consumer's run lines) is written as its argument,
 * escaped, NULL as printf would; the time is "YYYY-MM-DDTHH:MM:SS.mmmZ". */
static void
test_plain_message_and_time(void)
{
	struct tf_log_field f[] = { { "outcome", "success" } };
	const char *volatile none = NULL;  /* unknown to the format check */
	const char *t;
	cJSON *doc;
	char *out, *nl;
	int i;

	tf_log_set_level(TF_LOG_INFO);
	capture_start();
	tf_log_fields(TF_LOG_INFO, f, 1, "%s", "run \"finished\"\n100%");
	tf_log(TF_LOG_INFO, "%s", none);
	out = capture_end();
	nl = strchr(out, '\n');
	CHECK(nl != NULL);
	*nl = '\0';
	doc = cJSON_Parse(out);
	CHECK(doc != NULL);
	CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "msg")),
	    "run \"finished\"\n100%");
	CHECK_STR_EQ(cJSON_GetStringValue(cJSON_GetObjectItem(doc, "outcome")),
	    "success");
	t = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "time"));
	CHECK(t != NULL && strlen(t) == 24);
	for (i = 0; t != NULL && i < 24; i++) {
		if (i == 4 || i == 7)
			CHECK_MSG(t[i] == '-', "time %s", t);
		else if (i == 10)
			CHECK_MSG(t[i] == 'T', "time %s", t);
		else if (i == 13 || i == 16)
			CHECK_MSG(t[i] == ':', "time %s", t);
		else if (i == 19)
			CHECK_MSG(t[i] == '.', "time %s", t);
		else if (i == 23)
			CHECK_MSG(t[i] == 'Z', "time %s", t);
		else
			CHECK_MSG(t[i] >= '0' && t[i] <= '9', "time %s", t);
	}
	cJSON_Delete(doc);
	CHECK(strstr(nl + 1, "\"msg\":\"(null)\"") != NULL);
	free(out);
}

static void
test_threshold(void)
{
	char *out;

	tf_log_set_level(TF_LOG_WARN);
	capture_start();
	tf_log(TF_LOG_INFO, "hidden");
	tf_log(TF_LOG_DEBUG, "hidden too");
	tf_log(TF_LOG_ERROR, "shown");
	out = capture_end();
	CHECK(strstr(out, "hidden") == NULL);
	CHECK(strstr(out, "\"level\":\"error\",\"msg\":\"shown\"") != NULL);
	CHECK(!tf_log_enabled(TF_LOG_INFO) && tf_log_enabled(TF_LOG_WARN));
	free(out);
}

static void
test_level_from_environment(void)
{
	setenv("TASKFLEET_LOG", "debug", 1);
	CHECK_INT_EQ(tf_log_init(), 0);
	CHECK(tf_log_enabled(TF_LOG_DEBUG));
	setenv("TASKFLEET_LOG", "error", 1);
	CHECK_INT_EQ(tf_log_init(), 0);
	CHECK(!tf_log_enabled(TF_LOG_WARN));
	setenv("TASKFLEET_LOG", "chatty", 1);
	CHECK_INT_EQ(tf_log_init(), -1);
	unsetenv("TASKFLEET_LOG");
	tf_log_set_level(TF_LOG_INFO);
}

int
main(void)
{
	tf_alloc_init();
	TF_RUN(test_line_is_json_with_fields);
	TF_RUN(test_plain_message_and_time);
	TF_RUN(test_threshold);
	TF_RUN(test_level_from_environment);
	return tf_test_summary();
}
