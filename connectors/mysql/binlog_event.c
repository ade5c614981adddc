/* binlog_event.c — decoders of the binlog's common header, the
 * FORMAT_DESCRIPTION event and the small events (see binlog_event.h).
 *
 * Layouts (after the 19-byte header; "packed" = length-encoded integer):
 *
 *   FORMAT_DESCRIPTION  binlog_version u16, server_version char[50],
 *       created u32, header_len u8, post-header length per event type
 *       (one byte for type 1, 2, ...), then, from servers that know
 *       checksums (MySQL >= 5.6.1, MariaDB >= 5.3), the checksum algorithm
 *       u8 (0 off, 1 CRC32) and a CRC32 that is always there. That CRC is
 *       computed with LOG_EVENT_BINLOG_IN_USE_F (flags bit 0) clear: the
 *       server sets the flag in the file while it writes it and clears it
 *       at close, without recomputing.
 *   ROTATE      pos u64 (post-header), file name to the end
 *   QUERY       thread_id u32, exec_time u32, db_len u8, error_code u16,
 *               status_vars_len u16 (post-header, 13 bytes in v4); status
 *               variables; db; NUL; statement to the end
 *   XID         xid u64
 *   MariaDB GTID (162)  seq_no u64, domain_id u32, flags2 u8, then fields
 *               that flags2 announces (commit id, XA) we do not need
 *   MariaDB GTID_LIST (163)  count u32 (low 28 bits), count x
 *               (domain u32, server u32, seq u64)
 *   MySQL GTID (33), ANONYMOUS_GTID (34)  flags u8, sid[16], gno u64;
 *               from 5.7: logical-clock type u8 (2), last_committed u64,
 *               sequence_number u64; from 8.0.1: immediate commit time u56
 *               (bit 55: the original one follows and differs), original
 *               commit time u56, transaction length packed, server versions
 *   MySQL GTID_TAGGED (42)  serialization version u8 (2), then a
 *               self-describing payload: size, last non-ignorable field id,
 *               fields (id, value) in MySQL's variable-length integer
 *               encoding (the count of trailing one bits of the first byte
 *               is the count of further bytes; signed values zigzag)
 *   HEARTBEAT (27)      file name to the end; position in log_pos
 *   HEARTBEAT_V2 (41)   fields (type packed, length packed, value):
 *               1 file name, 2 position (packed), 0 ends
 *   TRANSACTION_PAYLOAD (40)  fields as HEARTBEAT_V2's: 1 payload size,
 *               2 compression type, 3 uncompressed size (each a packed
 *               value), 0 ends; the payload follows. The post-header
 *               length the format lists for it is not used by the server's
 *               own reader, and not by ours. */
#include "binlog_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "binlog_rd.h"

#define FDE_FIXED 57 /* version, server version, created, header_len */
#define IN_USE_FLAG 0x0001
#define CHECKSUM_LEN 4
#define MAX_EVENT_LEN (1u << 30) /* max_allowed_packet's ceiling */

/* Post-header lengths as MySQL 8.0.28 lists them (types 1..41), with
 * MariaDB's own types (160..171) added: the two never overlap. */
static const uint8_t default_post_header[42] = {
	0, 0, 13, 0, 8, 0, 0, 0, 0, 4,	0,  4,	0,  0,	0, 98, 0,  4, 26, 8,  0,
	0, 0, 8,  8, 8, 2, 0, 0, 0, 10, 10, 10, 42, 42, 0, 18, 52, 0, 10, 40, 0,
};
static const uint8_t mariadb_post_header[12] = {0, 4, 19, 4,  0,  13,
						8, 8, 8,  10, 10, 10};

static const char *type_name(uint8_t t)
{
	switch (t) {
	case WB_MY_EV_QUERY:
		return "QUERY";
	case WB_MY_EV_ROTATE:
		return "ROTATE";
	case WB_MY_EV_FORMAT_DESCRIPTION:
		return "FORMAT_DESCRIPTION";
	case WB_MY_EV_XID:
		return "XID";
	case WB_MY_EV_TABLE_MAP:
		return "TABLE_MAP";
	case WB_MY_EV_HEARTBEAT:
		return "HEARTBEAT";
	case WB_MY_EV_HEARTBEAT_V2:
		return "HEARTBEAT_V2";
	case WB_MY_EV_GTID:
		return "GTID";
	case WB_MY_EV_ANONYMOUS_GTID:
		return "ANONYMOUS_GTID";
	case WB_MY_EV_GTID_TAGGED:
		return "GTID_TAGGED";
	case WB_MY_EV_TRANSACTION_PAYLOAD:
		return "TRANSACTION_PAYLOAD";
	case WB_MY_EV_MARIA_GTID:
		return "MariaDB GTID";
	case WB_MY_EV_MARIA_GTID_LIST:
		return "MariaDB GTID_LIST";
	case WB_MY_EV_QUERY_COMPRESSED:
		return "QUERY_COMPRESSED";
	default:
		return "event";
	}
}

