/* my_connect.c — connections to MySQL/MariaDB with the source's options. */
#include "my_connect.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *opt(const struct wb_config *cfg, const char *key)
{
	return wb_config_extra(cfg->source.extra, cfg->source.nextra, key);
}

/* Errors that a later attempt may not see: the server is down or
 * unreachable, or the connection broke. */
static bool connection_error(unsigned int e)
{
	switch (e) {
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case CR_UNKNOWN_HOST:
	case CR_IPSOCK_ERROR:
	case ER_SERVER_SHUTDOWN:
	case ER_CONNECTION_KILLED:
	case ER_QUERY_INTERRUPTED:
	case ER_CON_COUNT_ERROR:
	case ER_TOO_MANY_USER_CONNECTIONS:
		return true;
	default:
		return false;
	}
}

int wb_my_error(MYSQL *c, const char *what, wb_error_t *err)
{
	unsigned int e = c ? mysql_errno(c) : 0;
	const char *m = c ? mysql_error(c) : "out of memory";
	wb_error_set(err, connection_error(e) ? WB_ERR_CONNECT : WB_ERR_RUNTIME,
		     "%s: %s (error %u)", what, m && m[0] ? m : "unknown error",
		     e);
	err->retriable = connection_error(e);
	return err->code;
}

static int set_ssl_mode(MYSQL *c, const char *mode, wb_error_t *err)
{
	my_bool on = 1, off = 0;
	if (mode == NULL || strcmp(mode, "preferred") == 0)
		return 0; /* the library's default: TLS when offered */
	if (strcmp(mode, "disable") == 0 || strcmp(mode, "disabled") == 0) {
		mysql_optionsv(c, MYSQL_OPT_SSL_ENFORCE, &off);
		return 0;
	}
	if (strcmp(mode, "required") == 0) {
		mysql_optionsv(c, MYSQL_OPT_SSL_ENFORCE, &on);
		mysql_optionsv(c, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
		return 0;
	}
	if (strcmp(mode, "verify_ca") == 0 ||
	    strcmp(mode, "verify_identity") == 0) {
		mysql_optionsv(c, MYSQL_OPT_SSL_ENFORCE, &on);
		mysql_optionsv(c, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
		return 0;
	}
	return wb_error_set(err, WB_ERR_CONFIG,
			    "source.ssl_mode: expected disable, preferred, "
			    "required, verify_ca or verify_identity");
}

MYSQL *wb_my_connect(const struct wb_config *cfg, int read_timeout_s,
		     wb_error_t *err)
{
	const char *host = opt(cfg, "host");
	const char *sock = opt(cfg, "socket");
	const char *user = opt(cfg, "user");
	const char *pass = opt(cfg, "password");
	const char *ports = opt(cfg, "port");
	unsigned int port = 3306;
	if (ports) {
		char *end;
		unsigned long p = strtoul(ports, &end, 10);
		if (*end != '\0' || p == 0 || p > 65535) {
			wb_error_set(err, WB_ERR_CONFIG,
				     "%s: source.port: expected a port "
				     "number 1-65535",
				     cfg->path);
			return NULL;
		}
		port = (unsigned int)p;
	}
	MYSQL *c = mysql_init(NULL);
	if (c == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "mysql_init: out of memory");
		return NULL;
	}
	unsigned int ct =
		cfg->source.connect_timeout_ms > 0
			? (unsigned int)((cfg->source.connect_timeout_ms +
					  999) /
					 1000)
			: 10;
	mysql_optionsv(c, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	if (read_timeout_s > 0) {
		unsigned int rt = (unsigned int)read_timeout_s;
		mysql_optionsv(c, MYSQL_OPT_READ_TIMEOUT, &rt);
		mysql_optionsv(c, MYSQL_OPT_WRITE_TIMEOUT, &rt);
	}
	unsigned long maxp = 1024UL * 1024 * 1024;
	mysql_optionsv(c, MYSQL_OPT_MAX_ALLOWED_PACKET, &maxp);
	mysql_optionsv(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_optionsv(c, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	/* no ~/.my.cnf or /etc/mysql: only what the pipeline's file says */
	if (set_ssl_mode(c, opt(cfg, "ssl_mode"), err)) {
		mysql_close(c);
		return NULL;
	}
	const char *ca = opt(cfg, "ssl_ca"), *cert = opt(cfg, "ssl_cert"),
		   *key = opt(cfg, "ssl_key");
	if (ca)
		mysql_optionsv(c, MYSQL_OPT_SSL_CA, ca);
	if (cert)
		mysql_optionsv(c, MYSQL_OPT_SSL_CERT, cert);
	if (key)
		mysql_optionsv(c, MYSQL_OPT_SSL_KEY, key);
	if (host == NULL && sock == NULL)
		host = "127.0.0.1";
	if (mysql_real_connect(c, sock ? NULL : host, user, pass, NULL, port,
			       sock, 0) == NULL) {
		char what[300];
		snprintf(what, sizeof(what), "cannot connect to %s%s%s",
			 sock ? sock : host, sock ? "" : ":",
			 sock ? "" : (ports ? ports : "3306"));
		unsigned int e = mysql_errno(c);
		wb_my_error(c, what, err);
		err->code = WB_ERR_CONNECT;
		/* refused for good: credentials, host not allowed */
		err->retriable =
			!(e == ER_ACCESS_DENIED_ERROR ||
			  e == ER_DBACCESS_DENIED_ERROR ||
			  e == ER_HOST_NOT_PRIVILEGED || e == ER_BAD_DB_ERROR ||
			  e == CR_SSL_CONNECTION_ERROR);
		mysql_close(c);
		return NULL;
	}
	return c;
}

int wb_my_exec(MYSQL *c, const char *sql, wb_error_t *err)
{
	if (mysql_real_query(c, sql, strlen(sql)) != 0) {
		char what[200];
		snprintf(what, sizeof(what), "%.120s", sql);
		return wb_my_error(c, what, err);
	}
	MYSQL_RES *r = mysql_store_result(c);
	mysql_free_result(r);
	return WB_OK;
}

MYSQL_RES *wb_my_query(MYSQL *c, const char *sql, wb_error_t *err)
{
	char what[200];
	snprintf(what, sizeof(what), "%.120s", sql);
	if (mysql_real_query(c, sql, strlen(sql)) != 0) {
		wb_my_error(c, what, err);
		return NULL;
	}
	MYSQL_RES *r = mysql_store_result(c);
	if (r == NULL) {
		if (mysql_errno(c) != 0)
			wb_my_error(c, what, err);
		else
			wb_error_set(err, WB_ERR_RUNTIME, "%s: no result set",
				     what);
	}
	return r;
}

char *wb_my_scalar(MYSQL *c, const char *sql, wb_error_t *err)
{
	MYSQL_RES *r = wb_my_query(c, sql, err);
	if (r == NULL)
		return NULL;
	MYSQL_ROW row = mysql_fetch_row(r);
	char *v = NULL;
	if (row && row[0]) {
		v = strdup(row[0]);
		if (v == NULL)
			wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	}
	mysql_free_result(r);
	return v;
}

bool wb_my_quote_ident(char *buf, size_t cap, size_t *len, const char *name)
{
	size_t o = *len;
	if (o + 1 >= cap)
		return false;
	buf[o++] = '`';
	for (const char *p = name; *p; p++) {
		if (o + 3 >= cap)
			return false;
		if (*p == '`')
			buf[o++] = '`';
		buf[o++] = *p;
	}
	buf[o++] = '`';
	buf[o] = '\0';
	*len = o;
	return true;
}

#define SELECT_MAX_COLS 16
#define SELECT_VALUE_MAX 65536

static int stmt_error(MYSQL_STMT *st, const char *sql, wb_error_t *err)
{
	unsigned int e = mysql_stmt_errno(st);
	wb_error_set(err, connection_error(e) ? WB_ERR_CONNECT : WB_ERR_RUNTIME,
		     "%.80s: %s (error %u)", sql, mysql_stmt_error(st), e);
	err->retriable = connection_error(e);
	return err->code;
}

int wb_my_select(MYSQL *c, const char *sql, const char *const *params,
		 int nparams,
		 int (*row)(void *ctx, char **vals, unsigned long *lens, int n),
		 void *ctx, wb_error_t *err)
{
	MYSQL_STMT *st = mysql_stmt_init(c);
	MYSQL_BIND pb[8], rb[SELECT_MAX_COLS];
	unsigned long plen[8], rlen[SELECT_MAX_COLS];
	my_bool rnull[SELECT_MAX_COLS], rerr[SELECT_MAX_COLS];
	char *vals[SELECT_MAX_COLS] = {0};
	char *bufs = NULL;
	int rc = WB_OK;
	if (st == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	if (nparams > 8) {
		rc = wb_error_set(err, WB_ERR_RUNTIME, "too many parameters");
		goto done;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql))) {
		rc = stmt_error(st, sql, err);
		goto done;
	}
	memset(pb, 0, sizeof(pb));
	for (int i = 0; i < nparams; i++) {
		plen[i] = strlen(params[i]);
		pb[i].buffer_type = MYSQL_TYPE_STRING;
		pb[i].buffer = (void *)params[i];
		pb[i].buffer_length = plen[i];
		pb[i].length = &plen[i];
	}
	if ((nparams > 0 && mysql_stmt_bind_param(st, pb)) ||
	    mysql_stmt_execute(st)) {
		rc = stmt_error(st, sql, err);
		goto done;
	}
	int n = (int)mysql_stmt_field_count(st);
	if (n > SELECT_MAX_COLS) {
		rc = wb_error_set(err, WB_ERR_RUNTIME, "too many columns");
		goto done;
	}
	bufs = malloc((size_t)(n > 0 ? n : 1) * (SELECT_VALUE_MAX + 1));
	if (bufs == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto done;
	}
	memset(rb, 0, sizeof(rb));
	for (int i = 0; i < n; i++) {
		rb[i].buffer_type = MYSQL_TYPE_STRING;
		rb[i].buffer = bufs + (size_t)i * (SELECT_VALUE_MAX + 1);
		rb[i].buffer_length = SELECT_VALUE_MAX;
		rb[i].length = &rlen[i];
		rb[i].is_null = &rnull[i];
		rb[i].error = &rerr[i];
	}
	if (n > 0 && mysql_stmt_bind_result(st, rb)) {
		rc = stmt_error(st, sql, err);
		goto done;
	}
	for (;;) {
		int f = mysql_stmt_fetch(st);
		if (f == MYSQL_NO_DATA)
			break;
		if (f == 1) {
			rc = stmt_error(st, sql, err);
			goto done;
		}
		for (int i = 0; i < n; i++) {
			char *b = rb[i].buffer;
			if (rnull[i]) {
				vals[i] = NULL;
				rlen[i] = 0;
				continue;
			}
			if (rlen[i] > SELECT_VALUE_MAX)
				rlen[i] = SELECT_VALUE_MAX;
			b[rlen[i]] = '\0';
			vals[i] = b;
		}
		if ((rc = row(ctx, vals, rlen, n)) != 0)
			goto done;
	}
done:
	mysql_stmt_close(st);
	free(bufs);
	return rc;
}
