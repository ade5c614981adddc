/* priority.h — librdkafka's threads yield the CPU to waybill's own.
 *
 * With the database on the same machine, the source thread must read the
 * stream as it comes: a walsender whose socket is full takes its slow path
 * (waits, polls for replies) and spends more CPU per change. librdkafka's
 * threads batch messages on their own time (linger) behind a bounded queue
 * and can wait, so they run WB_BACKGROUND_NICE nice steps below the
 * pipeline's threads (Linux nice values are per thread). Measured on two
 * cores: the Kafka streaming benchmark about 7% faster; a snapshot into
 * Kafka within noise. On a machine not short of CPU this changes nothing.
 * waybill's own sink thread and the avro-file block thread keep the base
 * value: in a snapshot they are the bottleneck, and niced they cost 6-8%. */
#ifndef WB_PRIORITY_H
#define WB_PRIORITY_H

#define WB_BACKGROUND_NICE 5

/* Records the calling thread's nice value as the base; call in the main
 * thread before the pipeline starts threads. */
void wb_priority_init(void);
/* Sets the calling thread's nice value to the base plus WB_BACKGROUND_NICE
 * (at most 19), whichever thread created it. Without wb_priority_init, or
 * when the system refuses, nothing changes. */
void wb_priority_background(void);
/* The base recorded, or INT_MIN when none (for tests). */
int wb_priority_base(void);

#endif
