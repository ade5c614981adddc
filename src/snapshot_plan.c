/* snapshot_plan.c — how a snapshot's work is divided: a table whose key is
 * one integer column split into equal key ranges read at once by
 * different readers, and the part a free reader takes next. */
#include "snapshot_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

bool wb_snapshot_integer_key(const struct wb_snapshot_table *t)
{
	if (t->nkeys != 1 || t->table == NULL)
		return false;
	const struct wb_type *ty = &t->table->cols[t->keycols[0]].type;
	return !ty->is_array && ty->s.logical == WB_L_NONE &&
	       (ty->s.kind == WB_T_INT || ty->s.kind == WB_T_LONG);
}

bool wb_snapshot_int_text(const char *s, long long *v)
{
	char *end;
	errno = 0;
	*v = s && *s ? strtoll(s, &end, 10) : 0;
	return s && *s && errno == 0 && *end == '\0';
}

bool wb_snap_bounds_valid(const struct wb_snapshot_part *p, int np)
{
	long long prev = 0, v;
	for (int i = 0; i < np; i++) {
		if (i == np - 1)
			return p[i].hi == NULL;
		if (!wb_snapshot_int_text(p[i].hi, &v) || (i > 0 && v <= prev))
			return false;
		prev = v;
	}
	return true;
}

/* With more than one reader, a table read from its start whose key is one
 * integer column, and that holds at least two chunks, is split into up to
 * parallelism parts (a gap-free key gives equal row counts). */
int wb_snapshot_split_wanted(struct wb_snapshot *sn, int ti)
{
	const struct wb_snapshot_table *t = &sn->t[ti];
	int want = sn->parallelism;
	const struct wb_snapshot_part *p0 = &t->parts[0];
	if (want < 2 || t->np != 1 || p0->d_done || p0->d_nkey > 0 ||
	    p0->d_rows > 0 || !wb_snapshot_integer_key(t) ||
	    t->estimate < 2LL * sn->chunk)
		return 0;
	if (want > t->estimate / sn->chunk)
		want = (int)(t->estimate / sn->chunk);
	return want;
}

int wb_snapshot_split(struct wb_snapshot *sn, int ti, long long lo,
		      long long hi, int want, wb_error_t *err)
{
	struct wb_snapshot_table *t = &sn->t[ti];
	uint64_t step = want > 1 && hi > lo
				? ((uint64_t)hi - (uint64_t)lo) / (uint64_t)want
				: 0;
	if (step == 0)
		return WB_OK;
	struct wb_snapshot_part *p = calloc((size_t)want, sizeof(*p));
	if (p == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	bool ok = true;
	for (int i = 0; i < want - 1 && ok; i++) {
		long long b =
			(long long)((uint64_t)lo + step * (uint64_t)(i + 1));
		ok = asprintf(&p[i].hi, "%lld", b) >= 0 &&
		     (p[i + 1].lo = strdup(p[i].hi)) != NULL;
		if (!ok)
			p[i].hi = NULL;
	}
	if (!ok) {
		wb_snap_parts_free(p, want, 0);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	pthread_mutex_lock(&sn->mu);
	wb_snap_parts_free(t->parts, t->np, t->nkeys);
	t->parts = p;
	t->np = want;
	t->gen++;
	pthread_mutex_unlock(&sn->mu);
	const char *kname = t->nkeys > 0 && t->table
				    ? t->table->cols[t->keycols[0]].name
				    : "?";
	wb_info(sn->component,
		"snapshot of %s: split into %d parts by %s (%lld to %lld) "
		"for %d readers",
		t->full, want, kname, lo, hi, want);
	return WB_OK;
}

/* The first part of the round's tables, in table order, no reader took. */
static bool next_part(const struct wb_snapshot *sn, int *ti, int *pi)
{
	for (int i = 0; i < sn->nt; i++) {
		const struct wb_snapshot_table *t = &sn->t[i];
		for (int k = 0; t->in_round && k < t->np; k++)
			if (!t->parts[k].assigned) {
				*ti = i;
				*pi = k;
				return true;
			}
	}
	return false;
}

bool wb_snapshot_take_part(struct wb_snapshot *sn, int *ti, int *pi)
{
	if (!next_part(sn, ti, pi))
		return false;
	sn->t[*ti].parts[*pi].assigned = true;
	return true;
}

bool wb_snapshot_parts_waiting(const struct wb_snapshot *sn)
{
	int ti, pi;
	return next_part(sn, &ti, &pi);
}
