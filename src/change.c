/* change.c — batches of change records. */
#include "change.h"

#include <stdlib.h>
#include <string.h>

struct wb_batch *wb_batch_new(void)
{
	struct wb_batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	wb_arena_init(&b->arena, 64 * 1024);
	return b;
}

struct wb_change *wb_batch_add(struct wb_batch *b)
{
	if (b->n == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2 : 256;
		struct wb_change *c = realloc(b->changes, cap * sizeof(*c));
		if (c == NULL)
			return NULL;
		b->changes = c;
		b->cap = cap;
	}
	struct wb_change *c = &b->changes[b->n++];
	memset(c, 0, sizeof(*c));
	return c;
}

struct wb_table *wb_batch_hold(struct wb_batch *b, struct wb_table *t)
{
	/* most batches carry one table or a few: look from the newest */
	for (uint32_t i = b->nheld; i > 0; i--)
		if (b->held[i - 1] == t)
			return t;
	if (b->nheld == b->capheld) {
		uint32_t cap = b->capheld ? b->capheld * 2 : 8;
		struct wb_table **h = realloc(b->held, cap * sizeof(*h));
		if (h == NULL)
			return NULL;
		b->held = h;
		b->capheld = cap;
	}
	b->held[b->nheld++] = wb_table_ref(t);
	return t;
}

static void release_tables(struct wb_batch *b)
{
	for (uint32_t i = 0; i < b->nheld; i++)
		wb_table_unref(b->held[i]);
	b->nheld = 0;
}

int wb_batch_adopt(struct wb_batch *b, void *p, size_t n)
{
	if (b->nowned == b->capowned) {
		uint32_t cap = b->capowned ? b->capowned * 2 : 4;
		void **o = realloc(b->owned, cap * sizeof(*o));
		if (o == NULL)
			return -1;
		b->owned = o;
		b->capowned = cap;
	}
	b->owned[b->nowned++] = p;
	b->owned_bytes += n;
	return 0;
}

static void release_owned(struct wb_batch *b)
{
	for (uint32_t i = 0; i < b->nowned; i++)
		free(b->owned[i]);
	b->nowned = 0;
	b->owned_bytes = 0;
}

struct wb_value *wb_batch_values(struct wb_batch *b, int ncols)
{
	size_t n = (size_t)(ncols > 0 ? ncols : 1) * sizeof(struct wb_value);
	struct wb_value *v = wb_arena_alloc(&b->arena, n);
	if (v)
		memset(v, 0, n);
	return v;
}

size_t wb_batch_bytes(const struct wb_batch *b)
{
	/* the changes it holds, not the array's capacity: a batch reused
	 * after holding many small changes keeps a large array, and must not
	 * look full when it is empty (a reader filling "until full" would
	 * then never add a row) */
	return b->arena.used + b->owned_bytes +
	       (size_t)b->n * sizeof(struct wb_change);
}

void wb_batch_reset(struct wb_batch *b)
{
	release_tables(b);
	release_owned(b);
	b->n = 0;
	b->next = NULL;
	wb_arena_reset(&b->arena);
}

void wb_batch_free(struct wb_batch *b)
{
	if (b == NULL)
		return;
	release_tables(b);
	release_owned(b);
	free(b->owned);
	free(b->held);
	free(b->changes);
	wb_arena_free(&b->arena);
	free(b);
}