uint32_t wb_my_crc32(const uint8_t *p, size_t n)
{
	uLong c = crc32(0L, Z_NULL, 0);
	while (n > 0) {
		uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;
		c = crc32(c, p, chunk);
		p += chunk;
		n -= chunk;
	}
	return (uint32_t)c;
}

/* CRC32 of an event's header and body (n bytes), a FORMAT_DESCRIPTION's
 * taken with the in-use flag clear (see the top of the file). */
static uint32_t event_crc(const uint8_t *p, size_t n)
{
	if (n < WB_MY_HEADER_LEN || p[4] != WB_MY_EV_FORMAT_DESCRIPTION ||
	    !(p[17] & IN_USE_FLAG))
		return wb_my_crc32(p, n);
	uint8_t hdr[WB_MY_HEADER_LEN];
	memcpy(hdr, p, sizeof(hdr));
	hdr[17] &= (uint8_t)~IN_USE_FLAG;
	uLong c = crc32(0L, Z_NULL, 0);
	c = crc32(c, hdr, sizeof(hdr));
	uint32_t rest = wb_my_crc32(p + sizeof(hdr), n - sizeof(hdr));
	return (uint32_t)crc32_combine(c, rest, (z_off_t)(n - sizeof(hdr)));
}

static void split_header(const uint8_t *p, struct wb_my_event *ev)
{
	ev->timestamp = (uint32_t)wb_my_le(p, 4);
	ev->type = p[4];
	ev->server_id = (uint32_t)wb_my_le(p + 5, 4);
	ev->length = (uint32_t)wb_my_le(p + 9, 4);
	ev->log_pos = (uint32_t)wb_my_le(p + 13, 4);
	ev->flags = (uint16_t)wb_my_le(p + 17, 2);
}

void wb_my_format_default(struct wb_my_format *f, bool checksum)
{
	memset(f, 0, sizeof(*f));
	f->binlog_version = 4;
	f->header_len = WB_MY_HEADER_LEN;
	memcpy(f->post_header_len, default_post_header,
	       sizeof(default_post_header));
	memcpy(f->post_header_len + 160, mariadb_post_header,
	       sizeof(mariadb_post_header));
	f->checksum = checksum;
}

/* "5.7.21-log", "10.5.15-MariaDB-..." as major*10000+minor*100+patch. */
static unsigned version_number(const char *s)
{
	unsigned part[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		if (*s < '0' || *s > '9')
			break;
		while (*s >= '0' && *s <= '9') {
			if (part[i] < 1000)
				part[i] = part[i] * 10 + (unsigned)(*s - '0');
			s++;
		}
		if (*s != '.')
			break;
		s++;
	}
	return part[0] * 10000 + part[1] * 100 + part[2];
}

int wb_my_format_parse(const uint8_t *p, size_t n, struct wb_my_format *out,
		       wb_error_t *err)
{
	struct wb_my_event ev;
	if (n < WB_MY_HEADER_LEN)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog FORMAT_DESCRIPTION: %zu bytes, "
				    "shorter than the header",
				    n);
	split_header(p, &ev);
	if (ev.type != WB_MY_EV_FORMAT_DESCRIPTION)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog FORMAT_DESCRIPTION expected, got "
				    "event type %u",
				    ev.type);
	if (ev.length != n)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog FORMAT_DESCRIPTION: length field "
				    "%u but %zu bytes",
				    ev.length, n);
	const uint8_t *b = p + WB_MY_HEADER_LEN;
	size_t blen = n - WB_MY_HEADER_LEN;
	if (blen < FDE_FIXED)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog FORMAT_DESCRIPTION: body of %zu "
				    "bytes truncated",
				    blen);
	struct wb_my_format f;
	memset(&f, 0, sizeof(f));
	f.binlog_version = (uint16_t)wb_my_le(b, 2);
	memcpy(f.server_version, b + 2, 50);
	f.server_version[50] = '\0';
	f.created = (uint32_t)wb_my_le(b + 52, 4);
	f.header_len = b[56];
	if (f.binlog_version != 4)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog FORMAT_DESCRIPTION: binlog "
				    "version %u (only 4 is supported)",
				    f.binlog_version);
	if (f.header_len != WB_MY_HEADER_LEN)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog FORMAT_DESCRIPTION: common header "
				    "of %u bytes (only 19 is supported)",
				    f.header_len);
	f.mariadb = strstr(f.server_version, "MariaDB") != NULL;
	unsigned v = version_number(f.server_version);
	bool aware = f.mariadb ? v >= 50300 : v >= 50601;
	size_t nent = blen - FDE_FIXED;
	if (aware) {
		if (nent < 1 + CHECKSUM_LEN)
			return wb_error_set(err, WB_ERR_DECODE,
					    "binlog FORMAT_DESCRIPTION of %s: "
					    "checksum algorithm truncated",
					    f.server_version);
		nent -= 1 + CHECKSUM_LEN;
		uint8_t alg = b[blen - 1 - CHECKSUM_LEN];
		if (alg == 1) {
			uint32_t want = (uint32_t)wb_my_le(p + n - 4, 4);
			uint32_t got = event_crc(p, n - CHECKSUM_LEN);
			if (want != got)
				return wb_error_set(
					err, WB_ERR_DECODE,
					"binlog FORMAT_DESCRIPTION: checksum "
					"mismatch (stored 0x%08x, computed "
					"0x%08x)",
					want, got);
			f.checksum = true;
		} else if (alg != 0 && alg != 255) {
			return wb_error_set(
				err, WB_ERR_DECODE,
				"binlog FORMAT_DESCRIPTION: unknown "
				"checksum algorithm %u",
				alg);
		}
	}
	if (nent > 255)
		return wb_error_set(
			err, WB_ERR_DECODE,
			"binlog FORMAT_DESCRIPTION: %zu post-header "
			"lengths (at most 255 event types)",
			nent);
	memcpy(f.post_header_len + 1, b + FDE_FIXED, nent);
	*out = f;
	return 0;
}

