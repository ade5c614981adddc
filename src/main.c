/* main.c — the command line: run, check, status, snapshot, schema, cat. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "avro_cat.h"
#include "avro_encode.h"
#include "avro_schema.h"
#include "checkpoint.h"
#include "cmd_status.h"
#include "crashpoint.h"
#include "config.h"
#include "log.h"
#include "mapping.h"
#include "mapping_setup.h"
#include "pipeline.h"
#include "sink.h"
#include "source.h"
#include "stop.h"

static void on_signal(int sig)
{
	(void)sig;
	wb_stop_requested = 1;
}

/* SIGTERM and SIGINT set the stop flag, which every wait watches
 * (connecting included), for every command that talks to a server. */
static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static const char usage[] =
	"usage: waybill COMMAND [OPTIONS]\n"
	"\n"
	"Change data capture: streams committed row changes of a database\n"
	"into Avro events (files or Kafka) with checkpointed offsets.\n"
	"\n"
	"commands:\n"
	"  run -c FILE [--stop-when-idle SECONDS] [--resnapshot]\n"
	"                     stream until SIGTERM/SIGINT; --resnapshot reads\n"
	"                     the captured tables again first (online), the\n"
	"                     way past a gap that `check` reports\n"
	"  check -c FILE      check configuration, connectivity, server\n"
	"                     settings and privileges; print what fixes each\n"
	"  status -c FILE     checkpoint, server position and lag, as JSON\n"
	"  snapshot -c FILE [--tables a,b]\n"
	"                     ask the pipeline (running, or at its next "
	"start)\n"
	"                     to snapshot these tables again (default: all)\n"
	"  schema -c FILE     print the Avro schemas of the captured tables\n"
	"  cat FILE.avro...   print records as JSON lines\n"
	"  mapping test MAPPING.yaml... TESTS.yaml\n"
	"                     run a mapping's test cases offline\n"
	"  mapping preview -c FILE [--limit N]\n"
	"                     the events and dead letters N current rows "
	"of\n"
	"                     each mapped table would produce (nothing "
	"published)\n"
	"  --help, --version\n"
	"\n"
	"exit codes: 0 success, 1 runtime failure, 2 usage or configuration "
	"error\n";

static int fail(const wb_error_t *err)
{
	wb_log_fatal(err->message); /* a JSON line with log_format: json */
	return wb_error_exit_code(err->code ? err->code : WB_ERR_RUNTIME);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "waybill: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "; see waybill --help\n");
	return 2;
}

struct cli {
	const char *config;
	int stop_when_idle;
	const char *tables; /* snapshot --tables */
	bool resnapshot;    /* run --resnapshot */
};

static int parse_options(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"stop-when-idle", required_argument, NULL, 'i'},
		{"tables", required_argument, NULL, 't'},
		{"resnapshot", no_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	cli->config = NULL;
	cli->stop_when_idle = -1;
	cli->tables = NULL;
	cli->resnapshot = false;
	optind = 1;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cli->config = optarg;
			break;
		case 't':
			if (strcmp(argv[0], "snapshot") != 0)
				return usage_error("--tables belongs to the "
						   "snapshot command, not %s",
						   argv[0]);
			cli->tables = optarg;
			break;
		case 'r':
			if (strcmp(argv[0], "run") != 0)
				return usage_error(
					"--resnapshot belongs to the "
					"run command, not %s",
					argv[0]);
			cli->resnapshot = true;
			break;
		case 'i': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 86400)
				return usage_error("--stop-when-idle takes "
						   "seconds (0-86400), got %s",
						   optarg);
			cli->stop_when_idle = (int)v;
			break;
		}
		default:
			return usage_error("unknown option %s",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument %s", argv[optind]);
	if (cli->config == NULL)
		return usage_error("%s needs -c FILE", argv[0]);
	return 0;
}

