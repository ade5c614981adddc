/* odbc_keyset.c — `deletes: {detect: keyset}` wired into the ODBC source:
 * the emitted-key store (odbc_keys.h) kept in step with what is emitted,
 * committed with the checkpoint, and delete passes (odbc_deletes.h) run
 * between polls.
 *
 * Threads. Puts and passes happen on the source thread; the store is
 * committed from state() on the sink thread, just before the checkpoint
 * file is written. One mutex (ks->mu) serialises every use of the store.
 *
 * Order of writes, and what a crash leaves:
 *  - put (key, after image) for every emitted c/u/r goes into the store's
 *    open transaction at once: committed keys may be ahead of the
 *    checkpoint, which is harmless (the replay from the checkpoint puts
 *    them again: an upsert);
 *  - remove for an emitted d (soft or detected) waits in memory until
 *    state() is told the d is delivered (its position <= durable). It is
 *    then applied in the transaction committed before the checkpoint
 *    naming that position, and the key with its image is also kept under
 *    the table's stash label ("\x01removed " + table) until ack() reports
 *    that checkpoint written. A crash between the store's commit and the
 *    checkpoint (crash point odbc_keys.committed) leaves the store's
 *    position ahead of the checkpoint: open() then puts the stash back,
 *    since the sink drops what followed the checkpoint and the d events
 *    must be found again (the next pass reports them once more, once).
 *    With the store at the checkpoint's position the stash is dropped.
 *  - a put for a key with a remove still waiting cancels the remove (the
 *    row came back). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "odbc_deletes.h"
#include "odbc_image.h"
#include "odbc_int.h"
#include "odbc_keys.h"
#include "odbc_keyset.h"
#include "valconv.h"

struct pending {
	int ti;
	wb_position_t pos;
	uint8_t *key;
	size_t key_len;
	uint8_t *image;
	size_t image_len;
};

struct wb_odbc_keyset {
	pthread_mutex_t mu;
	struct wb_odbc_keys *store;
	struct pending *pend;
	size_t npend, cappend;
	bool stash_live;	 /* the stash holds removes not yet acked */
	wb_position_t committed; /* the store's last commit */
	bool have_committed;
	wb_position_t acked;
	int failed; /* a commit failed in state(): the next poll stops */
	wb_error_t fail_err;
	long long next_pass_ms;
	bool first_pass;
	struct wb_buf key, image;
	/* the pass in progress (callback state) */
	struct wb_odbc_source *s;
	int ti;
	struct wb_batch *b;
};

static char *stash_label(const char *table)
{
	size_t n = strlen(table) + 10;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "\x01removed %s", table);
	return p;
}

static void pend_free(struct pending *p)
{
	free(p->key);
	free(p->image);
}

static void fmt_pos(const wb_position_t *p, char *buf, size_t n)
{
	wb_odbc_source_ops.format_position(p, buf, n);
}

