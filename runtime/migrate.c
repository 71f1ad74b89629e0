/* zanshin migrate / zanshin moves — ask the node agent (zanshind) over its
 * local socket to move a container to another node, list its moves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"
#include "migrate_progress.h"
#include "zanshin/frame.h"
#include "zanshin/utils.h"
#include "zanshin/zcompress.h"

enum { O_TO = 1, O_SOCKET, O_STATS, O_MODE, O_TIMEOUT, O_FORMAT, O_NOWAIT, O_PROGRESS, O_GOAL, O_ROUNDS, O_COMPRESS };

static const struct zs_optdef migrate_opts[] = {
    {"to", 0, true, O_TO, "the node to move the container to (a --peer of the agent)"},
    {"agent-socket", 0, true, O_SOCKET, "the node agent's socket (default: " ZS_AGENT_SOCKET ")"},
    {"print-stats", 0, false, O_STATS, "print the move's metrics as one JSON object"},
    {"mode", 0, true, O_MODE,
     "stop-copy (default), pre-copy (pre-dump rounds while the container runs) or post-copy (the target runs it "
     "at once, its memory follows from this node)"},
    {"precopy-goal", 0, true, O_GOAL,
     "pre-copy: stop the rounds at one of at most SIZE bytes (K, M, G) or N% of the first (default 5%)"},
    {"precopy-rounds", 0, true, O_ROUNDS, "pre-copy: at most N pre-dump rounds (default 5, at most 32)"},
    {"timeout", 0, true, O_TIMEOUT,
     "the agent cancels the move (the container runs again here) if it has not committed after SECONDS"},
    {"no-wait", 0, false, O_NOWAIT, "print the move's id and return at once (`zanshin moves` follows it)"},
    {"progress", 0, true, O_PROGRESS,
     "tty (one updating line), json (JSON lines) or none, on stderr (default: tty on a terminal, else json)"},
    {"compress", 0, true, O_COMPRESS, "auto (default), none, zstd or zstd:LEVEL: file data on the wire"},
    {NULL, 0, false, 0, NULL},
};

static const struct zs_optdef moves_opts[] = {
    {"agent-socket", 0, true, O_SOCKET, "the node agent's socket (default: " ZS_AGENT_SOCKET ")"},
    {"format", 'f', true, O_FORMAT, "table (default) or json"},
    {NULL, 0, false, 0, NULL},
};

struct mopts {
	const char *to, *socket, *mode, *format, *progress, *goal, *compress;
	bool stats, no_wait;
	long timeout, rounds;
	zs_error_t *err;
};

static int positive(const char *opt, const char *v, long *out, zs_error_t *err)
{
	char *end;

	errno = 0;
	*out = strtol(v, &end, 10);
	if (errno || *end || *v == '\0' || *out <= 0)
		return zs_make_error(err, -EINVAL, "--%s: `%s` is not a positive number", opt, v);
	return 0;
}

static int on_opt(int id, const char *v, void *data)
{
	struct mopts *o = data;
	char *end;

	switch (id) {
	case O_TO:
		o->to = v;
		break;
	case O_SOCKET:
		o->socket = v;
		break;
	case O_STATS:
		o->stats = zs_opt_bool(v);
		break;
	case O_MODE:
		o->mode = v;
		break;
	case O_FORMAT:
		o->format = v;
		break;
	case O_COMPRESS: {
		struct zs_zspec spec;
		if (zs_zspec_parse(v, &spec, o->err) < 0)
			return -1;
		o->compress = v;
		break;
	}
	case O_TIMEOUT:
		errno = 0;
		o->timeout = strtol(v, &end, 10);
		if (errno || *end || o->timeout <= 0)
			return zs_make_error(o->err, -EINVAL, "--timeout: `%s` is not a number of seconds", v);
		break;
	case O_NOWAIT:
		o->no_wait = zs_opt_bool(v);
		break;
	case O_PROGRESS:
		o->progress = v;
		break;
	case O_GOAL:
		o->goal = v;
		break;
	case O_ROUNDS:
		return positive("precopy-rounds", v, &o->rounds, o->err);
	}
	return 0;
}

static double secs(const zs_json *m, const char *k)
{
	int64_t v = 0;
	zs_error_t e = NULL;

	zs_json_to_int64(zs_json_get(m, k), "move", k, 0, &v, &e);
	zs_error_release(&e);
	return (double) v / 1e6;
}

static unsigned long long num(const zs_json *m, const char *k)
{
	uint64_t v = 0;
	zs_error_t e = NULL;

	zs_json_to_uint64(zs_json_get(m, k), "move", k, 0, &v, &e);
	zs_error_release(&e);
	return v;
}

static const char *str(const zs_json *m, const char *k)
{
	const char *s = zs_json_string_value(zs_json_get(m, k));
	return s ? s : "";
}

/* ,"precopy_rounds":[{"bytes":N,"s":S},...] or "" */
static char *rounds_json(const zs_json *v)
{
	char *out;
	size_t i;

	if (!zs_json_is_array(v))
		return xstrdup("");
	out = xstrdup(",\"precopy_rounds\":[");
	for (i = 0; i < zs_json_array_len(v); i++) {
		const zs_json *r = zs_json_array_at(v, i);
		char *n =
		    xasprintf("%s%s{\"bytes\":%llu,\"s\":%.6f}", out, i ? "," : "", num(r, "bytes"), secs(r, "us"));
		free(out);
		out = n;
	}
	{
		char *n = xasprintf("%s]", out);
		free(out);
		out = n;
	}
	return out;
}

