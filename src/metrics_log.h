/* metrics_log.h — the status line for people (metrics_log.c). */
#ifndef WB_METRICS_LOG_H
#define WB_METRICS_LOG_H

/* Starts a new rate interval (at the pipeline's start). */
void wb_metrics_log_reset(void);
/* Logs one info line: events/s delivered and read since the last line,
 * lag in seconds and bytes, the positions given as text. why: "streaming"
 * (the minute line), "SIGHUP", ... Sink thread. */
void wb_metrics_log_status(const char *why, const char *position,
			   const char *checkpoint);

#endif
