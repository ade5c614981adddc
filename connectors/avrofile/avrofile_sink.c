/* avrofile_sink.c — the avro-file sink: one series of Avro files per topic.
 *
 * Layout: <dir>/<topic>/<seq>.avro, seq zero-padded to 12 digits so names
 * sort in write order. A file being written is <seq>.avro.part; only a file
 * whose completion is recorded in a durable checkpoint ends in .avro.
 *
 * Crash safety. The core calls flush(), then state(), then writes a durable
 * checkpoint holding that state, then calls checkpointed().
 *  - flush() writes the pending block of every open file and fsyncs every
 *    file (and directory) written since the last flush, then reports the
 *    position of the last event written as delivered.
 *  - state() is {"series": {"<topic>": {"seq": S, "offset": O,
 *    "closed_through": C}}} (keyed by the series directory's name, which
 *    is the topic with any character outside [A-Za-z0-9._-] replaced by
 *    '_'): S is the open file's seq (0 = none), O its
 *    fsynced length, C the highest seq that is complete (last block written
 *    and fsynced). A completed file keeps its .part name until the
 *    checkpoint recording it as complete is durable: checkpointed() renames
 *    it to .avro and fsyncs the directory.
 *  - open(state) restores a series to its checkpoint: .part files with
 *    seq <= C are renamed to .avro (they were complete at the checkpoint);
 *    files with seq > S (seq > C when there is no open file) are deleted
 *    (written after the checkpoint, so they will be replayed); file S is
 *    truncated to O and appended to (O == 0 or S missing: no open file).
 *    A series the checkpoint does not mention had nothing durable at the
 *    checkpoint: its .part files are deleted (their events are replayed).
 *    .avro files are never deleted.
 *  - Without any checkpoint (state NULL: it was deleted or lost), in a
 *    series directory holding MARKER (a checkpoint once covered one of its
 *    files) nothing is deleted, because the open file up to its last
 *    checkpointed offset was acknowledged to the source (PG: the slot's
 *    confirmed flush LSN) and exists nowhere else. Each .part file is kept:
 *    renamed to .avro when it is whole (header and whole blocks to its
 *    end), else to <seq>.avro.orphan, untouched, with a warning saying how
 *    to recover it. Events after the lost checkpoint are replayed into new
 *    files, so some may appear twice. Without MARKER no checkpoint ever
 *    covered the series (a crash before the first one): its .part files
 *    were never acknowledged and are deleted, as after a checkpoint.
 *  New seqs continue after the highest existing one.
 * Hence after kill -9 at any point, a restart that replays the events after
 * the checkpoint leaves every event in exactly one file and no torn block.
 *
 * A file completed by roll_age while its series is idle (nothing written
 * since the checkpoint that covers its whole length) is renamed to .avro at
 * once: that checkpoint already holds all of it, and a restart from it finds
 * seq S as .avro and treats it as complete.
 *
 * Schemas. One writer schema per file: a new file starts whenever the value
 * schema's identity (CRC-64-AVRO of its full JSON) changes, not only its
 * fingerprint, since the canonical form drops logicalType, precision and
 * scale. A reopened file's identity is computed from its header.
 *
 * Memory and descriptors are bounded whatever the number of series. A
 * series is "awake" while its writer holds block buffers or a descriptor;
 * awake series form an LRU list. After each checkpoint, series written to
 * since the previous one stay awake, the others are parked (buffers freed,
 * descriptor closed; the file stays open in the sense of the state, and
 * the next write opens it again). During a burst, when more than
 * max_awake series are awake or their buffers exceed the memory budget, the
 * least recently written are parked at once (pending records written as a
 * block, fsynced, descriptor closed). Compression contexts are shared
 * (ocf.h). So memory is about budget + two compression contexts, and at
 * most max_awake descriptors are open (256, or a quarter of RLIMIT_NOFILE
 * when that is lower). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "avro_schema.h"
#include "clock.h"
#include "crashpoint.h"
#include "fsutil.h"
#include "log.h"
#include "ocf.h"
#include "sink.h"

#define SEQ_DIGITS 12
/* At most this many series hold a descriptor or buffers (fds: 1,000
 * tables must not need 1,000 descriptors); fewer when RLIMIT_NOFILE is
 * low: a quarter of it, at least 8. */
#define MAX_AWAKE 256
/* Buffers of awake series, at least; 8 blocks when block_bytes is larger. */
#define MEM_BUDGET_MIN ((size_t)32 << 20)

