/* ocf.c — Avro Object Container File writer: header, blocks, codecs. */
#include "ocf.h"

#include <errno.h>
#include <fcntl.h>
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

struct wb_ocf_writer {
	int fd;
	char *path;
	char *schema_json;
	enum wb_ocf_codec codec;
	int level;
	size_t block_bytes;
	uint8_t sync[OCF_SYNC_LEN];
	int64_t offset;	     /* bytes in the file */
	struct wb_buf block; /* records of the pending block, uncompressed */
	int64_t count;	     /* records in block */
	struct wb_buf comp;  /* compressed block, reused */
	ZSTD_CCtx *zctx;
	z_stream zs;
	int zs_ready;
};

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
	wb_buf_init(&w->comp);
	w->path = strdup(path);
	if (w->path == NULL)
		goto nomem;
	if (codec == WB_OCF_ZSTD) {
		w->zctx = ZSTD_createCCtx();
		if (w->zctx == NULL)
			goto nomem;
	} else if (codec == WB_OCF_DEFLATE) {
		if (level < 0 || level > 9)
			level = Z_DEFAULT_COMPRESSION;
		/* windowBits -15: raw deflate, as the specification asks. */
		if (deflateInit2(&w->zs, level, Z_DEFLATED, -15, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			goto nomem;
		w->zs_ready = 1;
	}
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

/* Appends to the file at w->offset; on failure cuts the file back so no
 * partial block stays behind. */
static int writer_put(struct wb_ocf_writer *w, struct iovec *iov, int n,
		      wb_error_t *err)
{
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (write_all(w->fd, iov, n) != 0) {
		int e = errno;
		if (ftruncate(w->fd, w->offset) == 0)
			(void)lseek(w->fd, w->offset, SEEK_SET);
		return wb_error_set(err, WB_ERR_IO, "write %s: %s", w->path,
				    strerror(e));
	}
	w->offset += (int64_t)total;
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

int wb_ocf_append(struct wb_ocf_writer *w, const void *rec, size_t len,
		  wb_error_t *err)
{
	size_t before = w->block.len;
	wb_buf_append(&w->block, rec, len);
	if (w->block.failed) {
		w->block.failed = 0;
		return wb_error_set(err, WB_ERR_NOMEM,
				    "%s: out of memory for the block buffer",
				    w->path);
	}
	w->count++;
	if (w->block.len < w->block_bytes)
		return WB_OK;
	int rc = wb_ocf_write_block(w, err);
	if (rc != WB_OK) {
		/* The caller sees a failure, so the record must not stay. */
		w->block.len = before;
		w->count--;
	}
	return rc;
}

/* Compresses the pending block into w->comp; returns the data to write. */
static int compress_block(struct wb_ocf_writer *w, const uint8_t **data,
			  size_t *len, wb_error_t *err)
{
	if (w->codec == WB_OCF_NULL) {
		*data = w->block.data;
		*len = w->block.len;
		return WB_OK;
	}
	wb_buf_reset(&w->comp);
	if (w->codec == WB_OCF_ZSTD) {
		size_t bound = ZSTD_compressBound(w->block.len);
		if (wb_buf_reserve(&w->comp, bound) != 0)
			goto nomem;
		size_t r = ZSTD_compressCCtx(w->zctx, w->comp.data, w->comp.cap,
					     w->block.data, w->block.len,
					     w->level);
		if (ZSTD_isError(r))
			return wb_error_set(err, WB_ERR_RUNTIME, "%s: zstd: %s",
					    w->path, ZSTD_getErrorName(r));
		w->comp.len = r;
	} else {
		if (deflateReset(&w->zs) != Z_OK)
			return wb_error_set(err, WB_ERR_RUNTIME,
					    "%s: deflateReset failed", w->path);
		uLong bound = deflateBound(&w->zs, (uLong)w->block.len);
		if (wb_buf_reserve(&w->comp, bound) != 0)
			goto nomem;
		w->zs.next_in = w->block.data;
		w->zs.avail_in = (uInt)w->block.len;
		w->zs.next_out = w->comp.data;
		w->zs.avail_out = (uInt)w->comp.cap;
		int r = deflate(&w->zs, Z_FINISH);
		if (r != Z_STREAM_END)
			return wb_error_set(err, WB_ERR_RUNTIME,
					    "%s: deflate failed (%d)", w->path,
					    r);
		w->comp.len = w->comp.cap - w->zs.avail_out;
	}
	*data = w->comp.data;
	*len = w->comp.len;
	return WB_OK;
nomem:
	w->comp.failed = 0;
	return wb_error_set(err, WB_ERR_NOMEM, "%s: out of memory", w->path);
}

int wb_ocf_write_block(struct wb_ocf_writer *w, wb_error_t *err)
{
	if (w->count == 0)
		return WB_OK;
	const uint8_t *data = NULL;
	size_t len = 0;
	int rc = compress_block(w, &data, &len, err);
	if (rc != WB_OK)
		return rc;
	uint8_t head[20];
	struct wb_buf hb = {head, 0, sizeof(head), 0};
	wb_avro_put_long(&hb, w->count);
	wb_avro_put_long(&hb, (int64_t)len);
	struct iovec iov[3] = {
		{head, hb.len},
		{(void *)data, len},
		{w->sync, OCF_SYNC_LEN},
	};
	rc = writer_put(w, iov, 3, err);
	if (rc != WB_OK)
		return rc;
	wb_buf_reset(&w->block);
	w->count = 0;
	return WB_OK;
}

int wb_ocf_sync(struct wb_ocf_writer *w, wb_error_t *err)
{
	if (fsync(w->fd) != 0)
		return wb_error_set(err, WB_ERR_IO, "fsync %s: %s", w->path,
				    strerror(errno));
	return WB_OK;
}

int64_t wb_ocf_offset(const struct wb_ocf_writer *w)
{
	return w->offset;
}
size_t wb_ocf_pending(const struct wb_ocf_writer *w)
{
	return w->block.len;
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
	if (close(w->fd) != 0 && rc == WB_OK)
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
	if (w->fd >= 0)
		close(w->fd);
	if (w->zs_ready)
		deflateEnd(&w->zs);
	ZSTD_freeCCtx(w->zctx);
	wb_buf_free(&w->block);
	wb_buf_free(&w->comp);
	free(w->schema_json);
	free(w->path);
	free(w);
}
