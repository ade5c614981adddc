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
	/* a longer message is cut: it stays one line */
	size_t cap = sizeof(err->message) - 1;
	size_t pl = strnlen(prefix, cap);
	memcpy(err->message, prefix, pl);
	size_t len = pl;
	if (len + 2 <= cap) {
		memcpy(err->message + len, ": ", 2);
		len += 2;
	}
	size_t ol = strnlen(old, cap - len);
	memcpy(err->message + len, old, ol);
	err->message[len + ol] = '\0';
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
