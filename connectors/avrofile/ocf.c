/* ocf.c — Avro Object Container File writer: header, blocks, codecs. */
#include "ocf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "buf.h"

#define OCF_SYNC_LEN 16
/* A header bigger than this is not one we wrote. */
#define OCF_MAX_HEADER (64u << 20)

static const uint8_t ocf_magic[4] = {'O', 'b', 'j', 1};

/* What compressing a block needs: a codec context and the output buffer.
 * Made on first use. A pool holds two, one for its thread and one for the
 * writers' own thread, so that a thousand writers sharing a pool do not
 * hold a thousand zstd contexts (about 1-2 MiB each); a writer without a
 * pool has its own. */
struct ocf_codec_ctx {
	ZSTD_CCtx *zctx;
	z_stream zs;
	int zs_ready;
	int zs_level;
	struct wb_buf comp; /* compressed block, reused */
};

struct wb_ocf_writer {
	int fd; /* -1 while parked (wb_ocf_close_fd) */
	char *path;
	char *schema_json;
	enum wb_ocf_codec codec;
	int level;
	size_t block_bytes;
	uint8_t sync[OCF_SYNC_LEN];
	int64_t offset;	     /* bytes in the file, blocks in flight excluded */
	bool unsynced;	     /* bytes written since the last fsync */
	struct wb_buf block; /* records of the pending block, uncompressed */
	int64_t count;	     /* records in block */
	struct ocf_codec_ctx own; /* used when there is no pool */
	/* a full block the pool's thread compresses and writes (see "Blocks
	 * in the background" below) */
	struct wb_ocf_pool *pool;
	struct wb_buf flight; /* its records, uncompressed */
	int64_t flight_count;
	int64_t flight_at;	    /* the file offset it is written at */
	struct wb_ocf_writer *next; /* pool queue */
	/* under pool->mu */
	bool in_flight;
	int flight_rc;
	wb_error_t flight_err;
	int64_t flight_written;
};

/* One thread that compresses and writes full blocks of any number of
 * writers, in the order they were handed over. */
struct wb_ocf_pool {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work; /* a block was handed over, or stop */
	pthread_cond_t done; /* a block was written (or failed) */
	struct wb_ocf_writer *head, *tail;
	bool stop;
	struct ocf_codec_ctx thread_ctx; /* the pool's thread only */
	struct ocf_codec_ctx inline_ctx; /* blocks its writers write inline */
};

static void ctx_free(struct ocf_codec_ctx *c)
{
	ZSTD_freeCCtx(c->zctx);
	c->zctx = NULL;
	if (c->zs_ready)
		deflateEnd(&c->zs);
	c->zs_ready = 0;
	wb_buf_free(&c->comp);
}

