/* my_source.c — the MySQL/MariaDB source: tails the row binlog as a
 * replica would (see my_stream.c), with positions, resume, failover by
 * GTID, reconnects and the checkpoint's source state.
 *
 * Checkpoint state: {"file_base": "mysql-bin", "server_id": N,
 * "server_uuid": "..." (MySQL), "epoch": E, "gtid": "<state after the
 * last durable commit>", "txn_gtid": "<GTID of the transaction the durable
 * position is inside of>"}. The same server resumes at the durable
 * transaction's first event (file:offset from the position); another
 * server of the topology (failover) resumes from the GTID state, in a new
 * epoch, dropping what of the transaction in progress was delivered. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "my_connect.h"
#include "my_gtid.h"
#include "my_source_int.h"

extern const struct wb_source_ops wb_my_source_ops;

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* The server_id waybill's dump uses unless source.server_id says: in
 * 1000000000..1000065535, from the pipeline's name. */
static uint32_t default_replica_id(const char *name)
{
	return 1000000000u + (fnv1a(name) & 0xffff);
}

static struct wb_source *my_create(const struct wb_config *cfg, wb_error_t *err)
{
	const char *sid = wb_config_extra(cfg->source.extra, cfg->source.nextra,
					  "server_id");
	const char *hb = wb_config_extra(cfg->source.extra, cfg->source.nextra,
					 "heartbeat");
	uint32_t replica = default_replica_id(cfg->name);
	int64_t hb_ms = 1000;
	if (sid) {
		char *end;
		unsigned long long v = strtoull(sid, &end, 10);
		if (*end || v == 0 || v > 4294967295ULL) {
			wb_error_set(err, WB_ERR_CONFIG,
				     "%s: source.server_id: expected a number "
				     "1-4294967295",
				     cfg->path);
			return NULL;
		}
		replica = (uint32_t)v;
	}
	if (hb) {
		hb_ms = wb_config_parse_duration_ms(hb);
		if (hb_ms < 100 || hb_ms > 3600000) {
			wb_error_set(err, WB_ERR_CONFIG,
				     "%s: source.heartbeat: expected a "
				     "duration from 100ms to 1h",
				     cfg->path);
			return NULL;
		}
	}
	struct my_source *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	s->base.ops = &wb_my_source_ops;
	s->base.cfg = cfg;
	s->replica_id = replica;
	s->heartbeat_ms = (int)hb_ms;
	pthread_mutex_init(&s->mu, NULL);
	wb_buf_init(&s->scratch);
	wb_snapshot_request_init(&s->req, cfg, "mysql");
	s->snap = wb_snapshot_new("mysql", cfg->source.snapshot_chunk_rows, 1);
	if (s->snap == NULL) {
		wb_my_source_ops.destroy(&s->base);
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	return &s->base;
}

/* Reads what the source needs to know of the server. */
static int server_facts(struct my_source *s, wb_error_t *err)
{
	MYSQL_RES *r = wb_my_query(
		s->meta,
		"SELECT @@server_id, VERSION(), @@log_bin, @@binlog_format, "
		"@@global.binlog_checksum",
		err);
	if (r == NULL)
		return err->code;
	MYSQL_ROW row = mysql_fetch_row(r);
	int rc = WB_OK;
	if (row == NULL || !row[0] || !row[1]) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "cannot read the server's settings");
		goto done;
	}
	s->server_id = (uint32_t)strtoul(row[0], NULL, 10);
	s->mariadb = strstr(row[1], "MariaDB") != NULL;
	if (!row[2] || strcmp(row[2], "1") != 0) {
		rc = wb_error_set(err, WB_ERR_CONFIG,
				  "binary logging is off on the server: start "
				  "it with log_bin (and binlog_format=ROW, "
				  "binlog_row_metadata=FULL)");
		goto done;
	}
	if (!row[3] || strcmp(row[3], "ROW") != 0) {
		rc = wb_error_set(err, WB_ERR_CONFIG,
				  "binlog_format is %s: waybill reads row "
				  "events only; set binlog_format=ROW on the "
				  "server (SET GLOBAL binlog_format='ROW' and "
				  "in its configuration)",
				  row[3] ? row[3] : "unknown");
		goto done;
	}
	s->checksum = row[4] && strcmp(row[4], "CRC32") == 0;
	{
		wb_error_t ignored;
		char *m = wb_my_scalar(s->meta, "SELECT @@binlog_row_metadata",
				       &ignored);
		s->meta_full = m && strcmp(m, "FULL") == 0;
		free(m);
	}
	s->server_uuid[0] = '\0';
	s->gtid_mode = s->mariadb;
	if (!s->mariadb) {
		mysql_free_result(r);
		r = wb_my_query(s->meta, "SELECT @@server_uuid, @@gtid_mode",
				err);
		if (r == NULL)
			return err->code;
		row = mysql_fetch_row(r);
		if (row && row[0])
			snprintf(s->server_uuid, sizeof(s->server_uuid), "%s",
				 row[0]);
		s->gtid_mode = row && row[1] && strcmp(row[1], "ON") == 0;
	}
