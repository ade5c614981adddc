/* pg_source.c — PostgreSQL source: a pgoutput logical replication stream.
 *
 * Replication protocol (inside CopyBoth), big-endian:
 *   'w' XLogData:  u64 dataStart, u64 walEnd, i64 sendTime, pgoutput message
 *   'k' keepalive: u64 walEnd, i64 sendTime, u8 replyRequested
 *   'r' status (ours): u64 write, u64 flush, u64 apply, i64 time, u8 reply
 * Times are microseconds since 2000-01-01 UTC.
 *
 * A change's position is (commit LSN of its transaction, ordinal in it):
 * the Begin message carries the commit LSN up front, and transactions arrive
 * in commit order, so positions grow in stream order and the same change
 * gets the same position on every replay. The flush LSN we report is only
 * ever what the core says is durable (ack()).
 *
 * Snapshots (pg_snapshot.c reads the tables) are taken at a point P of the
 * stream and emitted exactly there, at positions (P - 1, n): with a new
 * slot, P is its consistent point and the exported snapshot comes from the
 * slot's creation; otherwise a temporary slot created on an extra
 * replication connection gives P and the snapshot, and the stream is held
 * at the first transaction committing at or after P (or a keepalive past
 * P) while the rows are emitted. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "clock.h"
#include "fsutil.h"
#include "log.h"
#include "metrics.h"
#include "pg_catalog.h"
#include "pg_snapshot.h"
#include "pg_types.h"
#include "pg_source_int.h"
#include "pgoutput.h"
#include "source.h"
#include "stop.h"

#define PG_EPOCH_OFFSET_US 946684800000000LL
/* how often the catalog is asked for tables that appeared or went away */
#define DISCOVER_MS 5000
/* While the stream is busy, the source thread lets the server's messages
 * gather for this long once the socket runs dry, and reads them in one
 * call, instead of waking for each message as it is sent: the walsender
 * sends every change on its own, and a reader waiting on the socket woke
 * (and read, and woke the walsender's core) once per change. Short, so
 * that the walsender's socket does not fill meanwhile: a Unix socket's
 * send buffer (212,992 bytes by default) counts each small message at
 * about 0.9 KB, i.e. holds ~1 ms of a walsender at full speed, and a
 * walsender that finds it full waits and spends more CPU per change.
 * Measured on the 2-core machine (tools/bench pg --sink kafka, 1.5M
 * changes): the source thread 2.8-3.7 CPU-s without, 1.9-2.4 with 200 or
 * 500 us; at 1,000 us the walsender used 15 % more CPU than for
 * pg_recvlogical. At most this much latency is added per wait; a sleep
 * that finds nothing waits on the socket next. */
#define READ_COALESCE_US 200
/* The COMMIT record's ordinal: above any change's (a snapshot round can
 * number more than 2^32 rows). Its text form is "end". */
#define COMMIT_ORDINAL UINT64_MAX

static int64_t pg_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 -
	       PG_EPOCH_OFFSET_US;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static bool valid_name(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 63)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

