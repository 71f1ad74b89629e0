/* zanshin-api — the HTTPS server (libmicrohttpd + gnutls, TLS 1.3): one
 * request = identify the caller (auth.c), route /v1/... by method and
 * path, check the caller's role, answer JSON. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_view.h"
#include "coord.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define MAX_PARTS 8

struct route {
	const char *method;
	const char *pattern; /* after /v1/: words, "*" = any one segment */
	enum who_role need;  /* WHO_NODE: agents only; WHO_VIEWER/ADMIN: people */
	int (*fn)(struct req *, struct reply *);
};

/* clang-format off */
static const struct route routes[] = {
    {"GET", "nodes", WHO_VIEWER, api_nodes},	     {"GET", "nodes/*", WHO_VIEWER, api_node},
    {"POST", "nodes/*/drain", WHO_ADMIN, api_drain}, {"POST", "nodes/*/undrain", WHO_ADMIN, api_drain},
    {"POST", "heartbeat", WHO_NODE, api_heartbeat},  {"GET", "containers", WHO_VIEWER, api_containers},
    {"GET", "remnants", WHO_VIEWER, api_remnants},   {"GET", "remnants/*", WHO_VIEWER, api_remnants},
    {"GET", "moves", WHO_VIEWER, api_moves},	     {"GET", "moves/*", WHO_VIEWER, api_move},
    {"POST", "moves", WHO_ADMIN, api_move_create},   {"POST", "moves/*/report", WHO_NODE, api_move_report},
    {"GET", "audit", WHO_VIEWER, api_audit},	     {"GET", "status", WHO_VIEWER, api_status},
    /* scheduler and timetable (api_place.c, api_timetable.c) */
    {"GET", "place/*", WHO_VIEWER, api_place},
    {"GET", "timetable", WHO_VIEWER, api_timetable_get},
    {"GET", "timetable/*", WHO_VIEWER, api_timetable_get},
    {"PUT", "timetable/*", WHO_ADMIN, api_timetable_put},
    {"DELETE", "timetable/*", WHO_ADMIN, api_timetable_delete},
};
/* clang-format on */

struct pending {
	char *body;
	size_t len;
	bool too_big;
};

int reply_error(struct reply *rep, int status, const char *fmt, ...)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "error", msg);
	zs_jgen_map_close(g);
	return reply_gen(rep, status, g);
}

int reply_gen(struct reply *rep, int status, zs_jgen *g)
{
	free(rep->body);
	rep->status = status;
	rep->body = zs_jgen_result(g, NULL);
	return 0;
}

int reply_bad(struct reply *rep, zs_error_t err)
{
	cleanup_free char *t = zs_error_text(err);
	int e = zs_error_errno(err);

	if (e == ENOENT)
		return reply_error(rep, 404, "%s", t);
	if (e == EEXIST || e == EBUSY)
		return reply_error(rep, 409, "%s", t);
	if (e == EACCES || e == EPERM)
		return reply_error(rep, 403, "%s", t);
	return reply_error(rep, 400, "%s", t);
}

int reply_internal(struct reply *rep, zs_error_t err)
{
	cleanup_free char *t = zs_error_text(err);

	zs_log("error", "%s", t);
	return reply_error(rep, 500, "internal error: %s", t);
}

const char *req_query(struct req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

static size_t split_path(char *path, char **parts)
{
	size_t n = 0;
	char *save = NULL, *t;

	for (t = strtok_r(path, "/", &save); t && n < MAX_PARTS; t = strtok_r(NULL, "/", &save))
		parts[n++] = t;
	return t ? MAX_PARTS + 1 : n;
}

static bool route_match(const struct route *rt, const char *method, char **parts, size_t n)
{
	char pat[64], *save = NULL, *w;
	size_t i = 0;

	snprintf(pat, sizeof(pat), "%s", rt->pattern);
	for (w = strtok_r(pat, "/", &save); w; w = strtok_r(NULL, "/", &save), i++)
		if (i >= n || (strcmp(w, "*") != 0 && strcmp(w, parts[i]) != 0))
			return false;
	return i == n && strcmp(method, rt->method) == 0;
}

static bool path_known(char **parts, size_t n)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (route_match(&routes[i], routes[i].method, parts, n))
			return true;
	return false;
}

