/* test_registry.c — schema registry client against the fake registry fixture.
 *
 * tests/fixtures/registry/fake_registry.py runs as a child process on a
 * loopback port; its /__requests counters show what reached it. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"
#include "check.h"

#ifndef WB_SOURCE_DIR
#define WB_SOURCE_DIR "."
#endif

static char tmpdir[] = "/tmp/wb-registry-XXXXXX";

struct server {
	pid_t pid;
	int port;
	char base[64];
};

/* Starts the fake registry with extra arguments; waits for its port file. */
static int server_start(struct server *s, const char *tag,
			const char *const *args)
{
	char portfile[256], script[512];
	snprintf(portfile, sizeof(portfile), "%s/%s.port", tmpdir, tag);
	snprintf(script, sizeof(script),
		 "%s/tests/fixtures/registry/fake_registry.py", WB_SOURCE_DIR);
	const char *argv[32] = {"/usr/bin/python3", script, "--port-file",
				portfile};
	int n = 4;
	for (int i = 0; args != NULL && args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(portfile, "r");
		if (f != NULL) {
			int ok = fscanf(f, "%d", &s->port) == 1;
			fclose(f);
			if (ok) {
				snprintf(s->base, sizeof(s->base),
					 "http://127.0.0.1:%d", s->port);
				return 0;
			}
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "fake registry %s did not start\n", tag);
	return -1;
}

static void server_stop(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
	struct {
		char *p;
		size_t n;
	} *b = arg;
	char *q = realloc(b->p, b->n + size * nmemb + 1);
	if (q == NULL)
		return 0;
	memcpy(q + b->n, data, size * nmemb);
	b->n += size * nmemb;
	q[b->n] = '\0';
	b->p = q;
	return size * nmemb;
}

/* GET with a separate handle (so it is not counted on the client's
 * connection); returns the parsed JSON answer or NULL. */
static json_t *http_get_json(const char *url, const char *userpwd,
			     const char *cafile)
{
	struct {
		char *p;
		size_t n;
	} b = {NULL, 0};
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (userpwd != NULL)
		curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	if (cafile != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	json_t *doc = NULL;
	if (rc == CURLE_OK && status == 200 && b.p != NULL)
		doc = json_loads(b.p, JSON_DECODE_ANY, NULL);
	free(b.p);
	return doc;
}

/* The fake registry's counters. */
static long requests(const struct server *s, const char *what)
{
	char url[128];
	snprintf(url, sizeof(url), "%s/__requests", s->base);
	json_t *doc = http_get_json(url, NULL, NULL);
	long v =
		doc ? (long)json_integer_value(json_object_get(doc, what)) : -1;
	json_decref(doc);
	return v;
}

/* A field of the last /subjects request the fake registry saw (copied). */
static char *last_request(const struct server *s, const char *what)
{
	char url[128];
	snprintf(url, sizeof(url), "%s/__requests", s->base);
	json_t *doc = http_get_json(url, NULL, NULL);
	const char *v = json_string_value(
		json_object_get(json_object_get(doc, "last"), what));
	char *copy = v ? strdup(v) : NULL;
	json_decref(doc);
	return copy;
}

/* The schema text the registry holds for id (copied), or NULL. */
static char *schema_by_id(const struct server *s, int32_t id,
			  const char *userpwd)
{
	char url[128];
	snprintf(url, sizeof(url), "%s/schemas/ids/%d", s->base, (int)id);
	json_t *doc = http_get_json(url, userpwd, NULL);
	json_t *text = json_object_get(doc, "schema");
	char *copy =
		json_is_string(text) ? strdup(json_string_value(text)) : NULL;
	json_decref(doc);
	return copy;
}

/* A loopback port nobody listens on (bound, then released). */
static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		return -1;
	close(fd);
	return ntohs(a.sin_port);
}

static struct wb_registry *open_registry(const char *url, const char *user,
					 const char *pass, long timeout_ms)
{
	struct wb_registry_config c = {.url = url,
				       .username = user,
				       .password = pass,
				       .timeout_ms = timeout_ms};
	wb_error_t err;
	struct wb_registry *r = wb_registry_new(&c, &err);
	if (r == NULL)
		fprintf(stderr, "wb_registry_new(%s): %s\n", url, err.message);
	return r;
}

/* Runs check into a string (owned by the caller). */
static char *check_line(struct wb_registry *r, int *rc, wb_error_t *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	*rc = wb_registry_check(r, out, err);
	fclose(out);
	return text;
}

static const char S1[] =
	"{\"type\":\"record\",\"name\":\"stock\",\"namespace\":\"wms1.public\","
	"\"fields\":[{\"name\":\"sku\",\"type\":\"string\"}]}";
static const char S2[] =
	"{\"type\":\"record\",\"name\":\"stock\",\"namespace\":\"wms1.public\","
	"\"fields\":[{\"name\":\"sku\",\"type\":\"string\"},{\"name\":\"qty\","
	"\"type\":[\"null\",\"long\"],\"default\":null}]}";
/* quotes, backslashes, \u escapes (a surrogate pair, NUL) kept as text, and
 * raw UTF-8: the registry must store exactly these bytes */
static const char S3[] =
	"{\"type\":\"record\",\"name\":\"q\",\"doc\":\"say \\\"hi\\\" \\\\ "
	"caf\\u00e9 \\ud83d\\ude00 \\u0000 tab\\t end\","
	"\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"default\":"
	"\"\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80 '\\/'\"}]}";

static void test_plain(void)
{
	const char *args[] = {"--fail-subject",
			      "t-409:409",
			      "--fail-subject",
			      "t-422:422",
			      "--fail-subject",
			      "t-500:500",
			      "--fail-subject",
			      NULL /* utf_fail */,
			      "--delay-subject",
			      "t-slow:2",
			      NULL};
	/* "t--" and 70 two-byte characters: the 200-byte cut of the 409
	 * reason falls inside one */
	char utf_subject[160], utf_fail[170];
	strcpy(utf_subject, "t--");
	for (int i = 0; i < 70; i++)
		strcat(utf_subject, "\xc3\xa9");
	snprintf(utf_fail, sizeof(utf_fail), "%s:409", utf_subject);
	args[7] = utf_fail;
	struct server s;
	if (server_start(&s, "plain", args) != 0) {
		failures++;
		return;
	}
	char url[128], want[1024];
	snprintf(url, sizeof(url), "%s/", s.base); /* trailing '/' is dropped */
	struct wb_registry *r = open_registry(url, NULL, NULL, 0);
	CHECK(r != NULL);
	if (r == NULL)
		goto out;
	wb_error_t err;
	int32_t id = -1;

	/* register → id; the request is the Confluent one */
	CHECK(wb_registry_register(r, "wms1.public.stock-value", S1, &id,
				   &err) == 0);
	CHECK(id == 1);
	CHECK(requests(&s, "register") == 1);
	char *v = last_request(&s, "content_type");
	CHECK_STR(v, "application/vnd.schemaregistry.v1+json");
	free(v);
	v = last_request(&s, "path");
	CHECK_STR(v, "/subjects/wms1.public.stock-value/versions");
	free(v);
	v = schema_by_id(&s, 1, NULL);
	CHECK_STR(v, S1);
	free(v);

	/* the same again comes from the cache: no request */
	id = -1;
	CHECK(wb_registry_register(r, "wms1.public.stock-value", S1, &id,
				   &err) == 0);
	CHECK(id == 1);
	CHECK(requests(&s, "register") == 1);

	/* another subject, same schema: one request, same id */
	id = -1;
	CHECK(wb_registry_register(r, "wms1.public.stock-key", S1, &id, &err) ==
	      0);
	CHECK(id == 1);
	CHECK(requests(&s, "register") == 2);
	/* another schema: a new id */
	CHECK(wb_registry_register(r, "wms1.public.stock-value", S2, &id,
				   &err) == 0);
	CHECK(id == 2);
	CHECK(requests(&s, "register") == 3);
	/* keep-alive: all of it went over one connection */
	CHECK(requests(&s, "connections") == 1);

	/* the subject is URL-encoded in the path */
	CHECK(wb_registry_register(r, "odd/sub ject?#", S1, &id, &err) == 0);
	CHECK(id == 1);
	v = last_request(&s, "path");
	CHECK_STR(v, "/subjects/odd%2Fsub%20ject%3F%23/versions");
	free(v);

	/* quotes, backslashes and \u escapes round-trip exactly */
	int32_t id3 = -1;
	CHECK(wb_registry_register(r, "esc-value", S3, &id3, &err) == 0);
	CHECK(id3 == 3);
	v = schema_by_id(&s, id3, NULL);
	CHECK_STR(v, S3);
	free(v);

	/* not UTF-8: refused before any request */
	long before = requests(&s, "register");
	CHECK(wb_registry_register(r, "bad-utf8", "\"\xff\"", &id, &err) ==
	      WB_ERR_RUNTIME);
	CHECK_STR(err.message,
		  "schema for subject \"bad-utf8\" is not valid UTF-8");
	CHECK(requests(&s, "register") == before);

	/* 409: the registry's reason, first line, cut at 200 bytes */
	id = 77;
	CHECK(wb_registry_register(r, "t-409", S2, &id, &err) ==
	      WB_ERR_RUNTIME);
	CHECK(!err.retriable && err.code == WB_ERR_RUNTIME && id == 77);
	CHECK_STR(err.message,
		  "schema registry refused subject \"t-409\": 409 "
		  "incompatible: Schema being registered is incompatible with "
		  "an earlier schema for subject \"t-409\", details: "
		  "[{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', "
		  "description:'The field 'qty' at path '/fields/1' in the "
		  "n...");
	/* refusals are not cached: asking again asks the registry again */
	before = requests(&s, "register");
	CHECK(wb_registry_register(r, "t-409", S2, &id, &err) ==
	      WB_ERR_RUNTIME);
	CHECK(requests(&s, "register") == before + 1);

	/* the cut never splits a UTF-8 character */
	CHECK(wb_registry_register(r, utf_subject, S2, &id, &err) ==
	      WB_ERR_RUNTIME);
	/* 76 bytes of text, "t--", 60 two-byte characters: 199 bytes */
	snprintf(want, sizeof(want),
		 "schema registry refused subject \"%s\": 409 incompatible: "
		 "Schema being registered is incompatible with an earlier "
		 "schema for subject \"t--%.*s...",
		 utf_subject, 120, utf_subject + 3);
	CHECK_STR(err.message, want);

	/* 422 */
	CHECK(wb_registry_register(r, "t-422", S2, &id, &err) ==
	      WB_ERR_RUNTIME);
	CHECK(!err.retriable);
	CHECK_STR(err.message,
		  "schema registry refused subject \"t-422\": 422 invalid: "
		  "Either the input schema or one its references is invalid");
	/* the registry's own 422 for a schema that is not JSON */
	CHECK(wb_registry_register(r, "t-garbage", "{not json", &id, &err) ==
	      WB_ERR_RUNTIME);
	CHECK(!err.retriable);
	CHECK_STR(err.message,
		  "schema registry refused subject \"t-garbage\": 422 invalid: "
		  "Invalid schema: Expecting property name enclosed in double "
		  "quotes: line 1 column 2 (char 1)");

	/* 5xx: retriable */
	CHECK(wb_registry_register(r, "t-500", S2, &id, &err) ==
	      WB_ERR_CONNECT);
	CHECK(err.retriable);
	snprintf(want, sizeof(want),
		 "schema registry %s failed for subject \"t-500\": HTTP 500: "
		 "Error in the backend data store",
		 s.base);
	CHECK_STR(err.message, want);

	/* many schemas: the cache grows and still answers each one */
	before = requests(&s, "register");
	int32_t ids[100];
	for (int i = 0; i < 100; i++) {
		char schema[64];
		snprintf(schema, sizeof(schema),
			 "{\"type\":\"fixed\",\"name\":"
			 "\"f%d\",\"size\":%d}",
			 i, i + 1);
		CHECK(wb_registry_register(r, "many", schema, &ids[i], &err) ==
		      0);
	}
	CHECK(requests(&s, "register") == before + 100);
	for (int i = 0; i < 100; i++) {
		char schema[64];
		snprintf(schema, sizeof(schema),
			 "{\"type\":\"fixed\",\"name\":"
			 "\"f%d\",\"size\":%d}",
			 i, i + 1);
		CHECK(wb_registry_register(r, "many", schema, &id, &err) == 0);
		CHECK(id == ids[i] && id == 4 + i);
	}
	CHECK(requests(&s, "register") == before + 100);
	CHECK(requests(&s, "connections") == 1);

	/* check: one ok line naming the subjects */
	int rc;
	char *line = check_line(r, &rc, &err);
	snprintf(want, sizeof(want),
		 "ok schema registry: %s answers (5 subjects)\n", s.base);
	CHECK(rc == 0);
	CHECK_STR(line, want);
	free(line);
	wb_registry_free(r);

	/* a registry that does not answer in time: retriable */
	r = open_registry(s.base, NULL, NULL, 300);
	CHECK(r != NULL);
	if (r != NULL) {
		CHECK(wb_registry_register(r, "t-slow", S1, &id, &err) ==
		      WB_ERR_CONNECT);
		CHECK(err.retriable);
		snprintf(want, sizeof(want),
			 "schema registry %s did not answer within 300 ms: ",
			 s.base);
		CHECK(strncmp(err.message, want, strlen(want)) == 0);
		wb_registry_free(r);
	}

	/* a URL that is not a registry (a path the fake answers 404 to) */
	snprintf(url, sizeof(url), "%s/nope", s.base);
	r = open_registry(url, NULL, NULL, 0);
	CHECK(r != NULL);
	if (r != NULL) {
		CHECK(wb_registry_register(r, "x", S1, &id, &err) ==
		      WB_ERR_RUNTIME);
		CHECK(!err.retriable);
		snprintf(want, sizeof(want),
			 "schema registry %s answered HTTP 404 for subject "
			 "\"x\": HTTP 404 Not Found",
			 url);
		CHECK_STR(err.message, want);
		wb_registry_free(r);
	}
out:
	server_stop(&s);
}

static void test_auth(void)
{
	const char *args[] = {"--basic-auth", "alice:s3cr3t-pw", NULL};
	struct server s;
	if (server_start(&s, "auth", args) != 0) {
		failures++;
		return;
	}
	char url[160], want[1024];
	wb_error_t err;
	int32_t id = -1;
	int rc;

	/* no credentials */
	struct wb_registry *r = open_registry(s.base, NULL, NULL, 0);
	CHECK(wb_registry_register(r, "a-value", S1, &id, &err) ==
	      WB_ERR_CONNECT);
	CHECK(!err.retriable);
	snprintf(want, sizeof(want),
		 "schema registry %s refused a request without credentials "
		 "(HTTP 401): Unauthorized; check schema_registry.username "
		 "and password",
		 s.base);
	CHECK_STR(err.message, want);
	wb_registry_free(r);

	/* a wrong password: named user, never the password */
	r = open_registry(s.base, "alice", "wr0ng-pw", 0);
	CHECK(wb_registry_register(r, "a-value", S1, &id, &err) ==
	      WB_ERR_CONNECT);
	CHECK(!err.retriable);
	snprintf(want, sizeof(want),
		 "schema registry %s refused the credentials of user "
		 "\"alice\" (HTTP 401): Unauthorized; check "
		 "schema_registry.username and password",
		 s.base);
	CHECK_STR(err.message, want);
	char *line = check_line(r, &rc, &err);
	CHECK(rc == WB_ERR_CONNECT);
	CHECK(line != NULL && strncmp(line, "FAIL schema registry: ", 22) == 0);
	CHECK(line != NULL && strstr(line, "wr0ng") == NULL);
	free(line);
	wb_registry_free(r);

	/* the right one, sent as basic auth */
	r = open_registry(s.base, "alice", "s3cr3t-pw", 0);
	CHECK(wb_registry_register(r, "a-value", S1, &id, &err) == 0);
	CHECK(id == 1);
	char *v = last_request(&s, "authorization");
	CHECK_STR(v, "Basic YWxpY2U6czNjcjN0LXB3"); /* alice:s3cr3t-pw */
	free(v);
	line = check_line(r, &rc, &err);
	CHECK(rc == 0);
	snprintf(want, sizeof(want),
		 "ok schema registry: %s answers (1 subjects)\n", s.base);
	CHECK_STR(line, want);
	free(line);
	wb_registry_free(r);

	/* credentials in the URL are used, and never shown */
	snprintf(url, sizeof(url), "http://alice:s3cr3t-pw@127.0.0.1:%d",
		 s.port);
	r = open_registry(url, NULL, NULL, 0);
	CHECK(wb_registry_register(r, "b-value", S2, &id, &err) == 0);
	CHECK(id == 2);
	line = check_line(r, &rc, &err);
	snprintf(want, sizeof(want),
		 "ok schema registry: %s answers (2 subjects)\n", s.base);
	CHECK_STR(line, want);
	free(line);
	wb_registry_free(r);

	/* wrong ones in the URL (percent-encoded): neither shown */
	snprintf(url, sizeof(url), "http://alice:bad%%40pw@127.0.0.1:%d/",
		 s.port);
	r = open_registry(url, NULL, NULL, 0);
	CHECK(wb_registry_register(r, "c-value", S2, &id, &err) ==
	      WB_ERR_CONNECT);
	snprintf(want, sizeof(want),
		 "schema registry %s refused the credentials of user "
		 "\"alice\" (HTTP 401): Unauthorized; check "
		 "schema_registry.username and password",
		 s.base);
	CHECK_STR(err.message, want);
	wb_registry_free(r);
	server_stop(&s);
}

static void test_unreachable(void)
{
	char url[160], want[256];
	wb_error_t err;
	int32_t id = 5;
	int port = closed_port();
	CHECK(port > 0);
	snprintf(url, sizeof(url), "http://bob:hunter22@127.0.0.1:%d/registry/",
		 port);
	/* new does no I/O: it succeeds with nothing listening */
	struct wb_registry *r = open_registry(url, NULL, NULL, 2000);
	CHECK(r != NULL);
	if (r == NULL)
		return;
	CHECK(wb_registry_register(r, "x-value", S1, &id, &err) ==
	      WB_ERR_CONNECT);
	CHECK(err.retriable && id == 5);
	snprintf(want, sizeof(want),
		 "schema registry http://127.0.0.1:%d/registry unreachable: ",
		 port);
	CHECK(strncmp(err.message, want, strlen(want)) == 0);
	CHECK(strstr(err.message, "hunter22") == NULL);
	CHECK(strstr(err.message, "bob") == NULL);
	if (strncmp(err.message, want, strlen(want)) != 0)
		fprintf(stderr, "  got: %s\n", err.message);
	int rc;
	char *line = check_line(r, &rc, &err);
	CHECK(rc == WB_ERR_CONNECT && err.retriable);
	snprintf(want, sizeof(want),
		 "FAIL schema registry: schema registry "
		 "http://127.0.0.1:%d/registry unreachable: ",
		 port);
	CHECK(line != NULL && strncmp(line, want, strlen(want)) == 0);
	CHECK(line != NULL && strstr(line, "hunter22") == NULL);
	free(line);
	wb_registry_free(r);
}

static void test_config(void)
{
	wb_error_t err;
	struct wb_registry_config c = {0};
	CHECK(wb_registry_new(&c, &err) == NULL && err.code == WB_ERR_CONFIG);
	CHECK_STR(err.message, "schema_registry.url is not set");
	c.url = "ftp://u:pw@host/";
	CHECK(wb_registry_new(&c, &err) == NULL && err.code == WB_ERR_CONFIG);
	CHECK_STR(err.message,
		  "schema_registry.url must start with http:// or https://");
	c.url = "http://u:pw@host:99999999/";
	CHECK(wb_registry_new(&c, &err) == NULL && err.code == WB_ERR_CONFIG);
	CHECK(strncmp(err.message,
		      "schema_registry.url is not a valid URL: ", 40) == 0);
	CHECK(strstr(err.message, "pw") == NULL);
	c.url = "http://host/?a=b";
	CHECK(wb_registry_new(&c, &err) == NULL && err.code == WB_ERR_CONFIG);
	wb_registry_free(NULL);
}

struct worker {
	struct wb_registry *r;
	int bad;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 10; i++) {
			char schema[64];
			int32_t id = -1;
			wb_error_t err;
			snprintf(schema, sizeof(schema),
				 "{\"type\":\"enum\",\"name\":\"e%d\","
				 "\"symbols\":[\"A\"]}",
				 i);
			if (wb_registry_register(w->r, "shared", schema, &id,
						 &err) != 0 ||
			    id < 1 || id > 10)
				w->bad++;
		}
	}
	return NULL;
}