struct series {
	char *name;		 /* directory name: the sanitised topic */
	char *topic;		 /* last raw topic that mapped here, or NULL */
	char *dir;		 /* <dir>/<name> */
	struct wb_ocf_writer *w; /* open file, or NULL */
	uint64_t seq;		 /* seq of w */
	uint64_t identity;	 /* of w's schema (wb_schema.identity) */
	int64_t opened_ms;
	/* awake: on the sink's LRU list (see the top) */
	bool awake;
	struct series *lru_prev, *lru_next;
	size_t mem;   /* wb_ocf_memory(w) as last counted */
	bool touched; /* written since the last checkpointed() */
	bool marked;  /* MARKER exists in dir (durably) */
	/* (seq, offset) as state() reported them, and as the last durable
	 * checkpoint holds them */
	uint64_t state_seq, ckpt_seq;
	int64_t state_offset, ckpt_offset;
	int64_t durable; /* fsynced length of w */
	int dirty;	 /* w written since the last fsync */
	int dir_dirty;	 /* entries created/renamed since the last fsync */
	uint64_t next_seq;
	uint64_t closed_through;
	uint64_t renamed_through;
	uint64_t rename_upto; /* closed_through as of the last state() */
};

struct avrofile_sink {
	struct wb_sink base;
	char *dir;
	enum wb_ocf_codec codec;
	int level;
	size_t block_bytes;
	int64_t roll_bytes;
	int64_t roll_age_ms;
	int64_t flush_interval_ms;
	/* monotonic ms of the first write not yet flushed; 0: none */
	int64_t unflushed_since_ms;
	struct series **series;
	size_t nseries, capseries;
	/* series by name: open addressing, capacity a power of two at least
	 * twice nseries (a topic switch must not cost a scan of 1,000) */
	struct series **index;
	size_t capindex;
	struct series *last;
	struct series *last2; /* the one before: raw and canonical events
				 alternate between two series */
	struct series *lru_head, *lru_tail; /* most recently written first */
	size_t nawake;
	size_t mem; /* sum of the awake series' mem */
	size_t mem_budget;
	size_t max_awake;
	struct wb_ocf_pool *pool; /* compresses and writes full blocks; made
				     with the first file */
	bool pool_failed;
	int have_pos;
	wb_position_t last_pos;
};

/* Directory name for a topic: [A-Za-z0-9._-], never "." or "..". */
static void sanitize(const char *topic, char *out, size_t n)
{
	size_t j = 0;
	if (topic[0] == '.' && j + 1 < n)
		out[j++] = '_';
	for (const char *p = topic; *p && j + 1 < n; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '_' ||
			 c == '-';
		out[j++] = ok ? c : '_';
	}
	if (j == 0 && n > 1)
		out[j++] = '_';
	out[j] = '\0';
}

static void file_path(const struct series *s, uint64_t seq, int part, char *out,
		      size_t n)
{
	snprintf(out, n, "%s/%0*" PRIu64 ".avro%s", s->dir, SEQ_DIGITS, seq,
		 part ? ".part" : "");
}

#define PART 1
#define ORPHAN 2
/* Made (durably) in a series directory once a durable checkpoint covers
 * one of its files, before that checkpoint is acknowledged to the source:
 * without a checkpoint, its presence says some .part content may have been
 * acknowledged (keep it), its absence that none was (delete it, replay). */
#define MARKER ".checkpointed"

/* Parses "<12 digits>.avro" (*part = 0), "<12 digits>.avro.part" (PART) or
 * "<12 digits>.avro.orphan" (ORPHAN). */
static int parse_name(const char *name, uint64_t *seq, int *part)
{
	uint64_t v = 0;
	int i;
	for (i = 0; i < SEQ_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (strcmp(name + i, ".avro") == 0)
		*part = 0;
	else if (strcmp(name + i, ".avro.part") == 0)
		*part = PART;
	else if (strcmp(name + i, ".avro.orphan") == 0)
		*part = ORPHAN;
	else
		return -1;
	*seq = v;
	return 0;
}

static int fsync_dir(const char *path, wb_error_t *err)
{
	if (wb_fsync_dir(path) != 0)
		return wb_error_set(err, WB_ERR_IO, "fsync %s: %s", path,
				    strerror(errno));
	return WB_OK;
}

/* mkdir -p; every directory it creates is durable in its parent before
 * anything is written in it, so a checkpoint can never cover a file whose
 * directory a power loss could take away. */
static int make_dirs(const char *path, wb_error_t *err)
{
	if (wb_mkdir_durable(path) != 0)
		return wb_error_set(err, WB_ERR_IO, "mkdir %s: %s", path,
				    strerror(errno));
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return wb_error_set(err, WB_ERR_IO, "%s: not a directory",
				    path);
	return WB_OK;
}

static void series_free(struct series *s)
{
	if (s == NULL)
		return;
	wb_ocf_free(s->w);
	free(s->name);
	free(s->topic);
	free(s->dir);
	free(s);
}

static size_t name_hash(const char *name)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)h;
}

static void index_put(struct avrofile_sink *k, struct series *s)
{
	size_t m = k->capindex - 1, i = name_hash(s->name) & m;
	while (k->index[i] != NULL)
		i = (i + 1) & m;
	k->index[i] = s;
}