static int allowed(const struct route *rt, const struct who *w, struct reply *rep)
{
	if (rt->need == WHO_NODE && w->role != WHO_NODE)
		return reply_error(rep, 403, "%s is for node agents (a node certificate), not for %s", rt->pattern,
				   w->name);
	if (rt->need != WHO_NODE && w->role == WHO_NODE)
		return reply_error(rep, 403, "node %s: a node certificate may only report (heartbeat, moves)", w->name);
	if (rt->need == WHO_ADMIN && w->role != WHO_ADMIN)
		return reply_error(rep, 403, "%s is a viewer: only admins may change anything", w->name);
	return 1;
}

static void dispatch(struct req *r, struct reply *rep)
{
	cleanup_free char *path = xstrdup(r->path);
	char *parts[MAX_PARTS + 1];
	size_t n = split_path(path, parts);

	if (n == 0 || n > MAX_PARTS || strcmp(parts[0], "v1") != 0) {
		reply_error(rep, 404, "`%s`: no such resource (the API is under /v1/)", r->path);
		return;
	}
	r->parts = parts + 1;
	r->n_parts = n - 1;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_match(&routes[i], r->method, parts + 1, n - 1))
			continue;
		if (allowed(&routes[i], &r->who, rep) == 1)
			routes[i].fn(r, rep);
		if (strcmp(r->method, "GET") != 0 && strcmp(parts[1], "heartbeat") != 0)
			cv_cache_invalidate(r->co); /* placement sees drains, timetables, moves at once */
		return;
	}
	if (path_known(parts + 1, n - 1))
		reply_error(rep, 405, "%s %s: method not allowed", r->method, r->path);
	else
		reply_error(rep, 404, "`%s`: no such resource", r->path);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct reply *rep)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = rep->body ? strlen(rep->body) : 0;

	resp = MHD_create_response_from_buffer(len, rep->body, MHD_RESPMEM_MUST_FREE);
	rep->body = NULL;
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	ret = MHD_queue_response(c, (unsigned) rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static bool accumulate(struct pending *p, const char *data, size_t *size)
{
	if (*size == 0)
		return false;
	if (p->len + *size > COORD_MAX_BODY)
		p->too_big = true;
	if (!p->too_big) {
		p->body = xrealloc(p->body, p->len + *size + 1);
		memcpy(p->body + p->len, data, *size);
		p->len += *size;
		p->body[p->len] = '\0';
	}
	*size = 0;
	return true;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **ctx)
{
	struct coord *co = cls;
	struct pending *p = *ctx;
	struct reply rep = {.status = 500};
	struct req r = {.co = co, .conn = c, .method = method, .path = url};
	cleanup_error zs_error_t err = NULL;
	int status = 401;

	if (p == NULL) {
		int served;

		if (strcmp(method, "GET") == 0 &&
		    web_serve(co, c, url, &served) == 1) /* the page at / (static, no data) */
			return served;
		*ctx = xzalloc(sizeof(*p));
		return MHD_YES;
	}
	if (accumulate(p, upload, upload_size))
		return MHD_YES;
	if (p->too_big)
		reply_error(&rep, 413, "request body larger than %u bytes", COORD_MAX_BODY);
	else if (auth_identify(co, c, &r.who, &status, &err) < 0)
		reply_error(&rep, status, "%s", zs_error_msg(err));
	else {
		r.body = p->body ? p->body : "";
		r.len = p->len;
		dispatch(&r, &rep);
	}
	if (rep.status >= 400 && rep.status != 404)
		zs_log("info", "%s %s by %s: %d", method, url, r.who.name[0] ? r.who.name : "(unknown)", rep.status);
	return send_reply(c, &rep);
}

/* A connection's verified certificate identity is kept for its life
 * (auth.c): one chain verification per connection, not per request. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		*socket_context = xzalloc(sizeof(struct who));
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		free(*socket_context);
		*socket_context = NULL;
	}
}

static void done(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode code)
{
	struct pending *p = *ctx;

	if (p) {
		free(p->body);
		free(p);
		*ctx = NULL;
	}
}

static int listen_addr(const char *listen, struct sockaddr_storage *ss, zs_error_t *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST}, *res = NULL;
	cleanup_free char *host = NULL;
	const char *port;
	int r;

	if (listen[0] == '[') {
		const char *end = strchr(listen, ']');
		if (end == NULL || end[1] != ':')
			return zs_make_error(err, -EINVAL, "--listen `%s`: expected [ADDR]:PORT", listen);
		host = xasprintf("%.*s", (int) (end - listen - 1), listen + 1);
		port = end + 2;
	} else {
		const char *colon = strrchr(listen, ':');
		if (colon == NULL)
			return zs_make_error(err, -EINVAL, "--listen `%s`: expected ADDR:PORT", listen);
		host = xasprintf("%.*s", (int) (colon - listen), listen);
		port = colon + 1;
	}
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port))
		return zs_make_error(err, -EINVAL, "--listen `%s`: invalid port", listen);
	r = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (r != 0)
		return zs_make_error(err, -EINVAL, "--listen `%s`: %s", listen, gai_strerror(r));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	cleanup_free char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	msg[strcspn(msg, "\n")] = '\0';
	zs_log("debug", "http: %s", msg);
}

/* the listening socket is ours: its errors say what went wrong */
static int listen_socket(const char *listen_spec, zs_error_t *err)
{
	struct sockaddr_storage ss = {0};
	int fd, one = 1, e;

	if (listen_addr(listen_spec, &ss, err) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
	    bind(fd, (struct sockaddr *) &ss,
		 ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) == 0 &&
	    listen(fd, 128) == 0)
		return fd;
	e = errno;
	if (fd >= 0)
		close(fd);
	return zs_make_error(err, e, "--listen `%s`", listen_spec);
}

int http_start(struct coord *co, zs_error_t *err)
{
	cleanup_free char *cert = NULL, *key = NULL, *ca = NULL;
	/* a few threads, epoll: a thousand agents keep a connection each */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ERROR_LOG;
	int fd;

	if (read_file(co->cert, &cert, NULL, err) < 0 || read_file(co->key, &key, NULL, err) < 0 ||
	    read_file(co->ca, &ca, NULL, err) < 0)
		return zs_error_wrap(err, "--cert/--key/--ca");
	fd = listen_socket(co->listen, err);
	if (fd < 0)
		return -1;
	co->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, handle, co, MHD_OPTION_NOTIFY_COMPLETED, done, co, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, co, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY,
	    key, MHD_OPTION_HTTPS_MEM_TRUST, ca, MHD_OPTION_HTTPS_PRIORITIES, PRIORITY, MHD_OPTION_CONNECTION_TIMEOUT,
	    30u, MHD_OPTION_THREAD_POOL_SIZE, COORD_THREADS, MHD_OPTION_CONNECTION_LIMIT, COORD_MAX_CONNECTIONS,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, co, MHD_OPTION_END);
	if (co->mhd == NULL) {
		close(fd);
		return zs_make_error(err, -EINVAL, "cannot serve HTTPS on %s: --cert `%s` / --key `%s` not usable",
				     co->listen, co->cert, co->key);
	}
	return 0;
}

void http_stop(struct coord *co)
{
	if (co->mhd)
		MHD_stop_daemon(co->mhd);
	co->mhd = NULL;
}
