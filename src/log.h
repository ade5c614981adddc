/* log.h — one line per event worth knowing: "level component: message". */
#ifndef WB_LOG_H
#define WB_LOG_H

enum wb_log_level { WB_LOG_DEBUG, WB_LOG_INFO, WB_LOG_WARN, WB_LOG_ERROR };

void wb_log_set_level(enum wb_log_level level);
void wb_log_set_json(int json);
/* Non-zero when lines are JSON (log_format: json). */
int wb_log_is_json(void);
/* The last line of a command that fails: "waybill: msg" on stderr, or in
 * JSON mode a JSON line of level "error" and component "waybill", so that
 * with log_format: json every line is JSON, the fatal one included. */
void wb_log_fatal(const char *msg);
void wb_log(enum wb_log_level level, const char *component, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));

#define wb_debug(c, ...) wb_log(WB_LOG_DEBUG, c, __VA_ARGS__)
#define wb_info(c, ...) wb_log(WB_LOG_INFO, c, __VA_ARGS__)
#define wb_warn(c, ...) wb_log(WB_LOG_WARN, c, __VA_ARGS__)
#define wb_err(c, ...) wb_log(WB_LOG_ERROR, c, __VA_ARGS__)

#endif
