/* my_gtid.c — MariaDB GTID state and MySQL GTID sets (my_gtid.h). */
#include "my_gtid.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binlog_rd.h"

/* snprintf-style output: writes what fits, counts everything. */
struct out {
	char *buf;
	size_t n;
	size_t len;
};

static void out_init(struct out *o, char *buf, size_t n)
{
	o->buf = buf;
	o->n = n;
	o->len = 0;
	if (n > 0)
		buf[0] = '\0';
}

static void out_printf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	char *dst = o->len < o->n ? o->buf + o->len : NULL;
	size_t room = o->len < o->n ? o->n - o->len : 0;
	va_start(ap, fmt);
	int w = vsnprintf(dst, room, fmt, ap);
	va_end(ap);
	if (w > 0)
		o->len += (size_t)w;
}

static const char *skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* A decimal number of at most max; advances *pp. */
static bool parse_uint(const char **pp, uint64_t max, uint64_t *v)
{
	const char *p = *pp;
	uint64_t x = 0;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');
		if (x > (max - d) / 10)
			return false;
		x = x * 10 + d;
		p++;
	}
	*pp = p;
	*v = x;
	return true;
}

/* MariaDB */

void wb_my_gtid_state_init(struct wb_my_gtid_state *s)
{
	memset(s, 0, sizeof(*s));
}

void wb_my_gtid_state_free(struct wb_my_gtid_state *s)
{
	if (s == NULL)
		return;
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Index of domain, or of where it would go. */
static size_t state_find(const struct wb_my_gtid_state *s, uint32_t domain)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->v[mid].domain < domain)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct wb_my_maria_gtid *
wb_my_gtid_state_get(const struct wb_my_gtid_state *s, uint32_t domain)
{
	size_t i = state_find(s, domain);
	return i < s->n && s->v[i].domain == domain ? &s->v[i] : NULL;
}

bool wb_my_gtid_state_contains(const struct wb_my_gtid_state *s,
			       uint32_t domain, uint64_t seq)
{
	const struct wb_my_maria_gtid *g = wb_my_gtid_state_get(s, domain);
	return g != NULL && g->seq >= seq;
}

static int state_insert(struct wb_my_gtid_state *s, size_t i, uint32_t domain,
			uint32_t server, uint64_t seq, wb_error_t *err)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		struct wb_my_maria_gtid *v = realloc(s->v, cap * sizeof(*v));
		if (v == NULL)
			return wb_error_set(err, WB_ERR_NOMEM,
					    "GTID state: out of memory");
		s->v = v;
		s->cap = cap;
	}
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = (struct wb_my_maria_gtid){domain, server, seq};
	s->n++;
	return 0;
}

int wb_my_gtid_state_update(struct wb_my_gtid_state *s, uint32_t domain,
			    uint32_t server, uint64_t seq, wb_error_t *err)
{
	size_t i = state_find(s, domain);
	if (i < s->n && s->v[i].domain == domain) {
		s->v[i].server = server;
		s->v[i].seq = seq;
		return 0;
	}
	return state_insert(s, i, domain, server, seq, err);
}

int wb_my_gtid_state_parse(struct wb_my_gtid_state *s, const char *text,
			   wb_error_t *err)
{
	const char *p = skip_blank(text);
	s->n = 0;
	while (*p != '\0') {
		uint64_t d, sv, q;
		const char *at = p;
		if (!parse_uint(&p, UINT32_MAX, &d) || *p++ != '-' ||
		    !parse_uint(&p, UINT32_MAX, &sv) || *p++ != '-' ||
		    !parse_uint(&p, UINT64_MAX, &q)) {
			s->n = 0;
			return wb_error_set(err, WB_ERR_DECODE,
					    "GTID state: \"%.40s\" is not "
					    "domain-server-seq",
					    at);
		}
		size_t i = state_find(s, (uint32_t)d);
		if (i < s->n && s->v[i].domain == d) {
			s->n = 0;
			return wb_error_set(err, WB_ERR_DECODE,
					    "GTID state: domain %llu given "
					    "twice",
					    (unsigned long long)d);
		}
		int rc = state_insert(s, i, (uint32_t)d, (uint32_t)sv, q, err);
		if (rc != 0) {
			s->n = 0;
			return rc;
		}
		p = skip_blank(p);
		if (*p == ',') {
			p = skip_blank(p + 1);
			if (*p == '\0') {
				s->n = 0;
				return wb_error_set(err, WB_ERR_DECODE,
						    "GTID state: trailing "
						    "comma");
			}
		} else if (*p != '\0') {
			s->n = 0;
			return wb_error_set(err, WB_ERR_DECODE,
					    "GTID state: unexpected \"%.20s\"",
					    p);
		}
	}
	return 0;
}