/* Room for one more series in the index; 0 or -1 (out of memory). */
static int index_reserve(struct avrofile_sink *k)
{
	if ((k->nseries + 1) * 2 <= k->capindex)
		return 0;
	size_t cap = k->capindex ? k->capindex * 2 : 16;
	struct series **v = calloc(cap, sizeof(*v));
	if (v == NULL)
		return -1;
	free(k->index);
	k->index = v;
	k->capindex = cap;
	for (size_t i = 0; i < k->nseries; i++)
		index_put(k, k->series[i]);
	return 0;
}

static struct series *series_add(struct avrofile_sink *k, const char *name,
				 wb_error_t *err)
{
	struct series *s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto nomem;
	s->name = strdup(name);
	size_t n = strlen(k->dir) + strlen(name) + 2;
	s->dir = malloc(n);
	if (s->name == NULL || s->dir == NULL)
		goto nomem;
	snprintf(s->dir, n, "%s/%s", k->dir, name);
	s->next_seq = 1;
	if (index_reserve(k) != 0)
		goto nomem;
	if (k->nseries == k->capseries) {
		size_t cap = k->capseries ? k->capseries * 2 : 8;
		struct series **v = realloc(k->series, cap * sizeof(*v));
		if (v == NULL)
			goto nomem;
		k->series = v;
		k->capseries = cap;
	}
	k->series[k->nseries++] = s;
	index_put(k, s);
	return s;
nomem:
	series_free(s);
	wb_error_set(err, WB_ERR_NOMEM, "avro-file sink: out of memory");
	return NULL;
}

static struct series *series_find(struct avrofile_sink *k, const char *name)
{
	if (k->capindex == 0)
		return NULL;
	size_t m = k->capindex - 1, i = name_hash(name) & m;
	for (; k->index[i] != NULL; i = (i + 1) & m)
		if (strcmp(k->index[i]->name, name) == 0)
			return k->index[i];
	return NULL;
}

/* ---- awake series (see the top) ---------------------------------- */

static void lru_unlink(struct avrofile_sink *k, struct series *s)
{
	if (!s->awake)
		return;
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		k->lru_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		k->lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
	s->awake = false;
	k->nawake--;
	k->mem -= s->mem;
	s->mem = 0;
}

/* Puts s first on the list (it is about to be written). */
static void lru_touch(struct avrofile_sink *k, struct series *s)
{
	if (k->lru_head == s)
		return;
	if (s->awake) {
		size_t mem = s->mem;
		lru_unlink(k, s);
		s->mem = mem;
		k->mem += mem;
	}
	s->lru_prev = NULL;
	s->lru_next = k->lru_head;
	if (k->lru_head)
		k->lru_head->lru_prev = s;
	else
		k->lru_tail = s;
	k->lru_head = s;
	s->awake = true;
	k->nawake++;
}

/* Counts what s's writer holds now. */
static void count_mem(struct avrofile_sink *k, struct series *s)
{
	size_t m = s->w ? wb_ocf_memory(s->w) : 0;
	k->mem = k->mem - s->mem + m;
	s->mem = m;
}

/* Frees s's buffers and closes its descriptor; its file stays the open
 * file of the series. Pending records are written as a block and fsynced
 * first, so nothing is lost and the descriptor's errors are seen. */
static int park(struct avrofile_sink *k, struct series *s, wb_error_t *err)
{
	if (s->w) {
		int rc = wb_ocf_release(s->w, err);
		if (rc == WB_OK)
			rc = wb_ocf_close_fd(s->w, err);
		if (rc != WB_OK) {
			count_mem(k, s);
			return rc;
		}
		wb_crashpoint("avrofile.parked");
	}
	lru_unlink(k, s);
	return WB_OK;
}

/* Parks the least recently written series (never keep) until at most
 * max_awake are awake and their buffers fit the budget. */
static int bound_awake(struct avrofile_sink *k, struct series *keep,
		       wb_error_t *err)
{
	while (k->nawake > k->max_awake || k->mem > k->mem_budget) {
		struct series *t = k->lru_tail;
		if (t == NULL || t == keep)
			break;
		int rc = park(k, t, err);
		if (rc != WB_OK)
			return rc;
	}
	return WB_OK;
}