/* Puts every stashed key of every table back (restore) or drops them. */
static int stash_settle(struct wb_odbc_source *s, bool restore, wb_error_t *err)
{
	struct wb_odbc_keyset *ks = s->keyset;
	int rc = WB_OK;
	for (int i = 0; i < s->ntabs && rc == 0; i++) {
		const char *name = s->tabs[i].cfg->name;
		char *st = stash_label(name);
		if (st == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		uint64_t n = 0;
		if (restore) {
			struct wb_odbc_keys_iter *it = wb_odbc_keys_iter_open(
				ks->store, st, NULL, 0, NULL, 0, err);
			if (it == NULL)
				rc = err->code;
			for (bool has = true; rc == 0;) {
				const uint8_t *k, *im;
				size_t kl, il;
				rc = wb_odbc_keys_iter_next(it, &k, &kl, &im,
							    &il, &has, err);
				if (rc || !has)
					break;
				rc = wb_odbc_keys_put(ks->store, name, k, kl,
						      im, il, err);
				n++;
			}
			wb_odbc_keys_iter_close(it);
			if (n > 0 && rc == 0)
				wb_info("odbc",
					"%s: %" PRIu64 " detected delete(s) "
					"were not checkpointed: reported "
					"again by the next pass",
					name, n);
		}
		if (rc == 0)
			rc = wb_odbc_keys_forget(ks->store, st, err);
		free(st);
	}
	return rc;
}

int wb_odbc_keyset_open(struct wb_odbc_source *s,
			const struct wb_source_resume *resume, wb_error_t *err)
{
	const struct wb_config *cfg = s->base.cfg;
	if (s->oc->detect != WB_ODBC_DETECT_KEYSET)
		return WB_OK;
	struct wb_odbc_keyset *ks = calloc(1, sizeof(*ks));
	if (ks == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&ks->mu, NULL);
	wb_buf_init(&ks->key);
	wb_buf_init(&ks->image);
	s->keyset = ks;
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.keys.sqlite", cfg->checkpoint_dir,
		 cfg->name);
	ks->store = wb_odbc_keys_open(path, err);
	if (ks->store == NULL)
		return err->code;
	int rc = WB_OK;
	wb_error_t perr = {0};
	char *text = wb_odbc_keys_position(ks->store, &perr);
	if (text == NULL && perr.code) {
		*err = perr;
		return perr.code;
	}
	wb_position_t sp = {0, 0};
	bool have_sp =
		text && wb_odbc_source_ops.parse_position(text, &sp) == 0;
	free(text);
	if (!resume->have) {
		/* a first start (or the checkpoint is gone): everything is
		 * emitted again, the keys of earlier runs mean nothing */
		for (int i = 0; i < s->ntabs && rc == 0; i++)
			rc = wb_odbc_keys_forget(ks->store,
						 s->tabs[i].cfg->name, err);
		if (rc == 0)
			rc = stash_settle(s, false, err);
	} else {
		int cmp = have_sp ? wb_position_cmp(&sp, &resume->pos) : -1;
		if (have_sp && cmp < 0)
			wb_warn("odbc",
				"the key store is behind the checkpoint (it "
				"was "
				"restored or replaced): deletes of rows "
				"emitted "
				"since are not detected until those rows are "
				"emitted again");
		rc = stash_settle(s, cmp > 0, err);
	}
	if (rc == 0)
		rc = wb_odbc_keys_commit(ks->store, NULL, err);
	if (rc)
		return rc;
	ks->acked = resume->have ? resume->pos : (wb_position_t){0, 0};
	ks->committed = ks->acked;
	ks->first_pass = true;
	ks->next_pass_ms = 0;
	return WB_OK;
}

void wb_odbc_keyset_close(struct wb_odbc_source *s)
{
	struct wb_odbc_keyset *ks = s->keyset;
	if (ks == NULL)
		return;
	wb_odbc_keys_close(ks->store);
	for (size_t i = 0; i < ks->npend; i++)
		pend_free(&ks->pend[i]);
	free(ks->pend);
	wb_buf_free(&ks->key);
	wb_buf_free(&ks->image);
	pthread_mutex_destroy(&ks->mu);
	free(ks);
	s->keyset = NULL;
}

/* The key of row v of t, encoded into out; *ok false when a key column is
 * NULL or the table has no key. */
static int row_key(struct wb_odbc_tab *t, const struct wb_value *v,
		   struct wb_buf *out, bool *ok, wb_error_t *err)
{
	struct wb_odbc_key_val kv[WB_ODBC_KEY_MAX_COLS];
	struct wb_buf dec[WB_ODBC_KEY_MAX_COLS];
	int nd = 0, rc = WB_OK;
	*ok = false;
	out->len = 0;
	if (t->nkeys == 0 || t->nkeys > WB_ODBC_KEY_MAX_COLS)
		return WB_OK;
	for (int k = 0; k < t->nkeys; k++) {
		int ci = t->keycols[k];
		const struct wb_value *x = &v[ci];
		const struct wb_type *ty = &t->table->cols[ci].type;
		if (x->state != WB_VAL_PRESENT)
			goto out;
		memset(&kv[k], 0, sizeof(kv[k]));
		if (ty->s.logical == WB_L_DECIMAL) {
			wb_buf_init(&dec[nd]);
			if (wb_decimal_to_text(x->u.b.p, x->u.b.n, ty->s.scale,
					       &dec[nd]) != 0 ||
			    dec[nd].failed) {
				nd++;
				rc = wb_error_set(err, WB_ERR_NOMEM,
						  "out of memory");
				goto out;
			}
			kv[k].type = WB_ODBC_KEY_DECIMAL;
			kv[k].s = (const char *)dec[nd].data;
			kv[k].len = dec[nd].len;
			nd++;
		} else if (ty->s.kind == WB_T_STRING ||
			   ty->s.kind == WB_T_BYTES) {
			kv[k].type = t->cols[ci].fetch == WB_ODBC_F_DEC
					     ? WB_ODBC_KEY_DECIMAL
					     : WB_ODBC_KEY_TEXT;
			kv[k].s = (const char *)x->u.b.p;
			kv[k].len = x->u.b.n;
		} else if (ty->s.kind == WB_T_INT || ty->s.kind == WB_T_LONG) {
			kv[k].type = WB_ODBC_KEY_INT;
			kv[k].i = x->u.i;
		} else {
			goto out;
		}
	}
	rc = wb_odbc_key_encode(kv, (size_t)t->nkeys, out, err);
	*ok = rc == 0;
out:
	for (int i = 0; i < nd; i++)
		wb_buf_free(&dec[i]);
	return rc;
}