int wb_my_event_parse(const struct wb_my_format *fmt, const uint8_t *p,
		      size_t n, struct wb_my_event *ev, wb_error_t *err)
{
	if (n < WB_MY_HEADER_LEN)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog event: %zu bytes, shorter than the "
				    "19-byte header",
				    n);
	split_header(p, ev);
	if (ev->length != n)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog %s (type %u): length field %u but "
				    "%zu bytes",
				    type_name(ev->type), ev->type, ev->length,
				    n);
	size_t tail = fmt->checksum ? CHECKSUM_LEN : 0;
	if (n < WB_MY_HEADER_LEN + tail)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog %s (type %u): %zu bytes, no room "
				    "for the checksum",
				    type_name(ev->type), ev->type, n);
	if (fmt->checksum) {
		uint32_t want = (uint32_t)wb_my_le(p + n - 4, 4);
		uint32_t got = event_crc(p, n - CHECKSUM_LEN);
		if (want != got)
			return wb_error_set(err, WB_ERR_DECODE,
					    "binlog %s (type %u): checksum "
					    "mismatch (stored 0x%08x, computed "
					    "0x%08x)",
					    type_name(ev->type), ev->type, want,
					    got);
	}
	ev->body = p + WB_MY_HEADER_LEN;
	ev->body_len = n - WB_MY_HEADER_LEN - tail;
	return 0;
}

static int want_type(const struct wb_my_event *ev, uint8_t t, wb_error_t *err)
{
	if (ev->type != t)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog %s expected, got event type %u",
				    type_name(t), ev->type);
	return 0;
}

int wb_my_rotate_parse(const struct wb_my_format *fmt,
		       const struct wb_my_event *ev, struct wb_my_rotate *out,
		       wb_error_t *err)
{
	struct wb_my_rd r;
	if (want_type(ev, WB_MY_EV_ROTATE, err))
		return WB_ERR_DECODE;
	wb_my_rd_init(&r, ev->body, ev->body_len, "ROTATE", err);
	size_t phl = fmt->post_header_len[WB_MY_EV_ROTATE];
	out->pos = 4;
	if (phl >= 8 && wb_my_rd_uint(&r, 8, "position", &out->pos))
		return WB_ERR_DECODE;
	if (phl > 8 && wb_my_rd_need(&r, phl - 8, "post-header"))
		return WB_ERR_DECODE;
	if (phl > 8)
		r.p += phl - 8;
	if (wb_my_rd_left(&r) == 0)
		return wb_my_rd_fail(&r, "file name", "empty");
	out->name = (const char *)r.p;
	out->name_len = wb_my_rd_left(&r);
	return 0;
}

