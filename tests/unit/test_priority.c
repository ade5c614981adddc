/* test_priority.c — a background thread runs WB_BACKGROUND_NICE nice steps
 * below the base, whichever thread created it; other threads keep theirs. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "priority.h"

static int nice_of_self(void)
{
	errno = 0;
	return getpriority(PRIO_PROCESS, (id_t)gettid());
}

static void *background(void *arg)
{
	int *out = arg;
	wb_priority_background();
	out[0] = nice_of_self();
	/* again: the same value, not a further step down */
	wb_priority_background();
	out[1] = nice_of_self();
	return NULL;
}

int main(void)
{
	/* without a base nothing changes */
	int before = nice_of_self();
	wb_priority_background();
	CHECK(nice_of_self() == before);
	CHECK(wb_priority_base() == INT_MIN);

	wb_priority_init();
	CHECK(wb_priority_base() == before);
	int want = before + WB_BACKGROUND_NICE > 19
			   ? 19
			   : before + WB_BACKGROUND_NICE;
	int got[2] = {0, 0};
	pthread_t t;
	CHECK(pthread_create(&t, NULL, background, got) == 0);
	pthread_join(t, NULL);
	CHECK(got[0] == want);
	CHECK(got[1] == want);
	CHECK(nice_of_self() == before); /* the calling thread keeps its own */
	if (failures == 0)
		printf("test_priority: ok\n");
	return failures != 0;
}
