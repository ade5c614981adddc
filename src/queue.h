/* queue.h — the bounded queue (in bytes) between the source and sink threads.
 */
#ifndef WB_QUEUE_H
#define WB_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "change.h"

struct wb_queue;

/* max_bytes bounds the sum of wb_batch_bytes of queued batches. A single
 * batch larger than the bound is still accepted into an empty queue. A
 * popped batch counts as held until the consumer is done with it
 * (wb_queue_done), for sources that wait for room (wb_queue_wait_room). */
struct wb_queue *wb_queue_new(size_t max_bytes);
void wb_queue_free(struct wb_queue *q); /* frees queued batches; accepts NULL */

/* Takes ownership of b on 1 (pushed). Returns 0 when the queue stayed full
 * for timeout_ms, -1 when the queue is closed (b not taken). */
int wb_queue_push(struct wb_queue *q, struct wb_batch *b, int timeout_ms);
/* Returns the oldest batch (caller owns it) or NULL after timeout_ms, or when
 * closed and empty. Its bytes count as held until wb_queue_done. */
struct wb_batch *wb_queue_pop(struct wb_queue *q, int timeout_ms);
/* The consumer is done with b (popped from q): its bytes no longer count.
 * Call before b is reset or freed. */
void wb_queue_done(struct wb_queue *q, struct wb_batch *b);
/* Waits until `bytes` more fit beside the queued and held batches (or
 * none is queued or held): what a source calls before it reads a message
 * larger than a batch, so that one large row is in memory at a time.
 * Returns 1 when they fit, 0 after timeout_ms, -1 when the queue is
 * closed. */
int wb_queue_wait_room(struct wb_queue *q, size_t bytes, int timeout_ms);
/* Bytes of popped batches not yet done. */
size_t wb_queue_held(struct wb_queue *q);
/* Wakes both sides; pushes fail afterwards, pops drain what is left. */
void wb_queue_close(struct wb_queue *q);
size_t wb_queue_bytes(struct wb_queue *q);
size_t wb_queue_max_bytes(struct wb_queue *q);
bool wb_queue_closed(struct wb_queue *q);

#endif
