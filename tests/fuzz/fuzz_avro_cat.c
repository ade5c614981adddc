/* fuzz_avro_cat.c — `waybill cat`'s container decoder on arbitrary bytes. */
#include <stdint.h>
#include <stdio.h>

#include "avro_cat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (sink == NULL)
		sink = fopen("/dev/null", "w");
	if (sink == NULL)
		return 0;
	wb_error_t err = {0};
	wb_avro_cat_buffer(data, size, sink, &err);
	return 0;
}