static struct wb_sink *avrofile_create(const struct wb_config *cfg,
				       wb_error_t *err)
{
	struct avrofile_sink *k = calloc(1, sizeof(*k));
	if (k == NULL) {
		wb_error_set(err, WB_ERR_NOMEM,
			     "avro-file sink: out of memory");
		return NULL;
	}
	k->base.ops = &wb_avrofile_sink_ops;
	k->base.cfg = cfg;
	const struct wb_sink_config *sc = &cfg->sink;
	if (wb_ocf_codec_parse(sc->codec, &k->codec, err) != WB_OK)
		goto fail;
	k->level = sc->codec_level;
	k->block_bytes =
		sc->block_bytes > 0 ? (size_t)sc->block_bytes : (size_t)1 << 20;
	k->roll_bytes =
		sc->roll_bytes > 0 ? sc->roll_bytes : (int64_t)256 << 20;
	k->roll_age_ms = sc->roll_age_ms > 0 ? sc->roll_age_ms : 3600 * 1000;
	k->flush_interval_ms = sc->flush_interval_ms > 0
				       ? sc->flush_interval_ms
				       : WB_DEFAULT_FLUSH_INTERVAL_MS;
	k->max_awake = MAX_AWAKE;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 4 < MAX_AWAKE)
		k->max_awake =
			rl.rlim_cur / 4 > 8 ? (size_t)rl.rlim_cur / 4 : 8;
	k->mem_budget = k->block_bytes * 8 > MEM_BUDGET_MIN ? k->block_bytes * 8
							    : MEM_BUDGET_MIN;
	k->dir = strdup(sc->dir && sc->dir[0] ? sc->dir : "out");
	if (k->dir == NULL) {
		wb_error_set(err, WB_ERR_NOMEM,
			     "avro-file sink: out of memory");
		goto fail;
	}
	/* Trailing slashes would only make paths ugly. */
	for (size_t n = strlen(k->dir); n > 1 && k->dir[n - 1] == '/'; n--)
		k->dir[n - 1] = '\0';
	return &k->base;
fail:
	free(k);
	return NULL;
}

static void avrofile_destroy(struct wb_sink *base)
{
	struct avrofile_sink *k = (struct avrofile_sink *)base;
	if (k == NULL)
		return;
	for (size_t i = 0; i < k->nseries; i++)
		series_free(k->series[i]);
	wb_ocf_pool_free(k->pool); /* after every writer */
	free(k->index);
	free(k->series);
	free(k->dir);
	free(k);
}

/* Full blocks of w go to the sink's block thread, made on first use;
 * without one (it could not be started) w writes its blocks itself. */
static void attach_pool(struct avrofile_sink *k, struct wb_ocf_writer *w)
{
	if (k->pool == NULL && !k->pool_failed) {
		wb_error_t e;
		wb_error_clear(&e);
		if ((k->pool = wb_ocf_pool_new(&e)) == NULL) {
			k->pool_failed = true;
			wb_warn("avro-file", "%s; blocks are written in line",
				e.message);
		}
	}
	if (k->pool)
		wb_ocf_set_pool(w, k->pool);
}

static int64_t json_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* Without any checkpoint: keeps the .part file path (see the top). */
static int keep_part(struct series *s, uint64_t seq, const char *path,
		     wb_error_t *err)
{
	char to[PATH_MAX];
	struct wb_ocf_extent x;
	int rc = wb_ocf_scan(path, &x, err);
	if (rc != WB_OK)
		return rc;
	int whole = x.whole > 0 && x.whole == x.size;
	if (whole)
		file_path(s, seq, 0, to, sizeof(to));
	else
		snprintf(to, sizeof(to), "%s/%0*" PRIu64 ".avro.orphan", s->dir,
			 SEQ_DIGITS, seq);
	if (rename(path, to) != 0)
		return wb_error_set(err, WB_ERR_IO, "rename %s: %s", path,
				    strerror(errno));
	wb_crashpoint("avrofile.recover_renamed");
	if (whole)
		wb_warn("avro-file",
			"no checkpoint: kept %s as %s (%" PRId64
			" records); part of it was acknowledged to the source "
			"and exists nowhere else, and what came after the lost "
			"checkpoint is written again to new files, so some "
			"records may appear twice",
			path, to, x.records);
	else
		wb_warn("avro-file",
			"no checkpoint: kept %s as %s, untouched: it is not a "
			"whole Avro file (%" PRId64 " of %" PRId64
			" bytes are whole blocks, %" PRId64
			" records); part of it was acknowledged to the source "
			"and exists nowhere else: to recover those records, "
			"truncate a copy to %" PRId64
			" bytes and rename it to .avro",
			path, to, x.whole, x.size, x.records, x.whole);
	return WB_OK;
}

/* Brings one series directory back to its checkpoint (see the top). st is
 * the series' state; have_ckpt false when there is no checkpoint at all. */
