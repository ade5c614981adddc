/* config.h — a pipeline's configuration, loaded from one YAML file. */
#ifndef WB_CONFIG_H
#define WB_CONFIG_H

/* sink.flush_interval of the avro-file sink */
#ifndef WB_DEFAULT_FLUSH_INTERVAL_MS
#define WB_DEFAULT_FLUSH_INTERVAL_MS 20
#endif

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct wb_kv {
	char *key;
	char *value;
};

enum wb_snapshot_mode {
	WB_SNAPSHOT_INITIAL,
	WB_SNAPSHOT_NEVER,
	WB_SNAPSHOT_ALWAYS,
	WB_SNAPSHOT_INITIAL_ONLY,
};

enum wb_decimal_handling { WB_DECIMAL_STRING, WB_DECIMAL_DOUBLE };

/* What a start does when the checkpoint's position cannot be continued
 * from (slot missing, invalidated, or confirmed past the checkpoint). */
enum wb_on_gap {
	WB_ON_GAP_STOP,	      /* exit 1 with the LSN range and the ways out */
	WB_ON_GAP_RESNAPSHOT, /* snapshot the captured tables again, online */
};

/* source.tracking.<table>.mode (odbc) */
enum wb_odbc_mode {
	WB_ODBC_BULK,	       /* every poll reads the whole table */
	WB_ODBC_TIMESTAMP,     /* rows whose timestamp column moved */
	WB_ODBC_INCREMENTING,  /* rows whose incrementing column grew */
	WB_ODBC_TIMESTAMP_INC, /* (timestamp, incrementing) ordered */
};

/* source.deletes.detect (odbc) */
enum wb_odbc_detect { WB_ODBC_DETECT_NONE, WB_ODBC_DETECT_KEYSET };

/* One table of an odbc source: how it is polled. */
struct wb_odbc_table {
	char *name; /* as in source.tables: "schema.table" */
	enum wb_odbc_mode mode;
	char *timestamp;    /* timestamp column (timestamp modes) */
	char *incrementing; /* incrementing column (incrementing modes) */
	int64_t lag_ms;	    /* commit horizon: db now - lag; default 5 s */
	/* look-back window re-read behind the watermark on every poll:
	 * a duration (timestamp modes; default 1 min) or a number of ids
	 * (incrementing; default 1000) */
	int64_t lookback_ms;
	int64_t lookback_ids;
	/* custom query with :from and :to (timestamp modes), or NULL */
	char *query;
	/* a query whose one value is a real commit horizon (SQL Server:
	 * MIN_ACTIVE_ROWVERSION()): rows whose first tracking column is below
	 * it are committed, and no later commit goes below it; replaces the
	 * clock horizon (now - lag). NULL: the clock horizon */
	char *horizon;
	/* soft delete: a row whose column `deleted_column` holds the text
	 * `deleted_value` is emitted as op 'd' (NULL: none) */
	char *deleted_column;
	char *deleted_value;
};

/* What only an odbc source has. */
struct wb_odbc_config {
	/* the ODBC connection string as written: ${VAR} is expanded only
	 * when connecting, and the text is never logged */
	char *connection;
	int64_t poll_interval_ms;     /* default 1 s */
	char *time_zone;	      /* for timestamps without a zone; "UTC" */
	int64_t login_timeout_ms;     /* default connect_timeout (10 s) */
	int64_t query_timeout_ms;     /* default 60 s; watchdog cancels */
	int fetch_rows;		      /* rows per array fetch; default 500 */
	int chunk_rows;		      /* rows per bounded read; default 10000 */
	int lookback_rows;	      /* bound of the look-back set; 100000 */
	enum wb_odbc_detect detect;   /* deletes.detect; default none */
	int64_t deletes_interval_ms;  /* deletes.interval; default 10 min */
	int deletes_chunk_rows;	      /* deletes.chunk_rows; default 10000 */
	struct wb_odbc_table *tables; /* one per source.tables entry */
	int ntables;
};

