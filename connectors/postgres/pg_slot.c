/* pg_slot.c — the replication slot against the checkpoint: a position the
 * stream cannot continue from (a gap) is found here, never skipped. */
#include "pg_slot.h"
#include "metrics.h"
#include "pg_source_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

int wb_pg_slot_read(PGconn *conn, const char *slot, struct wb_pg_slot *v,
		    wb_error_t *err)
{
	memset(v, 0, sizeof(*v));
	PGresult *res = wb_pg_query(
		conn,
		"SELECT CASE WHEN pg_is_in_recovery() THEN "
		"pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text, "
		"s.slot_name IS NOT NULL, s.confirmed_flush_lsn::text, "
		"CASE WHEN current_setting('server_version_num')::int >= "
		"130000 "
		"THEN (to_jsonb(s) ->> 'wal_status') END, "
		"coalesce(s.active, false), "
		"s.plugin IS DISTINCT FROM 'pgoutput' OR "
		"s.database IS DISTINCT FROM current_database() "
		"FROM (SELECT 1) one LEFT JOIN pg_replication_slots s "
		"ON s.slot_name = $1",
		1, (const char *[]){slot}, err);
	if (res == NULL)
		return err->code;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "unexpected catalog answer");
	}
	snprintf(v->current_text, sizeof(v->current_text), "%s",
		 PQgetvalue(res, 0, 0));
	wb_pg_parse_lsn(v->current_text, &v->current);
	v->exists = PQgetvalue(res, 0, 1)[0] == 't';
	if (!PQgetisnull(res, 0, 2)) {
		v->has_confirmed = wb_pg_parse_lsn(PQgetvalue(res, 0, 2),
						   &v->confirmed) == 0;
	}
	if (!PQgetisnull(res, 0, 3))
		snprintf(v->wal_status, sizeof(v->wal_status), "%s",
			 PQgetvalue(res, 0, 3));
	v->lost = strcmp(v->wal_status, "lost") == 0;
	v->active = PQgetvalue(res, 0, 4)[0] == 't';
	v->foreign = v->exists && PQgetvalue(res, 0, 5)[0] == 't';
	PQclear(res);
	return WB_OK;
}

/* The ways past a gap, for the end of a one-line message. */
static void ways_out(const struct wb_config *cfg, char *buf, size_t n)
{
	if (cfg->source.on_gap == WB_ON_GAP_RESNAPSHOT)
		snprintf(buf, n,
			 "`on_gap: resnapshot` is set in %s: the next run "
			 "reads the captured tables again (online) and streams "
			 "from there",
			 cfg->path);
	else
		snprintf(buf, n,
			 "set `on_gap: resnapshot` under source in %s, or run "
			 "once `waybill run -c %s --resnapshot` (either reads "
			 "the captured tables again, online, and streams from "
			 "there)",
			 cfg->path, cfg->path);
}

/* Whether the slot can continue the checkpoint. Returns a short state
 * ("ok", "missing", "lost", "ahead", "no_checkpoint") and, unless ok,
 * fills problem with one line: what happened, the LSN range at risk and
 * the ways out. */
