/* position.h — a source position: opaque to the core, totally ordered. */
#ifndef WB_POSITION_H
#define WB_POSITION_H

#include <stdint.h>

/* Ordered by (major, minor). PostgreSQL: major = commit LSN of the
 * transaction, minor = ordinal of the change within it (0 = BEGIN, 1.. the
 * changes, UINT32_MAX = COMMIT). Each source formats its own text form. */
typedef struct wb_position {
	uint64_t major;
	uint64_t minor;
} wb_position_t;

static inline int wb_position_cmp(const wb_position_t *a,
				  const wb_position_t *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	return 0;
}

static inline int wb_position_is_zero(const wb_position_t *p)
{
	return p->major == 0 && p->minor == 0;
}

#endif
