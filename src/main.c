/* main.c — the waybill command line: run, check, status, schema, cat. */
#include <getopt.h>
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
#include "config.h"
#include "log.h"
#include "pipeline.h"
#include "sink.h"
#include "source.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const char usage[] =
	"usage: waybill COMMAND [OPTIONS]\n"
	"\n"
	"Change data capture: streams committed row changes of a database\n"
	"into Avro events (files or Kafka) with checkpointed offsets.\n"
	"\n"
	"commands:\n"
	"  run -c FILE [--stop-when-idle SECONDS]  stream until SIGTERM/SIGINT\n"
	"  check -c FILE      check configuration, connectivity, server\n"
	"                     settings and privileges; print what fixes each\n"
	"  status -c FILE     checkpoint, server position and lag, as JSON\n"
	"  schema -c FILE     print the Avro schemas of the captured tables\n"
	"  cat FILE.avro...   print records as JSON lines\n"
	"  --help, --version\n"
	"\n"
	"exit codes: 0 success, 1 runtime failure, 2 usage or configuration error\n";

static int fail(const wb_error_t *err)
{
	fprintf(stderr, "waybill: %s\n", err->message);
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
};

static int parse_options(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"stop-when-idle", required_argument, NULL, 'i'},
		{NULL, 0, NULL, 0},
	};
	cli->config = NULL;
	cli->stop_when_idle = -1;
	optind = 1;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cli->config = optarg;
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

static int cmd_run(int argc, char **argv)
{
	struct cli cli;
	int rc = parse_options(argc, argv, &cli);
	if (rc)
		return rc;
	wb_error_t err;
	wb_error_clear(&err);
	struct wb_config *cfg = load_config(cli.config, &err);
	if (cfg == NULL)
		return fail(&err);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct wb_run_options opt = {cli.stop_when_idle};
	rc = wb_pipeline_run(cfg, &opt, &stop_requested, &err);
	wb_config_free(cfg);
	return rc ? fail(&err) : 0;
}

static int cmd_check(int argc, char **argv)
{
	struct cli cli;
	int rc = parse_options(argc, argv, &cli);
	if (rc)
		return rc;
	wb_error_t err;
	wb_error_clear(&err);
	struct wb_config *cfg = load_config(cli.config, &err);
	if (cfg == NULL)
		return fail(&err);
	printf("ok config: %s\n", cfg->path);

	int failed = 0;
	const struct wb_source_ops *sops = wb_source_lookup(cfg->source.type);
	const struct wb_sink_ops *kops = wb_sink_lookup(cfg->sink.type);
	if (sops == NULL || kops == NULL) {
		wb_error_set(&err, WB_ERR_CONFIG,
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
	sops->destroy(src);
	struct wb_sink *sink = kops->create(cfg, &err);
	if (sink == NULL || (kops->check && kops->check(sink, stdout, &err) != 0)) {
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

static int cmd_status(int argc, char **argv)
{
	struct cli cli;
	int rc = parse_options(argc, argv, &cli);
	if (rc)
		return rc;
	wb_error_t err;
	wb_error_clear(&err);
	struct wb_config *cfg = load_config(cli.config, &err);
	if (cfg == NULL)
		return fail(&err);
	const struct wb_source_ops *sops = wb_source_lookup(cfg->source.type);
	struct wb_checkpoint cp;
	struct wb_source *src = NULL;
	json_t *out = json_object();
	if (sops == NULL) {
		rc = wb_error_set(&err, WB_ERR_CONFIG, "%s: source.type %s not supported",
				  cfg->path, cfg->source.type);
		goto done;
	}
	rc = wb_checkpoint_load(cfg->checkpoint_dir, cfg->name, sops, &cp, &err);
	if (rc)
		goto done;
	json_object_set_new(out, "name", json_string(cfg->name));
	if (cp.have) {
		char pos[64], ack[64];
		sops->format_position(&cp.pos, pos, sizeof(pos));
		sops->format_ack(cp.ack, ack, sizeof(ack));
		json_object_set_new(out, "checkpoint",
				    json_pack("{s:s,s:s,s:s}", "position", pos,
					      sops->ack_name, ack, "time", cp.time));
	} else {
		json_object_set_new(out, "checkpoint", json_null());
	}
	struct wb_source_resume resume = {cp.have, cp.pos, cp.ack, NULL};
	wb_checkpoint_clear(&cp);
	src = sops->create(cfg, &err);
	if (src == NULL) {
		rc = err.code;
		goto done;
	}
	json_t *s = json_object();
	json_object_set_new(out, "source", s);
	rc = sops->status(src, &resume, s, &err);
	if (rc)
		goto done;
	char *text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text)
		printf("%s\n", text);
	free(text);
done:
	if (sops && src)
		sops->destroy(src);
	json_decref(out);
	wb_config_free(cfg);
	return rc ? fail(&err) : 0;
}

static int cmd_schema(int argc, char **argv)
{
	struct cli cli;
	int rc = parse_options(argc, argv, &cli);
	if (rc)
		return rc;
	wb_error_t err;
	wb_error_clear(&err);
	struct wb_config *cfg = load_config(cli.config, &err);
	if (cfg == NULL)
		return fail(&err);
	const struct wb_source_ops *sops = wb_source_lookup(cfg->source.type);
	struct wb_source *src = sops ? sops->create(cfg, &err) : NULL;
	struct wb_encoder *enc = NULL;
	struct wb_table **tables = NULL;
	if (sops == NULL || src == NULL || sops->describe == NULL) {
		if (sops == NULL || sops->describe == NULL)
			wb_error_set(&err, WB_ERR_CONFIG,
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
		const struct wb_table_schemas *s = wb_encoder_schemas(enc, *t, &err);
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
	if (strcmp(cmd, "cat") == 0)
		return cmd_cat(argc - 1, argv + 1);
	return usage_error("unknown command %s", cmd);
}
