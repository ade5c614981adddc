/* notify.c — sd_notify(3) messages for a Type=notify systemd unit.
 *
 * The protocol is one datagram per call to the unix socket named by
 * NOTIFY_SOCKET, holding newline-separated VARIABLE=value assignments.
 * libsystemd's sd_notify() does the sending (and nothing without the
 * variable); this file decides what to send and when. */
#include "notify.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "clock.h"
#include "log.h"

#define STATUS_EVERY_MS 1000

static int enabled;
static uint64_t watchdog_usec;
static _Atomic long long next_watchdog_ms;
static long long next_status_ms;
static char last_status[256];

void wb_notify_init(void)
{
	uint64_t usec = 0;
	enabled = getenv("NOTIFY_SOCKET") != NULL;
	/* > 0 only when WATCHDOG_USEC is set (and WATCHDOG_PID, if set,
	 * names this process) */
	if (sd_watchdog_enabled(0, &usec) > 0)
		watchdog_usec = usec;
	else
		watchdog_usec = 0;
	next_watchdog_ms = 0;
	next_status_ms = 0;
	last_status[0] = '\0';
}

int wb_notify_enabled(void)
{
	return enabled;
}

uint64_t wb_notify_watchdog_usec(void)
{
	return watchdog_usec;
}

void wb_notify_ready(const char *status)
{
	snprintf(last_status, sizeof(last_status), "%s", status);
	sd_notifyf(0, "READY=1\nSTATUS=%s", last_status);
	if (watchdog_usec)
		wb_info("notify", "systemd watchdog every %.1f s",
			(double)watchdog_usec / 1e6);
}

/* WATCHDOG=1 when due at now_ms; one thread sends it. */
static void ping(long long now_ms)
{
	long long due = atomic_load(&next_watchdog_ms);
	if (!watchdog_usec || now_ms < due)
		return;
	long long half = (long long)(watchdog_usec / 2000);
	if (!atomic_compare_exchange_strong(&next_watchdog_ms, &due,
					    now_ms + (half > 0 ? half : 1)))
		return;
	sd_notify(0, "WATCHDOG=1");
}

void wb_notify_alive(void)
{
	if (watchdog_usec)
		ping(wb_clock_mono_ms());
}

void wb_notify_tick(const struct wb_notify_status *st, long long now_ms)
{
	ping(now_ms);
	if (now_ms < next_status_ms)
		return;
	next_status_ms = now_ms + STATUS_EVERY_MS;
	char text[256];
	snprintf(text, sizeof(text),
		 "streaming: checkpoint %s, lag %.1f s, %llu events",
		 st->position && st->position[0] ? st->position : "none yet",
		 st->lag_s < 0 ? 0.0 : st->lag_s,
		 (unsigned long long)st->events);
	if (strcmp(text, last_status) == 0)
		return;
	memcpy(last_status, text, sizeof(text));
	sd_notifyf(0, "STATUS=%s", text);
}

void wb_notify_stopping(const char *why)
{
	sd_notifyf(0, "STOPPING=1\nSTATUS=stopping: %s", why);
}
