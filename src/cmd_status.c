/* cmd_status.c — `waybill status`: what the checkpoint holds (read
 * locally, so it is shown even when the database is down), what the
 * source says (server position, slot, lag), the snapshot's progress and
 * the mappings' counts; a table on a terminal, JSON with --json. */
#include "cmd_status.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "checkpoint.h"
#include "config.h"
#include "log.h"
#include "source.h"
#include "stop.h"

static const char status_usage[] =
	"usage: waybill status -c FILE [--json | --table]\n"
	"\n"
	"The pipeline's checkpoint (read from checkpoint_dir, shown even when\n"
	"the database cannot be reached), the server's position, the\n"
	"replication slot, the lag, the snapshot's progress and the\n"
	"mappings' counts.\n"
	"\n"
	"  -c, --config FILE  the pipeline's configuration\n"
	"      --json         JSON (the default when standard output is not\n"
	"                     a terminal)\n"
	"      --table        a table for people (the default on a terminal)\n"
	"\n"
	"exit codes: 0 ok; 1 the source is unreachable or reports a problem\n"
	"(the status is printed all the same); 2 usage or configuration\n";

static void on_stop_signal(int sig)
{
	(void)sig;
	wb_stop_requested = 1;
}

/* The snapshot progress the checkpoint holds (source state "snapshot"),
 * with a percentage per table, and any request not yet recorded. */
static void add_snapshot_status(const struct wb_config *cfg, json_t *state,
				json_t *out)
{
	json_t *snap = json_object_get(state, "snapshot");
	char path[PATH_MAX];
	const char *request = NULL;
	snprintf(path, sizeof(path), "%s/%s.snapshot-request",
		 cfg->checkpoint_dir, cfg->name);
	if (access(path, F_OK) == 0)
		request = "waiting";
	snprintf(path, sizeof(path), "%s/%s.snapshot-request.taken",
		 cfg->checkpoint_dir, cfg->name);
	if (request == NULL && access(path, F_OK) == 0)
		request = "taken";
	if (!json_is_object(snap) && request == NULL)
		return;
	json_t *o = json_object();
	bool all_done = true;
	json_t *tables = json_object();
	const char *name;
	json_t *t;
	json_object_foreach(json_object_get(snap, "tables"), name, t)
	{
		bool done = json_is_true(json_object_get(t, "done"));
		json_int_t rows =
			json_integer_value(json_object_get(t, "rows"));
		json_int_t est =
			json_integer_value(json_object_get(t, "estimate"));
		json_t *row =
			json_pack("{s:b,s:I}", "done", done, "rows", rows);
		if (est >= 0)
			json_object_set_new(row, "estimate", json_integer(est));
		if (done)
			json_object_set_new(row, "percent", json_real(100.0));
		else if (est > 0)
			json_object_set_new(
				row, "percent",
				json_real(rows >= est ? 99.9
						      : (double)(rows * 1000 /
								 est) /
								10.0));
		all_done &= done;
		json_object_set_new(tables, name, row);
	}
	json_t *point = json_object_get(snap, "point");
	if (json_is_string(point))
		json_object_set(o, "point", point);
	json_object_set_new(o, "done",
			    json_boolean(all_done && request == NULL));
	json_object_set_new(o, "tables", tables);
	if (request)
		json_object_set_new(o, "request", json_string(request));
	json_object_set_new(out, "snapshot", o);
}

/* Seconds since an ISO-8601 UTC time as the checkpoint writes it
 * ("2026-12-07T03:50:00.123Z"), or -1 when it does not parse. */
static double age_of(const char *iso)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *rest = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest == NULL)
		return -1;
	double frac = 0;
	if (*rest == '.')
		frac = strtod(rest, NULL);
	time_t t = timegm(&tm);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	double age = (double)now.tv_sec + (double)now.tv_nsec / 1e9 -
		     ((double)t + frac);
	return age < 0 ? 0 : age;
}

/* One "key  value" row per leaf of v, keys joined with dots. */
static void print_rows(const char *prefix, json_t *v, FILE *out)
{
	if (json_is_object(v) && json_object_size(v) > 0) {
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x)
		{
			char key[256];
			snprintf(key, sizeof(key), "%s%s%s", prefix,
				 prefix[0] ? "." : "", k);
			print_rows(key, x, out);
		}
		return;
	}
	if (json_is_array(v) && json_array_size(v) > 0) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			/* an element with a name (a mapping) is keyed by it */
			const char *n =
				json_string_value(json_object_get(x, "name"));
			char key[256];
			if (n)
				snprintf(key, sizeof(key), "%s[%s]", prefix, n);
			else
				snprintf(key, sizeof(key), "%s[%zu]", prefix,
					 i);
			print_rows(key, x, out);
		}
		return;
	}
	char *text = NULL;
	if (json_is_string(v))
		text = strdup(json_string_value(v));
	else if (json_is_null(v))
		text = strdup("-");
	else if (json_is_real(v)) {
		if (asprintf(&text, "%.1f", json_real_value(v)) < 0)
			text = NULL;
	} else
		text = json_dumps(v, JSON_ENCODE_ANY);
	fprintf(out, "%-40s %s\n", prefix, text ? text : "?");
	free(text);
}

