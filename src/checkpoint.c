/* checkpoint.c — durable checkpoint files and the pipeline lock. */
#include "checkpoint.h"

#include "crashpoint.h"
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void path_of(char *buf, size_t n, const char *dir, const char *name,
		    const char *suffix)
{
	snprintf(buf, n, "%s/%s%s", dir, name, suffix);
}

int wb_checkpoint_load(const char *dir, const char *name,
		       const struct wb_source_ops *ops,
		       struct wb_checkpoint *cp, wb_error_t *err)
{
	char path[PATH_MAX];
	memset(cp, 0, sizeof(*cp));
	path_of(path, sizeof(path), dir, name, ".json");
	if (access(path, F_OK) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return WB_OK;
		return wb_error_set(err, WB_ERR_IO, "checkpoint %s: %s", path,
				    strerror(errno));
	}
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (root == NULL)
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "checkpoint %s is corrupt (line %d: %s); "
				    "restore it or remove it to start over",
				    path, jerr.line, jerr.text);
	const char *pos = json_string_value(json_object_get(root, "position"));
	const char *ack =
		json_string_value(json_object_get(root, ops->ack_name));
	if (pos == NULL || ack == NULL || ops->parse_position(pos, &cp->pos) ||
	    ops->parse_ack(ack, &cp->ack)) {
		json_decref(root);
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "checkpoint %s has no valid position/ack; "
				    "restore it or remove it to start over",
				    path);
	}
	const char *when = json_string_value(json_object_get(root, "time"));
	snprintf(cp->time, sizeof(cp->time), "%s", when ? when : "");
	json_t *sink = json_object_get(root, "sink");
	cp->sink = sink && !json_is_null(sink) ? json_incref(sink) : NULL;
	json_t *source = json_object_get(root, "source");
	cp->source =
		source && !json_is_null(source) ? json_incref(source) : NULL;
	cp->have = true;
	json_decref(root);
	return WB_OK;
}

int wb_checkpoint_save(const char *dir, const char *name,
		       const struct wb_source_ops *ops,
		       const wb_position_t *pos, uint64_t ack, json_t *source,
		       json_t *sink, wb_error_t *err)
{
	char tmp[PATH_MAX], path[PATH_MAX], pos_text[64], ack_text[64],
		when[32];
	int rc = WB_OK, fd = -1;
	char *text = NULL;
	json_t *root = NULL;

	path_of(tmp, sizeof(tmp), dir, name, ".json.tmp");
	path_of(path, sizeof(path), dir, name, ".json");
	ops->format_position(pos, pos_text, sizeof(pos_text));
	ops->format_ack(ack, ack_text, sizeof(ack_text));
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

	root = json_pack("{s:i,s:s,s:s,s:s,s:O,s:O}", "version", 1, "position",
			 pos_text, ops->ack_name, ack_text, "time", when,
			 "source", source ? source : json_null(), "sink",
			 sink ? sink : json_null());
	text = root ? json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER)
		    : NULL;
	if (text == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM,
				  "checkpoint: out of memory");
		goto done;
	}
	size_t len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto io_error;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto io_error;
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) != 0)
		goto io_error;
	wb_crashpoint("checkpoint.tmp_synced");
	if (close(fd) != 0) {
		fd = -1;
		goto io_error;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto io_error;
	wb_crashpoint("checkpoint.renamed");
	if (wb_fsync_dir(dir) != 0)
		goto io_error;
	goto done;

io_error:
	rc = wb_error_set(err, WB_ERR_IO, "cannot write checkpoint %s: %s",
			  path, strerror(errno));
	if (fd >= 0)
		close(fd);
done:
	free(text);
	json_decref(root);
	return rc;
}

void wb_checkpoint_clear(struct wb_checkpoint *cp)
{
	json_decref(cp->sink);
	json_decref(cp->source);
	memset(cp, 0, sizeof(*cp));
}

int wb_checkpoint_lock(const char *dir, const char *name, wb_error_t *err)
{
	char path[PATH_MAX];
	if (wb_mkdir_durable(dir) != 0) {
		wb_error_set(err, WB_ERR_IO,
			     "cannot create checkpoint directory %s: %s; "
			     "set checkpoint_dir to a writable directory",
			     dir, strerror(errno));
		return -1;
	}
	path_of(path, sizeof(path), dir, name, ".lock");
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		wb_error_set(err, WB_ERR_IO,
			     "cannot open %s: %s; set checkpoint_dir to a "
			     "writable directory",
			     path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			wb_error_set(err, WB_ERR_RUNTIME,
				     "pipeline %s is already running (lock %s "
				     "held); stop the other waybill first",
				     name, path);
		else
			wb_error_set(err, WB_ERR_IO, "cannot lock %s: %s", path,
				     strerror(e));
		return -1;
	}
	return fd;
}

void wb_checkpoint_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
