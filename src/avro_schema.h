/* avro_schema.h — Avro schemas of a table's events, canonical form,
 * fingerprints. */
#ifndef WB_AVRO_SCHEMA_H
#define WB_AVRO_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sink.h"
#include "table.h"

/* The schemas of one table version. */
struct wb_table_schemas {
	struct wb_schema value; /* the envelope */
	struct wb_schema key; /* key record; json == NULL when no key columns */
	char *topic;	      /* <topic_prefix>.<schema>.<table> */
};

/* Builds the envelope and key schemas of t (see docs/DESIGN.md "Events").
 * Returns WB_OK or an error; on success the caller frees with
 * wb_table_schemas_free. */
int wb_table_schemas_build(const struct wb_table *t, const char *topic_prefix,
			   struct wb_table_schemas *out, wb_error_t *err);
void wb_table_schemas_free(struct wb_table_schemas *s);

/* Parsing Canonical Form of any Avro schema JSON (specification,
 * "Parsing Canonical Form for Schemas"); malloc'd, NULL on error. */
char *wb_avro_canonical_form(const char *schema_json, wb_error_t *err);
/* CRC-64-AVRO (Rabin) fingerprint, as the specification defines it. */
uint64_t wb_avro_crc64(const void *p, size_t n);
/* Fills s->canonical, s->fingerprint and s->identity from s->json. */
int wb_schema_finish(struct wb_schema *s, wb_error_t *err);
void wb_schema_free(struct wb_schema *s);

/* An Avro name from any identifier: [A-Za-z_][A-Za-z0-9_]*; invalid
 * characters become '_', a leading digit gets a '_' prefix. malloc'd. */
char *wb_avro_sanitize_name(const char *name);

#endif