size_t wb_my_gtid_state_format(const struct wb_my_gtid_state *s, char *buf,
			       size_t n)
{
	struct out o;
	out_init(&o, buf, n);
	for (size_t i = 0; i < s->n; i++)
		out_printf(&o, "%s%u-%u-%llu", i ? "," : "", s->v[i].domain,
			   s->v[i].server, (unsigned long long)s->v[i].seq);
	return o.len;
}

/* MySQL */

void wb_my_gtid_set_init(struct wb_my_gtid_set *s)
{
	memset(s, 0, sizeof(*s));
}

static void set_clear(struct wb_my_gtid_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->sids[i].iv);
	s->n = 0;
}

void wb_my_gtid_set_free(struct wb_my_gtid_set *s)
{
	if (s == NULL)
		return;
	set_clear(s);
	free(s->sids);
	memset(s, 0, sizeof(*s));
}

static int sid_cmp(const uint8_t *uuid, const char *tag,
		   const struct wb_my_gtid_sid *x)
{
	int c = memcmp(uuid, x->uuid, 16);
	return c != 0 ? c : strcmp(tag, x->tag);
}

/* Index of (uuid, tag), or where it would go; *found says which. */
static size_t sid_find(const struct wb_my_gtid_set *s, const uint8_t *uuid,
		       const char *tag, bool *found)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sid_cmp(uuid, tag, &s->sids[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < s->n && sid_cmp(uuid, tag, &s->sids[lo]) == 0;
	return lo;
}

/* tag folded to lower case into out[33]; false when it is no valid tag. */
static bool norm_tag(const char *tag, size_t len, char *out)
{
	if (len == 0) {
		out[0] = '\0';
		return true;
	}
	if (len > 32)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tag[i];
		bool ok = c == '_' || (c < 128 && isalpha(c)) ||
			  (i > 0 && c < 128 && isdigit(c));
		if (!ok)
			return false;
		out[i] = (char)tolower(c);
	}
	out[len] = '\0';
	return true;
}

/* Adds [first, last] to the (uuid, tag) entry, merging. */
static int add_interval(struct wb_my_gtid_set *s, const uint8_t *uuid,
			const char *tag, uint64_t first, uint64_t last,
			wb_error_t *err)
{
	bool found;
	size_t i = sid_find(s, uuid, tag, &found);
	if (!found) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 4;
			struct wb_my_gtid_sid *v =
				realloc(s->sids, cap * sizeof(*v));
			if (v == NULL)
				return wb_error_set(err, WB_ERR_NOMEM,
						    "GTID set: out of memory");
			s->sids = v;
			s->cap = cap;
		}
		memmove(s->sids + i + 1, s->sids + i,
			(s->n - i) * sizeof(*s->sids));
		struct wb_my_gtid_sid *x = &s->sids[i];
		memset(x, 0, sizeof(*x));
		memcpy(x->uuid, uuid, 16);
		strcpy(x->tag, tag);
		s->n++;
	}
	struct wb_my_gtid_sid *x = &s->sids[i];
	/* the first interval that ends at or after first - 1 */
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->iv[mid].last + 1 < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* intervals lo..j-1 touch [first, last]: merge them */
	size_t j = lo;
	while (j < x->n && x->iv[j].first <= last + 1) {
		if (x->iv[j].first < first)
			first = x->iv[j].first;
		if (x->iv[j].last > last)
			last = x->iv[j].last;
		j++;
	}
	if (j == lo) {
		if (x->n == x->cap) {
			size_t cap = x->cap ? x->cap * 2 : 2;
			struct wb_my_gno_interval *v =
				realloc(x->iv, cap * sizeof(*v));
			if (v == NULL) {
				if (x->n == 0) { /* the entry just made */
					memmove(s->sids + i, s->sids + i + 1,
						(s->n - i - 1) *
							sizeof(*s->sids));
					s->n--;
				}
				return wb_error_set(err, WB_ERR_NOMEM,
						    "GTID set: out of memory");
			}
			x->iv = v;
			x->cap = cap;
		}
		memmove(x->iv + lo + 1, x->iv + lo,
			(x->n - lo) * sizeof(*x->iv));
		x->n++;
	} else if (j > lo + 1) {
		memmove(x->iv + lo + 1, x->iv + j, (x->n - j) * sizeof(*x->iv));
		x->n -= j - lo - 1;
	}
	x->iv[lo].first = first;
	x->iv[lo].last = last;
	return 0;
}

