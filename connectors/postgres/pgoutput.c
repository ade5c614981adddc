/* pgoutput.c — decoder of pgoutput logical replication messages (protocol 1).
 *
 * Layouts (PostgreSQL 15, "Logical Replication Message Formats"); all
 * integers big-endian, String = bytes up to and including a NUL:
 *
 *   B  Int64 final LSN, Int64 commit ts, Int32 xid
 *   C  Int8 flags, Int64 commit LSN, Int64 end LSN, Int64 commit ts
 *   O  Int64 commit LSN at origin, String origin name
 *   R  Int32 oid, String namespace ("" = pg_catalog), String relname,
 *      Int8 replica identity, Int16 ncols, then per column:
 *      Int8 flags (1 = key), String name, Int32 type oid, Int32 typmod
 *   Y  Int32 oid, String namespace, String type name
 *   I  Int32 oid, 'N', TupleData
 *   U  Int32 oid, ['K' TupleData | 'O' TupleData], 'N' TupleData
 *   D  Int32 oid, 'K' | 'O', TupleData
 *   T  Int32 nrels, Int8 options (1 CASCADE, 2 RESTART IDENTITY),
 *      nrels x Int32 oid
 *   M  Int8 flags (1 = transactional), Int64 LSN, String prefix,
 *      Int32 length, length bytes of content
 *
 *   TupleData: Int16 ncols, then per column Byte1 kind:
 *      'n' null, 'u' unchanged TOASTed value (no data),
 *      't' Int32 length + text bytes, 'b' Int32 length + binary bytes
 *
 * Protocol 1 without streaming carries no xid in I/U/D/R/Y/T/M, and that is
 * what we ask the server for.
 *
 * Bytes after the end of a message are rejected rather than ignored: the
 * server never sends them, so their presence means we disagree with the
 * server about the layout (another protocol version, a bug on either side),
 * and decoding on would hand wrong values downstream without a word. */
#include "pgoutput.h"

#include <stdio.h>
#include <string.h>

/* A cursor over the message; every read goes through need(). */
struct rd {
	const uint8_t *p;
	const uint8_t *end;
	const char *msg; /* message name and type byte, for errors */
	const char *ctx; /* "" or e.g. "column 3 of 8 ", for errors */
	wb_error_t *err;
};

static int rd_fail(struct rd *r, const char *field, const char *what)
{
	return wb_error_set(r->err, WB_ERR_DECODE, "pgoutput %s: %s%s %s",
			    r->msg, r->ctx, field, what);
}

static int need(struct rd *r, size_t n, const char *field)
{
	if ((size_t)(r->end - r->p) < n)
		return rd_fail(r, field, "truncated");
	return 0;
}

static int get_u8(struct rd *r, const char *field, uint8_t *v)
{
	if (need(r, 1, field))
		return WB_ERR_DECODE;
	*v = r->p[0];
	r->p += 1;
	return 0;
}

static int get_u16(struct rd *r, const char *field, uint16_t *v)
{
	if (need(r, 2, field))
		return WB_ERR_DECODE;
	*v = wb_pg_get_u16(r->p);
	r->p += 2;
	return 0;
}

static int get_u32(struct rd *r, const char *field, uint32_t *v)
{
	if (need(r, 4, field))
		return WB_ERR_DECODE;
	*v = wb_pg_get_u32(r->p);
	r->p += 4;
	return 0;
}

static int get_u64(struct rd *r, const char *field, uint64_t *v)
{
	if (need(r, 8, field))
		return WB_ERR_DECODE;
	*v = wb_pg_get_u64(r->p);
	r->p += 8;
	return 0;
}

static int get_i64(struct rd *r, const char *field, int64_t *v)
{
	uint64_t u;
	if (get_u64(r, field, &u))
		return WB_ERR_DECODE;
	*v = (int64_t)u; /* two's complement, as the server wrote it */
	return 0;
}

static int get_str(struct rd *r, const char *field, const char **s)
{
	const uint8_t *nul = memchr(r->p, '\0', (size_t)(r->end - r->p));
	if (nul == NULL)
		return rd_fail(r, field, "not NUL-terminated (truncated)");
	*s = (const char *)r->p;
	r->p = nul + 1;
	return 0;
}

