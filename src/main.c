/* main.c — the command line: run, check, status, snapshot, schema, cat. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
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
	"  run -c FILE [--stop-when-idle SECONDS] [--endpos POSITION]\n"
	"      [--resnapshot]\n"
	"                     stream until SIGTERM/SIGINT; --resnapshot reads\n"
	"                     the captured tables again first (online), the\n"
	"                     way past a gap that `check` reports\n"
	"  check -c FILE [--offline]\n"
	"                     check configuration, connectivity, server\n"
	"                     settings and privileges; print what fixes each\n"
	"  status -c FILE     checkpoint, server position and lag, as JSON\n"
	"  snapshot -c FILE [--tables a,b]\n"
	"                     ask the pipeline (running, or at its next "
	"start)\n"
	"                     to snapshot these tables again (default: all)\n"
	"  schema -c FILE     print the Avro schemas of the captured tables\n"
	"  cat [--follow] [--count N] [--from POSITION] FILE.avro...|-\n"
	"                     print records as JSON lines\n"
	"  slot list|drop -c FILE [--slot NAME] [--yes]\n"
	"                     the server's replication slots (PostgreSQL)\n"
	"  mapping test MAPPING.yaml... TESTS.yaml\n"
	"                     run a mapping's test cases offline\n"
	"  mapping preview -c FILE [--limit N]\n"
	"                     the events and dead letters N current rows "
	"of\n"
	"                     each mapped table would produce (nothing "
	"published)\n"
	"  -h, --help         this text; `waybill COMMAND --help` for one "
	"command\n"
	"  -V, --version      print the version\n"
	"\n"
	"exit codes: 0 success, 1 runtime failure, 2 usage or configuration "
	"error\n";

/* `waybill COMMAND --help`: printed to stdout, exit 0. */
static const struct {
	const char *name;
	const char *text;
} command_help[] = {
	{"run",
	 "usage: waybill run -c FILE [--stop-when-idle SECONDS]\n"
	 "                   [--endpos POSITION] [--resnapshot]\n"
	 "\n"
	 "Streams the pipeline FILE describes until SIGTERM or SIGINT, "
	 "then\n"
	 "drains what is in flight, checkpoints and exits 0. Under systemd\n"
	 "(Type=notify) it reports READY=1, WATCHDOG=1 and STATUS=.\n"
	 "\n"
	 "  -c, --config FILE        the pipeline's YAML configuration\n"
	 "  --stop-when-idle SECONDS exit 0 once everything up to the "
	 "source's\n"
	 "                           end is checkpointed and no change came "
	 "for\n"
	 "                           SECONDS\n"
	 "  --endpos POSITION        exit 0 once every change at or before\n"
	 "                           POSITION is delivered and checkpointed;\n"
	 "                           nothing after it is written. PostgreSQL: "
	 "an\n"
	 "                           LSN (0/16B3748: transactions committed "
	 "at\n"
	 "                           or before it); MySQL: FILENUMBER:OFFSET\n"
	 "                           (000042:1234: transactions that start\n"
	 "                           before it); or a source.position of an\n"
	 "                           event\n"
	 "  --resnapshot             read the captured tables again first\n"
	 "                           (online): the way past a gap\n"
	 "\n"
	 "exit codes: 0 stopped cleanly, 1 runtime failure, 2 usage or\n"
	 "configuration error\n"},
	{"check",
	 "usage: waybill check -c FILE [--offline]\n"
	 "\n"
	 "Checks the configuration, the checkpoint directory, the source\n"
	 "(connectivity, server settings, privileges), the mappings against\n"
	 "the captured tables and the sink; prints one line per check, and\n"
	 "for each problem what fixes it.\n"
	 "\n"
	 "  -c, --config FILE  the pipeline's YAML configuration\n"
	 "  --offline          validate the configuration and the mapping "
	 "files\n"
	 "                     only, without connecting to any server\n"
	 "\n"
	 "exit codes: 0 all checks passed, 1 a check failed, 2 the\n"
	 "configuration (or, with --offline, a mapping) is invalid\n"},
	{"status",
	 "usage: waybill status -c FILE\n"
	 "\n"
	 "Prints the checkpoint, the snapshot progress, the server's "
	 "position\n"
	 "and the lag as JSON.\n"
	 "\n"
	 "  -c, --config FILE  the pipeline's YAML configuration\n"
	 "\n"
	 "exit codes: 0 printed, 1 the server cannot be reached or the\n"
	 "pipeline cannot continue (a gap), 2 configuration error\n"},
	{"snapshot",
	 "usage: waybill snapshot -c FILE [--tables a,b]\n"
	 "\n"
	 "Asks the pipeline (running, or at its next start) to snapshot\n"
	 "tables again, online.\n"
	 "\n"
	 "  -c, --config FILE  the pipeline's YAML configuration\n"
	 "  --tables LIST      schema.table names or globs, comma-separated\n"
	 "                     (default: every captured table)\n"
	 "\n"
	 "exit codes: 0 requested, 1 runtime failure, 2 a table the pipeline\n"
	 "does not capture, or a configuration error\n"},
	{"schema",
	 "usage: waybill schema -c FILE\n"
	 "\n"
	 "Prints the Avro key and value schemas of the captured tables.\n"
	 "\n"
	 "  -c, --config FILE  the pipeline's YAML configuration\n"
	 "\n"
	 "exit codes: 0 printed, 1 runtime failure, 2 configuration error\n"},
	{"cat",
	 "usage: waybill cat [--follow] [--count N] [--from POSITION] "
	 "FILE.avro...\n"
	 "       waybill cat [--count N] [--from POSITION] -\n"
	 "\n"
	 "Prints the records of Avro object container files as JSON lines.\n"
	 "\n"
	 "  -               read one file from standard input\n"
	 "  -f, --follow    at the end of the (one) file wait for more: "
	 "tails a\n"
	 "                  .part file the avro-file sink is writing until "
	 "it\n"
	 "                  is completed (renamed to .avro) or SIGINT\n"
	 "  -n, --count N   stop after N records\n"
	 "  --from POSITION print only records whose source.position is at "
	 "or\n"
	 "                  after POSITION (0/16B3748, 0/16B3748:3,\n"
	 "                  000042:1234, as waybill prints positions)\n"
	 "\n"
	 "exit codes: 0 printed, 1 a file cannot be read or is malformed, 2\n"
	 "usage error\n"},
	{"slot",
	 "usage: waybill slot list -c FILE\n"
	 "       waybill slot drop -c FILE [--slot NAME] [--yes]\n"
	 "\n"
	 "The PostgreSQL server's replication slots.\n"
	 "\n"
	 "  list               every slot: plugin, database, whether in use,\n"
	 "                     confirmed and restart LSN, WAL it retains;\n"
	 "                     the pipeline's own marked with *\n"
	 "  drop               drop the pipeline's slot (or --slot NAME); "
	 "asks\n"
	 "                     for confirmation on a terminal\n"
	 "  -c, --config FILE  the pipeline's YAML configuration\n"
	 "  --slot NAME        the slot to drop (default: the pipeline's)\n"
	 "  -y, --yes          drop without asking (needed without a "
	 "terminal)\n"
	 "\n"
	 "After a drop, the pipeline's checkpoint cannot continue: its next\n"
	 "run needs --resnapshot (or remove the checkpoint to start afresh).\n"
	 "\n"
	 "exit codes: 0 done, 1 runtime failure (server unreachable, slot\n"
	 "missing or in use, drop declined), 2 usage or configuration error\n"
	 "(a source without slots, drop without a terminal and without "
	 "--yes)\n"},
	{"mapping",
	 "usage: waybill mapping test [--emit-avro DIR] [-v] MAPPING.yaml... "
	 "TESTS.yaml\n"
	 "       waybill mapping preview -c FILE [--limit N]\n"
	 "\n"
	 "  test     run a mapping's test cases offline (no server)\n"
	 "  preview  the events and dead letters N current rows of each\n"
	 "           mapped table would produce (nothing published)\n"
	 "\n"
	 "exit codes: 0 passed, 1 a test case failed or a runtime failure, 2\n"
	 "usage or configuration error\n"},
};

