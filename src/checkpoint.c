/* checkpoint.c — durable checkpoint files, the thread that writes them while
 * the pipeline goes on (wb_checkpoint_writer), and the pipeline lock. */
#include "checkpoint.h"

#include "crashpoint.h"
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
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

/* True when text is what format() prints for the value it parsed to (hex
 * digits compared without case): a position that does not read back as
 * written ("-1", "+5", " 0/1", an ordinal past 2^64) would resume from
 * somewhere else than the file says. */
static bool reads_back(const char *text, const char *formatted)
{
	return strcasecmp(text, formatted) == 0;
}

int wb_checkpoint_parse(const char *text, size_t len,
			const struct wb_source_ops *ops,
			struct wb_checkpoint *cp, wb_error_t *err)
{
	json_error_t jerr;
	char buf[64];
	int rc = WB_OK;

	memset(cp, 0, sizeof(*cp));
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "is corrupt (line %d: %s)", jerr.line,
				    jerr.text);
	if (!json_is_object(root)) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "is corrupt (not a JSON object)");
		goto done;
	}
	json_t *version = json_object_get(root, "version");
	if (!json_is_integer(version) || json_integer_value(version) != 1) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "has no \"version\": 1 (written by another "
				  "version of waybill?)");
		goto done;
	}
	const char *pos = json_string_value(json_object_get(root, "position"));
	const char *ack =
		json_string_value(json_object_get(root, ops->ack_name));
	if (pos == NULL || ack == NULL || ops->parse_position(pos, &cp->pos) ||
	    ops->parse_ack(ack, &cp->ack)) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "has no valid position/%s", ops->ack_name);
		goto done;
	}
	ops->format_position(&cp->pos, buf, sizeof(buf));
	if (!reads_back(pos, buf)) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "has no valid position (\"%.64s\" reads as "
				  "%s)",
				  pos, buf);
		goto done;
	}
	ops->format_ack(cp->ack, buf, sizeof(buf));
	if (!reads_back(ack, buf)) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "has no valid %s (\"%.64s\" reads as %s)",
				  ops->ack_name, ack, buf);
		goto done;
	}
	json_t *when = json_object_get(root, "time");
	json_t *sink = json_object_get(root, "sink");
	json_t *source = json_object_get(root, "source");
	if ((when && !json_is_string(when)) ||
	    (sink && !json_is_null(sink) && !json_is_object(sink)) ||
	    (source && !json_is_null(source) && !json_is_object(source))) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "is corrupt (\"time\" is not a string, or "
				  "\"source\" or \"sink\" not an object)");
		goto done;
	}
	json_t *pend = json_object_get(root, "pending");
	if (pend && !json_is_null(pend)) {
		const char *pp =
			json_string_value(json_object_get(pend, "position"));
		json_t *ps = json_object_get(pend, "source");
		json_t *pk = json_object_get(pend, "sink");
		json_t *pw = json_object_get(pend, "where");
		if (!json_is_object(pend) || pp == NULL ||
		    ops->parse_position(pp, &cp->pending_pos) ||
		    (ps && !json_is_null(ps) && !json_is_object(ps)) ||
		    (pk && !json_is_null(pk) && !json_is_object(pk)) ||
		    !json_is_object(pw)) {
			rc = wb_error_set(err, WB_ERR_RUNTIME,
					  "is corrupt (\"pending\" is not an "
					  "object with a position, source, "
					  "sink and where)");
			goto done;
		}
		ops->format_position(&cp->pending_pos, buf, sizeof(buf));
		if (!reads_back(pp, buf)) {
			rc = wb_error_set(err, WB_ERR_RUNTIME,
					  "has no valid pending position "
					  "(\"%.64s\" reads as %s)",
					  pp, buf);
			goto done;
		}
		cp->have_pending = true;
		cp->pending_source =
			json_is_object(ps) ? json_incref(ps) : NULL;
		cp->pending_sink = json_is_object(pk) ? json_incref(pk) : NULL;
		cp->pending_where = json_incref(pw);
	}
	snprintf(cp->time, sizeof(cp->time), "%s",
		 when ? json_string_value(when) : "");
	cp->sink = json_is_object(sink) ? json_incref(sink) : NULL;
	cp->source = json_is_object(source) ? json_incref(source) : NULL;
	cp->have = true;