/* Makes c ready for codec at level; 0 or -1 (out of memory). */
static int ctx_prepare(struct ocf_codec_ctx *c, enum wb_ocf_codec codec,
		       int level)
{
	if (codec == WB_OCF_ZSTD && c->zctx == NULL) {
		c->zctx = ZSTD_createCCtx();
		return c->zctx ? 0 : -1;
	}
	if (codec != WB_OCF_DEFLATE)
		return 0;
	if (level < 0 || level > 9)
		level = Z_DEFAULT_COMPRESSION;
	if (c->zs_ready && c->zs_level != level) {
		deflateEnd(&c->zs);
		c->zs_ready = 0;
	}
	if (!c->zs_ready) {
		memset(&c->zs, 0, sizeof(c->zs));
		/* windowBits -15: raw deflate, as the specification asks. */
		if (deflateInit2(&c->zs, level, Z_DEFLATED, -15, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			return -1;
		c->zs_ready = 1;
		c->zs_level = level;
	}
	return 0;
}

int wb_ocf_codec_parse(const char *name, enum wb_ocf_codec *out,
		       wb_error_t *err)
{
	if (name == NULL || strcmp(name, "zstandard") == 0 ||
	    strcmp(name, "zstd") == 0)
		*out = WB_OCF_ZSTD;
	else if (strcmp(name, "deflate") == 0)
		*out = WB_OCF_DEFLATE;
	else if (strcmp(name, "null") == 0)
		*out = WB_OCF_NULL;
	else
		return wb_error_set(err, WB_ERR_CONFIG,
				    "sink.codec: unknown codec \"%s\" "
				    "(expected zstandard, deflate or null)",
				    name);
	return WB_OK;
}

const char *wb_ocf_codec_name(enum wb_ocf_codec codec)
{
	switch (codec) {
	case WB_OCF_DEFLATE:
		return "deflate";
	case WB_OCF_ZSTD:
		return "zstandard";
	default:
		return "null";
	}
}

static struct wb_ocf_writer *writer_alloc(const char *path,
					  enum wb_ocf_codec codec, int level,
					  size_t block_bytes, wb_error_t *err)
{
	struct wb_ocf_writer *w = calloc(1, sizeof(*w));
	if (w == NULL)
		goto nomem;
	w->fd = -1;
	w->codec = codec;
	w->level = level;
	w->block_bytes = block_bytes ? block_bytes : (1u << 20);
	wb_buf_init(&w->block);
	wb_buf_init(&w->own.comp);
	wb_buf_init(&w->flight);
	w->path = strdup(path);
	if (w->path == NULL)
		goto nomem;
	return w;
nomem:
	wb_error_set(err, WB_ERR_NOMEM, "%s: out of memory", path);
	wb_ocf_free(w);
	return NULL;
}

/* Writes every iovec fully, retrying short writes and EINTR. */
static int write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t r = writev(fd, iov, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		size_t done = (size_t)r;
		while (n > 0 && done >= iov->iov_len) {
			done -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + done;
			iov->iov_len -= done;
		}
	}
	return 0;
}

/* Appends to the file at offset at (where the descriptor stands); on
 * failure cuts the file back so no partial block stays behind. */
static int put_at(struct wb_ocf_writer *w, int64_t at, struct iovec *iov, int n,
		  int64_t *written, wb_error_t *err)
{
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (write_all(w->fd, iov, n) != 0) {
		int e = errno;
		if (ftruncate(w->fd, at) == 0)
			(void)lseek(w->fd, at, SEEK_SET);
		return wb_error_set(err, WB_ERR_IO, "write %s: %s", w->path,
				    strerror(e));
	}
	*written = (int64_t)total;
	return WB_OK;
}

static int writer_put(struct wb_ocf_writer *w, struct iovec *iov, int n,
		      wb_error_t *err)
{
	int64_t written = 0;
	int rc = put_at(w, w->offset, iov, n, &written, err);
	w->offset += written;
	if (written > 0)
		w->unsynced = true;
	return rc;
}

/* Opens the descriptor of a parked writer again, positioned at its end. */
static int ensure_fd(struct wb_ocf_writer *w, wb_error_t *err)
{
	if (w->fd >= 0)
		return WB_OK;
	int fd = open(w->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return wb_error_set(err, WB_ERR_IO, "open %s: %s", w->path,
				    strerror(errno));
	if (lseek(fd, w->offset, SEEK_SET) != w->offset) {
		int e = errno;
		close(fd);
		return wb_error_set(err, WB_ERR_IO, "seek %s: %s", w->path,
				    strerror(e));
	}
	w->fd = fd;
	return WB_OK;
}

static void put_meta(struct wb_buf *b, const char *key, const char *val)
{
	wb_avro_put_string(b, key);
	wb_avro_put_bytes(b, val, strlen(val));
}

struct wb_ocf_writer *wb_ocf_create(const char *path, const char *schema_json,
				    enum wb_ocf_codec codec, int level,
				    size_t block_bytes, wb_error_t *err)
{
	struct wb_buf hdr;
	wb_buf_init(&hdr);
	struct wb_ocf_writer *w =
		writer_alloc(path, codec, level, block_bytes, err);
	if (w == NULL)
		goto fail;
	w->schema_json = strdup(schema_json);
	if (w->schema_json == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "%s: out of memory", path);
		goto fail;
	}
	if (getrandom(w->sync, sizeof(w->sync), 0) != sizeof(w->sync)) {
		wb_error_set(err, WB_ERR_IO, "%s: getrandom: %s", path,
			     strerror(errno));
		goto fail;
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		wb_error_set(err, WB_ERR_IO, "create %s: %s", path,
			     strerror(errno));
		goto fail;
	}
	wb_buf_append(&hdr, ocf_magic, sizeof(ocf_magic));
	wb_avro_put_long(&hdr, 2);
	put_meta(&hdr, "avro.schema", schema_json);
	put_meta(&hdr, "avro.codec", wb_ocf_codec_name(codec));
	wb_avro_put_long(&hdr, 0);
	wb_buf_append(&hdr, w->sync, sizeof(w->sync));
	if (hdr.failed) {
		wb_error_set(err, WB_ERR_NOMEM, "%s: out of memory", path);
		goto fail;
	}
	struct iovec iov = {hdr.data, hdr.len};
	if (writer_put(w, &iov, 1, err) != WB_OK)
		goto fail;
	wb_buf_free(&hdr);
	return w;
fail:
	wb_buf_free(&hdr);
	wb_ocf_free(w);
	return NULL;
}

/* Header fields parsed back from a file. */
struct ocf_header {
	size_t len; /* bytes up to and including the sync marker */
	char *schema;
	char *codec;
	uint8_t sync[OCF_SYNC_LEN];
};

static char *dup_bytes(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* Returns 0 parsed, 1 needs more bytes, -1 malformed (or out of memory). */
static int parse_header(const uint8_t *p, size_t n, struct ocf_header *h)
{
	size_t pos = 0;
	if (n < 4)
		return 1;
	if (memcmp(p, ocf_magic, 4) != 0)
		return -1;
	pos = 4;
	for (;;) {
		int64_t count;
		size_t k = wb_avro_get_long(p + pos, n - pos, &count);
		if (k == 0)
			return n - pos < 10 ? 1 : -1;
		pos += k;
		if (count == 0)
			break;
		if (count < 0) {
			int64_t bytes;
			if (count == INT64_MIN)
				return -1;
			count = -count;
			k = wb_avro_get_long(p + pos, n - pos, &bytes);
			if (k == 0)
				return n - pos < 10 ? 1 : -1;
			pos += k;
		}
		for (int64_t i = 0; i < count; i++) {
			const uint8_t *kv[2];
			int64_t kl[2];
			for (int j = 0; j < 2; j++) {
				k = wb_avro_get_long(p + pos, n - pos, &kl[j]);
				if (k == 0)
					return n - pos < 10 ? 1 : -1;
				pos += k;
				if (kl[j] < 0)
					return -1;
				if ((uint64_t)kl[j] > n - pos)
					return 1;
				kv[j] = p + pos;
				pos += (size_t)kl[j];
			}
			char **dst = NULL;
			if (kl[0] == 11 &&
			    memcmp(kv[0], "avro.schema", 11) == 0)
				dst = &h->schema;
			else if (kl[0] == 10 &&
				 memcmp(kv[0], "avro.codec", 10) == 0)
				dst = &h->codec;
			if (dst) {
				free(*dst);
				*dst = dup_bytes(kv[1], (size_t)kl[1]);
				if (*dst == NULL)
					return -1;
			}
		}
	}
	if (n - pos < OCF_SYNC_LEN)
		return 1;
	memcpy(h->sync, p + pos, OCF_SYNC_LEN);
	h->len = pos + OCF_SYNC_LEN;
	return 0;
}

/* Reads the header of fd, whose usable length is limit. */
static int read_header(int fd, const char *path, int64_t limit,
		       struct ocf_header *h, wb_error_t *err)
{
	struct wb_buf b;
	wb_buf_init(&b);
	int rc = WB_OK;
	size_t want = 4096;
	for (;;) {
		if ((int64_t)want > limit)
			want = (size_t)limit;
		if (wb_buf_reserve(&b, want - b.len) != 0) {
			rc = wb_error_set(err, WB_ERR_NOMEM,
					  "%s: out of memory", path);
			goto done;
		}
		while (b.len < want) {
			ssize_t r = pread(fd, b.data + b.len, want - b.len,
					  (off_t)b.len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				rc = wb_error_set(err, WB_ERR_IO, "read %s: %s",
						  path, strerror(errno));
				goto done;
			}
			if (r == 0)
				break;
			b.len += (size_t)r;
		}
		free(h->schema);
		free(h->codec);
		h->schema = h->codec = NULL;
		int p = parse_header(b.data, b.len, h);
		if (p == 0)
			break;
		if (p < 0 || b.len < want || (int64_t)want >= limit ||
		    want >= OCF_MAX_HEADER) {
			rc = wb_error_set(err, WB_ERR_IO,
					  "%s: not an Avro object container "
					  "file (bad or truncated header)",
					  path);
			goto done;
		}
		want *= 4;
	}
	if (h->schema == NULL) {
		rc = wb_error_set(err, WB_ERR_IO,
				  "%s: header has no avro.schema", path);
		goto done;
	}
done:
	wb_buf_free(&b);
	return rc;
}

struct wb_ocf_writer *wb_ocf_reopen(const char *path, int64_t offset,
				    const char *schema_json, int level,
				    size_t block_bytes, wb_error_t *err)
{
	struct ocf_header h = {0};
	struct wb_ocf_writer *w = NULL;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		wb_error_set(err, WB_ERR_IO, "open %s: %s", path,
			     strerror(errno));
		goto fail;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		wb_error_set(err, WB_ERR_IO, "stat %s: %s", path,
			     strerror(errno));
		goto fail;
	}
	if (offset < 0 || st.st_size < offset) {
		wb_error_set(err, WB_ERR_IO,
			     "%s: file is %lld bytes, shorter than its "
			     "checkpointed length %lld (data lost behind "
			     "waybill's back?)",
			     path, (long long)st.st_size, (long long)offset);
		goto fail;
	}
	if (read_header(fd, path, offset, &h, err) != WB_OK)
		goto fail;
	if (schema_json != NULL && strcmp(schema_json, h.schema) != 0) {
		wb_error_set(err, WB_ERR_RUNTIME,
			     "%s: schema in the file differs from the expected "
			     "one",
			     path);
		goto fail;
	}
	enum wb_ocf_codec codec = WB_OCF_NULL;
	if (wb_ocf_codec_parse(h.codec ? h.codec : "null", &codec, err) !=
	    WB_OK) {
		wb_error_prefix(err, "%s", path);
		goto fail;
	}
	if (ftruncate(fd, offset) != 0 || fsync(fd) != 0 ||
	    lseek(fd, offset, SEEK_SET) != offset) {
		wb_error_set(err, WB_ERR_IO, "truncate %s to %lld: %s", path,
			     (long long)offset, strerror(errno));
		goto fail;
	}
	w = writer_alloc(path, codec, level, block_bytes, err);
	if (w == NULL)
		goto fail;
	w->fd = fd;
	fd = -1;
	w->schema_json = h.schema;
	h.schema = NULL;
	memcpy(w->sync, h.sync, OCF_SYNC_LEN);
	w->offset = offset;
	free(h.codec);
	return w;
fail:
	if (fd >= 0)
		close(fd);
	free(h.schema);
	free(h.codec);
	wb_ocf_free(w);
	return NULL;
}

int wb_ocf_scan(const char *path, struct wb_ocf_extent *out, wb_error_t *err)
{
	struct ocf_header h = {0};
	memset(out, 0, sizeof(*out));
	int rc = WB_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return wb_error_set(err, WB_ERR_IO, "open %s: %s", path,
				    strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = wb_error_set(err, WB_ERR_IO, "stat %s: %s", path,
				  strerror(errno));
		goto done;
	}
	out->size = st.st_size;
	if (read_header(fd, path, st.st_size, &h, NULL) != WB_OK)
		goto done; /* not even a whole header: whole stays 0 */
	int64_t pos = (int64_t)h.len;
	out->whole = pos;
	while (pos < st.st_size) {
		/* two longs (at most 10 bytes each), the data, the marker */
		uint8_t head[20], sync[OCF_SYNC_LEN];
		ssize_t r = pread(fd, head, sizeof(head), (off_t)pos);
		if (r <= 0)
			break;
		int64_t count, size;
		size_t a = wb_avro_get_long(head, (size_t)r, &count);
		size_t b = a ? wb_avro_get_long(head + a, (size_t)r - a, &size)
			     : 0;
		if (b == 0 || count < 0 || size < 0 || size > st.st_size - pos)
			break;
		int64_t end = pos + (int64_t)(a + b) + size + OCF_SYNC_LEN;
		if (end > st.st_size ||
		    pread(fd, sync, OCF_SYNC_LEN,
			  (off_t)(end - OCF_SYNC_LEN)) != OCF_SYNC_LEN ||
		    memcmp(sync, h.sync, OCF_SYNC_LEN) != 0)
			break;
		pos = end;
		out->whole = pos;
		out->records += count;
		out->blocks++;
	}
done:
	free(h.schema);
	free(h.codec);
	close(fd);
	return rc;
}

/* Compresses src with c; returns the data to write (in c->comp). */
static int compress_block(struct wb_ocf_writer *w, struct ocf_codec_ctx *c,
			  const struct wb_buf *src, const uint8_t **data,
			  size_t *len, wb_error_t *err)
{
	if (w->codec == WB_OCF_NULL) {
		*data = src->data;
		*len = src->len;
		return WB_OK;
	}
	if (ctx_prepare(c, w->codec, w->level) != 0)
		goto nomem;
	wb_buf_reset(&c->comp);
	if (w->codec == WB_OCF_ZSTD) {
		size_t bound = ZSTD_compressBound(src->len);
		if (wb_buf_reserve(&c->comp, bound) != 0)
			goto nomem;
		size_t r = ZSTD_compressCCtx(c->zctx, c->comp.data, c->comp.cap,
					     src->data, src->len, w->level);
		if (ZSTD_isError(r))
			return wb_error_set(err, WB_ERR_RUNTIME, "%s: zstd: %s",
					    w->path, ZSTD_getErrorName(r));
		c->comp.len = r;
	} else {
		if (deflateReset(&c->zs) != Z_OK)
			return wb_error_set(err, WB_ERR_RUNTIME,
					    "%s: deflateReset failed", w->path);
		uLong bound = deflateBound(&c->zs, (uLong)src->len);
		if (wb_buf_reserve(&c->comp, bound) != 0)
			goto nomem;
		c->zs.next_in = src->data;
		c->zs.avail_in = (uInt)src->len;
		c->zs.next_out = c->comp.data;
		c->zs.avail_out = (uInt)c->comp.cap;
		int r = deflate(&c->zs, Z_FINISH);
		if (r != Z_STREAM_END)
			return wb_error_set(err, WB_ERR_RUNTIME,
					    "%s: deflate failed (%d)", w->path,
					    r);
		c->comp.len = c->comp.cap - c->zs.avail_out;
	}
	*data = c->comp.data;
	*len = c->comp.len;
	return WB_OK;
nomem:
	c->comp.failed = 0;
	return wb_error_set(err, WB_ERR_NOMEM, "%s: out of memory", w->path);
}

/* Writes count records held in src as one block at offset at, compressed
 * with c. */
static int put_block(struct wb_ocf_writer *w, struct ocf_codec_ctx *c,
		     const struct wb_buf *src, int64_t count, int64_t at,
		     int64_t *written, wb_error_t *err)
{
	const uint8_t *data = NULL;
	size_t len = 0;
	int rc = compress_block(w, c, src, &data, &len, err);
	if (rc != WB_OK)
		return rc;
	uint8_t head[20];
	struct wb_buf hb = {head, 0, sizeof(head), 0};
	wb_avro_put_long(&hb, count);
	wb_avro_put_long(&hb, (int64_t)len);
	struct iovec iov[3] = {
		{head, hb.len},
		{(void *)data, len},
		{w->sync, OCF_SYNC_LEN},
	};
	return put_at(w, at, iov, 3, written, err);
}

/* ---- blocks in the background ----------------------------------------
 * With a pool, a full block is handed to the pool's thread, which
 * compresses and writes it while the caller fills the next one. A writer
 * has at most one block in flight. Whatever writes, syncs or frees the
 * writer first collects it (waits for it to be written); the offset counts
 * it from then on. The records of a block that failed are put back in
 * front of the pending ones, so the caller's retry writes them again. */

static void *pool_main(void *arg)
{
	struct wb_ocf_pool *p = arg;
	pthread_setname_np(pthread_self(), "wb-ocf-writer");
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		struct wb_ocf_writer *w = p->head;
		if (w == NULL)
			break; /* stopped, and nothing is left */
		p->head = w->next;
		if (p->head == NULL)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		wb_error_t err;
		wb_error_clear(&err);
		int64_t written = 0;
		int rc = put_block(w, &p->thread_ctx, &w->flight,
				   w->flight_count, w->flight_at, &written,
				   &err);
		pthread_mutex_lock(&p->mu);
		w->flight_rc = rc;
		w->flight_err = err;
		w->flight_written = written;
		w->in_flight = false;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct wb_ocf_pool *wb_ocf_pool_new(wb_error_t *err)
{
	struct wb_ocf_pool *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "avro-file: out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	if (pthread_create(&p->thread, NULL, pool_main, p) != 0) {
		pthread_cond_destroy(&p->done);
		pthread_cond_destroy(&p->work);
		pthread_mutex_destroy(&p->mu);
		free(p);
		wb_error_set(err, WB_ERR_RUNTIME,
			     "avro-file: cannot start the block writer thread");
		return NULL;
	}
	return p;
}

void wb_ocf_pool_free(struct wb_ocf_pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	ctx_free(&p->thread_ctx);
	ctx_free(&p->inline_ctx);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

void wb_ocf_set_pool(struct wb_ocf_writer *w, struct wb_ocf_pool *p)
{
	/* uncompressed blocks are written faster than handed over */
	w->pool = w->codec == WB_OCF_NULL ? NULL : p;
}

/* Waits until the pool's thread is done with w's block in flight, if any;
 * returns with pool->mu held. */
static void wait_flight(struct wb_ocf_writer *w)
{
	pthread_mutex_lock(&w->pool->mu);
	while (w->in_flight)
		pthread_cond_wait(&w->pool->done, &w->pool->mu);
}

/* Waits for the block in flight, if any, and takes its outcome. */
static int collect(struct wb_ocf_writer *w, wb_error_t *err)
{
	if (w->pool == NULL)
		return WB_OK;
	struct wb_ocf_pool *p = w->pool;
	wait_flight(w);
	int rc = w->flight_rc;
	wb_error_t e = w->flight_err;
	int64_t written = w->flight_written;
	w->flight_rc = WB_OK;
	w->flight_written = 0;
	pthread_mutex_unlock(&p->mu);
	if (w->flight.len == 0)
		return WB_OK;
	if (rc == WB_OK) {
		w->offset += written;
		w->unsynced = true;
		wb_buf_reset(&w->flight);
		w->flight_count = 0;
		return WB_OK;
	}
	/* back in front of the pending records */
	wb_buf_append(&w->flight, w->block.data, w->block.len);
	if (w->flight.failed) {
		w->flight.failed = 0;
		rc = wb_error_set(&e, WB_ERR_NOMEM,
				  "%s: out of memory for the block buffer",
				  w->path);
	} else {
		struct wb_buf t = w->block;
		w->block = w->flight;
		w->flight = t;
		w->count += w->flight_count;
	}
	wb_buf_reset(&w->flight);
	w->flight_count = 0;
	if (err)
		*err = e;
	return rc;
}

/* Hands the pending block to the pool. */
static int hand_over(struct wb_ocf_writer *w, wb_error_t *err)
{
	int rc = collect(w, err);
	if (rc == WB_OK)
		rc = ensure_fd(w, err);
	if (rc != WB_OK)
		return rc;
	struct wb_buf t = w->flight;
	w->flight = w->block;
	w->block = t;
	w->flight_count = w->count;
	w->count = 0;
	w->flight_at = w->offset;
	struct wb_ocf_pool *p = w->pool;
	pthread_mutex_lock(&p->mu);
	w->in_flight = true;
	w->next = NULL;
	if (p->tail)
		p->tail->next = w;
	else
		p->head = w;
	p->tail = w;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return WB_OK;
}

/* ---- a record larger than a block -------------------------------------
 * It is written at once as a block of its own, compressed as a stream from
 * its parts into a small buffer: neither the record nor its compressed
 * form is ever held whole. The block's head gives the compressed size
 * before the data, so the record is compressed twice: once to count the
 * bytes (the output thrown away), once to write them. Both passes feed the
 * codec the same input in the same steps, so they give the same bytes (a
 * difference is caught and the block cut off). */

#define OCF_STREAM_OUT ((size_t)256 * 1024)
/* what one deflate call takes (its counts are 32-bit) */
#define OCF_DEFLATE_STEP ((size_t)1 << 30)

/* Compresses parts with c, handing each piece of output to put (which
 * returns WB_OK or an error). */
static int stream_compress(struct wb_ocf_writer *w, struct ocf_codec_ctx *c,
			   const struct wb_span *parts, size_t nparts,
			   size_t total,
			   int (*put)(void *arg, const uint8_t *p, size_t n,
				      wb_error_t *err),
			   void *arg, wb_error_t *err)
{
	if (ctx_prepare(c, w->codec, w->level) != 0 ||
	    wb_buf_reserve(&c->comp, OCF_STREAM_OUT) != 0) {
		c->comp.failed = 0;
		return wb_error_set(err, WB_ERR_NOMEM, "%s: out of memory",
				    w->path);
	}
	uint8_t *out = c->comp.data;
	int rc = WB_OK;
	if (w->codec == WB_OCF_ZSTD) {
		ZSTD_CCtx *z = c->zctx;
		size_t r =
			ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel,
						   w->level);
		if (!ZSTD_isError(r))
			r = ZSTD_CCtx_setPledgedSrcSize(z, total);
		for (size_t i = 0; i <= nparts && !ZSTD_isError(r) && !rc;
		     i++) {
			bool last = i == nparts;
			ZSTD_inBuffer in = {last ? NULL : parts[i].p,
					    last ? 0 : parts[i].n, 0};
			ZSTD_EndDirective op =
				last ? ZSTD_e_end : ZSTD_e_continue;
			for (;;) {
				ZSTD_outBuffer o = {out, OCF_STREAM_OUT, 0};
				r = ZSTD_compressStream2(z, &o, &in, op);
				if (ZSTD_isError(r))
					break;
				if (o.pos > 0 &&
				    (rc = put(arg, out, o.pos, err)) != WB_OK)
					break;
				if (last ? r == 0 : in.pos == in.size)
					break;
			}
		}
		ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
		if (ZSTD_isError(r))
			return wb_error_set(err, WB_ERR_RUNTIME, "%s: zstd: %s",
					    w->path, ZSTD_getErrorName(r));
		return rc;
	}
	z_stream *zs = &c->zs;
	if (deflateReset(zs) != Z_OK)
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "%s: deflateReset failed", w->path);
	int zr = Z_OK;
	for (size_t i = 0; i <= nparts && rc == WB_OK; i++) {
		bool last = i == nparts;
		const uint8_t *p = last ? NULL : parts[i].p;
		size_t left = last ? 0 : parts[i].n;
		do {
			size_t step = left < OCF_DEFLATE_STEP
					      ? left
					      : OCF_DEFLATE_STEP;
			zs->next_in = (Bytef *)p;
			zs->avail_in = (uInt)step;
			int flush = last ? Z_FINISH : Z_NO_FLUSH;
			do {
				zs->next_out = out;
				zs->avail_out = (uInt)OCF_STREAM_OUT;
				zr = deflate(zs, flush);
				if (zr != Z_OK && zr != Z_STREAM_END &&
				    zr != Z_BUF_ERROR)
					return wb_error_set(
						err, WB_ERR_RUNTIME,
						"%s: deflate failed (%d)",
						w->path, zr);
				size_t got = OCF_STREAM_OUT - zs->avail_out;
				if (got > 0 &&
				    (rc = put(arg, out, got, err)) != WB_OK)
					return rc;
			} while (last ? zr != Z_STREAM_END
				      : zs->avail_out == 0);
			p += step;
			left -= step;
		} while (left > 0);
	}
	return rc;
}