/* One registry used from several threads: each schema registered once. */
static void test_threads(void)
{
	struct server s;
	if (server_start(&s, "threads", NULL) != 0) {
		failures++;
		return;
	}
	struct wb_registry *r = open_registry(s.base, NULL, NULL, 0);
	CHECK(r != NULL);
	if (r != NULL) {
		pthread_t t[4];
		struct worker w[4];
		for (int i = 0; i < 4; i++) {
			w[i] = (struct worker){r, 0};
			CHECK(pthread_create(&t[i], NULL, worker_run, &w[i]) ==
			      0);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			CHECK(w[i].bad == 0);
		}
		CHECK(requests(&s, "register") == 10);
		wb_registry_free(r);
	}
	server_stop(&s);
}

/* TLS with a private CA and a client certificate (mutual TLS). */
static void test_tls(void)
{
	char cmd[2048], ca[256], cert[256], key[256], ccert[256], ckey[256];
	snprintf(ca, sizeof(ca), "%s/ca.pem", tmpdir);
	snprintf(cert, sizeof(cert), "%s/server.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/server.key", tmpdir);
	snprintf(ccert, sizeof(ccert), "%s/client.pem", tmpdir);
	snprintf(ckey, sizeof(ckey), "%s/client.key", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && exec >openssl.log 2>&1 && "
		 "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
		 "-out ca.pem -days 2 -subj /CN=wb-test-ca && "
		 "openssl req -newkey rsa:2048 -nodes -keyout server.key "
		 "-out server.csr -subj /CN=127.0.0.1 && "
		 "printf 'subjectAltName=IP:127.0.0.1\\n' >san.ext && "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
		 "-CAcreateserial -out server.pem -days 2 -extfile san.ext && "
		 "openssl req -newkey rsa:2048 -nodes -keyout client.key "
		 "-out client.csr -subj /CN=waybill && "
		 "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
		 "-CAcreateserial -out client.pem -days 2",
		 tmpdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "openssl failed: see %s/openssl.log\n", tmpdir);
		failures++;
		return;
	}
	const char *args[] = {"--tls-cert",  cert, "--tls-key", key,
			      "--client-ca", ca,   NULL};
	struct server s;
	if (server_start(&s, "tls", args) != 0) {
		failures++;
		return;
	}
	char url[128], want[256];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", s.port);
	wb_error_t err;
	int32_t id = -1;

	struct wb_registry_config c = {.url = url,
				       .ca_location = ca,
				       .cert_location = ccert,
				       .key_location = ckey};
	struct wb_registry *r = wb_registry_new(&c, &err);
	CHECK(r != NULL);
	if (r != NULL) {
		CHECK(wb_registry_register(r, "tls-value", S1, &id, &err) == 0);
		if (id != 1)
			fprintf(stderr, "  tls: %s\n", err.message);
		CHECK(id == 1);
		wb_registry_free(r);
	}

	/* the server is not trusted without the CA: not retriable */
	c.ca_location = NULL;
	r = wb_registry_new(&c, &err);
	CHECK(r != NULL);
	if (r != NULL) {
		CHECK(wb_registry_register(r, "tls-value", S2, &id, &err) ==
		      WB_ERR_CONNECT);
		CHECK(!err.retriable);
		snprintf(want, sizeof(want), "schema registry %s: TLS: ", url);
		CHECK(strncmp(err.message, want, strlen(want)) == 0);
		if (strncmp(err.message, want, strlen(want)) != 0)
			fprintf(stderr, "  got: %s\n", err.message);
		wb_registry_free(r);
	}

	/* without the client certificate the server refuses us */
	c.ca_location = ca;
	c.cert_location = c.key_location = NULL;
	r = wb_registry_new(&c, &err);
	CHECK(r != NULL);
	if (r != NULL) {
		CHECK(wb_registry_register(r, "tls-value", S2, &id, &err) ==
		      WB_ERR_CONNECT);
		wb_registry_free(r);
	}
	server_stop(&s);
}