done:
	if (rc != WB_OK)
		wb_checkpoint_clear(cp);
	json_decref(root);
	return rc;
}

/* Reads the whole file at path into *text (malloc'd, *len bytes). */
static int read_file(const char *path, char **text, size_t *len)
{
	*text = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	size_t cap = 0;
	int rc = 0;
	for (;;) {
		if (*len == cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *p = realloc(*text, ncap);
			if (p == NULL) {
				errno = ENOMEM;
				rc = -1;
				break;
			}
			*text = p;
			cap = ncap;
		}
		size_t n = fread(*text + *len, 1, cap - *len, f);
		*len += n;
		if (n == 0) {
			if (ferror(f)) {
				errno = EIO;
				rc = -1;
			}
			break;
		}
	}
	fclose(f);
	if (rc != 0) {
		free(*text);
		*text = NULL;
	}
	return rc;
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
	char *text;
	size_t len;
	if (read_file(path, &text, &len) != 0)
		return wb_error_set(err, WB_ERR_IO, "checkpoint %s: %s", path,
				    strerror(errno));
	wb_error_t perr = {0};
	int rc = wb_checkpoint_parse(text, len, ops, cp, &perr);
	free(text);
	if (rc != WB_OK)
		return wb_error_set(err, rc,
				    "checkpoint %s %s; restore it or remove it "
				    "to start over",
				    path, perr.message);
	return WB_OK;
}

static int save(const char *dir, const char *name,
		const struct wb_source_ops *ops, const wb_position_t *pos,
		uint64_t ack, json_t *source, json_t *sink, json_t *pending,
		wb_error_t *err);

int wb_checkpoint_save(const char *dir, const char *name,
		       const struct wb_source_ops *ops,
		       const wb_position_t *pos, uint64_t ack, json_t *source,
		       json_t *sink, wb_error_t *err)
{
	return save(dir, name, ops, pos, ack, source, sink, NULL, err);
}

int wb_checkpoint_save_pending(const char *dir, const char *name,
			       const struct wb_source_ops *ops,
			       const wb_position_t *pos, uint64_t ack,
			       json_t *source, json_t *sink,
			       const wb_position_t *ppos, json_t *psource,
			       json_t *psink, json_t *where, wb_error_t *err)
{
	char text[64];
	ops->format_position(ppos, text, sizeof(text));
	json_t *pending =
		json_pack("{s:s,s:O,s:O,s:O}", "position", text, "source",
			  psource ? psource : json_null(), "sink",
			  psink ? psink : json_null(), "where", where);
	if (pending == NULL)
		return wb_error_set(err, WB_ERR_NOMEM,
				    "checkpoint: out of memory");
	int rc = save(dir, name, ops, pos, ack, source, sink, pending, err);
	json_decref(pending);
	return rc;
}

/* The file's text (NUL-terminated, malloc'd), or NULL: out of memory. */
static char *render(const struct wb_source_ops *ops, const wb_position_t *pos,
		    uint64_t ack, json_t *source, json_t *sink, json_t *pending)
{
	char pos_text[64], ack_text[64], when[32];
	ops->format_position(pos, pos_text, sizeof(pos_text));
	ops->format_ack(ack, ack_text, sizeof(ack_text));
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

	json_t *root =
		json_pack("{s:i,s:s,s:s,s:s,s:O,s:O}", "version", 1, "position",
			  pos_text, ops->ack_name, ack_text, "time", when,
			  "source", source ? source : json_null(), "sink",
			  sink ? sink : json_null());
	if (root && pending && json_object_set(root, "pending", pending) != 0) {
		json_decref(root);
		root = NULL;
	}
	char *text =
		root ? json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER)
		     : NULL;
	json_decref(root);
	return text;
}

/* Writes text as <name>.json durably: tmp file, fsync, rename, fsync of
 * the directory. */
static int write_durable(const char *dir, const char *name, const char *text,
			 wb_error_t *err)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd = -1;
	path_of(tmp, sizeof(tmp), dir, name, ".json.tmp");
	path_of(path, sizeof(path), dir, name, ".json");
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
	return WB_OK;

