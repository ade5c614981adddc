/* registry.c — Confluent Schema Registry client: registers schemas, caches ids.
 *
 * The part of the Confluent REST API (v1) used here:
 *   POST /subjects/{subject}/versions  {"schema": "<schema JSON as a string>"}
 *                                      → 200 {"id": N}
 *   GET  /subjects                     → 200 ["subject", ...]
 *   a failure                          → 4xx/5xx
 *                                        {"error_code": N, "message": "..."}
 * The registry answers the same id for the same schema under any subject, so
 * the id is all a producer needs for the Confluent framing.
 *
 * One libcurl easy handle per registry object: libcurl keeps its connection
 * alive between requests. Credentials travel only through CURLOPT_USERNAME /
 * CURLOPT_PASSWORD; messages name the URL with its user:pass@ part removed,
 * and the password is masked in every message as a last line of defence.
 * libcurl honours the usual proxy variables (https_proxy, no_proxy). */
#include "registry.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#ifndef WB_VERSION
#define WB_VERSION "dev"
#endif

#define WB_REGISTRY_DEFAULT_TIMEOUT_MS 10000L
#define WB_REGISTRY_MAX_CONNECT_MS 5000L
/* an answer we read is small; a registry sending more is broken */
#define WB_REGISTRY_MAX_ANSWER (4u << 20)
#define WB_REGISTRY_REASON_MAX 200

#define CT_REGISTRY "application/vnd.schemaregistry.v1+json"

struct wb_registry_entry {
	struct wb_registry_entry *next;
	uint64_t hash;
	char *subject;
	char *schema;
	int32_t id;
};

