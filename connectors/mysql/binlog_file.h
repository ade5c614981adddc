/* binlog_file.h — iterates the events of a whole binlog file held in
 * memory, for tests and tools. Pure: no I/O.
 *
 * A binlog file is the magic 0xfe 'b' 'i' 'n', then events back to back,
 * the first a FORMAT_DESCRIPTION that says whether the ones after it carry
 * a CRC32. The reader picks it up (and any later one, as relay logs have)
 * and verifies every checksum it announces. */
#ifndef WB_BINLOG_FILE_H
#define WB_BINLOG_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "binlog_event.h"
#include "error.h"

#define WB_MY_BINLOG_MAGIC                                                     \
	"\xfe"                                                                 \
	"bin"

struct wb_my_binlog_file {
	const uint8_t *p; /* the caller's bytes, valid while the reader is */
	size_t n;
	size_t off;		 /* offset of the next event */
	struct wb_my_format fmt; /* the latest FORMAT_DESCRIPTION's */
	bool have_fmt;
};

/* Checks the magic; the first event is read by _next. WB_ERR_DECODE when
 * the bytes are no binlog file. */
int wb_my_binlog_file_open(struct wb_my_binlog_file *f, const uint8_t *p,
			   size_t n, wb_error_t *err);

/* The next event, split (ev's pointers into the file's bytes), and its
 * offset in the file. Returns 1 with an event, 0 at the end of the file,
 * -1 with err filled (WB_ERR_DECODE naming the offset: a truncated or
 * corrupt event, a checksum mismatch, events before the
 * FORMAT_DESCRIPTION). After -1 the reader stays at the bad event. */
int wb_my_binlog_file_next(struct wb_my_binlog_file *f, struct wb_my_event *ev,
			   size_t *offset, wb_error_t *err);

#endif
