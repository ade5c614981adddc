/* queue.c — mutex/condvar queue of batches, bounded in bytes. */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct wb_queue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	struct wb_batch *head, *tail;
	size_t bytes, max_bytes;
	size_t held; /* bytes of batches popped and not yet done */
	bool closed;
};

struct wb_queue *wb_queue_new(size_t max_bytes)
{
	struct wb_queue *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->not_empty, &ca);
	pthread_cond_init(&q->not_full, &ca);
	pthread_condattr_destroy(&ca);
	q->max_bytes = max_bytes;
	return q;
}

void wb_queue_free(struct wb_queue *q)
{
	if (q == NULL)
		return;
	struct wb_batch *b = q->head;
	while (b) {
		struct wb_batch *next = b->next;
		wb_batch_free(b);
		b = next;
	}
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	free(q);
}

static void deadline(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int wb_queue_push(struct wb_queue *q, struct wb_batch *b, int timeout_ms)
{
	size_t size = wb_batch_bytes(b);
	struct timespec ts;
	deadline(&ts, timeout_ms);
	pthread_mutex_lock(&q->mu);
	while (!q->closed && q->head != NULL &&
	       q->bytes + size > q->max_bytes) {
		if (pthread_cond_timedwait(&q->not_full, &q->mu, &ts) ==
		    ETIMEDOUT) {
			pthread_mutex_unlock(&q->mu);
			return 0;
		}
	}
	if (q->closed) {
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	b->next = NULL;
	b->queued_bytes = size;
	if (q->tail)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
	q->bytes += size;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
	return 1;
}

struct wb_batch *wb_queue_pop(struct wb_queue *q, int timeout_ms)
{
	struct timespec ts;
	deadline(&ts, timeout_ms);
	pthread_mutex_lock(&q->mu);
	while (q->head == NULL && !q->closed) {
		if (pthread_cond_timedwait(&q->not_empty, &q->mu, &ts) ==
		    ETIMEDOUT)
			break;
	}
	struct wb_batch *b = q->head;
	if (b) {
		q->head = b->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->bytes -= b->queued_bytes;
		q->held += b->queued_bytes;
		b->next = NULL;
		pthread_cond_signal(&q->not_full);
	}
	pthread_mutex_unlock(&q->mu);
	return b;
}

void wb_queue_done(struct wb_queue *q, struct wb_batch *b)
{
	pthread_mutex_lock(&q->mu);
	q->held -= b->queued_bytes < q->held ? b->queued_bytes : q->held;
	b->queued_bytes = 0;
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->mu);
}

int wb_queue_wait_room(struct wb_queue *q, size_t bytes, int timeout_ms)
{
	struct timespec ts;
	deadline(&ts, timeout_ms);
	pthread_mutex_lock(&q->mu);
	int rc = 1;
	while (!q->closed && q->bytes + q->held > 0 &&
	       q->bytes + q->held + bytes > q->max_bytes) {
		if (pthread_cond_timedwait(&q->not_full, &q->mu, &ts) ==
		    ETIMEDOUT) {
			rc = 0;
			break;
		}
	}
	if (q->closed)
		rc = -1;
	pthread_mutex_unlock(&q->mu);
	return rc;
}

size_t wb_queue_held(struct wb_queue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->held;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void wb_queue_close(struct wb_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	pthread_cond_broadcast(&q->not_empty);
	pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->mu);
}

size_t wb_queue_bytes(struct wb_queue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->bytes;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t wb_queue_max_bytes(struct wb_queue *q)
{
	return q->max_bytes;
}

bool wb_queue_closed(struct wb_queue *q)
{
	pthread_mutex_lock(&q->mu);
	bool c = q->closed;
	pthread_mutex_unlock(&q->mu);
	return c;
}