static int recover_series(struct avrofile_sink *k, struct series *s, json_t *st,
			  bool have_ckpt, wb_error_t *err)
{
	int rc = WB_OK;
	char path[PATH_MAX], to[PATH_MAX];
	uint64_t open_seq = 0, closed = 0;
	int64_t offset = 0;
	if (st != NULL) {
		/* a damaged entry must not be read as "nothing kept": that
		 * would delete acknowledged records */
		static const char *const keys[] = {"seq", "offset",
						   "closed_through"};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			json_t *v = json_is_object(st)
					    ? json_object_get(st, keys[i])
					    : NULL;
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				return wb_error_set(
					err, WB_ERR_RUNTIME,
					"the checkpoint's avro-file state of "
					"series %s is damaged (%s is not a "
					"count); restore the checkpoint from a "
					"backup taken with the output",
					s->name, keys[i]);
		}
		int64_t v = json_int(st, "seq");
		open_seq = v > 0 ? (uint64_t)v : 0;
		offset = json_int(st, "offset");
		v = json_int(st, "closed_through");
		closed = v > 0 ? (uint64_t)v : 0;
		if (offset <= 0)
			open_seq = 0;
	}
	/* The highest seq kept: nothing newer was acknowledged. */
	uint64_t keep = open_seq ? open_seq : closed;
	int open_found = 0, open_avro = 0;
	uint64_t highest = closed > open_seq ? closed : open_seq;
	uint64_t complete = closed;
	char marker[PATH_MAX];
	snprintf(marker, sizeof(marker), "%s/" MARKER, s->dir);
	s->marked = access(marker, F_OK) == 0;

	DIR *d = opendir(s->dir);
	if (d == NULL)
		return wb_error_set(err, WB_ERR_IO, "open %s: %s", s->dir,
				    strerror(errno));
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		uint64_t seq;
		int part;
		if (parse_name(e->d_name, &seq, &part) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", s->dir, e->d_name);
		bool drop = part == PART &&
			    (st == NULL ? have_ckpt || !s->marked : seq > keep);
		if (!drop && seq > highest)
			highest = seq; /* kept: new seqs come after it */
		if (part == ORPHAN)
			continue;
		if (part == PART && !have_ckpt && s->marked) {
			rc = keep_part(s, seq, path, err);
			if (rc != WB_OK)
				goto done;
			s->dir_dirty = 1;
			continue;
		}
		if (part == 0) {
			/* Complete; never deleted. One after the checkpoint
			 * means the checkpoint is older than the files (a
			 * restored copy): its events may be written again. */
			if (st != NULL && seq > keep)
				wb_warn("avro-file",
					"%s is newer than the checkpoint; kept "
					"(its records may appear twice)",
					path);
			if (seq == open_seq)
				open_avro = 1; /* completed while idle */
			if (seq > complete)
				complete = seq;
			continue;
		}
		if (drop) {
			/* written after the checkpoint: replayed */
			if (unlink(path) != 0 && errno != ENOENT) {
				rc = wb_error_set(err, WB_ERR_IO,
						  "delete %s: %s", path,
						  strerror(errno));
				goto done;
			}
			wb_crashpoint("avrofile.recover_deleted");
			s->dir_dirty = 1;
			continue;
		}
		if (seq <= closed) {
			file_path(s, seq, 0, to, sizeof(to));
			if (rename(path, to) != 0) {
				rc = wb_error_set(err, WB_ERR_IO,
						  "rename %s: %s", path,
						  strerror(errno));
				goto done;
			}
			wb_crashpoint("avrofile.recover_renamed");
			s->dir_dirty = 1;
		} else if (seq == open_seq) {
			open_found = 1;
		}
	}
	if (open_avro)
		open_found = 0;
	s->closed_through = s->renamed_through = s->rename_upto = complete;
	s->next_seq = highest + 1;
	if (s->dir_dirty) {
		rc = fsync_dir(s->dir, err);
		if (rc != WB_OK)
			goto done;
		s->dir_dirty = 0;
	}
	if (open_found) {
		file_path(s, open_seq, 1, path, sizeof(path));
		s->w = wb_ocf_reopen(path, offset, NULL, k->level,
				     k->block_bytes, err);
		if (s->w == NULL) {
			rc = err ? err->code : WB_ERR_IO;
			goto done;
		}
		wb_crashpoint("avrofile.recover_truncated");
		attach_pool(k, s->w);
		const char *schema = wb_ocf_schema(s->w);
		s->identity = wb_avro_crc64(schema, strlen(schema));
		s->seq = open_seq;
		s->durable = offset;
		s->state_seq = s->ckpt_seq = open_seq;
		s->state_offset = s->ckpt_offset = offset;
		s->opened_ms = wb_clock_mono_ms();
		/* parked until written: a restart with 1,000 open files
		 * holds no buffers and no descriptors */
		rc = wb_ocf_close_fd(s->w, err);
	}
done:
	closedir(d);
	return rc;
}

