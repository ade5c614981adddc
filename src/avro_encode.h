/* avro_encode.h — change records to Avro binary events (envelope and key). */
#ifndef WB_AVRO_ENCODE_H
#define WB_AVRO_ENCODE_H

#include "change.h"
#include "error.h"
#include "sink.h"

struct wb_encoder;

struct wb_encoder_config {
	const char *pipeline; /* config name: source.name, event_id prefix */
	const char *topic_prefix;
	const char *connector; /* "postgres", ... : source.connector */
	void (*format_position)(const wb_position_t *pos, char *buf, size_t n);
};

/* Copies the strings it needs. NULL + err on failure. */
struct wb_encoder *wb_encoder_new(const struct wb_encoder_config *cfg,
				  wb_error_t *err);
void wb_encoder_free(struct wb_encoder *e); /* accepts NULL */

/* Encodes a row change (op c/u/d/r/t) into ev. Schemas are built once per
 * table version and cached in table->enc_cache. Everything ev points to is
 * owned by the encoder and valid until the next call. */
int wb_encoder_encode(struct wb_encoder *e, const struct wb_change *c,
		      struct wb_event *ev, wb_error_t *err);

/* Sets the processing time (envelope ts_ms, milliseconds since the Unix
 * epoch) used for the next events: the pipeline sets it once per batch
 * instead of reading the clock per event. 0 = read the clock per event. */
void wb_encoder_set_now(struct wb_encoder *e, int64_t now_ms);

/* The schemas of a table version (built and cached on first use). */
const struct wb_table_schemas *
wb_encoder_schemas(struct wb_encoder *e, struct wb_table *t, wb_error_t *err);

#endif
