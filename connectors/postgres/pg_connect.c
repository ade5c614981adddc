/* pg_connect.c — opening a libpq connection to the source database.
 *
 * source.dsn is kept as written in the file (${VAR} not expanded). It is
 * parsed first (PQconninfoParse: keyword=value pairs or a URI), then ${VAR}
 * is expanded inside each parsed value, and the connection is made from
 * those key/value arrays with expand_dbname = 0: a value from the
 * environment (a password with spaces, quotes, backslashes or "=") is
 * never parsed as connection-string syntax. A dsn that is one ${VAR} and
 * nothing else holds a whole connection string, parsed as such.
 *
 * The connection is made asynchronously (PQconnectStartParams and
 * PQconnectPoll in a poll() loop) under source.connect_timeout, and stops
 * at once when a stop is requested (wb_stop_requested). A dsn naming
 * several hosts gets one attempt per host, each with the whole timeout (a
 * host that never answers does not keep waybill from the next one). Name
 * resolution (getaddrinfo) still blocks inside libpq.
 *
 * No message made here contains the DSN or any value parsed from it other
 * than the host and port libpq is talking to. */
#include "pg_connect.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "pg_catalog.h"
#include "stop.h"

/* Longest single wait: bounds how late a stop request that arrives just
 * before poll() is noticed. */
#define WB_PG_CONNECT_TICK_MS 100

/* NULL-terminated key and value arrays for PQconnectStartParams; every
 * string owned. */
struct params {
	char **keys;
	char **vals;
	int n;
};

static void params_free(struct params *p)
{
	for (int i = 0; i < p->n; i++) {
		free(p->keys[i]);
		free(p->vals[i]);
	}
	free(p->keys);
	free(p->vals);
	memset(p, 0, sizeof(*p));
}

