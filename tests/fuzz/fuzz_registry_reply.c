/* fuzz_registry_reply.c — fuzz target for the parsers of the schema
 * registry's answers (registry.h): the id of a registration, the subject
 * list, the one-line reason of a failure.
 *
 * Input: one byte giving the reason buffer's size (16 + low 8 bits, so
 * short buffers are tried too), then the answer body, as an exact-size heap
 * copy (not NUL-terminated, as libcurl hands it over). Checks the contract:
 * an id is within [0, INT32_MAX]; the reason is NUL-terminated within its
 * buffer, at most 200 bytes plus "...", one line of printable bytes and
 * valid UTF-8 whatever the body holds, never empty. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t cap = 16 + data[0];
	size_t len = size - 1;
	uint8_t *body = malloc(len ? len : 1);
	char *out = malloc(cap);
	if (body == NULL || out == NULL)
		goto done;
	memcpy(body, data + 1, len);

	int32_t id = -1;
	if (wb_registry_parse_id(body, len, &id) == 0 && id < 0)
		abort();
	size_t n = 0;
	(void)wb_registry_parse_subjects(body, len, &n);

	memset(out, 'X', cap);
	wb_registry_reason(body, len, out, cap);
	size_t olen = strnlen(out, cap);
	if (olen == cap || olen == 0 || olen > 203 || olen > cap - 1)
		abort();
	for (size_t i = 0; i < olen; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c < 0x20 || c == 0x7f)
			abort();
	}
	/* the whole line is valid UTF-8 */
	for (size_t i = 0; i < olen;) {
		unsigned char c = (unsigned char)out[i];
		size_t need = c < 0x80		   ? 0
			      : (c & 0xe0) == 0xc0 ? 1
			      : (c & 0xf0) == 0xe0 ? 2
			      : (c & 0xf8) == 0xf0 ? 3
						   : 9;
		if (need == 9 || (c >= 0x80 && c < 0xc2) || c > 0xf4 ||
		    (need > 0 && i + need >= olen))
			abort();
		for (size_t k = 1; k <= need; k++)
			if (((unsigned char)out[i + k] & 0xc0) != 0x80)
				abort();
		i += need + 1;
	}
done:
	free(body);
	free(out);
	return 0;
}