int wb_my_query_parse(const struct wb_my_format *fmt,
		      const struct wb_my_event *ev, struct wb_my_query *out,
		      wb_error_t *err)
{
	struct wb_my_rd r;
	uint64_t v;
	uint8_t db_len;
	uint64_t status_len = 0;
	const uint8_t *skip;
	if (ev->type == WB_MY_EV_QUERY_COMPRESSED)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog QUERY_COMPRESSED: compressed query "
				    "not decoded");
	if (want_type(ev, WB_MY_EV_QUERY, err))
		return WB_ERR_DECODE;
	wb_my_rd_init(&r, ev->body, ev->body_len, "QUERY", err);
	size_t phl = fmt->post_header_len[WB_MY_EV_QUERY];
	if (phl < 11)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog QUERY: post-header of %zu bytes "
				    "(at least 11 expected)",
				    phl);
	if (wb_my_rd_uint(&r, 4, "thread id", &v))
		return WB_ERR_DECODE;
	out->thread_id = (uint32_t)v;
	if (wb_my_rd_uint(&r, 4, "exec time", &v))
		return WB_ERR_DECODE;
	out->exec_time = (uint32_t)v;
	if (wb_my_rd_u8(&r, "db length", &db_len))
		return WB_ERR_DECODE;
	if (wb_my_rd_uint(&r, 2, "error code", &v))
		return WB_ERR_DECODE;
	out->error_code = (uint16_t)v;
	if (phl >= 13 &&
	    wb_my_rd_uint(&r, 2, "status vars length", &status_len))
		return WB_ERR_DECODE;
	if (phl > 13 && wb_my_rd_bytes(&r, phl - 13, "post-header", &skip))
		return WB_ERR_DECODE;
	if (wb_my_rd_bytes(&r, (size_t)status_len, "status vars", &skip))
		return WB_ERR_DECODE;
	if (wb_my_rd_bytes(&r, db_len, "db", &skip))
		return WB_ERR_DECODE;
	out->db = (const char *)skip;
	out->db_len = db_len;
	uint8_t nul;
	if (wb_my_rd_u8(&r, "db terminator", &nul))
		return WB_ERR_DECODE;
	if (nul != 0)
		return wb_my_rd_fail(&r, "db terminator", "is not NUL");
	out->sql = (const char *)r.p;
	out->sql_len = wb_my_rd_left(&r);
	return 0;
}

int wb_my_xid_parse(const struct wb_my_format *fmt,
		    const struct wb_my_event *ev, uint64_t *xid,
		    wb_error_t *err)
{
	struct wb_my_rd r;
	const uint8_t *skip;
	if (want_type(ev, WB_MY_EV_XID, err))
		return WB_ERR_DECODE;
	wb_my_rd_init(&r, ev->body, ev->body_len, "XID", err);
	if (wb_my_rd_bytes(&r, fmt->post_header_len[WB_MY_EV_XID],
			   "post-header", &skip))
		return WB_ERR_DECODE;
	return wb_my_rd_uint(&r, 8, "xid", xid);
}

static int rd_varlen_signed(struct wb_my_rd *r, const char *field, int64_t *v)
{
	uint64_t u;
	if (wb_my_rd_varlen(r, field, &u))
		return WB_ERR_DECODE;
	if (u & 1)
		*v = -(int64_t)(u >> 1) - 1;
	else
		*v = (int64_t)(u >> 1);
	return 0;
}