int wb_my_gtid_set_add(struct wb_my_gtid_set *s, const uint8_t uuid[16],
		       const char *tag, uint64_t gno, wb_error_t *err)
{
	char t[33];
	if (tag == NULL)
		tag = "";
	if (!norm_tag(tag, strlen(tag), t))
		return wb_error_set(err, WB_ERR_DECODE,
				    "GTID set: \"%.40s\" is not a GTID tag",
				    tag);
	if (gno < 1 || gno > WB_MY_GNO_MAX)
		return wb_error_set(err, WB_ERR_DECODE,
				    "GTID set: gno %llu out of range",
				    (unsigned long long)gno);
	return add_interval(s, uuid, t, gno, gno, err);
}

int wb_my_gtid_set_add_gtid(struct wb_my_gtid_set *s,
			    const struct wb_my_gtid *g, wb_error_t *err)
{
	if (g->mariadb || g->anonymous)
		return wb_error_set(err, WB_ERR_DECODE,
				    "GTID set: %s GTID has no uuid:gno",
				    g->mariadb ? "a MariaDB" : "an anonymous");
	return wb_my_gtid_set_add(s, g->sid, g->tag, g->gno, err);
}

static bool sid_contains(const struct wb_my_gtid_sid *x, uint64_t first,
			 uint64_t last)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->iv[mid].last < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->n && x->iv[lo].first <= first && x->iv[lo].last >= last;
}

bool wb_my_gtid_set_contains(const struct wb_my_gtid_set *s,
			     const uint8_t uuid[16], const char *tag,
			     uint64_t gno)
{
	char t[33];
	bool found;
	if (tag == NULL)
		tag = "";
	if (!norm_tag(tag, strlen(tag), t))
		return false;
	size_t i = sid_find(s, uuid, t, &found);
	return found && sid_contains(&s->sids[i], gno, gno);
}

bool wb_my_gtid_set_is_subset(const struct wb_my_gtid_set *a,
			      const struct wb_my_gtid_set *b)
{
	for (size_t i = 0; i < a->n; i++) {
		bool found;
		const struct wb_my_gtid_sid *x = &a->sids[i];
		size_t k = sid_find(b, x->uuid, x->tag, &found);
		if (!found)
			return false;
		for (size_t j = 0; j < x->n; j++)
			if (!sid_contains(&b->sids[k], x->iv[j].first,
					  x->iv[j].last))
				return false;
	}
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 8-4-4-4-12 hex digits; advances *pp. */
static bool parse_uuid(const char **pp, uint8_t *uuid)
{
	const char *p = *pp;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			if (*p != '-')
				return false;
			p++;
		}
		int h = hexval(p[0]);
		int l = h < 0 ? -1 : hexval(p[1]);
		if (h < 0 || l < 0)
			return false;
		uuid[i] = (uint8_t)(h << 4 | l);
		p += 2;
	}
	*pp = p;
	return true;
}

int wb_my_gtid_set_parse(struct wb_my_gtid_set *s, const char *text,
			 wb_error_t *err)
{
	const char *p = skip_blank(text);
	set_clear(s);
	while (*p != '\0') {
		uint8_t uuid[16];
		char tag[33] = "";
		int nelem = 0;
		bool tag_pending = false;
		if (!parse_uuid(&p, uuid))
			goto bad;
		for (;;) {
			p = skip_blank(p);
			if (*p != ':')
				break;
			p = skip_blank(p + 1);
			if (*p >= '0' && *p <= '9') {
				uint64_t first, last;
				if (!parse_uint(&p, WB_MY_GNO_MAX, &first))
					goto bad;
				last = first;
				p = skip_blank(p);
				if (*p == '-') {
					p = skip_blank(p + 1);
					if (!parse_uint(&p, WB_MY_GNO_MAX,
							&last))
						goto bad;
				}
				if (first < 1 || last < first)
					goto bad;
				int rc = add_interval(s, uuid, tag, first, last,
						      err);
				if (rc != 0) {
					set_clear(s);
					return rc;
				}
				tag_pending = false;
			} else {
				const char *t = p;
				while (*p == '_' || isalnum((unsigned char)*p))
					p++;
				if (tag_pending ||
				    !norm_tag(t, (size_t)(p - t), tag) ||
				    tag[0] == '\0')
					goto bad;
				tag_pending = true;
			}
			nelem++;
		}
		if (nelem == 0 || tag_pending)
			goto bad;
		if (*p == ',') {
			p = skip_blank(p + 1);
			if (*p == '\0')
				goto bad;
		} else if (*p != '\0') {
			goto bad;
		}
	}
	return 0;
bad:
	set_clear(s);
	return wb_error_set(err, WB_ERR_DECODE,
			    "GTID set: malformed at \"%.40s\"", *p ? p : text);
}

