/* my_stream.c — the binlog dump: starting it, reading its packets and
 * turning events into changes.
 *
 * The dump is a replica's request (COM_BINLOG_DUMP from a file and
 * offset, or, on MySQL, COM_BINLOG_DUMP_GTID from a GTID set; MariaDB
 * takes its GTID start from @slave_connect_state). The server answers
 * with packets: 0x00 then one event, 0xFE (short) at the end, 0xFF an
 * error. Every event is decoded here (never by the connector library).
 *
 * Positions: a transaction's changes get (major, 1..n) where major holds
 * the epoch, the file's sequence number and the offset of the
 * transaction's first event (see my_source_int.h); BEGIN is (major, 0)
 * and COMMIT (major, MY_COMMIT_ORDINAL). Resuming at that offset reads
 * the whole transaction again and drops what was delivered. */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <mysqld_error.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binlog_rows.h"
#include "clock.h"
#include "log.h"
#include "my_connect.h"
#include "my_source_int.h"
#include "stop.h"

/* after mysql.h, which it needs: the read-ahead cache of a connection */
#include <ma_pvio.h>

#define PACKET_ERROR ((unsigned long)(unsigned int)-1) /* packet_error */

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Encodes a MySQL GTID set text ("uuid:1-5:7,uuid2:1-3") as
 * COM_BINLOG_DUMP_GTID wants it: n_sids u64, then per uuid 16 bytes,
 * n_intervals u64, intervals [start, end) u64 each. Tags unsupported. */
static int encode_gtid_set(const char *text, struct wb_buf *out)
{
	size_t count_at = out->len;
	uint8_t tmp[16];
	uint64_t nsids = 0;
	memset(tmp, 0, 8);
	wb_buf_append(out, tmp, 8);
	const char *p = text;
	while (*p) {
		while (*p == ' ' || *p == '\n' || *p == ',')
			p++;
		if (!*p)
			break;
		int nh = 0;
		uint8_t uuid[16];
		while (*p && *p != ':') {
			if (*p != '-') {
				int h = hexval(*p);
				if (h < 0 || nh >= 32)
					return -1;
				if (nh % 2 == 0)
					uuid[nh / 2] = (uint8_t)(h << 4);
				else
					uuid[nh / 2] |= (uint8_t)h;
				nh++;
			}
			p++;
		}
		if (nh != 32 || *p != ':')
			return -1;
		wb_buf_append(out, uuid, 16);
		size_t nint_at = out->len;
		wb_buf_append(out, tmp, 8);
		uint64_t nint = 0;
		while (*p == ':') {
			p++;
			char *end;
			unsigned long long a = strtoull(p, &end, 10), b = a;
			if (end == p)
				return -1; /* a tag */
			p = end;
			if (*p == '-') {
				b = strtoull(p + 1, &end, 10);
				if (end == p + 1)
					return -1;
				p = end;
			}
			uint8_t iv[16];
			put_u64(iv, a);
			put_u64(iv + 8, b + 1);
			wb_buf_append(out, iv, 16);
			nint++;
		}
		put_u64(out->data + nint_at, nint);
		nsids++;
	}
	put_u64(out->data + count_at, nsids);
	return out->failed ? -1 : 0;
}

