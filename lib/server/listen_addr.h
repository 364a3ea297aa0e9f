/*
 * listen_addr.h - parsing the address a server listens on: "ADDR:PORT" with
 * a numeric IPv4 address, or "[IPv6]:PORT"; host names are refused (a server
 * binds where it is told, never where a name happens to resolve). Used by
 * the consumer's metrics server and by `taskfleet serve`.
 */
#ifndef TF_LISTEN_ADDR_H
#define TF_LISTEN_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/err.h"

/* Fills *ss and *len from text (borrowed). TF_OK, or TF_ERR_INVALID with a
 * one-line message in err. Port 0 means "any free port". */
enum tf_err tf_listen_addr_parse(const char *text, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errlen);

/* The port of addr (AF_INET or AF_INET6, as parsed above), in host order. */
uint16_t tf_listen_addr_port(const struct sockaddr *addr);

#endif /* TF_LISTEN_ADDR_H */