/* Copies key; takes ownership of value (NULL: out of memory). */
static int params_add(struct params *p, const char *key, char *value,
		      wb_error_t *err)
{
	char *k = strdup(key);
	if (value == NULL || k == NULL) {
		free(k);
		free(value);
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	p->keys[p->n] = k;
	p->vals[p->n] = value;
	p->n++;
	return WB_OK;
}

/* True when text is exactly one ${NAME} (blanks around it allowed). */
static bool whole_variable(const char *text)
{
	while (isspace((unsigned char)*text))
		text++;
	if (text[0] != '$' || text[1] != '{')
		return false;
	const char *end = strchr(text + 2, '}');
	if (end == NULL || end == text + 2)
		return false;
	for (const char *c = text + 2; c < end; c++)
		if (!(isalnum((unsigned char)*c) || *c == '_'))
			return false;
	for (end++; isspace((unsigned char)*end);)
		end++;
	return *end == '\0';
}

/* libpq's parse error without the text it quotes, which may be part of a
 * secret (`missing "=" after "<half a password>"`); a quoted single
 * punctuation character ("=") stays. */
static void sanitize(const char *msg, char *out, size_t cap)
{
	size_t o = 0;
	for (const char *c = msg; *c && *c != '\n' && o + 6 < cap; c++) {
		const char *end = *c == '"' ? strchr(c + 1, '"') : NULL;
		if (end == NULL) {
			out[o++] = *c;
			continue;
		}
		if (end == c + 2 && ispunct((unsigned char)c[1])) {
			memcpy(out + o, c, 3);
			o += 3;
		} else {
			memcpy(out + o, "\"...\"", 5);
			o += 5;
		}
		c = end;
	}
	out[o] = '\0';
}

/* Whether trying again later may help: not when the server refused us
 * (authentication, unknown role or database, pg_hba.conf, privilege),
 * which it says in a FATAL message, except while it starts, stops or has
 * no connection slot free; not when libpq itself lacks a password. */
static bool retriable(const char *msg)
{
	if (strstr(msg, "fe_sendauth") != NULL)
		return false;
	if (strstr(msg, "FATAL:") == NULL)
		return true;
	static const char *const transient[] = {
		"starting up",
		"shutting down",
		"in recovery mode",
		"too many",
		"connection slots",
		"not yet accepting",
		"terminating connection",
	};
	for (size_t i = 0; i < sizeof(transient) / sizeof(*transient); i++)
		if (strstr(msg, transient[i]) != NULL)
			return true;
	return false;
}

/* The key/values to connect with: the parsed DSN, each value expanded,
 * then waybill's own application_name, session options (after any the
 * DSN gives) and replication. */
static int build_params(const struct wb_config *cfg, const char *replication,
			struct params *p, wb_error_t *err)
{
	const char *raw = cfg->source.dsn ? cfg->source.dsn : "";
	char *whole = NULL;
	char *perr = NULL;
	char *user_options = NULL;
	PQconninfoOption *opts = NULL;
	int rc = WB_OK;
	bool expand_values = true;

	memset(p, 0, sizeof(*p));
	if (whole_variable(raw)) {
		whole = wb_config_expand(cfg, "source.dsn", raw, err);
		if (whole == NULL)
			return err->code;
		raw = whole;
		expand_values = false;
	}
	opts = PQconninfoParse(raw, &perr);
	if (opts == NULL) {
		char clean[300];
		sanitize(perr ? perr : "out of memory", clean, sizeof(clean));
		rc = wb_error_set(
			err, perr ? WB_ERR_CONFIG : WB_ERR_NOMEM,
			"%s: source.dsn: not a valid libpq connection string "
			"(%s); write keyword=value pairs or a postgresql:// "
			"URI, and take secrets from ${VAR}, which may hold any "
			"characters",
			cfg->path, clean);
		goto done;
	}
	int count = 0;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		count += o->val != NULL;
	size_t cap = (size_t)count + 4;
	p->keys = calloc(cap, sizeof(*p->keys));
	p->vals = calloc(cap, sizeof(*p->vals));
	if (p->keys == NULL || p->vals == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (PQconninfoOption *o = opts; o->keyword && rc == WB_OK; o++) {
		if (o->val == NULL ||
		    strcmp(o->keyword, "application_name") == 0 ||
		    strcmp(o->keyword, "replication") == 0)
			continue;
		char *v = expand_values ? wb_config_expand(cfg, "source.dsn",
							   o->val, err)
					: strdup(o->val);
		if (v == NULL) {
			rc = expand_values ? err->code
					   : wb_error_set(err, WB_ERR_NOMEM,
							  "out of memory");
			break;
		}
		if (strcmp(o->keyword, "options") == 0) {
			free(user_options);
			user_options = v;
			continue;
		}
		rc = params_add(p, o->keyword, v, err);
	}
	if (rc != WB_OK)
		goto done;

	char appname[80];
	snprintf(appname, sizeof(appname), "waybill_%s", cfg->name);
	rc = params_add(p, "application_name", strdup(appname), err);
	if (rc == WB_OK) {
		size_t len = (user_options ? strlen(user_options) + 1 : 0) +
			     sizeof(WB_PG_SESSION_OPTIONS);
		char *all = malloc(len);
		if (all)
			snprintf(all, len, "%s%s%s",
				 user_options ? user_options : "",
				 user_options ? " " : "",
				 WB_PG_SESSION_OPTIONS);
		rc = params_add(p, "options", all, err);
	}
	if (rc == WB_OK && replication)
		rc = params_add(p, "replication", strdup(replication), err);
done:
	if (rc != WB_OK)
		params_free(p);
	free(user_options);
	free(whole);
	PQconninfoFree(opts);
	if (perr)
		PQfreemem(perr);
	return rc;
}

static void format_ms(long long ms, char *buf, size_t n)
{
	if (ms % 1000 == 0)
		snprintf(buf, n, "%lld s", ms / 1000);
	else
		snprintf(buf, n, "%lld ms", ms);
}

/* One connection attempt under its own deadline. Returns the connection,
 * or NULL with *why (one line) and *retry filled, or with *stopped set. */
static PGconn *attempt(const char *const *keys, const char *const *vals,
		       long long timeout, char *why, size_t n, bool *retry,
		       bool *stopped)
{
	long long deadline = wb_clock_mono_ms() + timeout;
	PGconn *conn = PQconnectStartParams(keys, vals, 0);
	if (conn == NULL) {
		snprintf(why, n, "out of memory");
		*retry = false;
		return NULL;
	}
	PostgresPollingStatusType st = PQstatus(conn) == CONNECTION_BAD
					       ? PGRES_POLLING_FAILED
					       : PGRES_POLLING_WRITING;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED) {
			wb_pg_error_line(conn, why, n);
			*retry = retriable(PQerrorMessage(conn));
			goto fail;
		}
		if (wb_stop_requested) {
			*stopped = true;
			goto fail;
		}
		long long left = deadline - wb_clock_mono_ms();
		if (left <= 0) {
			char t[32];
			format_ms(timeout, t, sizeof(t));
			const char *host = PQhost(conn);
			const char *port = PQport(conn);
			snprintf(why, n,
				 "no answer from %s%s%s within %s "
				 "(source.connect_timeout)",
				 host && *host ? host : "the server",
				 port && *port ? " port " : "",
				 port && *port ? port : "", t);
			*retry = true;
			goto fail;
		}
		struct pollfd pfd = {
			.fd = PQsocket(conn),
			.events =
				st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
		};
		int wait = left < WB_PG_CONNECT_TICK_MS ? (int)left
							: WB_PG_CONNECT_TICK_MS;
		int r = pfd.fd >= 0 ? poll(&pfd, 1, wait) : 1;
		if (r < 0 && errno != EINTR) {
			snprintf(why, n, "poll: %s", strerror(errno));
			*retry = true;
			goto fail;
		}
		if (r > 0)
			st = PQconnectPoll(conn);
	}
	return conn;
fail:
	PQfinish(conn);
	return NULL;
}