static int gtid_tagged(struct wb_my_rd *r, struct wb_my_gtid *out)
{
	uint8_t version;
	uint64_t size, last_non_ignorable;
	const uint8_t *start = r->p;
	if (wb_my_rd_u8(r, "serialization version", &version))
		return WB_ERR_DECODE;
	if (version != 2)
		return wb_error_set(r->err, WB_ERR_DECODE,
				    "binlog GTID_TAGGED: serialization version "
				    "%u (only 2 is known)",
				    version);
	if (wb_my_rd_varlen(r, "payload size", &size) ||
	    wb_my_rd_varlen(r, "last field id", &last_non_ignorable))
		return WB_ERR_DECODE;
	size_t used = (size_t)(r->p - start);
	if (size < used || size - used > wb_my_rd_left(r))
		return wb_my_rd_fail(r, "payload size", "out of range");
	struct wb_my_rd f = *r;
	f.end = r->p + (size - used);
	r->p = f.end;
	bool have_sid = false, have_gno = false, have_orig = false;
	while (f.p < f.end) {
		uint64_t id, u;
		int64_t s;
		if (wb_my_rd_varlen(&f, "field id", &id))
			return WB_ERR_DECODE;
		switch (id) {
		case 0: /* gtid flags */
			if (wb_my_rd_varlen(&f, "flags", &u))
				return WB_ERR_DECODE;
			break;
		case 1: /* sid: 16 varlen bytes */
			for (int i = 0; i < 16; i++) {
				if (wb_my_rd_varlen(&f, "sid", &u))
					return WB_ERR_DECODE;
				if (u > 255)
					return wb_my_rd_fail(
						&f, "sid", "byte out of range");
				out->sid[i] = (uint8_t)u;
			}
			have_sid = true;
			break;
		case 2: /* gno */
			if (rd_varlen_signed(&f, "gno", &s))
				return WB_ERR_DECODE;
			if (s <= 0)
				return wb_my_rd_fail(&f, "gno", "not positive");
			out->gno = (uint64_t)s;
			have_gno = true;
			break;
		case 3: { /* tag: length, bytes */
			if (wb_my_rd_varlen(&f, "tag length", &u))
				return WB_ERR_DECODE;
			if (u >= sizeof(out->tag))
				return wb_my_rd_fail(&f, "tag", "too long");
			const uint8_t *t;
			if (wb_my_rd_bytes(&f, (size_t)u, "tag", &t))
				return WB_ERR_DECODE;
			memcpy(out->tag, t, (size_t)u);
			out->tag[u] = '\0';
			if (memchr(out->tag, '\0', (size_t)u) != NULL)
				return wb_my_rd_fail(&f, "tag", "contains NUL");
			break;
		}
		case 4:
		case 5: /* last_committed, sequence_number */
			if (rd_varlen_signed(&f, "logical clock", &s))
				return WB_ERR_DECODE;
			break;
		case 6:
			if (wb_my_rd_varlen(&f, "immediate commit time", &u))
				return WB_ERR_DECODE;
			out->immediate_commit_us = (int64_t)u;
			break;
		case 7:
			if (wb_my_rd_varlen(&f, "original commit time", &u))
				return WB_ERR_DECODE;
			out->original_commit_us = (int64_t)u;
			have_orig = true;
			break;
		case 8:
		case 9:
		case 10:
		case 11: /* length, server versions, commit ticket */
			if (wb_my_rd_varlen(&f, "field", &u))
				return WB_ERR_DECODE;
			break;
		default:
			if (id <= last_non_ignorable)
				return wb_error_set(
					r->err, WB_ERR_DECODE,
					"binlog GTID_TAGGED: unknown "
					"field %llu that may not "
					"be ignored",
					(unsigned long long)id);
			f.p = f.end; /* the rest may be ignored */
			break;
		}
	}
	if (!have_sid || !have_gno)
		return wb_error_set(r->err, WB_ERR_DECODE,
				    "binlog GTID_TAGGED: no %s",
				    have_sid ? "gno" : "sid");
	if (!have_orig)
		out->original_commit_us = out->immediate_commit_us;
	return 0;
}

int wb_my_gtid_parse(const struct wb_my_format *fmt,
		     const struct wb_my_event *ev, struct wb_my_gtid *out,
		     wb_error_t *err)
{
	struct wb_my_rd r;
	uint64_t v;
	const uint8_t *b;
	(void)fmt;
	memset(out, 0, sizeof(*out));
	switch (ev->type) {
	case WB_MY_EV_MARIA_GTID:
		wb_my_rd_init(&r, ev->body, ev->body_len, "MariaDB GTID", err);
		out->mariadb = true;
		out->server_id = ev->server_id;
		if (wb_my_rd_uint(&r, 8, "seq_no", &out->seq_no) ||
		    wb_my_rd_uint(&r, 4, "domain id", &v) ||
		    wb_my_rd_u8(&r, "flags", &out->flags2))
			return WB_ERR_DECODE;
		out->domain_id = (uint32_t)v;
		out->standalone = (out->flags2 & 1) != 0;
		return 0;
	case WB_MY_EV_GTID:
	case WB_MY_EV_ANONYMOUS_GTID:
		wb_my_rd_init(&r, ev->body, ev->body_len, type_name(ev->type),
			      err);
		out->anonymous = ev->type == WB_MY_EV_ANONYMOUS_GTID;
		if (wb_my_rd_bytes(&r, 1, "flags", &b) ||
		    wb_my_rd_bytes(&r, 16, "sid", &b))
			return WB_ERR_DECODE;
		memcpy(out->sid, b, 16);
		if (wb_my_rd_uint(&r, 8, "gno", &out->gno))
			return WB_ERR_DECODE;
		if (wb_my_rd_left(&r) == 0 || r.p[0] != 2)
			return 0; /* MySQL 5.6: no logical clock */
		if (wb_my_rd_bytes(&r, 17, "logical clock", &b))
			return WB_ERR_DECODE;
		if (wb_my_rd_left(&r) < 7)
			return 0; /* before 8.0.1: no commit times */
		wb_my_rd_uint(&r, 7, "immediate commit time", &v);
		if (v & (1ull << 55)) {
			out->immediate_commit_us = (int64_t)(v & ~(1ull << 55));
			if (wb_my_rd_uint(&r, 7, "original commit time", &v))
				return WB_ERR_DECODE;
			out->original_commit_us = (int64_t)v;
		} else {
			out->immediate_commit_us = (int64_t)v;
			out->original_commit_us = (int64_t)v;
		}
		return 0;
	case WB_MY_EV_GTID_TAGGED:
		wb_my_rd_init(&r, ev->body, ev->body_len, "GTID_TAGGED", err);
		return gtid_tagged(&r, out);
	default:
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog GTID expected, got event type %u",
				    ev->type);
	}
}

