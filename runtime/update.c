/* zanshin update — change a container's cgroup resources: --resources FILE
 * (or - for stdin) with a linux.resources object, or runc's single flags. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "zanshin/cgroup.h"
#include "zanshin/container.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

enum {
	O_RES = 1,
	O_BLKIO,
	O_CPU_PERIOD,
	O_CPU_QUOTA,
	O_CPU_SHARE,
	O_RT_PERIOD,
	O_RT_RUNTIME,
	O_CPUS,
	O_MEMS,
	O_KMEM,
	O_KMEM_TCP,
	O_MEM,
	O_MEM_RES,
	O_MEM_SWAP,
	O_PIDS,
	O_IGNORE,
	O_N
};

static const struct zs_optdef opts[] = {
    {"resources", 'r', true, O_RES, "path to the file containing the resources to update or '-' to read from stdin"},
    {"blkio-weight", 0, true, O_BLKIO, "specifies per cgroup weight, range is from 10 to 1000"},
    {"cpu-period", 0, true, O_CPU_PERIOD, "CPU CFS period to be used for hardcapping (in usecs)"},
    {"cpu-quota", 0, true, O_CPU_QUOTA, "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
    {"cpu-share", 0, true, O_CPU_SHARE, "CPU shares (relative weight vs. other containers)"},
    {"cpu-rt-period", 0, true, O_RT_PERIOD, "CPU realtime period to be used for hardcapping (in usecs)"},
    {"cpu-rt-runtime", 0, true, O_RT_RUNTIME, "CPU realtime hardcap limit (in usecs)"},
    {"cpuset-cpus", 0, true, O_CPUS, "CPU(s) to use"},
    {"cpuset-mems", 0, true, O_MEMS, "Memory node(s) to use"},
    {"kernel-memory", 0, true, O_KMEM, "(obsoleted; do not use)"},
    {"kernel-memory-tcp", 0, true, O_KMEM_TCP, "(obsoleted; do not use)"},
    {"memory", 0, true, O_MEM, "Memory limit (in bytes)"},
    {"memory-reservation", 0, true, O_MEM_RES, "Memory reservation or soft_limit (in bytes)"},
    {"memory-swap", 0, true, O_MEM_SWAP, "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
    {"pids-limit", 0, true, O_PIDS, "Maximum number of pids allowed in the container"},
    {"l3-cache-schema", 0, true, O_IGNORE, "The string of Intel RDT/CAT L3 cache schema (not supported)"},
    {"mem-bw-schema", 0, true, O_IGNORE, "The string of Intel RDT/MBA memory bandwidth schema (not supported)"},
    {NULL, 0, false, 0, NULL},
};

struct uopts {
	const char *v[O_N];
	zs_error_t *err;
};

static int cb(int id, const char *v, void *p)
{
	struct uopts *u = p;

	if (id == O_IGNORE)
		return zs_make_error(u->err, -ENOTSUP, "Intel RDT is not supported");
	u->v[id] = v;
	return 0;
}

/* "10M", "1g", "1024", "-1" -> bytes (runc's RAMInBytes). */
static int ram_bytes(const char *s, long long *out, zs_error_t *err)
{
	char *end;
	double v = strtod(s, &end);
	long long mul = 1;

	while (*end == ' ')
		end++;
	switch (tolower((unsigned char) *end)) {
	case 'k':
		mul = 1LL << 10;
		break;
	case 'm':
		mul = 1LL << 20;
		break;
	case 'g':
		mul = 1LL << 30;
		break;
	case 't':
		mul = 1LL << 40;
		break;
	case '\0':
		break;
	default:
		return zs_make_error(err, -EINVAL, "invalid size: '%s'", s);
	}
	*out = (long long) (v * mul);
	return 0;
}

static int integer(const char *s, const char *flag, long long *out, zs_error_t *err)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return zs_make_error(err, -EINVAL, "invalid value for %s: %s", flag, s);
	return 0;
}