size_t wb_my_gtid_set_format(const struct wb_my_gtid_set *s, char *buf,
			     size_t n)
{
	struct out o;
	out_init(&o, buf, n);
	for (size_t i = 0; i < s->n; i++) {
		const struct wb_my_gtid_sid *x = &s->sids[i];
		bool same_uuid =
			i > 0 && memcmp(s->sids[i - 1].uuid, x->uuid, 16) == 0;
		if (!same_uuid) {
			const uint8_t *u = x->uuid;
			out_printf(&o,
				   "%s%02x%02x%02x%02x-%02x%02x-%02x%02x-"
				   "%02x%02x-%02x%02x%02x%02x%02x%02x",
				   i ? "," : "", u[0], u[1], u[2], u[3], u[4],
				   u[5], u[6], u[7], u[8], u[9], u[10], u[11],
				   u[12], u[13], u[14], u[15]);
		}
		if (x->tag[0] != '\0')
			out_printf(&o, ":%s", x->tag);
		for (size_t j = 0; j < x->n; j++) {
			if (x->iv[j].first == x->iv[j].last)
				out_printf(&o, ":%llu",
					   (unsigned long long)x->iv[j].first);
			else
				out_printf(&o, ":%llu-%llu",
					   (unsigned long long)x->iv[j].first,
					   (unsigned long long)x->iv[j].last);
		}
	}
	return o.len;
}

int wb_my_previous_gtids_parse(const struct wb_my_format *fmt,
			       const struct wb_my_event *ev,
			       struct wb_my_gtid_set *out, wb_error_t *err)
{
	struct wb_my_rd r;
	uint64_t hdr, nsids, niv, first = 0, end = 0, tlen;
	const uint8_t *uuid, *t;
	(void)fmt;
	set_clear(out);
	if (ev->type != WB_MY_EV_PREVIOUS_GTIDS)
		return wb_error_set(err, WB_ERR_DECODE,
				    "binlog PREVIOUS_GTIDS expected, got event "
				    "type %u",
				    ev->type);
	wb_my_rd_init(&r, ev->body, ev->body_len, "PREVIOUS_GTIDS", err);
	if (wb_my_rd_uint(&r, 8, "header", &hdr))
		return WB_ERR_DECODE;
	bool tagged = (hdr >> 56) != 0;
	nsids = tagged ? (hdr >> 8) & ((1ull << 48) - 1)
		       : hdr & ((1ull << 56) - 1);
	if (tagged && ((hdr >> 56) != 1 || (hdr & 0xff) != 1))
		return wb_my_rd_fail(&r, "header", "has an unknown format");
	if (nsids > wb_my_rd_left(&r) / 24)
		return wb_my_rd_fail(&r, "uuid count", "out of range");
	for (uint64_t i = 0; i < nsids; i++) {
		char tag[33] = "";
		if (wb_my_rd_bytes(&r, 16, "uuid", &uuid))
			goto bad;
		if (tagged) {
			if (wb_my_rd_varlen(&r, "tag length", &tlen))
				goto bad;
			if (tlen > 32 ||
			    wb_my_rd_bytes(&r, (size_t)tlen, "tag", &t) ||
			    !norm_tag((const char *)t, (size_t)tlen, tag)) {
				wb_my_rd_fail(&r, "tag", "is not a GTID tag");
				goto bad;
			}
		}
		if (wb_my_rd_uint(&r, 8, "interval count", &niv))
			goto bad;
		if (niv > wb_my_rd_left(&r) / 16) {
			wb_my_rd_fail(&r, "interval count", "out of range");
			goto bad;
		}
		for (uint64_t j = 0; j < niv; j++) {
			wb_my_rd_uint(&r, 8, "interval", &first);
			wb_my_rd_uint(&r, 8, "interval", &end);
			if (first < 1 || end <= first ||
			    end - 1 > WB_MY_GNO_MAX) {
				wb_my_rd_fail(&r, "interval", "out of range");
				goto bad;
			}
			int rc = add_interval(out, uuid, tag, first, end - 1,
					      err);
			if (rc != 0) {
				set_clear(out);
				return rc;
			}
		}
	}
	if (wb_my_rd_left(&r) != 0) {
		wb_my_rd_fail(&r, "body", "has trailing bytes");
		goto bad;
	}
	return 0;
bad:
	set_clear(out);
	return WB_ERR_DECODE;
}
