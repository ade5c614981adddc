/* test_pg_wire.c — the replication stream's messages read on a socket
 * (a socketpair here): small ones in the reader's buffer, whole and in
 * order whatever the reads' sizes; one larger than the buffer into a
 * buffer of its own that the caller takes; before_big's "not now"; what
 * send puts on the wire; the text of ErrorResponse bodies. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pg_wire.h"
#include "check.h"

#define BIG (WB_PG_WIRE_BUF * 3 + 17)

struct feed {
	int fd;
	uint8_t *bytes;
	size_t len;
};

/* Writes the bytes in pieces of odd sizes, then closes its end. */
static void *writer(void *arg)
{
	struct feed *f = arg;
	size_t at = 0, step = 1;
	while (at < f->len) {
		size_t n = f->len - at < step ? f->len - at : step;
		ssize_t r = write(f->fd, f->bytes + at, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		at += (size_t)r;
		step = step * 3 + 1;
		if (step > 100000)
			step = 7;
	}
	close(f->fd);
	return NULL;
}

static void put_msg(uint8_t **p, uint8_t type, const uint8_t *body, size_t len)
{
	uint32_t l = (uint32_t)len + 4;
	uint8_t *q = *p;
	q[0] = type;
	q[1] = (uint8_t)(l >> 24);
	q[2] = (uint8_t)(l >> 16);
	q[3] = (uint8_t)(l >> 8);
	q[4] = (uint8_t)l;
	memcpy(q + 5, body, len);
	*p = q + 5 + len;
}

static int refusals;

/* "not now" twice, then go on */
static int before_big(void *arg, size_t n, wb_error_t *err)
{
	(void)err;
	*(size_t *)arg = n;
	return refusals++ < 2 ? 1 : 0;
}

/* The next message, waiting for it; 1, or -1 with err set. */
static int next(struct wb_pg_wire *w, uint8_t *type, const uint8_t **body,
		size_t *len, wb_error_t *err, int *zeros)
{
	for (;;) {
		int r = wb_pg_wire_next(w, type, body, len, err);
		if (r != 0)
			return r;
		(*zeros)++;
		struct pollfd pfd = {.fd = w->fd, .events = POLLIN};
		(void)poll(&pfd, 1, 1000);
	}
}

static void test_stream(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
	uint8_t *big = malloc(BIG);
	size_t cap = BIG + 1000 * 64 + 4096;
	uint8_t *all = malloc(cap), *p = all;
	CHECK(big && all);
	if (!big || !all)
		return;
	for (size_t i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i * 13 + i / 251);
	put_msg(&p, 'W', (const uint8_t *)"\0\0\0", 3);
	for (int i = 0; i < 1000; i++) {
		uint8_t body[40];
		memset(body, 'a' + i % 26, sizeof(body));
		body[0] = (uint8_t)i;
		put_msg(&p, 'd', body, (size_t)(i % 40));
	}
	put_msg(&p, 'd', big, BIG);
	static const uint8_t e[] = "SERROR\0VERROR\0C42000\0Mno slot\0Dit is "
				   "gone\0\0";
	put_msg(&p, 'E', e, sizeof(e) - 1);
	struct feed f = {sv[1], all, (size_t)(p - all)};
	pthread_t t;
	CHECK(pthread_create(&t, NULL, writer, &f) == 0);

	struct wb_pg_wire w;
	wb_error_t err = {0};
	CHECK(wb_pg_wire_init(&w, sv[0], &err) == WB_OK);
	size_t asked = 0;
	w.before_big = before_big;
	w.before_big_arg = &asked;
	uint8_t type;
	const uint8_t *body;
	size_t len;
	int zeros = 0;
	CHECK(next(&w, &type, &body, &len, &err, &zeros) == 1);
	CHECK(type == 'W' && len == 3);
	int bad = 0;
	for (int i = 0; i < 1000; i++) {
		if (next(&w, &type, &body, &len, &err, &zeros) != 1 ||
		    type != 'd' || len != (size_t)(i % 40) ||
		    (len > 0 && body[0] != (uint8_t)i) ||
		    (len > 1 && body[len - 1] != 'a' + i % 26) ||
		    wb_pg_wire_take(&w) != NULL)
			bad++;
	}
	CHECK(bad == 0);
	zeros = 0;
	CHECK(next(&w, &type, &body, &len, &err, &zeros) == 1);
	CHECK(refusals == 3 && asked == BIG && zeros >= 2);
	CHECK(type == 'd' && len == BIG && memcmp(body, big, BIG) == 0);
	uint8_t *own = wb_pg_wire_take(&w);
	CHECK(own == body && wb_pg_wire_take(&w) == NULL);
	free(own);
	CHECK(next(&w, &type, &body, &len, &err, &zeros) == 1);
	CHECK(type == 'E');
	char text[100];
	wb_pg_wire_error_text(body, len, text, sizeof(text));
	CHECK_STR(text, "no slot it is gone");
	/* then the writer's end is closed */
	CHECK(next(&w, &type, &body, &len, &err, &zeros) == -1);
	CHECK(err.code == WB_ERR_CONNECT && err.retriable);
	CHECK(strstr(err.message, "closed") != NULL);
	pthread_join(t, NULL);
	wb_pg_wire_free(&w);
	wb_pg_wire_free(&w); /* twice: a freed reader is a zeroed one */
	close(sv[0]);
	free(all);
	free(big);
}

static void test_send_and_bad_length(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
	struct wb_pg_wire w;
	wb_error_t err = {0};
	CHECK(wb_pg_wire_init(&w, sv[0], &err) == WB_OK);
	CHECK(wb_pg_wire_send(&w, 'd', "abc", 3, &err) == WB_OK);
	CHECK(wb_pg_wire_send(&w, 'c', NULL, 0, &err) == WB_OK);
	uint8_t got[32];
	CHECK(read(sv[1], got, sizeof(got)) == 13);
	CHECK(memcmp(got, "d\0\0\0\7abcc\0\0\0\4", 13) == 0);

	/* a length below 4, and one past WB_PG_WIRE_MAX */
	CHECK(write(sv[1], "d\0\0\0\3", 5) == 5);
	uint8_t type;
	const uint8_t *body;
	size_t len;
	CHECK(wb_pg_wire_next(&w, &type, &body, &len, &err) == -1);
	CHECK(err.code == WB_ERR_DECODE);
	wb_pg_wire_free(&w);
	CHECK(wb_pg_wire_init(&w, sv[0], &err) == WB_OK);
	CHECK(write(sv[1], "d\x40\0\0\5", 5) == 5);
	CHECK(wb_pg_wire_next(&w, &type, &body, &len, &err) == -1);
	CHECK(err.code == WB_ERR_DECODE);
	wb_pg_wire_free(&w);
	close(sv[0]);
	close(sv[1]);
}

static void test_error_text(void)
{
	char out[64];
	static const uint8_t only_msg[] = "SFATAL\0Mterminating\0\0";
	wb_pg_wire_error_text(only_msg, sizeof(only_msg) - 1, out, sizeof(out));
	CHECK_STR(out, "terminating");
	/* a field without its NUL ends the parse */
	static const uint8_t torn[] = "Mfirst\0Dunterminated";
	wb_pg_wire_error_text(torn, sizeof(torn) - 1, out, sizeof(out));
	CHECK_STR(out, "first");
	wb_pg_wire_error_text((const uint8_t *)"", 0, out, sizeof(out));
	CHECK_STR(out, "(no message)");
	char small[6];
	wb_pg_wire_error_text(only_msg, sizeof(only_msg) - 1, small,
			      sizeof(small));
	CHECK_STR(small, "termi");
}

int main(void)
{
	test_stream();
	test_send_and_bad_length();
	test_error_text();
	if (failures)
		fprintf(stderr, "test_pg_wire: %d check(s) failed\n", failures);
	else
		printf("test_pg_wire: ok\n");
	return failures != 0;
}
