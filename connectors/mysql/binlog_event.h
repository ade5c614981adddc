/* binlog_event.h — MySQL/MariaDB binlog events: the common header, the
 * format description, checksums and the small events (rotate, query, xid,
 * GTIDs, heartbeats, transaction payloads). Pure decoders: (bytes, length)
 * in, no I/O, every length checked before it is read.
 *
 * An event is a 19-byte header (v4) then a body, then, when the format
 * says so, a 4-byte CRC32 of header and body:
 *   0  timestamp   u32 LE  seconds since the epoch
 *   4  type        u8
 *   5  server_id   u32 LE
 *   9  length      u32 LE  whole event, header and checksum included
 *   13 log_pos     u32 LE  offset of the next event in its file
 *   17 flags       u16 LE
 */
#ifndef WB_BINLOG_EVENT_H
#define WB_BINLOG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum wb_my_event_type {
	WB_MY_EV_QUERY = 2,
	WB_MY_EV_STOP = 3,
	WB_MY_EV_ROTATE = 4,
	WB_MY_EV_INTVAR = 5,
	WB_MY_EV_RAND = 13,
	WB_MY_EV_USER_VAR = 14,
	WB_MY_EV_FORMAT_DESCRIPTION = 15,
	WB_MY_EV_XID = 16,
	WB_MY_EV_TABLE_MAP = 19,
	WB_MY_EV_WRITE_ROWS_V1 = 23,
	WB_MY_EV_UPDATE_ROWS_V1 = 24,
	WB_MY_EV_DELETE_ROWS_V1 = 25,
	WB_MY_EV_HEARTBEAT = 27,
	WB_MY_EV_IGNORABLE = 28,
	WB_MY_EV_ROWS_QUERY = 29,
	WB_MY_EV_WRITE_ROWS = 30,
	WB_MY_EV_UPDATE_ROWS = 31,
	WB_MY_EV_DELETE_ROWS = 32,
	WB_MY_EV_GTID = 33,
	WB_MY_EV_ANONYMOUS_GTID = 34,
	WB_MY_EV_PREVIOUS_GTIDS = 35,
	WB_MY_EV_TRANSACTION_CONTEXT = 36,
	WB_MY_EV_VIEW_CHANGE = 37,
	WB_MY_EV_XA_PREPARE = 38,
	WB_MY_EV_PARTIAL_UPDATE_ROWS = 39,
	WB_MY_EV_TRANSACTION_PAYLOAD = 40,
	WB_MY_EV_HEARTBEAT_V2 = 41,
	WB_MY_EV_GTID_TAGGED = 42,
	/* MariaDB */
	WB_MY_EV_ANNOTATE_ROWS = 160,
	WB_MY_EV_BINLOG_CHECKPOINT = 161,
	WB_MY_EV_MARIA_GTID = 162,
	WB_MY_EV_MARIA_GTID_LIST = 163,
	WB_MY_EV_START_ENCRYPTION = 164,
	WB_MY_EV_QUERY_COMPRESSED = 165,
	WB_MY_EV_WRITE_ROWS_COMPRESSED_V1 = 166,
	WB_MY_EV_UPDATE_ROWS_COMPRESSED_V1 = 167,
	WB_MY_EV_DELETE_ROWS_COMPRESSED_V1 = 168,
	WB_MY_EV_WRITE_ROWS_COMPRESSED = 169,
	WB_MY_EV_UPDATE_ROWS_COMPRESSED = 170,
	WB_MY_EV_DELETE_ROWS_COMPRESSED = 171,
};

#define WB_MY_HEADER_LEN 19

/* What a FORMAT_DESCRIPTION event says about the events after it. */
struct wb_my_format {
	uint16_t binlog_version; /* 4 */
	char server_version[51]; /* NUL-terminated */
	uint32_t created;
	uint8_t header_len; /* 19 */
	/* post-header length by event type, as the event lists it (0 for
	 * types past its table); never assumed from the server version */
	uint8_t post_header_len[256];
	bool checksum; /* events end in a CRC32 */
	bool mariadb;  /* server_version names MariaDB */
};