const char *wb_pg_slot_problem(const struct wb_config *cfg, bool have,
			       uint64_t ack, const struct wb_pg_slot *v,
			       char *problem, size_t n)
{
	char from[32], to[32], conf[32], ways[512];
	wb_pg_format_lsn(ack, from, sizeof(from));
	wb_pg_format_lsn(v->current, to, sizeof(to));
	wb_pg_format_lsn(v->confirmed, conf, sizeof(conf));
	ways_out(cfg, ways, sizeof(ways));
	problem[0] = '\0';
	if (!have) {
		/* active: a pipeline is running and has not written its
		 * first checkpoint yet; always: the tables are read again
		 * anyway; never: the slot was made for this pipeline to
		 * stream from where it stands (nothing before it is read,
		 * nothing after it skipped) */
		if (!v->exists || v->active ||
		    cfg->source.snapshot == WB_SNAPSHOT_ALWAYS ||
		    cfg->source.snapshot == WB_SNAPSHOT_NEVER)
			return "ok";
		snprintf(problem, n,
			 "slot %s exists but there is no checkpoint "
			 "(%s/%s.json): what the output already holds is "
			 "unknown, so a start would skip or repeat changes; "
			 "ways out: restore the checkpoint file, drop the slot "
			 "(SELECT pg_drop_replication_slot('%s');) to start "
			 "afresh, %s",
			 cfg->source.slot, cfg->checkpoint_dir, cfg->name,
			 cfg->source.slot, ways);
		return "no_checkpoint";
	}
	if (!v->exists) {
		snprintf(problem, n,
			 "slot %s is missing but the checkpoint is at "
			 "flush_lsn %s: the changes committed from %s to %s "
			 "(the server's position now) are held by no slot and "
			 "would be skipped; ways out: %s",
			 cfg->source.slot, from, from, to, ways);
		return "missing";
	}
	if (v->lost) {
		snprintf(problem, n,
			 "slot %s was invalidated (wal_status lost: the server "
			 "removed WAL the slot still needed, see "
			 "max_slot_wal_keep_size): the changes committed from "
			 "%s (the checkpoint's flush_lsn) to %s can no longer "
			 "be read; ways out: %s",
			 cfg->source.slot, from, to, ways);
		return "lost";
	}
	if (v->has_confirmed && v->confirmed > ack) {
		snprintf(problem, n,
			 "slot %s has confirmed_flush_lsn %s, past the "
			 "checkpoint's flush_lsn %s: the changes committed "
			 "from %s to %s were consumed by something else (or "
			 "the slot was dropped and created again) and never "
			 "written by this pipeline; ways out: %s",
			 cfg->source.slot, conf, from, from, conf, ways);
		return "ahead";
	}
	return "ok";
}

uint64_t wb_pg_slot_checkpoint_ack(bool have, uint64_t ack,
				   const wb_position_t *pos)
{
	if (have && ack == 0 && pos->major != 0)
		return pos->major + 1;
	return ack;
}

/* Describes why the stream cannot continue from the checkpoint into err
 * (not retriable), or returns WB_OK when it can. */
int wb_pgsrc_find_gap(struct pg_source *s,
		      const struct wb_source_resume *resume,
		      const struct wb_pg_slot *v, wb_error_t *err)
{
	const struct wb_config *cfg = s->base.cfg;
	if (v->foreign)
		return wb_error_set(err, WB_ERR_CONFIG,
				    "replication slot %s exists but is not a "
				    "pgoutput slot of database %s; choose "
				    "another source.slot",
				    s->slot, PQdb(s->cat.conn));
	char problem[1400];
	uint64_t ack = wb_pg_slot_checkpoint_ack(resume->have, resume->ack,
						 &resume->pos);
	const char *state = wb_pg_slot_problem(cfg, resume->have, ack, v,
					       problem, sizeof(problem));
	if (strcmp(state, "ok") == 0)
		return WB_OK;
	wb_mset(&wb_metrics.gap, 1);
	return wb_error_set(err, WB_ERR_RUNTIME, "gap: %s", problem);
}

int wb_pgsrc_drop_slot(struct pg_source *s, wb_error_t *err)
{
	const char *params[1] = {s->slot};
	PGresult *res =
		wb_pg_query(s->cat.conn, "SELECT pg_drop_replication_slot($1)",
			    1, params, err);
	if (res == NULL) {
		wb_error_prefix(err, "cannot drop replication slot %s",
				s->slot);
		return err->code;
	}
	PQclear(res);
	wb_info("postgres", "dropped replication slot %s", s->slot);
	return WB_OK;
}

