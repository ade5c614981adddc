/* fuzz_my_json.c — fuzz target for MySQL binary JSON to text and for the
 * partial JSON updates.
 *
 * Input: one mode byte, then bytes (copied to an exact-size buffer, so a
 * read past them is a heap overflow).
 *   mode & 1 == 0: the bytes are a binary document. wb_my_json_text and
 *     wb_my_json_to_text must agree (code and text); on success the text,
 *     when it is valid UTF-8 (and has no \u0000, which jansson refuses in
 *     keys), must parse as JSON (jansson), since it is what the server would
 *     print.
 *   mode & 1 == 1: byte 1 is n; the next n bytes are a binary document
 *     printed as the before text, the rest are diffs applied to it. The
 *     result is 0 (then valid JSON again, when valid UTF-8), 1, or an
 *     error code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "buf.h"
#include "my_json.h"
#include "valconv.h"

static void must_parse(const uint8_t *text, size_t len)
{
	if (wb_utf8_first_invalid(text, len) != len)
		return;
	/* jansson takes no NUL in a key */
	if (memmem(text, len, "\\u0000", 6) != NULL)
		return;
	json_error_t e;
	json_t *j = json_loadb(
		(const char *)text, len,
		JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
	if (j == NULL)
		abort();
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	size_t n = size - 1;
	uint8_t *p = malloc(n ? n : 1);
	if (p == NULL)
		return 0;
	memcpy(p, data + 1, n);
	struct wb_arena a;
	wb_arena_init(&a, 4096);
	wb_error_t err;
	const uint8_t *text;
	size_t len;
	if ((mode & 1) == 0) {
		int rc = wb_my_json_text(p, n, &a, &text, &len, &err);
		struct wb_buf b;
		wb_buf_init(&b);
		int rc2 = wb_my_json_to_text(p, n, &b, &err);
		if (rc != rc2)
			abort();
		if (rc == 0) {
			if (b.len != len || memcmp(b.data, text, len) != 0 ||
			    text[len] != '\0')
				abort();
			must_parse(text, len);
		} else if (rc != WB_ERR_DECODE && rc != WB_ERR_NOMEM) {
			abort();
		}
		wb_buf_free(&b);
	} else if (n >= 1) {
		size_t dn = p[0] < n - 1 ? p[0] : n - 1;
		const uint8_t *before;
		size_t blen;
		if (wb_my_json_text(p + 1, dn, &a, &before, &blen, &err) == 0) {
			int rc = wb_my_json_apply_diffs(before, blen,
							p + 1 + dn, n - 1 - dn,
							&a, &text, &len, &err);
			if (rc == 0)
				must_parse(text, len);
			else if (rc != 1 && rc != WB_ERR_DECODE &&
				 rc != WB_ERR_NOMEM)
				abort();
		}
	}
	wb_arena_free(&a);
	free(p);
	return 0;
}