/* The format assumed before a FORMAT_DESCRIPTION arrives: v4, 19-byte
 * header, MySQL 5.6+ post-header lengths, checksum as given. */
void wb_my_format_default(struct wb_my_format *f, bool checksum);

/* Decodes a whole FORMAT_DESCRIPTION event (header included, checksum
 * included when it has one: the event itself says so in its
 * checksum-algorithm byte, for servers that know checksums: MySQL >=
 * 5.6.1, MariaDB >= 5.3, told apart by "MariaDB" in the version). Verifies
 * its CRC32 when the algorithm is CRC32, computed as the server does with
 * the in-use flag (flags bit 0) clear. The result's checksum says whether
 * the events after it carry one. Only binlog version 4 with a 19-byte
 * header is accepted. WB_ERR_DECODE on anything malformed. A reader of a
 * stream passes every FORMAT_DESCRIPTION here first and uses its result
 * for the events after it. */
int wb_my_format_parse(const uint8_t *p, size_t n, struct wb_my_format *out,
		       wb_error_t *err);

/* One event, split. body points into the caller's bytes. */
struct wb_my_event {
	uint32_t timestamp;
	uint8_t type;
	uint32_t server_id;
	uint32_t length;
	uint32_t log_pos;
	uint16_t flags;
	const uint8_t *body; /* after the header */
	size_t body_len;     /* without the checksum */
};

/* Splits the event in p[0..n) (n must equal its length field) and, when
 * fmt->checksum, verifies the CRC32 (a FORMAT_DESCRIPTION's with the
 * in-use flag clear). WB_ERR_DECODE naming the event type and what is
 * wrong (e.g. "checksum mismatch") on failure. */
int wb_my_event_parse(const struct wb_my_format *fmt, const uint8_t *p,
		      size_t n, struct wb_my_event *ev, wb_error_t *err);

/* CRC32 (ISO-HDLC, as zlib's crc32) of p[0..n). */
uint32_t wb_my_crc32(const uint8_t *p, size_t n);

/* ROTATE: the next file and the position in it. name points into the
 * event. */
struct wb_my_rotate {
	uint64_t pos;
	const char *name;
	size_t name_len;
};
int wb_my_rotate_parse(const struct wb_my_format *fmt,
		       const struct wb_my_event *ev, struct wb_my_rotate *out,
		       wb_error_t *err);

/* QUERY (and MariaDB's QUERY_COMPRESSED is NOT handled here: it returns
 * WB_ERR_DECODE "compressed query"; callers log and skip it). db and sql
 * point into the event, not NUL-terminated. */
struct wb_my_query {
	uint32_t thread_id;
	uint32_t exec_time;
	uint16_t error_code;
	const char *db;
	size_t db_len;
	const char *sql;
	size_t sql_len;
};
int wb_my_query_parse(const struct wb_my_format *fmt,
		      const struct wb_my_event *ev, struct wb_my_query *out,
		      wb_error_t *err);

/* XID: the commit of a transactional transaction. */
int wb_my_xid_parse(const struct wb_my_format *fmt,
		    const struct wb_my_event *ev, uint64_t *xid,
		    wb_error_t *err);

/* A transaction's GTID: MariaDB's GTID event (162), or MySQL's GTID (33),
 * ANONYMOUS_GTID (34) and GTID_TAGGED (42). */