static int avrofile_open(struct wb_sink *base, json_t *state, wb_error_t *err)
{
	struct avrofile_sink *k = (struct avrofile_sink *)base;
	int rc = make_dirs(k->dir, err);
	if (rc != WB_OK)
		return rc;
	json_t *all = json_object_get(state, "series");
	DIR *d = opendir(k->dir);
	if (d == NULL)
		return wb_error_set(err, WB_ERR_IO, "open %s: %s", k->dir,
				    strerror(errno));
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", k->dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (series_find(k, e->d_name) != NULL)
			continue;
		struct series *s = series_add(k, e->d_name, err);
		if (s == NULL) {
			rc = WB_ERR_NOMEM;
			break;
		}
		rc = recover_series(k, s, json_object_get(all, e->d_name),
				    state != NULL, err);
		if (rc != WB_OK)
			break;
	}
	closedir(d);
	return rc;
}

/* Completes the open file: last block, fsync, close. Renamed later, in
 * checkpointed(). */
static int complete_file(struct avrofile_sink *k, struct series *s,
			 wb_error_t *err)
{
	if (s->w == NULL)
		return WB_OK;
	int rc = wb_ocf_write_block(s->w, err);
	if (rc != WB_OK)
		return rc; /* file stays open; the next flush retries */
	wb_crashpoint("avrofile.last_block");
	rc = wb_ocf_sync(s->w, err);
	if (rc != WB_OK)
		return rc;
	wb_crashpoint("avrofile.completed");
	wb_ocf_free(s->w);
	s->w = NULL;
	lru_unlink(k, s);
	s->closed_through = s->seq;
	s->seq = 0;
	s->durable = 0;
	s->dirty = 0;
	return WB_OK;
}

static int open_file(struct avrofile_sink *k, struct series *s,
		     const struct wb_schema *schema, wb_error_t *err)
{
	char path[PATH_MAX];
	struct stat st;
	if (stat(s->dir, &st) != 0) {
		int rc = make_dirs(s->dir, err); /* durable in k->dir */
		if (rc != WB_OK)
			return rc;
	}
	uint64_t seq = s->next_seq;
	file_path(s, seq, 1, path, sizeof(path));
	s->w = wb_ocf_create(path, schema->json, k->codec, k->level,
			     k->block_bytes, err);
	if (s->w == NULL)
		return err ? err->code : WB_ERR_IO;
	attach_pool(k, s->w);
	s->next_seq = seq + 1;
	s->seq = seq;
	s->identity = schema->identity;
	s->opened_ms = wb_clock_mono_ms();
	s->durable = 0;
	s->dirty = 1;
	s->dir_dirty = 1;
	return WB_OK;
}

static struct series *series_for_topic(struct avrofile_sink *k,
				       const char *topic, wb_error_t *err)
{
	if (k->last && k->last->topic && strcmp(k->last->topic, topic) == 0)
		return k->last;
	if (k->last2 && k->last2->topic &&
	    strcmp(k->last2->topic, topic) == 0) {
		struct series *t = k->last2;
		k->last2 = k->last;
		k->last = t;
		return t;
	}
	char name[NAME_MAX + 1];
	sanitize(topic, name, sizeof(name) - 10);
	struct series *s = series_find(k, name);
	if (s == NULL) {
		s = series_add(k, name, err);
		if (s == NULL)
			return NULL;
	}
	if (s->topic == NULL || strcmp(s->topic, topic) != 0) {
		char *t = strdup(topic);
		if (t == NULL) {
			wb_error_set(err, WB_ERR_NOMEM,
				     "avro-file sink: out of memory");
			return NULL;
		}
		free(s->topic);
		s->topic = t;
	}
	if (k->last != s)
		k->last2 = k->last;
	k->last = s;
	return s;
}

static int avrofile_write(struct wb_sink *base, const struct wb_event *ev,
			  wb_error_t *err)
{
	struct avrofile_sink *k = (struct avrofile_sink *)base;
	int rc = WB_OK;
	if (!wb_event_has_value(ev)) {
		/* Tombstones mean nothing in a file. */
		k->last_pos = ev->pos;
		k->have_pos = 1;
		return WB_OK;
	}
	if (ev->value_schema == NULL || ev->value_schema->json == NULL)
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "avro-file sink: event for %s has no value "
				    "schema",
				    ev->topic);
	struct series *s = series_for_topic(k, ev->topic, err);
	if (s == NULL)
		return WB_ERR_NOMEM;
	if (s->w != NULL) {
		/* identity, not fingerprint: numeric(10,2) and numeric(10,4)
		 * share a fingerprint but not a file */
		int same = s->identity == ev->value_schema->identity;
		/* Rolling before the append, not after it: a failure then
		 * leaves the event unwritten, so the caller's retry cannot
		 * duplicate it. */
		int full =
			wb_ocf_offset(s->w) + (int64_t)wb_ocf_pending(s->w) >=
			k->roll_bytes;
		/* age is checked in poll(): no clock read per event */
		if (!same || full) {
			rc = complete_file(k, s, err);
			if (rc != WB_OK)
				return rc;
		}
	}
	if (s->w == NULL) {
		rc = open_file(k, s, ev->value_schema, err);
		if (rc != WB_OK)
			return rc;
	}
	/* s first on the list, then the least recently written parked, all
	 * before the append: a failure leaves the event unwritten. */
	lru_touch(k, s);
	rc = bound_awake(k, s, err);
	if (rc != WB_OK)
		return rc;
	struct wb_span one = {ev->value, ev->value_len};
	rc = ev->nvalue_parts ? wb_ocf_append_parts(s->w, ev->value_parts,
						    ev->nvalue_parts, err)
			      : wb_ocf_append_parts(s->w, &one, 1, err);
	count_mem(k, s);
	if (rc != WB_OK)
		return rc;
	s->dirty = 1;
	s->touched = true;
	k->last_pos = ev->pos;
	k->have_pos = 1;
	/* one clock read per flush cycle, not per event */
	if (k->unflushed_since_ms == 0)
		k->unflushed_since_ms = wb_clock_mono_ms();
	return WB_OK;
}

