/* mapping.h — mappings from raw row changes to canonical logistics events
 * (mappings/README.md): loading the YAML files, checking them against the
 * source tables and the canonical schemas, and mapping one change into the
 * events and dead letters it causes.
 *
 * Lifecycle, on one thread (the sink thread) after loading:
 *   wb_mappings_load      files → mappings (structure, event types, fields)
 *   wb_mappings_check     every mapping against the tables it names, with
 *                         the expressions compiled and type-checked; run
 *                         and check refuse to start on any diagnostic
 *   wb_mappings_apply     per change: events and dead letters
 * Tables may change shape at run time: a table version not seen before is
 * compiled on first use (by wb_table id). Should a mapping not compile
 * against a later version (a column it reads was dropped), each change of
 * that version goes to the dead letters with the compiler's message; the
 * pipeline goes on. */
#ifndef WB_MAPPING_H
#define WB_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "buf.h"
#include "change.h"
#include "error.h"
#include "sink.h"
#include "table.h"

/* One problem in a mapping file, at file:line:column (1-based; 0 = the
 * file as a whole). */
struct wb_mapping_diag {
	char *file;
	int line;
	int column;
	char *message;
};

struct wb_mapping_diags {
	struct wb_mapping_diag *v;
	int n;
	int cap;
};

/* Prints "file:line:column: message" lines. */
void wb_mapping_diags_print(const struct wb_mapping_diags *d, FILE *out);
void wb_mapping_diags_free(struct wb_mapping_diags *d); /* accepts NULL */

struct wb_mapping_options {
	const char *system;	  /* the pipeline's name: source.system */
	const char *topic_prefix; /* default: system */
	/* Topic of mapped events; "{prefix}" and "{event}" are replaced.
	 * Default "{prefix}.canonical.{event}". A mapping's own `topic:`
	 * takes the same placeholders. */
	const char *event_topic;
	const char *dlq_topic; /* default "{prefix}.dlq" */
	/* Relative file names and globs resolve against this directory
	 * (the pipeline file's); NULL: the working directory. */
	const char *base_dir;
};

struct wb_mappings;

/* Loads the files named by patterns (file names or globs; a glob expands
 * to its files in name order and must match at least one), each holding
 * one mapping or several as YAML documents separated by `---`. Checks
 * every key, the event type, the fields against its schema (unknown,
 * missing required), ops, names unique across the files. Expressions are
 * only stored here; wb_mappings_check compiles them.
 * Returns NULL when anything is wrong: every problem found is in diags
 * (the caller frees it), err says how many (WB_ERR_CONFIG), or err alone
 * holds WB_ERR_NOMEM. */
struct wb_mappings *wb_mappings_load(const char *const *patterns, int n,
				     const struct wb_mapping_options *opt,
				     struct wb_mapping_diags *diags,
				     wb_error_t *err);
void wb_mappings_free(struct wb_mappings *m); /* accepts NULL */

/* A source table as the check sees it. */
struct wb_mapping_table {
	struct wb_table *table;
	/* whether the source sends every column in the before image of an
	 * update or delete (PostgreSQL REPLICA IDENTITY FULL; MySQL
	 * binlog_row_image FULL); when false, before.<non-key column> is an
	 * error */
	bool before_complete;
	/* the source sends no before image with an update and a complete
	 * one with a delete (ODBC polling): before.<column> is an error in a
	 * mapping whose ops include u and fine in one without (overrides
	 * before_complete) */
	bool before_none_on_update;
	/* the statement that makes it so, for the message ("ALTER TABLE
	 * public.shipment REPLICA IDENTITY FULL"), or what to do instead;
	 * or NULL */
	const char *before_fix;
};

/* Compiles every expression of every mapping against each table of
 * tables[0..n) that its source globs match, with the field's schema type
 * as the expression's wanted type, and reports into diags: bad
 * expressions, unknown columns, type mismatches, before.<column> the
 * source will not send, fallible operations in a mapping that forbids
 * dead letters (on_failure: reject), and a mapping whose source matches
 * none of the tables. The compiled expressions are kept for those table
 * versions. Returns the number of diagnostics added (0: all fine), or -1
 * with err set when out of memory. */
