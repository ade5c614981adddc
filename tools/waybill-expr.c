/* waybill-expr.c — evaluates mapping expressions from stdin, for tests and
 * for trying the language by hand; with --bench, times the five-field
 * mapping of the benchmark (issue item 9) per row.
 *
 * Input, one case per line, fields separated by tabs:
 *   COLUMNS <TAB> EXPRESSION [<TAB> VALUE ...]
 * COLUMNS is "name:type;name:type;..." (type: int (64-bit), int32,
 * decimal(p,s), string, bool, date, timestamp, localts, double, or - for
 * no columns); the VALUEs are the after image's, in column order (text as
 * the type prints it; \N is NULL). The change is an insert (op 'c', no
 * before image), its commit time 2024-03-01T10:00:00Z, now() the same.
 * Output, one line per case:
 *   ok <TAB> TYPE <TAB> VALUE      (VALUE "NULL" for NULL)
 *   fail <TAB> REASON              (a run-time failure)
 *   error <TAB> LINE:COL <TAB> MESSAGE   (a compile error)
 *
 * waybill-expr --bench [ROWS]: compiles the five expressions against a
 * stock_balance table and prints the time per row for all five. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "change.h"
#include "expr.h"
#include "expr_int.h"
#include "table.h"
#include "valconv.h"

static int parse_type(const char *s, struct wb_type *t)
{
	memset(t, 0, sizeof(*t));
	int p, sc;
	if (strcmp(s, "int") == 0)
		t->s.kind = WB_T_LONG;
	else if (strcmp(s, "int32") == 0)
		t->s.kind = WB_T_INT;
	else if (sscanf(s, "decimal(%d,%d)", &p, &sc) == 2) {
		t->s.kind = WB_T_BYTES;
		t->s.logical = WB_L_DECIMAL;
		t->s.precision = (int16_t)p;
		t->s.scale = (int16_t)sc;
	} else if (strcmp(s, "string") == 0)
		t->s.kind = WB_T_STRING;
	else if (strcmp(s, "bool") == 0)
		t->s.kind = WB_T_BOOLEAN;
	else if (strcmp(s, "date") == 0) {
		t->s.kind = WB_T_INT;
		t->s.logical = WB_L_DATE;
	} else if (strcmp(s, "timestamp") == 0) {
		t->s.kind = WB_T_LONG;
		t->s.logical = WB_L_TIMESTAMP_MICROS;
	} else if (strcmp(s, "localts") == 0) {
		t->s.kind = WB_T_LONG;
		t->s.logical = WB_L_LOCAL_TIMESTAMP_MICROS;
	} else if (strcmp(s, "double") == 0)
		t->s.kind = WB_T_DOUBLE;
	else
		return -1;
	return 0;
}

static struct wb_table *parse_columns(char *spec)
{
	int n = 0;
	if (strcmp(spec, "-") != 0) {
		n = 1;
		for (char *p = spec; *p; p++)
			n += *p == ';';
	}
	struct wb_table *t = wb_table_new("db", "public", "t", n);
	if (t == NULL)
		return NULL;
	char *save = NULL;
	char *item = n ? strtok_r(spec, ";", &save) : NULL;
	for (int i = 0; i < n; i++, item = strtok_r(NULL, ";", &save)) {
		char *colon = item ? strchr(item, ':') : NULL;
		struct wb_type ty;
		if (colon == NULL) {
			wb_table_unref(t);
			return NULL;
		}
		*colon = '\0';
		if (parse_type(colon + 1, &ty) != 0 ||
		    wb_table_set_column(t, i, item, &ty, true, i == 0) != 0) {
			wb_table_unref(t);
			return NULL;
		}
	}
	return t;
}

static int parse_value(const struct wb_column *c, const char *s,
		       struct wb_arena *a, struct wb_value *v)
{
	memset(v, 0, sizeof(*v));
	if (strcmp(s, "\\N") == 0)
		return 0;
	v->state = WB_VAL_PRESENT;
	const struct wb_type *t = &c->type;
	bool off;
	int32_t o;
	int32_t days;
	switch (t->s.logical) {
	case WB_L_DECIMAL:
		return wb_decimal_from_text(s, strlen(s), t->s.precision,
					    t->s.scale, a, v) == 0
			       ? 0
			       : -1;
	case WB_L_DATE:
		if (!wb_xparse_date(s, strlen(s), &days))
			return -1;
		v->u.i = days;
		return 0;
	case WB_L_TIMESTAMP_MICROS:
	case WB_L_LOCAL_TIMESTAMP_MICROS:
		if (!wb_xparse_ts(s, strlen(s), &v->u.i, &off, &o))
			return -1;
		v->u.i -= (int64_t)o * 1000000;
		return 0;
	default:
		break;
	}
	switch (t->s.kind) {
	case WB_T_LONG:
	case WB_T_INT:
		v->u.i = strtoll(s, NULL, 10);
		return 0;
	case WB_T_BOOLEAN:
		v->u.i = strcmp(s, "true") == 0;
		return 0;
	case WB_T_DOUBLE:
		v->u.d = strtod(s, NULL);
		return 0;
	default:
		v->u.b.p = wb_arena_dup(a, s, strlen(s));
		v->u.b.n = (uint32_t)strlen(s);
		return v->u.b.p ? 0 : -1;
	}
}

static void print_result(const struct wb_expr *e, const struct wb_xval *v)
{
	const struct wb_xtype *t = wb_expr_type(e);
	char tn[32], buf[80];
	printf("ok\t%s\t", wb_xtype_name(t, tn, sizeof(tn)));
	if (v->null)
		printf("NULL\n");
	else if (t->kind == WB_X_STRING)
		printf("%.*s\n", (int)v->u.s.n, v->u.s.p);
	else {
		wb_xval_text(t, v, buf, sizeof(buf));
		printf("%s\n", buf);
	}
}

static int run_line(char *line, struct wb_arena *a)
{
	char *fields[64];
	int nf = 0;
	char *save = NULL;
	for (char *f = strtok_r(line, "\t", &save); f && nf < 64;
	     f = strtok_r(NULL, "\t", &save))
		fields[nf++] = f;
	if (nf < 2) {
		printf("error\t0:0\tmalformed input line\n");
		return 0;
	}
	struct wb_table *t = parse_columns(fields[0]);
	if (t == NULL) {
		printf("error\t0:0\tmalformed columns\n");
		return 0;
	}
	struct wb_expr_diag d;
	struct wb_expr *e =
		wb_expr_compile(fields[1], t, NULL, true, true, true, &d);
	if (e == NULL) {
		printf("error\t%d:%d\t%s\n", d.line, d.column, d.message);
		wb_table_unref(t);
		return 0;
	}
	struct wb_value *after = wb_arena_alloc(
		a, (size_t)(t->ncols ? t->ncols : 1) * sizeof(*after));
	for (int i = 0; i < t->ncols; i++) {
		const char *s = i + 2 < nf ? fields[i + 2] : "\\N";
		if (parse_value(&t->cols[i], s, a, &after[i]) != 0) {
			printf("error\t0:0\tbad value for %s: %s\n",
			       t->cols[i].name, s);
			wb_expr_free(e);
			wb_table_unref(t);
			return 0;
		}
	}
	struct wb_change ch = {.op = 'c',
			       .table = t,
			       .commit_ts_us = INT64_C(1709287200000000),
			       .after = after};
	struct wb_expr_row row = {.change = &ch,
				  .position = "0/16B3748",
				  .now_us = INT64_C(1709287200000000)};
	struct wb_xval v;
	const char *reason;
	if (wb_expr_eval(e, &row, a, &v, &reason) != 0)
		printf("fail\t%s\n", reason);
	else
		print_result(e, &v);
	wb_expr_free(e);
	wb_table_unref(t);
	return 0;
}

/* ---- --bench ------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BENCH_CHANGES 1024

static int bench(long rows)
{
	struct wb_table *t = wb_table_new("db", "public", "stock_balance", 4);
	struct wb_type ts = {.s = {.kind = WB_T_STRING}};
	struct wb_type td = {.s = {.kind = WB_T_BYTES,
				   .logical = WB_L_DECIMAL,
				   .precision = 12,
				   .scale = 3}};
	if (t == NULL || wb_table_set_column(t, 0, "sku", &ts, false, true) ||
	    wb_table_set_column(t, 1, "warehouse", &ts, false, false) ||
	    wb_table_set_column(t, 2, "qty_on_hand", &td, true, false) ||
	    wb_table_set_column(t, 3, "status", &ts, true, false))
		return 1;
	static const char *texts[5] = {
		"coalesce(after.qty_on_hand, 0) - coalesce(before.qty_on_hand, "
		"0)",
		"map(after.status, {'D': 'delivered', 'S': 'shipped', 'P': "
		"'picked', 'K': 'packed', 'R': 'released'}, default: "
		"'exception')",
		"coalesce(after.sku, before.sku)",
		"upper(trim(after.warehouse))",
		"'balance_change'",
	};
	struct wb_xtype want_dec = {
		.kind = WB_X_DECIMAL, .precision = 18, .scale = 3};
	struct wb_xtype want_str = {.kind = WB_X_STRING};
	struct wb_expr *e[5];
	for (int i = 0; i < 5; i++) {
		struct wb_expr_diag d;
		e[i] = wb_expr_compile(texts[i], t,
				       i == 0 ? &want_dec : &want_str, true,
				       true, true, &d);
		if (e[i] == NULL) {
			fprintf(stderr, "%d:%d: %s\n", d.line, d.column,
				d.message);
			return 1;
		}
	}
	struct wb_arena data;
	wb_arena_init(&data, 1 << 20);
	static struct wb_change ch[BENCH_CHANGES];
	static const char *status = "DSPKRX";
	static const char *wh[] = {" wh-north ", "WH-SOUTH", "wh-east",
				   " Wh-West"};
	for (int i = 0; i < BENCH_CHANGES; i++) {
		struct wb_value *img[2];
		for (int k = 0; k < 2; k++) {
			img[k] = wb_arena_alloc(&data,
						4 * sizeof(struct wb_value));
			memset(img[k], 0, 4 * sizeof(struct wb_value));
			char sku[32], qty[32];
			snprintf(sku, sizeof(sku), "SKU-%06d", i);
			snprintf(qty, sizeof(qty), "%d.%03d",
				 (i * 7 + k * 13) % 5000, (i * 31) % 1000);
			struct wb_column *c = t->cols;
			parse_value(&c[0], sku, &data, &img[k][0]);
			parse_value(&c[1], wh[(i + k) % 4], &data, &img[k][1]);
			parse_value(&c[2], qty, &data, &img[k][2]);
			char st[2] = {status[(i * 5 + k) % 6], 0};
			parse_value(&c[3], st, &data, &img[k][3]);
		}
		ch[i] = (struct wb_change){.op = 'u',
					   .table = t,
					   .before = img[0],
					   .after = img[1]};
	}
	struct wb_arena a;
	wb_arena_init(&a, 1 << 16);
	long failures = 0;
	__int128 sum = 0;
	double best = 1e9;
	for (int round = 0; round < 5; round++) {
		double t0 = now_s();
		for (long r = 0; r < rows; r++) {
			struct wb_expr_row row = {
				.change = &ch[r % BENCH_CHANGES]};
			const char *reason;
			struct wb_xval v;
			for (int i = 0; i < 5; i++) {
				if (wb_expr_eval(e[i], &row, &a, &v, &reason) !=
				    0)
					failures++;
				else if (i == 0)
					sum += v.u.d;
				else
					sum += v.u.s.n;
			}
			if ((r & 1023) == 1023)
				wb_arena_reset(&a);
		}
		double el = now_s() - t0;
		if (el < best)
			best = el;
	}
	printf("five expressions per row: %.1f ns/row (best of 5 rounds of "
	       "%ld rows; failures %ld, checksum %lld)\n",
	       best * 1e9 / (double)rows, rows, failures, (long long)sum);
	for (int i = 0; i < 5; i++) {
		double b1 = 1e9;
		for (int round = 0; round < 5; round++) {
			double t0 = now_s();
			for (long r = 0; r < rows; r++) {
				struct wb_expr_row row = {
					.change = &ch[r % BENCH_CHANGES]};
				const char *reason;
				struct wb_xval v;
				failures += wb_expr_eval(e[i], &row, &a, &v,
							 &reason) != 0;
				if ((r & 1023) == 1023)
					wb_arena_reset(&a);
			}
			double el = now_s() - t0;
			if (el < b1)
				b1 = el;
		}
		printf("  %5.1f ns  %s\n", b1 * 1e9 / (double)rows, texts[i]);
	}
	for (int i = 0; i < 5; i++)
		wb_expr_free(e[i]);
	wb_arena_free(&a);
	wb_arena_free(&data);
	wb_table_unref(t);
	return failures != 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--bench") == 0)
		return bench(argc >= 3 ? atol(argv[2]) : 2000000);
	struct wb_arena a;
	wb_arena_init(&a, 1 << 16);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		run_line(line, &a);
		wb_arena_reset(&a);
		fflush(stdout);
	}
	free(line);
	wb_arena_free(&a);
	return 0;
}