static int count_out(void *arg, const uint8_t *p, size_t n, wb_error_t *err)
{
	(void)p;
	(void)err;
	*(size_t *)arg += n;
	return WB_OK;
}

/* Where the second pass writes: the file at the block's start at, and how
 * many bytes it has written. */
struct block_out {
	struct wb_ocf_writer *w;
	int64_t at;
	size_t done;
	size_t expect;
};

static int write_out(void *arg, const uint8_t *p, size_t n, wb_error_t *err)
{
	struct block_out *o = arg;
	if (o->done + n > o->expect) {
		o->done += n;
		return WB_ERR_RUNTIME; /* told by put_large */
	}
	struct iovec iov = {(void *)p, n};
	int64_t written;
	int rc = put_at(o->w, o->at, &iov, 1, &written, err);
	o->done += n;
	return rc;
}

/* Writes the record (parts, total bytes) as a block of its own at the end
 * of the file. On failure the file is cut back to where the block began. */
static int put_large(struct wb_ocf_writer *w, const struct wb_span *parts,
		     size_t nparts, size_t total, wb_error_t *err)
{
	struct ocf_codec_ctx *c = w->pool ? &w->pool->inline_ctx : &w->own;
	size_t size = total;
	int rc;
	if (w->codec != WB_OCF_NULL) {
		size = 0;
		rc = stream_compress(w, c, parts, nparts, total, count_out,
				     &size, err);
		if (rc != WB_OK)
			return rc;
	}
	uint8_t head[20];
	struct wb_buf hb = {head, 0, sizeof(head), 0};
	wb_avro_put_long(&hb, 1);
	wb_avro_put_long(&hb, (int64_t)size);
	struct iovec hv = {head, hb.len};
	int64_t at = w->offset, written = 0;
	if ((rc = put_at(w, at, &hv, 1, &written, err)) != WB_OK)
		return rc;
	if (w->codec == WB_OCF_NULL) {
		for (size_t i = 0; i < nparts && rc == WB_OK; i++) {
			struct iovec iov = {(void *)parts[i].p, parts[i].n};
			rc = put_at(w, at, &iov, 1, &written, err);
		}
	} else {
		struct block_out o = {w, at, 0, size};
		rc = stream_compress(w, c, parts, nparts, total, write_out, &o,
				     err);
		if ((rc == WB_OK || rc == WB_ERR_RUNTIME) && o.done != size)
			rc = wb_error_set(
				err, WB_ERR_RUNTIME,
				"%s: a record of %zu bytes compressed to "
				"%zu bytes, then to %zu",
				w->path, total, size, o.done);
	}
	struct iovec sv = {w->sync, OCF_SYNC_LEN};
	if (rc == WB_OK)
		rc = put_at(w, at, &sv, 1, &written, err);
	if (rc != WB_OK) {
		if (ftruncate(w->fd, at) == 0)
			(void)lseek(w->fd, at, SEEK_SET);
		return rc;
	}
	w->offset = at + (int64_t)hb.len + (int64_t)size + OCF_SYNC_LEN;
	w->unsynced = true;
	return WB_OK;
}

