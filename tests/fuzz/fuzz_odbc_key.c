/* fuzz_odbc_key.c — the ODBC key store's key decoder on arbitrary bytes:
 * whatever decodes must encode back to the same bytes (one encoding per
 * key, so the store's byte order is the key order), format without
 * overrunning, and sum without reading past the values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "odbc_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wb_odbc_key_val vals[WB_ODBC_KEY_MAX_COLS];
	struct wb_buf scratch, again;
	size_t n = 0;
	char text[96];
	wb_buf_init(&scratch);
	wb_buf_init(&again);
	wb_odbc_key_format(data, size, text, sizeof text);
	if (wb_odbc_key_decode(data, size, vals, WB_ODBC_KEY_MAX_COLS, &n,
			       &scratch, NULL) == 0) {
		struct wb_odbc_sum sum = {0};
		wb_odbc_sum_add(WB_ODBC_SUM_MD5, vals, n, &sum);
		wb_odbc_sum_add(WB_ODBC_SUM_CRC32, vals, n, &sum);
		/* A decimal of more than WB_ODBC_KEY_MAX_DIGITS digits in
		 * its canonical text decodes but is not encodable. */
		if (wb_odbc_key_encode(vals, n, &again, NULL) == 0 &&
		    (again.len != size || memcmp(again.data, data, size) != 0))
			abort();
	}
	wb_buf_free(&scratch);
	wb_buf_free(&again);
	return 0;
}