/* One move as JSON, times in seconds.  Strings come from the agent's
 * journal, which holds only validated ids and names, and error text,
 * written through the generator. */
static char *move_json(const zs_json *m)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *head = NULL, *rounds = NULL, *last_page = NULL;
	const char *keys[] = {"id",	  "container",	     "role",  "peer",	  "state",	    "mode",
			      "image_id", "parent_image_id", "error", "compress", "compress_levels"};
	const char *nums[] = {"bytes_pages", "bytes_bundle", "bytes_metadata",	 "bytes_raw",	     "bytes_data",
			      "bytes_delta", "bytes_wire",   "generations_sent", "pages_from_target"};
	size_t len = 0;
	bool diff = false;
	double ratio;
	zs_error_t e = NULL;

	zs_json_to_bool(zs_json_get(m, "diff"), "move", "diff", 0, &diff, &e);
	zs_error_release(&e);
	zs_jgen_map_open(g);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (zs_json_get(m, keys[i]))
			zs_jgen_kv_string(g, keys[i], str(m, keys[i]));
	zs_jgen_key(g, "diff");
	zs_jgen_bool(g, diff);
	{
		bool reused = false;
		zs_json_to_bool(zs_json_get(m, "rootfs_reused"), "move", "rootfs_reused", 0, &reused, &e);
		zs_error_release(&e);
		zs_jgen_key(g, "rootfs_reused");
		zs_jgen_bool(g, reused);
	}
	{
		bool warm = false;
		zs_json_to_bool(zs_json_get(m, "warm"), "move", "warm", 0, &warm, &e);
		zs_error_release(&e);
		zs_jgen_key(g, "warm");
		zs_jgen_bool(g, warm);
	}
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		zs_jgen_key(g, nums[i]);
		zs_jgen_uint(g, num(m, nums[i]));
	}
	if (zs_json_get(m, "postcopy_faults")) {
		/* post-copy: faults served from the source, and (below) the
		 * time from running on the target until the last page came */
		zs_jgen_key(g, "postcopy_faults");
		zs_jgen_uint(g, num(m, "postcopy_faults"));
	}
	zs_jgen_map_close(g);
	head = zs_jgen_result(g, &len);
	/* the generator writes integers only: the seconds are added here */
	if (len < 2)
		return xstrdup("{}");
	head[len - 1] = '\0';
	/* ratio: file data raw / as it went on the wire */
	ratio = num(m, "bytes_data") ? (double) num(m, "bytes_raw") / (double) num(m, "bytes_data") : 1.0;
	rounds = rounds_json(zs_json_get(m, "precopy_rounds"));
	if (zs_json_get(m, "postcopy_last_page_us"))
		last_page = xasprintf(",\"postcopy_last_page_s\":%.6f", secs(m, "postcopy_last_page_us"));
	return xasprintf("%s,\"setup_s\":%.6f,\"downtime_s\":%.6f,\"total_s\":%.6f,\"ratio\":%.3f%s%s}", head,
			 secs(m, "setup_us"), secs(m, "downtime_us"), secs(m, "total_us"), ratio,
			 last_page ? last_page : "", rounds);
}

