/* mapping_int.h — what mapping_load.c, mapping.c and mapping_test.c share:
 * a loaded mapping and its plan over the canonical schema. */
#ifndef WB_MAPPING_INT_H
#define WB_MAPPING_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <yaml.h>

#include "arena.h"
#include "buf.h"
#include "expr.h"
#include "mapping.h"
#include "mapping_schema.h"

/* An expression as written in a mapping file. */
struct wb_mexpr {
	char *text;
	char *what;	  /* "when", "correlation_id", "fields.lines[0].sku" */
	int line, column; /* of the text's first character, 1-based */
	int block_indent; /* block scalar (| or >): the content's indent
			     (0-based column); -1 otherwise */
	const struct wb_cs_node *node; /* the field it fills; NULL: when */
	bool has_want;
	struct wb_xtype want;
};

enum wb_plan_how {
	WB_PLAN_HEADER,	 /* filled by waybill */
	WB_PLAN_EXPR,	 /* an expression */
	WB_PLAN_DEFAULT, /* left out: null or the schema's default */
	WB_PLAN_RECORD,	 /* a nested record, field by field */
	WB_PLAN_ARRAY,	 /* a list with one plan per item */
};

enum wb_plan_header {
	WB_HDR_EVENT_ID,
	WB_HDR_EVENT_TYPE,
	WB_HDR_SCHEMA_VERSION,
	WB_HDR_OCCURRED_AT,
	WB_HDR_CORRELATION_ID,
	WB_HDR_SOURCE,
	WB_HDR_MAPPING,
};

struct wb_plan {
	const struct wb_cs_node *node;
	uint8_t how; /* enum wb_plan_how */
	uint8_t hdr; /* enum wb_plan_header */
	int expr;    /* index into the mapping's expressions */
	struct wb_plan *sub;
	int nsub;
};

#define WB_MAPPING_OPS_DEFAULT "cud"

struct wb_mapping {
	struct wb_mapping_info info;
	char *name;
	char *file;
	char *hash;
	char *header; /* info.header */
	char *topic;
	int version;
	int line; /* where its document starts */
	char **sources;
	int nsources;
	int source_line, source_column; /* of the source key's value */
	char ops[8];			/* op letters, NUL-terminated */
	bool reject_fallible;		/* on_failure: reject */
	const struct wb_cs_schema *schema;
	const struct wb_cs_node *corr_node; /* the schema's correlation_id */
	/* Avro bytes of the header parts that never change: event_type, and
	 * the mapping record {name, version} */
	struct wb_buf head_type, head_mapping;
	struct wb_mexpr *ex;
	int nex;
	int ex_when, ex_corr, ex_occ; /* -1 when absent */
	struct wb_plan root;
};

/* A compiled mapping for one table version. */
struct wb_mcompiled {
	int mapping;	    /* index in wb_mappings.v */
	struct wb_expr **e; /* one per expression */
	char *error;	    /* set when it does not compile */
};

struct wb_tcache {
	uint64_t table_id;	/* 0: free slot */
	char *full;		/* "schema.table" */
	struct wb_buf src_head; /* Avro bytes of source.system and .table */
	struct wb_mcompiled *c;
	int n;
};

struct wb_mappings {
	struct wb_mapping *v;
	int n;
	struct wb_cs_set cs;
	char *system;
	char *prefix;
	char *event_topic;
	char *dlq_topic;
	/* compiled per table version, open addressing by table id */
	struct wb_tcache *cache;
	size_t ncache, capcache;
	/* per apply */
	struct wb_arena arena;
	struct wb_mapped *out;
	struct wb_buf *bufs; /* value, key_avro, event id per output */
	int capout;
	struct wb_buf scratch;
	struct wb_buf src_tail; /* source.position and .event_id, per change */
};

/* Adds a diagnostic; -1 when out of memory. */
__attribute__((format(printf, 5, 6))) int
wb_mapping_diag_add(struct wb_mapping_diags *d, const char *file, int line,
		    int column, const char *fmt, ...);

/* Whether one of mp's source globs matches "schema.table". */
bool wb_mapping_matches(const struct wb_mapping *mp, const char *full);

/* Frees what one mapping holds (not the struct). */
void wb_mapping_clear(struct wb_mapping *mp);

/* Loads one file's mappings, appending to *v (*n of them, *cap slots).
 * Problems go to diags; returns -1 only when out of memory. */
int wb_mapping_load_file(const char *path, const struct wb_cs_set *cs,
			 struct wb_mapping **v, int *n, int *cap,
			 struct wb_mapping_diags *diags);

/* The wanted expression type of a schema field. */
bool wb_mapping_want(const struct wb_cs_node *f, struct wb_xtype *out);

/* Appends the text form of a column value (as mapping test files write
 * it) as a JSON value. */
void wb_mapping_value_json(const struct wb_column *col,
			   const struct wb_value *v, struct wb_buf *out);

/* Appends s as a JSON string (valid UTF-8 expected). */
void wb_mapping_json_string(struct wb_buf *out, const char *s, size_t n);

#endif
