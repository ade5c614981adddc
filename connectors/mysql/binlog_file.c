/* binlog_file.c — the in-memory binlog file reader (binlog_file.h). */
#include "binlog_file.h"

#include <string.h>

int wb_my_binlog_file_open(struct wb_my_binlog_file *f, const uint8_t *p,
			   size_t n, wb_error_t *err)
{
	memset(f, 0, sizeof(*f));
	if (n < 4 || memcmp(p, WB_MY_BINLOG_MAGIC, 4) != 0)
		return wb_error_set(err, WB_ERR_DECODE,
				    "not a binlog file (no 0xfe 'bin' magic)");
	f->p = p;
	f->n = n;
	f->off = 4;
	return 0;
}

int wb_my_binlog_file_next(struct wb_my_binlog_file *f, struct wb_my_event *ev,
			   size_t *offset, wb_error_t *err)
{
	size_t left = f->n - f->off;
	const uint8_t *p = f->p + f->off;
	if (left == 0)
		return 0;
	if (left < WB_MY_HEADER_LEN) {
		wb_error_set(err, WB_ERR_DECODE,
			     "binlog file: %zu bytes at offset %zu, a "
			     "truncated event header",
			     left, f->off);
		return -1;
	}
	uint32_t len = (uint32_t)p[9] | (uint32_t)p[10] << 8 |
		       (uint32_t)p[11] << 16 | (uint32_t)p[12] << 24;
	if (len < WB_MY_HEADER_LEN || len > left) {
		wb_error_set(err, WB_ERR_DECODE,
			     "binlog file: event of type %u at offset %zu has "
			     "length %u, %zu bytes left",
			     p[4], f->off, len, left);
		return -1;
	}
	if (p[4] == WB_MY_EV_FORMAT_DESCRIPTION) {
		struct wb_my_format fmt;
		if (wb_my_format_parse(p, len, &fmt, err) != 0) {
			wb_error_prefix(err, "offset %zu", f->off);
			return -1;
		}
		f->fmt = fmt;
		f->have_fmt = true;
	} else if (!f->have_fmt) {
		wb_error_set(err, WB_ERR_DECODE,
			     "binlog file: event of type %u at offset %zu "
			     "before any FORMAT_DESCRIPTION",
			     p[4], f->off);
		return -1;
	}
	if (wb_my_event_parse(&f->fmt, p, len, ev, err) != 0) {
		wb_error_prefix(err, "offset %zu", f->off);
		return -1;
	}
	*offset = f->off;
	f->off += len;
	return 1;
}