int wb_pg_slot_list(struct wb_source *s, FILE *out, wb_error_t *err)
{
	const struct wb_config *cfg = s->cfg;
	PGconn *conn = wb_pg_connect(cfg, NULL, err);
	if (conn == NULL)
		return err->code;
	PGresult *res = wb_pg_query(
		conn,
		"SELECT s.slot_name, coalesce(s.plugin, '-'), s.slot_type, "
		"coalesce(s.database, '-'), "
		"CASE WHEN s.active THEN 'pid ' || s.active_pid ELSE 'no' END, "
		"coalesce(s.confirmed_flush_lsn::text, '-'), "
		"coalesce(s.restart_lsn::text, '-'), "
		"coalesce(CASE WHEN current_setting('server_version_num')::int "
		">= 130000 THEN (to_jsonb(s) ->> 'wal_status') END, '-'), "
		"coalesce(pg_size_pretty(pg_wal_lsn_diff(CASE WHEN "
		"pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE "
		"pg_current_wal_lsn() END, s.restart_lsn)), '-') "
		"FROM pg_replication_slots s ORDER BY s.slot_name",
		0, NULL, err);
	if (res == NULL) {
		wb_error_prefix(err, "cannot list the replication slots");
		PQfinish(conn);
		return err->code;
	}
	fprintf(out, "  %-32s %-10s %-8s %-16s %-10s %-14s %-14s %-10s %s\n",
		"SLOT", "PLUGIN", "TYPE", "DATABASE", "ACTIVE", "CONFIRMED",
		"RESTART", "WAL", "RETAINED");
	bool own = false;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *name = PQgetvalue(res, i, 0);
		bool mine = strcmp(name, cfg->source.slot) == 0;
		own |= mine;
		fprintf(out,
			"%s %-32s %-10s %-8s %-16s %-10s %-14s %-14s %-10s "
			"%s\n",
			mine ? "*" : " ", name, PQgetvalue(res, i, 1),
			PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
			PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
			PQgetvalue(res, i, 6), PQgetvalue(res, i, 7),
			PQgetvalue(res, i, 8));
	}
	fprintf(out, "%d slot(s); * = this pipeline's (%s)%s\n", PQntuples(res),
		cfg->source.slot, own ? "" : ", which does not exist yet");
	PQclear(res);
	PQfinish(conn);
	return WB_OK;
}

int wb_pg_slot_drop(struct wb_source *s, const char *name, wb_error_t *err)
{
	const struct wb_config *cfg = s->cfg;
	PGconn *conn = wb_pg_connect(cfg, NULL, err);
	if (conn == NULL)
		return err->code;
	int rc = WB_OK;
	const char *params[1] = {name};
	PGresult *res =
		wb_pg_query(conn,
			    "SELECT coalesce(active_pid::text, '') FROM "
			    "pg_replication_slots WHERE slot_name = $1",
			    1, params, err);
	if (res == NULL) {
		rc = err->code;
		goto done;
	}
	if (PQntuples(res) == 0) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "replication slot %s does not exist on the "
				  "server; `waybill slot list -c %s` shows "
				  "those that do",
				  name, cfg->path);
		goto done;
	}
	if (PQgetvalue(res, 0, 0)[0] != '\0') {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "replication slot %s is in use (process %s "
				  "streams from it); stop that pipeline first, "
				  "then drop the slot",
				  name, PQgetvalue(res, 0, 0));
		goto done;
	}
	PQclear(res);
	res = wb_pg_query(conn, "SELECT pg_drop_replication_slot($1)", 1,
			  params, err);
	if (res == NULL) {
		wb_error_prefix(err,
				"cannot drop replication slot %s (the user "
				"needs the REPLICATION attribute)",
				name);
		rc = err->code;
		goto done;
	}
done:
	PQclear(res);
	PQfinish(conn);
	return rc;
}

void wb_pgsrc_slot_retained(struct pg_source *s)
{
	long long now = wb_clock_mono_ms();
	if (s->last_retained_ms != 0 && now - s->last_retained_ms < 15000)
		return;
	s->last_retained_ms = now;
	const char *params[1] = {s->slot};
	PGresult *r = PQexecParams(
		s->cat.conn,
		"SELECT pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN "
		"pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END, "
		"restart_lsn)::bigint FROM pg_replication_slots WHERE "
		"slot_name = $1 AND restart_lsn IS NOT NULL",
		1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    !PQgetisnull(r, 0, 0)) {
		long long v = atoll(PQgetvalue(r, 0, 0));
		wb_mset(&wb_metrics.slot_retained_bytes,
			v > 0 ? (uint64_t)v : 0);
	} else {
		wb_debug("postgres", "slot %s: retained WAL unknown: %s",
			 s->slot, PQerrorMessage(s->cat.conn));
	}
	PQclear(r);
}
