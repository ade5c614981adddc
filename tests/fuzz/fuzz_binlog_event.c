/* fuzz_binlog_event.c — fuzz target for the binlog event decoders: the
 * FORMAT_DESCRIPTION, the event split with its checksum, every small-event
 * parser, the transaction payload reader and the in-memory file reader.
 *
 * Input: one flags byte, then an event (or, when it starts with the binlog
 * magic, a whole file). Flags: bit 0 the format has checksums, bit 1 the
 * format is MariaDB's, bit 2 write a correct CRC32 so the body parsers are
 * reached. The event's length field is set to the input's length, so the
 * fuzzer need not find it. Each parser runs on the event whatever its type
 * (the type byte is overridden), and everything a parser points to is
 * read, so the sanitizers see any pointer that leaves the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "binlog_event.h"
#include "binlog_file.h"
#include "binlog_tablemap.h"
#include "my_gtid.h"

static volatile uint32_t sink;

static void touch(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 0;
	for (size_t i = 0; i < n; i++)
		h = h * 31 + b[i];
	sink += h;
}

static void check_err(int rc, const wb_error_t *err)
{
	if (rc != 0 && ((rc != WB_ERR_DECODE && rc != WB_ERR_NOMEM) ||
			err->code != rc || err->message[0] == '\0'))
		abort();
}

static int gl_fn(void *ctx, uint32_t d, uint32_t s, uint64_t q)
{
	(void)ctx;
	sink += d + s + (uint32_t)q;
	return 0;
}

static void payload(const struct wb_my_format *fmt,
		    const struct wb_my_event *ev)
{
	struct wb_my_payload pl;
	wb_error_t err;
	int rc = wb_my_payload_parse(fmt, ev, &pl, &err);
	check_err(rc, &err);
	if (rc != 0)
		return;
	touch(pl.data, pl.len);
	struct wb_my_payload_reader *r = wb_my_payload_reader_new();
	if (r == NULL)
		return;
	struct wb_my_format inner;
	wb_my_format_default(&inner, false);
	if (wb_my_payload_reader_start(r, &pl, &err) == 0) {
		const uint8_t *p;
		size_t len, total = 0;
		while ((rc = wb_my_payload_reader_next(r, &p, &len, &err)) ==
		       1) {
			struct wb_my_event iev;
			touch(p, len);
			total += len;
			if (len < WB_MY_HEADER_LEN ||
			    (pl.uncompressed_size &&
			     total > pl.uncompressed_size))
				abort();
			if (wb_my_event_parse(&inner, p, len, &iev, &err) != 0)
				abort(); /* the reader checked the length */
			if (iev.type == WB_MY_EV_TABLE_MAP) {
				struct wb_my_tablemap *tm;
				if (wb_my_tablemap_parse(&inner, &iev, &tm,
							 &err) == 0)
					wb_my_tablemap_free(tm);
			}
		}
		if (rc == -1 && (err.message[0] == '\0'))
			abort();
		if (rc == 0 && pl.uncompressed_size &&
		    total != pl.uncompressed_size)
			abort();
	}
	wb_my_payload_reader_free(r);
}