static int get_end(struct rd *r)
{
	if (r->p != r->end)
		return wb_error_set(r->err, WB_ERR_DECODE,
				    "pgoutput %s: %zu trailing bytes", r->msg,
				    (size_t)(r->end - r->p));
	return 0;
}

/* Walks a whole TupleData so that iterating it later cannot fail. */
static int get_tuple(struct rd *r, const char *field, struct wb_pg_tuple *t)
{
	uint16_t ncols;
	if (get_u16(r, field, &ncols))
		return WB_ERR_DECODE;
	const uint8_t *start = r->p;
	for (uint16_t i = 0; i < ncols; i++) {
		if (r->p == r->end)
			return wb_error_set(
				r->err, WB_ERR_DECODE,
				"pgoutput %s: %s declares %u columns "
				"but ends after %u",
				r->msg, field, (unsigned)ncols, (unsigned)i);
		uint8_t kind = *r->p++;
		switch (kind) {
		case 'n':
		case 'u':
			break;
		case 't':
		case 'b': {
			uint32_t len;
			if (r->end - r->p < 4)
				return wb_error_set(
					r->err, WB_ERR_DECODE,
					"pgoutput %s: %s column %u length "
					"truncated",
					r->msg, field, (unsigned)i);
			len = wb_pg_get_u32(r->p);
			r->p += 4;
			if ((size_t)(r->end - r->p) < len)
				return wb_error_set(
					r->err, WB_ERR_DECODE,
					"pgoutput %s: %s column %u "
					"length %u exceeds the %zu bytes left",
					r->msg, field, (unsigned)i, len,
					(size_t)(r->end - r->p));
			r->p += len;
			break;
		}
		default:
			return wb_error_set(
				r->err, WB_ERR_DECODE,
				"pgoutput %s: %s column %u has unknown "
				"kind byte 0x%02x",
				r->msg, field, (unsigned)i, (unsigned)kind);
		}
	}
	t->ncols = ncols;
	t->p = start;
	t->len = (size_t)(r->p - start);
	return 0;
}

static int decode_relation(struct rd *r, struct wb_pg_msg *m)
{
	if (get_u32(r, "oid", &m->u.relation.oid) ||
	    get_str(r, "namespace", &m->u.relation.nspname) ||
	    get_str(r, "relation name", &m->u.relation.relname) ||
	    get_u8(r, "replica identity", &m->u.relation.replident) ||
	    get_u16(r, "column count", &m->u.relation.ncols))
		return WB_ERR_DECODE;
	switch (m->u.relation.replident) {
	case 'd':
	case 'n':
	case 'f':
	case 'i':
		break;
	default:
		return wb_error_set(r->err, WB_ERR_DECODE,
				    "pgoutput Relation (R): unknown replica "
				    "identity 0x%02x",
				    (unsigned)m->u.relation.replident);
	}
	const uint8_t *start = r->p;
	char ctx[40];
	for (uint16_t i = 0; i < m->u.relation.ncols; i++) {
		uint8_t flags;
		const char *name;
		uint32_t u;
		snprintf(ctx, sizeof(ctx), "column %u of %u ", (unsigned)i,
			 (unsigned)m->u.relation.ncols);
		r->ctx = ctx;
		/* Column flags are not checked: unknown bits would be a
		 * harmless future addition, unlike an unknown layout. */
		if (get_u8(r, "flags", &flags) || get_str(r, "name", &name) ||
		    get_u32(r, "type oid", &u) || get_u32(r, "typmod", &u))
			return WB_ERR_DECODE;
	}
	r->ctx = "";
	m->u.relation.cols.p = start;
	m->u.relation.cols.end = r->p;
	m->u.relation.cols.left = m->u.relation.ncols;
	return 0;
}