struct wb_registry {
	pthread_mutex_t lock;
	CURL *curl;
	struct curl_slist *post_headers;
	struct curl_slist *get_headers;
	char *url; /* base URL without credentials or trailing '/' */
	char *username;
	char *password;
	char *ca, *cert, *key;
	long timeout_ms;
	struct wb_buf answer; /* body of the last answer */
	bool answer_too_large;
	char curl_err[CURL_ERROR_SIZE];
	struct wb_registry_entry **buckets; /* (subject, schema) → id */
	size_t nbuckets;
	size_t count;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* Never paired with curl_global_cleanup: other threads (librdkafka's) may use
 * libcurl until the process ends. */
static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_or_null(const char *s, bool *failed)
{
	if (s == NULL || *s == '\0')
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*failed = true;
	return d;
}

static void free_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* Replaces every occurrence of the password in err's message with "***". */
static void mask_password(const struct wb_registry *r, wb_error_t *err)
{
	if (err == NULL || r->password == NULL || r->password[0] == '\0')
		return;
	size_t pl = strlen(r->password);
	char out[sizeof(err->message)];
	size_t o = 0;
	const char *p = err->message;
	while (*p != '\0' && o + 1 < sizeof(out)) {
		if (strncmp(p, r->password, pl) == 0) {
			for (int i = 0; i < 3 && o + 1 < sizeof(out); i++)
				out[o++] = '*';
			p += pl;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	memcpy(err->message, out, o + 1);
}

/* Splits the user:pass@ part off url. *base gets the URL without it (and
 * without trailing '/'); *user / *pass the decoded credentials or NULL. */
static int parse_url(const char *url, char **base, char **user, char **pass,
		     wb_error_t *err)
{
	int rc = WB_OK;
	char *scheme = NULL, *query = NULL, *full = NULL;
	CURLU *u = curl_url();
	*base = *user = *pass = NULL;
	if (u == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK) {
		/* the text may hold a password: do not echo it */
		rc = wb_error_set(err, WB_ERR_CONFIG,
				  "schema_registry.url is not a valid URL: %s",
				  curl_url_strerror(uc));
		goto cleanup;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		rc = wb_error_set(err, WB_ERR_CONFIG,
				  "schema_registry.url must start with http:// "
				  "or https://");
		goto cleanup;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
		rc = wb_error_set(err, WB_ERR_CONFIG,
				  "schema_registry.url must not have a ?query");
		goto cleanup;
	}
	uc = curl_url_get(u, CURLUPART_USER, user, CURLU_URLDECODE);
	if (uc != CURLUE_OK && uc != CURLUE_NO_USER)
		goto nomem;
	uc = curl_url_get(u, CURLUPART_PASSWORD, pass, CURLU_URLDECODE);
	if (uc != CURLUE_OK && uc != CURLUE_NO_PASSWORD)
		goto nomem;
	if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
		goto nomem;
	*base = strdup(full);
	if (*base == NULL)
		goto nomem;
	size_t n = strlen(*base);
	while (n > 0 && (*base)[n - 1] == '/')
		(*base)[--n] = '\0';
	goto cleanup;
nomem:
	rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
cleanup:
	if (rc != WB_OK) {
		free(*base);
		curl_free(*user);
		if (*pass != NULL)
			explicit_bzero(*pass, strlen(*pass));
		curl_free(*pass);
		*base = *user = *pass = NULL;
	}
	curl_free(full);
	curl_free(query);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

static size_t on_answer(char *data, size_t size, size_t nmemb, void *arg)
{
	struct wb_registry *r = arg;
	size_t n = size * nmemb;
	if (r->answer.len + n > WB_REGISTRY_MAX_ANSWER) {
		r->answer_too_large = true;
		return 0; /* libcurl aborts with CURLE_WRITE_ERROR */
	}
	wb_buf_append(&r->answer, data, n);
	return r->answer.failed ? 0 : n;
}

/* Appends one header line; an allocation failure sets *failed and keeps
 * the list as it was. */
static void add_header(struct curl_slist **list, const char *line, bool *failed)
{
	struct curl_slist *l = curl_slist_append(*list, line);
	if (l == NULL)
		*failed = true;
	else
		*list = l;
}

#define SETOPT(opt, val)                                                       \
	do {                                                                   \
		if (curl_easy_setopt(r->curl, opt, val) != CURLE_OK) {         \
			rc = wb_error_set(err, WB_ERR_CONFIG,                  \
					  "schema registry: this libcurl "     \
					  "lacks %s",                          \
					  #opt);                               \
			goto cleanup;                                          \
		}                                                              \
	} while (0)

struct wb_registry *wb_registry_new(const struct wb_registry_config *c,
				    wb_error_t *err)
{
	int rc = WB_OK;
	char *url_user = NULL, *url_pass = NULL;
	bool failed = false;
	struct wb_registry *r = NULL;

	if (c == NULL || c->url == NULL || c->url[0] == '\0') {
		rc = wb_error_set(err, WB_ERR_CONFIG,
				  "schema_registry.url is not set");
		goto cleanup;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "schema registry: cannot initialise "
				  "libcurl: %s",
				  curl_easy_strerror(curl_init_rc));
		goto cleanup;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	pthread_mutex_init(&r->lock, NULL);
	wb_buf_init(&r->answer);
	rc = parse_url(c->url, &r->url, &url_user, &url_pass, err);
	if (rc != WB_OK)
		goto cleanup;
	/* configured credentials win over ones written into the URL */
	if (c->username != NULL && c->username[0] != '\0') {
		r->username = dup_or_null(c->username, &failed);
		r->password = dup_or_null(c->password, &failed);
	} else {
		r->username = dup_or_null(url_user, &failed);
		r->password = dup_or_null(url_pass, &failed);
	}
	r->ca = dup_or_null(c->ca_location, &failed);
	r->cert = dup_or_null(c->cert_location, &failed);
	r->key = dup_or_null(c->key_location, &failed);
	r->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms
					  : WB_REGISTRY_DEFAULT_TIMEOUT_MS;
	r->nbuckets = 16;
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	r->curl = curl_easy_init();
	add_header(&r->post_headers, "Content-Type: " CT_REGISTRY, &failed);
	add_header(&r->post_headers,
		   "Accept: " CT_REGISTRY ", application/json", &failed);
	/* no "Expect: 100-continue" round trip before larger schemas */
	add_header(&r->post_headers, "Expect:", &failed);
	add_header(&r->get_headers, "Accept: " CT_REGISTRY ", application/json",
		   &failed);
	if (failed || r->buckets == NULL || r->curl == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto cleanup;
	}

	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, r->curl_err);
	SETOPT(CURLOPT_WRITEFUNCTION, on_answer);
	SETOPT(CURLOPT_WRITEDATA, r);
	SETOPT(CURLOPT_USERAGENT, "waybill/" WB_VERSION);
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_TIMEOUT_MS, r->timeout_ms);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS,
	       r->timeout_ms < WB_REGISTRY_MAX_CONNECT_MS
		       ? r->timeout_ms
		       : WB_REGISTRY_MAX_CONNECT_MS);
	SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (r->ca != NULL)
		SETOPT(CURLOPT_CAINFO, r->ca);
	if (r->cert != NULL)
		SETOPT(CURLOPT_SSLCERT, r->cert);
	if (r->key != NULL)
		SETOPT(CURLOPT_SSLKEY, r->key);
	if (r->username != NULL) {
		SETOPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SETOPT(CURLOPT_USERNAME, r->username);
		SETOPT(CURLOPT_PASSWORD,
		       r->password != NULL ? r->password : "");
	}
cleanup:
	curl_free(url_user);
	if (url_pass != NULL)
		explicit_bzero(url_pass, strlen(url_pass));
	curl_free(url_pass);
	if (rc != WB_OK) {
		wb_registry_free(r);
		return NULL;
	}
	return r;
}

/* The length of the valid UTF-8 sequence at p (at most len bytes), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t len)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* no overlong forms */
	else if (c == 0xed)
		hi = 0x9f; /* no surrogates */
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f; /* nothing past U+10FFFF */
	if (len < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	return n;
}

void wb_registry_reason(const void *body, size_t body_len, char *out,
			size_t cap)
{
	const char *src = NULL;
	size_t len = 0;
	json_t *doc = NULL;
	if (cap < 16) {
		if (cap > 0)
			out[0] = '\0';
		return;
	}
	if (body_len > 0) {
		doc = json_loadb(body, body_len, 0, NULL);
		json_t *m = json_object_get(doc, "message");
		if (json_is_string(m)) {
			src = json_string_value(m);
			len = json_string_length(m);
		} else {
			src = body;
			len = body_len;
		}
	}
	size_t limit = cap - 4 < WB_REGISTRY_REASON_MAX
			       ? cap - 4
			       : WB_REGISTRY_REASON_MAX;
	size_t o = 0;
	bool cut = false;
	for (size_t i = 0; i < len;) {
		unsigned char ch = (unsigned char)src[i];
		if (ch == '\n' || ch == '\r' || ch == '\0') {
			for (size_t j = i; j < len && !cut; j++)
				cut = src[j] != '\n' && src[j] != '\r' &&
				      src[j] != ' ' && src[j] != '\t';
			break;
		}
		/* whole UTF-8 sequences or nothing; a byte of none is '?' */
		size_t n = utf8_seq((const unsigned char *)src + i, len - i);
		if (o + (n ? n : 1) > limit) {
			cut = true;
			break;
		}
		if (n == 0)
			out[o++] = '?';
		else if (n == 1)
			out[o++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
		else
			memcpy(out + o, src + i, n);
		o += n > 1 ? n : 0;
		i += n ? n : 1;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, cap, "(no message)");
	json_decref(doc);
}

/* The registry's reason for the last answer (wb_registry_reason). */
static void answer_reason(const struct wb_registry *r, char *out, size_t cap)
{
	wb_registry_reason(r->answer.data, r->answer.len, out, cap);
}

int wb_registry_parse_id(const void *body, size_t len, int32_t *id)
{
	json_t *ans = json_loadb(body, len, 0, NULL);
	json_t *jid = json_object_get(ans, "id");
	int rc = -1;
	if (json_is_integer(jid) && json_integer_value(jid) >= 0 &&
	    json_integer_value(jid) <= INT32_MAX) {
		*id = (int32_t)json_integer_value(jid);
		rc = 0;
	}
	json_decref(ans);
	return rc;
}

int wb_registry_parse_subjects(const void *body, size_t len, size_t *n)
{
	json_t *ans = json_loadb(body, len, 0, NULL);
	int rc = -1;
	if (json_is_array(ans)) {
		*n = json_array_size(ans);
		rc = 0;
	}
	json_decref(ans);
	return rc;
}

/* One request: GET when body is NULL, else POST body. 0 with *status set, or
 * a transport error. The answer is in r->answer. */
static int perform(struct wb_registry *r, const char *path, const char *body,
		   long *status, wb_error_t *err)
{
	int rc = WB_OK;
	size_t n = strlen(r->url) + strlen(path) + 1;
	char *full = malloc(n);
	if (full == NULL)
		return wb_error_set(err, WB_ERR_NOMEM, "out of memory");
	snprintf(full, n, "%s%s", r->url, path);
	wb_buf_reset(&r->answer);
	r->answer.failed = 0;
	r->answer_too_large = false;
	r->curl_err[0] = '\0';
	curl_easy_setopt(r->curl, CURLOPT_URL, full);
	if (body != NULL) {
		curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(body));
		curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->post_headers);
	} else {
		curl_easy_setopt(r->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, r->get_headers);
	}
	CURLcode cc = curl_easy_perform(r->curl);
	/* POSTFIELDS points into the caller's memory: do not keep it */
	curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, NULL);
	free(full);
	const char *why =
		r->curl_err[0] != '\0' ? r->curl_err : curl_easy_strerror(cc);
	switch (cc) {
	case CURLE_OK:
		curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, status);
		break;
	case CURLE_OUT_OF_MEMORY:
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		break;
	case CURLE_WRITE_ERROR:
		if (r->answer.failed)
			rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		else
			rc = wb_error_set(err, WB_ERR_DECODE,
					  "schema registry %s: answer larger "
					  "than %u bytes",
					  r->url, WB_REGISTRY_MAX_ANSWER);
		break;
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
		/* a retry cannot fix configuration */
		rc = wb_error_set(err, WB_ERR_CONNECT,
				  "schema registry %s: TLS: %s (check "
				  "schema_registry.ca_location / cert_location "
				  "/ key_location)",
				  r->url, why);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		rc = wb_error_set(err, WB_ERR_CONNECT,
				  "schema registry %s did not answer within "
				  "%ld ms: %s",
				  r->url, r->timeout_ms, why);
		if (err != NULL)
			err->retriable = true;
		break;
	default:
		rc = wb_error_set(err, WB_ERR_CONNECT,
				  "schema registry %s unreachable: %s", r->url,
				  why);
		if (err != NULL)
			err->retriable = true;
		break;
	}
	return rc;
}

