/*
 * sign_cli.c - signs one request with lib/aws/sigv4.c, for comparison with
 * another signer (tests/scripts/sigv4_botocore.sh).
 *
 *   sign_cli method path query region service amz-date key-id secret
 *       body-file [name:value ...]
 *
 * query "" means none; body-file "" means an empty body; amz-date is
 * "YYYYMMDDTHHMMSSZ" and is the signing time. Every name:value header is
 * signed, in the order given. Prints the Authorization value on stdout and
 * the canonical request on stderr. Exits 0, or a sysexits code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "aws/sigv4.h"
#include "base/alloc.h"

#define MAX_HEADERS 64

static void
usage(void)
{
	fprintf(stderr, "usage: sign_cli method path query region service amz-date "
	    "key-id secret body-file [name:value ...]\n");
	exit(EX_USAGE);
}

/* Parses "YYYYMMDDTHHMMSSZ" into *t. Returns 0, or -1. */
static int
parse_amz_date(const char *s, time_t *t)
{
	struct tm tm;
	char z = '\0';

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) != 16 || sscanf(s, "%4d%2d%2dT%2d%2d%2d%c", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 ||
	    z != 'Z')
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = timegm(&tm);
	return 0;
}

/* Reads the whole file at path into *data (malloc'd; caller frees with
 * free()) and its size into *len. Returns 0, or -1. */
static int
read_file(const char *path, char **data, size_t *len)
{
	char *buf = NULL, *p;
	size_t cap = 0, n = 0, got;
	FILE *f;
	int ret = -1;

	*data = NULL;
	*len = 0;
	f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			p = realloc(buf, cap);
			if (p == NULL)
				goto out;
			buf = p;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		goto out;
	*data = buf;
	*len = n;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	fclose(f);
	return ret;
}

int
main(int argc, char **argv)
{
	struct tf_sigv4_header headers[MAX_HEADERS];
	struct tf_sigv4_request req;
	struct tf_sigv4_key key;
	char *body = NULL, *creq = NULL, *authz = NULL, *colon;
	size_t body_len = 0, n = 0;
	enum tf_err rc;
	time_t t;
	int i, status = EX_SOFTWARE;

	if (argc < 10 || argc - 10 > MAX_HEADERS)
		usage();
	if (parse_amz_date(argv[6], &t) != 0) {
		fprintf(stderr, "sign_cli: bad amz-date %s\n", argv[6]);
		return EX_USAGE;
	}
	if (argv[9][0] != '\0' && read_file(argv[9], &body, &body_len) != 0) {
		fprintf(stderr, "sign_cli: cannot read %s\n", argv[9]);
		return EX_NOINPUT;
	}
	for (i = 10; i < argc; i++) {
		colon = strchr(argv[i], ':');
		if (colon == NULL) {
			fprintf(stderr, "sign_cli: header without ':': %s\n", argv[i]);
			status = EX_USAGE;
			goto out;
		}
		*colon = '\0';
		headers[n].name = argv[i];
		headers[n].value = colon + 1;
		n++;
	}
	req = (struct tf_sigv4_request){
		.method = argv[1], .path = argv[2], .query = argv[3],
		.headers = headers, .n_headers = n,
		.payload = body, .payload_len = body_len,
	};
	key = (struct tf_sigv4_key){
		.access_key_id = argv[7], .secret_access_key = argv[8],
		.region = argv[4], .service = argv[5],
	};
	rc = tf_sigv4_canonical_request(&req, &creq, NULL);
	if (rc == TF_OK)
		rc = tf_sigv4_sign(&req, &key, t, &authz);
	if (rc != TF_OK) {
		fprintf(stderr, "sign_cli: %s\n", tf_strerror(rc));
		status = rc == TF_ERR_INVALID ? EX_DATAERR : EX_SOFTWARE;
		goto out;
	}
	fprintf(stderr, "%s\n", creq);
	printf("%s\n", authz);
	status = 0;
out:
	tf_free(authz);
	tf_free(creq);
	free(body);
	return status;
}
