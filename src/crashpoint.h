/* crashpoint.h — named points where a test can stop waybill dead, or slow
 * it down, between two durable steps.
 *
 * Tests set, in waybill's environment:
 *   WB_CRASH_AT=<point>[:<n>]   the n-th time (default 1) the process
 *                               passes <point>, it kills itself with
 *                               SIGKILL: no handler, no flush, no atexit,
 *                               exactly as `kill -9` at that instant;
 *   WB_DELAY=<point>:<usec>[,<point>:<usec>...]
 *                               every pass of <point> sleeps usec (a slow
 *                               disk or slow brokers, made repeatable).
 * Unset (production), a point costs one load and one branch. The points
 * are listed in docs/DESIGN.md, "Crash points". */
#ifndef WB_CRASHPOINT_H
#define WB_CRASHPOINT_H

#include <stdbool.h>

/* True once either variable is set; read once, at the first call. */
extern bool wb_crashpoints_armed;

void wb_crashpoint_hit(const char *point);

/* Kills the process here if WB_CRASH_AT names this point (and count). */
static inline void wb_crashpoint(const char *point)
{
	if (__builtin_expect(wb_crashpoints_armed, 0))
		wb_crashpoint_hit(point);
}

/* Reads the environment; called once from main() before any thread. */
void wb_crashpoints_init(void);

#endif