/* The items of a comma-separated list (libpq's host, hostaddr and port
 * lists) in one malloc'd block: *items points into it. Returns the
 * count, 0 for NULL, -1 when out of memory. */
static int split(const char *list, char ***items)
{
	*items = NULL;
	if (list == NULL)
		return 0;
	int n = 1;
	for (const char *c = list; *c; c++)
		n += *c == ',';
	size_t len = strlen(list) + 1;
	char **v = malloc((size_t)n * sizeof(*v) + len);
	if (v == NULL)
		return -1;
	char *text = (char *)(v + n);
	memcpy(text, list, len);
	int i = 0;
	for (char *tok = text;; tok++) {
		v[i++] = tok;
		tok = strchr(tok, ',');
		if (tok == NULL)
			break;
		*tok = '\0';
	}
	*items = v;
	return n;
}

static int find_key(const struct params *p, const char *key)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->keys[i], key) == 0)
			return i;
	return -1;
}

PGconn *wb_pg_connect(const struct wb_config *cfg, const char *replication,
		      wb_error_t *err)
{
	struct params p;
	if (build_params(cfg, replication, &p, err) != WB_OK)
		return NULL;
	long long timeout = cfg->source.connect_timeout_ms > 0
				    ? cfg->source.connect_timeout_ms
				    : 10000;
	/* Several hosts (host=a,b): one attempt each, each with the whole
	 * timeout, as libpq's blocking connect does; the first that takes us
	 * wins (target_session_attrs applies to each). Lists libpq would
	 * reject as mismatched, and prefer-standby, go to libpq whole. */
	int ih = find_key(&p, "host"), ia = find_key(&p, "hostaddr");
	int ip = find_key(&p, "port");
	char **hosts, **addrs, **ports;
	int nh = split(ih >= 0 ? p.vals[ih] : NULL, &hosts);
	int na = split(ia >= 0 ? p.vals[ia] : NULL, &addrs);
	int np = split(ip >= 0 ? p.vals[ip] : NULL, &ports);
	int n = nh > na ? nh : na;
	/* prefer-standby needs libpq's two passes over all the hosts */
	int it = find_key(&p, "target_session_attrs");
	bool whole = it >= 0 && strcmp(p.vals[it], "prefer-standby") == 0;
	bool each = !whole && nh >= 0 && na >= 0 && np >= 0 && n > 1 &&
		    (nh == 0 || nh == n) && (na == 0 || na == n) &&
		    (np <= 1 || np == n);
	const char **vals = calloc((size_t)p.n + 1, sizeof(*vals));
	PGconn *conn = NULL;
	char all[sizeof(err->message)] = "";
	size_t used = 0;
	bool retry = false, stopped = false;
	if (vals == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto done;
	}
	for (int i = 0; i < (each ? n : 1) && conn == NULL && !stopped; i++) {
		for (int k = 0; k < p.n; k++)
			vals[k] = p.vals[k];
		if (each && nh)
			vals[ih] = hosts[i];
		if (each && na)
			vals[ia] = addrs[i];
		if (each && np > 1)
			vals[ip] = ports[i];
		char why[400] = "";
		bool r = false;
		conn = attempt((const char *const *)p.keys, vals, timeout, why,
			       sizeof(why), &r, &stopped);
		if (conn == NULL && !stopped) {
			retry |= r;
			int w = snprintf(all + used, sizeof(all) - used, "%s%s",
					 used ? "; " : "", why);
			if (w > 0)
				used += (size_t)w < sizeof(all) - used
						? (size_t)w
						: sizeof(all) - used - 1;
		}
	}
	if (stopped) {
		wb_error_set(err, WB_ERR_CONNECT,
			     "stopped while connecting to PostgreSQL "
			     "(source.dsn in %s)",
			     cfg->path);
	} else if (conn == NULL) {
		wb_error_set(err, WB_ERR_CONNECT,
			     "cannot connect to PostgreSQL (source.dsn in %s): "
			     "%s",
			     cfg->path, all);
		err->retriable = retry;
	}
done:
	free(vals);
	free(hosts);
	free(addrs);
	free(ports);
	params_free(&p);
	return conn;
}