/* Error for an HTTP status other than 2xx; subject may be NULL. */
static int http_error(struct wb_registry *r, long status, const char *subject,
		      wb_error_t *err)
{
	char reason[WB_REGISTRY_REASON_MAX + 8];
	answer_reason(r, reason, sizeof(reason));
	int rc;
	bool retriable = false;
	if (subject != NULL && (status == 409 || status == 422)) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "schema registry refused subject \"%s\": "
				  "%ld %s: %s",
				  subject, status,
				  status == 409 ? "incompatible" : "invalid",
				  reason);
	} else if (status == 401 || status == 403) {
		/* the user name is no secret and saves the reader a guess */
		char who[160];
		if (r->username != NULL)
			snprintf(who, sizeof(who),
				 "the credentials of user \"%s\"", r->username);
		else
			snprintf(who, sizeof(who),
				 "a request without credentials");
		rc = wb_error_set(err, WB_ERR_CONNECT,
				  "schema registry %s refused %s (HTTP %ld): "
				  "%s; check schema_registry.username and "
				  "password",
				  r->url, who, status, reason);
	} else if (status == 408 || status == 429 || status >= 500) {
		rc = wb_error_set(
			err, WB_ERR_CONNECT,
			"schema registry %s failed%s%s%s: HTTP %ld: %s", r->url,
			subject ? " for subject \"" : "",
			subject ? subject : "", subject ? "\"" : "", status,
			reason);
		retriable = true;
	} else {
		rc = wb_error_set(
			err, WB_ERR_RUNTIME,
			"schema registry %s answered HTTP %ld%s%s%s: "
			"%s",
			r->url, status, subject ? " for subject \"" : "",
			subject ? subject : "", subject ? "\"" : "", reason);
	}
	if (err != NULL)
		err->retriable = retriable;
	return rc;
}