static struct wb_config *load_config(const char *path, wb_error_t *err)
{
	struct wb_config *cfg = wb_config_load(path, err);
	if (cfg == NULL)
		return NULL;
	if (cfg->log_level) {
		if (strcmp(cfg->log_level, "debug") == 0)
			wb_log_set_level(WB_LOG_DEBUG);
		else if (strcmp(cfg->log_level, "warn") == 0)
			wb_log_set_level(WB_LOG_WARN);
		else if (strcmp(cfg->log_level, "error") == 0)
			wb_log_set_level(WB_LOG_ERROR);
	}
	if (cfg->log_format && strcmp(cfg->log_format, "json") == 0)
		wb_log_set_json(1);
	return cfg;
}

/* Options and configuration every -c command starts with. Returns 0 with
 * *cfg loaded, or the exit code (the error already printed). */
static int command_setup(int argc, char **argv, struct cli *cli,
			 struct wb_config **cfg, wb_error_t *err)
{
	int rc = parse_options(argc, argv, cli);
	if (rc)
		return rc;
	wb_error_clear(err);
	install_signals();
	*cfg = load_config(cli->config, err);
	return *cfg ? 0 : fail(err);
}

static int cmd_run(int argc, char **argv)
{
	struct cli cli;
	struct wb_config *cfg;
	wb_error_t err;
	int rc = command_setup(argc, argv, &cli, &cfg, &err);
	if (rc)
		return rc;

	struct wb_run_options opt = {.stop_when_idle_s = cli.stop_when_idle,
				     .resnapshot = cli.resnapshot};
	rc = wb_pipeline_run(cfg, &opt, &wb_stop_requested, &err);
	wb_config_free(cfg);
	if (rc && wb_stop_requested && err.code == WB_ERR_CONNECT) {
		/* stopped while connecting: nothing was read or written */
		fprintf(stderr, "waybill: %s\n", err.message);
		return 0;
	}
	return rc ? fail(&err) : 0;
}

static int cmd_check(int argc, char **argv)
{
	struct cli cli;
	struct wb_config *cfg;
	wb_error_t err;
	int rc = command_setup(argc, argv, &cli, &cfg, &err);
	if (rc)
		return rc;
	printf("ok config: %s\n", cfg->path);

	int failed = 0;
	const struct wb_source_ops *sops = wb_source_lookup(cfg->source.type);
	const struct wb_sink_ops *kops = wb_sink_lookup(cfg->sink.type);
	if (sops == NULL || kops == NULL) {
		wb_error_set(
			&err, WB_ERR_CONFIG,
			"%s: source or sink type not supported by this build",
			cfg->path);
		wb_config_free(cfg);
		return fail(&err);
	}
	int fd = wb_checkpoint_lock(cfg->checkpoint_dir, cfg->name, &err);
	if (fd < 0) {
		printf("FAIL checkpoint: %s\n", err.message);
		failed = 1;
	} else {
		printf("ok checkpoint: %s is writable\n", cfg->checkpoint_dir);
		wb_checkpoint_unlock(fd);
	}
	struct wb_source *src = sops->create(cfg, &err);
	if (src == NULL || sops->check(src, stdout, &err) != 0) {
		if (src == NULL)
			printf("FAIL source: %s\n", err.message);
		failed = 1;
	}
	if (src && cfg->emit_mapped) {
		/* every problem in the mappings, file:line:column */
		int ntables = 0;
		wb_error_clear(&err);
		struct wb_mappings *m =
			wb_mapping_setup(cfg, src, stdout, &ntables, &err);
		if (m == NULL) {
			printf("FAIL mappings: %s\n", err.message);
			failed = 1;
		} else {
			printf("ok mappings: %d mapping(s) checked against %d "
			       "table(s)\n",
			       wb_mappings_count(m), ntables);
		}
		wb_mappings_free(m);
	}
	sops->destroy(src);
	struct wb_sink *sink = kops->create(cfg, &err);
	if (sink == NULL ||
	    (kops->check && kops->check(sink, stdout, &err) != 0)) {
		if (sink == NULL)
			printf("FAIL sink: %s\n", err.message);
		failed = 1;
	}
	if (sink)
		kops->destroy(sink);
	wb_config_free(cfg);
	printf(failed ? "problems found\n" : "all checks passed\n");
	return failed ? 1 : 0;
}