static void small_events(const struct wb_my_format *fmt, struct wb_my_event ev)
{
	wb_error_t err;
	int rc;
	struct wb_my_rotate rot;
	struct wb_my_query q;
	struct wb_my_heartbeat hb;
	struct wb_my_gtid g;
	uint64_t xid;
	char buf[100];
	static const uint8_t gtid_types[] = {
		WB_MY_EV_GTID, WB_MY_EV_ANONYMOUS_GTID, WB_MY_EV_GTID_TAGGED,
		WB_MY_EV_MARIA_GTID};

	ev.type = WB_MY_EV_ROTATE;
	rc = wb_my_rotate_parse(fmt, &ev, &rot, &err);
	check_err(rc, &err);
	if (rc == 0)
		touch(rot.name, rot.name_len);
	ev.type = WB_MY_EV_QUERY;
	rc = wb_my_query_parse(fmt, &ev, &q, &err);
	check_err(rc, &err);
	if (rc == 0) {
		touch(q.db, q.db_len);
		touch(q.sql, q.sql_len);
	}
	ev.type = WB_MY_EV_XID;
	check_err(wb_my_xid_parse(fmt, &ev, &xid, &err), &err);
	for (size_t i = 0; i < sizeof(gtid_types); i++) {
		ev.type = gtid_types[i];
		rc = wb_my_gtid_parse(fmt, &ev, &g, &err);
		check_err(rc, &err);
		if (rc == 0) {
			size_t n = wb_my_gtid_format(&g, buf, sizeof(buf));
			if (n >= sizeof(buf) || strlen(buf) != n)
				abort();
		}
	}
	ev.type = WB_MY_EV_MARIA_GTID_LIST;
	check_err(wb_my_gtid_list_parse(fmt, &ev, gl_fn, NULL, &err), &err);
	ev.type = WB_MY_EV_HEARTBEAT;
	check_err(wb_my_heartbeat_parse(fmt, &ev, &hb, &err), &err);
	ev.type = WB_MY_EV_HEARTBEAT_V2;
	rc = wb_my_heartbeat_parse(fmt, &ev, &hb, &err);
	check_err(rc, &err);
	if (rc == 0)
		touch(hb.name, hb.name_len);
	ev.type = WB_MY_EV_PREVIOUS_GTIDS;
	struct wb_my_gtid_set s;
	wb_my_gtid_set_init(&s);
	rc = wb_my_previous_gtids_parse(fmt, &ev, &s, &err);
	check_err(rc, &err);
	if (rc == 0) {
		char text[256];
		wb_my_gtid_set_format(&s, text, sizeof(text));
		/* the text form reads back as the same set */
		struct wb_my_gtid_set t;
		wb_my_gtid_set_init(&t);
		size_t need = wb_my_gtid_set_format(&s, NULL, 0);
		if (need < sizeof(text)) {
			if (wb_my_gtid_set_parse(&t, text, &err) != 0 ||
			    !wb_my_gtid_set_is_subset(&s, &t) ||
			    !wb_my_gtid_set_is_subset(&t, &s))
				abort();
		}
		wb_my_gtid_set_free(&t);
	}
	wb_my_gtid_set_free(&s);
	ev.type = WB_MY_EV_TRANSACTION_PAYLOAD;
	payload(fmt, &ev);
}

static void file(const uint8_t *p, size_t n)
{
	struct wb_my_binlog_file f;
	struct wb_my_event ev;
	wb_error_t err;
	size_t off;
	int rc;
	if (wb_my_binlog_file_open(&f, p, n, &err) != 0)
		return;
	while ((rc = wb_my_binlog_file_next(&f, &ev, &off, &err)) == 1) {
		if (off + ev.length > n)
			abort();
		small_events(&f.fmt, ev);
	}
	check_err(rc == -1 ? WB_ERR_DECODE : 0, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wb_my_format fmt;
	struct wb_my_event ev;
	wb_error_t err;
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	data++;
	size--;
	if (size >= 4 && memcmp(data, WB_MY_BINLOG_MAGIC, 4) == 0) {
		file(data, size);
		return 0;
	}
	int rc = wb_my_format_parse(data, size, &fmt, &err);
	check_err(rc, &err);
	if (rc == 0)
		touch(fmt.server_version, strlen(fmt.server_version));

	uint8_t *p = malloc(size ? size : 1);
	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	wb_my_format_default(&fmt, flags & 1);
	fmt.mariadb = (flags & 2) != 0;
	if (size >= WB_MY_HEADER_LEN) {
		p[9] = (uint8_t)size;
		p[10] = (uint8_t)(size >> 8);
		p[11] = (uint8_t)(size >> 16);
		p[12] = (uint8_t)(size >> 24);
		if ((flags & 5) == 5 && size >= WB_MY_HEADER_LEN + 4) {
			uint32_t c = wb_my_crc32(p, size - 4);
			for (int i = 0; i < 4; i++)
				p[size - 4 + i] = (uint8_t)(c >> (8 * i));
		}
	}
	rc = wb_my_event_parse(&fmt, p, size, &ev, &err);
	check_err(rc, &err);
	if (rc == 0) {
		touch(ev.body, ev.body_len);
		small_events(&fmt, ev);
	}
	free(p);
	return 0;
}
