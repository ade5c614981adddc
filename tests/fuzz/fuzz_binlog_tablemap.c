/* fuzz_binlog_tablemap.c — fuzz target for the TABLE_MAP decoder.
 *
 * Input: one flags byte (bit 0: the format is MariaDB's; bit 1: 4-byte
 * table ids, a post-header of 6), then a TABLE_MAP event body. After a
 * successful decode it reads every string and list the map holds and
 * checks what the decoder promises: counts agree, unknown stays -1/NULL,
 * the map is "the same" as its own event. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "binlog_event.h"
#include "binlog_tablemap.h"

static volatile uint32_t sink;

static void touch_str(const char *s)
{
	sink += (uint32_t)strlen(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wb_my_format fmt;
	struct wb_my_event ev;
	struct wb_my_tablemap *tm;
	wb_error_t err;
	if (size < 1)
		return 0;
	wb_my_format_default(&fmt, false);
	fmt.mariadb = (data[0] & 1) != 0;
	if (data[0] & 2)
		fmt.post_header_len[WB_MY_EV_TABLE_MAP] = 6;
	memset(&ev, 0, sizeof(ev));
	ev.type = WB_MY_EV_TABLE_MAP;
	ev.body = data + 1;
	ev.body_len = size - 1;
	int rc = wb_my_tablemap_parse(&fmt, &ev, &tm, &err);
	if (rc != 0) {
		if ((rc != WB_ERR_DECODE && rc != WB_ERR_NOMEM) ||
		    err.message[0] == '\0' || tm != NULL)
			abort();
		return 0;
	}
	if (!wb_my_tablemap_same(tm, &ev) || tm->ncols == 0)
		abort();
	touch_str(tm->db);
	touch_str(tm->table);
	for (uint32_t i = 0; i < tm->ncols; i++) {
		const struct wb_my_tmcol *c = &tm->cols[i];
		if (c->name)
			touch_str(c->name);
		else if (tm->has_names)
			abort();
		if (c->nenum < 0 || c->nset < 0 ||
		    (c->enum_values == NULL && c->nenum != 0) ||
		    (c->set_values == NULL && c->nset != 0))
			abort();
		for (int k = 0; k < c->nenum; k++)
			touch_str(c->enum_values[k]);
		for (int k = 0; k < c->nset; k++)
			touch_str(c->set_values[k]);
		if (c->is_unsigned < -1 || c->is_unsigned > 1 ||
		    c->visible < -1 || c->visible > 1 || c->charset < -1 ||
		    c->charset > 0xffff)
			abort();
		if (!tm->has_signedness && c->is_unsigned != -1)
			abort();
		if (!tm->has_visibility && c->visible != -1)
			abort();
		if ((c->type == WB_MY_T_ENUM || c->type == WB_MY_T_SET) &&
		    c->wire_type != WB_MY_T_STRING && c->wire_type != c->type)
			abort();
	}
	wb_my_tablemap_free(tm);
	return 0;
}
