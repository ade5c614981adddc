/* test_my_gtid.c — MariaDB GTID state and MySQL GTID set arithmetic and
 * their text forms (the forms MariaDB's gtid_binlog_pos and MySQL's
 * gtid_executed use). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "my_gtid.h"

static char out[512];

static const char *state_text(const struct wb_my_gtid_state *s)
{
	size_t n = wb_my_gtid_state_format(s, out, sizeof(out));
	CHECK(n == strlen(out));
	return out;
}

static const char *set_text(const struct wb_my_gtid_set *s)
{
	size_t n = wb_my_gtid_set_format(s, out, sizeof(out));
	CHECK(n == strlen(out));
	return out;
}

static void test_state(void)
{
	struct wb_my_gtid_state s;
	wb_error_t err;
	wb_my_gtid_state_init(&s);
	CHECK_STR(state_text(&s), "");
	CHECK(wb_my_gtid_state_parse(&s, " 1-2-5 , 0-1-100", &err) == 0);
	CHECK(s.n == 2);
	CHECK_STR(state_text(&s), "0-1-100,1-2-5");
	/* an update replaces its domain's GTID; a new domain is added in
	 * order */
	CHECK(wb_my_gtid_state_update(&s, 0, 3, 101, &err) == 0);
	CHECK(wb_my_gtid_state_update(&s, 7, 1, 1, &err) == 0);
	CHECK(wb_my_gtid_state_update(&s, 4, 1, 18446744073709551615ull,
				      &err) == 0);
	CHECK_STR(state_text(&s),
		  "0-3-101,1-2-5,4-1-18446744073709551615,7-1-1");
	const struct wb_my_maria_gtid *g = wb_my_gtid_state_get(&s, 1);
	CHECK(g != NULL && g->server == 2 && g->seq == 5);
	CHECK(wb_my_gtid_state_get(&s, 2) == NULL);
	CHECK(wb_my_gtid_state_contains(&s, 0, 101));
	CHECK(wb_my_gtid_state_contains(&s, 0, 50));
	CHECK(!wb_my_gtid_state_contains(&s, 0, 102));
	CHECK(!wb_my_gtid_state_contains(&s, 9, 1));
	/* snprintf-style: the whole length even when cut */
	char small[8];
	CHECK(wb_my_gtid_state_format(&s, small, sizeof(small)) ==
	      strlen("0-3-101,1-2-5,4-1-18446744073709551615,7-1-1"));
	CHECK_STR(small, "0-3-101");
	/* empty text: empty state */
	CHECK(wb_my_gtid_state_parse(&s, "", &err) == 0 && s.n == 0);
	CHECK(wb_my_gtid_state_parse(&s, "0-1-1", &err) == 0 && s.n == 1);
	/* malformed: s left empty */
	static const char *bad[] = {"0-1",
				    "0-1-",
				    "a-1-1",
				    "0-1-1,",
				    "0-1-1 0-2-2",
				    "0-1-1,0-2-2",
				    "4294967296-1-1",
				    "0-1-18446744073709551616",
				    "-1-1-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(wb_my_gtid_state_parse(&s, bad[i], &err) ==
		      WB_ERR_DECODE);
		CHECK(s.n == 0);
	}
	CHECK(strstr(err.message, "GTID state") != NULL);
	wb_my_gtid_state_free(&s);
	wb_my_gtid_state_free(NULL);
}

static const uint8_t U1[16] = {0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1,
			       0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62};