static int request(const char *socket, long timeout, const char *json, const char *want, zs_json **out, zs_error_t *err)
{
	struct zs_conn c;
	int ret;

	if (zs_agent_connect(socket, &c, err) < 0)
		return -1;
	if (timeout > 0) {
		struct timeval tv = {.tv_sec = timeout};
		setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	ret = zs_frame_send(&c, json, strlen(json), err);
	if (ret == 0)
		ret = zs_frame_expect(&c, want, out, err);
	zs_conn_close(&c);
	return ret;
}

/* The request to the agent. */
static char *migrate_request(const struct mopts *o, const char *id)
{
	cleanup_jgen zs_jgen *q = zs_jgen_new(false);
	size_t len = 0;

	zs_jgen_map_open(q);
	zs_jgen_kv_string(q, "type", "migrate");
	zs_jgen_kv_string(q, "container", id);
	zs_jgen_kv_string(q, "to", o->to);
	if (o->mode)
		zs_jgen_kv_string(q, "mode", o->mode);
	if (o->compress)
		zs_jgen_kv_string(q, "compress", o->compress);
	if (o->goal)
		zs_jgen_kv_string(q, "precopy_goal", o->goal);
	if (o->rounds > 0)
		zs_jgen_kv_int(q, "precopy_rounds", o->rounds);
	if (o->timeout > 0)
		zs_jgen_kv_int(q, "timeout", o->timeout);
	zs_jgen_map_close(q);
	return zs_jgen_result(q, &len);
}

/* Frames from the agent until its "result" (progress events shown on the
 * way); with --no-wait until the first event, which names the move. */
static int await_move(struct zs_conn *c, const struct mopts *o, enum zs_progress_style st, zs_json **res,
		      zs_error_t *err)
{
	for (;;) {
		cleanup_json zs_json *f = NULL;
		const char *type = NULL;
		if (zs_frame_recv(c, &f, &type, err) < 0)
			return -1;
		if (strcmp(type, "progress") == 0) {
			if (o->no_wait) {
				*res = steal_pointer(&f);
				return 0;
			}
			zs_progress_show(st, f);
			continue;
		}
		if (strcmp(type, "error") == 0)
			return zs_make_error(err, -EIO, "%s", str(f, "error"));
		if (strcmp(type, "result") != 0)
			return zs_make_error(err, -EPROTO, "unexpected `%s` from the node agent", type);
		*res = steal_pointer(&f);
		return 0;
	}
}

static int migrate_run(const struct mopts *o, const char *id, zs_json **res, zs_error_t *err)
{
	cleanup_free char *req = migrate_request(o, id);
	enum zs_progress_style st = ZS_PROGRESS_NONE;
	struct zs_conn c;
	int ret;

	if (!o->no_wait && zs_progress_style_parse(o->progress, &st, err) < 0)
		return -1;
	if (zs_agent_connect(o->socket, &c, err) < 0)
		return -1;
	ret = zs_frame_send(&c, req, strlen(req), err);
	if (ret == 0)
		ret = await_move(&c, o, st, res, err);
	zs_progress_end(st);
	zs_conn_close(&c);
	return ret;
}

ZS_VERB(migrate)
{
	(void) g;
	struct mopts o = {.err = err};
	cleanup_json zs_json *res = NULL;
	cleanup_free char *stats = NULL;
	const zs_json *mv;
	bool ok = false;
	int first, ret;

	ret = zs_parse_opts("migrate", migrate_opts, argc, argv, on_opt, &o, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("migrate", "<container-id> --to <node>",
			       "move a running container to another node (through the node agent zanshind)",
			       migrate_opts);
		return 0;
	}
	if (ret < 0 || zs_check_args("migrate", argc - first, 1, 1, err) < 0)
		return -1;
	if (o.to == NULL || *o.to == '\0')
		return zs_make_error(err, -EINVAL, "migrate: --to <node> is required");
	if (o.mode && strcmp(o.mode, "stop-copy") != 0 && strcmp(o.mode, "pre-copy") != 0 &&
	    strcmp(o.mode, "post-copy") != 0)
		return zs_make_error(err, -EOPNOTSUPP,
				     "--mode %s: stop-copy, pre-copy and post-copy are implemented in this version",
				     o.mode);
	if ((o.goal || o.rounds) && (o.mode == NULL || strcmp(o.mode, "pre-copy") != 0))
		return zs_make_error(err, -EINVAL, "--precopy-goal and --precopy-rounds need --mode pre-copy");
	if (o.no_wait && o.stats)
		return zs_make_error(err, -EINVAL, "--print-stats waits for the move: not with --no-wait");
	if (o.progress && zs_progress_style_parse(o.progress, &(enum zs_progress_style){0}, err) < 0)
		return -1;
	if (migrate_run(&o, argv[first], &res, err) < 0)
		return zs_error_wrap(err,
				     "migrate %s: no answer from the node agent (`zanshin moves` shows what became "
				     "of the move)",
				     argv[first]);
	if (o.no_wait && zs_json_get(res, "phase")) {
		printf("%s\n", str(res, "move"));
		return 0;
	}
	zs_json_to_bool(zs_json_get(res, "ok"), "result", "ok", 0, &ok, err);
	mv = zs_json_get(res, "move");
	if (o.stats && mv) {
		stats = move_json(mv);
		printf("%s\n", stats);
		fflush(stdout);
	}
	if (!ok)
		return zs_make_error(err, -EIO, "%s", str(res, "error"));
	if (!o.stats)
		printf("%s moved to %s (move %s, %s%s, %.3f s downtime)\n", argv[first], o.to, str(mv, "id"),
		       zs_json_array_len(zs_json_get(mv, "precopy_rounds")) ? "pre-copy rounds and a " : "",
		       *str(mv, "parent_image_id") ? "diff" : "full image", secs(mv, "downtime_us"));
	return 0;
}

/* Pre-copy rounds for the table: "3: 64.0M 2.1M 0.3M", or "-". */
static char *rounds_text(const zs_json *v)
{
	char *out;
	size_t i, n = zs_json_array_len(v);

	if (!zs_json_is_array(v) || n == 0)
		return xstrdup("-");
	out = xasprintf("%zu:", n);
	for (i = 0; i < n; i++) {
		char *t = xasprintf("%s %.1fM", out, (double) num(zs_json_array_at(v, i), "bytes") / 1048576.0);
		free(out);
		out = t;
	}
	return out;
}

ZS_VERB(moves)
{
	struct mopts o = {.err = err, .format = "table"};
	cleanup_json zs_json *res = NULL;
	const zs_json *list;
	int first, ret;
	size_t i;

	ret = zs_parse_opts("moves", moves_opts, argc, argv, on_opt, &o, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("moves", "", "list the moves of the node agent zanshind, with their state and metrics",
			       moves_opts);
		return 0;
	}
	if (ret < 0 || zs_check_args("moves", argc - first, 0, 0, err) < 0)
		return -1;
	if (strcmp(o.format, "json") != 0 && strcmp(o.format, "table") != 0)
		return zs_make_error(err, -EINVAL, "--format must be table or json");
	if (request(o.socket, 0, "{\"type\":\"moves\"}", "moves", &res, err) < 0)
		return -1;
	list = zs_json_get(res, "moves");
	if (strcmp(o.format, "json") == 0) {
		printf("[");
		for (i = 0; i < zs_json_array_len(list); i++) {
			cleanup_free char *s = move_json(zs_json_array_at(list, i));
			printf("%s%s", i ? "," : "", s);
		}
		printf("]\n");
		return 0;
	}
	printf("%-28s %-16s %-6s %-10s %-12s %-5s %12s %10s %10s %-9s %s\n", "MOVE", "CONTAINER", "ROLE", "PEER",
	       "STATE", "DIFF", "PAGES", "BUNDLE", "DOWNTIME", "MODE", "ROUNDS");
	for (i = 0; i < zs_json_array_len(list); i++) {
		const zs_json *m = zs_json_array_at(list, i);
		bool diff = *str(m, "parent_image_id") != '\0';
		cleanup_free char *rounds = rounds_text(zs_json_get(m, "precopy_rounds"));
		printf("%-28s %-16s %-6s %-10s %-12s %-5s %12llu %10llu %9.3fs %-9s %s\n", str(m, "id"),
		       str(m, "container"), str(m, "role"), str(m, "peer"), str(m, "state"), diff ? "yes" : "no",
		       num(m, "bytes_pages"), num(m, "bytes_bundle"), secs(m, "downtime_us"), str(m, "mode"), rounds);
	}
	return 0;
}

static const struct zs_optdef move_opts[] = {
    {"agent-socket", 0, true, O_SOCKET, "the node agent's socket (default: " ZS_AGENT_SOCKET ")"},
    {NULL, 0, false, 0, NULL},
};

ZS_VERB(move)
{
	struct mopts o = {.err = err};
	cleanup_jgen zs_jgen *q = zs_jgen_new(false);
	cleanup_json zs_json *res = NULL;
	cleanup_free char *req = NULL;
	size_t len = 0;
	bool ok = false;
	int first, ret;

	(void) g;
	if (argc < 1 || strcmp(argv[0], "cancel") != 0) {
		if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
			zs_print_usage("move cancel", "<move-id>",
				       "cancel a move this node's agent started, before its commit (the container "
				       "runs again here)",
				       move_opts);
			return 0;
		}
		return zs_make_error(err, -EINVAL, "usage: zanshin move cancel <move-id> [--agent-socket PATH]");
	}
	ret = zs_parse_opts("move cancel", move_opts, argc - 1, argv + 1, on_opt, &o, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("move cancel", "<move-id>",
			       "cancel a move this node's agent started, before its commit (the container runs again "
			       "here)",
			       move_opts);
		return 0;
	}
	if (ret < 0 || zs_check_args("move cancel", argc - 1 - first, 1, 1, err) < 0)
		return -1;
	zs_jgen_map_open(q);
	zs_jgen_kv_string(q, "type", "cancel");
	zs_jgen_kv_string(q, "move", argv[1 + first]);
	zs_jgen_map_close(q);
	req = zs_jgen_result(q, &len);
	if (request(o.socket, 0, req, "result", &res, err) < 0)
		return -1;
	zs_json_to_bool(zs_json_get(res, "ok"), "result", "ok", 0, &ok, err);
	if (!ok)
		return zs_make_error(err, -EIO, "%s", str(res, "error"));
	printf("move %s cancelled: %s\n", argv[1 + first], str(zs_json_get(res, "move"), "state"));
	return 0;
}
