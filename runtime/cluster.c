/* zanshin cluster — the coordinator's view and orders, from the command
 * line: nodes, containers, remnants, moves, move, drain, undrain, audit.
 * It talks to zanshin-api over HTTPS (lib/coord_client.c) with a bearer
 * token or an admin certificate; --format json prints the API's answer. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cluster_sched.h"
#include "zanshin/coord_client.h"
#include "zanshin/json.h"
#include "zanshin/utils.h"

enum {
	O_URL = 1,
	O_NAME,
	O_CA,
	O_TOKEN,
	O_TOKEN_FILE,
	O_CERT,
	O_KEY,
	O_FORMAT,
	O_TO,
	O_REASON,
	O_KEYID,
	O_WAIT,
	O_TIMEOUT,
	O_CONTAINER,
	O_EXPLAIN, /* place, timetable: runtime/cluster_sched.c */
	O_FROM,
	O_ROOM,
	O_MODE
};

static const struct zs_optdef opts[] = {
    {"coordinator", 0, true, O_URL, "zanshin-api's URL, https://HOST:PORT ($ZANSHIN_COORDINATOR)"},
    {"coordinator-name", 0, true, O_NAME, "the name in its certificate (default: the URL's host)"},
    {"ca", 0, true, O_CA, "the cluster CA, PEM ($ZANSHIN_CA)"},
    {"token", 0, true, O_TOKEN, "a bearer token from `zanshin-api token create` ($ZANSHIN_TOKEN)"},
    {"token-file", 0, true, O_TOKEN_FILE, "read the token from FILE"},
    {"cert", 0, true, O_CERT, "an admin client certificate (PEM) instead of a token"},
    {"key", 0, true, O_KEY, "its key"},
    {"format", 'f', true, O_FORMAT, "table (default) or json"},
    {"to", 0, true, O_TO, "move: the target node (default: the coordinator's scheduler chooses)"},
    {"reason", 0, true, O_REASON, "move: why (a word, recorded; default admin)"},
    {"idempotency-key", 0, true, O_KEYID, "move: the same key orders the same move only once"},
    {"wait", 0, false, O_WAIT, "move: wait until the move has ended; fail when it failed"},
    {"timeout", 0, true, O_TIMEOUT, "move --wait: give up after SECONDS (default 600)"},
    {"container", 0, true, O_CONTAINER, "moves: only this container's"},
    {"explain", 0, false, O_EXPLAIN, "place: every node's terms of the cost, and why others are left out"},
    {"from", 0, true, O_FROM, "place: as if leaving NODE (default: where it runs)"},
    {"room", 0, true, O_ROOM, "timetable import|show: the room or node label"},
    {"mode", 0, true, O_MODE,
     "move: stop-copy, pre-copy or post-copy (default: the coordinator's --move-mode setting)"},
    {NULL, 0, false, 0, NULL},
};

struct copts {
	struct zs_coord_client c;
	const char *format, *to, *reason, *key_id, *token_file, *container, *from, *room, *mode;
	bool wait, explain;
	long timeout;
	zs_error_t *err;
};

static int on_opt(int id, const char *v, void *data)
{
	struct copts *o = data;
	const char **slots[] = {[O_URL] = &o->c.url,	 [O_NAME] = &o->c.name,		  [O_CA] = &o->c.ca,
				[O_TOKEN] = &o->c.token, [O_TOKEN_FILE] = &o->token_file, [O_CERT] = &o->c.cert,
				[O_KEY] = &o->c.key,	 [O_FORMAT] = &o->format,	  [O_TO] = &o->to,
				[O_REASON] = &o->reason, [O_KEYID] = &o->key_id,	  [O_CONTAINER] = &o->container,
				[O_MODE] = &o->mode};
	char *end;

	if (id == O_WAIT) {
		o->wait = zs_opt_bool(v);
		return 0;
	}
	if (id == O_EXPLAIN) {
		o->explain = zs_opt_bool(v);
		return 0;
	}
	if (id == O_FROM || id == O_ROOM) {
		*(id == O_FROM ? &o->from : &o->room) = v;
		return 0;
	}
	if (id == O_TIMEOUT) {
		o->timeout = strtol(v, &end, 10);
		if (*v == '\0' || *end || o->timeout <= 0)
			return zs_make_error(o->err, -EINVAL, "--timeout: `%s` is not a number of seconds", v);
		return 0;
	}
	*slots[id] = v;
	return 0;
}