/* The help text of command cmd, or NULL for an unknown one. */
static const char *help_of(const char *cmd)
{
	for (size_t i = 0; i < sizeof(command_help) / sizeof(command_help[0]);
	     i++)
		if (strcmp(command_help[i].name, cmd) == 0)
			return command_help[i].text;
	return NULL;
}

/* Whether argv[1..argc) asks for help (before a "--"). */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

static const char *current_config = NULL; /* -c FILE, for hints */

/* Prints err as one line. A message that does not say what to do (no
 * "; ...") gets the usual remedy for its kind. */
static int fail(const wb_error_t *err)
{
	const char *hint = "";
	char buf[PATH_MAX + 160];
	if (strchr(err->message, ';') == NULL) {
		if (err->code == WB_ERR_CONNECT) {
			snprintf(buf, sizeof(buf),
				 "; is the server running and reachable? "
				 "`waybill check -c %s` tests the connection "
				 "and the privileges",
				 current_config ? current_config : "FILE");
			hint = buf;
		} else if (err->code == WB_ERR_IO) {
			hint = "; check the path, the free space and the "
			       "permissions of this user";
		} else if (err->code == WB_ERR_NOMEM) {
			hint = "; lower queue_bytes or give the process more "
			       "memory";
		}
	}
	char line[sizeof(err->message) + sizeof(buf)];
	snprintf(line, sizeof(line), "%s%s", err->message, hint);
	wb_log_fatal(line); /* a JSON line with log_format: json */
	return wb_error_exit_code(err->code ? err->code : WB_ERR_RUNTIME);
}

