/* xtz.c — TZif (RFC 8536) zones and their POSIX TZ footer rules.
 *
 * TZif layout: a 44-byte header ("TZif", version, 15 reserved bytes, six
 * big-endian uint32 counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt,
 * charcnt), then the version 1 data block (32-bit times); from version 2
 * a second header and data block with 64-bit times follow, then the footer
 * "\n<POSIX TZ string>\n". A data block: timecnt transition times,
 * timecnt type indices (one byte each), typecnt types (int32 utoff, uint8
 * isdst, uint8 desigidx), charcnt designation bytes, leapcnt leap records,
 * isstdcnt and isutcnt indicator bytes. Only the transitions, the types'
 * offsets and the footer matter here. */
#include "xtz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valconv.h"

enum { RULE_M, RULE_J, RULE_N };

struct rdate {
	int kind; /* RULE_M: month.week.wday; RULE_J: Jn; RULE_N: n */
	int m, w, d;
	int32_t secs; /* local time of day of the change */
};

struct wb_tz {
	int ntrans;
	int64_t *trans;
	uint8_t *tidx;
	int ntypes;
	int32_t *types; /* utoff, seconds east of UTC */
	/* the footer: std and dst offsets (east of UTC) and when dst runs */
	bool has_rule;
	bool has_dst;
	int32_t std_off, dst_off;
	struct rdate start, end;
};

void wb_tz_free(struct wb_tz *z)
{
	if (z == NULL)
		return;
	free(z->trans);
	free(z->tidx);
	free(z->types);
	free(z);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* ---- POSIX TZ strings ----------------------------------------------------
 */

static bool tz_name(const char **s)
{
	const char *p = *s;
	if (*p == '<') {
		p++;
		while (*p && *p != '>')
			p++;
		if (*p != '>')
			return false;
		*s = p + 1;
		return true;
	}
	int n = 0;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++, n++;
	if (n < 3)
		return false;
	*s = p;
	return true;
}

/* [+-]hh[:mm[:ss]], hours up to 167; seconds into *out. */
static bool tz_time(const char **s, int32_t *out)
{
	const char *p = *s;
	int sign = 1;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	int part[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			if (*p != ':')
				break;
			p++;
		}
		if (*p < '0' || *p > '9')
			return false;
		int v = 0, nd = 0;
		while (*p >= '0' && *p <= '9' && nd < 3)
			v = v * 10 + (*p++ - '0'), nd++;
		part[i] = v;
	}
	if (part[0] > 167 || part[1] > 59 || part[2] > 59)
		return false;
	*out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	*s = p;
	return true;
}

static bool tz_num(const char **s, int lo, int hi, int *out)
{
	const char *p = *s;
	if (*p < '0' || *p > '9')
		return false;
	int v = 0;
	while (*p >= '0' && *p <= '9' && v <= hi)
		v = v * 10 + (*p++ - '0');
	if (v < lo || v > hi)
		return false;
	*out = v;
	*s = p;
	return true;
}

static bool tz_rdate(const char **s, struct rdate *r)
{
	const char *p = *s;
	if (*p == 'M') {
		p++;
		r->kind = RULE_M;
		if (!tz_num(&p, 1, 12, &r->m) || *p++ != '.' ||
		    !tz_num(&p, 1, 5, &r->w) || *p++ != '.' ||
		    !tz_num(&p, 0, 6, &r->d))
			return false;
	} else if (*p == 'J') {
		p++;
		r->kind = RULE_J;
		if (!tz_num(&p, 1, 365, &r->d))
			return false;
	} else {
		r->kind = RULE_N;
		if (!tz_num(&p, 0, 365, &r->d))
			return false;
	}
	r->secs = 7200;
	if (*p == '/') {
		p++;
		if (!tz_time(&p, &r->secs))
			return false;
	}
	*s = p;
	return true;
}