static int decode_update(struct rd *r, struct wb_pg_msg *m)
{
	uint8_t c;
	if (get_u32(r, "oid", &m->u.update.oid) ||
	    get_u8(r, "tuple marker", &c))
		return WB_ERR_DECODE;
	if (c == 'K' || c == 'O') {
		m->u.update.old_kind = (char)c;
		if (get_tuple(r, "old tuple", &m->u.update.oldtup) ||
		    get_u8(r, "new tuple marker", &c))
			return WB_ERR_DECODE;
	}
	if (c != 'N')
		return wb_error_set(r->err, WB_ERR_DECODE,
				    "pgoutput Update (U): expected new "
				    "tuple marker 'N', got 0x%02x",
				    (unsigned)c);
	return get_tuple(r, "new tuple", &m->u.update.newtup);
}

static int decode_body(struct rd *r, struct wb_pg_msg *m)
{
	uint8_t c;
	switch (m->type) {
	case WB_PG_BEGIN:
		if (get_u64(r, "final LSN", &m->u.begin.final_lsn) ||
		    get_i64(r, "commit timestamp", &m->u.begin.commit_ts) ||
		    get_u32(r, "xid", &m->u.begin.xid))
			return WB_ERR_DECODE;
		return 0;
	case WB_PG_COMMIT:
		if (get_u8(r, "flags", &m->u.commit.flags) ||
		    get_u64(r, "commit LSN", &m->u.commit.commit_lsn) ||
		    get_u64(r, "end LSN", &m->u.commit.end_lsn) ||
		    get_i64(r, "commit timestamp", &m->u.commit.commit_ts))
			return WB_ERR_DECODE;
		return 0;
	case WB_PG_ORIGIN:
		if (get_u64(r, "LSN", &m->u.origin.lsn) ||
		    get_str(r, "name", &m->u.origin.name))
			return WB_ERR_DECODE;
		return 0;
	case WB_PG_RELATION:
		return decode_relation(r, m);
	case WB_PG_TYPE:
		if (get_u32(r, "oid", &m->u.type.oid) ||
		    get_str(r, "namespace", &m->u.type.nspname) ||
		    get_str(r, "type name", &m->u.type.typname))
			return WB_ERR_DECODE;
		return 0;
	case WB_PG_INSERT:
		if (get_u32(r, "oid", &m->u.insert.oid) ||
		    get_u8(r, "tuple marker", &c))
			return WB_ERR_DECODE;
		if (c != 'N')
			return wb_error_set(r->err, WB_ERR_DECODE,
					    "pgoutput Insert (I): expected "
					    "tuple marker 'N', got 0x%02x",
					    (unsigned)c);
		return get_tuple(r, "new tuple", &m->u.insert.newtup);
	case WB_PG_UPDATE:
		return decode_update(r, m);
	case WB_PG_DELETE:
		if (get_u32(r, "oid", &m->u.delete_.oid) ||
		    get_u8(r, "tuple marker", &c))
			return WB_ERR_DECODE;
		if (c != 'K' && c != 'O')
			return wb_error_set(
				r->err, WB_ERR_DECODE,
				"pgoutput Delete (D): expected "
				"tuple marker 'K' or 'O', got 0x%02x",
				(unsigned)c);
		m->u.delete_.old_kind = (char)c;
		return get_tuple(r, "old tuple", &m->u.delete_.oldtup);
	case WB_PG_TRUNCATE:
		if (get_u32(r, "relation count", &m->u.truncate.nrels) ||
		    get_u8(r, "options", &m->u.truncate.options))
			return WB_ERR_DECODE;
		/* Divide rather than multiply: nrels * 4 overflows a 32-bit
		 * size_t. */
		if ((size_t)(r->end - r->p) / 4 < m->u.truncate.nrels)
			return wb_error_set(r->err, WB_ERR_DECODE,
					    "pgoutput Truncate (T): %u "
					    "relation oids do not fit in %zu "
					    "bytes",
					    m->u.truncate.nrels,
					    (size_t)(r->end - r->p));
		m->u.truncate.oids = r->p;
		r->p += (size_t)m->u.truncate.nrels * 4;
		return 0;
	case WB_PG_MESSAGE:
		if (get_u8(r, "flags", &m->u.message.flags) ||
		    get_u64(r, "LSN", &m->u.message.lsn) ||
		    get_str(r, "prefix", &m->u.message.prefix) ||
		    get_u32(r, "content length", &m->u.message.len))
			return WB_ERR_DECODE;
		if ((size_t)(r->end - r->p) < m->u.message.len)
			return wb_error_set(r->err, WB_ERR_DECODE,
					    "pgoutput Message (M): content "
					    "length %u exceeds the %zu bytes "
					    "left",
					    m->u.message.len,
					    (size_t)(r->end - r->p));
		m->u.message.content = r->p;
		r->p += m->u.message.len;
		return 0;
	default:
		return wb_error_set(r->err, WB_ERR_DECODE,
				    "pgoutput: unknown message type 0x%02x",
				    (unsigned)(uint8_t)m->type);
	}
}

