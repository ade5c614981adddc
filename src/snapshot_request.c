/* snapshot_request.c — taking `waybill snapshot --tables` requests. */
#include "snapshot_request.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fsutil.h"
#include "log.h"

void wb_snapshot_request_init(struct wb_snapshot_request *r,
			      const struct wb_config *cfg,
			      const char *component)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->request_path, sizeof(r->request_path),
		 "%s/%s.snapshot-request", cfg->checkpoint_dir, cfg->name);
	snprintf(r->taken_path, sizeof(r->taken_path),
		 "%s/%s.snapshot-request.taken", cfg->checkpoint_dir,
		 cfg->name);
	r->component = component;
	pthread_mutex_init(&r->mu, NULL);
}

void wb_snapshot_request_destroy(struct wb_snapshot_request *r)
{
	pthread_mutex_destroy(&r->mu);
}

static json_t *load_list(const char *path)
{
	json_error_t jerr;
	json_t *v = json_load_file(path, 0, &jerr);
	if (v && !json_is_array(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* Writes v to tmp, fsyncs it, renames it to path and fsyncs the
 * directory. 0 or -1 with errno. */
static int write_durably(const json_t *v, const char *tmp, const char *path)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (json_dumpfd(v, fd, 0) != 0 || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		errno = e ? e : EIO;
		return -1;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0)
		return -1;
	return wb_fsync_parent(path);
}

int wb_snapshot_request_poll(struct wb_snapshot_request *r, long long now_ms,
			     int (*mark)(void *ctx, const char *pattern,
					 wb_error_t *err),
			     void *ctx, bool *taken, wb_error_t *err)
{
	*taken = false;
	if (now_ms - r->last_ms < 1000)
		return WB_OK;
	r->last_ms = now_ms;
	if (access(r->request_path, F_OK) != 0 &&
	    access(r->taken_path, F_OK) != 0)
		return WB_OK;
	json_t *req = load_list(r->request_path);
	json_t *old = load_list(r->taken_path);
	if (req == NULL && old == NULL) {
		if (access(r->request_path, F_OK) == 0) {
			wb_warn(r->component,
				"%s is not a JSON list of tables; ignored",
				r->request_path);
			unlink(r->request_path);
		}
		return WB_OK;
	}
	json_t *all = json_array();
	int rc = WB_OK;
	if (all == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto done;
	}
	if (old)
		json_array_extend(all, old);
	if (req)
		json_array_extend(all, req);
	if (req) {
		char tmp[PATH_MAX + 8];
		snprintf(tmp, sizeof(tmp), "%s.tmp", r->taken_path);
		if (write_durably(all, tmp, r->taken_path) != 0) {
			rc = wb_error_set(err, WB_ERR_IO, "cannot write %s: %s",
					  r->taken_path, strerror(errno));
			goto done;
		}
		unlink(r->request_path);
	}
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v)
	{
		const char *pattern = json_string_value(v);
		int n = pattern ? mark(ctx, pattern, err) : 0;
		if (n < 0) {
			rc = -n;
			goto done;
		}
		if (n == 0)
			wb_warn(r->component,
				"snapshot request: %s names no captured "
				"table; skipped",
				pattern ? pattern : "(not a text)");
		else
			*taken = true;
	}
	if (*taken) {
		pthread_mutex_lock(&r->mu);
		r->taken_gen++;
		pthread_mutex_unlock(&r->mu);
		wb_info(r->component, "took snapshot request %s",
			r->request_path);
	} else {
		unlink(r->taken_path);
	}
done:
	json_decref(all);
	json_decref(req);
	json_decref(old);
	return rc;
}

void wb_snapshot_request_recorded(struct wb_snapshot_request *r)
{
	pthread_mutex_lock(&r->mu);
	r->recorded_gen = r->taken_gen;
	pthread_mutex_unlock(&r->mu);
}

void wb_snapshot_request_acked(struct wb_snapshot_request *r)
{
	pthread_mutex_lock(&r->mu);
	if (r->recorded_gen == r->taken_gen &&
	    r->recorded_gen > r->removed_gen) {
		unlink(r->taken_path);
		r->removed_gen = r->recorded_gen;
	}
	pthread_mutex_unlock(&r->mu);
}
