/*
 * cron_next.c - test driver for tests/scripts/cron_vs_perl.sh: the next fire
 * times of cron expressions in zones, computed with lib/time/cron.c.
 *
 * Reads lines "id<TAB>group<TAB>expr<TAB>perl-expr<TAB>zone<TAB>start<TAB>n"
 * on stdin (the perl-expr column is ignored) and writes, per line,
 * "id<TAB>t1 t2 ... tn": epoch seconds, each the first fire time strictly
 * after the one before (t1: after start). "id<TAB>never" when the search
 * ends, "id<TAB>error: <message>" for a bad expression or zone.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "time/cron.h"
#include "time/tz.h"

#define MAX_COLS 7

/* Splits line at tabs into at most MAX_COLS columns; returns the count. */
static int
split_tabs(char *line, char **cols)
{
	int n = 0;

	cols[n++] = line;
	for (; *line != '\0' && n < MAX_COLS; line++) {
		if (*line == '\t') {
			*line = '\0';
			cols[n++] = line + 1;
		}
	}
	return n;
}

int
main(void)
{
	static char line[4096];
	char *cols[MAX_COLS], eb[256];

	while (fgets(line, sizeof(line), stdin) != NULL) {
		const struct tf_tz *z;
		struct tf_cron c;
		int64_t t, next;
		int n, i;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (split_tabs(line, cols) != MAX_COLS) {
			fprintf(stderr, "cron_next: bad input line\n");
			return 2;
		}
		printf("%s\t", cols[0]);
		if (tf_cron_parse(cols[2], &c, eb, sizeof(eb)) != TF_OK ||
		    tf_tz_load(cols[4], &z, eb, sizeof(eb)) != TF_OK) {
			printf("error: %s\n", eb);
			continue;
		}
		t = strtoll(cols[5], NULL, 10);
		n = atoi(cols[6]);
		for (i = 0; i < n; i++) {
			if (tf_cron_next(&c, z, t, &next) != TF_OK) {
				printf("%snever", i > 0 ? " " : "");
				break;
			}
			printf("%s%" PRId64, i > 0 ? " " : "", next);
			t = next;
		}
		printf("\n");
	}
	return 0;
}
