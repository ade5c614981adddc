/* pipeline.c — the run loop: one source thread, the sink on the main thread,
 * and a checkpoint thread that writes checkpoint files (checkpoint.h).
 *
 * Positions kept apart, as the source needs them:
 *   written   — last event handed to the sink
 *   delivered — last event the sink reported delivered (durable for files)
 *   durable   — what the last checkpoint file holds; only this is ever
 *               acknowledged to the source (PG flush LSN).
 * A transaction's ack (PG: commit end LSN) becomes usable once everything
 * written before its COMMIT record is delivered.
 *
 * A checkpoint is made in three steps, each after the one before is
 * durable: the sink's flush (data durable, delivery reported), the
 * checkpoint file (written and fsynced by the checkpoint thread while the
 * sink thread goes on delivering what comes next), then, on the sink
 * thread, the sink's checkpointed() and the source's acknowledgement. One
 * checkpoint is in progress at a time. */
#include "clock.h"
#include "pipeline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avro_encode.h"
#include "checkpoint.h"
#include "crashpoint.h"
#include "log.h"
#include "mapping_setup.h"
#include "notify.h"
#include "metrics.h"
#include "metrics_delivery.h"
#include "metrics_log.h"
#include "priority.h"
#include "queue.h"
#include "sink.h"
#include "source.h"
#include "stop.h"

#define BATCH_TARGET_BYTES (256 * 1024)
#define COMMIT_FIFO_MAX 4096
#define POOL_MAX 8
#define DELIVERY_RUNS_MAX (1u << 18) /* 8 MiB of undelivered runs */

struct commit_mark {
	wb_position_t guard;  /* delivered >= guard: the transaction is done */
	wb_position_t commit; /* the COMMIT record's position */
	uint64_t ack;
	int64_t commit_us;
};

struct pipeline {
	const struct wb_config *cfg;
	const struct wb_run_options *opt;
	volatile sig_atomic_t *stop;
	const struct wb_source_ops *sops;
	const struct wb_sink_ops *kops;
	struct wb_source *src;
	struct wb_sink *sink;
	struct wb_queue *queue;
	struct wb_encoder *enc;
	struct wb_mappings *maps; /* NULL without mappings */
	json_t *maps_before;	  /* the checkpoint's mapping counts */
	uint64_t mapped, dead_letters;
	int64_t now_us; /* now() of the mappings: one value per batch */
	int lock_fd;

	pthread_t thread;
	bool thread_started;
	atomic_int src_stop;
	atomic_int src_done;
	atomic_llong last_change_ms;
	pthread_mutex_t pool_mu; /* guards pool: spare batches */
	struct wb_batch *pool[POOL_MAX];
	int npool;
	int src_rc;
	wb_error_t src_err;

	bool have_resume;
	wb_position_t resume;

	bool wrote_any;
	wb_position_t written;
	wb_position_t delivered;
	struct commit_mark *fifo;
	size_t fifo_head, fifo_len, fifo_cap;
	wb_position_t
		done_pos; /* highest COMMIT whose transaction is delivered */
	uint64_t done_ack;

	wb_position_t ckpt_pos;
	uint64_t ckpt_ack;
	json_t *ckpt_source,
		*ckpt_sink; /* the states ckpt_pos was saved with */
	/* a pending checkpoint (before_commit) names this position: no
	 * checkpoint may be saved below it until it is durable */
	bool pending;
	wb_position_t pending_pos;
	/* The checkpoint thread makes a checkpoint durable while the sink
	 * thread goes on delivering; saving: one is on its way to the disk,
	 * holding these (the source is acknowledged once it is durable). */
	struct wb_checkpoint_writer *ckw;
	bool saving;
	wb_position_t saving_pos;
	uint64_t saving_ack;
	json_t *saving_source, *saving_sink;
	bool dirty;
	long long last_ckpt_ms;
	uint64_t events, skipped;
	uint64_t ckpt_events;	     /* events written at the last checkpoint */
	int64_t delivered_commit_us; /* commit time of the last delivered
					transaction (systemd STATUS= lag) */
	bool endpos_reached;	     /* a change past --endpos was read */

	/* metrics (sink thread) */
	struct wb_mdeliv mdeliv;
	struct wb_metrics_http *http;
	int64_t ckpt_real_ms; /* last durable checkpoint, or the start */
	long long last_status_ms;
	struct wb_mmapping *mslot[WB_METRICS_MAX_MAPPINGS];
};

static void pos_max(wb_position_t *a, const wb_position_t *b)
{
	if (wb_position_cmp(a, b) < 0)
		*a = *b;
}

/* Batches go back to the source thread after use, so that their memory is
 * reused rather than freed and allocated again for every batch (which also
 * made glibc consolidate the small blocks librdkafka frees). */
static struct wb_batch *batch_get(struct pipeline *p)
{
	pthread_mutex_lock(&p->pool_mu);
	struct wb_batch *b = p->npool > 0 ? p->pool[--p->npool] : NULL;
	pthread_mutex_unlock(&p->pool_mu);
	return b ? b : wb_batch_new();
}

