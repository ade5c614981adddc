/* my_gtid.h — GTID positions for the MySQL source: MariaDB's GTID state
 * and MySQL's GTID sets, their text forms and the arithmetic resume needs.
 * Pure: no I/O.
 *
 * MariaDB: a GTID is domain-server-seq; the state is the last GTID per
 * replication domain, written "0-1-100,1-2-5" (the form gtid_slave_pos and
 * gtid_binlog_pos take), ordered by domain.
 *
 * MySQL: a GTID is uuid:gno (8.3+: uuid:tag:gno); a set is, per uuid and
 * tag, closed intervals of gnos, written "uuid:1-5:7,uuid2:1-3", a tag
 * switching the intervals after it to that tag: "uuid:1-5:tag:1-3" (the
 * form gtid_executed shows and SOURCE_AUTO_POSITION sends). Tags are
 * [a-z_][a-z0-9_]{0,31}, case-insensitive (kept in lower case); gnos
 * 1..2^63-1. Formatted with lower-case uuids in byte order, untagged
 * intervals before tagged ones, tags in byte order. */
#ifndef WB_MY_GTID_H
#define WB_MY_GTID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "binlog_event.h"
#include "error.h"

/* MariaDB */

struct wb_my_maria_gtid {
	uint32_t domain;
	uint32_t server;
	uint64_t seq;
};

struct wb_my_gtid_state {
	struct wb_my_maria_gtid *v; /* ordered by domain, one per domain */
	size_t n;
	size_t cap;
};

void wb_my_gtid_state_init(struct wb_my_gtid_state *s);
void wb_my_gtid_state_free(struct wb_my_gtid_state *s); /* NULL ok */

/* Replaces s with the state in text ("" or only blanks: empty). Blanks
 * around entries are allowed. WB_ERR_DECODE on malformed text or a domain
 * given twice (s is then empty); WB_ERR_NOMEM. */
int wb_my_gtid_state_parse(struct wb_my_gtid_state *s, const char *text,
			   wb_error_t *err);

/* Writes the text form, snprintf-style: returns the length of the whole
 * text (not counting the NUL) even when it did not fit into buf[0..n). */
size_t wb_my_gtid_state_format(const struct wb_my_gtid_state *s, char *buf,
			       size_t n);

/* Records (domain, server, seq) as its domain's last GTID. WB_ERR_NOMEM. */
int wb_my_gtid_state_update(struct wb_my_gtid_state *s, uint32_t domain,
			    uint32_t server, uint64_t seq, wb_error_t *err);

/* The domain's last GTID, or NULL. Valid until s changes. */
const struct wb_my_maria_gtid *
wb_my_gtid_state_get(const struct wb_my_gtid_state *s, uint32_t domain);

/* True when the state already covers the GTID: its domain's sequence
 * number is at or past seq (MariaDB numbers a domain's transactions in
 * increasing order, whatever server wrote them). */
bool wb_my_gtid_state_contains(const struct wb_my_gtid_state *s,
			       uint32_t domain, uint64_t seq);

/* MySQL */

#define WB_MY_GNO_MAX INT64_MAX

struct wb_my_gno_interval {
	uint64_t first; /* inclusive */
	uint64_t last;	/* inclusive */
};

struct wb_my_gtid_sid {
	uint8_t uuid[16];
	char tag[33];		       /* "" untagged */
	struct wb_my_gno_interval *iv; /* ordered, disjoint, not adjacent */
	size_t n;
	size_t cap;
};

struct wb_my_gtid_set {
	struct wb_my_gtid_sid *sids; /* ordered by (uuid, tag), each with at
					least one interval */
	size_t n;
	size_t cap;
};

void wb_my_gtid_set_init(struct wb_my_gtid_set *s);
void wb_my_gtid_set_free(struct wb_my_gtid_set *s); /* NULL ok */

/* Replaces s with the set in text ("" or blanks: empty). WB_ERR_DECODE
 * naming what is malformed (s is then empty); WB_ERR_NOMEM. */
int wb_my_gtid_set_parse(struct wb_my_gtid_set *s, const char *text,
			 wb_error_t *err);

/* The text form, snprintf-style as wb_my_gtid_state_format. */
size_t wb_my_gtid_set_format(const struct wb_my_gtid_set *s, char *buf,
			     size_t n);

/* Adds gno (1..WB_MY_GNO_MAX) for uuid and tag ("" or NULL: untagged;
 * upper case is folded). WB_ERR_DECODE for a gno or tag out of range,
 * WB_ERR_NOMEM. */
int wb_my_gtid_set_add(struct wb_my_gtid_set *s, const uint8_t uuid[16],
		       const char *tag, uint64_t gno, wb_error_t *err);

/* Adds a MySQL GTID event's GTID (not an anonymous one: WB_ERR_DECODE). */
int wb_my_gtid_set_add_gtid(struct wb_my_gtid_set *s,
			    const struct wb_my_gtid *g, wb_error_t *err);

bool wb_my_gtid_set_contains(const struct wb_my_gtid_set *s,
			     const uint8_t uuid[16], const char *tag,
			     uint64_t gno);

/* MySQL's PREVIOUS_GTIDS (35): the GTIDs of the files before this one,
 * into *out (replaced). Body: a u64 header, then per uuid: uuid[16], in
 * the tagged format (header's low and high byte 1, count in bits 8..55)
 * a tag (varlen length, bytes), the interval count u64, intervals (first
 * u64, end u64 exclusive). WB_ERR_DECODE, WB_ERR_NOMEM. */
int wb_my_previous_gtids_parse(const struct wb_my_format *fmt,
			       const struct wb_my_event *ev,
			       struct wb_my_gtid_set *out, wb_error_t *err);

/* True when every GTID of a is in b. */
bool wb_my_gtid_set_is_subset(const struct wb_my_gtid_set *a,
			      const struct wb_my_gtid_set *b);

#endif