static struct wb_source *pg_create(const struct wb_config *cfg, wb_error_t *err)
{
	if (cfg->source.dsn == NULL) {
		wb_error_set(err, WB_ERR_CONFIG,
			     "%s: source.dsn is required for "
			     "postgres",
			     cfg->path);
		return NULL;
	}
	if (!valid_name(cfg->source.slot) ||
	    !valid_name(cfg->source.publication)) {
		wb_error_set(
			err, WB_ERR_CONFIG,
			"%s: source.slot and source.publication must match "
			"[a-z0-9_]+ (at most 63 characters)",
			cfg->path);
		return NULL;
	}
	struct pg_source *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	s->base.ops = &wb_pg_source_ops;
	s->base.cfg = cfg;
	s->slot = strdup(cfg->source.slot);
	s->publication = strdup(cfg->source.publication);
	s->last_rel = -1;
	pthread_mutex_init(&s->mu, NULL);
	wb_snapshot_request_init(&s->req, cfg, "postgres");
	s->snap = wb_pg_snapshot_new(cfg);
	if (!s->slot || !s->publication || !s->snap) {
		wb_pg_source_ops.destroy(&s->base);
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	return &s->base;
}

static int check_wal_level(struct pg_source *s, wb_error_t *err)
{
	PGresult *res =
		wb_pg_query(s->cat.conn, "SHOW wal_level", 0, NULL, err);
	if (res == NULL)
		return err->code;
	char level[32];
	snprintf(level, sizeof(level), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (strcmp(level, "logical") != 0)
		return wb_error_set(
			err, WB_ERR_CONFIG,
			"server has wal_level = %s; logical decoding "
			"needs wal_level = logical in postgresql.conf "
			"(ALTER SYSTEM SET wal_level = logical) and a "
			"server restart",
			level);
	return WB_OK;
}

static int send_status(struct pg_source *s, bool reply, wb_error_t *err);

/* Runs a replication command on conn (not the stream) and waits for its
 * one-row result, keeping the stream alive meanwhile: creating a slot
 * waits for the transactions running at that moment to end. */
static PGresult *repl_command(struct pg_source *s, PGconn *conn,
			      const char *sql, bool streaming, wb_error_t *err)
{
	char line[400];
	if (!PQsendQuery(conn, sql))
		goto failed;
	while (PQisBusy(conn)) {
		int fd = PQsocket(conn);
		fd_set rfds;
		FD_ZERO(&rfds);
		FD_SET(fd, &rfds);
		struct timeval tv = {1, 0};
		if (select(fd + 1, &rfds, NULL, NULL, &tv) < 0 &&
		    errno != EINTR) {
			wb_error_set(err, WB_ERR_RUNTIME, "select: %s",
				     strerror(errno));
			return NULL;
		}
		if (PQconsumeInput(conn) == 0)
			goto failed;
		if (streaming &&
		    wb_clock_mono_ms() - s->last_status_ms >= 2000 &&
		    send_status(s, false, err) != 0)
			return NULL;
	}
	PGresult *res = PQgetResult(conn), *extra;
	while ((extra = PQgetResult(conn)) != NULL)
		PQclear(extra);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    PQnfields(res) >= 3)
		return res;
	if (res && PQresultErrorMessage(res)[0]) {
		snprintf(line, sizeof(line), "%s", PQresultErrorMessage(res));
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		PQclear(res);
		wb_error_set(err, WB_ERR_RUNTIME, "%s: %s", sql, line);
		return NULL;
	}
	PQclear(res);
failed:
	wb_error_set(err, WB_ERR_RUNTIME, "%s: %s", sql,
		     wb_pg_error_line(conn, line, sizeof(line)));
	return NULL;
}

/* Opens a round at consistent point text `cp` under snapshot `name`. */
static int begin_round(struct pg_source *s, const char *cp, const char *name,
		       wb_error_t *err)
{
	uint64_t point;
	if (wb_pg_parse_lsn(cp, &point) != 0 || point == 0)
		return wb_error_set(
			err, WB_ERR_RUNTIME,
			"CREATE_REPLICATION_SLOT returned consistent "
			"point \"%s\"",
			cp);
	s->snap_point = point;
	wb_pgsrc_rekey_round(s, true);
	return wb_pg_snapshot_begin(s->snap, &s->cat, s->targets, s->ntargets,
				    name, point, err);
}

/* Creates the slot. With export, on a connection of its own that stays
 * open (idle) so that its exported snapshot lives: the round at the slot's
 * consistent point reads under it, and the stream starts right there. */
static int create_slot(struct pg_source *s, bool export, wb_error_t *err)
{
	char sql[200];
	snprintf(sql, sizeof(sql),
		 "CREATE_REPLICATION_SLOT \"%s\" LOGICAL pgoutput %s", s->slot,
		 export ? "EXPORT_SNAPSHOT" : "NOEXPORT_SNAPSHOT");
	PGconn *conn = s->repl;
	if (export) {
		s->snap_conn = wb_pg_connect(s->base.cfg, "database", err);
		if (s->snap_conn == NULL)
			return err->code;
		conn = s->snap_conn;
	}
	PGresult *res = repl_command(s, conn, sql, false, err);
	if (res == NULL) {
		wb_error_prefix(err, "cannot create replication slot %s",
				s->slot);
		return err->code;
	}
	wb_info("postgres", "created replication slot %s at %s", s->slot,
		PQgetvalue(res, 0, 1));
	wb_pg_parse_lsn(PQgetvalue(res, 0, 1), &s->slot_point);
	int rc = WB_OK;
	if (export) {
		rc = begin_round(s, PQgetvalue(res, 0, 1),
				 PQgetvalue(res, 0, 2), err);
		s->snap_ready = true; /* nothing of the stream comes before P */
	}
	PQclear(res);
	return rc;
}

/* Opens a round at a new point P taken with a temporary slot; the stream
 * goes on until it reaches P. */
static int begin_temp_round(struct pg_source *s, wb_error_t *err)
{
	char sql[200];
	s->snap_conn = wb_pg_connect(s->base.cfg, "database", err);
	if (s->snap_conn == NULL)
		return err->code;
	snprintf(sql, sizeof(sql),
		 "CREATE_REPLICATION_SLOT \"waybill_tmp_%.30s_%d\" TEMPORARY "
		 "LOGICAL pgoutput EXPORT_SNAPSHOT",
		 s->base.cfg->name, (int)getpid());
	PGresult *res = repl_command(s, s->snap_conn, sql, true, err);
	if (res == NULL) {
		wb_error_prefix(err, "cannot take a snapshot");
		return err->code;
	}
	int rc = begin_round(s, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
			     err);
	PQclear(res);
	s->snap_ready = false;
	s->caught_up = false;
	return rc;
}

static void end_round(struct pg_source *s)
{
	wb_pgsrc_rekey_round(s, false);
	wb_pg_snapshot_end(s->snap);
	/* the exported snapshot (and a temporary slot) go with it */
	PQfinish(s->snap_conn);
	s->snap_conn = NULL;
	s->snap_ready = false;
	s->caught_up = false;
}

/* wb_snapshot_request_poll's mark: marks the captured tables that pattern
 * matches for a snapshot from scratch; how many, or -code. */
static int mark_matching(void *ctx, const char *pattern, wb_error_t *err)
{
	struct pg_source *s = ctx;
	int n = 0;
	for (int k = 0; k < s->ntargets; k++) {
		const struct wb_pg_reltarget *t = &s->targets[k];
		char full[512];
		snprintf(full, sizeof(full), "%s.%s", t->schema, t->name);
		if (fnmatch(pattern, full, 0) != 0)
			continue;
		int rc = wb_pg_snapshot_add(s->snap, t->schema, t->name, err);
		if (rc)
			return -rc;
		n++;
	}
	return n;
}

/* Takes a `waybill snapshot --tables` request (src/snapshot_request.h):
 * its tables are marked for a snapshot from scratch. */
static int take_request(struct pg_source *s, bool *taken, wb_error_t *err)
{
	return wb_snapshot_request_poll(&s->req, wb_clock_mono_ms(),
					mark_matching, s, taken, err);
}

/* pg_wire's before_big: a message larger than a batch is read once the
 * pipeline has room for it beside what the queue and the sink hold (one
 * such row in memory at a time); the stream is kept alive meanwhile. */
static int wait_memory(void *arg, size_t n, wb_error_t *err)
{
	struct pg_source *s = arg;
	if (s->base.room == NULL)
		return 0;
	for (;;) {
		int r = s->base.room(s->base.room_opaque, n, 1000);
		if (r > 0)
			return 0;
		if (r < 0) {
			s->mem_wait = true; /* stopping: read it next time */
			return 1;
		}
		if (wb_clock_mono_ms() - s->last_status_ms >= 1000 &&
		    send_status(s, false, err) != WB_OK)
			return -1;
	}
}

/* START_REPLICATION sent on repl's socket itself and its answer read
 * there, so that libpq buffers no byte of the stream (pg_wire.h). libpq is
 * idle before (it read its last result to ReadyForQuery), and so after a
 * refusal, which is read here to ReadyForQuery too. */
static int start_raw(struct pg_source *s, const char *sql, wb_error_t *err)
{
	char why[400] = "";
	int rc = wb_pg_wire_init(&s->wire, PQsocket(s->repl), err);
	if (rc == WB_OK)
		rc = wb_pg_wire_send(&s->wire, 'Q', sql, strlen(sql) + 1, err);
	s->wire.before_big = wait_memory;
	s->wire.before_big_arg = s;
	long long deadline = wb_clock_mono_ms() + 60000;
	while (rc == WB_OK) {
		uint8_t type;
		const uint8_t *body;
		size_t len;
		int r = wb_pg_wire_next(&s->wire, &type, &body, &len, err);
		if (r < 0 && why[0]) {
			/* the server said why, then hung up (FATAL) */
			rc = wb_error_set(err, WB_ERR_CONNECT, "%s", why);
			err->retriable = true;
			break;
		}
		if (r < 0) {
			rc = err->code;
			break;
		}
		if (r == 0) {
			if (wb_stop_requested ||
			    wb_clock_mono_ms() > deadline) {
				rc = wb_error_set(err, WB_ERR_CONNECT,
						  "no answer to "
						  "START_REPLICATION");
				err->retriable = true;
				break;
			}
			struct pollfd pfd = {.fd = s->wire.fd,
					     .events = POLLIN};
			(void)poll(&pfd, 1, 100);
			continue;
		}
		if (type == 'W')
			return WB_OK; /* CopyBothResponse: streaming */
		if (type == 'E')
			wb_pg_wire_error_text(body, len, why, sizeof(why));
		else if (type == 'Z')
			rc = wb_error_set(err, WB_ERR_RUNTIME, "%s",
					  why[0] ? why : "refused");
		/* notices and parameter statuses say nothing here */
	}
	wb_pg_wire_free(&s->wire);
	return rc;
}

/* START_REPLICATION from `start` on the replication connection. */
static int start_stream(struct pg_source *s, uint64_t start, wb_error_t *err)
{
	char lsn[32], sql[256];
	wb_pg_format_lsn(start, lsn, sizeof(lsn));
	snprintf(sql, sizeof(sql),
		 "START_REPLICATION SLOT \"%s\" LOGICAL %s "
		 "(proto_version '1', publication_names '\"%s\"')",
		 s->slot, lsn, s->publication);
	s->raw = !PQsslInUse(s->repl) && !PQgssEncInUse(s->repl);
	if (s->raw) {
		int rc = start_raw(s, sql, err);
		if (rc) {
			s->raw = false;
			wb_error_prefix(err,
					"cannot start replication from slot %s",
					s->slot);
			if (rc != WB_ERR_CONNECT)
				err->retriable =
					PQstatus(s->repl) != CONNECTION_OK;
			return err->code;
		}
	} else {
		PGresult *res = PQexec(s->repl, sql);
		if (PQresultStatus(res) != PGRES_COPY_BOTH) {
			char line[400];
			const char *detail =
				res ? PQresultErrorField(res,
							 PG_DIAG_MESSAGE_DETAIL)
				    : NULL;
			wb_error_set(
				err, WB_ERR_RUNTIME,
				"cannot start replication from "
				"slot %s: %s%s%s",
				s->slot,
				wb_pg_error_line(s->repl, line, sizeof(line)),
				detail ? " " : "", detail ? detail : "");
			/* a dead connection may heal; a refusal does not */
			err->retriable = PQstatus(s->repl) != CONNECTION_OK;
			PQclear(res);
			return err->code;
		}
		PQclear(res);
	}
	s->sent_flush = start;
	if (start > s->received_lsn)
		s->received_lsn = start;
	s->last_status_ms = wb_clock_mono_ms();
	s->last_data_ms = wb_clock_mono_ms();
	wb_info("postgres", "streaming slot %s (publication %s) from %s%s",
		s->slot, s->publication, lsn,
		s->raw ? "" : " (encrypted: through libpq)");
	return WB_OK;
}

static int pg_open(struct wb_source *base,
		   const struct wb_source_resume *resume, wb_error_t *err)
{
	struct pg_source *s = (struct pg_source *)base;
	const struct wb_config *cfg = base->cfg;
	int rc;

	if ((rc = wb_pg_catalog_open(&s->cat, cfg, err)))
		return rc;
	if ((rc = check_wal_level(s, err)))
		return rc;
	if ((rc = wb_pg_resolve_tables(&s->cat, &s->targets, &s->ntargets,
				       err)))
		return rc;
	if ((rc = wb_pgsrc_check_identity(s, s->targets, s->ntargets, err)))
		return rc;
	if ((rc = wb_pgsrc_check_select(s, s->targets, s->ntargets, err)))
		return rc;
	bool *refused = calloc((size_t)s->ntargets + 1, sizeof(bool));
	if (refused == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	rc = wb_pgsrc_ensure_publication(s, s->targets, s->ntargets, refused,
					 err);
	for (int i = s->ntargets - 1; rc == 0 && i >= 0; i--)
		if (refused[i]) {
			free(s->targets[i].schema);
			free(s->targets[i].name);
			s->targets[i] = s->targets[--s->ntargets];
		}
	free(refused);
	if (rc)
		return rc;

	/* Can the stream continue from the checkpoint? Never past a gap:
	 * stop, or (asked to) read the tables again. */
	struct wb_pg_slot si;
	if ((rc = wb_pg_slot_read(s->cat.conn, s->slot, &si, err)))
		return rc;
	bool resnapshot = resume->resnapshot;
	if (wb_pgsrc_find_gap(s, resume, &si, err) != WB_OK) {
		if (err->code == WB_ERR_CONFIG ||
		    (!resume->resnapshot &&
		     cfg->source.on_gap != WB_ON_GAP_RESNAPSHOT))
			return err->code;
		wb_warn("postgres", "%s", err->message);
		wb_warn("postgres",
			"reading every captured table again (%s), then "
			"streaming on",
			resume->resnapshot ? "--resnapshot"
					   : "source.on_gap: resnapshot");
		wb_error_clear(err);
		resnapshot = true;
		if (si.exists && si.lost && (rc = wb_pgsrc_drop_slot(s, err)))
			return rc;
		if (si.lost)
			si.exists = false;
	}

	/* which tables need a snapshot */
	enum wb_snapshot_mode mode = cfg->source.snapshot;
	if (mode != WB_SNAPSHOT_NEVER || resnapshot) {
		json_t *st =
			resume->have && resume->state
				? json_object_get(resume->state, "snapshot")
				: NULL;
		if (resnapshot || mode == WB_SNAPSHOT_ALWAYS || !resume->have) {
			for (int i = 0; i < s->ntargets && rc == 0; i++)
				rc = wb_pg_snapshot_add(
					s->snap, s->targets[i].schema,
					s->targets[i].name, err);
		} else if (st) {
			rc = wb_pg_snapshot_restore(s->snap, st, err);
		}
		bool taken;
		if (rc == 0)
			rc = take_request(s, &taken, err);
		if (rc)
			return rc;
	}
	if ((rc = wb_pgsrc_known_init(s, resume, mode != WB_SNAPSHOT_NEVER,
				      err)))
		return rc;
	bool pending =
		wb_pg_snapshot_pending(s->snap) || wb_pgsrc_gone_pending(s);

	s->repl = wb_pg_connect(cfg, "database", err);
	if (s->repl == NULL) {
		if (strstr(err->message, "replication") != NULL)
			wb_error_prefix(err, "the user needs the REPLICATION "
					     "attribute (ALTER ROLE ... WITH "
					     "REPLICATION)");
		return err->code;
	}
	uint64_t start = resume->have ? resume->ack : 0;
	if (!resume->have && si.exists && !resnapshot) {
		char conf[32];
		wb_pg_format_lsn(si.confirmed, conf, sizeof(conf));
		wb_warn("postgres",
			"no checkpoint: streaming from slot %s where it stands "
			"(%s); changes confirmed before it are not read",
			s->slot, conf);
	}
	if (!si.exists) {
		if ((rc = create_slot(s, pending, err)))
			return rc;
		s->created_slot = true;
		/* the stream of a new slot starts at its consistent point,
		 * and nothing before it is ours to deliver: the first
		 * checkpoint records it as the ack even when it holds only
		 * snapshot rows (which carry no ack) */
		start = s->slot_point;
		pthread_mutex_lock(&s->mu);
		s->idle_candidate = s->slot_point;
		pthread_mutex_unlock(&s->mu);
	}
	if ((rc = start_stream(s, start, err)))
		return rc;
	s->open_ack = start > si.confirmed ? start : si.confirmed;
	pthread_mutex_lock(&s->mu);
	s->durable_ack = resume->have ? resume->ack : 0;
	if (resume->have)
		s->durable_pos = resume->pos;
	pthread_mutex_unlock(&s->mu);
	if (pending && si.exists && (rc = begin_temp_round(s, err)))
		return rc;
	return WB_OK;
}

static int send_status(struct pg_source *s, bool reply, wb_error_t *err)
{
	pthread_mutex_lock(&s->mu);
	uint64_t flush = s->durable_ack;
	pthread_mutex_unlock(&s->mu);
	uint8_t msg[34];
	msg[0] = 'r';
	put_u64(msg + 1, flush); /* write: we report what is durable */
	put_u64(msg + 9, flush); /* flush */
	put_u64(msg + 17, 0);	 /* apply: unused */
	put_u64(msg + 25, (uint64_t)pg_now_us());
	msg[33] = reply ? 1 : 0;
	if (s->raw) {
		int rc = wb_pg_wire_send(&s->wire, 'd', msg, sizeof(msg), err);
		if (rc)
			return rc;
	} else if (PQputCopyData(s->repl, (const char *)msg, sizeof(msg)) !=
			   1 ||
		   PQflush(s->repl) != 0) {
		char line[400];
		wb_error_set(err, WB_ERR_CONNECT,
			     "PostgreSQL connection lost: %s",
			     wb_pg_error_line(s->repl, line, sizeof(line)));
		err->retriable = true;
		return err->code;
	}
	if (flush != s->sent_flush) {
		char lsn[32];
		wb_pg_format_lsn(flush, lsn, sizeof(lsn));
		wb_debug("postgres", "confirmed flush %s", lsn);
	}
	s->sent_flush = flush;
	s->last_status_ms = wb_clock_mono_ms();
	return WB_OK;
}

static struct pg_rel *find_rel(struct pg_source *s, uint32_t oid)
{
	if (s->last_rel >= 0 && s->rels[s->last_rel].oid == oid)
		return &s->rels[s->last_rel];
	for (int i = 0; i < s->nrels; i++)
		if (s->rels[i].oid == oid) {
			s->last_rel = i;
			return &s->rels[i];
		}
	return NULL;
}

/* Whether two versions of a table differ in what the schema shows:
 * columns, their types, nullability and the key. */
static bool shape_changed(const struct wb_table *a, const struct wb_table *b)
{
	if (a->ncols != b->ncols)
		return true;
	for (int i = 0; i < a->ncols; i++) {
		const struct wb_column *x = &a->cols[i], *y = &b->cols[i];
		if (strcmp(x->name, y->name) != 0 ||
		    x->type.src_type != y->type.src_type ||
		    x->type.s.kind != y->type.s.kind ||
		    x->type.s.precision != y->type.s.precision ||
		    x->type.s.scale != y->type.s.scale ||
		    x->nullable != y->nullable || x->key != y->key)
			return true;
	}
	return false;
}

static int on_relation(struct pg_source *s, const struct wb_pg_msg *m,
		       wb_error_t *err)
{
	struct pg_rel *r = find_rel(s, m->u.relation.oid);
	if (r == NULL) {
		if (s->nrels == s->caprels) {
			int cap = s->caprels ? s->caprels * 2 : 16;
			struct pg_rel *nr =
				realloc(s->rels, (size_t)cap * sizeof(*nr));
			if (nr == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			s->rels = nr;
			s->caprels = cap;
		}
		r = &s->rels[s->nrels++];
		memset(r, 0, sizeof(*r));
		r->oid = m->u.relation.oid;
		s->last_rel = -1;
	}
	struct wb_table *old = r->table; /* compared below, then dropped */
	r->table = NULL;
	r->captured = wb_pg_table_selected(s->base.cfg, m->u.relation.nspname,
					   m->u.relation.relname);
	if (!r->captured) {
		wb_table_unref(old);
		return WB_OK;
	}

	int n = m->u.relation.ncols;
	struct wb_pg_coldesc *cols =
		calloc(n > 0 ? (size_t)n : 1, sizeof(*cols));
	if (cols == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	struct wb_pg_relcol_iter it = m->u.relation.cols;
	struct wb_pg_relcol rc;
	for (int i = 0; i < n && wb_pg_relcol_next(&it, &rc); i++) {
		cols[i].name = rc.name;
		cols[i].type_oid = rc.type_oid;
		cols[i].typmod = rc.typmod;
		cols[i].key_flag = rc.flags & 1;
	}
	r->table = wb_pg_build_table(
		&s->cat, r->oid, m->u.relation.nspname, m->u.relation.relname,
		(char)m->u.relation.replident, cols, n, err);
	free(cols);
	if (r->table && old && shape_changed(old, r->table))
		wb_info("postgres",
			"table %s.%s changed shape: %d → %d columns; its "
			"events "
			"use a new schema from here on",
			m->u.relation.nspname, m->u.relation.relname,
			old->ncols, r->table->ncols);
	int ret = r->table ? wb_pgsrc_rekey_note(s, old, r->table, err)
			   : err->code;
	wb_table_unref(old);
	if (ret)
		return ret;
	wb_debug("postgres", "relation %s.%s (%d columns)",
		 m->u.relation.nspname, m->u.relation.relname, n);
	return WB_OK;
}

static int convert_tuple(struct pg_source *s, struct wb_batch *b,
			 struct wb_table *t, const struct wb_pg_tuple *tup,
			 char kind, struct wb_value **out, wb_error_t *err)
{
	if (tup->ncols != t->ncols)
		return wb_error_set(
			err, WB_ERR_DECODE,
			"pgoutput: tuple of %s.%s has %u columns, its "
			"relation %d",
			t->schema, t->name, tup->ncols, t->ncols);
	struct wb_value *v = wb_batch_values(b, t->ncols);
	if (v == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	struct wb_pg_tuple_iter it;
	struct wb_pg_col col;
	wb_pg_tuple_iter_init(&it, tup);
	for (int i = 0; wb_pg_tuple_next(&it, &col); i++) {
		switch (col.kind) {
		case 'n':
			/* a key-only old image leaves the rest unsent */
			v[i].state = (kind == 'K' && !t->cols[i].key)
					     ? WB_VAL_UNCHANGED
					     : WB_VAL_NULL;
			if (v[i].state == WB_VAL_NULL && !t->cols[i].nullable)
				s->null_in_notnull = true;
			break;
		case 'u':
			v[i].state = WB_VAL_UNCHANGED;
			break;
		case 't': {
			int rc = (s->borrow ? wb_pg_text_to_value_ref
					    : wb_pg_text_to_value)(
				&t->cols[i].type, (const char *)col.data,
				col.len, &b->arena, &v[i], err);
			if (rc == WB_ERR_NOMEM)
				return rc;
			if (rc != WB_OK) {
				if (!t->cols[i].nullable)
					return rc;
				if (!s->warned_type)
					wb_warn("postgres",
						"%s.%s.%s: %s; written as "
						"null",
						t->schema, t->name,
						t->cols[i].name, err->message);
				s->warned_type = true;
				v[i].state = WB_VAL_NULL;
			}
			break;
		}
		default:
			return wb_error_set(
				err, WB_ERR_DECODE,
				"pgoutput: unexpected binary column");
		}
	}
	*out = v;
	return WB_OK;
}

static struct wb_change *add_change(struct pg_source *s, struct wb_batch *b,
				    uint8_t op, struct wb_table *t,
				    wb_error_t *err)
{
	struct wb_change *c = wb_batch_add(b);
	if (c == NULL || (t && wb_batch_hold(b, t) == NULL)) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	c->op = op;
	c->table = t;
	c->pos.major = s->final_lsn;
	c->pos.minor = ++s->ordinal;
	c->txid = s->xid;
	c->commit_ts_us = s->commit_ts_us;
	s->last_pos = c->pos;
	return c;
}

/* A change written before a column became NOT NULL carries a NULL that
 * the table's version (built from today's catalog) calls impossible: the
 * change, and the table from here on, get a version in which every column
 * holding a NULL is nullable. Never a made-up value. */
static int widen(struct pg_source *s, struct wb_batch *b, struct pg_rel *r,
		 struct wb_change *c, wb_error_t *err)
{
	struct wb_table *t = wb_table_copy(r->table);
	if (t == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (int i = 0; i < t->ncols; i++) {
		bool null = (c->before && c->before[i].state == WB_VAL_NULL) ||
			    (c->after && c->after[i].state == WB_VAL_NULL);
		if (null && !t->cols[i].nullable) {
			t->cols[i].nullable = true;
			wb_warn("postgres",
				"%s.%s.%s is NOT NULL but a change at %X/%X "
				"holds a NULL (written before the constraint): "
				"the column is nullable in the schema from "
				"here on",
				t->schema, t->name, t->cols[i].name,
				(unsigned)(c->pos.major >> 32),
				(unsigned)c->pos.major);
		}
	}
	if (wb_batch_hold(b, t) == NULL) {
		wb_table_unref(t);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	wb_table_unref(r->table);
	r->table = t; /* keeps the creation reference; the batch has its own */
	c->table = t;
	return WB_OK;
}

static int on_row(struct pg_source *s, struct wb_batch *b,
		  const struct wb_pg_msg *m, wb_error_t *err)
{
	uint32_t oid = m->type == WB_PG_INSERT	 ? m->u.insert.oid
		       : m->type == WB_PG_UPDATE ? m->u.update.oid
						 : m->u.delete_.oid;
	struct pg_rel *r = find_rel(s, oid);
	if (r == NULL)
		return wb_error_set(
			err, WB_ERR_DECODE,
			"pgoutput: change for relation %u before its "
			"Relation message",
			oid);
	if (!s->in_txn)
		return wb_error_set(
			err, WB_ERR_DECODE,
			"pgoutput: row change outside a transaction");
	if (!r->captured) {
		/* it still takes its ordinal: positions must not depend on
		 * which tables the configuration captures, or a table added
		 * between a crash and the restart would shift the positions
		 * of the transaction being replayed */
		s->ordinal++;
		return WB_OK;
	}
	struct wb_table *t = r->table;
	struct wb_change *c = NULL;
	int rc = WB_OK;
	s->null_in_notnull = false;
	switch (m->type) {
	case WB_PG_INSERT:
		if (!(c = add_change(s, b, WB_OP_INSERT, t, err)))
			return err->code;
		rc = convert_tuple(s, b, t, &m->u.insert.newtup, 'N', &c->after,
				   err);
		break;
	case WB_PG_UPDATE:
		if (!(c = add_change(s, b, WB_OP_UPDATE, t, err)))
			return err->code;
		if (m->u.update.old_kind)
			rc = convert_tuple(s, b, t, &m->u.update.oldtup,
					   m->u.update.old_kind, &c->before,
					   err);
		if (rc == WB_OK)
			rc = convert_tuple(s, b, t, &m->u.update.newtup, 'N',
					   &c->after, err);
		break;
	default:
		if (!(c = add_change(s, b, WB_OP_DELETE, t, err)))
			return err->code;
		rc = convert_tuple(s, b, t, &m->u.delete_.oldtup,
				   m->u.delete_.old_kind, &c->before, err);
		break;
	}
	if (rc == WB_OK && s->null_in_notnull)
		rc = widen(s, b, r, c, err);
	if (rc == WB_OK && s->nrekeys > 0)
		rc = wb_pgsrc_rekey_change(s, b, c, err);
	return rc;
}

static int on_message(struct pg_source *s, struct wb_batch *b,
		      const uint8_t *data, size_t len, wb_error_t *err)
{
	struct wb_pg_msg m;
	int rc = wb_pgoutput_decode(data, len, &m, err);
	if (rc)
		return rc;
	switch (m.type) {
	case WB_PG_BEGIN:
		s->in_txn = true;
		s->final_lsn = m.u.begin.final_lsn;
		s->xid = m.u.begin.xid;
		s->commit_ts_us = m.u.begin.commit_ts + PG_EPOCH_OFFSET_US;
		s->ordinal = 0;
		return WB_OK;
	case WB_PG_COMMIT: {
		struct wb_change *c = wb_batch_add(b);
		if (c == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		c->op = WB_OP_COMMIT;
		c->pos.major = s->final_lsn;
		c->pos.minor = COMMIT_ORDINAL;
		c->txid = s->xid;
		c->commit_ts_us = s->commit_ts_us;
		c->ack = m.u.commit.end_lsn;
		s->last_pos = c->pos;
		s->in_txn = false;
		return WB_OK;
	}
	case WB_PG_RELATION:
		return on_relation(s, &m, err);
	case WB_PG_INSERT:
	case WB_PG_UPDATE:
	case WB_PG_DELETE:
		return on_row(s, b, &m, err);
	case WB_PG_TRUNCATE:
		for (uint32_t i = 0; i < m.u.truncate.nrels; i++) {
			struct pg_rel *r =
				find_rel(s, wb_pg_truncate_oid(&m, i));
			if (r == NULL || !r->captured) {
				s->ordinal++; /* as on_row: positions do not
						 depend on the capture */
				continue;
			}
			if (add_change(s, b, WB_OP_TRUNCATE, r->table, err) ==
			    NULL)
				return err->code;
		}
		return WB_OK;
	default: /* Type, Origin, Message: nothing to emit */
		return WB_OK;
	}
}

static void note_keepalive(struct pg_source *s, uint64_t wal_end)
{
	if (wal_end > s->received_lsn) {
		s->received_lsn = wal_end;
		wb_mset(&wb_metrics.server_position, wal_end);
	}
	if (s->in_txn)
		return;
	/* Everything produced is durable: the slot may move to what the
	 * walsender has decoded (nothing up to it is left to send). The
	 * positions are compared whole: a checkpoint inside the last
	 * transaction (its COMMIT decoded, its tail still queued) has the
	 * transaction's commit LSN but not its end, and confirming past it
	 * would lose the tail at the next start. */
	pthread_mutex_lock(&s->mu);
	if (wb_position_cmp(&s->durable_pos, &s->last_pos) >= 0 &&
	    wal_end > s->durable_ack && wal_end > s->idle_candidate)
		s->idle_candidate = wal_end;
	pthread_mutex_unlock(&s->mu);
	/* A keepalive's WAL end is how far the walsender has decoded, not
	 * how far the server has written: a large transaction can still be
	 * in decoding. Caught up means the walsender reached the WAL end we
	 * read from the server before asking. */
	if (s->server_end != 0 && wal_end >= s->server_end)
		s->caught_up = true;
}

static int pg_keepalive(struct wb_source *base, wb_error_t *err);

/* The server's WAL flush LSN, which a keepalive must reach before the
 * stream counts as caught up. */
static int read_server_end(struct pg_source *s, wb_error_t *err)
{
	PGresult *res = wb_pg_query(s->cat.conn,
				    "SELECT pg_current_wal_flush_lsn()::text",
				    0, NULL, err);
	if (res == NULL) {
		err->retriable = true;
		return err->code;
	}
	uint64_t lsn;
	if (wb_pg_parse_lsn(PQgetvalue(res, 0, 0), &lsn) == 0)
		s->server_end = lsn;
	PQclear(res);
	return WB_OK;
}

/* True while a round waits for the stream to reach its point. */
static bool awaiting_point(const struct pg_source *s)
{
	return wb_pg_snapshot_active(s->snap) && !s->snap_ready;
}

/* Handles one CopyData message. A Begin at or past the point of a waiting
 * round is held back (a copy in s->held) until the round's rows are
 * emitted. big: the message was read raw into a buffer of its own, which
 * the batch takes over so that string values point into it instead of
 * being copied. */
static int on_copy_data(struct pg_source *s, struct wb_batch *b,
			const uint8_t *p, size_t len, bool big, wb_error_t *err)
{
	if (p[0] == 'k' && len >= 18) {
		uint64_t wal_end = wb_pg_get_u64(p + 1);
		note_keepalive(s, wal_end);
		if (awaiting_point(s) && !s->in_txn && wal_end >= s->snap_point)
			s->snap_ready = true;
		if (p[17])
			return send_status(s, false, err);
		return WB_OK;
	}
	if (p[0] == 'w' && len >= 25) {
		if (awaiting_point(s) && len >= 34 && p[25] == 'B' &&
		    wb_pg_get_u64(p + 26) >= s->snap_point) {
			s->held = malloc(len);
			if (s->held == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			memcpy(s->held, p, len);
			s->held_len = (int)len;
			s->snap_ready = true;
			return WB_OK;
		}
		uint64_t wal_end = wb_pg_get_u64(p + 9);
		if (wal_end > s->received_lsn) {
			s->received_lsn = wal_end;
			wb_mset(&wb_metrics.server_position, wal_end);
		}
		s->caught_up = false;
		s->got_data = true; /* pg_poll's housekeeping reads the clock */
		if (big) {
			uint8_t *own = wb_pg_wire_take(&s->wire);
			if (own != NULL && wb_batch_adopt(b, own, len) != 0) {
				free(own);
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			}
			s->borrow = own != NULL;
		}
		int rc = on_message(s, b, p + 25, len - 25, err);
		s->borrow = false;
		return rc;
	}
	return wb_error_set(
		err, WB_ERR_DECODE,
		"replication protocol: unexpected message '%c' of %zu "
		"bytes",
		p[0] >= 32 && p[0] < 127 ? p[0] : '?', len);
}

/* The next CopyData message of a raw stream: 1 (*p, *len, *big set), 0
 * when none has come whole yet, -1 with err set (the server's message
 * when it ended the stream). */
static int next_raw(struct pg_source *s, const uint8_t **p, size_t *len,
		    bool *big, wb_error_t *err)
{
	for (;;) {
		uint8_t type;
		int r = wb_pg_wire_next(&s->wire, &type, p, len, err);
		if (r <= 0)
			return r;
		char text[400];
		switch (type) {
		case 'd':
			if (*len == 0)
				break;
			*big = s->wire.big_done;
			return 1;
		case 'E':
		case 'Z':
			if (type == 'E')
				wb_pg_wire_error_text(*p, *len, text,
						      sizeof(text));
			wb_error_set(err, WB_ERR_RUNTIME,
				     "PostgreSQL ended the replication "
				     "stream: %s",
				     type == 'E' ? text : "");
			err->retriable = true;
			return -1;
		case 'N':
			wb_pg_wire_error_text(*p, *len, text, sizeof(text));
			wb_info("postgres", "server notice: %s", text);
			break;
		default: /* ParameterStatus, CopyDone, CommandComplete */
			break;
		}
	}
}

/* The stream is at the round's point: emit its rows. The stream waits
 * (status updates keep it alive); a snapshot of a big table takes long. */
static int snapshot_poll(struct pg_source *s, struct wb_batch *b,
			 size_t target_bytes, long long deadline,
			 wb_error_t *err)
{
	if (wb_clock_mono_ms() - s->last_status_ms >= 2000) {
		int rc = send_status(s, false, err);
		if (rc)
			return rc;
	}
	if (wb_pgsrc_gone_pending(s)) {
		int rc = wb_pgsrc_emit_truncates(s, b, err);
		if (rc)
			return rc;
	}
	long long left = deadline - wb_clock_mono_ms();
	bool complete = false;
	uint32_t n0 = b->n;
	int rc = wb_pg_snapshot_step(s->snap, b, target_bytes,
				     left > 0 ? (int)left : 0, &s->last_pos,
				     &complete, err);
	if (rc == WB_OK && s->nrekeys > 0)
		rc = wb_pgsrc_rekey_rows(s, b, n0, err);
	if (rc)
		return rc;
	if (complete) {
		end_round(s);
		/* initial_only: nothing follows these rows; the pipeline
		 * drains this batch before it stops the source */
		if (s->base.cfg->source.snapshot == WB_SNAPSHOT_INITIAL_ONLY &&
		    !wb_pg_snapshot_pending(s->snap))
			atomic_store(&s->finished, true);
	}
	return WB_OK;
}

static int poll_stream(struct wb_source *base, struct wb_batch *b,
		       size_t target_bytes, int timeout_ms, wb_error_t *err);

/* Removes from b, after its first n0 changes, what the stream sends again
 * after a reconnect (positions at or below replay_upto). Their values stay
 * in the arena until the batch is reset. */
static void drop_replayed(struct pg_source *s, struct wb_batch *b, uint32_t n0)
{
	uint32_t out = n0;
	for (uint32_t i = n0; i < b->n; i++) {
		if (wb_position_cmp(&b->changes[i].pos, &s->replay_upto) <= 0)
			continue;
		if (out != i)
			b->changes[out] = b->changes[i];
		out++;
	}
	/* positions grow: once one change is past, the replay is over */
	if (out > n0)
		memset(&s->replay_upto, 0, sizeof(s->replay_upto));
	b->n = out;
}

static int pg_poll(struct wb_source *base, struct wb_batch *b,
		   size_t target_bytes, int timeout_ms, wb_error_t *err)
{
	struct pg_source *s = (struct pg_source *)base;
	uint32_t n0 = b->n;
	int rc = poll_stream(base, b, target_bytes, timeout_ms, err);
	if (!wb_position_is_zero(&s->replay_upto))
		drop_replayed(s, b, n0);
	/* published here, on the source thread, for pg_caught_up */
	atomic_store(
		&s->caught_up_shared,
		rc == 0 && s->caught_up && !wb_pg_snapshot_active(s->snap) &&
			!wb_pg_snapshot_pending(s->snap) && s->held == NULL);
	return rc;
}

static int poll_stream(struct wb_source *base, struct wb_batch *b,
		       size_t target_bytes, int timeout_ms, wb_error_t *err)
{
	struct pg_source *s = (struct pg_source *)base;
	long long deadline = wb_clock_mono_ms() + timeout_ms;
	int interval = base->cfg->source.status_interval_ms > 0
			       ? base->cfg->source.status_interval_ms
			       : 10000;
	int rc;
	if (base->cfg->source.snapshot == WB_SNAPSHOT_INITIAL_ONLY &&
	    !wb_pg_snapshot_active(s->snap) &&
	    !wb_pg_snapshot_pending(s->snap)) {
		/* initial_only: the snapshot is emitted; nothing more comes */
		atomic_store(&s->finished, true);
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
		return pg_keepalive(base, err);
	}
	/* Housekeeping (clock, requests, feedback) runs at the start, after
	 * every wait and every 64 messages: not per message, which at a few
	 * hundred thousand messages a second would cost as much as decoding. */
	bool housekeeping = true;
	unsigned spins = 0;
	int short_waits = 0;
	for (;;) {
		if (wb_pg_snapshot_active(s->snap) && s->snap_ready)
			return snapshot_poll(s, b, target_bytes, deadline, err);
		if (!housekeeping && (++spins & 63) != 0)
			goto read;
		housekeeping = false;
		long long now = wb_clock_mono_ms();
		if (s->got_data) {
			s->last_data_ms = now;
			s->got_data = false;
		}
		if (!wb_pg_snapshot_active(s->snap) &&
		    base->cfg->source.snapshot != WB_SNAPSHOT_NEVER) {
			bool taken = false;
			if ((rc = take_request(s, &taken, err)))
				return rc;
		}
		if (!wb_pg_snapshot_active(s->snap) && !s->in_txn &&
		    now - s->last_discover_ms >= DISCOVER_MS) {
			s->last_discover_ms = now;
			if ((rc = wb_pgsrc_discover(s, err)))
				return rc;
			wb_pgsrc_slot_retained(s);
		}
		if (!wb_pg_snapshot_active(s->snap) && !s->in_txn &&
		    (wb_pg_snapshot_pending(s->snap) ||
		     wb_pgsrc_gone_pending(s)) &&
		    (rc = begin_temp_round(s, err)))
			return rc;

		pthread_mutex_lock(&s->mu);
		bool ack_moved = s->durable_ack != s->sent_flush;
		pthread_mutex_unlock(&s->mu);
		/* when nothing arrives for a second, ask the server where it
		 * is, so an idle stream learns it is caught up (or that it is
		 * past a waiting round's point) */
		bool ask = (!s->caught_up || awaiting_point(s)) &&
			   now - s->last_data_ms >= 1000 &&
			   now - s->last_status_ms >= 1000;
		if (ask && (rc = read_server_end(s, err)))
			return rc;
		/* A new durable ack outside a transaction also asks for a
		 * keepalive: its WAL end lets an idle slot move on at once. */
		bool ack_due = ack_moved && now - s->last_status_ms >= 100;
		if (ack_due || ask || now - s->last_status_ms >= interval) {
			rc = send_status(s, ask || (ack_due && !s->in_txn),
					 err);
			if (rc)
				return rc;
		}

	read:;
		const uint8_t *msg = NULL;
		size_t len = 0;
		char *pqbuf = NULL;
		char *held = NULL;
		bool big = false;
		int got = 1;
		if (s->held) {
			held = s->held;
			msg = (const uint8_t *)held;
			len = (size_t)s->held_len;
			s->held = NULL;
		} else if (s->raw) {
			got = next_raw(s, &msg, &len, &big, err);
			if (got < 0)
				return err->code;
		} else {
			int n = PQgetCopyData(s->repl, &pqbuf, 1);
			if (n == -1) {
				PGresult *res = PQgetResult(s->repl);
				char line[400];
				wb_error_set(err, WB_ERR_RUNTIME,
					     "PostgreSQL ended the replication "
					     "stream: %s",
					     res && PQresultErrorMessage(res)[0]
						     ? PQresultErrorMessage(res)
						     : wb_pg_error_line(
							       s->repl, line,
							       sizeof(line)));
				char *nl = strchr(err->message, '\n');
				if (nl)
					*nl = '\0';
				err->retriable = true;
				PQclear(res);
				return err->code;
			}
			if (n < 0)
				goto lost;
			got = n > 0;
			msg = (const uint8_t *)pqbuf;
			len = n > 0 ? (size_t)n : 0;
		}
		if (got == 0 && s->mem_wait) {
			s->mem_wait = false;
			return WB_OK; /* stopping while waiting for memory */
		}
		if (got == 0) {
			housekeeping = true;
			long long left = deadline - wb_clock_mono_ms();
			if (b->n > 0 && !s->in_txn) {
				/* hand over what we have, after a short wait
				 * for more (at most 5 x 2 ms per batch): fuller
				 * batches, fewer wake-ups of the sink thread */
				if (short_waits++ == 5)
					return WB_OK;
				left = 2;
			}
			if (left <= 0)
				return WB_OK;
			if (s->coalesce) {
				s->coalesce = false;
				struct timespec ts = {0,
						      READ_COALESCE_US * 1000L};
				nanosleep(&ts, NULL);
				if (!s->raw && PQconsumeInput(s->repl) == 0)
					goto lost;
				continue;
			}
			int fd = s->raw ? s->wire.fd : PQsocket(s->repl);
			fd_set rfds;
			FD_ZERO(&rfds);
			FD_SET(fd, &rfds);
			struct timeval tv = {left / 1000, (left % 1000) * 1000};
			if (left > 1000)
				tv = (struct timeval){1, 0};
			int ready = select(fd + 1, &rfds, NULL, NULL, &tv);
			if (ready < 0 && errno != EINTR)
				return wb_error_set(err, WB_ERR_RUNTIME,
						    "select: %s",
						    strerror(errno));
			if (ready == 0 && b->n > 0 && !s->in_txn)
				return WB_OK; /* nothing more came */
			if (!s->raw && PQconsumeInput(s->repl) == 0)
				goto lost;
			continue;
		}

		s->coalesce = true;
		rc = on_copy_data(s, b, msg, len, big, err);
		free(held);
		if (pqbuf)
			PQfreemem(pqbuf);
		if (rc)
			return rc;
		if (wb_batch_bytes(b) >= target_bytes)
			return WB_OK;
	}
lost : {
	char line[400];
	wb_error_set(err, WB_ERR_CONNECT, "PostgreSQL connection lost: %s",
		     wb_pg_error_line(s->repl, line, sizeof(line)));
	err->retriable = true;
	return err->code;
}
}

/* After a lost connection: connects again, checks that the slot still
 * holds everything after the durable position (never past a gap), and
 * streams again from the durable ack; what the server resends up to the
 * last change produced is dropped (drop_replayed). A snapshot round in
 * progress cannot continue on new connections: that stops the pipeline,
 * and the restart resumes the snapshot from its last durable chunk. */
static int pg_reconnect(struct wb_source *base, wb_error_t *err)
{
	struct pg_source *s = (struct pg_source *)base;
	const struct wb_config *cfg = base->cfg;
	if (wb_pg_snapshot_active(s->snap))
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "PostgreSQL connection lost during a "
				    "snapshot; restart waybill: it resumes the "
				    "snapshot after its last durable chunk");
	PQfinish(s->repl);
	s->repl = NULL;
	wb_pg_wire_free(&s->wire);
	s->raw = false;
	free(s->held);
	s->held = NULL;
	wb_pg_catalog_close(&s->cat);
	int rc = wb_pg_catalog_open(&s->cat, cfg, err);
	if (rc == WB_OK) {
		struct wb_pg_slot si;
		pthread_mutex_lock(&s->mu);
		/* before the first checkpoint the slot stands where this
		 * process started it */
		struct wb_source_resume r = {.have = true,
					     .pos = s->durable_pos,
					     .ack = s->durable_ack > s->open_ack
							    ? s->durable_ack
							    : s->open_ack};
		pthread_mutex_unlock(&s->mu);
		rc = wb_pg_slot_read(s->cat.conn, s->slot, &si, err);
		if (rc == WB_OK && wb_pgsrc_find_gap(s, &r, &si, err) != WB_OK)
			return err->code; /* not retriable */
		if (rc == WB_OK) {
			s->repl = wb_pg_connect(cfg, "database", err);
			rc = s->repl ? start_stream(s, r.ack, err) : err->code;
		}
	}
	if (rc) {
		/* wb_pg_connect says whether a refused connection may heal;
		 * anything else failing on a dead connection may */
		if (err->code != WB_ERR_CONNECT &&
		    (s->cat.conn == NULL ||
		     PQstatus(s->cat.conn) != CONNECTION_OK ||
		     (s->repl && PQstatus(s->repl) != CONNECTION_OK)))
			err->retriable = true;
		return rc;
	}
	/* a new walsender session: relations come again, transactions from
	 * the start */
	for (int i = 0; i < s->nrels; i++)
		wb_table_unref(s->rels[i].table);
	s->nrels = 0;
	s->last_rel = -1;
	s->in_txn = false;
	s->caught_up = false;
	s->server_end = 0;
	if (wb_position_cmp(&s->last_pos, &s->replay_upto) > 0)
		s->replay_upto = s->last_pos;
	return WB_OK;
}

static int pg_keepalive(struct wb_source *base, wb_error_t *err)
{
	struct pg_source *s = (struct pg_source *)base;
	if (wb_clock_mono_ms() - s->last_status_ms >= 1000)
		return send_status(s, false, err);
	return WB_OK;
}

static void pg_ack(struct wb_source *base, const wb_position_t *pos,
		   uint64_t ack)
{
	struct pg_source *s = (struct pg_source *)base;
	atomic_store(&s->acked, true);
	pthread_mutex_lock(&s->mu);
	if (wb_position_cmp(&s->durable_pos, pos) < 0)
		s->durable_pos = *pos;
	if (ack > s->durable_ack)
		s->durable_ack = ack;
	pthread_mutex_unlock(&s->mu);
	/* a checkpoint now records the taken request's tables */
	wb_snapshot_request_acked(&s->req);
}

static uint64_t pg_idle_ack(struct wb_source *base)
{
	struct pg_source *s = (struct pg_source *)base;
	pthread_mutex_lock(&s->mu);
	uint64_t v = s->idle_candidate;
	pthread_mutex_unlock(&s->mu);
	return v;
}

static bool pg_caught_up(struct wb_source *base)
{
	struct pg_source *s = (struct pg_source *)base;
	return atomic_load(&s->caught_up_shared);
}

static json_t *pg_state(struct wb_source *base, const wb_position_t *durable)
{
	struct pg_source *s = (struct pg_source *)base;
	wb_pg_snapshot_durable(s->snap, durable);
	wb_snapshot_request_recorded(&s->req);
	json_t *snap = wb_pg_snapshot_state(s->snap);
	json_t *known = wb_pgsrc_known_state(s, durable);
	json_t *out = json_object();
	if (out == NULL)
		return NULL;
	if (snap)
		json_object_set_new(out, "snapshot", snap);
	if (known)
		json_object_set_new(out, "tables", known);
	return out;
}

static bool pg_finished(struct wb_source *base)
{
	return atomic_load(&((struct pg_source *)base)->finished);
}

/* Writes v in upper-case hex without leading zeros; returns the length. */
static size_t put_hex(char *p, uint32_t v)
{
	char tmp[8];
	size_t n = 0;
	do {
		tmp[n++] = "0123456789ABCDEF"[v & 15];
		v >>= 4;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* "0/16B3748:12" or "0/16B3748:end"; called for every event, so no printf. */
static void pg_format_position(const wb_position_t *pos, char *buf, size_t n)
{
	char tmp[48];
	size_t len = put_hex(tmp, (uint32_t)(pos->major >> 32));
	tmp[len++] = '/';
	len += put_hex(tmp + len, (uint32_t)pos->major);
	tmp[len++] = ':';
	if (pos->minor == COMMIT_ORDINAL) {
		memcpy(tmp + len, "end", 3);
		len += 3;
	} else {
		char digits[24];
		size_t d = 0;
		uint64_t v = pos->minor;
		do {
			digits[d++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		while (d)
			tmp[len++] = digits[--d];
	}
	if (n == 0)
		return;
	if (len >= n)
		len = n - 1;
	memcpy(buf, tmp, len);
	buf[len] = '\0';
}

static int pg_parse_position(const char *text, wb_position_t *pos)
{
	char lsn[32];
	const char *colon = strchr(text, ':');
	if (colon == NULL || (size_t)(colon - text) >= sizeof(lsn))
		return -1;
	memcpy(lsn, text, (size_t)(colon - text));
	lsn[colon - text] = '\0';
	if (wb_pg_parse_lsn(lsn, &pos->major))
		return -1;
	if (strcmp(colon + 1, "end") == 0) {
		pos->minor = COMMIT_ORDINAL;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1)
		return -1;
	pos->minor = v;
	return 0;
}

static int pg_parse_ack(const char *text, uint64_t *ack)
{
	return wb_pg_parse_lsn(text, ack);
}

/* A slot this process created and no checkpoint ever used only pins WAL:
 * a first run that fails drops it (the next start creates it again). */
static void drop_unused_slot(struct pg_source *s)
{
	if (!s->created_slot || atomic_load(&s->acked) || s->cat.conn == NULL ||
	    PQstatus(s->cat.conn) != CONNECTION_OK)
		return;
	PQfinish(s->repl); /* releases the slot */
	s->repl = NULL;
	wb_pg_wire_free(&s->wire);
	s->raw = false;
	end_round(s);
	wb_error_t err;
	wb_error_clear(&err);
	for (int i = 0; i < 50; i++) {
		if (wb_pgsrc_drop_slot(s, &err) == WB_OK)
			return;
		/* the walsender may take a moment to release it */
		struct timespec ts = {0, 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
	wb_warn("postgres", "%s; drop it by hand", err.message);
}

/* Ends a raw stream as PQputCopyEnd would: CopyDone, then what the server
 * still sends, up to ReadyForQuery, so that it sees the final flush
 * before we hang up. */
static void end_raw(struct pg_source *s)
{
	wb_error_t err;
	if (wb_pg_wire_send(&s->wire, 'c', NULL, 0, &err) != WB_OK)
		return;
	long long deadline = wb_clock_mono_ms() + 2000;
	while (wb_clock_mono_ms() < deadline) {
		uint8_t type;
		const uint8_t *body;
		size_t len;
		int r = wb_pg_wire_next(&s->wire, &type, &body, &len, &err);
		if (r < 0 || (r == 1 && (type == 'Z' || type == 'E')))
			return;
		if (r == 0) {
			struct pollfd pfd = {.fd = s->wire.fd,
					     .events = POLLIN};
			(void)poll(&pfd, 1, 100);
		}
	}
}

static void pg_close(struct wb_source *base)
{
	struct pg_source *s = (struct pg_source *)base;
	if (s->repl == NULL || PQstatus(s->repl) != CONNECTION_OK) {
		drop_unused_slot(s);
		return;
	}
	wb_error_t err;
	if (s->raw) {
		if (send_status(s, false, &err) == 0)
			end_raw(s);
	} else if (send_status(s, false, &err) == 0 &&
		   PQputCopyEnd(s->repl, NULL) == 1 && PQflush(s->repl) == 0) {
		/* let the server see the final flush before we hang up */
		long long deadline = wb_clock_mono_ms() + 2000;
		while (wb_clock_mono_ms() < deadline) {
			char *buf = NULL;
			int len = PQgetCopyData(s->repl, &buf, 1);
			if (buf)
				PQfreemem(buf);
			if (len == -1 || len == -2)
				break;
			if (len == 0) {
				int fd = PQsocket(s->repl);
				fd_set rfds;
				FD_ZERO(&rfds);
				FD_SET(fd, &rfds);
				struct timeval tv = {0, 100000};
				select(fd + 1, &rfds, NULL, NULL, &tv);
				if (PQconsumeInput(s->repl) == 0)
					break;
			}
		}
	}
	char lsn[32];
	wb_pg_format_lsn(s->sent_flush, lsn, sizeof(lsn));
	wb_info("postgres", "closed slot %s at confirmed flush %s", s->slot,
		lsn);
	drop_unused_slot(s);
	PQfinish(s->repl);
	s->repl = NULL;
	wb_pg_wire_free(&s->wire);
	s->raw = false;
	end_round(s);
}

static void pg_destroy(struct wb_source *base)
{
	struct pg_source *s = (struct pg_source *)base;
	if (s == NULL)
		return;
	PQfinish(s->repl);
	PQfinish(s->snap_conn);
	wb_pg_snapshot_free(s->snap);
	wb_pg_reltargets_free(s->targets, s->ntargets);
	wb_pgsrc_rekey_free(s);
	for (int i = 0; i < s->ngone; i++)
		wb_table_unref(s->gone[i].table);
	free(s->gone);
	json_decref(s->known);
	json_decref(s->refused);
	free(s->held);
	wb_pg_wire_free(&s->wire);
	wb_pg_catalog_close(&s->cat);
	for (int i = 0; i < s->nrels; i++)
		wb_table_unref(s->rels[i].table);
	free(s->rels);
	free(s->slot);
	free(s->publication);
	wb_snapshot_request_destroy(&s->req);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static struct wb_table **pg_describe(struct wb_source *base, wb_error_t *err)
{
	struct pg_source *s = (struct pg_source *)base;
	struct wb_pg_reltarget *t = NULL;
	int n = 0;
	struct wb_table **out = NULL;
	if (s->cat.conn == NULL && wb_pg_catalog_open(&s->cat, base->cfg, err))
		return NULL;
	if (wb_pg_resolve_tables(&s->cat, &t, &n, err))
		return NULL;
	out = calloc((size_t)n + 1, sizeof(*out));
	if (out == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (int i = 0; i < n; i++) {
		out[i] = wb_pg_describe_table(&s->cat, &t[i], err);
		if (out[i] == NULL) {
			for (int j = 0; j < i; j++)
				wb_table_unref(out[j]);
			free(out);
			out = NULL;
			goto done;
		}
	}
done:
	wb_pg_reltargets_free(t, n);
	return out;
}

/* REPLICA IDENTITY FULL: the before image holds every column. */
static int pg_before_image(struct wb_source *base, const struct wb_table *t,
			   bool *complete, bool *none_on_update, char *fix,
			   size_t n, wb_error_t *err)
{
	(void)none_on_update; /* false: updates send what deletes send */
	struct pg_source *s = (struct pg_source *)base;
	if (s->cat.conn == NULL && wb_pg_catalog_open(&s->cat, base->cfg, err))
		return err->code;
	const char *params[2] = {t->schema, t->name};
	PGresult *r = PQexecParams(
		s->cat.conn,
		"SELECT c.relreplident FROM pg_class c JOIN pg_namespace n "
		"ON n.oid = c.relnamespace WHERE n.nspname = $1 AND "
		"c.relname = $2",
		2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char line[400];
		wb_error_set(err, WB_ERR_RUNTIME,
			     "replica identity of %s.%s: %s", t->schema,
			     t->name,
			     wb_pg_error_line(s->cat.conn, line, sizeof(line)));
		PQclear(r);
		return err->code;
	}
	*complete = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 'f';
	PQclear(r);
	char qs[300], qt[300];
	char *es =
		PQescapeIdentifier(s->cat.conn, t->schema, strlen(t->schema));
	char *et = PQescapeIdentifier(s->cat.conn, t->name, strlen(t->name));
	snprintf(qs, sizeof(qs), "%s", es ? es : t->schema);
	snprintf(qt, sizeof(qt), "%s", et ? et : t->name);
	PQfreemem(es);
	PQfreemem(et);
	snprintf(fix, n, "ALTER TABLE %s.%s REPLICA IDENTITY FULL;", qs, qt);
	return WB_OK;
}

int wb_pg_check(struct wb_source *base, FILE *out, wb_error_t *err);
int wb_pg_status(struct wb_source *base, const struct wb_source_resume *resume,
		 json_t *obj, wb_error_t *err);

const struct wb_source_ops wb_pg_source_ops = {
	.name = "postgres",
	.create = pg_create,
	.open = pg_open,
	.poll = pg_poll,
	.keepalive = pg_keepalive,
	.reconnect = pg_reconnect,
	.ack = pg_ack,
	.caught_up = pg_caught_up,
	.idle_ack = pg_idle_ack,
	.format_position = pg_format_position,
	.parse_position = pg_parse_position,
	.ack_name = "flush_lsn",
	.format_ack = wb_pg_format_lsn,
	.parse_ack = pg_parse_ack,
	.check = wb_pg_check,
	.status = wb_pg_status,
	.close = pg_close,
	.destroy = pg_destroy,
	.describe = pg_describe,
	.before_image = pg_before_image,
	.sample = wb_pgsrc_sample,
	.slot_list = wb_pg_slot_list,
	.slot_drop = wb_pg_slot_drop,
	.state = pg_state,
	.finished = pg_finished,
};
