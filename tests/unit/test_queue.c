/* test_queue.c — the source→sink queue is bounded in bytes and keeps order. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "queue.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

static struct wb_batch *batch_of(uint64_t tag, size_t bytes)
{
	struct wb_batch *b = wb_batch_new();
	CHECK(b != NULL);
	struct wb_change *c = wb_batch_add(b);
	CHECK(c != NULL);
	c->pos.major = tag;
	CHECK(wb_arena_alloc(&b->arena, bytes) != NULL);
	return b;
}

#define N 2000

static size_t size_of_1000(void)
{
	struct wb_batch *b = batch_of(0, 1000);
	size_t n = wb_batch_bytes(b);
	wb_batch_free(b);
	return n;
}

/* Held bytes: a popped batch counts until it is done; a wait for room
 * counts it, and an adopted buffer counts in the batch's bytes. */
static void test_held(void)
{
	struct wb_queue *q = wb_queue_new(100000);
	struct wb_batch *big = batch_of(1, 10);
	void *p = malloc(500000);
	CHECK(p != NULL && wb_batch_adopt(big, p, 500000) == 0);
	size_t size = wb_batch_bytes(big);
	CHECK(size >= 500000);
	CHECK(wb_queue_wait_room(q, 500000, 0) == 1); /* nothing held */
	CHECK(wb_queue_push(q, big, 10) == 1);
	CHECK(wb_queue_wait_room(q, 10, 20) == 0); /* queued: no room */
	CHECK(wb_queue_pop(q, 10) == big);
	CHECK(wb_queue_bytes(q) == 0 && wb_queue_held(q) == size);
	CHECK(wb_queue_wait_room(q, 10, 20) == 0); /* held: no room */
	wb_queue_done(q, big);
	CHECK(wb_queue_held(q) == 0);
	CHECK(wb_queue_wait_room(q, 500000, 0) == 1);
	wb_batch_reset(big); /* frees p */
	CHECK(wb_batch_bytes(big) == 0);
	/* small ones fit beside what is held */
	struct wb_batch *one = batch_of(2, 1000);
	CHECK(wb_queue_push(q, one, 10) == 1);
	CHECK(wb_queue_wait_room(q, 1000, 0) == 1);
	wb_queue_close(q);
	CHECK(wb_queue_wait_room(q, 500000, 0) == -1);
	wb_batch_free(big);
	wb_queue_free(q);
}

static void *producer(void *arg)
{
	struct wb_queue *q = arg;
	for (uint64_t i = 1; i <= N; i++) {
		struct wb_batch *b = batch_of(i, 1000);
		while (wb_queue_push(q, b, 50) == 0)
			;
	}
	return NULL;
}

int main(void)
{
	test_held();
	/* a batch emptied for reuse after many changes is empty, not full:
	 * snapshot readers fill batches "until full" */
	struct wb_batch *reused = wb_batch_new();
	CHECK(reused != NULL);
	for (int i = 0; i < 5000; i++)
		CHECK(wb_batch_add(reused) != NULL);
	CHECK(wb_batch_bytes(reused) >= 5000 * sizeof(struct wb_change));
	wb_batch_reset(reused);
	CHECK(wb_batch_bytes(reused) == 0);
	wb_batch_free(reused);

	/* the bound holds: a second batch does not fit, the push times out */
	struct wb_batch *one = batch_of(1, 40000);
	size_t size = wb_batch_bytes(one);
	struct wb_queue *q = wb_queue_new(size + 100);
	CHECK(wb_queue_push(q, one, 10) == 1);
	struct wb_batch *two = batch_of(2, 40000);
	CHECK(wb_queue_push(q, two, 50) == 0);
	CHECK(wb_queue_bytes(q) == size);
	struct wb_batch *got = wb_queue_pop(q, 10);
	CHECK(got == one && got->changes[0].pos.major == 1);
	wb_batch_free(got);
	CHECK(wb_queue_bytes(q) == 0);
	/* a batch larger than the bound still goes into an empty queue */
	struct wb_batch *big = batch_of(3, 200000);
	CHECK(wb_queue_push(q, big, 10) == 1);
	CHECK(wb_queue_pop(q, 10) == big);
	wb_batch_free(big);
	CHECK(wb_queue_pop(q, 20) == NULL);
	wb_queue_free(q);
	wb_batch_free(two);

	/* order holds across threads and memory stays under the bound */
	q = wb_queue_new(16 * 1024 * 8);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, producer, q) == 0);
	uint64_t expect = 1;
	size_t peak = 0;
	while (expect <= N) {
		struct wb_batch *b = wb_queue_pop(q, 1000);
		CHECK(b != NULL);
		CHECK(b->changes[0].pos.major == expect);
		expect++;
		wb_batch_free(b);
		size_t now = wb_queue_bytes(q);
		if (now > peak)
			peak = now;
	}
	pthread_join(t, NULL);
	CHECK(peak <= wb_queue_max_bytes(q));
	CHECK(wb_queue_held(q) == N * size_of_1000());
	/* close wakes and refuses pushes */
	wb_queue_close(q);
	struct wb_batch *late = batch_of(9, 10);
	CHECK(wb_queue_push(q, late, 10) == -1);
	wb_batch_free(late);
	wb_queue_free(q);
	printf("queue: ok\n");
	return 0;
}