io_error:
	wb_error_set(err, WB_ERR_IO, "cannot write checkpoint %s: %s", path,
		     strerror(errno));
	if (fd >= 0)
		close(fd);
	return WB_ERR_IO;
}

static int save(const char *dir, const char *name,
		const struct wb_source_ops *ops, const wb_position_t *pos,
		uint64_t ack, json_t *source, json_t *sink, json_t *pending,
		wb_error_t *err)
{
	char *text = render(ops, pos, ack, source, sink, pending);
	if (text == NULL)
		return wb_error_set(err, WB_ERR_NOMEM,
				    "checkpoint: out of memory");
	int rc = write_durable(dir, name, text, err);
	free(text);
	return rc;
}

/* ------------------------------------------------------------ writer */

struct wb_checkpoint_writer {
	char *dir, *name;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* guarded by mu */
	char *job;     /* text to write; NULL: none waiting */
	bool busy;     /* a save started and not yet reported */
	bool finished; /* busy, and its result is in rc/err */
	bool quit;
	int rc;
	wb_error_t err;
};

static void *writer_main(void *arg)
{
	struct wb_checkpoint_writer *w = arg;
	pthread_setname_np(pthread_self(), "wb-checkpoint");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->job == NULL && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->job == NULL)
			break;
		char *text = w->job;
		w->job = NULL;
		pthread_mutex_unlock(&w->mu);
		wb_error_t err;
		wb_error_clear(&err);
		int rc = write_durable(w->dir, w->name, text, &err);
		free(text);
		pthread_mutex_lock(&w->mu);
		w->rc = rc;
		w->err = err;
		w->finished = true;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct wb_checkpoint_writer *
wb_checkpoint_writer_new(const char *dir, const char *name, wb_error_t *err)
{
	struct wb_checkpoint_writer *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->dir = strdup(dir)) == NULL ||
	    (w->name = strdup(name)) == NULL) {
		if (w)
			free(w->dir);
		free(w);
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w->name);
		free(w->dir);
		free(w);
		wb_error_set(err, WB_ERR_RUNTIME,
			     "cannot start the checkpoint thread");
		return NULL;
	}
	return w;
}

void wb_checkpoint_writer_free(struct wb_checkpoint_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	free(w->job);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->name);
	free(w->dir);
	free(w);
}

int wb_checkpoint_writer_start(struct wb_checkpoint_writer *w,
			       const struct wb_source_ops *ops,
			       const wb_position_t *pos, uint64_t ack,
			       json_t *source, json_t *sink, wb_error_t *err)
{
	char *text = render(ops, pos, ack, source, sink, NULL);
	if (text == NULL)
		return wb_error_set(err, WB_ERR_NOMEM,
				    "checkpoint: out of memory");
	pthread_mutex_lock(&w->mu);
	if (w->busy) {
		pthread_mutex_unlock(&w->mu);
		free(text);
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "checkpoint: a save is still in progress");
	}
	w->job = text;
	w->busy = true;
	w->finished = false;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return WB_OK;
}

bool wb_checkpoint_writer_busy(struct wb_checkpoint_writer *w)
{
	pthread_mutex_lock(&w->mu);
	bool busy = w->busy;
	pthread_mutex_unlock(&w->mu);
	return busy;
}

bool wb_checkpoint_writer_done(struct wb_checkpoint_writer *w, int timeout_ms,
			       int *rc, wb_error_t *err)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	if (timeout_ms > 0) {
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&w->mu);
	while (w->busy && !w->finished && timeout_ms != 0) {
		if (timeout_ms < 0)
			pthread_cond_wait(&w->cv, &w->mu);
		else if (pthread_cond_timedwait(&w->cv, &w->mu, &until) ==
			 ETIMEDOUT)
			break;
	}
	bool done = w->busy && w->finished;
	if (done) {
		*rc = w->rc;
		if (w->rc != WB_OK)
			*err = w->err;
		w->busy = false;
		w->finished = false;
	}
	pthread_mutex_unlock(&w->mu);
	return done;
}

void wb_checkpoint_clear(struct wb_checkpoint *cp)
{
	json_decref(cp->sink);
	json_decref(cp->source);
	json_decref(cp->pending_source);
	json_decref(cp->pending_sink);
	json_decref(cp->pending_where);
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
