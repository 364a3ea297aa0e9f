/*
 * fuzz_cron.c - libFuzzer target for the cron parser and the time zone code
 * (lib/time/cron.c, lib/time/tz.c).
 *
 * The first input byte picks what the rest is:
 *   0  a cron expression: when it parses, its masks hold only valid bits,
 *      and fire times in UTC and in two rule zones are strictly increasing
 *      and fall on matching local minutes (or on the end of a DST gap);
 *   1  a zone name: tf_tz_name_is_valid() must refuse every name that could
 *      leave the zoneinfo directory; valid ones are loaded and used;
 *   2  a POSIX TZ string for tf_tz_from_posix();
 *   3  the bytes of a TZif file for tf_tz_from_tzif().
 * Zones that are accepted must map every instant to a local time that maps
 * back to that instant (or an earlier occurrence of the same local time).
 * Any other outcome, a crash or a leak is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "time/cron.h"
#include "time/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run with a message; libFuzzer saves the input. */
static void
finding(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_cron: %s: %s\n", what, detail != NULL ? detail : "");
	abort();
}

/* A NUL-terminated copy of the bytes (caller frees). */
static char *
text_of(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Instants to probe, derived from the input so the fuzzer steers them. */
static int64_t
probe(const uint8_t *data, size_t size, int k)
{
	uint64_t h = 1469598103934665603ULL + (uint64_t)k * 7919;
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211ULL;
	/* Years 1900 to 2200, plus a few fixed ones near DST changes. */
	switch (k) {
	case 0:
		return 1774745940;  /* 2026-03-29 00:59 UTC */
	case 1:
		return 1792886340;  /* 2026-10-25 00:59 UTC */
	default:
		return -2208988800LL + (int64_t)(h % 9467280000ULL);
	}
}

static void
check_message(enum tf_err rc, const char *eb)
{
	if (rc != TF_OK && (eb[0] == '\0' || strchr(eb, '\n') != NULL))
		finding("error message empty or not one line", eb);
}

/* Every instant maps to a local time that maps back to it (or to an
 * earlier occurrence of the same local time). */
static void
check_zone(const struct tf_tz *z, const uint8_t *data, size_t size)
{
	int k;

	for (k = 0; k < 8; k++) {
		int64_t t = probe(data, size, k), next;
		struct tf_tz_local l;
		struct tf_tz_utc u;
		char msg[160];

		tf_tz_to_local(z, t, &l);
		tf_tz_local_to_utc(z, &l.tm, &u);
		if (u.kind == TF_TZ_SKIPPED || u.t > t ||
		    (u.kind == TF_TZ_UNIQUE && u.t != t)) {
			snprintf(msg, sizeof(msg), "t %lld -> %lld (kind %d)",
			    (long long)t, (long long)u.t, (int)u.kind);
			finding("local time does not map back", msg);
		}
		next = tf_tz_next_transition(z, t);
		if (next <= t)
			finding("next transition not after t", tf_tz_name(z));
	}
}

/* Fire times of c in zone z: increasing, on matching minutes or gap ends. */
static void
check_fire_times(const struct tf_cron *c, const struct tf_tz *z,
    const uint8_t *data, size_t size)
{
	int64_t after = probe(data, size, 2), next;
	int i;

	for (i = 0; i < 6; i++) {
		struct tf_tz_local l, before;
		enum tf_err rc = tf_cron_next(c, z, after, &next);

		if (rc != TF_OK) {
			if (rc != TF_ERR_NOT_FOUND || tf_cron_is_possible(c))
				finding("a possible expression never fires", tf_tz_name(z));
			return;
		}
		if (!tf_cron_is_possible(c))
			finding("an impossible expression fires", tf_tz_name(z));
		if (next <= after)
			finding("fire time not after the start", tf_tz_name(z));
		tf_tz_to_local(z, next, &l);
		tf_tz_to_local(z, next - 1, &before);
		if (!tf_cron_matches(c, &l.tm) && before.utoff >= l.utoff)
			finding("fire time does not match", tf_tz_name(z));
		after = next;
	}
}

static void
fuzz_cron(const uint8_t *data, size_t size)
{
	static struct tf_tz *cet, *south;
	char *expr = text_of(data, size), eb[256];
	struct tf_cron c;
	enum tf_err rc;

	if (cet == NULL) {
		if (tf_tz_from_posix("CET-1CEST,M3.5.0,M10.5.0/3", &cet, NULL, 0) != TF_OK ||
		    tf_tz_from_posix("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", &south,
		    NULL, 0) != TF_OK)
			finding("setup", "rule zones");
	}
	eb[0] = '\0';
	rc = tf_cron_parse(expr, &c, eb, sizeof(eb));
	check_message(rc, eb);
	if (rc == TF_OK) {
		if (c.minute == 0 || c.minute >> 60 != 0 || c.hour == 0 ||
		    c.hour >> 24 != 0 || c.dom == 0 || (c.dom & 1) != 0 ||
		    (c.month & 0xe001) != 0 || (c.month & 0x1ffe) == 0 ||
		    c.dow == 0 || c.dow >> 7 != 0)
			finding("bad masks", expr);
		check_fire_times(&c, tf_tz_utc(), data, size);
		check_fire_times(&c, cet, data, size);
		check_fire_times(&c, south, data, size);
	}
	free(expr);
}

static void
fuzz_name(const uint8_t *data, size_t size)
{
	char *name = text_of(data, size), eb[512];
	const struct tf_tz *z;
	enum tf_err rc;

	if (tf_tz_name_is_valid(name)) {
		if (name[0] == '/' || strstr(name, "..") != NULL ||
		    strstr(name, "//") != NULL || strpbrk(name, ".\\ \n") != NULL)
			finding("unsafe name accepted", name);
		eb[0] = '\0';
		rc = tf_tz_load(name, &z, eb, sizeof(eb));
		check_message(rc, eb);
		if (rc == TF_OK)
			check_zone(z, data, size);
	} else {
		eb[0] = '\0';
		if (tf_tz_load(name, &z, eb, sizeof(eb)) != TF_ERR_INVALID)
			finding("invalid name loaded", name);
		check_message(TF_ERR_INVALID, eb);
	}
	free(name);
}

static void
fuzz_posix(const uint8_t *data, size_t size)
{
	char *s = text_of(data, size), eb[256];
	struct tf_tz *z = NULL;
	enum tf_err rc;

	eb[0] = '\0';
	rc = tf_tz_from_posix(s, &z, eb, sizeof(eb));
	check_message(rc, eb);
	if (rc == TF_OK)
		check_zone(z, data, size);
	tf_tz_free(z);
	free(s);
}

static void
fuzz_tzif(const uint8_t *data, size_t size)
{
	struct tf_tz *z = NULL;
	char eb[256];
	enum tf_err rc;

	eb[0] = '\0';
	rc = tf_tz_from_tzif("Fuzz/Zone", data, size, &z, eb, sizeof(eb));
	check_message(rc, eb);
	if (rc == TF_OK)
		check_zone(z, data, size);
	tf_tz_free(z);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		fuzz_cron(data + 1, size - 1);
		break;
	case 1:
		fuzz_name(data + 1, size - 1);
		break;
	case 2:
		fuzz_posix(data + 1, size - 1);
		break;
	default:
		fuzz_tzif(data + 1, size - 1);
		break;
	}
	return 0;
}