int wb_ocf_append_parts(struct wb_ocf_writer *w, const struct wb_span *parts,
			size_t nparts, wb_error_t *err)
{
	size_t len = 0;
	for (size_t i = 0; i < nparts; i++)
		len += parts[i].n;
	if (len >= w->block_bytes) {
		/* the pending records first, in their own block */
		int rc = wb_ocf_write_block(w, err);
		if (rc == WB_OK)
			rc = ensure_fd(w, err);
		return rc == WB_OK ? put_large(w, parts, nparts, len, err) : rc;
	}
	if (wb_buf_reserve(&w->block, len) != 0) {
		w->block.failed = 0;
		return wb_error_set(err, WB_ERR_NOMEM,
				    "%s: out of memory for the block buffer",
				    w->path);
	}
	for (size_t i = 0; i < nparts; i++)
		wb_buf_append(&w->block, parts[i].p, parts[i].n);
	w->count++;
	if (w->block.len < w->block_bytes)
		return WB_OK;
	int rc = w->pool ? hand_over(w, err) : wb_ocf_write_block(w, err);
	if (rc != WB_OK) {
		/* The caller sees a failure, so the record must not stay; it
		 * is the last one pending (a failed block in flight went back
		 * in front). */
		w->block.len -= len;
		w->count--;
	}
	return rc;
}

