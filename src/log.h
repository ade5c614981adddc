/* log.h — one line per event worth knowing: "level component: message". */
#ifndef WB_LOG_H
#define WB_LOG_H

enum wb_log_level { WB_LOG_DEBUG, WB_LOG_INFO, WB_LOG_WARN, WB_LOG_ERROR };

void wb_log_set_level(enum wb_log_level level);
void wb_log_set_json(int json);
void wb_log(enum wb_log_level level, const char *component, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));

#define wb_debug(c, ...) wb_log(WB_LOG_DEBUG, c, __VA_ARGS__)
#define wb_info(c, ...) wb_log(WB_LOG_INFO, c, __VA_ARGS__)
#define wb_warn(c, ...) wb_log(WB_LOG_WARN, c, __VA_ARGS__)
#define wb_err(c, ...) wb_log(WB_LOG_ERROR, c, __VA_ARGS__)

#endif