static int pend_add(struct wb_odbc_keyset *ks, int ti, const wb_position_t *pos,
		    const struct wb_buf *key, const struct wb_buf *image,
		    wb_error_t *err)
{
	if (ks->npend == ks->cappend) {
		size_t cap = ks->cappend ? ks->cappend * 2 : 64;
		struct pending *p = realloc(ks->pend, cap * sizeof(*p));
		if (p == NULL)
			return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		ks->pend = p;
		ks->cappend = cap;
	}
	struct pending *p = &ks->pend[ks->npend];
	p->ti = ti;
	p->pos = *pos;
	p->key = malloc(key->len ? key->len : 1);
	p->image = malloc(image->len ? image->len : 1);
	if (p->key == NULL || p->image == NULL) {
		pend_free(p);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	memcpy(p->key, key->data, key->len);
	p->key_len = key->len;
	if (image->len)
		memcpy(p->image, image->data, image->len);
	p->image_len = image->len;
	ks->npend++;
	return WB_OK;
}

int wb_odbc_keyset_emitted(struct wb_odbc_source *s, struct wb_odbc_tab *t,
			   const struct wb_change *c, wb_error_t *err)
{
	struct wb_odbc_keyset *ks = s->keyset;
	if (ks == NULL)
		return WB_OK;
	const struct wb_value *v = c->op == WB_OP_DELETE ? c->before : c->after;
	if (v == NULL)
		return WB_OK;
	bool ok;
	int rc = row_key(t, v, &ks->key, &ok, err);
	if (rc || !ok)
		return rc;
	int ti = (int)(t - s->tabs);
	pthread_mutex_lock(&ks->mu);
	if (c->op == WB_OP_DELETE) {
		ks->image.len = 0;
		rc = pend_add(ks, ti, &c->pos, &ks->key, &ks->image, err);
	} else {
		for (size_t i = 0; i < ks->npend; i++) {
			struct pending *p = &ks->pend[i];
			if (p->ti == ti && p->key_len == ks->key.len &&
			    memcmp(p->key, ks->key.data, p->key_len) == 0) {
				pend_free(p);
				ks->pend[i--] = ks->pend[--ks->npend];
			}
		}
		ks->image.len = 0;
		rc = wb_odbc_image_encode(t->table, v, &ks->image, err);
		if (rc == 0)
			rc = wb_odbc_keys_put(ks->store, t->cfg->name,
					      ks->key.data, ks->key.len,
					      ks->image.data, ks->image.len,
					      err);
	}
	pthread_mutex_unlock(&ks->mu);
	return rc;
}

void wb_odbc_keyset_round_aborted(struct wb_odbc_source *s, uint64_t round)
{
	struct wb_odbc_keyset *ks = s->keyset;
	if (ks == NULL)
		return;
	pthread_mutex_lock(&ks->mu);
	for (size_t i = 0; i < ks->npend; i++)
		if (ks->pend[i].pos.major == round) {
			pend_free(&ks->pend[i]);
			ks->pend[i--] = ks->pend[--ks->npend];
		}
	pthread_mutex_unlock(&ks->mu);
}

void wb_odbc_keyset_durable(struct wb_odbc_source *s,
			    const wb_position_t *durable)
{
	struct wb_odbc_keyset *ks = s->keyset;
	if (ks == NULL)
		return;
	wb_error_t err = {0};
	int rc = WB_OK;
	pthread_mutex_lock(&ks->mu);
	if (ks->failed)
		goto out;
	/* the checkpoint of the last commit is written: its stash is no
	 * longer needed */
	if (ks->stash_live &&
	    wb_position_cmp(&ks->acked, &ks->committed) >= 0) {
		if ((rc = stash_settle(s, false, &err)))
			goto out;
		ks->stash_live = false;
	}
	for (size_t i = 0; i < ks->npend; i++) {
		struct pending *p = &ks->pend[i];
		if (wb_position_cmp(&p->pos, durable) > 0)
			continue;
		const char *name = s->tabs[p->ti].cfg->name;
		struct wb_buf img;
		wb_buf_init(&img);
		bool found = false;
		rc = wb_odbc_keys_get(ks->store, name, p->key, p->key_len, &img,
				      &found, &err);
		char *st = found ? stash_label(name) : NULL;
		if (rc == 0 && found && st == NULL)
			rc = wb_error_set(&err, WB_ERR_NOMEM, "out of memory");
		if (rc == 0 && found)
			rc = wb_odbc_keys_put(ks->store, st, p->key, p->key_len,
					      img.data, img.len, &err);
		free(st);
		wb_buf_free(&img);
		if (rc == 0)
			rc = wb_odbc_keys_remove(ks->store, name, p->key,
						 p->key_len, &err);
		if (rc)
			goto out;
		ks->stash_live |= found;
		pend_free(p);
		ks->pend[i--] = ks->pend[--ks->npend];
	}
	char text[64];
	fmt_pos(durable, text, sizeof(text));
	if ((rc = wb_odbc_keys_commit(ks->store, text, &err)))
		goto out;
	ks->committed = *durable;
out:
	if (rc) {
		wb_odbc_keys_rollback(ks->store);
		ks->failed = rc;
		ks->fail_err = err;
		wb_err("odbc", "the key store: %s", err.message);
	}
	pthread_mutex_unlock(&ks->mu);
}

void wb_odbc_keyset_acked(struct wb_odbc_source *s, const wb_position_t *pos)
{
	struct wb_odbc_keyset *ks = s->keyset;
	if (ks == NULL)
		return;
	pthread_mutex_lock(&ks->mu);
	if (wb_position_cmp(&ks->acked, pos) < 0)
		ks->acked = *pos;
	pthread_mutex_unlock(&ks->mu);
}

/* A key the table no longer has: op d with its last image. */
static int on_deleted(void *arg, const char *table, const uint8_t *key,
		      size_t key_len, const uint8_t *image, size_t image_len,
		      wb_error_t *err)
{
	struct wb_odbc_keyset *ks = arg;
	struct wb_odbc_source *s = ks->s;
	struct wb_odbc_tab *t = &s->tabs[ks->ti];
	(void)table;
	struct wb_value *before;
	int rc = wb_odbc_image_decode(image, image_len, t->table->ncols,
				      &ks->b->arena, &before, err);
	if (rc == WB_ERR_DECODE) {
		char k[256];
		wb_odbc_key_format(key, key_len, k, sizeof(k));
		wb_warn("odbc",
			"%s: key %s was deleted but its stored image does not "
			"fit the table's columns any more: no event",
			t->cfg->name, k);
		return wb_odbc_keys_remove(ks->store, t->cfg->name, key,
					   key_len, err);
	}
	if (rc)
		return rc;
	if ((rc = wb_odbc_emit_delete(s, t, ks->b, before, err)))
		return rc;
	struct wb_change *c = &ks->b->changes[ks->b->n - 1];
	c->detected_delete = true;
	struct wb_buf kb = {.data = (uint8_t *)key, .len = key_len};
	struct wb_buf ib = {.data = NULL, .len = 0};
	return pend_add(ks, ks->ti, &c->pos, &kb, &ib, err);
}

static int key_cols(struct wb_odbc_tab *t, struct wb_odbc_key_col *kc,
		    wb_error_t *err)
{
	for (int k = 0; k < t->nkeys; k++) {
		int ci = t->keycols[k];
		const struct wb_type *ty = &t->table->cols[ci].type;
		kc[k].name = t->cols[ci].name;
		if (ty->s.logical == WB_L_DECIMAL ||
		    t->cols[ci].fetch == WB_ODBC_F_DEC)
			kc[k].type = WB_ODBC_KEY_DECIMAL;
		else if (ty->s.kind == WB_T_STRING)
			kc[k].type = WB_ODBC_KEY_TEXT;
		else if (ty->s.kind == WB_T_INT || ty->s.kind == WB_T_LONG)
			kc[k].type = WB_ODBC_KEY_INT;
		else
			return wb_error_set(
				err, WB_ERR_CONFIG,
				"%s: key column %s: deletes.detect keyset "
				"compares integer, text and decimal keys only",
				t->cfg->name, t->cols[ci].name);
	}
	return WB_OK;
}

int wb_odbc_keyset_poll(struct wb_odbc_source *s, struct wb_batch *b, bool *ran,
			wb_error_t *err)
{
	struct wb_odbc_keyset *ks = s->keyset;
	*ran = false;
	if (ks == NULL)
		return WB_OK;
	if (ks->failed) {
		*err = ks->fail_err;
		err->retriable = false;
		return ks->failed;
	}
	long long now = wb_clock_mono_ms();
	if (now < ks->next_pass_ms)
		return WB_OK;
	for (int i = 0; i < s->ntabs; i++)
		if (s->tabs[i].active || s->tabs[i].last_poll_ms == 0)
			return WB_OK; /* between polls only, after the first */
	int rc = WB_OK;
	for (int i = 0; i < s->ntabs && rc == 0; i++) {
		struct wb_odbc_tab *t = &s->tabs[i];
		if (t->nkeys == 0 || t->nkeys > WB_ODBC_KEY_MAX_COLS)
			continue;
		struct wb_odbc_key_col kc[WB_ODBC_KEY_MAX_COLS];
		if ((rc = key_cols(t, kc, err)))
			break;
		pthread_mutex_lock(&ks->mu);
		if (ks->first_pass) {
			/* at start, only a table the store has keys of */
			struct wb_buf first;
			wb_buf_init(&first);
			bool found = false;
			rc = wb_odbc_keys_nth(ks->store, t->cfg->name, NULL, 0,
					      0, &first, &found, err);
			wb_buf_free(&first);
			if (rc || !found) {
				pthread_mutex_unlock(&ks->mu);
				continue;
			}
		}
		struct wb_odbc_deletes_cfg dc = {
			.dbc = s->conn.dbc,
			.quote = s->conn.quote,
			.dbms = s->conn.dbms,
			.schema = t->schema,
			.name = t->name,
			.label = t->cfg->name,
			.keys = kc,
			.nkeys = (size_t)t->nkeys,
			.store = ks->store,
			.chunk = (uint64_t)s->oc->deletes_chunk_rows,
			.query_timeout =
				(unsigned)((s->conn.query_timeout_ms + 999) /
					   1000),
			.on_deleted = on_deleted,
			.arg = ks,
		};
		ks->s = s;
		ks->ti = i;
		ks->b = b;
		uint32_t start_n = b->n;
		struct wb_odbc_deletes_stats st = {0};
		long long t0 = wb_clock_mono_ms();
		rc = wb_odbc_deletes_run(&dc, &st, err);
		pthread_mutex_unlock(&ks->mu);
		wb_info("odbc",
			"%s: delete pass: %" PRIu64 " chunk(s), %" PRIu64
			" differing, %" PRIu64 " key row(s) read in %" PRIu64
			" page(s), %" PRIu64 " delete(s) in %lld ms%s",
			t->cfg->name, st.chunks, st.chunks_differing,
			st.rows_read, st.pages, st.deleted,
			wb_clock_mono_ms() - t0,
			st.complete ? "" : " (stopped)");
		if (rc) {
			/* nothing of the pass is delivered */
			if (s->in_round) {
				uint64_t round = s->round;
				b->n = start_n;
				s->in_round = false;
				wb_odbc_keyset_round_aborted(s, round);
			}
			break;
		}
		if (s->in_round)
			rc = wb_odbc_round_end(s, b, i, err);
		*ran = true;
	}
	if (rc == 0) {
		ks->first_pass = false;
		ks->next_pass_ms = now + s->oc->deletes_interval_ms;
	}
	return rc;
}
