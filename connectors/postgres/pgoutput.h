/* pgoutput.h — decoder of pgoutput logical replication messages (protocol 1).
 *
 * Pure: no I/O, no allocation; every length is checked before it is read.
 * Decoded strings and tuple bytes point into the caller's buffer and are
 * valid as long as it is. */
#ifndef WB_PGOUTPUT_H
#define WB_PGOUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#include "pg_bytes.h" /* wb_pg_get_u16/u32/u64 */

enum wb_pg_msg_type {
	WB_PG_BEGIN = 'B',
	WB_PG_COMMIT = 'C',
	WB_PG_ORIGIN = 'O',
	WB_PG_RELATION = 'R',
	WB_PG_TYPE = 'Y',
	WB_PG_INSERT = 'I',
	WB_PG_UPDATE = 'U',
	WB_PG_DELETE = 'D',
	WB_PG_TRUNCATE = 'T',
	WB_PG_MESSAGE = 'M',
};

/* A TupleData section, validated by the decoder: iterating it cannot fail. */
struct wb_pg_tuple {
	uint16_t ncols;
	const uint8_t *p; /* first column */
	size_t len;	  /* bytes of all columns */
};

/* One column of a tuple. kind: 'n' null, 'u' unchanged TOAST (no data),
 * 't' text, 'b' binary. data/len only for 't' and 'b'. */
struct wb_pg_col {
	char kind;
	const uint8_t *data;
	uint32_t len;
};

struct wb_pg_tuple_iter {
	const uint8_t *p;
	const uint8_t *end;
	uint16_t left;
};

/* One column of a Relation message. */
struct wb_pg_relcol {
	uint8_t flags;	  /* 1 = part of the key (replica identity) */
	const char *name; /* NUL-terminated, inside the buffer */
	uint32_t type_oid;
	int32_t typmod;
};

struct wb_pg_relcol_iter {
	const uint8_t *p;
	const uint8_t *end;
	uint16_t left;
};

struct wb_pg_msg {
	char type; /* enum wb_pg_msg_type */
	union {
		struct {
			uint64_t final_lsn;
			int64_t commit_ts; /* microseconds since 2000-01-01 UTC
					    */
			uint32_t xid;
		} begin;
		struct {
			uint8_t flags;
			uint64_t commit_lsn;
			uint64_t end_lsn;
			int64_t commit_ts;
		} commit;
		struct {
			uint64_t lsn;
			const char *name;
		} origin;
		struct {
			uint32_t oid;
			const char *nspname;
			const char *relname;
			uint8_t replident; /* 'd' default, 'n' nothing, 'f'
					      full, 'i' index */
			uint16_t ncols;
			struct wb_pg_relcol_iter
				cols; /* validated: iteration cannot fail */
		} relation;
		struct {
			uint32_t oid;
			const char *nspname;
			const char *typname;
		} type;
		struct {
			uint32_t oid;
			struct wb_pg_tuple newtup;
		} insert;
		struct {
			uint32_t oid;
			char old_kind; /* 0 none, 'K' key only, 'O' full old row
					*/
			struct wb_pg_tuple
				oldtup; /* valid when old_kind != 0 */
			struct wb_pg_tuple newtup;
		} update;
		struct {
			uint32_t oid;
			char old_kind; /* 'K' or 'O' */
			struct wb_pg_tuple oldtup;
		} delete_;
		struct {
			uint32_t nrels;
			uint8_t options;     /* 1 CASCADE, 2 RESTART IDENTITY */
			const uint8_t *oids; /* nrels big-endian uint32, use
						wb_pg_truncate_oid */
		} truncate;
		struct {
			uint8_t flags; /* 1 = transactional */
			uint64_t lsn;
			const char *prefix;
			const uint8_t *content;
			uint32_t len;
		} message;
	} u;
};

/* Decodes one pgoutput message (the payload of an XLogData 'w' message,
 * after its 25-byte header). Returns WB_OK, or WB_ERR_DECODE with err saying
 * which message and field was malformed. Unknown message types are
 * WB_ERR_DECODE too. Strings must be NUL-terminated inside buf. */
int wb_pgoutput_decode(const uint8_t *buf, size_t len, struct wb_pg_msg *out,
		       wb_error_t *err);

void wb_pg_tuple_iter_init(struct wb_pg_tuple_iter *it,
			   const struct wb_pg_tuple *t);
/* Next column; returns 1, or 0 at the end. */
int wb_pg_tuple_next(struct wb_pg_tuple_iter *it, struct wb_pg_col *col);

/* Next relation column; returns 1, or 0 at the end. */
int wb_pg_relcol_next(struct wb_pg_relcol_iter *it, struct wb_pg_relcol *col);

uint32_t wb_pg_truncate_oid(const struct wb_pg_msg *m, uint32_t i);

#endif