size_t wb_my_gtid_format(const struct wb_my_gtid *g, char *buf, size_t n)
{
	int w;
	if (n == 0)
		return 0;
	if (g->mariadb) {
		w = snprintf(buf, n, "%u-%u-%llu", g->domain_id, g->server_id,
			     (unsigned long long)g->seq_no);
	} else if (g->anonymous) {
		w = snprintf(buf, n, "ANONYMOUS");
	} else {
		const uint8_t *s = g->sid;
		w = snprintf(buf, n,
			     "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
			     "%02x%02x%02x%02x%02x%02x%s%s:%llu",
			     s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
			     s[8], s[9], s[10], s[11], s[12], s[13], s[14],
			     s[15], g->tag[0] ? ":" : "", g->tag,
			     (unsigned long long)g->gno);
	}
	if (w < 0) {
		buf[0] = '\0';
		return 0;
	}
	return (size_t)w < n ? (size_t)w : n - 1;
}

int wb_my_gtid_list_parse(const struct wb_my_format *fmt,
			  const struct wb_my_event *ev,
			  int (*fn)(void *ctx, uint32_t domain, uint32_t server,
				    uint64_t seq),
			  void *ctx, wb_error_t *err)
{
	struct wb_my_rd r;
	uint64_t count, d = 0, s = 0, q = 0;
	(void)fmt;
	if (want_type(ev, WB_MY_EV_MARIA_GTID_LIST, err))
		return WB_ERR_DECODE;
	wb_my_rd_init(&r, ev->body, ev->body_len, "MariaDB GTID_LIST", err);
	if (wb_my_rd_uint(&r, 4, "count", &count))
		return WB_ERR_DECODE;
	count &= 0x0fffffff; /* the top 4 bits are flags */
	if (count * 16 > wb_my_rd_left(&r))
		return wb_my_rd_fail(&r, "entries", "truncated");
	for (uint64_t i = 0; i < count; i++) {
		wb_my_rd_uint(&r, 4, "domain", &d);
		wb_my_rd_uint(&r, 4, "server", &s);
		wb_my_rd_uint(&r, 8, "seq", &q);
		int rc = fn(ctx, (uint32_t)d, (uint32_t)s, q);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* One (type, length, value) field of HEARTBEAT_V2 / TRANSACTION_PAYLOAD.
 * Returns 1 with a field, 0 at the end mark. */
static int rd_field(struct wb_my_rd *r, uint64_t *type, struct wb_my_rd *val)
{
	uint64_t len;
	if (wb_my_rd_packed(r, "field type", type))
		return -1;
	if (*type == 0)
		return 0;
	if (wb_my_rd_packed(r, "field length", &len))
		return -1;
	if (len > wb_my_rd_left(r)) {
		wb_my_rd_fail(r, "field", "truncated");
		return -1;
	}
	*val = *r;
	val->end = r->p + len;
	r->p += len;
	return 1;
}

int wb_my_heartbeat_parse(const struct wb_my_format *fmt,
			  const struct wb_my_event *ev,
			  struct wb_my_heartbeat *out, wb_error_t *err)
{
	struct wb_my_rd r;
	(void)fmt;
	memset(out, 0, sizeof(*out));
	if (ev->type == WB_MY_EV_HEARTBEAT) {
		out->name = (const char *)ev->body;
		out->name_len = ev->body_len;
		out->pos = ev->log_pos;
		return 0;
	}
	if (want_type(ev, WB_MY_EV_HEARTBEAT_V2, err))
		return WB_ERR_DECODE;
	wb_my_rd_init(&r, ev->body, ev->body_len, "HEARTBEAT_V2", err);
	bool have_name = false;
	while (wb_my_rd_left(&r) > 0) {
		uint64_t type;
		struct wb_my_rd val;
		int rc = rd_field(&r, &type, &val);
		if (rc < 0)
			return WB_ERR_DECODE;
		if (rc == 0)
			break;
		if (type == 1) {
			out->name = (const char *)val.p;
			out->name_len = wb_my_rd_left(&val);
			have_name = true;
		} else if (type == 2) {
			if (wb_my_rd_packed(&val, "position", &out->pos))
				return WB_ERR_DECODE;
		}
	}
	if (!have_name)
		return wb_my_rd_fail(&r, "file name", "missing");
	return 0;
}

int wb_my_payload_parse(const struct wb_my_format *fmt,
			const struct wb_my_event *ev, struct wb_my_payload *out,
			wb_error_t *err)
{
	struct wb_my_rd r;
	uint64_t payload_size = 0;
	bool have_size = false, have_comp = false, ended = false;
	(void)fmt;
	memset(out, 0, sizeof(*out));
	if (want_type(ev, WB_MY_EV_TRANSACTION_PAYLOAD, err))
		return WB_ERR_DECODE;
	wb_my_rd_init(&r, ev->body, ev->body_len, "TRANSACTION_PAYLOAD", err);
	while (wb_my_rd_left(&r) > 0) {
		uint64_t type;
		struct wb_my_rd val;
		int rc = rd_field(&r, &type, &val);
		if (rc < 0)
			return WB_ERR_DECODE;
		if (rc == 0) {
			ended = true;
			break;
		}
		switch (type) {
		case 1:
			if (wb_my_rd_packed(&val, "payload size",
					    &payload_size))
				return WB_ERR_DECODE;
			have_size = true;
			break;
		case 2:
			if (wb_my_rd_packed(&val, "compression type",
					    &out->compression))
				return WB_ERR_DECODE;
			have_comp = true;
			break;
		case 3:
			if (wb_my_rd_packed(&val, "uncompressed size",
					    &out->uncompressed_size))
				return WB_ERR_DECODE;
			break;
		default: /* a field of a later server: skipped */
			break;
		}
	}
	if (!ended)
		return wb_my_rd_fail(&r, "header", "has no end mark");
	if (!have_comp)
		return wb_my_rd_fail(&r, "compression type", "missing");
	if (out->compression != 0 && out->compression != 255)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog TRANSACTION_PAYLOAD: compression "
				    "type %llu unknown (0 zstd, 255 none)",
				    (unsigned long long)out->compression);
	if (have_size && payload_size != wb_my_rd_left(&r))
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog TRANSACTION_PAYLOAD: payload size "
				    "%llu but %zu bytes follow",
				    (unsigned long long)payload_size,
				    wb_my_rd_left(&r));
	out->data = r.p;
	out->len = wb_my_rd_left(&r);
	return 0;
}

