/* odbc_seen.c — the look-back set of the ODBC poller (see odbc_seen.h). */
#include "odbc_seen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* w64: a word costs a multiply and two shifts of its own (independent
 * of h, so words overlap in the pipeline) and a multiply and a rotation
 * in the chain. Every step is a bijection of the word for a given h and
 * of h for a given word, so two inputs of one length that differ in one
 * word never collide; the rotation brings the product's well-mixed high
 * bits down, so that a difference in a high bit reaches the next
 * multiply. */
static inline uint64_t w64_word(uint64_t h, uint64_t w)
{
	w *= UINT64_C(0x9e3779b97f4a7c15);
	w ^= w >> 29;
	w *= UINT64_C(0xbf58476d1ce4e5b9);
	h = (h ^ w) * UINT64_C(0x94d049bb133111eb);
	return h << 27 | h >> 37;
}

uint64_t wb_odbc_hash(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (; n >= 8; b += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = w64_word(h, w);
	}
	if (n > 0) {
		uint64_t w = 0;
		memcpy(&w, b, n);
		h = w64_word(h, w ^ (uint64_t)n << 56);
	}
	return h;
}

uint64_t wb_odbc_hash_fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

uint64_t wb_odbc_hash_cell(enum wb_odbc_hash_alg alg, uint64_t h, const void *p,
			   int64_t len)
{
	if (alg == WB_ODBC_HASH_FNV1A) {
		h = wb_odbc_hash_fnv1a(h, &len, sizeof(len));
		return len > 0 ? wb_odbc_hash_fnv1a(h, p, (size_t)len) : h;
	}
	/* the length as one word of its own */
	h = w64_word(h, (uint64_t)len);
	return len > 0 ? wb_odbc_hash(h, p, (size_t)len) : h;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return x;
}

void wb_odbc_seen_init(struct wb_odbc_seen *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max ? max : 1;
}

void wb_odbc_seen_free(struct wb_odbc_seen *s)
{
	free(s->e);
	free(s->pair_ix);
	free(s->key_ix);
	memset(s, 0, sizeof(*s));
}

/* An index slot: the entry's index + 1 in the low 32 bits (0: empty),
 * the high 32 bits of its slot hash above them, so that a probe passing
 * other entries' slots reads the entries only when the tag matches (a
 * lookup of a new row, the common case, then touches one cache line). */
#define SLOT(tag, ix) ((uint64_t)(tag) << 32 | (uint64_t)(ix))
#define SLOT_IX(v) ((uint32_t)(v))
#define SLOT_TAG(v) ((uint32_t)((v) >> 32))

static size_t slot_pair(const struct wb_odbc_seen *s, uint64_t key,
			uint64_t row, bool *found)
{
	size_t mask = s->ixcap - 1;
	uint64_t h = mix(key ^ mix(row));
	uint32_t tag = (uint32_t)(h >> 32);
	size_t i = (size_t)h & mask;
	for (;; i = (i + 1) & mask) {
		uint64_t v = s->pair_ix[i];
		if (v == 0) {
			*found = false;
			return i;
		}
		if (SLOT_TAG(v) != tag)
			continue;
		const struct wb_odbc_seen_entry *e = &s->e[SLOT_IX(v) - 1];
		if (e->key == key && e->row == row) {
			*found = true;
			return i;
		}
	}
}

static size_t slot_key(const struct wb_odbc_seen *s, uint64_t key, bool *found)
{
	size_t mask = s->ixcap - 1;
	uint64_t h = mix(key);
	uint32_t tag = (uint32_t)(h >> 32);
	size_t i = (size_t)h & mask;
	for (;; i = (i + 1) & mask) {
		uint64_t v = s->key_ix[i];
		if (v == 0) {
			*found = false;
			return i;
		}
		if (SLOT_TAG(v) == tag && s->e[SLOT_IX(v) - 1].key == key) {
			*found = true;
			return i;
		}
	}
}

static uint64_t pair_slot_value(const struct wb_odbc_seen *s, size_t n)
{
	const struct wb_odbc_seen_entry *e = &s->e[n];
	uint64_t h = mix(e->key ^ mix(e->row));
	return SLOT((uint32_t)(h >> 32), n + 1);
}