static bool tz_rule(struct wb_tz *z, const char *s)
{
	int32_t off;
	if (!tz_name(&s) || !tz_time(&s, &off))
		return false;
	z->std_off = -off; /* POSIX counts west of UTC */
	z->dst_off = z->std_off;
	z->has_rule = true;
	if (*s == '\0')
		return true;
	if (!tz_name(&s))
		return false;
	z->has_dst = true;
	z->dst_off = z->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if (!tz_time(&s, &off))
			return false;
		z->dst_off = -off;
	}
	if (*s == '\0') { /* POSIX's default rule, the US one */
		z->start = (struct rdate){RULE_M, 3, 2, 0, 7200};
		z->end = (struct rdate){RULE_M, 11, 1, 0, 7200};
		return true;
	}
	if (*s++ != ',' || !tz_rdate(&s, &z->start) || *s++ != ',' ||
	    !tz_rdate(&s, &z->end))
		return false;
	return *s == '\0';
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since the epoch of rule date r in year y. */
static int64_t rdate_day(const struct rdate *r, int64_t y)
{
	if (r->kind == RULE_J)
		return wb_days_from_civil(y, 1, 1) + r->d - 1 +
		       (leap(y) && r->d >= 60);
	if (r->kind == RULE_N)
		return wb_days_from_civil(y, 1, 1) + r->d;
	int64_t first = wb_days_from_civil(y, r->m, 1);
	int wday1 = (int)((first % 7 + 7 + 4) % 7); /* 1970-01-01: Thu */
	int day = 1 + (r->d - wday1 + 7) % 7 + (r->w - 1) * 7;
	int dim = wb_days_in_month(y, r->m);
	while (day > dim)
		day -= 7;
	return first + day - 1;
}

static int32_t rule_offset(const struct wb_tz *z, int64_t t)
{
	if (!z->has_dst)
		return z->std_off;
	int64_t y;
	int m, d;
	wb_civil_from_days(wb_floor_div(t + z->std_off, 86400), &y, &m, &d);
	int64_t start =
		rdate_day(&z->start, y) * 86400 + z->start.secs - z->std_off;
	int64_t end = rdate_day(&z->end, y) * 86400 + z->end.secs - z->dst_off;
	bool dst = start < end ? (t >= start && t < end)
			       : !(t >= end && t < start);
	return dst ? z->dst_off : z->std_off;
}

