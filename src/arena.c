/* arena.c — bump allocator: chunks of chunk_size (or larger for big requests),
 * kept for reuse across resets so a recycled batch allocates nothing. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

/* Spare chunks kept across resets (of chunk_size each): enough for a batch
 * of a few hundred KiB. Larger ones are freed. */
#define WB_ARENA_MAX_SPARE 16

struct wb_arena_chunk {
	struct wb_arena_chunk *next;
	size_t size;
	size_t off;
	_Alignas(16) unsigned char data[];
};

void wb_arena_init(struct wb_arena *a, size_t chunk_size)
{
	a->head = NULL;
	a->spare = NULL;
	a->nspare = 0;
	a->used = 0;
	a->chunk_size = chunk_size ? chunk_size : 65536;
}

void *wb_arena_alloc(struct wb_arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	struct wb_arena_chunk *c = a->head;
	if (c == NULL || c->size - c->off < n) {
		struct wb_arena_chunk *nc;
		if (n <= a->chunk_size && a->spare != NULL) {
			nc = a->spare;
			a->spare = nc->next;
			a->nspare--;
		} else {
			size_t size = n > a->chunk_size ? n : a->chunk_size;
			nc = malloc(sizeof(*nc) + size);
			if (nc == NULL)
				return NULL;
			nc->size = size;
		}
		nc->off = 0;
		nc->next = c;
		a->head = nc;
		c = nc;
	}
	void *p = c->data + c->off;
	c->off += n;
	a->used += n;
	return p;
}

void *wb_arena_dup(struct wb_arena *a, const void *p, size_t n)
{
	unsigned char *d = wb_arena_alloc(a, n + 1);
	if (d == NULL)
		return NULL;
	if (n)
		memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

void wb_arena_reset(struct wb_arena *a)
{
	struct wb_arena_chunk *c = a->head;
	while (c) {
		struct wb_arena_chunk *next = c->next;
		if (c->size == a->chunk_size &&
		    a->nspare < WB_ARENA_MAX_SPARE) {
			c->next = a->spare;
			a->spare = c;
			a->nspare++;
		} else {
			free(c);
		}
		c = next;
	}
	a->head = NULL;
	a->used = 0;
}

static void free_list(struct wb_arena_chunk *c)
{
	while (c) {
		struct wb_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
}

void wb_arena_free(struct wb_arena *a)
{
	free_list(a->head);
	free_list(a->spare);
	a->head = NULL;
	a->spare = NULL;
	a->nspare = 0;
	a->used = 0;
}
