/* arena.h — bump allocator for per-batch scratch memory, freed all at once. */
#ifndef WB_ARENA_H
#define WB_ARENA_H

#include <stddef.h>
#include <stdint.h>

struct wb_arena_chunk;

struct wb_arena {
	struct wb_arena_chunk *head;  /* chunks in use, newest first */
	struct wb_arena_chunk *spare; /* kept by reset for reuse */
	int nspare;
	size_t used; /* bytes handed out since the last reset */
	size_t chunk_size;
};

void wb_arena_init(struct wb_arena *a, size_t chunk_size);
/* Returns n bytes aligned to 8, valid until reset/free; NULL when out of
 * memory. */
void *wb_arena_alloc(struct wb_arena *a, size_t n);
/* Copies n bytes into the arena and appends a NUL (not counted in n). */
void *wb_arena_dup(struct wb_arena *a, const void *p, size_t n);
/* Forgets every allocation; keeps up to 16 chunks of chunk_size for reuse
 * and frees the others. */
void wb_arena_reset(struct wb_arena *a);
void wb_arena_free(struct wb_arena *a);

#endif