int wb_mappings_check(struct wb_mappings *m, const struct wb_mapping_table *t,
		      int n, struct wb_mapping_diags *diags, wb_error_t *err);

/* Whether some mapping's source globs match "schema.table". */
bool wb_mappings_match_table(const struct wb_mappings *m, const char *schema,
			     const char *table);

/* What one mapping is, for headers, the checkpoint and status. */
struct wb_mapping_info {
	const char *name;
	int version;
	const char *file;      /* as found (after glob expansion) */
	const char *file_hash; /* hex CRC-64-AVRO of the file's bytes */
	/* "<name> <version> <file_hash>": the Kafka header waybill.mapping
	 * of every event and dead letter the mapping produces */
	const char *header;
	const char *event_type; /* "InventoryMovement" */
	uint64_t events;	/* produced by wb_mappings_apply so far */
	uint64_t dead_letters;
};

int wb_mappings_count(const struct wb_mappings *m);
const struct wb_mapping_info *wb_mappings_info(const struct wb_mappings *m,
					       int i);

/* [{"name", "version", "file", "hash"}, ...] for the checkpoint; the
 * caller owns the reference; NULL when out of memory. */
json_t *wb_mappings_fingerprint(const struct wb_mappings *m);
/* Compares with a fingerprint stored earlier (NULL: none): one line per
 * mapping added, removed, or whose version or file hash changed, into
 * buf ("mapping stock_move_to_movement: version 1 -> 2, file changed").
 * Returns the number of differences. */
int wb_mappings_fingerprint_diff(const struct wb_mappings *m, json_t *old,
				 char *buf, size_t n);

/* One output of a change: a canonical event or a dead letter. */
struct wb_mapped {
	bool dead_letter;
	const struct wb_mapping_info *mapping;
	const char *event_type; /* of the event (for a dead letter: the
				   type the mapping produces) */
	const char *topic;
	const char *event_id; /* <raw event_id>#<mapping name> */
	/* the event's correlation_id (NULL for a dead letter); the key */
	const char *correlation_id;
	/* Kafka key: the correlation_id (dead letter: the event_id) as
	 * bytes, and as an Avro string under key_schema */
	const uint8_t *key;
	size_t key_len;
	const uint8_t *key_avro;
	size_t key_avro_len;
	const struct wb_schema *key_schema;
	const uint8_t *value; /* Avro binary under schema */
	size_t value_len;
	const struct wb_schema *schema;
	/* dead letters: what failed (NULL: the whole mapping) and why */
	const char *field;
	const char *reason;
};

/* Maps change c (a row op: c, u, d, r or t) through every mapping whose
 * source matches c->table and whose ops include c->op and whose `when`
 * holds. position: the change's position text; raw_event_id: the raw
 * event's event_id; now_us: the time for now() and for a dead letter's
 * failed_at. *out points to *nout outputs, in mapping order, valid until
 * the next call (or wb_mappings_free). Returns WB_OK, or WB_ERR_NOMEM;
 * every failure of a mapping is a dead letter, not an error. */
int wb_mappings_apply(struct wb_mappings *m, const struct wb_change *c,
		      const char *position, const char *raw_event_id,
		      int64_t now_us, const struct wb_mapped **out, int *nout,
		      wb_error_t *err);

/* The schemas of the canonical events and of the dead letters, by name
 * ("InventoryMovement", ..., "DeadLetter"); NULL when unknown. */
const struct wb_schema *wb_mappings_schema(const struct wb_mappings *m,
					   const char *name);

/* The raw change as the JSON text of a dead letter's `change` field:
 * {"op", "table", "before", "after", "unchanged"} with values in the
 * format of `waybill mapping test` files. Appends to out. */
void wb_mapping_change_json(const struct wb_change *c, struct wb_buf *out);

/* `waybill mapping SUBCOMMAND ...` (argv[0] is "mapping"): test (see
 * mapping_test.c) or preview. Returns the exit code. */
int wb_mapping_cli(int argc, char **argv);

/* `waybill mapping preview -c PIPELINE.yaml [--limit N]` (argv[0] is
 * "preview"; see mapping_preview.c). Returns the exit code. */
int wb_mapping_preview(int argc, char **argv);

#endif