static uint64_t key_slot_value(const struct wb_odbc_seen *s, size_t n)
{
	return SLOT((uint32_t)(mix(s->e[n].key) >> 32), n + 1);
}

/* Rebuilds both indexes for the entries (after a removal or a growth);
 * tables of the same size are cleared and reused, not allocated again
 * (the poller evicts after every chunk). */
static int reindex(struct wb_odbc_seen *s, size_t ixcap)
{
	if (ixcap == s->ixcap && s->pair_ix != NULL) {
		memset(s->pair_ix, 0, ixcap * sizeof(*s->pair_ix));
		memset(s->key_ix, 0, ixcap * sizeof(*s->key_ix));
	} else {
		uint64_t *p = calloc(ixcap, sizeof(*p));
		uint64_t *k = calloc(ixcap, sizeof(*k));
		if (p == NULL || k == NULL) {
			free(p);
			free(k);
			return -1;
		}
		free(s->pair_ix);
		free(s->key_ix);
		s->pair_ix = p;
		s->key_ix = k;
		s->ixcap = ixcap;
	}
	for (size_t i = 0; i < s->n; i++) {
		bool f;
		size_t j = slot_pair(s, s->e[i].key, s->e[i].row, &f);
		if (!f)
			s->pair_ix[j] = pair_slot_value(s, i);
		j = slot_key(s, s->e[i].key, &f);
		if (!f)
			s->key_ix[j] = key_slot_value(s, i);
	}
	return 0;
}

bool wb_odbc_seen_has(const struct wb_odbc_seen *s, uint64_t key, uint64_t row,
		      bool *key_known)
{
	bool f = false, kf = false;
	if (s->n > 0) {
		slot_pair(s, key, row, &f);
		if (key_known)
			slot_key(s, key, &kf);
	}
	if (key_known)
		*key_known = kf;
	return f;
}

bool wb_odbc_seen_has_at(const struct wb_odbc_seen *s, int64_t track,
			 uint64_t key, uint64_t row, bool *key_known)
{
	if (s->has_hi && track <= s->hi)
		return wb_odbc_seen_has(s, key, row, key_known);
	bool kf = false;
	if (s->n > 0)
		slot_key(s, key, &kf);
	*key_known = kf;
	return false;
}

void wb_odbc_seen_prefetch(const struct wb_odbc_seen *s, uint64_t key,
			   uint64_t row)
{
	if (s->ixcap == 0)
		return;
	size_t mask = s->ixcap - 1;
	__builtin_prefetch(&s->pair_ix[(size_t)mix(key ^ mix(row)) & mask]);
	__builtin_prefetch(&s->key_ix[(size_t)mix(key) & mask]);
}

/* Keeps the entries for which keep() holds, in order. */
static void filter(struct wb_odbc_seen *s,
		   bool (*drop)(const void *,
				const struct wb_odbc_seen_entry *),
		   const void *arg)
{
	size_t o = 0;
	for (size_t i = 0; i < s->n; i++)
		if (!drop(arg, &s->e[i]))
			s->e[o++] = s->e[i];
	if (o == s->n)
		return;
	s->n = o;
	if (s->ixcap && reindex(s, s->ixcap) != 0) {
		/* same size as before: only fails when memory is short;
		 * keep the old tables out of use */
		s->n = 0;
	}
}

static bool below(const void *arg, const struct wb_odbc_seen_entry *e)
{
	return e->track < *(const int64_t *)arg;
}

static bool at_most(const void *arg, const struct wb_odbc_seen_entry *e)
{
	return e->track <= *(const int64_t *)arg;
}

static bool of_round(const void *arg, const struct wb_odbc_seen_entry *e)
{
	return e->round == *(const uint64_t *)arg;
}