static const char *msg_name(char type)
{
	switch (type) {
	case WB_PG_BEGIN:
		return "Begin (B)";
	case WB_PG_COMMIT:
		return "Commit (C)";
	case WB_PG_ORIGIN:
		return "Origin (O)";
	case WB_PG_RELATION:
		return "Relation (R)";
	case WB_PG_TYPE:
		return "Type (Y)";
	case WB_PG_INSERT:
		return "Insert (I)";
	case WB_PG_UPDATE:
		return "Update (U)";
	case WB_PG_DELETE:
		return "Delete (D)";
	case WB_PG_TRUNCATE:
		return "Truncate (T)";
	case WB_PG_MESSAGE:
		return "Message (M)";
	default:
		return "unknown";
	}
}

int wb_pgoutput_decode(const uint8_t *buf, size_t len, struct wb_pg_msg *out,
		       wb_error_t *err)
{
	memset(out, 0, sizeof(*out));
	if (buf == NULL || len == 0)
		return wb_error_set(err, WB_ERR_DECODE,
				    "pgoutput: empty message");
	out->type = (char)buf[0];
	struct rd r = {
		.p = buf + 1,
		.end = buf + len,
		.msg = msg_name(out->type),
		.ctx = "",
		.err = err,
	};
	int rc = decode_body(&r, out);
	if (rc == 0)
		rc = get_end(&r);
	return rc;
}

void wb_pg_tuple_iter_init(struct wb_pg_tuple_iter *it,
			   const struct wb_pg_tuple *t)
{
	it->p = t->p;
	it->end = t->p + t->len;
	it->left = t->ncols;
}

/* The bounds checks below cannot fire on a tuple from wb_pgoutput_decode;
 * they keep a hand-built or stale tuple from reading out of bounds. */
int wb_pg_tuple_next(struct wb_pg_tuple_iter *it, struct wb_pg_col *col)
{
	if (it->left == 0 || it->p >= it->end)
		return 0;
	col->kind = (char)*it->p;
	col->data = NULL;
	col->len = 0;
	if (col->kind == 't' || col->kind == 'b') {
		if (it->end - it->p < 5)
			return 0;
		uint32_t len = wb_pg_get_u32(it->p + 1);
		if ((size_t)(it->end - it->p - 5) < len)
			return 0;
		col->data = it->p + 5;
		col->len = len;
		it->p += 5 + (size_t)len;
	} else {
		it->p += 1;
	}
	it->left--;
	return 1;
}

int wb_pg_relcol_next(struct wb_pg_relcol_iter *it, struct wb_pg_relcol *col)
{
	if (it->left == 0 || it->p >= it->end)
		return 0;
	const uint8_t *nul =
		memchr(it->p + 1, '\0', (size_t)(it->end - it->p - 1));
	if (nul == NULL || it->end - nul - 1 < 8)
		return 0;
	col->flags = it->p[0];
	col->name = (const char *)(it->p + 1);
	col->type_oid = wb_pg_get_u32(nul + 1);
	col->typmod = (int32_t)wb_pg_get_u32(nul + 5);
	it->p = nul + 9;
	it->left--;
	return 1;
}

uint32_t wb_pg_truncate_oid(const struct wb_pg_msg *m, uint32_t i)
{
	if (m->type != WB_PG_TRUNCATE || i >= m->u.truncate.nrels)
		return 0; /* InvalidOid */
	return wb_pg_get_u32(m->u.truncate.oids + (size_t)i * 4);
}
