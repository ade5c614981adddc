/* xtz.h — time zones for the expression language, read from the system's
 * tz database (TZif files under /usr/share/zoneinfo, or $TZDIR) by our own
 * parser: no setenv("TZ")/tzset, no global state, so conversions are pure
 * and thread-safe once a zone is loaded.
 *
 * A zone is its list of transitions (64-bit, TZif version 2 and later)
 * and the POSIX TZ rule of the file's footer for instants past the last
 * one (a "slim" file has few transitions and relies on it). A fixed
 * offset ("+01:00", "-0530", "UTC", "Z") needs no file. */
#ifndef WB_XTZ_H
#define WB_XTZ_H

#include <stddef.h>
#include <stdint.h>

struct wb_tz;

/* Loads zone `name` (an IANA name such as "Europe/Berlin", or a fixed
 * offset). Returns NULL with a message in err (err_n bytes) when the name
 * is not a zone, its file cannot be read or is malformed. */
struct wb_tz *wb_tz_load(const char *name, char *err, size_t err_n);

/* Parses a TZif image b[0..n) (for tests and the fuzzer); NULL when
 * malformed. */
struct wb_tz *wb_tz_parse(const uint8_t *b, size_t n);

void wb_tz_free(struct wb_tz *z); /* accepts NULL */

/* The zone's offset from UTC, in seconds, at the UTC instant t (seconds
 * since the epoch). */
int32_t wb_tz_offset(const struct wb_tz *z, int64_t t);

/* The UTC instant (seconds) of the wall-clock time local (seconds since
 * 1970-01-01 00:00 local). A time that a zone skips (a spring-forward
 * gap) is moved later by the length of the gap (02:30 in a 02:00->03:00
 * gap is 03:30 of the new offset); a time that occurs twice (fall-back
 * overlap) is taken at its first occurrence (the earlier offset). This is
 * java.time's ZonedDateTime.ofLocal and PostgreSQL's choice. */
int64_t wb_tz_local_to_utc(const struct wb_tz *z, int64_t local);

#endif