int wb_odbc_seen_add(struct wb_odbc_seen *s, int64_t track, uint64_t key,
		     uint64_t row, uint64_t round, int64_t *dropped_upto)
{
	bool f = false;
	size_t j = 0;
	if (s->n > 0) {
		j = slot_pair(s, key, row, &f);
		if (f)
			return 0;
	}
	bool moved = s->n == 0; /* the slot is to be found (again) */
	if (s->n >= s->max && s->n > 0) {
		moved = true;
		/* the oldest groups, about a sixteenth of the tracking range
		 * (at least the oldest group): each drop is O(n), so it
		 * frees room for many adds */
		int64_t min = s->e[0].track, max = s->e[0].track;
		for (size_t i = 1; i < s->n; i++) {
			if (s->e[i].track < min)
				min = s->e[i].track;
			if (s->e[i].track > max)
				max = s->e[i].track;
		}
		int64_t upto =
			min + (int64_t)(((uint64_t)max - (uint64_t)min) / 16);
		filter(s, at_most, &upto);
		if (dropped_upto)
			*dropped_upto = upto;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		if (cap > UINT32_MAX / 4)
			return -1;
		struct wb_odbc_seen_entry *e = realloc(s->e, cap * sizeof(*e));
		if (e == NULL)
			return -1;
		s->e = e;
		s->cap = cap;
		if (reindex(s, cap * 2) != 0)
			return -1;
		moved = true;
	}
	if (!s->has_hi || track > s->hi) {
		s->hi = track;
		s->has_hi = true;
	}
	struct wb_odbc_seen_entry *e = &s->e[s->n];
	e->track = track;
	e->key = key;
	e->row = row;
	e->round = round;
	if (moved)
		j = slot_pair(s, key, row, &f);
	s->pair_ix[j] = pair_slot_value(s, s->n);
	j = slot_key(s, key, &f);
	if (!f)
		s->key_ix[j] = key_slot_value(s, s->n);
	s->n++;
	return 0;
}

void wb_odbc_seen_evict(struct wb_odbc_seen *s, int64_t below_track)
{
	filter(s, below, &below_track);
}

void wb_odbc_seen_forget_round(struct wb_odbc_seen *s, uint64_t round)
{
	filter(s, of_round, &round);
}

char *wb_odbc_seen_format(const struct wb_odbc_seen *s, uint64_t upto,
			  int64_t from)
{
	char *out = malloc(s->n * 48 + 1);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct wb_odbc_seen_entry *e = &s->e[i];
		if (e->round > upto || e->track < from)
			continue;
		snprintf(out + o, 49, "%016llx%016llx%016llx",
			 (unsigned long long)(uint64_t)e->track,
			 (unsigned long long)e->key,
			 (unsigned long long)e->row);
		o += 48;
	}
	out[o] = '\0';
	return out;
}

static bool hex64(const char *p, uint64_t *v)
{
	uint64_t x = 0;
	for (int i = 0; i < 16; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
					       : -1;
		if (d < 0)
			return false;
		x = x << 4 | (uint64_t)d;
	}
	*v = x;
	return true;
}

int wb_odbc_seen_parse(struct wb_odbc_seen *s, const char *text)
{
	size_t len = strlen(text);
	if (len % 48 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 48) {
		uint64_t t, k, r;
		if (!hex64(text + i, &t) || !hex64(text + i + 16, &k) ||
		    !hex64(text + i + 32, &r))
			return -1;
		if (wb_odbc_seen_add(s, (int64_t)t, k, r, 0, NULL) != 0)
			return -1;
	}
	return 0;
}

int wb_odbc_seen_restore(struct wb_odbc_seen *cur, struct wb_odbc_seen *old,
			 const char *alg_name, const char *seen,
			 const char *seen_fnv1a)
{
	if (alg_name == NULL || strcmp(alg_name, WB_ODBC_HASH_NAME_FNV1A) == 0)
		return seen && wb_odbc_seen_parse(old, seen) != 0 ? -1 : 0;
	if (strcmp(alg_name, WB_ODBC_HASH_NAME_W64) != 0)
		return -2;
	if (seen && wb_odbc_seen_parse(cur, seen) != 0)
		return -1;
	if (seen_fnv1a && wb_odbc_seen_parse(old, seen_fnv1a) != 0)
		return -1;
	return 0;
}