/* The reader keeps one buffer: buf[0..have) are decompressed bytes not
 * returned yet, the event returned last (its `last` bytes) at the front.
 * It asks zstd only for the bytes the next event still needs, so the
 * buffer grows to the largest inner event and never holds more than one
 * event and the next one's beginning. */
struct wb_my_payload_reader {
	ZSTD_DStream *zs;
	const struct wb_my_payload *pl;
	ZSTD_inBuffer in;
	uint8_t *buf;
	size_t cap;
	size_t have;
	size_t last;	   /* bytes of the event returned last */
	uint64_t produced; /* uncompressed bytes so far */
	size_t raw_off;	   /* compression none: offset in pl->data */
	bool frame_done;
};

struct wb_my_payload_reader *wb_my_payload_reader_new(void)
{
	struct wb_my_payload_reader *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->zs = ZSTD_createDStream();
	if (r->zs == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

size_t wb_my_payload_reader_capacity(const struct wb_my_payload_reader *r)
{
	return r->cap;
}

void wb_my_payload_reader_free(struct wb_my_payload_reader *r)
{
	if (r == NULL)
		return;
	ZSTD_freeDStream(r->zs);
	free(r->buf);
	free(r);
}

int wb_my_payload_reader_start(struct wb_my_payload_reader *r,
			       const struct wb_my_payload *pl, wb_error_t *err)
{
	size_t rc = ZSTD_DCtx_reset(r->zs, ZSTD_reset_session_only);
	if (ZSTD_isError(rc))
		return wb_error_set(
			err, WB_ERR_DECODE,
			"binlog TRANSACTION_PAYLOAD: zstd reset: %s",
			ZSTD_getErrorName(rc));
	r->pl = pl;
	r->in.src = pl->data;
	r->in.size = pl->len;
	r->in.pos = 0;
	r->have = 0;
	r->last = 0;
	r->produced = 0;
	r->raw_off = 0;
	r->frame_done = pl->len == 0;
	return 0;
}

static int grow(struct wb_my_payload_reader *r, size_t need, wb_error_t *err)
{
	if (need <= r->cap)
		return 0;
	size_t cap = r->cap ? r->cap : 4096;
	while (cap < need)
		cap *= 2;
	uint8_t *nb = realloc(r->buf, cap);
	if (nb == NULL)
		return wb_error_set(err, WB_ERR_NOMEM,
				    "binlog TRANSACTION_PAYLOAD: out of memory "
				    "for an inner event of %zu bytes",
				    need);
	r->buf = nb;
	r->cap = cap;
	return 0;
}

/* Decompresses until buf holds `need` bytes or the payload ends. */
static int fill(struct wb_my_payload_reader *r, size_t need, wb_error_t *err)
{
	while (r->have < need) {
		if (r->in.pos == r->in.size && r->frame_done)
			return 0;
		ZSTD_outBuffer out = {r->buf, need, r->have};
		size_t rc = ZSTD_decompressStream(r->zs, &out, &r->in);
		if (ZSTD_isError(rc))
			return wb_error_set(err, WB_ERR_DECODE,
					    "binlog TRANSACTION_PAYLOAD: zstd: "
					    "%s",
					    ZSTD_getErrorName(rc));
		size_t got = out.pos - r->have;
		r->have = out.pos;
		r->produced += got;
		r->frame_done = rc == 0;
		if (r->pl->uncompressed_size != 0 &&
		    r->produced > r->pl->uncompressed_size)
			return wb_error_set(
				err, WB_ERR_DECODE,
				"binlog TRANSACTION_PAYLOAD: more "
				"than the %llu uncompressed bytes "
				"announced",
				(unsigned long long)r->pl->uncompressed_size);
		if (got == 0 && r->in.pos == r->in.size && !r->frame_done)
			return wb_error_set(err, WB_ERR_DECODE,
					    "binlog TRANSACTION_PAYLOAD: zstd "
					    "frame truncated");
	}
	return 0;
}

static int inner_length(const uint8_t *h, size_t room, size_t *len,
			wb_error_t *err)
{
	uint32_t l = (uint32_t)wb_my_le(h + 9, 4);
	if (l < WB_MY_HEADER_LEN || l > MAX_EVENT_LEN || l > room)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog TRANSACTION_PAYLOAD: inner event "
				    "of type %u has length %u (%zu bytes left)",
				    h[4], l, room);
	*len = l;
	return 0;
}

int wb_my_payload_reader_next(struct wb_my_payload_reader *r,
			      const uint8_t **ev, size_t *evlen,
			      wb_error_t *err)
{
	const struct wb_my_payload *pl = r->pl;
	size_t len;
	if (pl == NULL) {
		wb_error_set(err, WB_ERR_DECODE,
			     "binlog TRANSACTION_PAYLOAD: reader not started");
		return -1;
	}
	if (pl->compression == 255) {
		size_t left = pl->len - r->raw_off;
		if (left == 0) {
			if (pl->uncompressed_size != 0 &&
			    pl->uncompressed_size != pl->len) {
				wb_error_set(err, WB_ERR_DECODE,
					     "binlog TRANSACTION_PAYLOAD: %zu "
					     "bytes, %llu announced",
					     pl->len,
					     (unsigned long long)
						     pl->uncompressed_size);
				return -1;
			}
			return 0;
		}
		if (left < WB_MY_HEADER_LEN) {
			wb_error_set(err, WB_ERR_DECODE,
				     "binlog TRANSACTION_PAYLOAD: %zu bytes "
				     "after the last inner event",
				     left);
			return -1;
		}
		if (inner_length(pl->data + r->raw_off, left, &len, err))
			return -1;
		*ev = pl->data + r->raw_off;
		*evlen = len;
		r->raw_off += len;
		return 1;
	}
	/* drop the event returned last */
	if (r->last > 0) {
		memmove(r->buf, r->buf + r->last, r->have - r->last);
		r->have -= r->last;
		r->last = 0;
	}
	if (grow(r, WB_MY_HEADER_LEN, err) || fill(r, WB_MY_HEADER_LEN, err))
		return -1;
	if (r->have == 0) {
		if (pl->uncompressed_size != 0 &&
		    r->produced != pl->uncompressed_size) {
			wb_error_set(err, WB_ERR_DECODE,
				     "binlog TRANSACTION_PAYLOAD: %llu bytes "
				     "uncompressed, %llu announced",
				     (unsigned long long)r->produced,
				     (unsigned long long)pl->uncompressed_size);
			return -1;
		}
		return 0;
	}
	if (r->have < WB_MY_HEADER_LEN) {
		wb_error_set(err, WB_ERR_DECODE,
			     "binlog TRANSACTION_PAYLOAD: %zu bytes after the "
			     "last inner event",
			     r->have);
		return -1;
	}
	size_t room = MAX_EVENT_LEN;
	if (pl->uncompressed_size != 0)
		room = (size_t)(pl->uncompressed_size -
				(r->produced - r->have));
	if (inner_length(r->buf, room, &len, err))
		return -1;
	if (grow(r, len, err) || fill(r, len, err))
		return -1;
	if (r->have < len) {
		wb_error_set(err, WB_ERR_DECODE,
			     "binlog TRANSACTION_PAYLOAD: inner event of type "
			     "%u truncated (%zu of %zu bytes)",
			     r->buf[4], r->have, len);
		return -1;
	}
	r->last = len;
	*ev = r->buf;
	*evlen = len;
	return 1;
}
