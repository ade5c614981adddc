/* my_source_int.h — the MySQL/MariaDB source's state, shared by its files:
 * my_source.c (ops, positions, checkpoint state), my_stream.c (the binlog
 * dump: starting it, reading packets, dispatching events), my_tables.c
 * (table maps to table shapes, information_schema). Not a public
 * interface. */
#ifndef WB_MY_SOURCE_INT_H
#define WB_MY_SOURCE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <mysql.h>

#include "binlog_event.h"
#include "binlog_tablemap.h"
#include "buf.h"
#include "change.h"
#include "my_textrow.h"
#include "snapshot.h"
#include "snapshot_request.h"
#include "source.h"

extern const struct wb_source_ops wb_my_source_ops;

#define MY_COMMIT_ORDINAL UINT64_MAX

/* A position's major: epoch (8 bits: +1 each time the pipeline moved to
 * another server), binlog file sequence number (24 bits), offset of the
 * transaction's first event in that file (32 bits). */
static inline uint64_t wb_my_major(unsigned epoch, uint32_t seq, uint32_t off)
{
	return ((uint64_t)(epoch & 0xff) << 56) |
	       ((uint64_t)(seq & 0xffffff) << 32) | off;
}
static inline unsigned wb_my_major_epoch(uint64_t m)
{
	return (unsigned)(m >> 56);
}
static inline uint32_t wb_my_major_seq(uint64_t m)
{
	return (uint32_t)((m >> 32) & 0xffffff);
}
static inline uint32_t wb_my_major_off(uint64_t m)
{
	return (uint32_t)m;
}

/* The current map of one table id. */
struct my_tentry {
	uint64_t table_id;
	struct wb_my_tablemap *tm;
	bool captured;
	struct wb_table *table; /* captured: the shape changes are typed
				   with (one reference) */
	struct wb_type *types;	/* captured: tm->ncols types */
	uint64_t used;		/* for eviction */
};

/* What a snapshot round knows of a table besides its shape. */
struct my_snap_table {
	struct wb_my_tablemap *tm; /* columns, as information_schema says */
	struct wb_type *types;
};

/* A transaction emitted and not yet known durable: its GTID, applied to
 * the durable GTID state once the checkpoint passes its commit. */
struct my_pending {
	uint64_t major;
	uint64_t end; /* major form of the offset after its last event */
	int64_t commit_us;
	char gtid[96];
};

struct my_source {
	struct wb_source base;
	MYSQL *dump; /* the binlog dump connection */
	MYSQL *meta; /* catalog queries */
	bool mariadb;
	uint32_t replica_id;  /* our server_id in the dump command */
	uint32_t server_id;   /* @@server_id of the server we read */
	char server_uuid[64]; /* MySQL @@server_uuid, "" on MariaDB */
	int heartbeat_ms;
	bool checksum;	/* @@binlog_checksum is CRC32 */
	bool gtid_mode; /* MySQL: gtid_mode ON; MariaDB: always */
	bool meta_full; /* binlog_row_metadata is FULL */

	/* stream state (source thread) */
	struct wb_my_format fmt;
	char file_base[256];
	uint32_t file_seq;
	unsigned epoch;
	bool in_txn; /* between a transaction's first event and its end */
	bool explicit_begin; /* its BEGIN was seen */
	uint64_t txn_major;
	uint32_t event_end; /* log_pos of the last event read */
	uint64_t ordinal;
	int64_t commit_ts_us;
	char txn_gtid[96];
	const char *gtid_copy; /* txn_gtid in gtid_batch's arena */
	const struct wb_batch *gtid_batch;
	bool txn_emitted; /* BEGIN change emitted */
	struct my_tentry *tables;
	int ntables, captables;
	uint64_t use_clock;
	struct wb_buf scratch;
	struct wb_my_payload_reader *payload;
	bool caught_up;
	atomic_bool caught_up_shared;
	long long last_data_ms;
	long long last_packet_ms;  /* monotonic: the last packet received */
	wb_position_t last_pos;	   /* last change produced */
	wb_position_t replay_upto; /* drop what is at or below (reconnect) */
	/* after a move to another server: drop the first ordinals of the
	 * transaction with this GTID (they were delivered from the old one) */
	char replay_gtid[96];
	uint64_t replay_ordinal;
	uint64_t replay_major; /* its major on this server, once seen */
	bool stream_open;
	bool gap_hit;	    /* the server no longer has the stream's position */
	long long probe_ms; /* monotonic: the server's end last asked */