static int avrofile_flush(struct wb_sink *base, int timeout_ms,
			  wb_error_t *err);

static int avrofile_poll(struct wb_sink *base, int timeout_ms, wb_error_t *err)
{
	struct avrofile_sink *k = (struct avrofile_sink *)base;
	(void)timeout_ms;
	int64_t now = wb_clock_mono_ms();
	/* Events do not wait for a full block or the next checkpoint: past
	 * flush_interval the pending blocks are written, fsynced and
	 * reported delivered, once nothing more waits in the queue (a backlog
	 * is better served by full blocks and the block thread; it is
	 * delivered at the checkpoints). The checkpoint still records only
	 * what its own flush covered; a crash truncates back to it and
	 * replays. */
	if (k->unflushed_since_ms != 0 && base->idle &&
	    now - k->unflushed_since_ms >= k->flush_interval_ms) {
		int rc = avrofile_flush(base, 0, err);
		if (rc != WB_OK)
			return rc;
	}
	/* Files of idle series roll on age here, not only on the next write. */
	for (size_t i = 0; i < k->nseries; i++) {
		struct series *s = k->series[i];
		if (s->w == NULL || now - s->opened_ms < k->roll_age_ms)
			continue;
		/* Idle since a durable checkpoint that covers the whole file:
		 * that checkpoint holds it all, so it completes for good now
		 * (no later checkpoint may come while the pipeline is idle). */
		uint64_t seq = s->seq;
		bool covered = s->ckpt_seq == seq &&
			       wb_ocf_pending(s->w) == 0 &&
			       wb_ocf_offset(s->w) == s->ckpt_offset;
		int rc = complete_file(k, s, err);
		if (rc != WB_OK)
			return rc;
		if (covered) {
			char from[PATH_MAX], to[PATH_MAX];
			file_path(s, seq, 1, from, sizeof(from));
			file_path(s, seq, 0, to, sizeof(to));
			if (rename(from, to) != 0)
				return wb_error_set(err, WB_ERR_IO,
						    "rename %s: %s", from,
						    strerror(errno));
			wb_crashpoint("avrofile.age_renamed");
			rc = fsync_dir(s->dir, err);
			if (rc != WB_OK)
				return rc;
		}
	}
	return WB_OK;
}

static int avrofile_flush(struct wb_sink *base, int timeout_ms, wb_error_t *err)
{
	struct avrofile_sink *k = (struct avrofile_sink *)base;
	(void)timeout_ms;
	int rc;
	/* Every file's last block written and on its way to the disk
	 * before the first fsync waits: the files are written out together,
	 * not one after the other. */
	for (size_t i = 0; i < k->nseries; i++) {
		struct series *s = k->series[i];
		if (s->w && s->dirty) {
			if ((rc = wb_ocf_write_block(s->w, err)) != WB_OK)
				return rc;
			if (k->nseries > 1)
				wb_ocf_start_writeback(s->w);
		}
	}
	for (size_t i = 0; i < k->nseries; i++) {
		struct series *s = k->series[i];
		if (s->w && s->dirty) {
			if ((rc = wb_ocf_sync(s->w, err)) != WB_OK)
				return rc;
			s->durable = wb_ocf_offset(s->w);
			s->dirty = 0;
		}
		if (s->dir_dirty) {
			rc = fsync_dir(s->dir, err);
			if (rc != WB_OK)
				return rc;
			s->dir_dirty = 0;
		}
	}
	k->unflushed_since_ms = 0;
	if (k->have_pos && k->base.delivered)
		k->base.delivered(k->base.delivered_opaque, &k->last_pos);
	return WB_OK;
}