int32_t wb_tz_offset(const struct wb_tz *z, int64_t t)
{
	if (z->ntrans == 0 || t < z->trans[0]) {
		if (z->ntrans == 0 && z->has_rule)
			return rule_offset(z, t);
		return z->ntypes > 0 ? z->types[0] : z->std_off;
	}
	if (t >= z->trans[z->ntrans - 1] && z->has_rule)
		return rule_offset(z, t);
	int lo = 0, hi = z->ntrans - 1; /* trans[lo] <= t */
	while (lo < hi) {
		int mid = lo + (hi - lo + 1) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return z->types[z->tidx[lo]];
}

int64_t wb_tz_local_to_utc(const struct wb_tz *z, int64_t local)
{
	int32_t oa = wb_tz_offset(z, local - 86400);
	int32_t ob = wb_tz_offset(z, local + 86400);
	int64_t u1 = local - oa;
	if (oa == ob || wb_tz_offset(z, u1) == oa)
		return u1;
	int64_t u2 = local - ob;
	if (wb_tz_offset(z, u2) == ob)
		return u2;
	return u1; /* in a gap: later by the gap's length */
}

/* ---- TZif ----------------------------------------------------------------
 */

struct wb_tz *wb_tz_parse(const uint8_t *b, size_t n)
{
	if (n < 44 || memcmp(b, "TZif", 4) != 0)
		return NULL;
	int version = b[4] == 0 ? 1 : b[4] - '0';
	if (version < 1 || version > 9)
		return NULL;
	size_t off = 0;
	int tsize = 4;
	for (int pass = 0; pass < 2; pass++) {
		if (n - off < 44 || memcmp(b + off, "TZif", 4) != 0)
			return NULL;
		const uint8_t *h = b + off + 20;
		uint64_t isut = be32(h), isstd = be32(h + 4),
			 leapc = be32(h + 8), timec = be32(h + 12),
			 typec = be32(h + 16), charc = be32(h + 20);
		if (timec > 100000 || typec == 0 || typec > 256 ||
		    leapc > 100000 || charc > 100000 ||
		    (isut != 0 && isut != typec) ||
		    (isstd != 0 && isstd != typec))
			return NULL;
		uint64_t len = timec * (uint64_t)tsize + timec + typec * 6 +
			       charc + leapc * (uint64_t)(tsize + 4) + isstd +
			       isut;
		if (len > n - off - 44)
			return NULL;
		const uint8_t *d = b + off + 44;
		if (version >= 2 && pass == 0) {
			off += 44 + len;
			tsize = 8;
			continue;
		}
		struct wb_tz *z = calloc(1, sizeof(*z));
		if (z == NULL)
			return NULL;
		z->ntrans = (int)timec;
		z->ntypes = (int)typec;
		z->trans = malloc(timec ? timec * sizeof(int64_t) : 1);
		z->tidx = malloc(timec ? timec : 1);
		z->types = malloc(typec * sizeof(int32_t));
		if (z->trans == NULL || z->tidx == NULL || z->types == NULL) {
			wb_tz_free(z);
			return NULL;
		}
		for (uint64_t i = 0; i < timec; i++) {
			z->trans[i] = tsize == 8 ? be64(d + i * 8)
						 : (int32_t)be32(d + i * 4);
			z->tidx[i] = d[timec * (uint64_t)tsize + i];
			if (z->tidx[i] >= typec ||
			    (i > 0 && z->trans[i] <= z->trans[i - 1])) {
				wb_tz_free(z);
				return NULL;
			}
		}
		const uint8_t *ty = d + timec * (uint64_t)tsize + timec;
		for (uint64_t i = 0; i < typec; i++) {
			int32_t u = (int32_t)be32(ty + i * 6);
			if (u < -89999 || u > 93599) {
				wb_tz_free(z);
				return NULL;
			}
			z->types[i] = u;
		}
		size_t foot = off + 44 + len;
		if (version >= 2 && foot < n && b[foot] == '\n') {
			const uint8_t *e =
				memchr(b + foot + 1, '\n', n - foot - 1);
			if (e == NULL) {
				wb_tz_free(z);
				return NULL;
			}
			size_t fl = (size_t)(e - (b + foot + 1));
			char rule[256];
			if (fl > 0 && fl < sizeof(rule)) {
				memcpy(rule, b + foot + 1, fl);
				rule[fl] = '\0';
				if (memchr(rule, '\0', fl) != NULL ||
				    !tz_rule(z, rule)) {
					wb_tz_free(z);
					return NULL;
				}
			}
		}
		return z;
	}
	return NULL;
}

/* "+01:00", "-0530", "+05", "UTC", "Z": a fixed offset. */
static bool fixed_offset(const char *name, int32_t *off)
{
	if (strcmp(name, "UTC") == 0 || strcmp(name, "Z") == 0) {
		*off = 0;
		return true;
	}
	if (name[0] != '+' && name[0] != '-')
		return false;
	int sign = name[0] == '-' ? -1 : 1;
	const char *p = name + 1;
	int dg[4], nd = 0;
	while (*p && nd < 4) {
		if (*p == ':' && nd == 2) {
			p++;
			continue;
		}
		if (*p < '0' || *p > '9')
			return false;
		dg[nd++] = *p++ - '0';
	}
	if (*p != '\0' || (nd != 2 && nd != 4))
		return false;
	int h = dg[0] * 10 + dg[1], m = nd == 4 ? dg[2] * 10 + dg[3] : 0;
	if (h > 18 || m > 59)
		return false;
	*off = sign * (h * 3600 + m * 60);
	return true;
}

struct wb_tz *wb_tz_load(const char *name, char *err, size_t err_n)
{
	int32_t off;
	if (fixed_offset(name, &off)) {
		struct wb_tz *z = calloc(1, sizeof(*z));
		if (z == NULL) {
			snprintf(err, err_n, "out of memory");
			return NULL;
		}
		z->has_rule = true;
		z->std_off = z->dst_off = off;
		return z;
	}
	size_t len = strlen(name);
	bool ok = len > 0 && len < 200 && name[0] != '/';
	for (size_t i = 0; ok && i < len; i++) {
		char c = name[i];
		ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		     (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		     c == '+' || (c == '/' && name[i + 1] != '\0');
		if (ok && (i == 0 || name[i - 1] == '/') && c == '.')
			ok = false;
	}
	if (!ok) {
		snprintf(err, err_n, "'%s' is not a time zone name", name);
		return NULL;
	}
	const char *dir = getenv("TZDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "/usr/share/zoneinfo";
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, err_n, "unknown time zone '%s' (no %s)", name,
			 path);
		return NULL;
	}
	uint8_t *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
	fclose(f);
	struct wb_tz *z = buf ? wb_tz_parse(buf, n) : NULL;
	free(buf);
	if (z == NULL)
		snprintf(err, err_n, "time zone '%s': %s is not a TZif file",
			 name, path);
	return z;
}
