/* ocf.h — Avro Object Container File writer (null, deflate, zstandard). */
#ifndef WB_OCF_H
#define WB_OCF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* File layout (Avro specification, "Object Container Files"):
 *   header: "Obj\x01", metadata map {avro.schema: JSON, avro.codec: name},
 *           16-byte sync marker
 *   blocks: long object count, long byte size of the (compressed) data,
 *           the data, the sync marker.
 * deflate is raw RFC 1951 (no zlib header, no checksum); zstandard is one
 * zstd frame per block. */

enum wb_ocf_codec {
	WB_OCF_NULL,
	WB_OCF_DEFLATE,
	WB_OCF_ZSTD,
};

struct wb_ocf_writer;
struct wb_ocf_pool;

/* "null" | "deflate" | "zstandard" (also "zstd") → codec; NULL = zstandard.
 * Returns WB_OK or WB_ERR_CONFIG. */
int wb_ocf_codec_parse(const char *name, enum wb_ocf_codec *out,
		       wb_error_t *err);
/* The name written into avro.codec. */
const char *wb_ocf_codec_name(enum wb_ocf_codec codec);

/* Creates path (it must not exist) and writes the header with a fresh
 * random sync marker. The header is written but not fsynced. level is the
 * codec's compression level; block_bytes the uncompressed size at which
 * wb_ocf_append writes a block. NULL + err (WB_ERR_IO) on failure. */
struct wb_ocf_writer *wb_ocf_create(const char *path, const char *schema_json,
				    enum wb_ocf_codec codec, int level,
				    size_t block_bytes, wb_error_t *err);

/* Truncates the existing file path to offset (which must cover at least the
 * header and not exceed the file's length), fsyncs it, reads its header back
 * and positions the writer to append further blocks with the same sync
 * marker and the file's own codec. When schema_json is not NULL the file's
 * schema must be exactly that JSON. NULL + err on failure. */
struct wb_ocf_writer *wb_ocf_reopen(const char *path, int64_t offset,
				    const char *schema_json, int level,
				    size_t block_bytes, wb_error_t *err);

/* Appends one Avro-binary-encoded record (copied into the block buffer);
 * writes the block when the buffer reaches block_bytes. */
int wb_ocf_append(struct wb_ocf_writer *w, const void *rec, size_t len,
		  wb_error_t *err);
/* Appends one record given in parts (their concatenation), as
 * wb_ocf_append does. A record of block_bytes or more is written at once
 * as a block of its own, after the pending records' block, compressed as
 * a stream: memory holds neither a copy of it nor its compressed form. */
int wb_ocf_append_parts(struct wb_ocf_writer *w, const struct wb_span *parts,
			size_t nparts, wb_error_t *err);
/* Encodes and writes the pending records as one block (no-op when none).
 * On a write error the file is cut back to its previous length and the
 * records stay pending, so the call can be retried. */
int wb_ocf_write_block(struct wb_ocf_writer *w, wb_error_t *err);
/* fsync(2) of what has been written so far (pending records excluded). */
int wb_ocf_sync(struct wb_ocf_writer *w, wb_error_t *err);
/* Starts writing what wb_ocf_write_block wrote out to the disk without
 * waiting (the fsync of wb_ocf_sync then waits for less): a sink with
 * several files starts them all before it waits for any. Errors are left
 * to wb_ocf_sync. */
void wb_ocf_start_writeback(struct wb_ocf_writer *w);

/* Bytes written to the file (header + complete blocks). */
int64_t wb_ocf_offset(const struct wb_ocf_writer *w);
/* Uncompressed bytes of records not yet written. */
size_t wb_ocf_pending(const struct wb_ocf_writer *w);
/* The schema JSON in the file's header (valid while w lives). */
const char *wb_ocf_schema(const struct wb_ocf_writer *w);
const char *wb_ocf_path(const struct wb_ocf_writer *w);

/* A thread that compresses and writes full blocks in the background, for
 * any number of writers: while it works on one block, the caller fills the
 * next. Free it after every writer that uses it. NULL + err on failure. */
struct wb_ocf_pool *wb_ocf_pool_new(wb_error_t *err);
void wb_ocf_pool_free(struct wb_ocf_pool *p);
/* From now on, w hands each full block to p (ignored for the null codec,
 * whose blocks need no work). The functions above keep their meaning: a
 * write, sync, close or free first waits for w's block in flight, and the
 * offset counts a block once it has been waited for; pending counts it
 * until then. */
void wb_ocf_set_pool(struct wb_ocf_writer *w, struct wb_ocf_pool *p);

/* Memory. A writer holds its block buffers (up to about block_bytes each
 * for the pending block and the block in flight), and without a pool its
 * own codec context; writers sharing a pool share the pool's two contexts
 * (one for the pool's thread, one for blocks written in line), so writers
 * of one pool must be used from one thread at a time. */

/* Writes the pending records as a block (not fsynced) and frees the block
 * buffers and the writer's own codec context; the next append allocates
 * them again. On failure nothing is freed. */
int wb_ocf_release(struct wb_ocf_writer *w, wb_error_t *err);
/* Waits for the block in flight, fsyncs what was written since the last
 * fsync, and closes the descriptor (pending records stay pending). The
 * next write or sync opens the file again by its path, so the file must
 * not be renamed while the writer is parked. */
int wb_ocf_close_fd(struct wb_ocf_writer *w, wb_error_t *err);
bool wb_ocf_has_fd(const struct wb_ocf_writer *w);
/* Bytes of memory w holds now (buffers and its own codec context). */
size_t wb_ocf_memory(const struct wb_ocf_writer *w);

/* What an existing file holds, without decompressing it. */
struct wb_ocf_extent {
	int64_t size;	 /* the file's length */
	int64_t whole;	 /* header + whole blocks (each ending in the
			    header's sync marker) from the start; 0 when the
			    header itself is not whole */
	int64_t records; /* records in those blocks */
	int64_t blocks;
};
/* Scans path from its start. WB_OK with *out filled (a bad or torn tail
 * is not an error: whole < size); an error only when the file cannot be
 * read. */
int wb_ocf_scan(const char *path, struct wb_ocf_extent *out, wb_error_t *err);

/* Writes the pending block, fsyncs and closes the file; frees w whatever the
 * outcome. */
int wb_ocf_close(struct wb_ocf_writer *w, wb_error_t *err);
/* Closes the descriptor and frees w, discarding pending records (what a
 * crash would do). Accepts NULL. */
void wb_ocf_free(struct wb_ocf_writer *w);

#endif