static json_t *avrofile_state(struct wb_sink *base)
{
	struct avrofile_sink *k = (struct avrofile_sink *)base;
	json_t *series = json_object();
	json_t *root = json_pack("{s:o}", "series", series);
	if (root == NULL)
		return NULL;
	for (size_t i = 0; i < k->nseries; i++) {
		struct series *s = k->series[i];
		/* A file with nothing fsynced is, for a restart, no file. */
		uint64_t seq = s->w && s->durable > 0 ? s->seq : 0;
		json_t *o = json_pack(
			"{s:I,s:I,s:I}", "seq", (json_int_t)seq, "offset",
			(json_int_t)(seq ? s->durable : 0), "closed_through",
			(json_int_t)s->closed_through);
		if (o == NULL || json_object_set_new(series, s->name, o) != 0) {
			json_decref(root);
			return NULL;
		}
		s->rename_upto = s->closed_through;
		s->state_seq = seq;
		s->state_offset = seq ? s->durable : 0;
	}
	return root;
}

/* Makes MARKER in s's directory, durably. */
static int mark(struct series *s, wb_error_t *err)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/" MARKER, s->dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return wb_error_set(err, WB_ERR_IO, "create %s: %s", path,
				    strerror(errno));
	close(fd);
	int rc = fsync_dir(s->dir, err);
	if (rc == WB_OK)
		s->marked = true;
	return rc;
}

static int avrofile_checkpointed(struct wb_sink *base, wb_error_t *err)
{
	struct avrofile_sink *k = (struct avrofile_sink *)base;
	char from[PATH_MAX], to[PATH_MAX];
	for (size_t i = 0; i < k->nseries; i++) {
		struct series *s = k->series[i];
		s->ckpt_seq = s->state_seq;
		s->ckpt_offset = s->state_offset;
		if (!s->marked && (s->ckpt_seq != 0 || s->rename_upto != 0)) {
			int rc = mark(s, err);
			if (rc != WB_OK)
				return rc;
		}
		/* idle since the previous checkpoint: its buffers go */
		if (s->awake && !s->touched) {
			int rc = park(k, s, err);
			if (rc != WB_OK)
				return rc;
		}
		s->touched = false;
		if (s->renamed_through >= s->rename_upto)
			continue;
		for (uint64_t q = s->renamed_through + 1; q <= s->rename_upto;
		     q++) {
			file_path(s, q, 1, from, sizeof(from));
			file_path(s, q, 0, to, sizeof(to));
			/* Seqs never written (a failed create) have no file. */
			if (rename(from, to) != 0) {
				if (errno == ENOENT)
					continue;
				return wb_error_set(err, WB_ERR_IO,
						    "rename %s: %s", from,
						    strerror(errno));
			}
			wb_crashpoint("avrofile.renamed");
		}
		int rc = fsync_dir(s->dir, err);
		if (rc != WB_OK)
			return rc;
		s->renamed_through = s->rename_upto;
	}
	return WB_OK;
}

static int avrofile_close(struct wb_sink *base, wb_error_t *err)
{
	struct avrofile_sink *k = (struct avrofile_sink *)base;
	int rc = avrofile_flush(base, -1, err);
	if (rc != WB_OK)
		return rc;
	for (size_t i = 0; i < k->nseries; i++) {
		rc = complete_file(k, k->series[i], err);
		if (rc != WB_OK)
			return rc;
	}
	return WB_OK;
}

static int avrofile_check(struct wb_sink *base, FILE *out, wb_error_t *err)
{
	struct avrofile_sink *k = (struct avrofile_sink *)base;
	wb_error_t e = {0};
	int rc = make_dirs(k->dir, &e);
	if (rc == WB_OK) {
		char probe[PATH_MAX];
		snprintf(probe, sizeof(probe), "%s/.waybill-check-%ld", k->dir,
			 (long)getpid());
		int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0644);
		if (fd < 0) {
			rc = wb_error_set(&e, WB_ERR_IO,
					  "cannot write in %s: %s", k->dir,
					  strerror(errno));
		} else {
			close(fd);
			unlink(probe);
		}
	}
	if (rc != WB_OK) {
		fprintf(out, "FAIL sink: avro-file dir %s: %s\n", k->dir,
			e.message);
		return wb_error_set(err, rc, "%s", e.message);
	}
	fprintf(out, "ok sink: avro-file dir %s is writable (codec %s)\n",
		k->dir, wb_ocf_codec_name(k->codec));
	return WB_OK;
}

const struct wb_sink_ops wb_avrofile_sink_ops = {
	.name = "avro-file",
	.create = avrofile_create,
	.open = avrofile_open,
	.write = avrofile_write,
	.poll = avrofile_poll,
	.flush = avrofile_flush,
	.state = avrofile_state,
	.checkpointed = avrofile_checkpointed,
	.close = avrofile_close,
	.check = avrofile_check,
	.destroy = avrofile_destroy,
};