static int prepare(struct copts *o, char **token_buf, zs_error_t *err)
{
	if (o->c.url == NULL)
		o->c.url = getenv("ZANSHIN_COORDINATOR");
	if (o->c.ca == NULL)
		o->c.ca = getenv("ZANSHIN_CA");
	if (o->c.token == NULL && o->token_file) {
		if (read_file(o->token_file, token_buf, NULL, err) < 0)
			return zs_error_wrap(err, "--token-file");
		(*token_buf)[strcspn(*token_buf, "\r\n")] = '\0';
		o->c.token = *token_buf;
	}
	if (o->c.token == NULL && o->c.cert == NULL)
		o->c.token = getenv("ZANSHIN_TOKEN");
	if (o->c.url == NULL || o->c.ca == NULL)
		return zs_make_error(err, -EINVAL,
				     "cluster: --coordinator URL and --ca FILE are required "
				     "(or $ZANSHIN_COORDINATOR, $ZANSHIN_CA)");
	if ((o->c.cert == NULL) != (o->c.key == NULL))
		return zs_make_error(err, -EINVAL, "cluster: --cert and --key go together");
	if (o->c.token == NULL && o->c.cert == NULL)
		return zs_make_error(err, -EINVAL,
				     "cluster: a --token (or $ZANSHIN_TOKEN) or an admin --cert is required");
	if (strcmp(o->format, "json") != 0 && strcmp(o->format, "table") != 0)
		return zs_make_error(err, -EINVAL, "--format must be table or json");
	return 0;
}

static const char *s(const zs_json *o, const char *k)
{
	const char *v = zs_json_string_value(zs_json_get(o, k));
	return v && *v ? v : "-";
}

static long long n(const zs_json *o, const char *k)
{
	int64_t v = 0;
	zs_error_t e = NULL;

	zs_json_to_int64(zs_json_get(o, k), "answer", k, 0, &v, &e);
	zs_error_release(&e);
	return v;
}

static double d(const zs_json *o, const char *k)
{
	double v = 0;
	zs_error_t e = NULL;

	zs_json_to_double(zs_json_get(o, k), "answer", k, 0, &v, &e);
	zs_error_release(&e);
	if (v == 0)
		v = (double) n(o, k);
	return v;
}

static bool b(const zs_json *o, const char *k)
{
	bool v = false;
	zs_error_t e = NULL;

	zs_json_to_bool(zs_json_get(o, k), "answer", k, 0, &v, &e);
	zs_error_release(&e);
	return v;
}

static void table_nodes(const zs_json *j)
{
	const zs_json *a = zs_json_get(j, "nodes");

	printf("%-16s %-5s %-9s %-22s %6s %13s %10s %11s\n", "NODE", "STATE", "DRAINING", "ADDRESS", "CPU", "MEMORY",
	       "CONTAINERS", "GENERATIONS");
	for (size_t i = 0; i < zs_json_array_len(a); i++) {
		const zs_json *o = zs_json_array_at(a, i);
		cleanup_free char *mem = xasprintf("%lld/%lldM", n(o, "mem_used") >> 20, n(o, "mem_total") >> 20);
		printf("%-16s %-5s %-9s %-22s %5.0f%% %13s %10lld %11lld\n", s(o, "name"), s(o, "state"),
		       b(o, "stopping")	  ? "stopping"
		       : b(o, "draining") ? "yes"
					  : "no",
		       s(o, "address"), d(o, "cpu") * 100, mem, n(o, "containers"), n(o, "generations"));
	}
}

