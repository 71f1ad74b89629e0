/* zanshin events — container statistics (--stats once, or every
 * --interval) and OOM notifications, one JSON object per line. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "zanshin/cgroup.h"
#include "zanshin/container.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

enum { O_STATS = 1, O_INTERVAL };

static const struct zs_optdef opts[] = {
    {"interval", 0, true, O_INTERVAL, "set the stats collection interval (default: 5s)"},
    {"stats", 0, false, O_STATS, "display the container's stats then exit"},
    {NULL, 0, false, 0, NULL},
};

struct eopts {
	bool stats;
	long interval_ms;
	zs_error_t *err;
};

/* Go-style duration: 5s, 100ms, 1m, 1.5s */
static int parse_duration(const char *s, long *ms, zs_error_t *err)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s)
		goto bad;
	if (strcmp(end, "ms") == 0)
		*ms = v;
	else if (strcmp(end, "s") == 0)
		*ms = v * 1000;
	else if (strcmp(end, "m") == 0)
		*ms = v * 60000;
	else if (strcmp(end, "h") == 0)
		*ms = v * 3600000;
	else
		goto bad;
	if (*ms > 0)
		return 0;
bad:
	return zs_make_error(err, -EINVAL, "invalid value \"%s\" for flag -interval: must be a duration like 5s", s);
}

static int cb(int id, const char *v, void *p)
{
	struct eopts *e = p;

	if (id == O_STATS)
		e->stats = zs_opt_bool(v);
	else
		return parse_duration(v, &e->interval_ms, e->err);
	return 0;
}

static int print_stats(const char *id, struct zs_cgroup *cg, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *out = NULL;
	int ret;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "stats");
	zs_jgen_kv_string(g, "id", id);
	zs_jgen_key(g, "data");
	ret = zs_cgroup_stats(cg, g, err);
	if (ret < 0)
		return ret;
	zs_jgen_map_close(g);
	out = zs_jgen_result(g, NULL);
	printf("%s\n", out);
	fflush(stdout);
	return 0;
}

static int events_loop(const char *root, const char *id, struct zs_cgroup *cg, long interval_ms, zs_error_t *err)
{
	int oomfd = -1, ret;

	if (zs_cgroup_oom_open(cg, &oomfd, err) < 0) {
		zs_error_release(err);
		oomfd = -1;
	}
	for (;;) {
		cleanup_status struct zs_status *st = NULL;
		struct pollfd p = {.fd = oomfd, .events = POLLIN};
		if (zs_status_load(root, id, &st, err) < 0 || strcmp(zs_container_status(st), "stopped") == 0)
			break;
		ret = print_stats(id, cg, err);
		if (ret < 0)
			return ret;
		if (poll(&p, 1, interval_ms) > 0 && zs_cgroup_oom_read(cg, oomfd, err) > 0) {
			printf("{\"type\":\"oom\",\"id\":\"%s\"}\n", id);
			fflush(stdout);
		}
		zs_error_release(err);
	}
	zs_error_release(err);
	if (oomfd >= 0)
		close(oomfd);
	return 0;
}

ZS_VERB(events)
{
	struct eopts e = {.interval_ms = 5000, .err = err};
	cleanup_status struct zs_status *st = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	int first, ret;

	ret = zs_parse_opts("events", opts, argc, argv, cb, &e, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage(
		    "events (runc events)", "<container-id>",
		    "display container events such as OOM notifications, cpu, memory, and IO usage statistics", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("events", argc - first, 1, 1, err) < 0)
		return -1;
	ret = zs_container_load(g->root, argv[first], &st, &cg, err);
	if (ret < 0)
		return ret;
	if (strcmp(zs_container_status(st), "stopped") == 0)
		return zs_make_error(err, 0, "container with id %s is not running", argv[first]);
	if (cg == NULL)
		return zs_make_error(err, ENOTSUP, "container has no cgroup");
	if (e.stats)
		return print_stats(argv[first], cg, err);
	return events_loop(g->root, argv[first], cg, e.interval_ms, err);
}