/* Build a linux.resources JSON document from the single flags. */
static int flags_to_json(struct uopts *u, char **out, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	long long n = 0;
	int i;
	static const struct {
		int id;
		const char *obj, *key;
		bool ram, str;
	} map[] = {
	    {O_MEM, "memory", "limit", true, false},
	    {O_MEM_RES, "memory", "reservation", true, false},
	    {O_MEM_SWAP, "memory", "swap", true, false},
	    {O_KMEM, "memory", "kernel", true, false},
	    {O_KMEM_TCP, "memory", "kernelTCP", true, false},
	    {O_CPU_SHARE, "cpu", "shares", false, false},
	    {O_CPU_QUOTA, "cpu", "quota", false, false},
	    {O_CPU_PERIOD, "cpu", "period", false, false},
	    {O_RT_RUNTIME, "cpu", "realtimeRuntime", false, false},
	    {O_RT_PERIOD, "cpu", "realtimePeriod", false, false},
	    {O_CPUS, "cpu", "cpus", false, true},
	    {O_MEMS, "cpu", "mems", false, true},
	    {O_PIDS, "pids", "limit", false, false},
	    {O_BLKIO, "blockIO", "weight", false, false},
	};
	const char *objs[] = {"memory", "cpu", "pids", "blockIO"};
	size_t o, k;

	zs_jgen_map_open(g);
	for (o = 0; o < 4; o++) {
		bool open = false;
		for (k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
			const char *v = u->v[map[k].id];
			if (v == NULL || strcmp(map[k].obj, objs[o]) != 0)
				continue;
			if (!open) {
				zs_jgen_key(g, objs[o]);
				zs_jgen_map_open(g);
				open = true;
			}
			zs_jgen_key(g, map[k].key);
			if (map[k].str) {
				zs_jgen_string(g, v);
				continue;
			}
			i = map[k].ram ? ram_bytes(v, &n, err) : integer(v, opts[map[k].id - 1].name, &n, err);
			if (i < 0)
				return i;
			zs_jgen_int(g, n);
		}
		if (open)
			zs_jgen_map_close(g);
	}
	zs_jgen_map_close(g);
	*out = zs_jgen_result(g, NULL);
	return 0;
}

static int read_resources(struct uopts *u, zs_json **j, const char **name, zs_error_t *err)
{
	cleanup_free char *buf = NULL;
	int ret;

	if (u->v[O_RES]) {
		*name = strcmp(u->v[O_RES], "-") == 0 ? "stdin" : u->v[O_RES];
		ret = strcmp(u->v[O_RES], "-") == 0 ? read_all_fd(0, "stdin", &buf, NULL, err)
						    : read_file(u->v[O_RES], &buf, NULL, err);
	} else {
		*name = "update flags";
		ret = flags_to_json(u, &buf, err);
	}
	if (ret < 0)
		return ret;
	return zs_json_parse_buf(buf, *name, j, err);
}

ZS_VERB(update)
{
	struct uopts u = {.err = err};
	cleanup_status struct zs_status *st = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	cleanup_resources struct zs_resources *res = NULL;
	cleanup_json zs_json *j = NULL;
	const char *name = NULL;
	int first, ret;

	ret = zs_parse_opts("update", opts, argc, argv, cb, &u, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("update (runc update)", "<container-id>", "update container resource constraints", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("update", argc - first, 1, 1, err) < 0)
		return -1;
	ret = zs_container_load(g->root, argv[first], &st, &cg, err);
	if (ret < 0)
		return ret;
	if (strcmp(zs_container_status(st), "stopped") == 0)
		return zs_make_error(err, 0, "container not running");
	if (cg == NULL)
		return zs_make_error(err, ENOTSUP, "container has no cgroup");
	ret = read_resources(&u, &j, &name, err);
	if (ret == 0)
		ret = zs_cgroup_resources_parse(j, name, "", &res, err);
	if (ret == 0)
		ret = zs_cgroup_update(cg, res, err);
	return ret;
}