static void table_containers(const zs_json *j)
{
	const zs_json *a = zs_json_get(j, "containers");

	printf("%-24s %-16s %-10s %s\n", "CONTAINER", "NODE", "STATE", "REMNANTS (node:generations[+bundle])");
	for (size_t i = 0; i < zs_json_array_len(a); i++) {
		const zs_json *o = zs_json_array_at(a, i), *r = zs_json_get(o, "remnants");
		printf("%-24s %-16s %-10s", s(o, "id"), s(o, "node"), s(o, "state"));
		for (size_t k = 0; k < zs_json_array_len(r); k++) {
			const zs_json *h = zs_json_array_at(r, k);
			printf(" %s:%lld%s", s(h, "node"), n(h, "generations"), b(h, "bundle") ? "+bundle" : "");
		}
		printf("\n");
	}
}

static void table_remnants(const zs_json *j)
{
	const zs_json *a = zs_json_get(j, "generations");

	printf("%-24s %-16s %-40s %-40s %12s\n", "CONTAINER", "NODE", "IMAGE", "PARENT", "SIZE");
	for (size_t i = 0; i < zs_json_array_len(a); i++) {
		const zs_json *o = zs_json_array_at(a, i);
		printf("%-24s %-16s %-40s %-40s %12lld\n", s(o, "container"), s(o, "node"), s(o, "image_id"),
		       s(o, "parent_id"), n(o, "size"));
	}
	a = zs_json_get(j, "bundles");
	for (size_t i = 0; i < zs_json_array_len(a); i++) {
		const zs_json *o = zs_json_array_at(a, i);
		printf("bundle %s on %s%s%s\n", s(o, "digest"), s(o, "node"), *s(o, "container") != '-' ? " for " : "",
		       *s(o, "container") != '-' ? s(o, "container") : "");
	}
}

static void move_row(const zs_json *o)
{
	printf("%-26s %-18s %-10s %-10s %-12s %-10s %-9s %-5s %12lld %10lld %9.3fs\n", s(o, "id"), s(o, "container"),
	       s(o, "source"), s(o, "target"), s(o, "state"), s(o, "reason"), s(o, "mode"), b(o, "diff") ? "yes" : "no",
	       n(o, "bytes_pages"), n(o, "bytes_bundle"), d(o, "downtime_s"));
	if (*s(o, "error") != '-')
		printf("    error: %s\n", s(o, "error"));
}

static void table_moves(const zs_json *j)
{
	const zs_json *a = zs_json_get(j, "moves");

	printf("%-26s %-18s %-10s %-10s %-12s %-10s %-9s %-5s %12s %10s %10s\n", "MOVE", "CONTAINER", "FROM", "TO",
	       "STATE", "REASON", "MODE", "DIFF", "PAGES", "BUNDLE", "DOWNTIME");
	if (a == NULL)
		move_row(j);
	for (size_t i = 0; i < zs_json_array_len(a); i++)
		move_row(zs_json_array_at(a, i));
}

static void table_audit(const zs_json *j)
{
	const zs_json *a = zs_json_get(j, "audit");

	for (size_t i = 0; i < zs_json_array_len(a); i++) {
		const zs_json *o = zs_json_array_at(a, i);
		time_t t = (time_t) d(o, "ts");
		char ts[32];
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		printf("%s %-40s %-14s %s %s\n", ts, s(o, "who"), s(o, "action"), s(o, "target"), s(o, "detail"));
	}
}

static int show(struct copts *o, const char *ans, void (*table)(const zs_json *), zs_error_t *err)
{
	cleanup_json zs_json *j = NULL;

	if (strcmp(o->format, "json") == 0) {
		printf("%s\n", ans);
		return 0;
	}
	if (zs_json_parse_buf(ans, "coordinator answer", &j, err) < 0)
		return -1;
	table(j);
	return 0;
}

