/* odbc_deletes.h — keyset delete detection for the ODBC source: compares
 * the keys of a table with the keys waybill has emitted (odbc_keys.h),
 * chunk by key range, and reports each emitted key the table no longer has.
 *
 * One pass over a table:
 *   1. The stored keys are cut into chunks of `chunk` keys in key order:
 *      [-inf, k_c), [k_c, k_2c), ..., [k_last_boundary, +inf). The first
 *      and last chunks are open, so rows outside the stored keys' span are
 *      counted too.
 *   2. For each chunk the database computes COUNT(*) and the checksums of
 *      the rows whose key is in the range (one SELECT, the bounds bound as
 *      parameters, identifiers quoted with the driver's quote character;
 *      nothing is created on the source), and the store computes the same
 *      over its keys.
 *   3. Only a chunk whose figures differ has its keys read from the
 *      database: SELECT <key columns> ... ORDER BY <key columns>, in pages
 *      of `chunk` rows (SQL_ATTR_MAX_ROWS, the next page starting after the
 *      last key read), merged with the stored keys of the range. Memory is
 *      bounded by one page and one chunk's missing keys, whatever the
 *      driver buffers.
 *   4. Each stored key that the database does not have is reported through
 *      the callback with its last image, after the chunk's merge (so the
 *      callback may remove the key from the store).
 *
 * Checksums per DBMS (SQL_DBMS_NAME), as defined in odbc_keys.h:
 *   PostgreSQL         MD5   ('x' || substr(md5(T), 1, 8))::bit(32)::bigint
 *   MariaDB, MySQL     CRC32 CRC32(CONCAT(...))
 *   SQLite             MIX   (no hash function in SQL: integer mixes and
 *                            text lengths)
 *   anything else      COUNT (no portable bit operators in SQL)
 * What can mask a difference (the chunk is then not read, so a delete in
 * it is found only once the figures differ, e.g. at a later pass):
 *   - COUNT: a deletion and an insertion of a not yet emitted row in the
 *     same chunk between two passes (count unchanged);
 *   - MIX: the same, where the inserted key also has the same sums: for
 *     integer keys the inserted and deleted keys must agree in the sum of
 *     their 32-bit halves and in the nonlinear mix (two independent
 *     equations per swap: chance coincidences are negligible, but keys
 *     chosen to collide exist); for text keys only the total byte length
 *     is summed, so swapping 'ab' for 'cd' in one chunk is masked;
 *   - MD5 and CRC32: as MIX, and additionally a 32-bit hash sum must
 *     coincide (about 2^-32 per chunk for unrelated keys);
 *   - decimal key columns take part in the count only;
 *   - nothing else for text in any server character set: PostgreSQL and
 *     MariaDB hash the text converted to UTF-8 (convert_to, CONVERT ...
 *     USING utf8mb4), which the driver must deliver (client encoding
 *     UTF-8); a driver delivering another encoding makes chunks with
 *     non-ASCII keys differ every pass (read, never misreported).
 * A count that differs is never masked, so a pass with no inserts since
 * the last one finds every delete.
 *
 * Collation: the merge needs the database's ORDER BY to agree with the
 * key encoding (odbc_keys.h). Keys that arrive out of that order stop the
 * pass with an error naming the collation rather than report false
 * deletes. */
#ifndef WB_ODBC_DELETES_H
#define WB_ODBC_DELETES_H

#include <stdbool.h>
#include <stdint.h>

#include <sql.h>

#include "error.h"
#include "odbc_keys.h"

struct wb_odbc_key_col {
	const char *name; /* as in the database, unquoted */
	enum wb_odbc_key_type type;
};

/* Called for each stored key the table no longer has; key and image are
 * valid during the call. Returns 0, or an error code that stops the pass
 * (err filled). */
typedef int (*wb_odbc_deleted_fn)(void *arg, const char *table,
				  const uint8_t *key, size_t key_len,
				  const uint8_t *image, size_t image_len,
				  wb_error_t *err);

struct wb_odbc_deletes_cfg {
	SQLHDBC dbc;	    /* connected; one statement at a time is used */
	const char *quote;  /* SQL_IDENTIFIER_QUOTE_CHAR; " " or "" = none */
	const char *dbms;   /* SQL_DBMS_NAME */
	const char *schema; /* NULL or "": unqualified */
	const char *name;   /* the table */
	const char *label;  /* the table's name in the store and callback */
	const struct wb_odbc_key_col *keys;
	size_t nkeys; /* 1 .. WB_ODBC_KEY_MAX_COLS */
	struct wb_odbc_keys *store;
	uint64_t chunk;		/* keys per chunk and rows per page, >= 1 */
	unsigned query_timeout; /* seconds, SQL_ATTR_QUERY_TIMEOUT; 0: none */
	wb_odbc_deleted_fn on_deleted;
	void *arg;
};

struct wb_odbc_deletes_stats {
	uint64_t chunks;	   /* compared */
	uint64_t chunks_differing; /* whose keys were read */
	uint64_t rows_read;	   /* key rows fetched from the database */
	uint64_t pages;		   /* key queries (pages of <= chunk rows) */
	uint64_t deleted;	   /* keys reported */
	bool complete; /* false: stopped early (wb_stop_requested) */
};

/* The checksum both sides use for a DBMS name. */
enum wb_odbc_sum_kind wb_odbc_deletes_kind(const char *dbms);

/* One pass over the table (see above). stats is filled also on failure
 * (as far as the pass got). A stop request (SIGTERM/SIGINT, src/stop.h)
 * ends the pass before the next chunk: 0, stats->complete false; the keys
 * reported so far stay reported. A watchdog may cancel a hung query with
 * SQLCancelHandle on the connection: the pass then fails retriably. Errors:
 * WB_ERR_CONNECT (retriable) for a driver error, WB_ERR_CONFIG for a name that
 * cannot be quoted, or what the store or the callback returned. */
int wb_odbc_deletes_run(const struct wb_odbc_deletes_cfg *cfg,
			struct wb_odbc_deletes_stats *stats, wb_error_t *err);

#endif