int wb_mysrc_start_dump(struct my_source *s, const char *file, uint32_t off,
			const char *gtid, wb_error_t *err)
{
	char sql[512];
	int rc;
	MYSQL *c = s->dump;
	/* what a replica says of itself before the dump: without the
	 * checksum statement the server refuses (1236), without the
	 * capability MariaDB sends GTID events as dummies */
	if ((rc = wb_my_exec(
		     c,
		     "SET @master_binlog_checksum = "
		     "@@global.binlog_checksum, "
		     "@source_binlog_checksum = @@global.binlog_checksum",
		     err)) &&
	    (rc = wb_my_exec(c,
			     "SET @master_binlog_checksum = "
			     "@@global.binlog_checksum",
			     err)))
		return rc;
	snprintf(sql, sizeof(sql), "SET @master_heartbeat_period = %lld",
		 (long long)s->heartbeat_ms * 1000000LL);
	if ((rc = wb_my_exec(c, sql, err)))
		return rc;
	if (s->mariadb) {
		if ((rc = wb_my_exec(c, "SET @mariadb_slave_capability = 4",
				     err)))
			return rc;
		if (gtid) {
			/* a GTID state is text of digits, '-' and ',' only
			 * (checked on load), so it may be written as a
			 * literal; the session variable takes no binding */
			for (const char *p = gtid; *p; p++)
				if (!strchr("0123456789-,", *p))
					return wb_error_set(
						err, WB_ERR_RUNTIME,
						"invalid GTID state in the "
						"checkpoint");
			snprintf(sql, sizeof(sql),
				 "SET @slave_connect_state = '%.400s'", gtid);
			if ((rc = wb_my_exec(c, sql, err)) ||
			    (rc = wb_my_exec(c,
					     "SET @slave_gtid_strict_mode = 1",
					     err)))
				return rc;
		}
	} else {
		snprintf(sql, sizeof(sql),
			 "SET @source_heartbeat_period = %lld",
			 (long long)s->heartbeat_ms * 1000000LL);
		wb_error_t ignored;
		wb_my_exec(c, sql, &ignored); /* MySQL 8.0.26+ name */
	}
	struct wb_buf cmd;
	wb_buf_init(&cmd);
	uint8_t hdr[22];
	enum enum_server_command which = COM_BINLOG_DUMP;
	if (gtid && !s->mariadb) {
		/* COM_BINLOG_DUMP_GTID: flags u16, server_id u32, name len
		 * u32, name, pos u64, data len u32, data */
		which = (enum enum_server_command)0x1e;
		put_u16(hdr, 4); /* BINLOG_THROUGH_GTID */
		put_u32(hdr + 2, s->replica_id);
		put_u32(hdr + 6, 0);
		put_u64(hdr + 10, 4);
		wb_buf_append(&cmd, hdr, 18);
		size_t len_at = cmd.len;
		wb_buf_append(&cmd, hdr, 4);
		size_t start = cmd.len;
		if (encode_gtid_set(gtid, &cmd)) {
			wb_buf_free(&cmd);
			return wb_error_set(err, WB_ERR_RUNTIME,
					    "invalid GTID set in the "
					    "checkpoint");
		}
		put_u32(cmd.data + len_at, (uint32_t)(cmd.len - start));
	} else {
		/* COM_BINLOG_DUMP: pos u32, flags u16, server_id u32, name */
		put_u32(hdr, gtid ? 4 : off);
		put_u16(hdr + 4, 0);
		put_u32(hdr + 6, s->replica_id);
		wb_buf_append(&cmd, hdr, 10);
		if (!gtid && file)
			wb_buf_append(&cmd, file, strlen(file));
	}
	if (cmd.failed) {
		wb_buf_free(&cmd);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	rc = c->methods->db_command(c, which, (const char *)cmd.data, cmd.len,
				    1, NULL);
	wb_buf_free(&cmd);
	if (rc)
		return wb_my_error(c, "binlog dump", err);
	wb_my_format_default(&s->fmt, s->checksum);
	s->stream_open = true;
	s->last_packet_ms = wb_clock_mono_ms();
	s->in_txn = false;
	s->txn_emitted = false;
	s->caught_up = false;
	wb_mysrc_tables_clear(s);
	if (gtid)
		wb_info("mysql", "streaming from GTID %s", gtid);
	else
		wb_info("mysql", "streaming from %s:%u", file, off);
	return WB_OK;
}

/* Bytes the connection already holds (read ahead, not yet consumed). */
static bool data_buffered(MYSQL *c)
{
	MARIADB_PVIO *p = c->net.pvio;
	if (p == NULL)
		return false;
	if (p->ctls != NULL)
		return true; /* TLS: cannot tell; read (heartbeats bound it) */
	return p->cache && p->cache + p->cache_size > p->cache_pos;
}

static int wait_readable(MYSQL *c, int ms)
{
	struct pollfd pfd = {.fd = (int)mysql_get_socket(c), .events = POLLIN};
	int r = poll(&pfd, 1, ms);
	if (r < 0 && errno != EINTR)
		return -1;
	return r > 0;
}

/* --- events to changes -------------------------------------------------- */

static struct wb_change *add_change(struct my_source *s, struct wb_batch *b,
				    uint8_t op, uint64_t minor)
{
	struct wb_change *ch = wb_batch_add(b);
	if (ch == NULL)
		return NULL;
	ch->op = op;
	ch->pos.major = s->txn_major;
	ch->pos.minor = minor;
	ch->commit_ts_us = s->commit_ts_us;
	if (s->txn_gtid[0]) {
		/* one copy per transaction and batch: a batch's first change
		 * comes after its reset */
		if (s->gtid_batch != b || b->n == 1 || s->gtid_copy == NULL)
			s->gtid_copy = wb_arena_dup(&b->arena, s->txn_gtid,
						    strlen(s->txn_gtid));
		s->gtid_batch = b;
		ch->gtid = s->gtid_copy;
	}
	s->last_pos = ch->pos;
	return ch;
}

static int emit_begin(struct my_source *s, struct wb_batch *b, wb_error_t *err)
{
	if (s->txn_emitted)
		return WB_OK;
	if (add_change(s, b, WB_OP_BEGIN, 0) == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	s->txn_emitted = true;
	return WB_OK;
}

/* The server's offset of an event's first byte (log_pos is its end). */
static uint32_t event_start(const struct wb_my_event *ev)
{
	return ev->log_pos >= ev->length ? ev->log_pos - ev->length : 0;
}

static void txn_start(struct my_source *s, const struct wb_my_event *ev,
		      uint32_t start)
{
	s->in_txn = true;
	s->explicit_begin = false;
	s->txn_emitted = false;
	s->ordinal = 0;
	s->txn_major = wb_my_major(s->epoch, s->file_seq, start);
	s->commit_ts_us = (int64_t)ev->timestamp * 1000000;
	s->txn_gtid[0] = '\0';
	s->gtid_copy = NULL;
}

static int pending_push(struct my_source *s, uint64_t major, const char *gtid)
{
	pthread_mutex_lock(&s->mu);
	if (s->npend == s->cappend) {
		size_t cap = s->cappend ? s->cappend * 2 : 64;
		struct my_pending *p = malloc(cap * sizeof(*p));
		if (p == NULL) {
			pthread_mutex_unlock(&s->mu);
			return -1;
		}
		for (size_t i = 0; i < s->npend; i++)
			p[i] = s->pend[(s->pend_head + i) % s->cappend];
		free(s->pend);
		s->pend = p;
		s->cappend = cap;
		s->pend_head = 0;
	}
	struct my_pending *e = &s->pend[(s->pend_head + s->npend) % s->cappend];
	e->major = major;
	e->end = 0;
	e->commit_us = s->commit_ts_us;
	snprintf(e->gtid, sizeof(e->gtid), "%s", gtid);
	s->npend++;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int txn_commit(struct my_source *s, struct wb_batch *b, wb_error_t *err)
{
	if (!s->in_txn)
		return WB_OK;
	int rc = emit_begin(s, b, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->mu);
	if (s->npend > 0) {
		struct my_pending *last =
			&s->pend[(s->pend_head + s->npend - 1) % s->cappend];
		if (last->major == s->txn_major)
			last->end = wb_my_major(s->epoch, s->file_seq,
						s->event_end);
	}
	pthread_mutex_unlock(&s->mu);
	struct wb_change *ch =
		add_change(s, b, WB_OP_COMMIT, MY_COMMIT_ORDINAL);
	if (ch == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	ch->ack = s->txn_major;
	s->in_txn = false;
	s->txn_emitted = false;
	return WB_OK;
}

static bool query_is(const struct wb_my_query *q, const char *word)
{
	size_t n = strlen(word);
	return q->sql_len == n && strncasecmp(q->sql, word, n) == 0;
}

/* A statement that may change a table's definition (by its first word). */
static bool schema_ddl(const struct wb_my_query *q)
{
	static const char *const words[] = {"ALTER", "CREATE", "DROP", "RENAME",
					    NULL};
	size_t i = 0;
	while (i < q->sql_len && (q->sql[i] == ' ' || q->sql[i] == '\n' ||
				  q->sql[i] == '\t' || q->sql[i] == '('))
		i++;
	for (int w = 0; words[w]; w++) {
		size_t n = strlen(words[w]);
		if (q->sql_len - i >= n &&
		    strncasecmp(q->sql + i, words[w], n) == 0)
			return true;
	}
	return false;
}

/* Whether the statement may touch a captured database: its default
 * database, or a captured database's name in its text (no parser: a
 * false alarm costs a check, a miss is what FULL metadata prevents). */
static bool touches_captured(struct my_source *s, const struct wb_my_query *q)
{
	const struct wb_source_config *sc = &s->base.cfg->source;
	char db[256], sql[4096];
	snprintf(db, sizeof(db), "%.*s", (int)q->db_len, q->db);
	snprintf(sql, sizeof(sql), "%.*s", (int)q->sql_len, q->sql);
	for (int i = 0; i < sc->ntables; i++) {
		char pat[256];
		const char *dot = strchr(sc->tables[i], '.');
		size_t n = dot ? (size_t)(dot - sc->tables[i])
			       : strlen(sc->tables[i]);
		snprintf(pat, sizeof(pat), "%.*s", (int)n, sc->tables[i]);
		if (fnmatch(pat, db, 0) == 0 || wb_config_is_glob(pat) ||
		    strcasestr(sql, pat) != NULL)
			return true;
	}
	return false;
}

/* A table definition changed at this statement and the binlog does not
 * name columns (binlog_row_metadata is not FULL): information_schema
 * describes the tables as they are now, which is as they are right after
 * this statement only if nothing was written after it. Then the table maps
 * are read again; otherwise waybill stops rather than guess. */
static int ddl_barrier(struct my_source *s, const struct wb_my_event *ev,
		       const struct wb_my_query *q, wb_error_t *err)
{
	MYSQL_RES *r = wb_my_query(s->meta, "SHOW MASTER STATUS", err);
	if (r == NULL)
		return err->code;
	MYSQL_ROW row = mysql_fetch_row(r);
	bool at_end = false;
	if (row && row[0] && row[1]) {
		const char *dot = strrchr(row[0], '.');
		uint32_t seq = dot ? (uint32_t)strtoul(dot + 1, NULL, 10) : 0;
		at_end = seq == s->file_seq &&
			 strtoul(row[1], NULL, 10) == ev->log_pos;
	}
	mysql_free_result(r);
	if (at_end) {
		wb_mysrc_tables_clear(s);
		return WB_OK;
	}
	int rc = wb_error_set(
		err, WB_ERR_RUNTIME,
		"a table definition changed at %s.%06u:%u (%.*s) while waybill "
		"was behind the server, and without binlog_row_metadata=FULL "
		"the columns of the events after it cannot be known for sure: "
		"set binlog_row_metadata=FULL on the server and run once with "
		"`waybill run --resnapshot`",
		s->file_base, s->file_seq, event_start(ev),
		q->sql_len > 120 ? 120 : (int)q->sql_len, q->sql);
	err->retriable = false;
	return rc;
}

static int on_query(struct my_source *s, struct wb_batch *b,
		    const struct wb_my_event *ev, uint32_t start,
		    wb_error_t *err)
{
	struct wb_my_query q;
	int rc = wb_my_query_parse(&s->fmt, ev, &q, err);
	if (rc)
		return rc;
	if (query_is(&q, "BEGIN") || query_is(&q, "START TRANSACTION")) {
		if (!s->in_txn)
			txn_start(s, ev, start);
		s->explicit_begin = true;
		return WB_OK;
	}
	if (query_is(&q, "COMMIT") || query_is(&q, "ROLLBACK"))
		return txn_commit(s, b, err);
	/* DDL or another statement: logged and skipped; outside an
	 * explicit BEGIN it is a transaction of its own */
	wb_info("mysql", "statement skipped (%.*s): %.*s", (int)q.db_len, q.db,
		q.sql_len > 200 ? 200 : (int)q.sql_len, q.sql);
	if (!s->meta_full && schema_ddl(&q) && touches_captured(s, &q) &&
	    (rc = ddl_barrier(s, ev, &q, err)))
		return rc;
	if (!s->in_txn)
		txn_start(s, ev, start);
	if (!s->explicit_begin) {
		/* a table's definition may have changed: maps are re-read */
		return txn_commit(s, b, err);
	}
	return WB_OK;
}

static int on_rows(struct my_source *s, struct wb_batch *b,
		   const struct wb_my_event *ev, uint32_t start,
		   wb_error_t *err)
{
	struct wb_my_rows r;
	int rc = wb_my_rows_parse(&s->fmt, ev, &s->scratch, &r, err);
	if (rc)
		return rc;
	struct my_tentry *e = wb_mysrc_table_find(s, r.table_id);
	if (e == NULL)
		return wb_error_set(err, WB_ERR_DECODE,
				    "row event for table id %" PRIu64
				    " without its TABLE_MAP",
				    r.table_id);
	if (!s->in_txn)
		txn_start(s, ev, start);
	/* a row's minor: the event's index in its transaction (high half)
	 * and the row's index in its event, so that positions do not depend
	 * on which tables are captured */
	uint64_t evno = ++s->ordinal;
	if (!e->captured)
		return WB_OK;
	size_t off = 0;
	uint32_t ncols = e->tm->ncols;
	uint64_t row = 0;
	while (off < r.len) {
		uint64_t ord = (evno << 32) | ++row;
		if ((rc = emit_begin(s, b, err)))
			return rc;
		struct wb_value *before = NULL, *after = NULL;
		if (r.op != 'c') {
			before = wb_batch_values(b, (int)ncols);
			if (before == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			rc = wb_my_row_image(&r, e->tm, e->types, r.present1,
					     false, NULL, &off, &b->arena,
					     before, err);
			if (rc)
				goto bad;
		}
		if (r.op != 'd') {
			after = wb_batch_values(b, (int)ncols);
			if (after == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
			rc = wb_my_row_image(
				&r, e->tm, e->types,
				r.op == 'u' ? r.present2 : r.present1,
				r.partial, before, &off, &b->arena, after, err);
			if (rc)
				goto bad;
		}
		struct wb_change *ch = add_change(s, b,
						  r.op == 'c'	? WB_OP_INSERT
						  : r.op == 'u' ? WB_OP_UPDATE
								: WB_OP_DELETE,
						  ord);
		if (ch == NULL || wb_batch_hold(b, e->table) == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		ch->table = e->table;
		ch->before = before;
		ch->after = after;
	}
	return WB_OK;
bad:
	wb_error_prefix(err, "table %s.%s, row event at %s.%06u:%u", e->tm->db,
			e->tm->table, s->file_base, s->file_seq, start);
	return rc;
}

static int on_rotate(struct my_source *s, const struct wb_my_event *ev,
		     wb_error_t *err)
{
	struct wb_my_rotate r;
	int rc = wb_my_rotate_parse(&s->fmt, ev, &r, err);
	if (rc)
		return rc;
	/* "base.000123" */
	const char *dot = memrchr(r.name, '.', r.name_len);
	char *end;
	char seq[16];
	size_t dl = dot ? r.name_len - (size_t)(dot + 1 - r.name) : 0;
	if (dot == NULL || dl == 0 || dl >= sizeof(seq) ||
	    (size_t)(dot - r.name) >= sizeof(s->file_base))
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog file name %.*s has no sequence "
				    "number",
				    (int)(r.name_len > 100 ? 100 : r.name_len),
				    r.name);
	memcpy(seq, dot + 1, dl);
	seq[dl] = '\0';
	unsigned long n = strtoul(seq, &end, 10);
	if (*end != '\0' || n > 0xffffff)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog file name %.*s: sequence number "
				    "out of range",
				    (int)(r.name_len > 100 ? 100 : r.name_len),
				    r.name);
	memcpy(s->file_base, r.name, (size_t)(dot - r.name));
	s->file_base[dot - r.name] = '\0';
	if ((uint32_t)n != s->file_seq)
		wb_debug("mysql", "now reading %s.%06lu", s->file_base, n);
	s->file_seq = (uint32_t)n;
	pthread_mutex_lock(&s->mu);
	if (s->state_file_base == NULL ||
	    strcmp(s->state_file_base, s->file_base) != 0) {
		free(s->state_file_base);
		s->state_file_base = strdup(s->file_base);
	}
	pthread_mutex_unlock(&s->mu);
	return WB_OK;
}

static int on_event(struct my_source *s, struct wb_batch *b, const uint8_t *p,
		    size_t n, bool inner, uint32_t outer_start,
		    wb_error_t *err);

static int on_payload(struct my_source *s, struct wb_batch *b,
		      const struct wb_my_event *ev, uint32_t start,
		      wb_error_t *err)
{
	struct wb_my_payload pl;
	int rc = wb_my_payload_parse(&s->fmt, ev, &pl, err);
	if (rc)
		return rc;
	if (s->payload == NULL &&
	    (s->payload = wb_my_payload_reader_new()) == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	if ((rc = wb_my_payload_reader_start(s->payload, &pl, err)))
		return rc;
	for (;;) {
		const uint8_t *ip;
		size_t il;
		int r = wb_my_payload_reader_next(s->payload, &ip, &il, err);
		if (r < 0)
			return err->code;
		if (r == 0)
			return WB_OK;
		if ((rc = on_event(s, b, ip, il, true, start, err)))
			return rc;
	}
}

static int on_event(struct my_source *s, struct wb_batch *b, const uint8_t *p,
		    size_t n, bool inner, uint32_t outer_start, wb_error_t *err)
{
	struct wb_my_event ev;
	struct wb_my_format plain;
	const struct wb_my_format *fmt = &s->fmt;
	int rc;
	if (inner) {
		plain = s->fmt;
		plain.checksum = false; /* inner events carry none */
		fmt = &plain;
	}
	if (n > WB_MY_HEADER_LEN && p[4] == WB_MY_EV_FORMAT_DESCRIPTION) {
		struct wb_my_format f;
		if ((rc = wb_my_format_parse(p, n, &f, err)))
			return rc;
		s->fmt = f;
		s->mariadb = s->mariadb || f.mariadb;
		return WB_OK;
	}
	if ((rc = wb_my_event_parse(fmt, p, n, &ev, err)))
		return rc;
	uint32_t start = inner ? outer_start : event_start(&ev);
	if (!inner)
		s->event_end = ev.log_pos;
	switch (ev.type) {
	case WB_MY_EV_ROTATE:
		return on_rotate(s, &ev, err);
	case WB_MY_EV_MARIA_GTID:
	case WB_MY_EV_GTID:
	case WB_MY_EV_ANONYMOUS_GTID:
	case WB_MY_EV_GTID_TAGGED: {
		struct wb_my_gtid g;
		if ((rc = wb_my_gtid_parse(fmt, &ev, &g, err)))
			return rc;
		if (s->in_txn && (rc = txn_commit(s, b, err)))
			return rc;
		txn_start(s, &ev, start);
		if (g.mariadb) {
			g.server_id = ev.server_id;
			s->explicit_begin = !g.standalone;
		}
		if (!g.anonymous) {
			wb_my_gtid_format(&g, s->txn_gtid, sizeof(s->txn_gtid));
			if (pending_push(s, s->txn_major, s->txn_gtid))
				return wb_error_set(err, WB_ERR_NOMEM,
						    "out of memory");
		}
		/* after a move to another server: the transaction the
		 * checkpoint is inside of comes first; its delivered part
		 * is dropped (drop_replayed) */
		if (s->replay_gtid[0]) {
			if (strcmp(s->replay_gtid, s->txn_gtid) == 0)
				s->replay_major = s->txn_major;
			else
				s->replay_gtid[0] = '\0';
		}
		if (g.immediate_commit_us > 0)
			s->commit_ts_us = g.immediate_commit_us;
		return WB_OK;
	}
	case WB_MY_EV_QUERY:
		return on_query(s, b, &ev, start, err);
	case WB_MY_EV_XID:
		return txn_commit(s, b, err);
	case WB_MY_EV_TABLE_MAP:
		if (!s->in_txn)
			txn_start(s, &ev, start);
		return wb_mysrc_table_map(s, &ev, err) ? WB_OK : err->code;
	case WB_MY_EV_WRITE_ROWS_V1:
	case WB_MY_EV_UPDATE_ROWS_V1:
	case WB_MY_EV_DELETE_ROWS_V1:
	case WB_MY_EV_WRITE_ROWS:
	case WB_MY_EV_UPDATE_ROWS:
	case WB_MY_EV_DELETE_ROWS:
	case WB_MY_EV_PARTIAL_UPDATE_ROWS:
	case WB_MY_EV_WRITE_ROWS_COMPRESSED_V1:
	case WB_MY_EV_UPDATE_ROWS_COMPRESSED_V1:
	case WB_MY_EV_DELETE_ROWS_COMPRESSED_V1:
	case WB_MY_EV_WRITE_ROWS_COMPRESSED:
	case WB_MY_EV_UPDATE_ROWS_COMPRESSED:
	case WB_MY_EV_DELETE_ROWS_COMPRESSED:
		return on_rows(s, b, &ev, start, err);
	case WB_MY_EV_TRANSACTION_PAYLOAD:
		if (inner)
			return wb_error_set(err, WB_ERR_DECODE,
					    "nested transaction payload");
		return on_payload(s, b, &ev, start, err);
	case WB_MY_EV_HEARTBEAT:
	case WB_MY_EV_HEARTBEAT_V2:
		s->caught_up = true;
		return WB_OK;
	case WB_MY_EV_QUERY_COMPRESSED:
		wb_info("mysql", "compressed statement skipped");
		if (!s->in_txn) {
			txn_start(s, &ev, start);
			return txn_commit(s, b, err);
		}
		return WB_OK;
	default:
		return WB_OK; /* GTID_LIST, checkpoints, annotations, ... */
	}
}

/* Drops from b, after its first n0 changes, what was delivered before a
 * reconnect (positions at or below replay_upto), and after a move to
 * another server the first ordinals of the transaction in progress. */
static void drop_replayed(struct my_source *s, struct wb_batch *b, uint32_t n0)
{
	uint32_t out = n0;
	for (uint32_t i = n0; i < b->n; i++) {
		const wb_position_t *p = &b->changes[i].pos;
		if (wb_position_cmp(p, &s->replay_upto) <= 0)
			continue;
		if (s->replay_gtid[0] && p->major == s->replay_major &&
		    p->minor <= s->replay_ordinal)
			continue;
		if (out != i)
			b->changes[out] = b->changes[i];
		out++;
	}
	if (out > n0)
		memset(&s->replay_upto, 0, sizeof(s->replay_upto));
	b->n = out;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* While a snapshot round waits for the stream to reach its point P:
 * whether event ev[0..n) is where the stream holds (a transaction's first
 * event at or after P), or tells that the stream is past P (a heartbeat
 * at or after P: everything before was sent). */
static bool at_point(struct my_source *s, const uint8_t *ev, size_t n)
{
	if (n < WB_MY_HEADER_LEN || s->in_txn)
		return false;
	uint8_t type = ev[4];
	if (type == WB_MY_EV_HEARTBEAT || type == WB_MY_EV_HEARTBEAT_V2) {
		struct wb_my_event e;
		struct wb_my_heartbeat hb;
		wb_error_t ignored;
		if (wb_my_event_parse(&s->fmt, ev, n, &e, &ignored) ||
		    wb_my_heartbeat_parse(&s->fmt, &e, &hb, &ignored))
			return false;
		const char *dot = memrchr(hb.name, '.', hb.name_len);
		uint32_t seq = s->file_seq;
		if (dot) {
			char digits[16];
			size_t dl = hb.name_len - (size_t)(dot + 1 - hb.name);
			if (dl < sizeof(digits)) {
				memcpy(digits, dot + 1, dl);
				digits[dl] = '\0';
				seq = (uint32_t)strtoul(digits, NULL, 10);
			}
		}
		return wb_my_major(s->epoch, seq, (uint32_t)hb.pos) >= s->point;
	}
	bool starts = type == WB_MY_EV_MARIA_GTID || type == WB_MY_EV_GTID ||
		      type == WB_MY_EV_ANONYMOUS_GTID ||
		      type == WB_MY_EV_GTID_TAGGED || type == WB_MY_EV_QUERY ||
		      type == WB_MY_EV_TABLE_MAP;
	if (!starts)
		return false;
	uint32_t len = get_u32(ev + 9), end = get_u32(ev + 13);
	if (end < len)
		return false;
	return wb_my_major(s->epoch, s->file_seq, end - len) >= s->point;
}

static int hold(struct my_source *s, const uint8_t *p, size_t n,
		wb_error_t *err)
{
	if (n > s->held_cap) {
		uint8_t *h = realloc(s->held, n);
		if (h == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		s->held = h;
		s->held_cap = n;
	}
	memcpy(s->held, p, n);
	s->held_len = n;
	return WB_OK;
}

int wb_mysrc_poll(struct my_source *s, struct wb_batch *b, size_t target_bytes,
		  int timeout_ms, wb_error_t *err)
{
	long long deadline = wb_clock_mono_ms() + timeout_ms;
	int short_waits = 0;
	uint32_t n0 = b->n;
	int rc = WB_OK;
	MYSQL *c = s->dump;
	if (s->held_len > 0 && !s->snap_round) {
		/* the event held at a snapshot point, now the rows are out */
		size_t n = s->held_len;
		s->held_len = 0;
		rc = on_event(s, b, s->held, n, false, 0, err);
		if (rc)
			return rc;
	}
	for (;;) {
		if (s->snap_round && s->snap_ready)
			break; /* the round's rows go first */
		if (!data_buffered(c)) {
			long long left = deadline - wb_clock_mono_ms();
			if (b->n > n0 && !s->in_txn) {
				if (short_waits++ == 5)
					break;
				left = 2;
			}
			if (left <= 0 || wb_stop_requested)
				break;
			int r = wait_readable(c,
					      left > 1000 ? 1000 : (int)left);
			if (r < 0) {
				rc = wb_error_set(err, WB_ERR_RUNTIME,
						  "poll: %s", strerror(errno));
				break;
			}
			if (r == 0) {
				/* heartbeats come every heartbeat_ms on an
				 * idle stream: silence for three of them is
				 * a dead connection (a cut network sends no
				 * reset) */
				long long quiet =
					wb_clock_mono_ms() - s->last_packet_ms;
				long long limit = 3LL * s->heartbeat_ms;
				if (limit < 3000)
					limit = 3000;
				if (quiet > limit) {
					rc = wb_error_set(
						err, WB_ERR_CONNECT,
						"binlog stream: nothing from "
						"the "
						"server for %lld ms (heartbeat "
						"every %d ms): the connection "
						"is "
						"presumed dead",
						quiet, s->heartbeat_ms);
					err->retriable = true;
					break;
				}
				continue;
			}
		}
		unsigned long len = mysql_net_read_packet(c);
		if (len == PACKET_ERROR || len == 0) {
			unsigned int e = mysql_errno(c);
			if (e == ER_MASTER_FATAL_ERROR_READING_BINLOG) {
				s->gap_hit = true;
				rc = wb_error_set(
					err, WB_ERR_RUNTIME,
					"the server cannot continue the binlog "
					"from waybill's position: %s; the "
					"changes after the last checkpoint "
					"are gone from the server (binlog "
					"purged?): run once with `waybill run "
					"--resnapshot` (or source.on_gap: "
					"resnapshot) to read the tables again",
					mysql_error(c));
				err->retriable = false;
			} else {
				rc = wb_my_error(c, "binlog stream", err);
				err->code = WB_ERR_CONNECT;
				err->retriable = true;
			}
			break;
		}
		s->last_packet_ms = wb_clock_mono_ms();
		const uint8_t *p = c->net.read_pos;
		if (p[0] == 0xff) {
			/* an error packet: code u16, '#' and SQLSTATE, text */
			unsigned code =
				len >= 3 ? (unsigned)(p[1] | p[2] << 8) : 0;
			size_t skip = len > 3 && p[3] == '#' ? 9 : 3;
			int mlen = len > skip ? (int)(len - skip) : 0;
			if (mlen > 300)
				mlen = 300;
			const char *m =
				(const char *)p + (len > skip ? skip : 0);
			if (code == 1236) {
				s->gap_hit = true;
				rc = wb_error_set(
					err, WB_ERR_RUNTIME,
					"the server cannot continue the binlog "
					"from waybill's position: %.*s; the "
					"changes after the last checkpoint are "
					"gone from the server (binlog "
					"purged?): "
					"waybill stops rather than skip them; "
					"read the tables again with `waybill "
					"run --resnapshot` (or source.on_gap: "
					"resnapshot)",
					mlen, m);
				err->retriable = false;
			} else {
				rc = wb_error_set(
					err, WB_ERR_CONNECT,
					"binlog stream: %.*s (error %u)", mlen,
					m, code);
				err->retriable = true;
			}
			break;
		}
		if (p[0] == 0xfe && len < 8) {
			rc = wb_error_set(err, WB_ERR_CONNECT,
					  "the server ended the binlog stream");
			err->retriable = true;
			break;
		}
		if (p[0] != 0x00) {
			rc = wb_error_set(err, WB_ERR_DECODE,
					  "binlog stream: unexpected packet "
					  "0x%02x",
					  p[0]);
			break;
		}
		if (s->snap_round && !s->snap_ready &&
		    at_point(s, p + 1, len - 1)) {
			s->snap_ready = true;
			if (p[5] == WB_MY_EV_HEARTBEAT ||
			    p[5] == WB_MY_EV_HEARTBEAT_V2)
				break;
			rc = hold(s, p + 1, len - 1, err);
			break;
		}
		s->caught_up = false;
		rc = on_event(s, b, p + 1, len - 1, false, 0, err);
		if (rc) {
			if (err->code == WB_ERR_DECODE)
				wb_error_prefix(err, "%s.%06u", s->file_base,
						s->file_seq);
			break;
		}
		if (wb_batch_bytes(b) >= target_bytes)
			break;
	}
	if (!wb_position_is_zero(&s->replay_upto) || s->replay_gtid[0])
		drop_replayed(s, b, n0);
	if (s->replay_gtid[0] && s->replay_major != 0 &&
	    s->last_pos.major == s->replay_major &&
	    s->last_pos.minor == MY_COMMIT_ORDINAL)
		s->replay_gtid[0] = '\0'; /* that transaction is through */
	return rc;
}