done:
	mysql_free_result(r);
	return rc;
}

static int first_value(void *ctx, char **v, unsigned long *lens, int n)
{
	char **out = ctx;
	(void)lens;
	if (n > 0 && v[0] && *out == NULL && (*out = strdup(v[0])) == NULL)
		return WB_ERR_NOMEM;
	return 0;
}

/* The server's current end: file, offset and GTID state there. */
static int server_end(struct my_source *s, char *file, size_t cap,
		      uint32_t *off, char **gtid, wb_error_t *err)
{
	*gtid = NULL;
	MYSQL_RES *r = wb_my_query(s->meta, "SHOW MASTER STATUS", err);
	if (r == NULL)
		return err->code;
	MYSQL_ROW row = mysql_fetch_row(r);
	if (row == NULL || !row[0] || !row[1]) {
		mysql_free_result(r);
		return wb_error_set(err, WB_ERR_CONFIG,
				    "SHOW MASTER STATUS returned nothing: "
				    "binary logging is off, or the user lacks "
				    "REPLICATION CLIENT (GRANT REPLICATION "
				    "CLIENT ON *.* TO <user>)");
	}
	snprintf(file, cap, "%s", row[0]);
	*off = (uint32_t)strtoul(row[1], NULL, 10);
	mysql_free_result(r);
	if (s->mariadb) {
		char offs[16];
		snprintf(offs, sizeof(offs), "%u", *off);
		const char *params[2] = {file, offs};
		int rc = wb_my_select(s->meta, "SELECT BINLOG_GTID_POS(?, ?)",
				      params, 2, first_value, gtid, err);
		if (rc)
			return rc == WB_ERR_NOMEM
				       ? wb_error_set(err, WB_ERR_NOMEM,
						      "out of memory")
				       : rc;
		if (*gtid == NULL)
			*gtid = strdup("");
	} else if (s->gtid_mode) {
		*gtid = wb_my_scalar(s->meta, "SELECT @@global.gtid_executed",
				     err);
		if (*gtid == NULL && err->code)
			return err->code;
		if (*gtid == NULL)
			*gtid = strdup("");
	}
	if (s->gtid_mode && *gtid == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return WB_OK;
}

static int open_dump(struct my_source *s, wb_error_t *err)
{
	int rt = s->heartbeat_ms * 3 / 1000;
	s->dump = wb_my_connect(s->base.cfg, rt < 10 ? 10 : rt, err);
	return s->dump ? WB_OK : err->code;
}

static int my_parse_position(const char *text, wb_position_t *pos);

static const char *state_str(json_t *st, const char *key)
{
	json_t *v = st ? json_object_get(st, key) : NULL;
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int my_open(struct wb_source *base,
		   const struct wb_source_resume *resume, wb_error_t *err)
{
	struct my_source *s = (struct my_source *)base;
	const struct wb_config *cfg = base->cfg;
	int rc;
	s->meta = wb_my_connect(cfg, 60, err);
	if (s->meta == NULL)
		return err->code;
	if ((rc = server_facts(s, err)))
		return rc;
	char file[512];
	uint32_t off = 4;
	char *gtid = NULL;
	const char *start_gtid = NULL;
	enum wb_snapshot_mode mode = cfg->source.snapshot;
	json_t *snapst = resume->have && resume->state
				 ? json_object_get(resume->state, "snapshot")
				 : NULL;
	if (snapst && !resume->resnapshot && mode != WB_SNAPSHOT_ALWAYS &&
	    (rc = wb_snapshot_restore(s->snap, snapst, err)))
		return rc;
	if ((resume->resnapshot || mode == WB_SNAPSHOT_ALWAYS ||
	     (!resume->have && mode != WB_SNAPSHOT_NEVER)) &&
	    (rc = wb_mysrc_snapshot_add_all(s, err)))
		return rc;
	if ((!resume->have || resume->resnapshot ||
	     mode == WB_SNAPSHOT_ALWAYS) &&
	    wb_snapshot_pending(s->snap)) {
		/* every captured table is read again: the stream starts at
		 * the round's point (past a gap, too) */
		s->epoch = 0;
		if (resume->have && resume->state) {
			json_t *ep = json_object_get(resume->state, "epoch");
			json_t *sid =
				json_object_get(resume->state, "server_id");
			s->epoch = json_is_integer(ep)
					   ? (unsigned)json_integer_value(ep)
					   : 0;
			/* positions on another server come after */
			if (!json_is_integer(sid) ||
			    (uint32_t)json_integer_value(sid) != s->server_id)
				s->epoch++;
			pthread_mutex_lock(&s->mu);
			s->durable_pos = resume->pos;
			pthread_mutex_unlock(&s->mu);
		}
		return WB_OK;
	}
	if (!resume->have) {
		if ((rc = server_end(s, file, sizeof(file), &off, &gtid, err)))
			return rc;
		s->epoch = 0;
		wb_info("mysql",
			"no checkpoint: capturing the changes from the "
			"server's current end %s:%u%s%s",
			file, off, gtid && gtid[0] ? ", GTID " : "",
			gtid ? gtid : "");
	} else {
		json_t *st = resume->state;
		const char *base_name = state_str(st, "file_base");
		json_t *sid = st ? json_object_get(st, "server_id") : NULL;
		json_t *ep = st ? json_object_get(st, "epoch") : NULL;
		const char *g = state_str(st, "gtid");
		const char *uuid = state_str(st, "server_uuid");
		const char *tg = state_str(st, "txn_gtid");
		if (base_name == NULL || !json_is_integer(sid))
			return wb_error_set(
				err, WB_ERR_RUNTIME,
				"the checkpoint has no binlog position of "
				"this source (was it written by another "
				"source type?): move it away to start anew");
		s->epoch = json_is_integer(ep)
				   ? (unsigned)json_integer_value(ep)
				   : 0;
		bool same = (uint32_t)json_integer_value(sid) == s->server_id &&
			    (uuid == NULL || s->server_uuid[0] == '\0' ||
			     strcmp(uuid, s->server_uuid) == 0);
		if (g && (gtid = strdup(g)) == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		const char *sf = state_str(st, "start_file");
		json_t *so = st ? json_object_get(st, "start_offset") : NULL;
		if (same && resume->pos.major == 0) {
			/* nothing was produced before that checkpoint */
			if (sf == NULL || !json_is_integer(so))
				return wb_error_set(
					err, WB_ERR_RUNTIME,
					"the checkpoint has neither a position "
					"nor a start point: move it away to "
					"start anew");
			snprintf(file, sizeof(file), "%s", sf);
			off = (uint32_t)json_integer_value(so);
		} else if (same) {
			uint64_t m = resume->pos.major;
			json_t *pt = snapst ? json_object_get(snapst, "point")
					    : NULL;
			wb_position_t p;
			if (json_is_string(pt) &&
			    my_parse_position(json_string_value(pt), &p) == 0 &&
			    m + 1 == p.major)
				m = p.major; /* a snapshot row: the stream
						starts at its point */
			snprintf(file, sizeof(file), "%s.%06u", base_name,
				 wb_my_major_seq(m));
			off = wb_my_major_off(m);
			s->replay_upto = resume->pos;
		} else {
			if (!s->gtid_mode || g == NULL) {
				free(gtid);
				return wb_error_set(
					err, WB_ERR_RUNTIME,
					"the server is another one than the "
					"checkpoint's (server_id %" PRId64
					", now %u) and the checkpoint has no "
					"GTID state to resume from there: "
					"point the pipeline back at that "
					"server, or enable GTIDs",
					(int64_t)json_integer_value(sid),
					s->server_id);
			}
			if (s->epoch >= 255) {
				free(gtid);
				return wb_error_set(err, WB_ERR_RUNTIME,
						    "too many server changes");
			}
			s->epoch++;
			start_gtid = gtid;
			if (tg && tg[0] &&
			    resume->pos.minor != MY_COMMIT_ORDINAL) {
				snprintf(s->replay_gtid, sizeof(s->replay_gtid),
					 "%s", tg);
				s->replay_ordinal = resume->pos.minor;
			}
			wb_warn("mysql",
				"the server changed (server_id %" PRId64
				" → %u): resuming there from GTID state %s",
				(int64_t)json_integer_value(sid), s->server_id,
				gtid);
		}
		json_t *end = st ? json_object_get(st, "end") : NULL;
		json_t *ct = st ? json_object_get(st, "commit_time_ms") : NULL;
		pthread_mutex_lock(&s->mu);
		s->durable_pos = resume->pos;
		if (tg)
			snprintf(s->durable_txn_gtid,
				 sizeof(s->durable_txn_gtid), "%s", tg);
		/* where the durable transaction ends and when it committed
		 * stay known (the next checkpoint and the lag need them) until
		 * a newer one is durable; on another server they mean nothing
		 */
		if (same && json_is_integer(end))
			s->durable_end = (uint64_t)json_integer_value(end);
		if (same && json_is_integer(ct))
			s->durable_commit_us =
				(int64_t)json_integer_value(ct) * 1000;
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_lock(&s->mu);
	free(s->durable_gtid);
	s->durable_gtid = gtid;
	s->state_epoch = s->epoch;
	s->state_server_id = s->server_id;
	snprintf(s->state_server_uuid, sizeof(s->state_server_uuid), "%s",
		 s->server_uuid);
	const char *dot = strrchr(file, '.');
	free(s->state_file_base);
	s->state_file_base =
		strndup(file, dot ? (size_t)(dot - file) : strlen(file));
	snprintf(s->start_file, sizeof(s->start_file), "%s", file);
	s->start_off = off;
	pthread_mutex_unlock(&s->mu);
	if ((rc = open_dump(s, err)))
		return rc;
	return wb_mysrc_start_dump(s, start_gtid ? NULL : file, off, start_gtid,
				   err);
}

static int my_poll(struct wb_source *base, struct wb_batch *b,
		   size_t target_bytes, int timeout_ms, wb_error_t *err)
{
	struct my_source *s = (struct my_source *)base;
	int rc = WB_OK;
	bool taken;
	if (!s->snap_round && !s->in_txn && s->stream_open &&
	    (rc = wb_snapshot_request_poll(&s->req, wb_clock_mono_ms(),
					   wb_mysrc_snapshot_add_matching, s,
					   &taken, err)))
		goto done;
	if (!s->snap_round && !s->in_txn && wb_snapshot_pending(s->snap)) {
		if ((rc = wb_mysrc_snapshot_begin(s, err)))
			goto done;
		if (!s->stream_open) {
			/* the first start: the stream begins at the point */
			char file[300];
			snprintf(file, sizeof(file), "%s", s->point_file);
			pthread_mutex_lock(&s->mu);
			snprintf(s->start_file, sizeof(s->start_file), "%s",
				 file);
			s->start_off = s->point_off;
			const char *dot = strrchr(file, '.');
			free(s->state_file_base);
			s->state_file_base =
				strndup(file, dot ? (size_t)(dot - file)
						  : strlen(file));
			s->state_server_id = s->server_id;
			snprintf(s->state_server_uuid,
				 sizeof(s->state_server_uuid), "%s",
				 s->server_uuid);
			free(s->durable_gtid);
			s->durable_gtid = s->point_gtid;
			s->point_gtid = NULL;
			pthread_mutex_unlock(&s->mu);
			if ((rc = open_dump(s, err)) ||
			    (rc = wb_mysrc_start_dump(s, file, s->point_off,
						      NULL, err)))
				goto done;
		}
	}
	wb_mysrc_probe_server(s);
	if (s->snap_round && s->snap_ready)
		rc = wb_mysrc_snapshot_step(s, b, target_bytes, err);
	else
		rc = wb_mysrc_poll(s, b, target_bytes, timeout_ms, err);
	if (rc && s->gap_hit &&
	    base->cfg->source.on_gap == WB_ON_GAP_RESNAPSHOT &&
	    !s->snap_round && !s->in_txn) {
		/* on_gap: resnapshot: every captured table is read again at
		 * a new point, where the stream then starts */
		wb_warn("mysql",
			"%s; on_gap: resnapshot: reading every "
			"captured table again",
			err->message);
		s->gap_hit = false;
		wb_error_clear(err);
		mysql_close(s->dump);
		s->dump = NULL;
		s->stream_open = false;
		rc = wb_mysrc_snapshot_add_all(s, err);
	}
done:
	if (rc == 0 && base->cfg->source.snapshot == WB_SNAPSHOT_INITIAL_ONLY &&
	    !s->snap_round && !wb_snapshot_pending(s->snap))
		atomic_store(&s->snap_finished, true);
	atomic_store(&s->caught_up_shared,
		     rc == 0 && s->caught_up && !s->in_txn && !s->snap_round &&
			     !wb_snapshot_pending(s->snap));
	return rc;
}

static int my_keepalive(struct wb_source *base, wb_error_t *err)
{
	(void)base;
	(void)err;
	return WB_OK; /* the server sends heartbeats; nothing to answer */
}

/* After a lost connection: the same server again, from the transaction
 * of the last change produced (what was produced is dropped again). */
static int my_reconnect(struct wb_source *base, wb_error_t *err)
{
	struct my_source *s = (struct my_source *)base;
	mysql_close(s->dump);
	s->dump = NULL;
	s->held_len = 0; /* the server sends it again */
	mysql_close(s->meta);
	s->meta = wb_my_connect(base->cfg, 60, err);
	if (s->meta == NULL)
		return err->code;
	uint32_t before = s->server_id;
	char before_uuid[64];
	snprintf(before_uuid, sizeof(before_uuid), "%s", s->server_uuid);
	int rc = server_facts(s, err);
	if (rc) {
		err->retriable = err->code != WB_ERR_CONFIG;
		return rc;
	}
	if (s->server_id != before || strcmp(before_uuid, s->server_uuid)) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "the server changed while streaming "
				  "(server_id %u → %u): start waybill again "
				  "to resume there by GTID",
				  before, s->server_id);
		err->retriable = false;
		return rc;
	}
	if ((rc = open_dump(s, err)))
		return rc;
	wb_position_t from = s->last_pos;
	if (wb_position_is_zero(&from)) {
		pthread_mutex_lock(&s->mu);
		from = s->durable_pos;
		pthread_mutex_unlock(&s->mu);
	}
	char file[300];
	uint32_t off;
	if (wb_position_is_zero(&from)) {
		char *g = NULL;
		if ((rc = server_end(s, file, sizeof(file), &off, &g, err)))
			return rc;
		free(g);
	} else {
		snprintf(file, sizeof(file), "%s.%06u",
			 s->state_file_base ? s->state_file_base : "",
			 wb_my_major_seq(from.major));
		off = wb_my_major_off(from.major);
		if (wb_position_cmp(&from, &s->replay_upto) > 0)
			s->replay_upto = from;
	}
	/* the transaction in progress is read again from its start */
	pthread_mutex_lock(&s->mu);
	while (s->npend > 0) {
		struct my_pending *last =
			&s->pend[(s->pend_head + s->npend - 1) % s->cappend];
		if (last->major < from.major)
			break;
		s->npend--;
	}
	pthread_mutex_unlock(&s->mu);
	return wb_mysrc_start_dump(s, file, off, NULL, err);
}

static void my_ack(struct wb_source *base, const wb_position_t *pos,
		   uint64_t ack)
{
	struct my_source *s = (struct my_source *)base;
	(void)ack;
	pthread_mutex_lock(&s->mu);
	if (wb_position_cmp(&s->durable_pos, pos) < 0)
		s->durable_pos = *pos;
	pthread_mutex_unlock(&s->mu);
	wb_snapshot_request_acked(&s->req);
}

static bool my_caught_up(struct wb_source *base)
{
	return atomic_load(&((struct my_source *)base)->caught_up_shared);
}

static json_t *my_state(struct wb_source *base, const wb_position_t *durable)
{
	struct my_source *s = (struct my_source *)base;
	wb_snapshot_durable(s->snap, durable);
	wb_snapshot_request_recorded(&s->req);
	json_t *snap = wb_snapshot_state(s->snap);
	pthread_mutex_lock(&s->mu);
	s->durable_txn_gtid[0] = '\0';
	const char *done[64];
	size_t ndone = 0;
	while (s->npend > 0) {
		struct my_pending *p = &s->pend[s->pend_head];
		bool past = p->major < durable->major ||
			    (p->major == durable->major &&
			     durable->minor == MY_COMMIT_ORDINAL);
		if (!past) {
			if (p->major == durable->major)
				snprintf(s->durable_txn_gtid,
					 sizeof(s->durable_txn_gtid), "%s",
					 p->gtid);
			break;
		}
		done[ndone++] = p->gtid;
		s->durable_commit_us = p->commit_us;
		if (p->end)
			s->durable_end = p->end;
		s->pend_head = (s->pend_head + 1) % s->cappend;
		s->npend--;
		if (ndone == 64 || s->npend == 0 ||
		    !(s->pend[s->pend_head].major < durable->major ||
		      (s->pend[s->pend_head].major == durable->major &&
		       durable->minor == MY_COMMIT_ORDINAL))) {
			/* the popped entries stay in the ring until pushed
			 * over, which only the source thread does under mu */
			wb_error_t e;
			char *ng = wb_mysrc_gtid_apply(
				s->mariadb,
				s->durable_gtid ? s->durable_gtid : "", done,
				ndone, &e);
			if (ng) {
				free(s->durable_gtid);
				s->durable_gtid = ng;
			} else {
				wb_warn("mysql", "GTID state: %s", e.message);
			}
			ndone = 0;
		}
	}
	json_t *o = json_object();
	if (o) {
		json_object_set_new(o, "file_base",
				    json_string(s->state_file_base
							? s->state_file_base
							: ""));
		json_object_set_new(o, "server_id",
				    json_integer(s->state_server_id));
		if (s->state_server_uuid[0])
			json_object_set_new(o, "server_uuid",
					    json_string(s->state_server_uuid));
		json_object_set_new(o, "epoch", json_integer(s->state_epoch));
		if (snap)
			json_object_set_new(o, "snapshot", snap);
		if (durable->major == 0 && s->start_file[0]) {
			json_object_set_new(o, "start_file",
					    json_string(s->start_file));
			json_object_set_new(o, "start_offset",
					    json_integer(s->start_off));
		}
		if (s->durable_gtid)
			json_object_set_new(o, "gtid",
					    json_string(s->durable_gtid));
		if (s->durable_end)
			json_object_set_new(
				o, "end",
				json_integer((json_int_t)s->durable_end));
		if (s->durable_commit_us)
			json_object_set_new(
				o, "commit_time_ms",
				json_integer(s->durable_commit_us / 1000));
		if (s->durable_txn_gtid[0])
			json_object_set_new(o, "txn_gtid",
					    json_string(s->durable_txn_gtid));
	}
	pthread_mutex_unlock(&s->mu);
	return o;
}

char *wb_mysrc_gtid_apply(bool mariadb, const char *state,
			  const char *const *gtids, size_t n, wb_error_t *err)
{
	char *out = NULL;
	if (mariadb) {
		struct wb_my_gtid_state st, one;
		wb_my_gtid_state_init(&st);
		wb_my_gtid_state_init(&one);
		if (wb_my_gtid_state_parse(&st, state, err))
			goto maria_done;
		for (size_t i = 0; i < n; i++) {
			if (wb_my_gtid_state_parse(&one, gtids[i], err) ||
			    one.n != 1 ||
			    wb_my_gtid_state_update(&st, one.v[0].domain,
						    one.v[0].server,
						    one.v[0].seq, err))
				goto maria_done;
		}
		size_t len = wb_my_gtid_state_format(&st, NULL, 0);
		if ((out = malloc(len + 1)) != NULL)
			wb_my_gtid_state_format(&st, out, len + 1);
	maria_done:
		wb_my_gtid_state_free(&st);
		wb_my_gtid_state_free(&one);
		return out;
	}
	struct wb_my_gtid_set st, one;
	wb_my_gtid_set_init(&st);
	wb_my_gtid_set_init(&one);
	if (wb_my_gtid_set_parse(&st, state, err))
		goto done;
	for (size_t i = 0; i < n; i++) {
		if (wb_my_gtid_set_parse(&one, gtids[i], err) || one.n != 1 ||
		    one.sids[0].n != 1 ||
		    wb_my_gtid_set_add(&st, one.sids[0].uuid, one.sids[0].tag,
				       one.sids[0].iv[0].first, err))
			goto done;
	}
	size_t len = wb_my_gtid_set_format(&st, NULL, 0);
	if ((out = malloc(len + 1)) != NULL)
		wb_my_gtid_set_format(&st, out, len + 1);
done:
	wb_my_gtid_set_free(&st);
	wb_my_gtid_set_free(&one);
	return out;
}

static bool my_finished(struct wb_source *base)
{
	struct my_source *s = (struct my_source *)base;
	return atomic_load(&s->snap_finished);
}

/* Text: "[e<epoch>/]<file seq>:<offset>:<ordinal>", the ordinal being
 * "0" (BEGIN), "<event>.<row>" or "end" (COMMIT). */
static void my_format_position(const wb_position_t *pos, char *buf, size_t n)
{
	char ep[16] = "";
	char ord[48];
	unsigned e = wb_my_major_epoch(pos->major);
	if (e)
		snprintf(ep, sizeof(ep), "e%u/", e);
	if (pos->minor == MY_COMMIT_ORDINAL)
		snprintf(ord, sizeof(ord), "end");
	else if (pos->minor == 0)
		snprintf(ord, sizeof(ord), "0");
	else
		snprintf(ord, sizeof(ord), "%" PRIu64 ".%" PRIu64,
			 pos->minor >> 32, pos->minor & 0xffffffffu);
	snprintf(buf, n, "%s%06u:%u:%s", ep, wb_my_major_seq(pos->major),
		 wb_my_major_off(pos->major), ord);
}

static int my_parse_position(const char *text, wb_position_t *pos)
{
	unsigned e = 0;
	const char *p = text;
	char *end;
	if (*p == 'e') {
		e = (unsigned)strtoul(p + 1, &end, 10);
		if (end == p + 1 || *end != '/' || e > 255)
			return -1;
		p = end + 1;
	}
	unsigned long seq = strtoul(p, &end, 10);
	if (end == p || *end != ':' || seq > 0xffffff)
		return -1;
	p = end + 1;
	unsigned long long off = strtoull(p, &end, 10);
	if (end == p || *end != ':' || off > 0xffffffffULL)
		return -1;
	p = end + 1;
	pos->major = wb_my_major(e, (uint32_t)seq, (uint32_t)off);
	if (strcmp(p, "end") == 0) {
		pos->minor = MY_COMMIT_ORDINAL;
		return 0;
	}
	unsigned long long a = strtoull(p, &end, 10), b = 0;
	if (end == p)
		return -1;
	if (*end == '.') {
		p = end + 1;
		b = strtoull(p, &end, 10);
		if (end == p || a > 0xffffffffULL || b > 0xffffffffULL)
			return -1;
	} else if (a != 0) {
		return -1;
	}
	if (*end)
		return -1;
	pos->minor = (a << 32) | b;
	return 0;
}

static void my_format_ack(uint64_t ack, char *buf, size_t n)
{
	wb_position_t p = {ack, MY_COMMIT_ORDINAL};
	my_format_position(&p, buf, n);
}

static int my_parse_ack(const char *text, uint64_t *ack)
{
	wb_position_t p;
	if (my_parse_position(text, &p))
		return -1;
	*ack = p.major;
	return 0;
}

static void my_close(struct wb_source *base)
{
	struct my_source *s = (struct my_source *)base;
	mysql_close(s->dump);
	s->dump = NULL;
	mysql_close(s->meta);
	s->meta = NULL;
}

static void my_destroy(struct wb_source *base)
{
	struct my_source *s = (struct my_source *)base;
	if (s == NULL)
		return;
	my_close(base);
	wb_mysrc_tables_clear(s);
	free(s->tables);
	wb_buf_free(&s->scratch);
	wb_my_payload_reader_free(s->payload);
	wb_mysrc_snapshot_free(s);
	free(s->pend);
	free(s->durable_gtid);
	free(s->state_file_base);
	wb_snapshot_request_destroy(&s->req);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

struct describe_ctx {
	struct my_source *s;
	struct wb_table **out;
	size_t n, cap;
	wb_error_t *err;
};

static int describe_row(void *ctx, char **v, unsigned long *lens, int n)
{
	struct describe_ctx *d = ctx;
	(void)lens;
	if (n < 2 || !v[0] || !v[1])
		return 0;
	char full[520];
	snprintf(full, sizeof(full), "%s.%s", v[0], v[1]);
	if (!wb_config_table_selected(d->s->base.cfg, full))
		return 0;
	if (d->n + 2 > d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct wb_table **o = realloc(d->out, cap * sizeof(*o));
		if (o == NULL)
			return wb_error_set(d->err, WB_ERR_NOMEM,
					    "out of memory");
		d->out = o;
		d->cap = cap;
	}
	/* described after the listing: one statement at a time */
	struct wb_table *t = wb_table_new(v[0], v[0], v[1], 0);
	if (t == NULL)
		return wb_error_set(d->err, WB_ERR_NOMEM, "out of memory");
	d->out[d->n++] = t;
	d->out[d->n] = NULL;
	return 0;
}

/* `waybill schema`: the captured tables as information_schema describes
 * them, typed as the binlog's would be. */
static struct wb_table **my_describe(struct wb_source *base, wb_error_t *err)
{
	struct my_source *s = (struct my_source *)base;
	static const char sql[] =
		"SELECT TABLE_SCHEMA, TABLE_NAME FROM "
		"information_schema.TABLES "
		"WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN "
		"('mysql', 'information_schema', 'performance_schema', 'sys') "
		"ORDER BY TABLE_SCHEMA, TABLE_NAME";
	if (s->meta == NULL &&
	    (s->meta = wb_my_connect(base->cfg, 60, err)) == NULL)
		return NULL;
	struct describe_ctx d = {s, NULL, 0, 0, err};
	int rc = wb_my_select(s->meta, sql, NULL, 0, describe_row, &d, err);
	if (rc == 0 && d.out == NULL &&
	    (d.out = calloc(1, sizeof(*d.out))) == NULL)
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < d.n; i++) {
		struct wb_table *stub = d.out[i], *t = NULL;
		struct wb_type *types = NULL;
		struct wb_my_tablemap *tm = wb_mysrc_describe(
			s, stub->db, stub->name, &t, &types, err);
		wb_my_tablemap_free(tm);
		free(types);
		if (tm == NULL)
			rc = err->code;
		else {
			wb_table_unref(stub);
			d.out[i] = t;
		}
	}
	if (rc) {
		for (size_t i = 0; i < d.n; i++)
			wb_table_unref(d.out[i]);
		free(d.out);
		return NULL;
	}
	return d.out;
}

/* binlog_row_image FULL: the before image holds every column. */
static int my_before_image(struct wb_source *base, const struct wb_table *t,
			   bool *complete, bool *none_on_update, char *fix,
			   size_t n, wb_error_t *err)
{
	(void)none_on_update; /* false: updates send what deletes send */
	struct my_source *s = (struct my_source *)base;
	(void)t;
	if (s->meta == NULL &&
	    (s->meta = wb_my_connect(base->cfg, 60, err)) == NULL)
		return err->code;
	wb_error_clear(err);
	char *img = wb_my_scalar(s->meta, "SELECT @@binlog_row_image", err);
	if (img == NULL && err->code)
		return err->code;
	*complete = img && strcmp(img, "FULL") == 0;
	free(img);
	snprintf(fix, n,
		 "SET GLOBAL binlog_row_image = 'FULL'; (and binlog_row_image "
		 "= FULL in the server's configuration)");
	return WB_OK;
}

int wb_my_check(struct wb_source *base, FILE *out, wb_error_t *err);
int wb_my_status(struct wb_source *base, const struct wb_source_resume *resume,
		 json_t *obj, wb_error_t *err);

const struct wb_source_ops wb_my_source_ops = {
	.name = "mysql",
	.create = my_create,
	.open = my_open,
	.poll = my_poll,
	.keepalive = my_keepalive,
	.reconnect = my_reconnect,
	.ack = my_ack,
	.caught_up = my_caught_up,
	.format_position = my_format_position,
	.parse_position = my_parse_position,
	.ack_name = "binlog_position",
	.format_ack = my_format_ack,
	.parse_ack = my_parse_ack,
	.check = wb_my_check,
	.status = wb_my_status,
	.close = my_close,
	.destroy = my_destroy,
	.state = my_state,
	.finished = my_finished,
	.describe = my_describe,
	.before_image = my_before_image,
	.sample = wb_mysrc_sample,
};