static const uint8_t U2[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
			       0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

static void test_set_parse_format(void)
{
	struct wb_my_gtid_set s;
	wb_error_t err;
	wb_my_gtid_set_init(&s);
	CHECK_STR(set_text(&s), "");
	/* MySQL's own output: upper or lower case, ",\n" between uuids */
	CHECK(wb_my_gtid_set_parse(
		      &s,
		      "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7,\n"
		      "00112233-4455-6677-8899-aabbccddeeff:1-3",
		      &err) == 0);
	CHECK_STR(set_text(&s), "00112233-4455-6677-8899-aabbccddeeff:1-3,"
				"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7");
	/* overlapping and adjacent intervals merge, order does not matter */
	CHECK(wb_my_gtid_set_parse(&s,
				   "3e11fa47-71ca-11e1-9e33-c80aa9429562:10-12:"
				   "1-3:4:6-9:20",
				   &err) == 0);
	CHECK_STR(set_text(&s),
		  "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-4:6-12:20");
	/* tags: a tag switches the intervals after it; untagged first,
	 * tags folded to lower case and in order; the same uuid given twice
	 * merges */
	CHECK(wb_my_gtid_set_parse(&s,
				   "3e11fa47-71ca-11e1-9e33-c80aa9429562:Zeta:"
				   "1-2:alpha:5:1-3,"
				   "3e11fa47-71ca-11e1-9e33-c80aa9429562:4-9",
				   &err) == 0);
	CHECK_STR(set_text(&s), "3e11fa47-71ca-11e1-9e33-c80aa9429562:4-9:"
				"alpha:1-3:5:zeta:1-2");
	CHECK(s.n == 3);
	/* blanks around the separators */
	CHECK(wb_my_gtid_set_parse(&s,
				   "  3e11fa47-71ca-11e1-9e33-c80aa9429562 : "
				   "1 - 5 :_t1: 9  ",
				   &err) == 0);
	CHECK_STR(set_text(&s),
		  "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:_t1:9");
	/* the largest gno */
	CHECK(wb_my_gtid_set_parse(&s,
				   "3e11fa47-71ca-11e1-9e33-c80aa9429562:"
				   "9223372036854775807",
				   &err) == 0);
	CHECK(s.n == 1 && s.sids[0].iv[0].first == 9223372036854775807ull);
	CHECK(wb_my_gtid_set_parse(&s, " \n", &err) == 0 && s.n == 0);

	static const char *bad[] = {
		"3e11fa47-71ca-11e1-9e33-c80aa942956:1", /* uuid short */
		"3e11fa4771ca-11e1-9e33-c80aa9429562:1",
		"3e11fa47-71ca-11e1-9e33-c80aa942956g:1",
		"3e11fa47-71ca-11e1-9e33-c80aa9429562", /* no interval */
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:",
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:0",   /* gno 0 */
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:5-3", /* reversed */
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-",
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:9223372036854775808",
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:1,", /* trailing , */
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:1;x",
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:tag",	 /* tag alone */
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:a:b:1",	 /* two tags */
		"3e11fa47-71ca-11e1-9e33-c80aa9429562:1:9tag:1", /* digit */
		/* 33 characters */
		("3e11fa47-71ca-11e1-9e33-c80aa9429562:"
		 "abcdefghijklmnopqrstuvwxyz0123456:1"),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = wb_my_gtid_set_parse(&s, bad[i], &err);
		if (rc != WB_ERR_DECODE || s.n != 0) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			failures++;
		}
	}
	/* a 32-character tag is fine */
	CHECK(wb_my_gtid_set_parse(&s,
				   "3e11fa47-71ca-11e1-9e33-c80aa9429562:"
				   "abcdefghijklmnopqrstuvwxyz012345:1",
				   &err) == 0);
	wb_my_gtid_set_free(&s);
	wb_my_gtid_set_free(NULL);
}

