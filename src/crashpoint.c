/* crashpoint.c — the WB_CRASH_AT / WB_DELAY test hooks (crashpoint.h). */
#include "crashpoint.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define MAX_DELAYS 8

bool wb_crashpoints_armed;

static char crash_point[128];
static long crash_count = 1;
static atomic_long crash_seen;

static struct {
	char point[64];
	long usec;
} delays[MAX_DELAYS];
static int ndelays;

void wb_crashpoints_init(void)
{
	const char *c = getenv("WB_CRASH_AT");
	if (c && *c) {
		snprintf(crash_point, sizeof(crash_point), "%s", c);
		char *colon = strchr(crash_point, ':');
		if (colon) {
			*colon = '\0';
			crash_count = strtol(colon + 1, NULL, 10);
			if (crash_count < 1)
				crash_count = 1;
		}
		wb_crashpoints_armed = true;
	}
	const char *d = getenv("WB_DELAY");
	while (d && *d && ndelays < MAX_DELAYS) {
		const char *end = strchr(d, ',');
		size_t len = end ? (size_t)(end - d) : strlen(d);
		const char *colon = memchr(d, ':', len);
		if (colon && (size_t)(colon - d) < sizeof(delays[0].point)) {
			memcpy(delays[ndelays].point, d, (size_t)(colon - d));
			delays[ndelays].point[colon - d] = '\0';
			delays[ndelays].usec = strtol(colon + 1, NULL, 10);
			ndelays++;
			wb_crashpoints_armed = true;
		}
		d = end ? end + 1 : NULL;
	}
}

void wb_crashpoint_hit(const char *point)
{
	for (int i = 0; i < ndelays; i++)
		if (strcmp(delays[i].point, point) == 0 && delays[i].usec > 0) {
			struct timespec ts = {delays[i].usec / 1000000,
					      (delays[i].usec % 1000000) *
						      1000};
			nanosleep(&ts, NULL);
		}
	if (crash_point[0] == '\0' || strcmp(crash_point, point) != 0)
		return;
	if (atomic_fetch_add(&crash_seen, 1) + 1 < crash_count)
		return;
	/* stderr is unbuffered: the test sees which point it stopped at */
	fprintf(stderr, "waybill: crash point %s reached: SIGKILL\n", point);
	kill(getpid(), SIGKILL);
	_exit(137); /* not reached */
}