/* The pure parsers of the registry's answers. */
static void test_parsers(void)
{
	int32_t id = -7;
	CHECK(wb_registry_parse_id("{\"id\": 42}", 10, &id) == 0 && id == 42);
	id = -7;
	CHECK(wb_registry_parse_id("{\"id\": 2147483648}", 18, &id) == -1);
	CHECK(wb_registry_parse_id("{\"id\": -1}", 10, &id) == -1);
	CHECK(wb_registry_parse_id("{\"id\": \"7\"}", 11, &id) == -1);
	CHECK(wb_registry_parse_id("{\"id\": 4", 8, &id) == -1);
	CHECK(wb_registry_parse_id("", 0, &id) == -1 && id == -7);
	/* only len bytes count */
	CHECK(wb_registry_parse_id("{\"id\": 5}xyz", 9, &id) == 0 && id == 5);
	size_t n = 9;
	CHECK(wb_registry_parse_subjects("[\"a\",\"b\"]", 9, &n) == 0 &&
	      n == 2);
	CHECK(wb_registry_parse_subjects("{}", 2, &n) == -1);

	char out[64];
	const char *e = "{\"error_code\": 409, \"message\": \"incompatible\"}";
	wb_registry_reason(e, strlen(e), out, sizeof(out));
	CHECK_STR(out, "incompatible");
	wb_registry_reason("<html>\r\n<b>502</b>", 18, out, sizeof(out));
	CHECK_STR(out, "<html>...");
	wb_registry_reason("", 0, out, sizeof(out));
	CHECK_STR(out, "(no message)");
	/* bytes of no valid UTF-8 sequence (here a lone 0xff, a truncated
	 * 3-byte sequence, a surrogate) become '?' */
	wb_registry_reason("a\xff b\xe2\x98 \xed\xa0\x80", 10, out,
			   sizeof(out));
	CHECK_STR(out, "a? b?? ???");
	/* cut to cap - 4 bytes and "...", never inside a UTF-8 sequence */
	char small[16];
	const char *u =
		"a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
	wb_registry_reason(u, strlen(u), small, sizeof(small));
	CHECK_STR(small, "a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...");
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	/* loopback only: a proxy from the environment must not interfere */
	setenv("no_proxy", "*", 1);
	setenv("NO_PROXY", "*", 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_config();
	test_parsers();
	test_plain();
	test_auth();
	test_unreachable();
	test_threads();
	test_tls();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	if (failures != 0) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("test_registry: all checks passed\n");
	return 0;
}
