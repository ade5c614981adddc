/* my_metrics.c — what the MySQL/MariaDB source tells the metrics about the
 * server: its current binlog end as a position (waybill_server_position,
 * in the form of a position's major: epoch, file sequence, offset) and the
 * bytes of binlog between the end of the last durable transaction and that
 * end (waybill_lag_bytes). A binlog position is a (file, offset) pair, so
 * the lag cannot be one number minus another: it is summed over the files
 * SHOW BINARY LOGS lists (wb_my_binlogs_after, which `waybill status`
 * uses too). */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "metrics.h"
#include "my_connect.h"
#include "my_source_int.h"

/* How often the server is asked; the query reads a short list. */
#define PROBE_INTERVAL_MS 5000

/* The file sequence and offset from which the server has more than the
 * checkpoint holds: the end of the last durable transaction, the start of
 * the one the durable position is inside of, or where the stream began. */
static void durable_from(struct my_source *s, uint32_t *seq, uint32_t *off)
{
	pthread_mutex_lock(&s->mu);
	uint64_t m = s->durable_pos.major;
	if (s->durable_pos.minor == MY_COMMIT_ORDINAL && s->durable_end > m)
		m = s->durable_end;
	if (m) {
		*seq = wb_my_major_seq(m);
		*off = wb_my_major_off(m);
	} else {
		const char *dot = strrchr(s->start_file, '.');
		*seq = dot ? (uint32_t)strtoul(dot + 1, NULL, 10) : 0;
		*off = s->start_off;
	}
	pthread_mutex_unlock(&s->mu);
}

int wb_my_binlogs_after(MYSQL *c, uint32_t seq, uint64_t off,
			struct wb_my_binlogs *out, wb_error_t *err)
{
	memset(out, 0, sizeof(*out));
	MYSQL_RES *r = wb_my_query(c, "SHOW BINARY LOGS", err);
	if (r == NULL)
		return err->code;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(r))) {
		const char *dot = row[0] ? strrchr(row[0], '.') : NULL;
		if (dot == NULL || row[1] == NULL)
			continue;
		uint32_t fs = (uint32_t)strtoul(dot + 1, NULL, 10);
		uint64_t size = strtoull(row[1], NULL, 10);
		if (fs == seq) {
			out->found = true;
			out->after += size > off ? size - off : 0;
		} else if (fs > seq) {
			out->after += size;
		}
		if (fs >= out->last_seq) {
			out->last_seq = fs;
			out->last_size = size;
		}
	}
	mysql_free_result(r);
	return WB_OK;
}

void wb_mysrc_probe_server(struct my_source *s)
{
	long long now = wb_clock_mono_ms();
	/* only while the stream is alive: a server that does not answer is
	 * the dump's to notice, not a metric's to wait for */
	if (s->meta == NULL || !s->stream_open ||
	    now - s->probe_ms < PROBE_INTERVAL_MS ||
	    now - s->last_packet_ms > 3LL * s->heartbeat_ms)
		return;
	s->probe_ms = now;
	uint32_t seq, off;
	durable_from(s, &seq, &off);
	wb_error_t err;
	struct wb_my_binlogs bl;
	if (wb_my_binlogs_after(s->meta, seq, off, &bl, &err))
		return; /* the next probe tries again */
	if (bl.last_seq == 0)
		return;
	wb_mset(&wb_metrics.server_position,
		wb_my_major(s->epoch, bl.last_seq,
			    bl.last_size > UINT32_MAX
				    ? UINT32_MAX
				    : (uint32_t)bl.last_size));
	/* a purged durable file: the lag is not known (the gap itself is
	 * the stream's to report) */
	wb_mset(&wb_metrics.source_lag_bytes,
		bl.found || seq > bl.last_seq ? bl.after + 1 : 0);
}