struct wb_source_config {
	char *type; /* postgres | mysql | odbc */
	/* postgres: libpq connection string or URI, as written in the file:
	 * ${VAR} is NOT expanded here, so a value from the environment is
	 * never parsed as connection-string syntax. The connector parses
	 * the text, then expands each value (wb_config_expand). */
	char *dsn;
	int64_t connect_timeout_ms; /* per connection attempt; default 10 s */
	enum wb_on_gap on_gap;	    /* default WB_ON_GAP_STOP */
	char **tables; /* include globs "schema.table", NULL-terminated */
	int ntables;
	char **exclude; /* exclude globs, NULL-terminated */
	int nexclude;
	char *slot;	   /* default waybill_<name> */
	char *publication; /* default waybill_<name> */
	enum wb_snapshot_mode snapshot;
	int snapshot_chunk_rows;  /* rows per snapshot chunk; default 10000 */
	int snapshot_parallelism; /* snapshot reader connections; default 1 */
	enum wb_decimal_handling decimal_handling; /* unconstrained numeric */
	int status_interval_ms; /* feedback interval; default 10000 */
	/* Every other key under source: kept for connectors that use them
	 * (mysql host/port/..., odbc connection/...), values as text. */
	struct wb_kv *extra;
	int nextra;
	struct wb_odbc_config odbc; /* type odbc only */
};

struct wb_sink_config {
	char *type; /* avro-file | kafka */
	/* avro-file */
	char *dir;	     /* default "<config dir>/out" */
	char *codec;	     /* zstandard | deflate | null; default zstandard */
	int codec_level;     /* default 1 for zstandard, 6 for deflate */
	int64_t block_bytes; /* uncompressed block target; default 1 MiB */
	int64_t roll_bytes;  /* complete a file past this size; default 256 MiB
			      */
	int64_t roll_age_ms; /* complete a file older than this; default 1 h */
	/* longest time a written event waits before its block is written and
	 * fsynced (delivered) between checkpoints */
	int64_t flush_interval_ms;
	/* kafka and future sinks: every other key, as text */
	struct wb_kv *extra;
	int nextra;
};

struct wb_config {
	char *path; /* the file it was loaded from */
	char *name; /* [a-z0-9_]+ */
	/* checkpoint_dir and sink.dir: a relative path in the file (and the
	 * defaults "checkpoints" and "out") is resolved against the
	 * directory of the config file, so these are absolute after load */
	char *checkpoint_dir;		/* default "<config dir>/checkpoints" */
	int64_t checkpoint_interval_ms; /* default 1000 */
	int64_t queue_bytes; /* bound of the source→sink queue; default 16 MiB
			      */
	char *topic_prefix;  /* default name */
	bool emit_raw;	     /* emit: [raw, mapped]; default raw only */
	bool emit_mapped;
	char **mappings; /* NULL-terminated */
	int nmappings;
	char *metrics_listen; /* "127.0.0.1:9187" or NULL */
	/* metrics.ready_checkpoint_age: /readyz fails when the checkpoint is
	 * behind what was written for longer; default 60 s */
	int64_t metrics_ready_age_s;
	/* status_log_interval: the status line while streaming; default 1 m */
	int64_t status_log_interval_ms;
	char *log_level;  /* debug | info | warn | error; default info */
	char *log_format; /* text | json; default text */
	struct wb_source_config source;
	struct wb_sink_config sink;
};

/* Loads and validates path. Returns NULL and fills err (code WB_ERR_CONFIG,
 * message naming the file, line and key and what was expected) on failure.
 * ${VAR} in any scalar expands from the environment; an unset variable is an
 * error that names the variable (never its value). */
struct wb_config *wb_config_load(const char *path, wb_error_t *err);
void wb_config_free(struct wb_config *cfg); /* accepts NULL */

/* Expands ${VAR} (and $${) in text taken from key of cfg's file, e.g. one
 * value of the parsed source.dsn. Returns a malloc'd string, or NULL with
 * err filled (WB_ERR_CONFIG naming the file, the key and the variable,
 * never a value). */
char *wb_config_expand(const struct wb_config *cfg, const char *key,
		       const char *text, wb_error_t *err);

/* True when pattern has glob characters (*, ?, [). */
bool wb_config_is_glob(const char *pattern);
/* True when "schema.table" matches source.tables and no source.exclude. */
bool wb_config_table_selected(const struct wb_config *cfg, const char *full);

/* The value of an extra key (source or sink), or NULL. */
const char *wb_config_extra(const struct wb_kv *kv, int n, const char *key);

/* Parses "250ms", "5s", "2m", "1h" or a plain number of ms; -1 if invalid. */
int64_t wb_config_parse_duration_ms(const char *s);
/* Parses "1048576", "64KiB", "16MiB", "1GiB" (also KB/MB/GB as powers of
 * 1000); -1 if invalid. */
int64_t wb_config_parse_size(const char *s);

#endif
