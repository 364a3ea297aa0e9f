/* listen_addr.c - the ADDR:PORT a server listens on. */
#include "server/listen_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum tf_err
tf_listen_addr_parse(const char *text, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errlen)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *colon, *port_text;
	char host[INET6_ADDRSTRLEN + 1], *end;
	size_t host_len;
	long port;
	bool v6;

	memset(ss, 0, sizeof(*ss));
	*len = 0;
	v6 = text[0] == '[';
	if (v6) {
		colon = strchr(text, ']');
		if (colon == NULL || colon[1] != ':')
			goto bad;
		host_len = (size_t)(colon - text - 1);
		port_text = colon + 2;
		text++;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			goto bad;
		host_len = (size_t)(colon - text);
		port_text = colon + 1;
	}
	if (host_len == 0 || host_len >= sizeof(host))
		goto bad;
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	errno = 0;
	port = strtol(port_text, &end, 10);
	if (*port_text < '0' || *port_text > '9' || *end != '\0' || errno != 0 ||
	    port < 0 || port > 65535)
		goto bad;
	if (v6 && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return TF_OK;
	}
	if (!v6 && inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return TF_OK;
	}
bad:
	tf_errf(err, errlen, "expected ADDR:PORT with a numeric IPv4 address "
	    "or [IPv6]:PORT, and a port from 0 to 65535");
	return TF_ERR_INVALID;
}

uint16_t
tf_listen_addr_port(const struct sockaddr *addr)
{
	if (addr->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)addr)->sin_port);
}