static int get(struct copts *o, const char *path, void (*table)(const zs_json *), zs_error_t *err)
{
	cleanup_free char *ans = NULL;

	if (zs_coord_call(&o->c, "GET", path, NULL, &ans, err) < 0)
		return -1;
	return show(o, ans, table, err);
}

/* GET a move until it has ended */
static int wait_move(struct copts *o, const char *id, char **ans, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("/v1/moves/%s", id);
	time_t end = time(NULL) + (o->timeout > 0 ? o->timeout : 600);

	for (;;) {
		cleanup_json zs_json *j = NULL;
		const char *st;
		free(*ans);
		*ans = NULL;
		if (zs_coord_call(&o->c, "GET", path, NULL, ans, err) < 0 ||
		    zs_json_parse_buf(*ans, "coordinator answer", &j, err) < 0)
			return -1;
		st = s(j, "state");
		if (strcmp(st, "done") == 0)
			return 0;
		if (strcmp(st, "failed") == 0 || strcmp(st, "rolled-back") == 0)
			return zs_make_error(err, -EIO, "move %s of %s: %s: %s", id, s(j, "container"), st,
					     s(j, "error"));
		if (time(NULL) >= end)
			return zs_make_error(err, -ETIMEDOUT, "move %s: still %s after %lds", id, st, o->timeout);
		usleep(300000);
	}
}

static int do_move(struct copts *o, const char *container, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *body = NULL, *ans = NULL;
	cleanup_json zs_json *j = NULL;
	int r = 0;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "container", container);
	if (o->to)
		zs_jgen_kv_string(g, "to", o->to);
	if (o->reason)
		zs_jgen_kv_string(g, "reason", o->reason);
	if (o->key_id)
		zs_jgen_kv_string(g, "idempotency_key", o->key_id);
	if (o->mode)
		zs_jgen_kv_string(g, "mode", o->mode);
	zs_jgen_map_close(g);
	body = zs_jgen_result(g, NULL);
	if (zs_coord_call(&o->c, "POST", "/v1/moves", body, &ans, err) < 0)
		return zs_error_wrap(err, "move %s", container);
	if (o->wait) {
		if (zs_json_parse_buf(ans, "coordinator answer", &j, err) < 0)
			return -1;
		r = wait_move(o, s(j, "id"), &ans, err);
	}
	if (ans && show(o, ans, table_moves, err) < 0)
		return -1;
	return r;
}

static int do_drain(struct copts *o, const char *node, bool drain, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("/v1/nodes/%s/%s", node, drain ? "drain" : "undrain"), *ans = NULL;

	if (zs_coord_call(&o->c, "POST", path, "{}", &ans, err) < 0)
		return -1;
	if (strcmp(o->format, "json") == 0)
		printf("%s\n", ans);
	else
		printf("node %s %s\n", node, drain ? "draining" : "no longer draining");
	return 0;
}

