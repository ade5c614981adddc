/* notify.h — systemd's service notification protocol (sd_notify(3)) for
 * `waybill run` under a Type=notify unit: READY, WATCHDOG, STATUS and
 * STOPPING. Without NOTIFY_SOCKET in the environment every call does
 * nothing. Main thread only, but for wb_notify_alive. */
#ifndef WB_NOTIFY_H
#define WB_NOTIFY_H

#include <stdint.h>

/* What STATUS= says about a running pipeline. */
struct wb_notify_status {
	const char *position; /* last checkpointed position, text form */
	double lag_s;	      /* now − commit time of the last delivered
				 transaction while events are outstanding; 0
				 when everything read is delivered */
	uint64_t events;      /* events written by this run */
};

/* Reads the watchdog interval (WATCHDOG_USEC, through
 * sd_watchdog_enabled(3)); call once before the others. */
void wb_notify_init(void);

/* READY=1 with a first STATUS= line: the source is open and the pipeline
 * streams (a snapshot may still be running). */
void wb_notify_ready(const char *status);

/* From the main loop, as often as it turns: WATCHDOG=1 every half
 * watchdog interval when the unit has one, STATUS= at most once a second
 * and only when its text changed. now_ms is a monotonic clock. */
void wb_notify_tick(const struct wb_notify_status *st, long long now_ms);

/* WATCHDOG=1 if half the watchdog interval has passed since the last one.
 * For waits that keep the main thread from its loop while the process
 * still works (a sink waiting for its brokers): the watchdog is to catch a
 * hung process, not a slow peer. Any thread. */
void wb_notify_alive(void);

/* STOPPING=1 with a STATUS= saying why. */
void wb_notify_stopping(const char *why);

/* Whether NOTIFY_SOCKET was set at wb_notify_init (the others do nothing
 * otherwise), so that callers can skip preparing a STATUS= line. */
int wb_notify_enabled(void);

/* The watchdog interval in microseconds, 0 when none (for tests and the
 * log line at start). */
uint64_t wb_notify_watchdog_usec(void);

#endif