static int cmd_schema(int argc, char **argv)
{
	struct cli cli;
	struct wb_config *cfg;
	wb_error_t err;
	int rc = command_setup(argc, argv, &cli, &cfg, &err);
	if (rc)
		return rc;
	const struct wb_source_ops *sops = wb_source_lookup(cfg->source.type);
	struct wb_source *src = sops ? sops->create(cfg, &err) : NULL;
	struct wb_encoder *enc = NULL;
	struct wb_table **tables = NULL;
	if (sops == NULL || src == NULL || sops->describe == NULL) {
		if (sops == NULL || sops->describe == NULL)
			wb_error_set(
				&err, WB_ERR_CONFIG,
				"%s: source.type %s cannot describe its tables",
				cfg->path, cfg->source.type);
		rc = err.code;
		goto done;
	}
	tables = sops->describe(src, &err);
	if (tables == NULL) {
		rc = err.code;
		goto done;
	}
	struct wb_encoder_config ec = {cfg->name, cfg->topic_prefix, sops->name,
				       sops->format_position};
	enc = wb_encoder_new(&ec, &err);
	if (enc == NULL) {
		rc = err.code;
		goto done;
	}
	for (struct wb_table **t = tables; *t; t++) {
		const struct wb_table_schemas *s =
			wb_encoder_schemas(enc, *t, &err);
		if (s == NULL) {
			rc = err.code;
			goto done;
		}
		printf("# %s value (fingerprint %016llx)\n%s\n", s->topic,
		       (unsigned long long)s->value.fingerprint, s->value.json);
		if (s->key.json)
			printf("# %s key (fingerprint %016llx)\n%s\n", s->topic,
			       (unsigned long long)s->key.fingerprint,
			       s->key.json);
	}
done:
	wb_encoder_free(enc);
	for (struct wb_table **t = tables; t && *t; t++)
		wb_table_unref(*t);
	free(tables);
	if (src)
		sops->destroy(src);
	wb_config_free(cfg);
	return rc ? fail(&err) : 0;
}

/* True unless the source can list its captured tables now and `full` is
 * not among them (a server that cannot be reached does not block the
 * request: the pipeline checks again when it takes it). *list caches the
 * source's answer between calls. */
static bool captured_now(const struct wb_config *cfg, const char *full,
			 struct wb_table ***list)
{
	if (*list == NULL) {
		wb_error_t err;
		wb_error_clear(&err);
		const struct wb_source_ops *sops =
			wb_source_lookup(cfg->source.type);
		struct wb_source *src =
			sops && sops->describe ? sops->create(cfg, &err) : NULL;
		if (src)
			*list = sops->describe(src, &err);
		if (src)
			sops->destroy(src);
		if (*list == NULL) {
			fprintf(stderr,
				"waybill: cannot list the captured tables "
				"now (%s); the request is checked when the "
				"pipeline takes it\n",
				err.message[0] ? err.message : "not supported");
			static struct wb_table *none[1] = {NULL};
			*list = none;
			return true;
		}
	}
	if ((*list)[0] == NULL)
		return true;
	for (struct wb_table **t = *list; *t; t++) {
		char name[512];
		snprintf(name, sizeof(name), "%s.%s", (*t)->schema, (*t)->name);
		if (strcmp(name, full) == 0)
			return true;
	}
	return false;
}

/* Writes <checkpoint_dir>/<name>.snapshot-request (a JSON list of tables or
 * globs), merged with a request still waiting there; the pipeline's source
 * takes it within a second, or at its next start. */
