/* error.h — error codes and the error value filled by every fallible call. */
#ifndef WB_ERROR_H
#define WB_ERROR_H

#include <stdbool.h>
#include <stddef.h>

/* Return codes. 0 is success; everything else is a failure whose details are
 * in the wb_error_t passed alongside. */
enum wb_code {
	WB_OK = 0,
	WB_ERR_CONFIG = 2,  /* configuration or usage: exit code 2 */
	WB_ERR_RUNTIME = 1, /* anything at run time: exit code 1 */
	WB_ERR_DECODE = 3,  /* malformed bytes from the wire */
	WB_ERR_NOMEM = 4,   /* allocation failed */
	WB_ERR_IO = 5,	    /* file system */
	WB_ERR_CONNECT = 6, /* server unreachable or refused us */
	WB_ERR_TYPE = 7,    /* a value that does not fit its column type */
};

typedef struct wb_error {
	int code;
	bool retriable;
	char message[512];
} wb_error_t;

/* Fills err (when not NULL) and returns code. The message is one line that
 * names the problem and, where known, what fixes it. Never pass secrets. */
int wb_error_set(wb_error_t *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the message already in err with "prefix: ". */
void wb_error_prefix(wb_error_t *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void wb_error_clear(wb_error_t *err);

/* Exit code for an error code: 2 for configuration, 1 for the rest. */
int wb_error_exit_code(int code);

#endif
