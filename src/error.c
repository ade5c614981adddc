/* error.c — filling wb_error_t. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int wb_error_set(wb_error_t *err, int code, const char *fmt, ...)
{
	if (err == NULL)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->code = code;
	err->retriable = false;
	return code;
}

void wb_error_prefix(wb_error_t *err, const char *fmt, ...)
{
	if (err == NULL)
		return;
	char prefix[256];
	char old[sizeof(err->message)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->message, sizeof(old));
	int n = snprintf(err->message, sizeof(err->message), "%s: %s", prefix, old);
	(void)n; /* a longer message is cut: it stays one line */
}

void wb_error_clear(wb_error_t *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->retriable = false;
	err->message[0] = '\0';
}

int wb_error_exit_code(int code)
{
	if (code == 0)
		return 0;
	return code == WB_ERR_CONFIG ? 2 : 1;
}
