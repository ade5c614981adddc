/* check.h — the assertions unit tests share: count failures, keep going. */
#ifndef WB_TEST_CHECK_H
#define WB_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			failures++;                                            \
		}                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *g_ = (got), *w_ = (want);                          \
		if (g_ == NULL || strcmp(g_, w_) != 0) {                       \
			fprintf(stderr, "%s:%d: %s\n  got:  %s\n  want: %s\n", \
				__FILE__, __LINE__, #got, g_ ? g_ : "(null)",  \
				w_);                                           \
			failures++;                                            \
		}                                                              \
	} while (0)

#endif