static const char *current_command = NULL; /* for usage errors */

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "waybill: ");
	fprintf(stderr, fmt, arg);
	if (current_command && help_of(current_command))
		fprintf(stderr, "; see waybill %s --help\n", current_command);
	else
		fprintf(stderr, "; see waybill --help\n");
	return 2;
}

struct cli {
	const char *config;
	int stop_when_idle;
	const char *tables; /* snapshot --tables */
	bool resnapshot;    /* run --resnapshot */
	bool offline;	    /* check --offline */
	const char *endpos; /* run --endpos */
	const char *slot;   /* slot drop --slot */
	bool yes;	    /* slot drop --yes */
};

/* Usage error unless option opt is given to command cmd (argv[0]). */
static int belongs(char **argv, const char *cmd, const char *opt)
{
	if (strcmp(argv[0], cmd) == 0)
		return 0;
	fprintf(stderr,
		"waybill: %s belongs to the %s command, not %s; see waybill "
		"%s --help\n",
		opt, cmd, argv[0], cmd);
	return 2;
}

static int parse_options(int argc, char **argv, struct cli *cli)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"stop-when-idle", required_argument, NULL, 'i'},
		{"tables", required_argument, NULL, 't'},
		{"resnapshot", no_argument, NULL, 'r'},
		{"offline", no_argument, NULL, 'o'},
		{"endpos", required_argument, NULL, 'e'},
		{"slot", required_argument, NULL, 's'},
		{"yes", no_argument, NULL, 'y'},
		{NULL, 0, NULL, 0},
	};
	memset(cli, 0, sizeof(*cli));
	cli->stop_when_idle = -1;
	optind = 1;
	opterr = 0;
	int ch, rc;
	while ((ch = getopt_long(argc, argv, ":c:y", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			if ((rc = belongs(argv, "check", "--offline")))
				return rc;
			cli->offline = true;
			break;
		case 'e':
			if ((rc = belongs(argv, "run", "--endpos")))
				return rc;
			cli->endpos = optarg;
			break;
		case 's':
			if ((rc = belongs(argv, "drop", "--slot")))
				return rc;
			cli->slot = optarg;
			break;
		case 'y':
			if ((rc = belongs(argv, "drop", "--yes")))
				return rc;
			cli->yes = true;
			break;
		case ':':
			return usage_error("option %s needs a value",
					   argv[optind - 1]);
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
		return usage_error("%s needs -c FILE (the pipeline's "
				   "configuration)",
				   argv[0]);
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
	current_config = cli->config;
	*cfg = load_config(cli->config, err);
	return *cfg ? 0 : fail(err);
}

/* A position in the source's text form, or the short form without the
 * ordinal (PostgreSQL: an LSN; MySQL: FILENUMBER:OFFSET) completed with
 * suffix: ":end" takes the whole transaction there, ":0" stops before its
 * changes. 0, or -1 when it is no position of sops. */
static int parse_position_text(const struct wb_source_ops *sops,
			       const char *text, const char *suffix,
			       wb_position_t *pos)
{
	if (sops == NULL || sops->parse_position == NULL)
		return -1;
	if (sops->parse_position(text, pos) == 0)
		return 0;
	char buf[128];
	if (snprintf(buf, sizeof(buf), "%s%s", text, suffix) >=
	    (int)sizeof(buf))
		return -1;
	return sops->parse_position(buf, pos);
}

/* `run --endpos`. PostgreSQL positions carry the commit LSN: an LSN takes
 * every transaction that commits at or before it (pg_recvlogical
 * --endpos). MySQL positions carry the offset of the transaction's first
 * event: FILENUMBER:OFFSET takes every transaction that starts before it
 * (mysqlbinlog --stop-position), so that SHOW MASTER STATUS after a commit
 * names the end of that commit. */
static int parse_endpos(const struct wb_config *cfg, const char *text,
			wb_position_t *pos)
{
	const struct wb_source_ops *sops = wb_source_lookup(cfg->source.type);
	bool pg = strcmp(cfg->source.type, "postgres") == 0;
	if (parse_position_text(sops, text, pg ? ":end" : ":0", pos) == 0)
		return 0;
	fprintf(stderr,
		"waybill: --endpos %s is not a position of this %s source; "
		"give %s, or a source.position as waybill prints it in "
		"events; see waybill run --help\n",
		text, cfg->source.type,
		pg ? "an LSN such as 0/16B3748"
		   : "FILENUMBER:OFFSET of the binlog, such as 000042:1234");
	return 2;
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
	if (cli.endpos) {
		rc = parse_endpos(cfg, cli.endpos, &opt.endpos);
		if (rc) {
			wb_config_free(cfg);
			return rc;
		}
		opt.have_endpos = true;
	}
	rc = wb_pipeline_run(cfg, &opt, &wb_stop_requested, &err);
	wb_config_free(cfg);
	if (rc && wb_stop_requested && err.code == WB_ERR_CONNECT) {
		/* stopped while connecting: nothing was read or written */
		fprintf(stderr, "waybill: %s\n", err.message);
		return 0;
	}
	return rc ? fail(&err) : 0;
}

/* `check --offline`: the configuration (already loaded) and the mapping
 * files, with no server contacted. Mappings are checked on their own
 * (structure, event types, fields against the canonical schemas), not
 * against the tables, which needs the source. Takes cfg. */
static int check_offline(struct wb_config *cfg)
{
	int rc = 0;
	if (wb_source_lookup(cfg->source.type) == NULL ||
	    wb_sink_lookup(cfg->sink.type) == NULL) {
		fprintf(stderr,
			"waybill: %s: source.type %s or sink.type %s is not "
			"supported by this build; use postgres or mysql, and "
			"avro-file or kafka\n",
			cfg->path, cfg->source.type, cfg->sink.type);
		rc = 2;
		goto done;
	}
	printf("ok types: source %s, sink %s\n", cfg->source.type,
	       cfg->sink.type);
	if (cfg->nmappings > 0) {
		struct wb_mapping_diags diags = {NULL, 0, 0};
		wb_error_t err;
		wb_error_clear(&err);
		char *path = strdup(cfg->path);
		if (path == NULL) {
			fprintf(stderr, "waybill: out of memory\n");
			rc = 1;
			goto done;
		}
		struct wb_mapping_options mo = {cfg->name, cfg->topic_prefix,
						NULL, NULL, dirname(path)};
		struct wb_mappings *m =
			wb_mappings_load((const char *const *)cfg->mappings,
					 cfg->nmappings, &mo, &diags, &err);
		free(path);
		if (m == NULL) {
			wb_mapping_diags_print(&diags, stdout);
			printf("FAIL mappings: %s\n", err.message);
			fprintf(stderr,
				"waybill: %s; fix the lines above and run "
				"waybill check --offline -c %s again\n",
				err.message, cfg->path);
			rc = err.code == WB_ERR_NOMEM ? 1 : 2;
		} else {
			printf("ok mappings: %d mapping(s) loaded (checked "
			       "against the tables only online)\n",
			       wb_mappings_count(m));
		}
		wb_mapping_diags_free(&diags);
		wb_mappings_free(m);
		if (rc)
			goto done;
	}
	printf("configuration valid (offline: no server contacted; `waybill "
	       "check -c %s` checks the servers)\n",
	       cfg->path);
done:
	wb_config_free(cfg);
	return rc;
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
	if (cli.offline)
		return check_offline(cfg);

	int failed = 0, config_bad = 0;
	const struct wb_source_ops *sops = wb_source_lookup(cfg->source.type);
	const struct wb_sink_ops *kops = wb_sink_lookup(cfg->sink.type);
	if (sops == NULL || kops == NULL) {
		wb_error_set(
			&err, WB_ERR_CONFIG,
			"%s: source or sink type not supported by this build; "
			"use source.type postgres or mysql, sink.type "
			"avro-file or kafka",
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
			/* the mapping files, not the servers: exit 2 */
			config_bad |= err.code == WB_ERR_CONFIG;
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
	return config_bad ? 2 : failed ? 1 : 0;
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
				"%s: source.type %s cannot describe its "
				"tables; "
				"`waybill check -c %s` shows what it captures",
				cfg->path, cfg->source.type, cfg->path);
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
				  "--tables names no table; give schema.table "
				  "names or globs, comma-separated");
		goto done;
	}
	/* created as the pipeline would: the directory may not exist yet */
	int fd = wb_checkpoint_lock(cfg->checkpoint_dir, cfg->name, &err);
	if (fd >= 0)
		wb_checkpoint_unlock(fd);
	if (json_dump_file(list, tmp, 0) != 0 || rename(tmp, path) != 0) {
		rc = wb_error_set(&err, WB_ERR_IO,
				  "cannot write %s: %s; checkpoint_dir must be "
				  "writable by this user",
				  path, strerror(errno));
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

/* `cat --from`: the source whose position form the text has, and the
 * position; every record's source.position is parsed the same way. */
struct from_filter {
	const struct wb_source_ops *sops;
	wb_position_t from;
	const char *text;
};

static int keep_from(void *opaque, const char *line, size_t len,
		     wb_error_t *err)
{
	struct from_filter *f = opaque;
	json_error_t jerr;
	json_t *rec = json_loadb(line, len, 0, &jerr);
	json_t *src = json_object_get(rec, "source");
	const char *text = json_string_value(json_object_get(src, "position"));
	wb_position_t pos;
	int rc = -1;
	if (text == NULL)
		wb_error_set(err, WB_ERR_RUNTIME,
			     "a record has no source.position: --from works "
			     "on waybill's events only; leave it out for "
			     "other files");
	else if (f->sops->parse_position(text, &pos) != 0)
		wb_error_set(err, WB_ERR_RUNTIME,
			     "a record's source.position %.64s is not a %s "
			     "position like --from %.64s; give --from in the "
			     "form the events carry",
			     text, f->sops->name, f->text);
	else
		rc = wb_position_cmp(&pos, &f->from) >= 0;
	json_decref(rec);
	return rc;
}

static int cmd_cat(int argc, char **argv)
{
	static const struct option opts[] = {
		{"follow", no_argument, NULL, 'f'},
		{"count", required_argument, NULL, 'n'},
		{"from", required_argument, NULL, 'F'},
		{NULL, 0, NULL, 0},
	};
	struct wb_avro_cat_options o = {0};
	int64_t remaining = -1;
	struct from_filter ff = {0};
	optind = 1;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, ":fn:", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			o.follow = true;
			break;
		case 'n': {
			char *end;
			errno = 0;
			long long v = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0)
				return usage_error("--count takes a number of "
						   "records, got %s",
						   optarg);
			remaining = v;
			break;
		}
		case 'F': {
			static const char *const types[] = {"postgres",
							    "mysql"};
			for (size_t i = 0; i < 2 && ff.sops == NULL; i++) {
				const struct wb_source_ops *so =
					wb_source_lookup(types[i]);
				if (parse_position_text(so, optarg, ":0",
							&ff.from) == 0)
					ff.sops = so;
			}
			if (ff.sops == NULL)
				return usage_error(
					"--from %s is not a position "
					"(0/16B3748 "
					"or 0/16B3748:3 for PostgreSQL, "
					"000042:1234 for MySQL)",
					optarg);
			ff.text = optarg;
			break;
		}
		case ':':
			return usage_error("option %s needs a value",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option %s",
					   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("%s needs at least one FILE.avro (or - for "
				   "standard input)",
				   "cat");
	if (o.follow && argc - optind != 1)
		return usage_error("%s: --follow takes exactly one file",
				   "cat");
	for (int i = optind; i < argc; i++)
		if (strcmp(argv[i], "-") == 0 &&
		    (o.follow || argc - optind > 1))
			return usage_error("%s: - (standard input) must be the "
					   "only file, without --follow",
					   "cat");
	if (remaining == 0)
		return 0;
	if (remaining > 0)
		o.remaining = &remaining;
	if (ff.sops) {
		o.keep = keep_from;
		o.keep_opaque = &ff;
	}
	if (o.follow) {
		install_signals();
		o.stop = &wb_stop_requested;
	}
	int rc = 0;
	for (int i = optind; i < argc && remaining != 0; i++) {
		wb_error_t err;
		wb_error_clear(&err);
		if (wb_avro_cat_path(argv[i], &o, stdout, &err) != 0) {
			fflush(stdout);
			size_t n = strlen(argv[i]);
			bool part =
				n > 5 && strcmp(argv[i] + n - 5, ".part") == 0;
			fprintf(stderr, "waybill: %s%s\n", err.message,
				part && !o.follow && err.code == WB_ERR_DECODE
					? "; a .part file is still being "
					  "written: `waybill cat --follow` "
					  "reads it as it grows"
					: "");
			rc = wb_error_exit_code(err.code);
		}
	}
	return rc;
}

/* Asks on the terminal; true for an answer starting with y or Y. */
static bool confirm(const char *question)
{
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	char line[64];
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

/* `waybill slot list|drop -c FILE`: the server's replication slots. */
static int cmd_slot(int argc, char **argv)
{
	if (argc < 2 ||
	    (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "drop") != 0))
		return usage_error("slot needs list or drop, got %s",
				   argc < 2 ? "nothing" : argv[1]);
	struct cli cli;
	struct wb_config *cfg;
	wb_error_t err;
	int rc = command_setup(argc - 1, argv + 1, &cli, &cfg, &err);
	if (rc)
		return rc;
	const struct wb_source_ops *sops = wb_source_lookup(cfg->source.type);
	struct wb_source *src = NULL;
	if (sops == NULL || sops->slot_list == NULL) {
		fprintf(stderr,
			"waybill: source.type %s in %s has no replication "
			"slots (they are PostgreSQL's); nothing to do\n",
			cfg->source.type, cfg->path);
		rc = 2;
		goto done;
	}
	src = sops->create(cfg, &err);
	if (src == NULL) {
		rc = fail(&err);
		goto done;
	}
	if (strcmp(argv[1], "list") == 0) {
		rc = sops->slot_list(src, stdout, &err) ? fail(&err) : 0;
		goto done;
	}
	const char *name = cli.slot ? cli.slot : cfg->source.slot;
	char question[512];
	snprintf(question, sizeof(question), "drop replication slot %s? %s",
		 name,
		 strcmp(name, cfg->source.slot) == 0
			 ? "The pipeline's checkpoint cannot continue "
			   "without it: its next run needs --resnapshot."
			 : "It is not this pipeline's slot.");
	if (!cli.yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr,
				"waybill: refusing to drop replication slot "
				"%s without confirmation: no terminal to ask "
				"on; add --yes\n",
				name);
			rc = 2;
			goto done;
		}
		if (!confirm(question)) {
			fprintf(stderr,
				"waybill: not dropped (answer y to drop, or "
				"pass --yes)\n");
			rc = 1;
			goto done;
		}
	}
	if (sops->slot_drop(src, name, &err) != 0) {
		rc = fail(&err);
		goto done;
	}
	printf("dropped replication slot %s\n", name);
	if (strcmp(name, cfg->source.slot) == 0)
		printf("the next `waybill run -c %s` needs --resnapshot (or "
		       "remove %s/%s.json to start afresh)\n",
		       cfg->path, cfg->checkpoint_dir, cfg->name);
done:
	if (src)
		sops->destroy(src);
	wb_config_free(cfg);
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
		const char *text = argc > 2 ? help_of(argv[2]) : NULL;
		fputs(text ? text : usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("waybill %s\n", WB_VERSION);
		return 0;
	}
	/* `waybill COMMAND --help`, for every command, before its options
	 * are parsed */
	if (help_of(cmd) && wants_help(argc - 1, argv + 1)) {
		fputs(help_of(cmd), stdout);
		return 0;
	}
	current_command = cmd;
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
	if (strcmp(cmd, "slot") == 0)
		return cmd_slot(argc - 1, argv + 1);
	current_command = NULL;
	return usage_error("unknown command %s", cmd);
}
