/* my_tablemaps.h — hand-built binlog table maps shared by
 * tests/unit/test_binlog_rows.c and tests/fuzz/fuzz_binlog_rows.c: one
 * column spec per column, the MariaDB fixture tables' shapes
 * (tests/fixtures/mariadb), and the builder that turns specs into a
 * wb_my_tablemap as TABLE_MAP decoding would. */
#ifndef WB_TEST_MY_TABLEMAPS_H
#define WB_TEST_MY_TABLEMAPS_H

#include <stdint.h>
#include <string.h>

#include "binlog_tablemap.h"
#include "my_types.h"

struct wb_test_colspec {
	uint8_t type;
	int uns;
	int charset;
	uint16_t length;
	uint8_t pack_len;
	uint8_t precision, scale, fsp;
	uint16_t bits;
	const char *declared;
};

static char *wb_test_enum_abc[] = {"a", "b", "c"};
static char *wb_test_set_xyz[] = {"x", "y", "z"};

static inline void wb_test_build_map(struct wb_my_tablemap *tm,
				     struct wb_my_tmcol *cols,
				     const struct wb_test_colspec *spec, int n,
				     const char *name)
{
	memset(tm, 0, sizeof(*tm));
	tm->db = "wb";
	tm->table = (char *)name;
	tm->ncols = (uint32_t)n;
	tm->cols = cols;
	for (int i = 0; i < n; i++) {
		struct wb_my_tmcol *c = &cols[i];
		memset(c, 0, sizeof(*c));
		c->type = c->wire_type = spec[i].type;
		c->is_unsigned = (int8_t)spec[i].uns;
		c->charset = spec[i].charset ? spec[i].charset : -1;
		c->length = spec[i].length;
		c->pack_len = spec[i].pack_len;
		c->precision = spec[i].precision;
		c->scale = spec[i].scale;
		c->fsp = spec[i].fsp;
		c->bits = spec[i].bits;
		c->declared = (char *)spec[i].declared;
		c->visible = -1;
		c->nullable = true;
		if (c->type == WB_MY_T_ENUM) {
			c->enum_values = wb_test_enum_abc;
			c->nenum = 3;
		} else if (c->type == WB_MY_T_SET) {
			c->set_values = wb_test_set_xyz;
			c->nset = 3;
		}
	}
}

#define T(x) WB_MY_T_##x
static const struct wb_test_colspec wb_test_t_num[] = {
	{.type = T(LONG)},
	{.type = T(TINY)},
	{.type = T(TINY), .uns = 1},
	{.type = T(SHORT)},
	{.type = T(SHORT), .uns = 1},
	{.type = T(INT24)},
	{.type = T(INT24), .uns = 1},
	{.type = T(LONG)},
	{.type = T(LONG), .uns = 1},
	{.type = T(LONGLONG)},
	{.type = T(LONGLONG), .uns = 1},
	{.type = T(NEWDECIMAL), .precision = 10, .scale = 2},
	{.type = T(NEWDECIMAL), .precision = 65, .scale = 30},
	{.type = T(NEWDECIMAL), .precision = 5, .scale = 0},
	{.type = T(FLOAT), .pack_len = 4},
	{.type = T(DOUBLE), .pack_len = 8},
	{.type = T(BIT), .bits = 1},
	{.type = T(BIT), .bits = 9},
	{.type = T(YEAR)},
};
static const struct wb_test_colspec wb_test_t_time[] = {
	{.type = T(LONG)},
	{.type = T(DATE)},
	{.type = T(TIME2)},
	{.type = T(TIME2), .fsp = 1},
	{.type = T(TIME2), .fsp = 3},
	{.type = T(TIME2), .fsp = 6},
	{.type = T(DATETIME2)},
	{.type = T(DATETIME2), .fsp = 2},
	{.type = T(DATETIME2), .fsp = 6},
	{.type = T(TIMESTAMP2)},
	{.type = T(TIMESTAMP2), .fsp = 3},
	{.type = T(TIMESTAMP2), .fsp = 6},
};
static const struct wb_test_colspec wb_test_t_str[] = {
	{.type = T(LONG)},
	{.type = T(STRING), .charset = 45, .length = 20},
	{.type = T(VARCHAR), .charset = 45, .length = 1200},
	{.type = T(BLOB), .charset = 45, .pack_len = 2},
	{.type = T(STRING), .charset = 33, .length = 12},
	{.type = T(VARCHAR), .charset = 8, .length = 10},
	{.type = T(VARCHAR), .charset = 25, .length = 10},
	{.type = T(STRING), .charset = 63, .length = 6},
	{.type = T(VARCHAR), .charset = 63, .length = 10},
	{.type = T(BLOB), .charset = 63, .pack_len = 2},
	{.type = T(ENUM), .charset = 45, .length = 1},
	{.type = T(SET), .charset = 45, .length = 1},
	{.type = T(BLOB), .charset = 46, .pack_len = 4, .declared = "json"},
	{.type = T(GEOMETRY), .pack_len = 4},
	{.type = T(STRING), .charset = 63, .length = 16, .declared = "uuid"},
	{.type = T(STRING), .charset = 63, .length = 16, .declared = "inet6"},
};
/* MariaDB's own temporal formats: fsp comes from the source, not the map */
static const struct wb_test_colspec wb_test_t_old[] = {
	{.type = T(LONG)},
	{.type = T(TIME)},
	{.type = T(TIME), .fsp = 2},
	{.type = T(TIME), .fsp = 6},
	{.type = T(DATETIME)},
	{.type = T(DATETIME), .fsp = 3},
	{.type = T(DATETIME), .fsp = 6},
	{.type = T(TIMESTAMP)},
	{.type = T(TIMESTAMP), .fsp = 1},
	{.type = T(TIMESTAMP), .fsp = 6},
};
#undef T

#endif