	/* durable state (any thread, under mu) */
	pthread_mutex_t mu;
	wb_position_t durable_pos;
	char *durable_gtid; /* GTID state after the last durable commit */
	int64_t durable_commit_us; /* commit time of the last durable one */
	uint64_t durable_end;	   /* where the last durable one ends (major) */
	char durable_txn_gtid[96]; /* GTID of a transaction the durable
				      position is inside of, "" if none */
	struct my_pending *pend;
	size_t npend, cappend, pend_head;
	char *state_file_base; /* file base name for the checkpoint */
	/* where this run's stream began, for a checkpoint written before
	 * any change was produced (its position is then zero) */
	char start_file[300];
	uint32_t start_off;
	unsigned state_epoch;
	uint32_t state_server_id;
	char state_server_uuid[64];
	atomic_bool snap_finished; /* initial_only: the snapshot is out */

	struct wb_snapshot_request req; /* `waybill snapshot` requests */
	/* snapshots (my_snapshot.c), source thread except snap */
	struct wb_snapshot *snap;
	struct my_snap_table *snapt; /* by the snapshot's table index */
	int nsnapt;
	MYSQL *reader;
	bool snap_round; /* a round is open */
	bool snap_ready; /* the stream reached its point: rows may go */
	uint64_t point;	 /* the round's consistent point P */
	char point_file[300];
	uint32_t point_off;
	char *point_gtid; /* the GTID state at P (NULL without GTIDs) */
	int cur_ti, cur_pi;
	int64_t chunk_rows;
	int64_t chunk_marked; /* rows of the chunk covered by a mark */
	MYSQL_STMT *stmt;
	struct wb_my_textrow res; /* the open chunk's row */
	char **last_key;
	int last_nkey;
	/* the first event at or after P, held while the round's rows go */
	uint8_t *held;
	size_t held_len, held_cap;
};

/* my_metrics.c */
/* What SHOW BINARY LOGS says after (seq, off): the bytes of binlog there
 * (after), whether file seq is still on the server (found), and the last
 * file's sequence number and size (the server's end). */
struct wb_my_binlogs {
	uint64_t after;
	bool found;
	uint32_t last_seq;
	uint64_t last_size;
};
int wb_my_binlogs_after(MYSQL *c, uint32_t seq, uint64_t off,
			struct wb_my_binlogs *out, wb_error_t *err);
/* At most every few seconds, while the stream is alive: the server's
 * binlog end and the bytes after the durable position, for the metrics. */
void wb_mysrc_probe_server(struct my_source *s);

/* my_snapshot.c */
/* Adds every table the configuration captures to the snapshot. */
int wb_mysrc_snapshot_add_all(struct my_source *s, wb_error_t *err);
/* Adds the captured tables whose "db.table" matches the glob; returns
 * how many, or a negative error code. */
int wb_mysrc_snapshot_add_matching(void *src, const char *glob,
				   wb_error_t *err);
/* Opens a round: reader, consistent point P (s->point, point_file,
 * point_off), the pending tables described. */
int wb_mysrc_snapshot_begin(struct my_source *s, wb_error_t *err);
/* Emits the round's rows into b (the stream has reached P); ends the
 * round once every table is read. */
int wb_mysrc_snapshot_step(struct my_source *s, struct wb_batch *b,
			   size_t target_bytes, wb_error_t *err);
void wb_mysrc_snapshot_end(struct my_source *s);
void wb_mysrc_snapshot_free(struct my_source *s);

/* my_sample.c: the source's sample op (source.h) */
int wb_mysrc_sample(struct wb_source *base, struct wb_table *t, int limit,
		    struct wb_batch *b, wb_error_t *err);

/* my_stream.c */
/* Starts the dump after pos (its transaction's first event, by
 * file:offset) or, when gtid is not NULL, after the GTID state gtid. */
int wb_mysrc_start_dump(struct my_source *s, const char *file, uint32_t off,
			const char *gtid, wb_error_t *err);
/* Reads events into b (see wb_source_ops.poll). */
int wb_mysrc_poll(struct my_source *s, struct wb_batch *b, size_t target_bytes,
		  int timeout_ms, wb_error_t *err);
/* Applies GTIDs (text) to a GTID state text (MariaDB "d-s-n,...", MySQL
 * "uuid:1-5,..."); returns the malloc'd new state, or NULL with err. */
char *wb_mysrc_gtid_apply(bool mariadb, const char *state,
			  const char *const *gtids, size_t n, wb_error_t *err);

/* my_tables.c */
/* The entry for a TABLE_MAP event (reused when the same map comes again);
 * NULL with err on failure (a definition that does not match the event
 * stops the pipeline). */
struct my_tentry *wb_mysrc_table_map(struct my_source *s,
				     const struct wb_my_event *ev,
				     wb_error_t *err);
struct my_tentry *wb_mysrc_table_find(struct my_source *s, uint64_t id);
void wb_mysrc_tables_clear(struct my_source *s);
/* db.table as information_schema describes it (snapshots, `waybill
 * schema`): its columns as a table map would carry them, its shape and
 * the columns' types. Caller frees all three. NULL with err. */
struct wb_my_tablemap *wb_mysrc_describe(struct my_source *s, const char *db,
					 const char *name,
					 struct wb_table **table,
					 struct wb_type **types,
					 wb_error_t *err);

#endif