struct wb_my_gtid {
	bool mariadb;
	/* MariaDB: domain-server-seq; server_id comes from the event header */
	uint32_t domain_id;
	uint32_t server_id;
	uint64_t seq_no;
	uint8_t flags2;	 /* MariaDB FL_* flags */
	bool standalone; /* MariaDB: no BEGIN/XID follow (DDL) */
	bool anonymous;	 /* MySQL ANONYMOUS_GTID: no GTID */
	uint8_t sid[16]; /* MySQL: source uuid */
	uint64_t gno;	 /* MySQL: transaction number */
	char tag[33];	 /* MySQL 8.3+ GTID_TAGGED: tag, "" if none */
	/* MySQL 8.0.1+: commit times on the immediate and the original
	 * server, microseconds since the epoch; 0 when absent; the original
	 * equals the immediate one when the event says they are the same */
	int64_t immediate_commit_us;
	int64_t original_commit_us;
};
int wb_my_gtid_parse(const struct wb_my_format *fmt,
		     const struct wb_my_event *ev, struct wb_my_gtid *out,
		     wb_error_t *err);

/* Text form: MariaDB "domain-server-seq", MySQL "uuid:gno" (lower-case
 * hex, 8-4-4-4-12) or "uuid:tag:gno", an ANONYMOUS_GTID "ANONYMOUS".
 * Returns the length written (always NUL-terminated, cut to n - 1; n >= 80
 * is enough). */
size_t wb_my_gtid_format(const struct wb_my_gtid *g, char *buf, size_t n);

/* MariaDB GTID_LIST (163): the GTID state at the start of a file.
 * Calls fn once per entry, in order; stops and returns fn's non-zero. */
int wb_my_gtid_list_parse(const struct wb_my_format *fmt,
			  const struct wb_my_event *ev,
			  int (*fn)(void *ctx, uint32_t domain, uint32_t server,
				    uint64_t seq),
			  void *ctx, wb_error_t *err);

/* HEARTBEAT (27, the current file name in the body, the position in the
 * header's log_pos) and HEARTBEAT_V2 (41, fields as type-length-value).
 * name points into the event. */
struct wb_my_heartbeat {
	const char *name;
	size_t name_len;
	uint64_t pos;
};
int wb_my_heartbeat_parse(const struct wb_my_format *fmt,
			  const struct wb_my_event *ev,
			  struct wb_my_heartbeat *out, wb_error_t *err);

/* TRANSACTION_PAYLOAD (40): header fields (type-length-value) and the
 * compressed bytes. The inner events are whole events with the v4 header,
 * no checksum, log_pos 0. */
struct wb_my_payload {
	uint64_t compression; /* 0 zstd, 255 none */
	uint64_t uncompressed_size;
	const uint8_t *data;
	size_t len;
};
int wb_my_payload_parse(const struct wb_my_format *fmt,
			const struct wb_my_event *ev, struct wb_my_payload *out,
			wb_error_t *err);

/* Streams the inner events of a payload one at a time, holding at most the
 * largest inner event (never the whole uncompressed transaction). An inner
 * event's length is checked against what is left of the announced
 * uncompressed size, and the total against it at the end. */
struct wb_my_payload_reader;
struct wb_my_payload_reader *wb_my_payload_reader_new(void);
void wb_my_payload_reader_free(struct wb_my_payload_reader *r); /* NULL ok */
/* Starts on pl (whose bytes must stay valid until the last next()). */
int wb_my_payload_reader_start(struct wb_my_payload_reader *r,
			       const struct wb_my_payload *pl, wb_error_t *err);
/* The next inner event: *ev and *evlen point into the reader's buffer
 * (compression none: into pl's bytes), valid until the next call. Returns 1
 * with an event, 0 at the end (the uncompressed size matched), -1 with err
 * filled (WB_ERR_DECODE, WB_ERR_NOMEM). */
int wb_my_payload_reader_next(struct wb_my_payload_reader *r,
			      const uint8_t **ev, size_t *evlen,
			      wb_error_t *err);
/* Bytes the reader's buffer holds now: at least the largest inner event
 * read so far, at most twice that or 4 KiB (for memory accounting and
 * tests). */
size_t wb_my_payload_reader_capacity(const struct wb_my_payload_reader *r);

#endif
