/* fuzz_pg_wire.c — fuzz target for the stream's message framing (pg_wire.c)
 * and the ErrorResponse text: the input is what the server sent, written
 * into a socketpair whose other end is read as a replication connection;
 * every message body returned is read byte by byte (so the sanitizers see
 * any pointer that leaves it), and every 'E' or 'N' body is turned into
 * text. A message claiming more than 1 MiB is refused by before_big. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pg_wire.h"

static volatile uint32_t sink;

static int refuse_huge(void *arg, size_t n, wb_error_t *err)
{
	(void)arg;
	if (n <= ((size_t)1 << 20))
		return 0;
	wb_error_set(err, WB_ERR_DECODE, "too large for the fuzzer");
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536) /* what a socketpair takes without a reader */
		return 0;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	size_t at = 0;
	while (at < size) {
		ssize_t r = write(sv[1], data + at, size - at);
		if (r <= 0)
			break;
		at += (size_t)r;
	}
	close(sv[1]);
	struct wb_pg_wire w;
	wb_error_t err;
	if (wb_pg_wire_init(&w, sv[0], &err) != WB_OK) {
		close(sv[0]);
		return 0;
	}
	w.before_big = refuse_huge;
	for (int i = 0; i < 100000; i++) {
		uint8_t type;
		const uint8_t *body;
		size_t len;
		int r = wb_pg_wire_next(&w, &type, &body, &len, &err);
		if (r != 1)
			break; /* the end of the input, or a bad length */
		uint32_t h = type;
		for (size_t k = 0; k < len; k++)
			h = h * 31 + body[k];
		sink += h;
		if (type == 'E' || type == 'N') {
			char text[64];
			wb_pg_wire_error_text(body, len, text, sizeof(text));
			if (strlen(text) >= sizeof(text))
				abort();
		}
		if (i % 2)
			free(wb_pg_wire_take(&w)); /* NULL for small ones */
	}
	wb_pg_wire_free(&w);
	close(sv[0]);
	return 0;
}
