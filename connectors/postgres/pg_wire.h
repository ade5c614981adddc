/* pg_wire.h — the replication stream's protocol messages read and written
 * on the connection's socket itself, without libpq's buffers.
 *
 * Why: libpq reads a CopyData message whole into its input buffer, which
 * grows to the power of two above the largest message and never shrinks,
 * and PQgetCopyData returns a second, malloc'd copy of it: a 200 MB value
 * is held twice before waybill has decoded it. Here a message that fits the
 * reader's buffer (WB_PG_WIRE_BUF bytes) is read into it and returned in
 * place; a larger one is read into a buffer of its exact size, which the
 * caller may take over (wb_pg_wire_take) so that values point into it.
 *
 * Only for connections without TLS or GSS encryption, where the bytes on
 * the socket are the protocol itself; the others keep libpq's reader.
 *
 * Protocol version 3 messages, big-endian:
 *   u8 type, u32 length (counting itself, not the type), body
 * After START_REPLICATION: 'W' CopyBothResponse, then 'd' CopyData (the
 * replication messages, pg_source.c), and at the end 'c' CopyDone,
 * 'C' CommandComplete, 'Z' ReadyForQuery; at any time 'E' ErrorResponse,
 * 'N' NoticeResponse (both: fields of u8 code and NUL-terminated text,
 * then a 0), 'S' ParameterStatus. */
#ifndef WB_PG_WIRE_H
#define WB_PG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The reader's buffer: larger messages get a buffer of their own. */
#define WB_PG_WIRE_BUF (256u * 1024)
/* The largest message body accepted (the server allocates no more than
 * 1 GB for one). */
#define WB_PG_WIRE_MAX ((size_t)1 << 30)

struct wb_pg_wire {
	int fd;
	uint8_t *buf; /* WB_PG_WIRE_BUF bytes; [start, end) not yet returned */
	size_t start, end;
	/* a message larger than buf, being read: its body */
	uint8_t *big;
	size_t big_len, big_got;
	uint8_t big_type;
	bool big_done; /* big was returned by the last call */
	/* When set, called before a buffer is allocated for a message of n
	 * bytes larger than buf: 0 to go on, 1 for "not now" (the message
	 * stays unread and wb_pg_wire_next returns 0), -1 with err set to
	 * fail. */
	int (*before_big)(void *arg, size_t n, wb_error_t *err);
	void *before_big_arg;
};

/* Starts reading fd (a connected, non-blocking socket on which no byte of
 * a message is buffered elsewhere). 0, or WB_ERR_NOMEM. */
int wb_pg_wire_init(struct wb_pg_wire *w, int fd, wb_error_t *err);
/* Frees the buffers (not the descriptor). Accepts a zeroed reader. */
void wb_pg_wire_free(struct wb_pg_wire *w);

/* The next whole message: 1 with *type, *body and *len set (body valid
 * until the next call), 0 when the socket has no more bytes for now (wait
 * for it to be readable), -1 with err set: WB_ERR_CONNECT (retriable) when
 * the connection is lost or closed, WB_ERR_DECODE for a length that is not
 * a message's, WB_ERR_NOMEM. */
int wb_pg_wire_next(struct wb_pg_wire *w, uint8_t *type, const uint8_t **body,
		    size_t *len, wb_error_t *err);
/* The body the last wb_pg_wire_next returned, when it was read into a
 * buffer of its own (larger than WB_PG_WIRE_BUF): the caller owns it from
 * now on and frees it with free(). NULL for a message in the reader's
 * buffer. */
uint8_t *wb_pg_wire_take(struct wb_pg_wire *w);

/* Sends one message (type, body), waiting while the socket is full.
 * 0, or WB_ERR_CONNECT (retriable). */
int wb_pg_wire_send(struct wb_pg_wire *w, uint8_t type, const void *body,
		    size_t len, wb_error_t *err);

/* The text of an ErrorResponse or NoticeResponse body: its message, then
 * a blank and its detail when it has one, cut to fit n (n > 0); "(no
 * message)" without one. A field without its NUL ends the parse; never
 * reads past len. */
void wb_pg_wire_error_text(const uint8_t *body, size_t len, char *out,
			   size_t n);

#endif