static int cmd_snapshot(int argc, char **argv)
{
	struct cli cli;
	struct wb_config *cfg;
	wb_error_t err;
	int rc = command_setup(argc, argv, &cli, &cfg, &err);
	if (rc)
		return rc;
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	snprintf(path, sizeof(path), "%s/%s.snapshot-request",
		 cfg->checkpoint_dir, cfg->name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	json_error_t jerr;
	json_t *list = json_load_file(path, 0, &jerr);
	if (!json_is_array(list)) {
		json_decref(list);
		list = json_array();
	}
	struct wb_table **captured = NULL;
	char *spec = strdup(cli.tables ? cli.tables : "*");
	char *save = NULL;
	for (char *tok = spec ? strtok_r(spec, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (*tok == '\0')
			continue;
		if (!wb_config_is_glob(tok) &&
		    (strchr(tok, '.') == NULL ||
		     !wb_config_table_selected(cfg, tok))) {
			rc = wb_error_set(
				&err, WB_ERR_CONFIG,
				"--tables: %s is not a table this "
				"pipeline captures (%s: source.tables "
				"and exclude); name it schema.table",
				tok, cfg->path);
			goto done;
		}
		if (!wb_config_is_glob(tok) &&
		    !captured_now(cfg, tok, &captured)) {
			rc = wb_error_set(
				&err, WB_ERR_CONFIG,
				"--tables: table %s does not exist or "
				"is not visible to the pipeline's user",
				tok);
			goto done;
		}
		bool dup = false;
		size_t i;
		json_t *v;
		json_array_foreach(list, i, v) dup |=
			strcmp(json_string_value(v) ? json_string_value(v) : "",
			       tok) == 0;
		if (!dup)
			json_array_append_new(list, json_string(tok));
	}
	if (json_array_size(list) == 0) {
		rc = wb_error_set(&err, WB_ERR_CONFIG,
				  "--tables names no table");
		goto done;
	}
	/* created as the pipeline would: the directory may not exist yet */
	int fd = wb_checkpoint_lock(cfg->checkpoint_dir, cfg->name, &err);
	if (fd >= 0)
		wb_checkpoint_unlock(fd);
	if (json_dump_file(list, tmp, 0) != 0 || rename(tmp, path) != 0) {
		rc = wb_error_set(&err, WB_ERR_IO, "cannot write %s: %s", path,
				  strerror(errno));
		goto done;
	}
	char *text = json_dumps(list, JSON_COMPACT);
	printf("snapshot requested for %s: the running pipeline %s takes it "
	       "within a second (or its next start does); `waybill status` "
	       "shows the progress\n",
	       text ? text : "?", cfg->name);
	free(text);
done:
	for (struct wb_table **t = captured; t && *t; t++)
		wb_table_unref(*t);
	if (captured && captured[0] != NULL)
		free(captured);
	free(spec);
	json_decref(list);
	wb_config_free(cfg);
	return rc ? fail(&err) : 0;
}

static int cmd_cat(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("%s needs at least one FILE.avro", "cat");
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		wb_error_t err;
		wb_error_clear(&err);
		if (wb_avro_cat_file(argv[i], stdout, &err) != 0) {
			fflush(stdout);
			fprintf(stderr, "waybill: %s\n", err.message);
			rc = 1;
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	/* Batches are freed by the sink thread and allocated again by the
	 * source thread at a steady rate: keep that memory in the process
	 * instead of giving it back and faulting it in again (the queue's
	 * bound still caps how much there is). glibc's malloc only: without
	 * effect in the default build, which links jemalloc (it keeps freed
	 * pages for a while by itself). */
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	wb_crashpoints_init();
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("waybill %s\n", WB_VERSION);
		return 0;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "schema") == 0)
		return cmd_schema(argc - 1, argv + 1);
	if (strcmp(cmd, "snapshot") == 0)
		return cmd_snapshot(argc - 1, argv + 1);
	if (strcmp(cmd, "cat") == 0)
		return cmd_cat(argc - 1, argv + 1);
	if (strcmp(cmd, "mapping") == 0)
		return wb_mapping_cli(argc - 1, argv + 1);
	return usage_error("unknown command %s", cmd);
}