int wb_ocf_append(struct wb_ocf_writer *w, const void *rec, size_t len,
		  wb_error_t *err)
{
	struct wb_span one = {rec, len};
	return wb_ocf_append_parts(w, &one, 1, err);
}

int wb_ocf_write_block(struct wb_ocf_writer *w, wb_error_t *err)
{
	int rc = collect(w, err);
	if (rc != WB_OK || w->count == 0)
		return rc;
	if ((rc = ensure_fd(w, err)) != WB_OK)
		return rc;
	int64_t written = 0;
	rc = put_block(w, w->pool ? &w->pool->inline_ctx : &w->own, &w->block,
		       w->count, w->offset, &written, err);
	if (rc != WB_OK)
		return rc;
	w->offset += written;
	w->unsynced = true;
	wb_buf_reset(&w->block);
	w->count = 0;
	return WB_OK;
}

int wb_ocf_sync(struct wb_ocf_writer *w, wb_error_t *err)
{
	int rc = collect(w, err);
	if (rc != WB_OK || !w->unsynced)
		return rc;
	if ((rc = ensure_fd(w, err)) != WB_OK)
		return rc;
	if (fsync(w->fd) != 0)
		return wb_error_set(err, WB_ERR_IO, "fsync %s: %s", w->path,
				    strerror(errno));
	w->unsynced = false;
	return WB_OK;
}

