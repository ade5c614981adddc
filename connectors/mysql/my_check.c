/* my_check.c — `waybill check` and `waybill status` for MySQL/MariaDB:
 * server settings, grants, server_id, binlog retention, position and lag. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "my_connect.h"
#include "my_source_int.h"

struct vars {
	char log_bin[8], format[32], image[32], metadata[32], gtid[16];
	char version[128];
	uint32_t server_id;
	bool mariadb;
};

static int read_vars(MYSQL *c, struct vars *v, wb_error_t *err)
{
	memset(v, 0, sizeof(*v));
	MYSQL_RES *r = wb_my_query(
		c,
		"SELECT @@log_bin, @@binlog_format, @@binlog_row_image, "
		"VERSION(), @@server_id",
		err);
	if (r == NULL)
		return err->code;
	MYSQL_ROW row = mysql_fetch_row(r);
	if (row) {
		snprintf(v->log_bin, sizeof(v->log_bin), "%s",
			 row[0] ? row[0] : "");
		snprintf(v->format, sizeof(v->format), "%s",
			 row[1] ? row[1] : "");
		snprintf(v->image, sizeof(v->image), "%s",
			 row[2] ? row[2] : "");
		snprintf(v->version, sizeof(v->version), "%s",
			 row[3] ? row[3] : "");
		v->server_id = row[4] ? (uint32_t)strtoul(row[4], NULL, 10) : 0;
	}
	mysql_free_result(r);
	v->mariadb = strstr(v->version, "MariaDB") != NULL;
	wb_error_t ignored;
	char *m = wb_my_scalar(c, "SELECT @@binlog_row_metadata", &ignored);
	snprintf(v->metadata, sizeof(v->metadata), "%s", m ? m : "unknown");
	free(m);
	char *g = v->mariadb ? strdup("ON")
			     : wb_my_scalar(c, "SELECT @@gtid_mode", &ignored);
	snprintf(v->gtid, sizeof(v->gtid), "%s", g ? g : "OFF");
	free(g);
	return WB_OK;
}

static int grant_row(void *ctx, char **v, unsigned long *lens, int n)
{
	struct wb_buf *b = ctx;
	(void)lens;
	if (n > 0 && v[0]) {
		wb_buf_append(b, v[0], strlen(v[0]));
		wb_buf_append(b, "\n", 1);
	}
	return 0;
}

/* Whether the grants (SHOW GRANTS text) give priv globally. */
static bool has_priv(const char *grants, const char *priv)
{
	for (const char *line = grants; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		char buf[2048];
		snprintf(buf, sizeof(buf), "%.*s", (int)n, line);
		if (strstr(buf, " ON *.* ") &&
		    (strstr(buf, "ALL PRIVILEGES") || strstr(buf, priv)))
			return true;
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

/* The binlog file sequence number a checkpoint resumes in: its
 * position's, or before any change its start point's. */
static uint32_t resume_seq(const wb_position_t *pos, json_t *state)
{
	uint32_t seq = wb_my_major_seq(pos->major);
	if (pos->major == 0 && state) {
		json_t *sf = json_object_get(state, "start_file");
		const char *dot = json_is_string(sf)
					  ? strrchr(json_string_value(sf), '.')
					  : NULL;
		if (dot)
			seq = (uint32_t)strtoul(dot + 1, NULL, 10);
	}
	return seq;
}

/* The checkpoint's binlog file against the server's: purged (the changes
 * after the checkpoint are lost to waybill) or the oldest one left (the
 * next purge takes it). */
static int check_retention(MYSQL *c, struct wb_source *base, FILE *out)
{
	const struct wb_config *cfg = base->cfg;
	struct wb_checkpoint cp;
	wb_error_t e;
	if (wb_checkpoint_load(cfg->checkpoint_dir, cfg->name, base->ops, &cp,
			       &e) != 0) {
		fprintf(out, "FAIL checkpoint: %s\n", e.message);
		return 1;
	}
	if (!cp.have) {
		wb_checkpoint_clear(&cp);
		fprintf(out, "ok binlog retention: no checkpoint yet\n");
		return 0;
	}
	uint32_t seq = resume_seq(&cp.pos, cp.source);
	wb_checkpoint_clear(&cp);
	MYSQL_RES *r = wb_my_query(c, "SHOW BINARY LOGS", &e);
	if (r == NULL) {
		fprintf(out, "FAIL binlog retention: %s\n", e.message);
		return 1;
	}
	MYSQL_ROW row;
	uint32_t oldest = UINT32_MAX;
	bool found = false;
	while ((row = mysql_fetch_row(r))) {
		const char *dot = row[0] ? strrchr(row[0], '.') : NULL;
		if (dot == NULL)
			continue;
		uint32_t fs = (uint32_t)strtoul(dot + 1, NULL, 10);
		if (fs < oldest)
			oldest = fs;
		found |= fs == seq;
	}
	mysql_free_result(r);
	if (!found) {
		fprintf(out,
			"FAIL binlog retention: the checkpoint's binlog file "
			"(sequence %06u) is no longer on the server: the "
			"changes after it are lost to waybill; run once with "
			"`waybill run --resnapshot` (or source.on_gap: "
			"resnapshot)\n",
			seq);
		return 1;
	}
	if (seq == oldest)
		fprintf(out,
			"ok binlog retention: the checkpoint's file (%06u) "
			"is the oldest the server keeps: keep waybill "
			"running, or raise binlog_expire_logs_seconds, or "
			"the next purge opens a gap\n",
			seq);
	else
		fprintf(out,
			"ok binlog retention: the checkpoint's file (%06u) "
			"is on the server\n",
			seq);
	return 0;
}

int wb_my_check(struct wb_source *base, FILE *out, wb_error_t *err)
{
	struct my_source *s = (struct my_source *)base;
	int failed = 0;
	MYSQL *c = wb_my_connect(base->cfg, 30, err);
	if (c == NULL) {
		fprintf(out, "FAIL connect: %s\n", err->message);
		return 1;
	}
	fprintf(out, "ok connect: %s\n", mysql_get_server_info(c));
	struct vars v;
	if (read_vars(c, &v, err)) {
		fprintf(out, "FAIL server settings: %s\n", err->message);
		mysql_close(c);
		return 1;
	}
	if (strcmp(v.log_bin, "1") != 0) {
		fprintf(out, "FAIL log_bin: binary logging is off: start the "
			     "server with log_bin (e.g. log_bin=mysql-bin in "
			     "its configuration)\n");
		failed = 1;
	} else {
		fprintf(out, "ok log_bin: on\n");
	}
	if (strcmp(v.format, "ROW") != 0) {
		fprintf(out,
			"FAIL binlog_format: %s: waybill reads row events "
			"only; SET GLOBAL binlog_format = 'ROW' and "
			"binlog_format=ROW in the server's configuration\n",
			v.format);
		failed = 1;
	} else {
		fprintf(out, "ok binlog_format: ROW\n");
	}
	if (strcmp(v.image, "FULL") != 0)
		fprintf(out,
			"ok binlog_row_image: %s (columns the server leaves "
			"out are reported as unchanged; FULL gives whole "
			"rows)\n",
			v.image);
	else
		fprintf(out, "ok binlog_row_image: FULL\n");
	if (strcmp(v.metadata, "FULL") != 0)
		fprintf(out,
			"ok binlog_row_metadata: %s (recommended: FULL, "
			"which names the columns in the binlog so that "
			"tables altered while waybill is behind are decoded "
			"right; without it such a change stops the "
			"pipeline: SET GLOBAL binlog_row_metadata = "
			"'FULL')\n",
			v.metadata);
	else
		fprintf(out, "ok binlog_row_metadata: FULL\n");
	fprintf(out, "ok gtid: %s%s\n", v.gtid,
		strcmp(v.gtid, "ON") == 0
			? " (failover to another server resumes by GTID)"
			: " (without GTIDs a pipeline cannot follow a "
			  "failover)");
	/* grants */
	struct wb_buf g;
	wb_buf_init(&g);
	wb_my_select(c, "SHOW GRANTS", NULL, 0, grant_row, &g, err);
	wb_buf_append(&g, "", 1);
	const char *grants = g.data ? (const char *)g.data : "";
	const char *user = wb_config_extra(base->cfg->source.extra,
					   base->cfg->source.nextra, "user");
	static const char *const privs[] = {"REPLICATION SLAVE",
					    "REPLICATION CLIENT"};
	static const char *const alt[] = {"REPLICATION REPLICA",
					  "BINLOG MONITOR"};
	for (int i = 0; i < 2; i++) {
		if (has_priv(grants, privs[i]) || has_priv(grants, alt[i]))
			fprintf(out, "ok privilege: %s\n", privs[i]);
		else {
			fprintf(out,
				"FAIL privilege: %s missing: GRANT %s ON *.* "
				"TO '%s'@'<host>';\n",
				privs[i], privs[i], user ? user : "<user>");
			failed = 1;
		}
	}
	if (has_priv(grants, "SELECT") || strstr(grants, "GRANT SELECT"))
		fprintf(out, "ok privilege: SELECT\n");
	else {
		fprintf(out,
			"FAIL privilege: SELECT on the captured tables "
			"missing (information_schema needs it to name "
			"columns): GRANT SELECT ON <db>.* TO '%s'@'<host>';\n",
			user ? user : "<user>");
		failed = 1;
	}
	wb_buf_free(&g);
	/* another replica with our server_id would make the server end one
	 * of the two dumps */
	MYSQL_RES *r = wb_my_query(c, "SHOW SLAVE HOSTS", err);
	bool clash = false;
	if (r) {
		MYSQL_ROW row;
		while ((row = mysql_fetch_row(r)))
			if (row[0] &&
			    strtoul(row[0], NULL, 10) == s->replica_id)
				clash = true;
		mysql_free_result(r);
	}
	if (clash || v.server_id == s->replica_id) {
		fprintf(out,
			"FAIL server_id: %u is already used by %s: set "
			"source.server_id to a number no server or replica "
			"of this topology uses\n",
			s->replica_id, clash ? "a replica" : "the server");
		failed = 1;
	} else {
		fprintf(out,
			"ok server_id: %u is not used by a registered "
			"replica\n",
			s->replica_id);
	}
	if (check_retention(c, base, out))
		failed = 1;
	mysql_close(c);
	return failed;
}

int wb_my_status(struct wb_source *base, const struct wb_source_resume *resume,
		 json_t *obj, wb_error_t *err)
{
	MYSQL *c = wb_my_connect(base->cfg, 30, err);
	if (c == NULL)
		return err->code;
	json_object_set_new(obj, "type", json_string("mysql"));
	MYSQL_RES *r = wb_my_query(c, "SHOW MASTER STATUS", err);
	if (r == NULL) {
		mysql_close(c);
		return err->code;
	}
	MYSQL_ROW row = mysql_fetch_row(r);
	char file[512] = "";
	uint64_t pos = 0;
	if (row && row[0]) {
		snprintf(file, sizeof(file), "%s", row[0]);
		pos = strtoull(row[1] ? row[1] : "0", NULL, 10);
		char txt[600];
		snprintf(txt, sizeof(txt), "%s:%" PRIu64, file, pos);
		json_object_set_new(obj, "server_position", json_string(txt));
	}
	mysql_free_result(r);
	if (resume->have && file[0]) {
		/* lag in bytes: the rest of the checkpoint's file and every
		 * file after it, from SHOW BINARY LOGS */
		uint32_t seq = resume_seq(&resume->pos, resume->state);
		uint64_t off = resume->pos.major
				       ? wb_my_major_off(resume->pos.major)
				       : 0;
		/* past a whole transaction: from where it ends */
		json_t *end = resume->state
				      ? json_object_get(resume->state, "end")
				      : NULL;
		if (resume->pos.minor == MY_COMMIT_ORDINAL &&
		    json_is_integer(end) &&
		    (uint64_t)json_integer_value(end) > resume->pos.major) {
			uint64_t e = (uint64_t)json_integer_value(end);
			seq = wb_my_major_seq(e);
			off = wb_my_major_off(e);
		}
		struct wb_my_binlogs bl = {0};
		if (wb_my_binlogs_after(c, seq, off, &bl, err) != WB_OK)
			wb_error_clear(err); /* as before: no lag then */
		uint64_t lag = bl.after;
		bool found = bl.found;
		json_object_set_new(obj, "lag_bytes",
				    json_integer((json_int_t)lag));
		/* seconds: since the commit of the last durable transaction,
		 * while the server has more */
		json_t *ct = resume->state ? json_object_get(resume->state,
							     "commit_time_ms")
					   : NULL;
		double secs = 0;
		if (lag > 0 && json_is_integer(ct)) {
			struct timespec now;
			clock_gettime(CLOCK_REALTIME, &now);
			double now_ms = (double)now.tv_sec * 1e3 +
					(double)now.tv_nsec / 1e6;
			secs = (now_ms - (double)json_integer_value(ct)) / 1e3;
			if (secs < 0)
				secs = 0;
		}
		json_object_set_new(obj, "lag_seconds", json_real(secs));
		if (!found)
			json_object_set_new(
				obj, "problem",
				json_string("the checkpoint's binlog file is "
					    "no longer on the server (purged): "
					    "the changes after it are lost to "
					    "waybill; run once with `waybill "
					    "run --resnapshot`"));
	}
	mysql_close(c);
	return WB_OK;
}
