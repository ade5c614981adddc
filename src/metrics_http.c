/* metrics_http.c — the HTTP endpoint (libmicrohttpd, one internal polling
 * thread): /metrics in the Prometheus text format, /healthz and /readyz.
 *
 * /healthz: 200 while the source and sink threads turn their loops (each
 * waits at most a second or so per turn; silent for HEALTH_MAX_S means
 * stuck), else 503. /readyz: 200 when wb_metrics_ready() says so, else 503
 * with the reason as the body. */
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "error.h"

#define HEALTH_MAX_S 60.0

struct wb_metrics_http {
	struct MHD_Daemon *d;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *type, char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, mode);
	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_len, void **state)
{
	(void)cls;
	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		static char m[] = "only GET\n";
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", m,
			     sizeof(m) - 1, MHD_RESPMEM_PERSISTENT);
	}
	if (strcmp(url, "/metrics") == 0) {
		size_t len = 0;
		char *text = wb_metrics_render(&len);
		if (text == NULL) {
			static char m[] = "out of memory\n";
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     "text/plain", m, sizeof(m) - 1,
				     MHD_RESPMEM_PERSISTENT);
		}
		return reply(c, MHD_HTTP_OK,
			     "text/plain; version=0.0.4; charset=utf-8", text,
			     len, MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0) {
		char why[200];
		bool ok = url[1] == 'h'
				  ? wb_metrics_healthy(HEALTH_MAX_S, why,
						       sizeof(why) - 1)
				  : wb_metrics_ready(
					    wb_metrics.ready_checkpoint_age_s,
					    why, sizeof(why) - 1);
		strcat(why, "\n");
		return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
			     "text/plain", why, strlen(why),
			     MHD_RESPMEM_MUST_COPY);
	}
	static char nf[] = "not found: try /metrics, /healthz or /readyz\n";
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", nf, sizeof(nf) - 1,
		     MHD_RESPMEM_PERSISTENT);
}

/* Parses "host:port", "[v6]:port" or ":port" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss,
			wb_error_t *err)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	if (colon == NULL || colon[1] == '\0')
		goto bad;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		goto bad;
	size_t hl = (size_t)(colon - listen);
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			goto bad;
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
		a->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (strcmp(host, "localhost") == 0)
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		goto bad;
	return 0;
bad:
	return wb_error_set(err, WB_ERR_CONFIG,
			    "metrics.listen: expected host:port with a numeric "
			    "address (127.0.0.1:9187, [::1]:9187, :9187), got "
			    "\"%s\"",
			    listen);
}

struct wb_metrics_http *wb_metrics_http_start(const char *listen,
					      double ready_checkpoint_age_s,
					      wb_error_t *err)
{
	struct sockaddr_storage ss;
	if (parse_listen(listen, &ss, err) != 0)
		return NULL;
	struct wb_metrics_http *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		return NULL;
	}
	wb_metrics.ready_checkpoint_age_s = ready_checkpoint_age_s;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	uint16_t port = ss.ss_family == AF_INET6
				? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
				: ntohs(((struct sockaddr_in *)&ss)->sin_port);
	h->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, NULL,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				MHD_OPTION_END);
	if (h->d == NULL) {
		free(h);
		wb_error_set(err, WB_ERR_CONFIG,
			     "metrics.listen %s: cannot listen there (address "
			     "in use, or not one of this machine's); choose "
			     "another host:port",
			     listen);
		return NULL;
	}
	return h;
}

void wb_metrics_http_stop(struct wb_metrics_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
