/* zanshin — the coordinator API client (include/zanshin/coord_client.h):
 * libcurl over GnuTLS, TLS 1.3, the cluster CA as the only trust anchor. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zanshin/coord_client.h"
#include "zanshin/json.h"
#include "zanshin/utils.h"

#define MAX_ANSWER (64u << 20)

struct sink {
	char *buf;
	size_t len;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t k = size * n;

	if (s->len + k > MAX_ANSWER) {
		s->too_big = true;
		return 0;
	}
	s->buf = xrealloc(s->buf, s->len + k + 1);
	memcpy(s->buf + s->len, p, k);
	s->len += k;
	s->buf[s->len] = '\0';
	return k;
}

/* https://HOST:PORT[/...] -> HOST, PORT */
static int split_url(const char *url, char **host, char **port, zs_error_t *err)
{
	const char *h, *end, *colon;

	if (!str_has_prefix(url, "https://"))
		return zs_make_error(err, -EINVAL, "coordinator `%s`: expected https://HOST:PORT", url);
	h = url + strlen("https://");
	end = h + strcspn(h, "/");
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t) (end - h));
		if (rb == NULL)
			return zs_make_error(err, -EINVAL, "coordinator `%s`: bad IPv6 address", url);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(h, ':', (size_t) (end - h));
	}
	*host = xasprintf("%.*s", (int) ((colon ? colon : end) - h), h);
	*port = colon ? xasprintf("%.*s", (int) (end - colon - 1), colon + 1) : xstrdup("443");
	if (**host == '\0' || **port == '\0' || strspn(*port, "0123456789") != strlen(*port))
		return zs_make_error(err, -EINVAL, "coordinator `%s`: expected https://HOST:PORT", url);
	return 0;
}

static struct curl_slist *headers(const struct zs_coord_client *c, const char *body)
{
	struct curl_slist *h = NULL;

	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	if (c->token) {
		cleanup_free char *a = xasprintf("Authorization: Bearer %s", c->token);
		h = curl_slist_append(h, a);
	}
	return curl_slist_append(h, "Expect:");
}

static void setup(CURL *k, const struct zs_coord_client *c, const char *method, const char *url, const char *body,
		  struct sink *s)
{
	curl_easy_setopt(k, CURLOPT_URL, url);
	curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(k, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_3);
	curl_easy_setopt(k, CURLOPT_CAINFO, c->ca);
	curl_easy_setopt(k, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(k, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(k, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->cert) {
		curl_easy_setopt(k, CURLOPT_SSLCERT, c->cert);
		curl_easy_setopt(k, CURLOPT_SSLKEY, c->key);
	}
	curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(k, CURLOPT_TIMEOUT, c->timeout_s > 0 ? c->timeout_s : 30L);
	curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(k, CURLOPT_WRITEDATA, s);
	if (body) {
		curl_easy_setopt(k, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	}
}

/* One request to one coordinator URL (https://HOST:PORT). */
static int request_one(const struct zs_coord_client *c, const char *base, const char *method, const char *path,
		       const char *body, long *status, char **out, zs_error_t *err)
{
	cleanup_free char *host = NULL, *port = NULL, *url = NULL, *to = NULL;
	struct curl_slist *h, *connect_to = NULL;
	struct sink s = {0};
	CURL *k;
	CURLcode rc;

	if (split_url(base, &host, &port, err) < 0)
		return -1;
	/* connect to the URL's host, check the certificate against NAME */
	url = xasprintf("https://%s:%s%s", c->name ? c->name : host, port, path);
	k = curl_easy_init();
	if (k == NULL)
		return zs_make_error(err, -ENOMEM, "curl_easy_init");
	h = headers(c, body);
	setup(k, c, method, url, body, &s);
	curl_easy_setopt(k, CURLOPT_HTTPHEADER, h);
	if (c->name) {
		to = xasprintf("%s:%s:%s:%s", c->name, port, host, port);
		connect_to = curl_slist_append(NULL, to);
		curl_easy_setopt(k, CURLOPT_CONNECT_TO, connect_to);
	}
	rc = curl_easy_perform(k);
	curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(k);
	curl_slist_free_all(h);
	curl_slist_free_all(connect_to);
	if (rc != CURLE_OK) {
		free(s.buf);
		return zs_make_error(err, -ECONNREFUSED, "coordinator %s: %s", base,
				     s.too_big ? "answer too large" : curl_easy_strerror(rc));
	}
	*out = s.buf ? s.buf : xstrdup("");
	return 0;
}

/* The URL may list replicas (https://A:P,https://B:P): the one that
 * answered last is tried first, then the others in turn, so a dead
 * replica costs one failed connection. */
static size_t preferred;

int zs_coord_request(const struct zs_coord_client *c, const char *method, const char *path, const char *body,
		     long *status, char **out, zs_error_t *err)
{
	cleanup_free char *list = NULL;
	char *urls[ZS_COORD_MAX_URLS], *save = NULL, *u;
	size_t n = 0;
	int r = -1;

	if (c->url == NULL || c->ca == NULL)
		return zs_make_error(err, -EINVAL, "the coordinator's URL and the cluster CA are required");
	list = xstrdup(c->url);
	for (u = strtok_r(list, ",", &save); u && n < ZS_COORD_MAX_URLS; u = strtok_r(NULL, ",", &save))
		urls[n++] = u;
	if (n == 0)
		return zs_make_error(err, -EINVAL, "coordinator `%s`: expected https://HOST:PORT", c->url);
	for (size_t i = 0; i < n; i++) {
		size_t k = (preferred + i) % n;
		if (i > 0)
			zs_error_release(err);
		r = request_one(c, urls[k], method, path, body, status, out, err);
		if (r == 0) {
			preferred = k;
			return 0;
		}
		if (zs_error_errno(*err) != ECONNREFUSED)
			return -1;
	}
	return -1;
}

int zs_coord_call(const struct zs_coord_client *c, const char *method, const char *path, const char *body, char **out,
		  zs_error_t *err)
{
	cleanup_free char *ans = NULL;
	cleanup_json zs_json *j = NULL;
	cleanup_error zs_error_t pe = NULL;
	long status = 0;
	const char *msg;

	if (zs_coord_request(c, method, path, body, &status, &ans, err) < 0)
		return -1;
	if (status >= 200 && status < 300) {
		*out = steal_pointer(&ans);
		return 0;
	}
	zs_json_parse_buf(ans, "answer", &j, &pe);
	msg = zs_json_string_value(zs_json_get(j, "error"));
	return zs_make_error(err,
			     status == 404		      ? -ENOENT
			     : status == 403 || status == 401 ? -EACCES
							      : -EINVAL,
			     "coordinator: %s (HTTP %ld)", msg ? msg : "unexpected answer", status);
}