static uint64_t entry_hash(const char *subject, const char *schema)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (const char *p = subject; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL; /* separator: not a byte of UTF-8 */
	for (const char *p = schema; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return h;
}

static const struct wb_registry_entry *cache_find(const struct wb_registry *r,
						  uint64_t h,
						  const char *subject,
						  const char *schema)
{
	for (const struct wb_registry_entry *e = r->buckets[h % r->nbuckets];
	     e != NULL; e = e->next)
		if (e->hash == h && strcmp(e->subject, subject) == 0 &&
		    strcmp(e->schema, schema) == 0)
			return e;
	return NULL;
}

/* A failed insert only costs a later request again: not an error. */
static void cache_add(struct wb_registry *r, uint64_t h, const char *subject,
		      const char *schema, int32_t id)
{
	if (r->count >= r->nbuckets) {
		size_t nb = r->nbuckets * 2;
		struct wb_registry_entry **b = calloc(nb, sizeof(*b));
		if (b != NULL) {
			for (size_t i = 0; i < r->nbuckets; i++) {
				struct wb_registry_entry *e = r->buckets[i];
				while (e != NULL) {
					struct wb_registry_entry *next =
						e->next;
					e->next = b[e->hash % nb];
					b[e->hash % nb] = e;
					e = next;
				}
			}
			free(r->buckets);
			r->buckets = b;
			r->nbuckets = nb;
		}
	}
	struct wb_registry_entry *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return;
	e->subject = strdup(subject);
	e->schema = strdup(schema);
	if (e->subject == NULL || e->schema == NULL) {
		free(e->subject);
		free(e->schema);
		free(e);
		return;
	}
	e->hash = h;
	e->id = id;
	e->next = r->buckets[h % r->nbuckets];
	r->buckets[h % r->nbuckets] = e;
	r->count++;
}

int wb_registry_register(struct wb_registry *r, const char *subject,
			 const char *schema_json, int32_t *id, wb_error_t *err)
{
	int rc = WB_OK;
	char *escaped = NULL, *path = NULL, *body = NULL;
	json_t *req = NULL;

	if (subject == NULL || subject[0] == '\0' || schema_json == NULL)
		return wb_error_set(err, WB_ERR_RUNTIME,
				    "schema registry: empty subject or schema");
	pthread_mutex_lock(&r->lock);
	uint64_t h = entry_hash(subject, schema_json);
	const struct wb_registry_entry *hit =
		cache_find(r, h, subject, schema_json);
	if (hit != NULL) {
		*id = hit->id;
		goto cleanup;
	}
	req = json_pack("{s:s}", "schema", schema_json);
	if (req == NULL) {
		rc = wb_error_set(err, WB_ERR_RUNTIME,
				  "schema for subject \"%s\" is not valid "
				  "UTF-8",
				  subject);
		goto cleanup;
	}
	body = json_dumps(req, JSON_COMPACT);
	escaped = curl_easy_escape(r->curl, subject, 0);
	if (body == NULL || escaped == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	size_t n = strlen(escaped) + sizeof("/subjects//versions");
	path = malloc(n);
	if (path == NULL) {
		rc = wb_error_set(err, WB_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	snprintf(path, n, "/subjects/%s/versions", escaped);
	long status = 0;
	rc = perform(r, path, body, &status, err);
	if (rc != WB_OK)
		goto cleanup;
	if (status < 200 || status > 299) {
		rc = http_error(r, status, subject, err);
		goto cleanup;
	}
	int32_t got;
	if (wb_registry_parse_id(r->answer.data, r->answer.len, &got) != 0) {
		char reason[WB_REGISTRY_REASON_MAX + 8];
		answer_reason(r, reason, sizeof(reason));
		rc = wb_error_set(err, WB_ERR_DECODE,
				  "schema registry %s answered HTTP %ld for "
				  "subject \"%s\" without a valid id: %s",
				  r->url, status, subject, reason);
		goto cleanup;
	}
	*id = got;
	cache_add(r, h, subject, schema_json, *id);
cleanup:
	if (rc != WB_OK)
		mask_password(r, err);
	pthread_mutex_unlock(&r->lock);
	free(path);
	curl_free(escaped);
	free(body);
	json_decref(req);
	return rc;
}

int wb_registry_check(struct wb_registry *r, FILE *out, wb_error_t *err)
{
	int rc;
	long status = 0;
	wb_error_t e;

	wb_error_clear(&e);
	pthread_mutex_lock(&r->lock);
	rc = perform(r, "/subjects", NULL, &status, &e);
	if (rc == WB_OK && (status < 200 || status > 299))
		rc = http_error(r, status, NULL, &e);
	size_t nsubjects = 0;
	if (rc == WB_OK) {
		if (wb_registry_parse_subjects(r->answer.data, r->answer.len,
					       &nsubjects) != 0)
			rc = wb_error_set(&e, WB_ERR_DECODE,
					  "schema registry %s: GET /subjects "
					  "did not answer a JSON array; is "
					  "schema_registry.url right?",
					  r->url);
	}
	if (rc == WB_OK) {
		fprintf(out, "ok schema registry: %s answers (%zu subjects)\n",
			r->url, nsubjects);
	} else {
		mask_password(r, &e);
		fprintf(out, "FAIL schema registry: %s\n", e.message);
		if (err != NULL)
			*err = e;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void wb_registry_free(struct wb_registry *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; r->buckets != NULL && i < r->nbuckets; i++) {
		struct wb_registry_entry *e = r->buckets[i];
		while (e != NULL) {
			struct wb_registry_entry *next = e->next;
			free(e->subject);
			free(e->schema);
			free(e);
			e = next;
		}
	}
	free(r->buckets);
	if (r->curl != NULL)
		curl_easy_cleanup(r->curl);
	curl_slist_free_all(r->post_headers);
	curl_slist_free_all(r->get_headers);
	wb_buf_free(&r->answer);
	free(r->url);
	free(r->username);
	free_secret(r->password);
	free(r->ca);
	free(r->cert);
	free(r->key);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
