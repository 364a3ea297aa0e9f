/* priority.c - a task's priority and the queue it is sent to (priority.h). */
#include "task/priority.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"

static const char *const names[TF_PRIORITY__N] = {
	[TF_PRIORITY_NORMAL] = "normal",
	[TF_PRIORITY_HIGH] = "high",
	[TF_PRIORITY_LOW] = "low",
};

static const char *const suffixes[TF_PRIORITY__N] = {
	[TF_PRIORITY_NORMAL] = "",
	[TF_PRIORITY_HIGH] = "-high",
	[TF_PRIORITY_LOW] = "-low",
};

const char *
tf_priority_name(enum tf_priority p)
{
	return (unsigned)p < TF_PRIORITY__N ? names[p] : names[TF_PRIORITY_NORMAL];
}

const char *
tf_priority_suffix(enum tf_priority p)
{
	return (unsigned)p < TF_PRIORITY__N ? suffixes[p] : "";
}

bool
tf_priority_parse(const char *name, enum tf_priority *out)
{
	int p;

	for (p = 0; name != NULL && p < TF_PRIORITY__N; p++)
		if (strcmp(name, names[p]) == 0) {
			*out = (enum tf_priority)p;
			return true;
		}
	return false;
}

/* A name in any case. */
static bool
parse_any_case(const char *name, enum tf_priority *out)
{
	int p;

	for (p = 0; p < TF_PRIORITY__N; p++)
		if (strcasecmp(name, names[p]) == 0) {
			*out = (enum tf_priority)p;
			return true;
		}
	return false;
}

/* A number's priority: positive is more urgent. */
static enum tf_priority
from_number(double v)
{
	return v > 0 ? TF_PRIORITY_HIGH : v < 0 ? TF_PRIORITY_LOW :
	    TF_PRIORITY_NORMAL;
}

bool
tf_priority_from_json(const cJSON *v, enum tf_priority *out)
{
	*out = TF_PRIORITY_NORMAL;
	if (v == NULL || cJSON_IsNull(v))
		return true;
	if (cJSON_IsString(v))
		return parse_any_case(v->valuestring, out);
	if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
		*out = from_number(v->valuedouble);
		return true;
	}
	return false;
}

bool
tf_priority_from_av(const cJSON *av, enum tf_priority *out)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(av, "S");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(av, "N");
	char *end;
	double v;

	*out = TF_PRIORITY_NORMAL;
	if (av == NULL || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(av,
	    "NULL")))
		return true;
	if (cJSON_IsString(s))
		return parse_any_case(s->valuestring, out);
	if (cJSON_IsString(n)) {
		v = strtod(n->valuestring, &end);
		if (end == n->valuestring || *end != '\0' || !isfinite(v))
			return false;
		*out = from_number(v);
		return true;
	}
	return false;
}

char *
tf_priority_queue_url(const char *base, enum tf_priority p)
{
	const char *sfx = tf_priority_suffix(p);
	size_t n = strlen(base) + strlen(sfx) + 1;
	char *url = tf_malloc(n);

	if (url != NULL)
		snprintf(url, n, "%s%s", base, sfx);
	return url;
}
