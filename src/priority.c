/* priority.c — background threads at a lower CPU priority (priority.h). */
#include "priority.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

static atomic_int base = INT_MIN;

void wb_priority_init(void)
{
	errno = 0;
	/* PRIO_PROCESS with a thread id: that thread's nice value (Linux) */
	int n = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno == 0)
		atomic_store(&base, n);
}

int wb_priority_base(void)
{
	return atomic_load(&base);
}

void wb_priority_background(void)
{
	int b = atomic_load(&base);
	if (b == INT_MIN)
		return;
	int n = b + WB_BACKGROUND_NICE > 19 ? 19 : b + WB_BACKGROUND_NICE;
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), n);
}