/* path segments go into URLs: ids and names only */
static int check_word(const char *what, const char *v, zs_error_t *err)
{
	size_t len = strlen(v);

	if (len == 0 || len > 1024 || v[0] == '.' ||
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-") != len)
		return zs_make_error(err, -EINVAL, "cluster: %s `%s`: letters, digits, _ + . - only", what, v);
	return 0;
}

static int run_sub(struct copts *o, const char *sub, int nargs, char **args, zs_error_t *err)
{
	cleanup_free char *path = NULL;

	if (strcmp(sub, "nodes") == 0 && nargs == 0)
		return get(o, "/v1/nodes", table_nodes, err);
	if (strcmp(sub, "containers") == 0 && nargs == 0)
		return get(o, "/v1/containers", table_containers, err);
	if (strcmp(sub, "remnants") == 0 && nargs <= 1) {
		if (nargs == 1 && check_word("container", args[0], err) < 0)
			return -1;
		path = nargs ? xasprintf("/v1/remnants/%s", args[0]) : xstrdup("/v1/remnants");
		return get(o, path, table_remnants, err);
	}
	if (strcmp(sub, "moves") == 0 && nargs <= 1) {
		if (nargs == 1 && check_word("move", args[0], err) < 0)
			return -1;
		if (o->container && check_word("container", o->container, err) < 0)
			return -1;
		path = nargs	      ? xasprintf("/v1/moves/%s", args[0])
		       : o->container ? xasprintf("/v1/moves?container=%s", o->container)
				      : xstrdup("/v1/moves");
		return get(o, path, table_moves, err);
	}
	if (strcmp(sub, "move") == 0 && nargs == 1)
		return check_word("container", args[0], err) < 0 ? -1 : do_move(o, args[0], err);
	if ((strcmp(sub, "drain") == 0 || strcmp(sub, "undrain") == 0) && nargs == 1)
		return check_word("node", args[0], err) < 0 ? -1 : do_drain(o, args[0], sub[0] == 'd', err);
	if (strcmp(sub, "audit") == 0 && nargs == 0)
		return get(o, "/v1/audit", table_audit, err);
	if (strcmp(sub, "place") == 0 && nargs == 1) /* runtime/cluster_sched.c */
		return check_word("container", args[0], err) < 0 || (o->from && check_word("node", o->from, err) < 0)
			   ? -1
			   : zs_cluster_place(&o->c, strcmp(o->format, "json") == 0, o->explain, o->from, args[0], err);
	if (strcmp(sub, "timetable") == 0)
		return zs_cluster_timetable(&o->c, strcmp(o->format, "json") == 0, o->room, nargs, args, err);
	return zs_make_error(
	    err, -EINVAL,
	    "cluster: expected nodes | containers | remnants [ID] | moves [MOVE] | move ID [--to NODE] "
	    "| drain NODE | undrain NODE | audit | place ID [--explain] | timetable import FILE.ics --room R | "
	    "timetable show [ROOM] | timetable delete ROOM (see zanshin cluster --help)");
}

/* the subcommand's positional arguments, with options anywhere among them */
static int collect(struct copts *o, int argc, char **argv, char **args, int *nargs, zs_error_t *err)
{
	int i = 0;

	*nargs = 0;
	while (i < argc) {
		int used;
		if (argv[i][0] != '-') {
			if (*nargs >= 4)
				return zs_make_error(err, -EINVAL, "cluster: too many arguments");
			args[(*nargs)++] = argv[i++];
			continue;
		}
		if (zs_parse_opts("cluster", opts, argc - i, argv + i, on_opt, o, &used, err) != 0)
			return -1;
		if (used == 0)
			return zs_make_error(err, -EINVAL, "cluster: unexpected `%s`", argv[i]);
		i += used;
	}
	return 0;
}

ZS_VERB(cluster)
{
	(void) g;
	struct copts o = {.err = err, .format = "table"};
	cleanup_free char *token = NULL;
	char *args[4];
	int first, nargs = 0, ret;

	ret = zs_parse_opts("cluster", opts, argc, argv, on_opt, &o, &first, err);
	if (ret == ZS_CLI_HELP || (ret == 0 && first >= argc)) {
		zs_print_usage(
		    "cluster",
		    "nodes | containers | remnants [ID] | moves [MOVE] | move ID [--to NODE] [--mode MODE] [--wait] | "
		    "drain NODE | undrain NODE | audit | place ID [--explain] | "
		    "timetable import FILE.ics --room R | timetable show [ROOM] | timetable delete ROOM",
		    "the cluster as the coordinator (zanshin-api) sees it, and its orders", opts);
		return ret == ZS_CLI_HELP ? 0 : zs_make_error(err, -EINVAL, "cluster: a subcommand is required");
	}
	if (ret < 0)
		return -1;
	if (collect(&o, argc - first - 1, argv + first + 1, args, &nargs, err) < 0 || prepare(&o, &token, err) < 0)
		return -1;
	return run_sub(&o, argv[first], nargs, args, err);
}