static void print_table(json_t *out, FILE *f)
{
	const char *k;
	json_t *v;
	json_object_foreach(out, k, v)
	{
		print_rows(k, v, f);
	}
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"table", no_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	int as_json = -1; /* -1: JSON unless standard output is a terminal */
	optind = 1;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'T':
			as_json = 0;
			break;
		case 'h':
			fputs(status_usage, stdout);
			return 0;
		default:
			fprintf(stderr,
				"waybill: unknown option %s; see waybill "
				"status --help\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc || config == NULL) {
		fprintf(stderr, "waybill: %s; see waybill status --help\n",
			config ? "unexpected argument"
			       : "status needs -c FILE");
		return 2;
	}
	if (as_json < 0)
		as_json = !isatty(STDOUT_FILENO);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	wb_error_t err;
	wb_error_clear(&err);
	struct wb_config *cfg = wb_config_load(config, &err);
	if (cfg == NULL) {
		wb_log_fatal(err.message);
		return wb_error_exit_code(err.code ? err.code : WB_ERR_CONFIG);
	}
	if (cfg->log_format && strcmp(cfg->log_format, "json") == 0)
		wb_log_set_json(1);
	if (cfg->log_level && strcmp(cfg->log_level, "debug") == 0)
		wb_log_set_level(WB_LOG_DEBUG);
	else if (cfg->log_level && strcmp(cfg->log_level, "warn") == 0)
		wb_log_set_level(WB_LOG_WARN);
	else if (cfg->log_level && strcmp(cfg->log_level, "error") == 0)
		wb_log_set_level(WB_LOG_ERROR);

	int rc = 0;
	const struct wb_source_ops *sops = wb_source_lookup(cfg->source.type);
	struct wb_checkpoint cp;
	struct wb_source *src = NULL;
	json_t *out = json_object();
	json_t *state = NULL;
	const char *problem = NULL;
	if (sops == NULL) {
		rc = wb_error_set(&err, WB_ERR_CONFIG,
				  "%s: source.type %s not supported", cfg->path,
				  cfg->source.type);
		goto done;
	}
	rc = wb_checkpoint_load(cfg->checkpoint_dir, cfg->name, sops, &cp,
				&err);
	if (rc)
		goto done;
	json_object_set_new(out, "name", json_string(cfg->name));
	if (cp.have) {
		char pos[64], ack[64];
		sops->format_position(&cp.pos, pos, sizeof(pos));
		sops->format_ack(cp.ack, ack, sizeof(ack));
		json_t *c = json_pack("{s:s,s:s,s:s}", "position", pos,
				      sops->ack_name, ack, "time", cp.time);
		double age = age_of(cp.time);
		if (age >= 0)
			json_object_set_new(
				c, "age_seconds",
				json_real((double)(long)(age * 10) / 10));
		json_object_set_new(out, "checkpoint", c);
	} else {
		/* before the first run: nothing delivered, nothing behind */
		json_object_set_new(out, "checkpoint", json_null());
	}
	add_snapshot_status(cfg, cp.source, out);
	/* the mappings' counts: events and dead letters per mapping */
	json_t *maps =
		cp.source ? json_object_get(cp.source, "mappings") : NULL;
	if (json_is_array(maps))
		json_object_set(out, "mappings", maps);
	state = cp.source ? json_incref(cp.source) : NULL;
	struct wb_source_resume resume = {
		.have = cp.have, .pos = cp.pos, .ack = cp.ack, .state = state};
	wb_checkpoint_clear(&cp);
	src = sops->create(cfg, &err);
	if (src == NULL) {
		rc = err.code;
		goto done;
	}
	json_t *s = json_object();
	json_object_set_new(out, "source", s);
	if (sops->status(src, &resume, s, &err) != 0) {
		if (err.code == WB_ERR_CONFIG || wb_stop_requested) {
			rc = err.code;
			goto done;
		}
		/* the database is down or refuses us: the local part stands */
		json_object_clear(s);
		json_object_set_new(s, "type", json_string(cfg->source.type));
		json_object_set_new(s, "reachable", json_false());
		json_object_set_new(s, "error", json_string(err.message));
		problem = "the source cannot be reached; the checkpoint above "
			  "is the local one";
	} else {
		json_object_set_new(s, "reachable", json_true());
		problem = json_string_value(json_object_get(s, "problem"));
	}
	if (as_json) {
		char *text =
			json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
						JSON_REAL_PRECISION(12));
		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		print_table(out, stdout);
	}
	/* A source that sees the pipeline unable to continue (PG: the slot
	 * missing or invalidated while a checkpoint exists), or that cannot
	 * be reached, says so: the status is printed all the same, and the
	 * exit code is 1. */
	if (problem) {
		fflush(stdout);
		const char *e = json_string_value(json_object_get(s, "error"));
		char line[1600];
		if (e)
			snprintf(line, sizeof(line),
				 "%s: %s; is the server running and "
				 "reachable? `waybill check -c %s` tests the "
				 "connection and the privileges",
				 problem, e, cfg->path);
		else
			snprintf(line, sizeof(line), "%s", problem);
		wb_log_fatal(line);
		rc = -1;
	}
done:
	if (sops && src)
		sops->destroy(src);
	json_decref(out);
	json_decref(state);
	wb_config_free(cfg);
	if (rc == -1)
		return 1;
	if (rc) {
		wb_log_fatal(err.message);
		return wb_error_exit_code(rc);
	}
	return 0;
}