static void test_set_add(void)
{
	struct wb_my_gtid_set s, t;
	wb_error_t err;
	wb_my_gtid_set_init(&s);
	wb_my_gtid_set_init(&t);
	for (uint64_t g = 1; g <= 5; g++)
		CHECK(wb_my_gtid_set_add(&s, U1, NULL, g, &err) == 0);
	CHECK_STR(set_text(&s), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5");
	CHECK(wb_my_gtid_set_add(&s, U1, "", 8, &err) == 0);
	CHECK_STR(set_text(&s), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:8");
	/* filling the gap joins the intervals */
	CHECK(wb_my_gtid_set_add(&s, U1, NULL, 7, &err) == 0);
	CHECK(s.sids[0].n == 2);
	CHECK(wb_my_gtid_set_add(&s, U1, NULL, 6, &err) == 0);
	CHECK(s.sids[0].n == 1);
	CHECK_STR(set_text(&s), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-8");
	/* again: no change */
	CHECK(wb_my_gtid_set_add(&s, U1, NULL, 3, &err) == 0);
	CHECK_STR(set_text(&s), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-8");
	CHECK(wb_my_gtid_set_add(&s, U2, "Mytag", 3, &err) == 0);
	CHECK(wb_my_gtid_set_add(&s, U1, "b", 1, &err) == 0);
	CHECK_STR(set_text(&s), "00112233-4455-6677-8899-aabbccddeeff:mytag:3,"
				"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-8:b:1");
	CHECK(wb_my_gtid_set_add(&s, U1, NULL, 0, &err) == WB_ERR_DECODE);
	CHECK(wb_my_gtid_set_add(&s, U1, NULL, 9223372036854775808ull, &err) ==
	      WB_ERR_DECODE);
	CHECK(wb_my_gtid_set_add(&s, U1, "no-dash", 1, &err) == WB_ERR_DECODE);

	CHECK(wb_my_gtid_set_contains(&s, U1, NULL, 1));
	CHECK(wb_my_gtid_set_contains(&s, U1, "", 8));
	CHECK(!wb_my_gtid_set_contains(&s, U1, NULL, 9));
	CHECK(!wb_my_gtid_set_contains(&s, U1, NULL, 0));
	CHECK(wb_my_gtid_set_contains(&s, U2, "MYTAG", 3));
	CHECK(!wb_my_gtid_set_contains(&s, U2, NULL, 3));
	CHECK(!wb_my_gtid_set_contains(&s, U2, "mytag", 2));

	/* from a decoded GTID event */
	struct wb_my_gtid g;
	memset(&g, 0, sizeof(g));
	memcpy(g.sid, U2, 16);
	g.gno = 4;
	CHECK(wb_my_gtid_set_add_gtid(&t, &g, &err) == 0);
	strcpy(g.tag, "mytag");
	CHECK(wb_my_gtid_set_add_gtid(&t, &g, &err) == 0);
	CHECK_STR(set_text(&t), "00112233-4455-6677-8899-aabbccddeeff:4:"
				"mytag:4");
	g.anonymous = true;
	CHECK(wb_my_gtid_set_add_gtid(&t, &g, &err) == WB_ERR_DECODE);
	g.anonymous = false;
	g.mariadb = true;
	CHECK(wb_my_gtid_set_add_gtid(&t, &g, &err) == WB_ERR_DECODE);

	/* subsets */
	CHECK(wb_my_gtid_set_parse(&t,
				   "3e11fa47-71ca-11e1-9e33-c80aa9429562:2-8",
				   &err) == 0);
	CHECK(wb_my_gtid_set_is_subset(&t, &s));
	CHECK(!wb_my_gtid_set_is_subset(&s, &t));
	CHECK(wb_my_gtid_set_parse(&t,
				   "3e11fa47-71ca-11e1-9e33-c80aa9429562:2-9",
				   &err) == 0);
	CHECK(!wb_my_gtid_set_is_subset(&t, &s));
	CHECK(wb_my_gtid_set_parse(&t,
				   "3e11fa47-71ca-11e1-9e33-c80aa9429562:c:1",
				   &err) == 0);
	CHECK(!wb_my_gtid_set_is_subset(&t, &s));
	CHECK(wb_my_gtid_set_parse(&t, "", &err) == 0);
	CHECK(wb_my_gtid_set_is_subset(&t, &s));
	CHECK(wb_my_gtid_set_is_subset(&s, &s));

	/* many single gnos, every other one, then the rest: one interval */
	wb_my_gtid_set_free(&t);
	for (uint64_t i = 1; i <= 2000; i += 2)
		CHECK(wb_my_gtid_set_add(&t, U1, NULL, i, &err) == 0);
	CHECK(t.n == 1 && t.sids[0].n == 1000);
	for (uint64_t i = 2000; i >= 2; i -= 2)
		CHECK(wb_my_gtid_set_add(&t, U1, NULL, i, &err) == 0);
	CHECK(t.sids[0].n == 1 && t.sids[0].iv[0].first == 1 &&
	      t.sids[0].iv[0].last == 2000);
	/* snprintf-style */
	char small[10];
	CHECK(wb_my_gtid_set_format(&s, small, sizeof(small)) ==
	      strlen("00112233-4455-6677-8899-aabbccddeeff:mytag:3,"
		     "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-8:b:1"));
	CHECK_STR(small, "00112233-");
	wb_my_gtid_set_free(&s);
	wb_my_gtid_set_free(&t);
}

int main(void)
{
	test_state();
	test_set_parse_format();
	test_set_add();
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