static void batch_put(struct pipeline *p, struct wb_batch *b)
{
	wb_queue_done(p->queue, b);
	wb_batch_reset(b);
	pthread_mutex_lock(&p->pool_mu);
	if (p->npool < POOL_MAX) {
		p->pool[p->npool++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&p->pool_mu);
	wb_batch_free(b);
}

/* wb_source.room: the queue's room, or -1 once the source is to stop. */
static int source_room(void *opaque, size_t bytes, int timeout_ms)
{
	struct pipeline *p = opaque;
	if (atomic_load(&p->src_stop))
		return -1;
	return wb_queue_wait_room(p->queue, bytes, timeout_ms);
}

static bool source_finished(struct pipeline *p)
{
	return p->sops->finished && p->sops->finished(p->src);
}

/* Sleeps ms in short steps; false when the source is asked to stop. */
static bool nap(struct pipeline *p, long long ms)
{
	long long until = wb_clock_mono_ms() + ms;
	while (!atomic_load(&p->src_stop)) {
		wb_mset(&wb_metrics.source_heartbeat_ms,
			(uint64_t)wb_clock_mono_ms());
		long long left = until - wb_clock_mono_ms();
		if (left <= 0)
			return true;
		struct timespec ts = {0, (left > 100 ? 100 : left) * 1000000L};
		nanosleep(&ts, NULL);
	}
	return false;
}

/* The source lost its connection (err, retriable): reconnects with capped
 * exponential backoff and jitter (0.5 s doubling to 30 s, each wait drawn
 * between half and all of it), logging the outage once when it starts and
 * once when it ends. Returns 0 once reconnected, or the error that cannot
 * heal (or the last one, when asked to stop). */
static int reconnect(struct pipeline *p, wb_error_t *err)
{
	long long t0 = wb_clock_mono_ms(), backoff = 500;
	unsigned seed = (unsigned)t0 ^ (unsigned)getpid();
	wb_warn("pipeline", "source connection lost (%s); reconnecting",
		err->message);
	wb_metrics_source_down();
	for (int attempt = 1;; attempt++) {
		long long wait =
			backoff / 2 + rand_r(&seed) % (backoff / 2 + 1);
		if (!nap(p, wait))
			return err->code;
		wb_error_t e;
		wb_error_clear(&e);
		wb_mcount_add(&wb_metrics.source_reconnect_attempts, 1);
		if (p->sops->reconnect(p->src, &e) == 0) {
			wb_metrics_source_up();
			wb_mcount_add(&wb_metrics.source_reconnects, 1);
			wb_info("pipeline",
				"source connection back after %.1f s (%d "
				"attempts)",
				(wb_clock_mono_ms() - t0) / 1000.0, attempt);
			wb_error_clear(err);
			return 0;
		}
		*err = e;
		if (!e.retriable) {
			wb_err("pipeline",
			       "source connection lost for good after %.1f s: "
			       "%s",
			       (wb_clock_mono_ms() - t0) / 1000.0, e.message);
			return e.code;
		}
		wb_debug("pipeline", "reconnect attempt %d failed: %s", attempt,
			 e.message);
		if (backoff < 30000)
			backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
	}
}

static void *source_thread(void *arg)
{
	struct pipeline *p = arg;
	/* its own name, so per-thread CPU (top -H, tools/bench --profile)
	 * tells the source from the sink side */
	pthread_setname_np(pthread_self(), "wb-source");
	wb_error_t err;
	wb_error_clear(&err);
	int rc = 0;
	struct wb_batch *b = NULL;
	while (!atomic_load(&p->src_stop)) {
		wb_mset(&wb_metrics.source_heartbeat_ms,
			(uint64_t)wb_clock_mono_ms());
		if (b == NULL && (b = batch_get(p)) == NULL) {
			rc = wb_error_set(&err, WB_ERR_NOMEM, "out of memory");
			break;
		}
		rc = p->sops->poll(p->src, b, BATCH_TARGET_BYTES, 100, &err);
		if (rc != 0 && err.retriable && p->sops->reconnect &&
		    !atomic_load(&p->src_stop) &&
		    (rc = reconnect(p, &err)) == 0)
			continue; /* b keeps what it holds */
		if (rc != 0 || b->n == 0) {
			if (rc != 0 || source_finished(p))
				break;
			continue; /* the empty batch is used again */
		}
		atomic_store(&p->last_change_ms, wb_clock_mono_ms());
		wb_metrics_count_read(b);
		int pushed;
		while ((pushed = wb_queue_push(p->queue, b, 1000)) == 0) {
			wb_mset(&wb_metrics.source_heartbeat_ms,
				(uint64_t)wb_clock_mono_ms());
			rc = p->sops->keepalive(p->src, &err);
			if (rc != 0 && err.retriable && p->sops->reconnect &&
			    !atomic_load(&p->src_stop))
				rc = reconnect(p, &err);
			if (rc != 0 || atomic_load(&p->src_stop))
				break;
		}
		if (pushed != 1)
			break;
		b = NULL; /* the queue owns it now */
		if (source_finished(p))
			break;
	}
	wb_batch_free(b);
	p->src_rc = rc;
	p->src_err = err;
	atomic_store(&p->src_done, 1);
	/* wakes the sink thread at once: it drains what is queued and stops */
	wb_queue_close(p->queue);
	return NULL;
}

static void on_delivered(void *opaque, const wb_position_t *pos)
{
	struct pipeline *p = opaque;
	pos_max(&p->delivered, pos);
	wb_mdeliv_delivered(&p->mdeliv, pos, wb_clock_real_ms() * 1000);
	wb_mset(&wb_metrics.delivered_position, p->delivered.major);
	while (p->fifo_len > 0) {
		struct commit_mark *m = &p->fifo[p->fifo_head];
		if (wb_position_cmp(&m->guard, &p->delivered) > 0)
			break;
		pos_max(&p->done_pos, &m->commit);
		if (m->ack > p->done_ack)
			p->done_ack = m->ack;
		p->delivered_commit_us = m->commit_us;
		p->fifo_head = (p->fifo_head + 1) % p->fifo_cap;
		p->fifo_len--;
		p->dirty = true;
	}
}

static int remember_commit(struct pipeline *p, const struct wb_change *c,
			   wb_error_t *err)
{
	struct commit_mark m = {p->written, c->pos, c->ack, c->commit_ts_us};
	if (!p->wrote_any || wb_position_cmp(&p->written, &p->delivered) <= 0) {
		/* nothing outstanding: the transaction is already done */
		pos_max(&p->done_pos, &c->pos);
		if (c->ack > p->done_ack)
			p->done_ack = c->ack;
		p->delivered_commit_us = c->commit_ts_us;
		p->dirty = true;
		if (p->fifo_len == 0)
			return WB_OK;
	}
	if (p->fifo_len == COMMIT_FIFO_MAX) {
		/* coalesce into the newest mark: acks come a little later */
		size_t last = (p->fifo_head + p->fifo_len - 1) % p->fifo_cap;
		p->fifo[last] = m;
		return WB_OK;
	}
	if (p->fifo_len == p->fifo_cap) {
		size_t cap = p->fifo_cap ? p->fifo_cap * 2 : 64;
		struct commit_mark *f = malloc(cap * sizeof(*f));
		if (f == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		for (size_t i = 0; i < p->fifo_len; i++)
			f[i] = p->fifo[(p->fifo_head + i) % p->fifo_cap];
		free(p->fifo);
		p->fifo = f;
		p->fifo_cap = cap;
		p->fifo_head = 0;
	}
	p->fifo[(p->fifo_head + p->fifo_len) % p->fifo_cap] = m;
	p->fifo_len++;
	return WB_OK;
}

/* The canonical events and dead letters of change c, written after its
 * raw event (if any), at its position. */
static int write_mapped(struct pipeline *p, const struct wb_change *c,
			const char *position, const char *event_id, bool *wrote,
			wb_error_t *err)
{
	char pos[96], id[256];
	if (position == NULL) {
		/* no raw event: the texts made here, without printf */
		p->sops->format_position(&c->pos, pos, sizeof(pos));
		size_t n = strlen(p->cfg->name), m = strnlen(pos, sizeof(pos));
		if (n + 1 + m >= sizeof(id))
			n = sizeof(id) - 2 - m;
		memcpy(id, p->cfg->name, n);
		id[n] = ':';
		memcpy(id + n + 1, pos, m);
		id[n + 1 + m] = '\0';
		position = pos;
		event_id = id;
	}
	const struct wb_mapped *out;
	int nout = 0;
	int rc = wb_mappings_apply(p->maps, c, position, event_id, p->now_us,
				   &out, &nout, err);
	if (rc)
		return rc;
	for (int i = 0; i < nout; i++) {
		const struct wb_mapped *o = &out[i];
		struct wb_event me;
		memset(&me, 0, sizeof(me));
		me.table = c->table;
		me.topic = o->topic;
		me.key_schema = o->key_schema;
		me.value_schema = o->schema;
		me.key = o->key_avro;
		me.key_len = o->key_avro_len;
		me.value = o->value;
		me.value_len = o->value_len;
		me.pos = c->pos;
		me.position = position;
		me.event_id = o->event_id;
		me.op = 'c';
		me.direct_topic = true;
		me.correlation_id = o->correlation_id;
		me.mapping = o->mapping ? o->mapping->header : NULL;
		if ((rc = p->kops->write(p->sink, &me, err)))
			return rc;
		*wrote = true;
		wb_mcount_add(&wb_metrics.sink_bytes,
			      o->key_avro_len + o->value_len);
		if (o->dead_letter)
			p->dead_letters++;
		else
			p->mapped++;
	}
	return WB_OK;
}

static json_t *mappings_state(struct pipeline *p);

static int process_batch(struct pipeline *p, struct wb_batch *b,
			 wb_error_t *err)
{
	p->now_us = wb_clock_real_ms() * 1000;
	wb_encoder_set_now(p->enc, wb_clock_real_ms());
	for (uint32_t i = 0; i < b->n; i++) {
		const struct wb_change *c = &b->changes[i];
		if (c->op == WB_OP_BEGIN)
			continue;
		if (p->opt->have_endpos &&
		    wb_position_cmp(&c->pos, &p->opt->endpos) > 0) {
			p->endpos_reached = true; /* nothing past it */
			continue;
		}
		if (c->op == WB_OP_COMMIT) {
			int rc = remember_commit(p, c, err);
			if (rc)
				return rc;
			continue;
		}
		if (p->have_resume &&
		    wb_position_cmp(&c->pos, &p->resume) <= 0) {
			p->skipped++;
			wb_mcount_add(&wb_metrics.skipped, 1);
			continue;
		}
		struct wb_event ev;
		const char *position = NULL, *event_id = NULL;
		bool wrote = false;
		wb_crashpoint("sink.write");
		if (p->cfg->emit_raw) {
			int rc = wb_encoder_encode(p->enc, c, &ev, err);
			if (rc == WB_OK)
				rc = p->kops->write(p->sink, &ev, err);
			if (rc != WB_OK)
				return rc;
			position = ev.position;
			event_id = ev.event_id;
			wrote = true;
			p->events++;
			wb_mcount_add(&wb_metrics.sink_bytes,
				      ev.key_len + ev.value_len);
		}
		if (p->maps) {
			int rc = write_mapped(p, c, position, event_id, &wrote,
					      err);
			if (rc != WB_OK)
				return rc;
		}
		int opi = wb_metrics_op_index(c->op);
		if (wrote && opi >= 0 && c->table)
			wb_mdeliv_written(
				&p->mdeliv, wb_metrics_table(c->table), opi,
				&c->pos, c->snapshot ? 0 : c->commit_ts_us,
				p->now_us);
		if (wrote) {
			p->written = c->pos;
			p->wrote_any = true;
			p->dirty = true;
		}
	}
	return WB_OK;
}

/* The checkpoint being saved, once the checkpoint thread has made it
 * durable (waiting up to timeout_ms, -1: as long as it takes): it becomes
 * the durable one, then the sink is told (checkpointed) and the source
 * acknowledged, in that order and on this thread. While it is still
 * being written, p->saving stays set and nothing is done. A failed save
 * is the error; what it would have covered is saved again later. */
static int ckpt_finish(struct pipeline *p, int timeout_ms, wb_error_t *err)
{
	int rc = WB_OK;
	if (!p->saving ||
	    !wb_checkpoint_writer_done(p->ckw, timeout_ms, &rc, err))
		return WB_OK;
	p->saving = false;
	if (rc) {
		json_decref(p->saving_source);
		json_decref(p->saving_sink);
		p->saving_source = p->saving_sink = NULL;
		p->dirty = true;
		return rc;
	}
	json_decref(p->ckpt_source);
	json_decref(p->ckpt_sink);
	p->ckpt_source = p->saving_source;
	p->ckpt_sink = p->saving_sink;
	p->saving_source = p->saving_sink = NULL;
	p->pending = false;
	p->ckpt_pos = p->saving_pos;
	p->ckpt_ack = p->saving_ack;
	p->ckpt_real_ms = wb_clock_real_ms();
	wb_mcount_add(&wb_metrics.checkpoints, 1);
	wb_mset(&wb_metrics.checkpoint_position, p->ckpt_ack);
	wb_mset(&wb_metrics.checkpoint_real_ms, (uint64_t)p->ckpt_real_ms);
	wb_crashpoint("checkpoint.saved");
	if (p->kops->checkpointed && (rc = p->kops->checkpointed(p->sink, err)))
		return rc;
	wb_crashpoint("checkpoint.sink_done");
	p->sops->ack(p->src, &p->ckpt_pos, p->ckpt_ack);
	return WB_OK;
}

/* The sink's before_commit: everything written so far is in the
 * transaction about to be committed. Writes the checkpoint with the
 * durable state as it is and, as pending, the state once that commit is
 * done: the position and ack the delivery of everything written makes
 * durable (on_delivered's walk of the commit marks, without taking them),
 * the source's and sink's states there. A crash after the commit and
 * before the next checkpoint then continues from the pending state if the
 * sink says the commit happened (resolve), so the source (a snapshot's
 * progress) is not taken back to where the commit's rows are re-read
 * under new positions. */
static int on_before_commit(void *opaque, json_t *where, wb_error_t *err)
{
	struct pipeline *p = opaque;
	/* The pending checkpoint names the durable state beside it: a save
	 * still in progress is finished first (checkpoint() already did so
	 * before the flush that commits, so this does not wait). */
	int rc = ckpt_finish(p, -1, err);
	if (rc)
		return rc;
	wb_position_t pos = p->delivered;
	pos_max(&pos, &p->written);
	pos_max(&pos, &p->done_pos);
	for (size_t i = 0; i < p->fifo_len; i++) {
		const struct commit_mark *m =
			&p->fifo[(p->fifo_head + i) % p->fifo_cap];
		if (wb_position_cmp(&m->guard, &p->written) > 0)
			break;
		pos_max(&pos, &m->commit);
	}
	if (wb_position_cmp(&pos, &p->ckpt_pos) <= 0)
		return WB_OK; /* nothing the checkpoint does not cover */
	json_t *state = p->kops->state ? p->kops->state(p->sink) : NULL;
	json_t *sstate = p->sops->state ? p->sops->state(p->src, &pos) : NULL;
	if (p->maps && sstate)
		json_object_set_new(sstate, "mappings", mappings_state(p));
	rc = wb_checkpoint_save_pending(p->cfg->checkpoint_dir, p->cfg->name,
					p->sops, &p->ckpt_pos, p->ckpt_ack,
					p->ckpt_source, p->ckpt_sink, &pos,
					sstate, state, where, err);
	json_decref(state);
	json_decref(sstate);
	if (rc)
		return rc;
	p->pending = true;
	p->pending_pos = pos;
	wb_crashpoint("checkpoint.pending");
	return WB_OK;
}

/* Flushes the sink (waiting up to flush_ms) and, if anything moved, starts
 * writing a checkpoint of what is delivered; ckpt_finish acknowledges it to
 * the source once it is durable (at once when flush_ms > 0: a stop). Events
 * still in flight at the deadline are not an error here: they are simply
 * not covered yet. */
static int checkpoint(struct pipeline *p, int flush_ms, wb_error_t *err)
{
	/* one checkpoint at a time: the one before is durable (and
	 * acknowledged) before the sink is flushed for the next; a stop
	 * (flush_ms > 0) waits for it */
	int rc = ckpt_finish(p, flush_ms > 0 ? -1 : 0, err);
	if (rc)
		return rc;
	if (p->saving)
		return WB_OK; /* still on its way to the disk: a later turn */
	rc = p->kops->flush(p->sink, flush_ms, err);
	if (rc && !err->retriable)
		return rc;
	int pending = rc;
	wb_error_t pending_err = *err;
	p->last_ckpt_ms = wb_clock_mono_ms();
	wb_position_t pos = p->delivered;
	pos_max(&pos, &p->done_pos);
	uint64_t ack = p->done_ack;
	/* an idle ack covers what the source produced, which is more than
	 * what was written once --endpos cut the stream */
	if (p->sops->idle_ack && !p->endpos_reached) {
		uint64_t idle = p->sops->idle_ack(p->src);
		if (idle > ack)
			ack = idle;
	}
	if (ack < p->ckpt_ack)
		ack = p->ckpt_ack;
	if (!p->dirty && ack == p->ckpt_ack)
		goto out;
	/* the source's state already went to a pending commit's position
	 * (before_commit): nothing below it is saved any more */
	if (p->pending && wb_position_cmp(&pos, &p->pending_pos) < 0)
		goto out;
	/* the data is durable (flush) before the states are taken; the
	 * checkpoint holding them is written by the checkpoint thread */
	json_t *state = p->kops->state ? p->kops->state(p->sink) : NULL;
	json_t *sstate = p->sops->state ? p->sops->state(p->src, &pos) : NULL;
	if (p->maps && sstate)
		json_object_set_new(sstate, "mappings", mappings_state(p));
	rc = wb_checkpoint_writer_start(p->ckw, p->sops, &pos, ack, sstate,
					state, err);
	if (rc) {
		json_decref(state);
		json_decref(sstate);
		return rc;
	}
	p->saving = true;
	p->saving_pos = pos;
	p->saving_ack = ack;
	p->saving_source = sstate;
	p->saving_sink = state;
	p->ckpt_events = p->events;
	p->dirty = false; /* set again by what is delivered meanwhile */
	if (flush_ms > 0 && (rc = ckpt_finish(p, -1, err)))
		return rc;
out:
	if (pending)
		*err = pending_err;
	return pending;
}

/* The status line: now (SIGHUP) or once a minute. */
static void status_line(struct pipeline *p, const char *why)
{
	char pos[96], ckpt[96];
	p->sops->format_position(&p->written, pos, sizeof(pos));
	p->sops->format_position(&p->ckpt_pos, ckpt, sizeof(ckpt));
	wb_metrics_log_status(why, p->wrote_any ? pos : "(nothing yet)", ckpt);
	p->last_status_ms = wb_clock_mono_ms();
}

/* Publishes what only the sink thread knows, once per turn of its loop
 * (at least every 20 ms while it is not inside a sink call). */
static void publish(struct pipeline *p)
{
	long long mono = wb_clock_mono_ms();
	wb_mset(&wb_metrics.sink_heartbeat_ms, (uint64_t)mono);
	wb_mset(&wb_metrics.queue_bytes,
		wb_queue_bytes(p->queue) + wb_queue_held(p->queue));
	int64_t oldest = wb_mdeliv_oldest_commit(&p->mdeliv);
	wb_mset(&wb_metrics.oldest_undelivered_commit_us,
		oldest > 0 ? (uint64_t)oldest : 0);
	bool behind =
		p->wrote_any && wb_position_cmp(&p->written, &p->ckpt_pos) > 0;
	wb_mset(&wb_metrics.checkpoint_behind_since_ms,
		behind ? (uint64_t)p->ckpt_real_ms : 0);
	for (int i = 0; p->maps && i < wb_mappings_count(p->maps) &&
			i < WB_METRICS_MAX_MAPPINGS;
	     i++) {
		const struct wb_mapping_info *mi = wb_mappings_info(p->maps, i);
		if (p->mslot[i] == NULL)
			continue;
		wb_mset(&p->mslot[i]->events, mi->events);
		wb_mset(&p->mslot[i]->dead_letters, mi->dead_letters);
	}
	if (wb_hup_requested) {
		wb_hup_requested = 0;
		wb_info("pipeline", "SIGHUP: status line follows (the "
				    "configuration is not reloaded; restart "
				    "waybill to apply changes)");
		status_line(p, "status");
	} else if (mono - p->last_status_ms >= p->cfg->status_log_interval_ms) {
		status_line(p, "streaming");
	}
}

static void on_hup(int sig)
{
	(void)sig;
	wb_hup_requested = 1;
}

/* What is captured, from where, into what: the first line of a run. */
static void log_start(struct pipeline *p)
{
	const struct wb_config *cfg = p->cfg;
	char tables[512] = "", excl[512] = "", text[64];
	size_t n = 0;
	for (int i = 0; i < cfg->source.ntables && n < sizeof(tables); i++)
		n += (size_t)snprintf(tables + n, sizeof(tables) - n, "%s%s",
				      i ? ", " : "", cfg->source.tables[i]);
	n = 0;
	for (int i = 0; i < cfg->source.nexclude && n < sizeof(excl); i++)
		n += (size_t)snprintf(excl + n, sizeof(excl) - n, "%s%s",
				      i ? ", " : " excluding ",
				      cfg->source.exclude[i]);
	p->sops->format_position(&p->resume, text, sizeof(text));
	/* where the events go: the directory, or the brokers */
	const char *dest =
		strcmp(cfg->sink.type, "avro-file") == 0
			? cfg->sink.dir
			: wb_config_extra(cfg->sink.extra, cfg->sink.nextra,
					  "brokers");
	wb_info("pipeline",
		"%s: capturing %s%s from %s into %s%s%s, resuming %s%s%s",
		cfg->name, tables[0] ? tables : "(no tables)", excl,
		cfg->source.type, cfg->sink.type, dest ? " " : "",
		dest ? dest : "",
		p->have_resume ? text : "without a checkpoint (first start)",
		cfg->metrics_listen ? ", metrics on http://" : "",
		cfg->metrics_listen ? cfg->metrics_listen : "");
}

static bool idle_done(struct pipeline *p, int idle_s)
{
	if (idle_s < 0)
		return false;
	long long last = atomic_load(&p->last_change_ms);
	if (wb_clock_mono_ms() - last < (long long)idle_s * 1000)
		return false;
	if (wb_queue_bytes(p->queue) != 0 || !p->sops->caught_up(p->src))
		return false;
	return !p->dirty && !p->saving && p->fifo_len == 0;
}

/* `run --endpos`: a change past endpos came (everything up to it came
 * before it, and the stop drains and checkpoints that), or the source is
 * caught up with a server whose position has reached endpos and
 * everything is checkpointed (no change at or below it can still come; as
 * pg_recvlogical, which stops on a keepalive at or past --endpos). */
static bool endpos_done(struct pipeline *p)
{
	if (!p->opt->have_endpos)
		return false;
	if (p->endpos_reached)
		return true;
	return wb_queue_bytes(p->queue) == 0 && p->fifo_len == 0 && !p->dirty &&
	       !p->saving && p->sops->idle_ack && p->sops->caught_up(p->src) &&
	       p->ckpt_ack >= p->opt->endpos.major;
}

/* systemd STATUS=: the durable position and how far behind delivery is */
static void notify_tick(struct pipeline *p)
{
	if (!wb_notify_enabled())
		return;
	char text[64];
	p->sops->format_position(&p->ckpt_pos, text, sizeof(text));
	bool behind = p->fifo_len != 0 || wb_queue_bytes(p->queue) != 0;
	struct wb_notify_status st = {
		wb_position_is_zero(&p->ckpt_pos) ? NULL : text,
		behind && p->delivered_commit_us > 0
			? (double)(wb_clock_real_ms() * 1000 -
				   p->delivered_commit_us) /
				  1e6
			: 0.0,
		p->events};
	wb_notify_tick(&st, wb_clock_mono_ms());
}

static void stop_source(struct pipeline *p)
{
	if (!p->thread_started)
		return;
	atomic_store(&p->src_stop, 1);
	pthread_join(p->thread, NULL);
	p->thread_started = false;
}

static int drain(struct pipeline *p, wb_error_t *err)
{
	struct wb_batch *b;
	while ((b = wb_queue_pop(p->queue, 0)) != NULL) {
		int rc = process_batch(p, b, err);
		batch_put(p, b);
		if (rc)
			return rc;
	}
	return WB_OK;
}

/* The mappings' fingerprints (name, version, file hash) with the events
 * and dead letters each produced, counted across runs, for the checkpoint
 * and `waybill status`. */
static json_t *mappings_state(struct pipeline *p)
{
	json_t *fp = wb_mappings_fingerprint(p->maps);
	if (fp == NULL)
		return json_null();
	for (int i = 0; i < wb_mappings_count(p->maps); i++) {
		const struct wb_mapping_info *mi = wb_mappings_info(p->maps, i);
		json_t *o = json_array_get(fp, (size_t)i);
		uint64_t ev = mi->events, dl = mi->dead_letters;
		size_t j;
		json_t *old;
		json_array_foreach(p->maps_before, j, old)
		{
			const char *n =
				json_string_value(json_object_get(old, "name"));
			if (n && strcmp(n, mi->name) == 0) {
				ev += (uint64_t)json_integer_value(
					json_object_get(old, "events"));
				dl += (uint64_t)json_integer_value(
					json_object_get(old, "dead_letters"));
			}
		}
		if (o) {
			json_object_set_new(o, "events",
					    json_integer((json_int_t)ev));
			json_object_set_new(o, "dead_letters",
					    json_integer((json_int_t)dl));
		}
	}
	return fp;
}

/* Loads and checks the mappings (a problem stops the start); logs what
 * changed since the checkpoint's mappings. */
static int open_mappings(struct pipeline *p, json_t *source_state,
			 wb_error_t *err)
{
	int ntables;
	/* the problems it prints go through the log, so that they are JSON
	 * lines with log_format: json */
	char *text = NULL;
	size_t len = 0;
	FILE *out = wb_log_is_json() ? open_memstream(&text, &len) : NULL;
	p->maps = wb_mapping_setup(p->cfg, p->src, out ? out : stderr, &ntables,
				   err);
	if (out) {
		fclose(out);
		char *save = NULL;
		for (char *line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			wb_warn("mappings", "%s", line);
		free(text);
	}
	if (p->maps == NULL)
		return err->code;
	json_t *old =
		source_state ? json_object_get(source_state, "mappings") : NULL;
	p->maps_before = json_is_array(old) ? json_incref(old) : json_array();
	char diff[2048];
	int nd = wb_mappings_fingerprint_diff(p->maps, old, diff, sizeof(diff));
	if (old && nd > 0)
		wb_warn("pipeline", "mappings changed since the checkpoint: %s",
			diff);
	wb_info("pipeline", "%d mapping(s) over %d table(s)%s",
		wb_mappings_count(p->maps), ntables,
		p->cfg->emit_raw ? ", raw events too" : ", mapped events only");
	return WB_OK;
}

static int open_all(struct pipeline *p, wb_error_t *err)
{
	const struct wb_config *cfg = p->cfg;
	struct wb_checkpoint cp;
	int rc;

	p->sops = wb_source_lookup(cfg->source.type);
	p->kops = wb_sink_lookup(cfg->sink.type);
	if (p->sops == NULL)
		return wb_error_set(err, WB_ERR_CONFIG,
				    "%s: source.type %s is not supported by "
				    "this build",
				    cfg->path, cfg->source.type);
	if (p->kops == NULL)
		return wb_error_set(err, WB_ERR_CONFIG,
				    "%s: sink.type %s is not supported by this "
				    "build",
				    cfg->path, cfg->sink.type);
	p->lock_fd = wb_checkpoint_lock(cfg->checkpoint_dir, cfg->name, err);
	if (p->lock_fd < 0)
		return err->code;
	p->ckw = wb_checkpoint_writer_new(cfg->checkpoint_dir, cfg->name, err);
	if (p->ckw == NULL)
		return err->code;
	rc = wb_checkpoint_load(cfg->checkpoint_dir, cfg->name, p->sops, &cp,
				err);
	if (rc)
		return rc;
	p->src = p->sops->create(cfg, err);
	p->sink = p->src ? p->kops->create(cfg, err) : NULL;
	if (p->src == NULL || p->sink == NULL) {
		wb_checkpoint_clear(&cp);
		return err->code ? err->code : WB_ERR_RUNTIME;
	}
	p->sink->delivered = on_delivered;
	p->sink->delivered_opaque = p;
	p->sink->stop = p->stop;
	if (p->kops->resolve)
		p->sink->before_commit = on_before_commit;

	/* A commit that may have happened after the last checkpoint: the
	 * sink, open (which fences an older producer and lets its last
	 * commit finish), tells whether it did, and the source then resumes
	 * from the state that holds. */
	bool sink_open = false;
	if (cp.have_pending) {
		char text[64];
		bool committed = false;
		p->sops->format_position(&cp.pending_pos, text, sizeof(text));
		rc = p->kops->resolve == NULL
			     ? wb_error_set(err, WB_ERR_RUNTIME,
					    "%s: the checkpoint has a pending "
					    "commit at %s that sink type %s "
					    "cannot resolve; restore the "
					    "checkpoint of this sink",
					    cfg->path, text, cfg->sink.type)
			     : p->kops->open(p->sink, cp.sink, err);
		sink_open = true;
		if (rc == 0)
			rc = p->kops->resolve(p->sink, cp.pending_where,
					      &committed, err);
		if (rc) {
			wb_checkpoint_clear(&cp);
			return rc;
		}
		wb_info("pipeline",
			"the commit up to %s before the last stop %s: "
			"continuing from %s",
			text, committed ? "happened" : "did not happen",
			committed ? "it" : "the checkpoint before it");
		if (committed) {
			cp.pos = cp.pending_pos;
			json_decref(cp.source);
			json_decref(cp.sink);
			cp.source = cp.pending_source;
			cp.sink = cp.pending_sink;
			cp.pending_source = cp.pending_sink = NULL;
		}
	}
	p->have_resume = cp.have;
	p->resume = cp.pos;
	p->ckpt_pos = cp.pos;
	p->ckpt_ack = cp.ack;
	p->done_pos = cp.pos;
	p->done_ack = cp.ack;
	p->delivered = cp.pos;
	p->written = cp.pos;
	p->ckpt_source = cp.source ? json_incref(cp.source) : NULL;
	p->ckpt_sink = cp.sink ? json_incref(cp.sink) : NULL;
	/* a resolved pending state is written as the checkpoint by the
	 * first checkpoint() */
	p->dirty = cp.have_pending;

	struct wb_source_resume resume = {cp.have, cp.pos, cp.ack, cp.source,
					  p->opt->resnapshot};
	rc = p->sops->open(p->src, &resume, err);
	if (rc == 0 && !sink_open)
		rc = p->kops->open(p->sink, cp.sink, err);
	if (rc == 0 && cfg->emit_mapped)
		rc = open_mappings(p, cp.source, err);
	wb_checkpoint_clear(&cp);
	if (rc)
		return rc;

	struct wb_encoder_config ec = {cfg->name, cfg->topic_prefix,
				       p->sops->name, p->sops->format_position};
	p->enc = wb_encoder_new(&ec, err);
	if (p->enc == NULL)
		return err->code ? err->code : WB_ERR_NOMEM;
	p->queue = wb_queue_new((size_t)cfg->queue_bytes);
	if (p->queue == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	p->src->room = source_room;
	p->src->room_opaque = p;
	return WB_OK;
}

static void close_all(struct pipeline *p)
{
	stop_source(p);
	if (p->src) {
		p->sops->close(p->src);
		p->sops->destroy(p->src);
	}
	if (p->sink)
		p->kops->destroy(p->sink);
	wb_encoder_free(p->enc);
	wb_mappings_free(p->maps);
	json_decref(p->maps_before);
	wb_queue_free(p->queue);
	/* a save still in progress (a failure stopped the run) ends first:
	 * the lock is held until the checkpoint file is no longer written */
	wb_checkpoint_writer_free(p->ckw);
	json_decref(p->saving_source);
	json_decref(p->saving_sink);
	wb_checkpoint_unlock(p->lock_fd);
	json_decref(p->ckpt_source);
	json_decref(p->ckpt_sink);
	atomic_store(&wb_metrics.running, false);
	wb_metrics_http_stop(p->http);
	wb_mdeliv_free(&p->mdeliv);
	free(p->fifo);
	for (int i = 0; i < p->npool; i++)
		wb_batch_free(p->pool[i]);
	pthread_mutex_destroy(&p->pool_mu);
}

int wb_pipeline_run(const struct wb_config *cfg,
		    const struct wb_run_options *opt,
		    volatile sig_atomic_t *stop, wb_error_t *err)
{
	struct pipeline p;
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.opt = opt;
	p.stop = stop;
	p.lock_fd = -1;
	pthread_mutex_init(&p.pool_mu, NULL);
	wb_mdeliv_init(&p.mdeliv, DELIVERY_RUNS_MAX);
	wb_metrics_init(cfg->name, cfg->source.type, cfg->sink.type);
	wb_metrics_log_reset();
	p.ckpt_real_ms = wb_clock_real_ms();
	p.last_status_ms = wb_clock_mono_ms();
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	int rc = 0;
	if (cfg->metrics_listen &&
	    (p.http = wb_metrics_http_start(cfg->metrics_listen,
					    (double)cfg->metrics_ready_age_s,
					    err)) == NULL) {
		rc = err->code;
		goto out;
	}
	wb_priority_init(); /* before the sink starts threads (priority.h) */
	rc = open_all(&p, err);
	if (rc)
		goto out;
	wb_metrics_source_up();
	wb_mset(&wb_metrics.queue_max_bytes, wb_queue_max_bytes(p.queue));
	for (int i = 0; p.maps && i < wb_mappings_count(p.maps) &&
			i < WB_METRICS_MAX_MAPPINGS;
	     i++)
		p.mslot[i] =
			wb_metrics_mapping(wb_mappings_info(p.maps, i)->name);

	char text[64], status[128];
	log_start(&p);
	p.sops->format_position(&p.resume, text, sizeof(text));

	atomic_store(&p.last_change_ms, wb_clock_mono_ms());
	if (pthread_create(&p.thread, NULL, source_thread, &p) != 0) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "cannot start source thread");
		goto out;
	}
	p.thread_started = true;
	p.last_ckpt_ms = wb_clock_mono_ms();
	wb_notify_init();
	snprintf(status, sizeof(status), "streaming from %s",
		 p.have_resume ? text : "the start (no checkpoint yet)");
	wb_notify_ready(status);
	atomic_store(&wb_metrics.running, true);

	for (;;) {
		if (*stop) {
			wb_info("pipeline",
				"stopping: draining and checkpointing");
			wb_notify_stopping("draining and checkpointing");
			break;
		}
		notify_tick(&p);
		/* while something written is not delivered yet the sink is
		 * served every 5 ms, not 20: its acknowledgements (a Kafka
		 * delivery report, the avro-file flush_interval) are not left
		 * waiting for the next change */
		bool undelivered =
			p.wrote_any &&
			wb_position_cmp(&p.written, &p.delivered) > 0;
		struct wb_batch *b =
			wb_queue_pop(p.queue, undelivered ? 5 : 20);
		if (b) {
			rc = process_batch(&p, b, err);
			batch_put(&p, b);
			if (rc)
				goto out; /* nothing after a failed write is
					     checkpointed */
		}
		p.sink->idle = wb_queue_bytes(p.queue) == 0;
		if (p.kops->poll && (rc = p.kops->poll(p.sink, 0, err)))
			goto out;
		publish(&p);
		/* a checkpoint the checkpoint thread has made durable is
		 * acknowledged at once, not at the next checkpoint */
		if (p.saving && (rc = ckpt_finish(&p, 0, err))) {
			if (!err->retriable)
				goto out;
			rc = 0;
		}
		if (atomic_load(&p.src_done) && wb_queue_bytes(p.queue) == 0) {
			if (p.src_rc == 0)
				wb_info("pipeline",
					"source finished: stopping");
			break;
		}
		/* A drained queue after a burst checkpoints at once, so the
		 * end of a burst is durable without delay; a trickle at most
		 * every 200 ms (each checkpoint fsyncs and ends an Avro
		 * block). A new idle ack (PG: an idle slot's WAL end) too. */
		long long since = wb_clock_mono_ms() - p.last_ckpt_ms;
		long long idle_gap = p.events - p.ckpt_events >= 1000 ? 0 : 200;
		bool idle_ack = b == NULL && p.sops->idle_ack &&
				p.sops->idle_ack(p.src) > p.ckpt_ack;
		/* a sink that delivers only at a checkpoint (a transaction's
		 * commit) gets one every commit_every_ms while it holds
		 * something undelivered, busy queue or not */
		bool commit_due =
			p.sink->commit_every_ms > 0 && p.wrote_any &&
			wb_position_cmp(&p.written, &p.delivered) > 0 &&
			since >= p.sink->commit_every_ms;
		if (since >= cfg->checkpoint_interval_ms || commit_due ||
		    (b == NULL && (p.dirty || idle_ack) && since >= idle_gap)) {
			rc = checkpoint(&p, 0, err);
			if (rc && !err->retriable)
				goto out;
			rc = 0;
		}
		if (idle_done(&p, opt->stop_when_idle_s)) {
			wb_info("pipeline",
				"idle for %d s and caught up: stopping",
				opt->stop_when_idle_s);
			wb_notify_stopping("idle and caught up");
			break;
		}
		if (endpos_done(&p)) {
			p.sops->format_position(&opt->endpos, text,
						sizeof(text));
			wb_info("pipeline",
				"everything up to --endpos %s is "
				"checkpointed: stopping",
				text);
			wb_notify_stopping("reached --endpos");
			break;
		}
	}

	stop_source(&p);
	if ((rc = drain(&p, err)))
		goto out;
	if ((rc = checkpoint(&p, 30000, err)))
		goto out; /* what was delivered is checkpointed; the rest
			     replays */
	if (p.kops->close && (rc = p.kops->close(p.sink, err)))
		goto out;
	p.dirty = true; /* the sink state changed: files completed */
	if ((rc = checkpoint(&p, 30000, err)))
		goto out;
	p.sops->format_position(&p.ckpt_pos, text, sizeof(text));
	wb_info("pipeline",
		"stopped at %s: %llu events written, %llu replayed "
		"events skipped",
		text, (unsigned long long)p.events,
		(unsigned long long)p.skipped);
	if (p.maps)
		wb_info("pipeline",
			"mappings: %llu canonical events, %llu dead letters",
			(unsigned long long)p.mapped,
			(unsigned long long)p.dead_letters);
	if (p.src_rc) {
		*err = p.src_err;
		rc = p.src_rc;
	}
out:
	if (rc)
		wb_mset(&wb_metrics.failed, 1);
	close_all(&p);
	return rc;
}
