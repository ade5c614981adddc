/* pg_wire.c — protocol messages on the replication connection's socket
 * (see pg_wire.h for why and the layout). */
#include "pg_wire.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "clock.h"

/* How long a send may make no progress before the connection counts as
 * lost: the server reads what we send at once unless it is gone. */
#define WB_PG_WIRE_SEND_STALL_MS 30000

int wb_pg_wire_init(struct wb_pg_wire *w, int fd, wb_error_t *err)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->buf = malloc(WB_PG_WIRE_BUF);
	if (w->buf == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	return WB_OK;
}

void wb_pg_wire_free(struct wb_pg_wire *w)
{
	free(w->buf);
	free(w->big);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}

static int lost(wb_error_t *err, const char *why)
{
	int rc = wb_error_set(err, WB_ERR_CONNECT,
			      "PostgreSQL connection lost: %s", why);
	err->retriable = true;
	return rc;
}

/* Reads what the socket has into dst (at most n bytes): the count, 0 when
 * nothing is there now, or -1 with err set. */
static ssize_t read_some(struct wb_pg_wire *w, uint8_t *dst, size_t n,
			 wb_error_t *err)
{
	for (;;) {
		ssize_t r = recv(w->fd, dst, n, 0);
		if (r > 0)
			return r;
		if (r == 0) {
			lost(err, "server closed the connection");
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		lost(err, strerror(errno));
		return -1;
	}
}

int wb_pg_wire_next(struct wb_pg_wire *w, uint8_t *type, const uint8_t **body,
		    size_t *len, wb_error_t *err)
{
	if (w->big_done) { /* returned last time and not taken */
		free(w->big);
		w->big = NULL;
		w->big_done = false;
	}
	for (;;) {
		if (w->big != NULL) {
			if (w->big_got == w->big_len) {
				*type = w->big_type;
				*body = w->big;
				*len = w->big_len;
				w->big_done = true;
				return 1;
			}
			ssize_t r = read_some(w, w->big + w->big_got,
					      w->big_len - w->big_got, err);
			if (r <= 0)
				return r < 0 ? -1 : 0;
			w->big_got += (size_t)r;
			continue;
		}
		size_t have = w->end - w->start;
		if (have >= 5) {
			const uint8_t *p = w->buf + w->start;
			uint32_t l = (uint32_t)p[1] << 24 |
				     (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 8 | p[4];
			if (l < 4 || l - 4 > WB_PG_WIRE_MAX) {
				wb_error_set(
					err, WB_ERR_DECODE,
					"replication protocol: message '%c' "
					"claims %u bytes",
					p[0] >= 32 && p[0] < 127 ? p[0] : '?',
					l);
				return -1;
			}
			size_t blen = l - 4;
			if (5 + blen <= WB_PG_WIRE_BUF) {
				if (have >= 5 + blen) {
					*type = p[0];
					*body = p + 5;
					*len = blen;
					w->start += 5 + blen;
					return 1;
				}
			} else {
				/* a buffer of its own, of the exact size */
				int go = w->before_big
						 ? w->before_big(
							   w->before_big_arg,
							   blen, err)
						 : 0;
				if (go != 0)
					return go < 0 ? -1 : 0;
				w->big = malloc(blen);
				if (w->big == NULL) {
					wb_error_set(err, WB_ERR_NOMEM,
						     "out of memory for a "
						     "message of %zu bytes",
						     blen);
					return -1;
				}
				w->big_type = p[0];
				w->big_len = blen;
				w->big_got = have - 5 < blen ? have - 5 : blen;
				memcpy(w->big, p + 5, w->big_got);
				w->start += 5 + w->big_got;
				continue;
			}
		}
		if (w->start == w->end) {
			w->start = w->end = 0;
		} else if (w->end == WB_PG_WIRE_BUF) {
			memmove(w->buf, w->buf + w->start, have);
			w->start = 0;
			w->end = have;
		}
		ssize_t r = read_some(w, w->buf + w->end,
				      WB_PG_WIRE_BUF - w->end, err);
		if (r <= 0)
			return r < 0 ? -1 : 0;
		w->end += (size_t)r;
	}
}

uint8_t *wb_pg_wire_take(struct wb_pg_wire *w)
{
	if (!w->big_done)
		return NULL;
	uint8_t *p = w->big;
	w->big = NULL;
	w->big_done = false;
	return p;
}

int wb_pg_wire_send(struct wb_pg_wire *w, uint8_t type, const void *body,
		    size_t len, wb_error_t *err)
{
	uint32_t l = (uint32_t)len + 4;
	uint8_t head[5] = {type, (uint8_t)(l >> 24), (uint8_t)(l >> 16),
			   (uint8_t)(l >> 8), (uint8_t)l};
	struct iovec iov[2] = {{head, sizeof(head)}, {(void *)body, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	long long stalled = wb_clock_mono_ms();
	while (mh.msg_iovlen > 0) {
		ssize_t r = sendmsg(w->fd, &mh, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return lost(err, strerror(errno));
		if (r < 0) {
			if (wb_clock_mono_ms() - stalled >=
			    WB_PG_WIRE_SEND_STALL_MS)
				return lost(err, "the server takes nothing "
						 "we send");
			struct pollfd pfd = {.fd = w->fd, .events = POLLOUT};
			(void)poll(&pfd, 1, 1000);
			continue;
		}
		stalled = wb_clock_mono_ms();
		size_t done = (size_t)r;
		while (mh.msg_iovlen > 0 && done >= mh.msg_iov->iov_len) {
			done -= mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen > 0) {
			mh.msg_iov->iov_base =
				(uint8_t *)mh.msg_iov->iov_base + done;
			mh.msg_iov->iov_len -= done;
		}
	}
	return WB_OK;
}

void wb_pg_wire_error_text(const uint8_t *body, size_t len, char *out, size_t n)
{
	const char *msg = NULL, *detail = NULL;
	size_t i = 0;
	while (i < len && body[i] != 0) {
		uint8_t code = body[i++];
		const uint8_t *nul = memchr(body + i, 0, len - i);
		if (nul == NULL)
			break;
		if (code == 'M')
			msg = (const char *)body + i;
		else if (code == 'D')
			detail = (const char *)body + i;
		i = (size_t)(nul - body) + 1;
	}
	snprintf(out, n, "%s%s%s", msg ? msg : "(no message)",
		 detail ? " " : "", detail ? detail : "");
}
