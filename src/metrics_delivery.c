/* metrics_delivery.c — the ring of written, undelivered runs of events
 * (see metrics_delivery.h). */
#include "metrics_delivery.h"

#include <stdlib.h>
#include <string.h>

void wb_mdeliv_init(struct wb_mdeliv *d, size_t max_runs)
{
	memset(d, 0, sizeof(*d));
	d->max = max_runs;
}

void wb_mdeliv_free(struct wb_mdeliv *d)
{
	free(d->runs);
	memset(d, 0, sizeof(*d));
}

static void settle(const struct wb_mdeliv_run *r, int64_t now_us)
{
	wb_mcount_add(&r->table->delivered[r->op], r->n);
	wb_metrics_observe_latency(now_us, r->commit_us, r->n);
	if (r->commit_us > 0)
		wb_mset(&wb_metrics.last_delivered_commit_us,
			(uint64_t)r->commit_us);
}

static int grow(struct wb_mdeliv *d)
{
	size_t cap = d->cap ? d->cap * 2 : 256;
	if (cap > d->max)
		cap = d->max;
	if (cap <= d->cap)
		return -1;
	struct wb_mdeliv_run *r = malloc(cap * sizeof(*r));
	if (r == NULL)
		return -1;
	for (size_t i = 0; i < d->len; i++)
		r[i] = d->runs[(d->head + i) % d->cap];
	free(d->runs);
	d->runs = r;
	d->cap = cap;
	d->head = 0;
	return 0;
}

void wb_mdeliv_written(struct wb_mdeliv *d, struct wb_mtable *t, int op,
		       const wb_position_t *pos, int64_t commit_us,
		       int64_t now_us)
{
	if (d->len > 0) {
		struct wb_mdeliv_run *r =
			&d->runs[(d->head + d->len - 1) % d->cap];
		if (r->table == t && r->op == op && r->commit_us == commit_us &&
		    r->n < UINT32_MAX) {
			r->last = *pos;
			r->n++;
			return;
		}
	}
	if (d->len == d->cap && grow(d) != 0) {
		struct wb_mdeliv_run one = {*pos, commit_us, t, 1, (uint8_t)op};
		settle(&one, now_us);
		return;
	}
	d->runs[(d->head + d->len) % d->cap] =
		(struct wb_mdeliv_run){*pos, commit_us, t, 1, (uint8_t)op};
	d->len++;
}

void wb_mdeliv_delivered(struct wb_mdeliv *d, const wb_position_t *pos,
			 int64_t now_us)
{
	while (d->len > 0) {
		struct wb_mdeliv_run *r = &d->runs[d->head];
		if (wb_position_cmp(&r->last, pos) > 0)
			break;
		settle(r, now_us);
		d->head = (d->head + 1) % d->cap;
		d->len--;
	}
}

int64_t wb_mdeliv_oldest_commit(const struct wb_mdeliv *d)
{
	for (size_t i = 0; i < d->len; i++) {
		const struct wb_mdeliv_run *r =
			&d->runs[(d->head + i) % d->cap];
		if (r->commit_us > 0)
			return r->commit_us;
	}
	return 0;
}
