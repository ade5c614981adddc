/* metrics_log.c — the status line for people: once a minute while the
 * pipeline streams, and on SIGHUP. */
#include "metrics_log.h"

#include <stdio.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

static long long last_ms;
static uint64_t last_read, last_delivered;

void wb_metrics_log_reset(void)
{
	last_ms = wb_clock_mono_ms();
	last_read = 0;
	last_delivered = 0;
}

void wb_metrics_log_status(const char *why, const char *position,
			   const char *checkpoint)
{
	struct wb_metrics_view v;
	wb_metrics_view(&v);
	long long now = wb_clock_mono_ms();
	double secs = (double)(now - last_ms) / 1000.0;
	double rate =
		secs > 0 ? (double)(v.delivered - last_delivered) / secs : 0;
	double rrate = secs > 0 ? (double)(v.read - last_read) / secs : 0;
	char lagb[48];
	if (v.lag_bytes >= 0)
		snprintf(lagb, sizeof(lagb), ", %lld bytes behind the server",
			 (long long)v.lag_bytes);
	else
		lagb[0] = '\0';
	wb_info("pipeline",
		"%s: %.0f events/s delivered, %.0f/s read over %.0f s (%llu "
		"delivered in all), lag %.1f s%s, read up to %s, checkpoint "
		"%s%s%s",
		why, rate, rrate, secs, (unsigned long long)v.delivered,
		v.lag_s, lagb, position, checkpoint,
		v.source_connected ? "" : ", source disconnected",
		v.sink_connected ? "" : ", sink outage");
	last_ms = now;
	last_read = v.read;
	last_delivered = v.delivered;
}
