/* fuzz_pg_copy.c — fuzz target for the COPY text-format row decoder.
 *
 * Input: one byte giving the expected field count (low 4 bits), then the
 * row. After a successful decode it reads every field byte by byte, so the
 * sanitizers see a pointer that leaves the row or the scratch arena, and it
 * checks what the contract promises: NULL only for a field that is exactly
 * \N, a field without escapes points into the row, a decoded field is never
 * longer than its raw form. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "pg_copy.h"

static volatile uint32_t sink; /* keeps the reads from being optimised out */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int nfields = data[0] & 15;
	size_t len = size - 1;
	/* an exact-size copy: a read past the row is a heap overflow */
	uint8_t *line = malloc(len ? len : 1);
	if (line == NULL)
		return 0;
	memcpy(line, data + 1, len);
	struct wb_arena scratch;
	wb_arena_init(&scratch, 256);
	struct wb_pg_copy_field f[16];
	wb_error_t err;
	int rc = wb_pg_copy_row(line, len, f, nfields, &scratch, &err);
	if (rc == WB_OK) {
		if (len == 0 || line[len - 1] != '\n')
			abort();
		size_t total = 0;
		for (int i = 0; i < nfields; i++) {
			if (f[i].p == NULL) {
				if (f[i].len != 0)
					abort();
				total += 2; /* \N */
				continue;
			}
			const uint8_t *p = (const uint8_t *)f[i].p;
			uint32_t h = 0;
			for (size_t k = 0; k < f[i].len; k++)
				h = h * 31 + p[k];
			sink += h;
			bool inside = p >= line && p + f[i].len <= line + len;
			if (inside && memchr(p, '\\', f[i].len) != NULL)
				abort(); /* escapes must have been decoded */
			if (inside && (memchr(p, '\t', f[i].len) ||
				       memchr(p, '\n', f[i].len)))
				abort(); /* a raw separator inside a field */
			total += f[i].len;
		}
		/* decoding only shrinks: fields + separators fit the row */
		if (nfields > 0 && total + (size_t)nfields > len)
			abort();
	} else if (rc != WB_ERR_DECODE && rc != WB_ERR_NOMEM) {
		abort();
	}
	wb_arena_free(&scratch);
	free(line);
	return 0;
}
