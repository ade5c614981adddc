/* log.c — logging to stderr, plain or JSON, thread-safe line at a time. */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum wb_log_level min_level = WB_LOG_INFO;
static int json_format;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void wb_log_set_level(enum wb_log_level level)
{
	min_level = level;
}

void wb_log_set_json(int json)
{
	json_format = json;
}

int wb_log_is_json(void)
{
	return json_format;
}

void wb_log_fatal(const char *msg)
{
	if (!json_format) {
		fprintf(stderr, "waybill: %s\n", msg);
		return;
	}
	wb_log(WB_LOG_ERROR, "waybill", "%s", msg);
}

void wb_log(enum wb_log_level level, const char *component, const char *fmt,
	    ...)
{
	if (level < min_level)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[64];
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

	if (json_format) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "ts", when, "level",
				      level_names[level], "component",
				      component, "message", msg);
		char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line)
			fprintf(stderr, "%s\n", line);
		free(line);
		json_decref(o);
		return;
	}
	fprintf(stderr, "%s %s %s: %s\n", when, level_names[level], component,
		msg);
}