void wb_ocf_start_writeback(struct wb_ocf_writer *w)
{
	if (w->unsynced && w->fd >= 0)
		(void)sync_file_range(w->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

int wb_ocf_release(struct wb_ocf_writer *w, wb_error_t *err)
{
	int rc = wb_ocf_write_block(w, err);
	if (rc != WB_OK)
		return rc;
	wb_buf_free(&w->block);
	wb_buf_free(&w->flight);
	ctx_free(&w->own);
	return WB_OK;
}

int wb_ocf_close_fd(struct wb_ocf_writer *w, wb_error_t *err)
{
	int rc = wb_ocf_sync(w, err); /* also waits for the block in flight */
	if (rc != WB_OK || w->fd < 0)
		return rc;
	int fd = w->fd;
	w->fd = -1;
	if (close(fd) != 0)
		return wb_error_set(err, WB_ERR_IO, "close %s: %s", w->path,
				    strerror(errno));
	return WB_OK;
}

bool wb_ocf_has_fd(const struct wb_ocf_writer *w)
{
	return w->fd >= 0;
}

size_t wb_ocf_memory(const struct wb_ocf_writer *w)
{
	return w->block.cap + w->flight.cap + w->own.comp.cap +
	       (w->own.zctx ? ZSTD_sizeof_CCtx(w->own.zctx) : 0);
}

int64_t wb_ocf_offset(const struct wb_ocf_writer *w)
{
	return w->offset;
}
size_t wb_ocf_pending(const struct wb_ocf_writer *w)
{
	return w->block.len + w->flight.len;
}
const char *wb_ocf_schema(const struct wb_ocf_writer *w)
{
	return w->schema_json;
}
const char *wb_ocf_path(const struct wb_ocf_writer *w)
{
	return w->path;
}

int wb_ocf_close(struct wb_ocf_writer *w, wb_error_t *err)
{
	int rc = wb_ocf_write_block(w, err);
	if (rc == WB_OK)
		rc = wb_ocf_sync(w, err);
	if (w->fd >= 0 && close(w->fd) != 0 && rc == WB_OK)
		rc = wb_error_set(err, WB_ERR_IO, "close %s: %s", w->path,
				  strerror(errno));
	w->fd = -1;
	wb_ocf_free(w);
	return rc;
}

void wb_ocf_free(struct wb_ocf_writer *w)
{
	if (w == NULL)
		return;
	if (w->pool) {
		wait_flight(w); /* the pool's thread may still be writing it */
		pthread_mutex_unlock(&w->pool->mu);
	}
	if (w->fd >= 0)
		close(w->fd);
	ctx_free(&w->own);
	wb_buf_free(&w->block);
	wb_buf_free(&w->flight);
	free(w->schema_json);
	free(w->path);
	free(w);
}
