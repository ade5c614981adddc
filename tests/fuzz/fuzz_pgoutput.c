/* fuzz_pgoutput.c — fuzz target for the pgoutput decoder and its iterators.
 *
 * After a successful decode it walks everything the message points to, byte
 * by byte, so the sanitizers see any pointer that leaves the input, and it
 * checks that the iterators agree with the counts the decoder validated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgoutput.h"

static volatile uint32_t sink; /* keeps the reads from being optimised out */

static void touch(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 0;
	for (size_t i = 0; i < n; i++)
		h = h * 31 + b[i];
	sink += h;
}

static void touch_str(const char *s)
{
	touch(s, strlen(s) + 1);
}

static void walk_tuple(const struct wb_pg_tuple *t)
{
	struct wb_pg_tuple_iter it;
	struct wb_pg_col c;
	unsigned n = 0;
	wb_pg_tuple_iter_init(&it, t);
	while (wb_pg_tuple_next(&it, &c)) {
		if (c.kind == 't' || c.kind == 'b')
			touch(c.data, c.len);
		else if (c.kind != 'n' && c.kind != 'u')
			abort();
		n++;
	}
	/* A validated tuple yields exactly ncols columns and all its bytes. */
	if (n != t->ncols || it.p != t->p + t->len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wb_pg_msg m;
	wb_error_t err;
	if (wb_pgoutput_decode(data, size, &m, &err) != WB_OK) {
		if (err.code != WB_ERR_DECODE || err.message[0] == '\0')
			abort();
		return 0;
	}
	switch (m.type) {
	case WB_PG_ORIGIN:
		touch_str(m.u.origin.name);
		break;
	case WB_PG_RELATION: {
		struct wb_pg_relcol rc;
		unsigned n = 0;
		touch_str(m.u.relation.nspname);
		touch_str(m.u.relation.relname);
		while (wb_pg_relcol_next(&m.u.relation.cols, &rc)) {
			touch_str(rc.name);
			sink += rc.flags + rc.type_oid + (uint32_t)rc.typmod;
			n++;
		}
		if (n != m.u.relation.ncols ||
		    m.u.relation.cols.p != m.u.relation.cols.end)
			abort();
		break;
	}
	case WB_PG_TYPE:
		touch_str(m.u.type.nspname);
		touch_str(m.u.type.typname);
		break;
	case WB_PG_INSERT:
		walk_tuple(&m.u.insert.newtup);
		break;
	case WB_PG_UPDATE:
		if (m.u.update.old_kind != 0)
			walk_tuple(&m.u.update.oldtup);
		walk_tuple(&m.u.update.newtup);
		break;
	case WB_PG_DELETE:
		walk_tuple(&m.u.delete_.oldtup);
		break;
	case WB_PG_TRUNCATE:
		for (uint32_t i = 0; i < m.u.truncate.nrels; i++)
			sink += wb_pg_truncate_oid(&m, i);
		break;
	case WB_PG_MESSAGE:
		touch_str(m.u.message.prefix);
		touch(m.u.message.content, m.u.message.len);
		break;
	default:
		break;
	}
	return 0;
}
