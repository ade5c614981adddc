/* registry.h — Confluent Schema Registry client (REST over libcurl). */
#ifndef WB_REGISTRY_H
#define WB_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* All strings are copied by wb_registry_new; NULL means unset.
 * url: http:// or https:// base (a path prefix is kept, a trailing '/'
 *   dropped). A user:pass@ part is taken out of the URL: it is used as the
 *   credentials when username is unset, and never appears in a message.
 * username/password: HTTP basic auth.
 * ca_location: CA bundle (PEM) to verify the registry; cert_location and
 *   key_location: client certificate and key (PEM) for mutual TLS. Peer and
 *   host verification are always on.
 * timeout_ms: per request, connect included; <= 0 means 10000. */
struct wb_registry_config {
	const char *url, *username, *password, *ca_location, *cert_location,
		*key_location;
	long timeout_ms;
};

struct wb_registry;

/* No I/O. NULL with err set (WB_ERR_CONFIG for a bad URL, WB_ERR_NOMEM). */
struct wb_registry *wb_registry_new(const struct wb_registry_config *c,
				    wb_error_t *err);

/* POST /subjects/{subject}/versions; returns the schema id, cached per
 * (subject, schema text). 409/422 → WB_ERR_RUNTIME, retriable=false, message
 * names the subject and the registry's reason; unreachable/5xx →
 * WB_ERR_CONNECT, retriable=true. Never prints credentials.
 * Also: 408/429 and timeouts → WB_ERR_CONNECT, retriable; 401/403 and TLS
 * verification failures → WB_ERR_CONNECT, not retriable; other 4xx →
 * WB_ERR_RUNTIME, not retriable; a 2xx without an id → WB_ERR_DECODE; a
 * schema that is not UTF-8 → WB_ERR_RUNTIME before any request. *id is
 * written only on success; only successes are cached (a refused schema is
 * asked again next time). Calls on one registry are serialised by a mutex. */
int wb_registry_register(struct wb_registry *r, const char *subject,
			 const char *schema_json, int32_t *id, wb_error_t *err);

/* `waybill check`: GET /subjects; writes one "ok schema registry: ..." or
 * "FAIL schema registry: ..." line to out; 0, or the error (err filled). */
int wb_registry_check(struct wb_registry *r, FILE *out, wb_error_t *err);

void wb_registry_free(struct wb_registry *r);

/* Pure parsers of the registry's answers (no I/O; any bytes accepted). */

/* The id of a POST /subjects/{s}/versions answer ({"id": N}, 0 <= N <=
 * INT32_MAX): 0 with *id set, or -1. */
int wb_registry_parse_id(const void *body, size_t len, int32_t *id);

/* The number of subjects of a GET /subjects answer (a JSON array): 0 with
 * *n set, or -1. */
int wb_registry_parse_subjects(const void *body, size_t len, size_t *n);

/* The registry's reason for a failure, made one printable line in out (at
 * most min(cap - 4, 200) bytes and "..." when cut, never inside a UTF-8
 * sequence; a byte of no valid UTF-8 sequence becomes "?"; "(no message)"
 * when empty): the "message" of a JSON error
 * body, else the body's first line. out is always NUL-terminated (cap >= 16
 * for any text). */
void wb_registry_reason(const void *body, size_t len, char *out, size_t cap);

#endif
