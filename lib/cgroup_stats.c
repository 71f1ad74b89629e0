/* zanshin — cgroup statistics in runc 1.1's `events --stats` shape
 * (runc types.Stats), and OOM notification. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "zanshin/utils.h"
#include "cgroup_internal.h"

/* Go's `omitempty`: write the key only when the value is not zero. */
static void kv_u64(zs_jgen *g, const char *k, uint64_t v, bool omitempty)
{
	if (omitempty && v == 0)
		return;
	zs_jgen_key(g, k);
	zs_jgen_uint(g, v);
}

static uint64_t rd(const char *dir, const char *file)
{
	uint64_t v = 0;

	if (dir == NULL || cg_read_u64(dir, file, &v) < 0 || v == UINT64_MAX)
		return 0;
	return v;
}

/* "key value" lines of FILE: the value of KEY, 0 if absent. */
static uint64_t kv_file(const char *dir, const char *file, const char *key)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *s = NULL;
	char *save = NULL;
	size_t kl = strlen(key);

	if (dir == NULL || cg_read(dir, file, &s, &e) < 0)
		return 0;
	for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (strncmp(l, key, kl) == 0 && l[kl] == ' ')
			return strtoull(l + kl + 1, NULL, 10);
	return 0;
}

static void u64_list(zs_jgen *g, const char *k, const char *dir, const char *file, bool omitempty)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *s = NULL;
	char *save = NULL;

	if (dir == NULL || cg_read(dir, file, &s, &e) < 0 || (omitempty && *s == '\0')) {
		if (!omitempty) {
			zs_jgen_key(g, k);
			zs_jgen_null(g);
		}
		return;
	}
	zs_jgen_key(g, k);
	zs_jgen_array_open(g);
	for (char *t = strtok_r(s, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		zs_jgen_uint(g, strtoull(t, NULL, 10));
	zs_jgen_array_close(g);
}

static void cpu_v1(const struct zs_cgroup *cg, zs_jgen *g)
{
	const char *acct = zs_cgroup_path(cg, "cpuacct"), *cpu = zs_cgroup_path(cg, "cpu");
	long tck = sysconf(_SC_CLK_TCK);
	uint64_t ns_per_tick = tck > 0 ? 1000000000ull / (uint64_t) tck : 10000000ull;

	zs_jgen_key(g, "usage");
	zs_jgen_map_open(g);
	kv_u64(g, "total", rd(acct, "cpuacct.usage"), true);
	u64_list(g, "percpu", acct, "cpuacct.usage_percpu", true);
	u64_list(g, "percpu_kernel", acct, "cpuacct.usage_percpu_sys", true);
	u64_list(g, "percpu_user", acct, "cpuacct.usage_percpu_user", true);
	kv_u64(g, "kernel", kv_file(acct, "cpuacct.stat", "system") * ns_per_tick, false);
	kv_u64(g, "user", kv_file(acct, "cpuacct.stat", "user") * ns_per_tick, false);
	zs_jgen_map_close(g);
	zs_jgen_key(g, "throttling");
	zs_jgen_map_open(g);
	kv_u64(g, "periods", kv_file(cpu, "cpu.stat", "nr_periods"), true);
	kv_u64(g, "throttledPeriods", kv_file(cpu, "cpu.stat", "nr_throttled"), true);
	kv_u64(g, "throttledTime", kv_file(cpu, "cpu.stat", "throttled_time"), true);
	zs_jgen_map_close(g);
}

static void cpu_v2(const char *dir, zs_jgen *g)
{
	zs_jgen_key(g, "usage");
	zs_jgen_map_open(g);
	kv_u64(g, "total", kv_file(dir, "cpu.stat", "usage_usec") * 1000, true);
	kv_u64(g, "kernel", kv_file(dir, "cpu.stat", "system_usec") * 1000, false);
	kv_u64(g, "user", kv_file(dir, "cpu.stat", "user_usec") * 1000, false);
	zs_jgen_map_close(g);
	zs_jgen_key(g, "throttling");
	zs_jgen_map_open(g);
	kv_u64(g, "periods", kv_file(dir, "cpu.stat", "nr_periods"), true);
	kv_u64(g, "throttledPeriods", kv_file(dir, "cpu.stat", "nr_throttled"), true);
	kv_u64(g, "throttledTime", kv_file(dir, "cpu.stat", "throttled_usec") * 1000, true);
	zs_jgen_map_close(g);
}

/* "0-2,4" -> [0,1,2,4] */
static void cpu_list(zs_jgen *g, const char *k, const char *dir, const char *file)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *s = NULL;
	char *save = NULL;

	if (dir == NULL || cg_read(dir, file, &s, &e) < 0 || *s == '\0')
		return;
	zs_jgen_key(g, k);
	zs_jgen_array_open(g);
	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned long a = strtoul(t, NULL, 10), b = a;
		char *dash = strchr(t, '-');
		if (dash)
			b = strtoul(dash + 1, NULL, 10);
		for (unsigned long i = a; i <= b && i - a < 65536; i++)
			zs_jgen_uint(g, i);
	}
	zs_jgen_array_close(g);
}

static void cpuset_stats(const struct zs_cgroup *cg, zs_jgen *g)
{
	const char *d = zs_cgroup_path(cg, "cpuset");
	bool v2 = cg->mode == ZS_CGROUP_UNIFIED;
	static const char *const flags[][2] = {
	    {"cpu_exclusive", "cpuset.cpu_exclusive"},		 {"mem_hardwall", "cpuset.mem_hardwall"},
	    {"mem_exclusive", "cpuset.mem_exclusive"},		 {"memory_migrate", "cpuset.memory_migrate"},
	    {"memory_spread_page", "cpuset.memory_spread_page"}, {"memory_spread_slab", "cpuset.memory_spread_slab"},
	    {"memory_pressure", "cpuset.memory_pressure"},	 {"sched_load_balance", "cpuset.sched_load_balance"},
	};

	zs_jgen_map_open(g);
	cpu_list(g, "cpus", d, v2 ? "cpuset.cpus.effective" : "cpuset.cpus");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		kv_u64(g, flags[i][0], v2 ? 0 : rd(d, flags[i][1]), false);
	cpu_list(g, "mems", d, v2 ? "cpuset.mems.effective" : "cpuset.mems");
	zs_jgen_key(g, "sched_relax_domain_level");
	{
		cleanup_error zs_error_t e = NULL;
		cleanup_free char *s = NULL;
		zs_jgen_int(g, (!v2 && d && cg_read(d, "cpuset.sched_relax_domain_level", &s, &e) == 0)
				   ? strtoll(s, NULL, 10)
				   : 0);
	}
	zs_jgen_map_close(g);
}

static void mem_entry(zs_jgen *g, const char *k, uint64_t limit, uint64_t usage, uint64_t max, uint64_t failcnt)
{
	zs_jgen_key(g, k);
	zs_jgen_map_open(g);
	kv_u64(g, "limit", limit, false);
	kv_u64(g, "usage", usage, true);
	kv_u64(g, "max", max, true);
	kv_u64(g, "failcnt", failcnt, false);
	zs_jgen_map_close(g);
}

static void v1_mem_entry(zs_jgen *g, const char *k, const char *d, const char *pfx)
{
	cleanup_free char *l = xasprintf("%slimit_in_bytes", pfx), *u = xasprintf("%susage_in_bytes", pfx),
			  *m = xasprintf("%smax_usage_in_bytes", pfx), *f = xasprintf("%sfailcnt", pfx);
	uint64_t limit = 0;

	if (d && cg_read_u64(d, l, &limit) == 0 && limit == UINT64_MAX)
		limit = 0;
	mem_entry(g, k, limit, rd(d, u), rd(d, m), rd(d, f));
}

/* The whole memory.stat as a {"key": value} map. */
static void raw_map(zs_jgen *g, const char *d, const char *file, uint64_t *cache, const char *cache_key)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *s = NULL;
	char *save = NULL;

	if (d == NULL || cg_read(d, file, &s, &e) < 0)
		return;
	zs_jgen_key(g, "raw");
	zs_jgen_map_open(g);
	for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');
		if (sp == NULL)
			continue;
		*sp = '\0';
		uint64_t v = strtoull(sp + 1, NULL, 10);
		if (strcmp(l, cache_key) == 0)
			*cache = v;
		zs_jgen_key(g, l);
		zs_jgen_uint(g, v);
	}
	zs_jgen_map_close(g);
}

static void memory_stats(const struct zs_cgroup *cg, zs_jgen *g)
{
	const char *d = zs_cgroup_path(cg, "memory");
	uint64_t cache = 0;

	zs_jgen_map_open(g);
	if (cg->mode == ZS_CGROUP_UNIFIED) {
		uint64_t mem = rd(d, "memory.current"), swap = rd(d, "memory.swap.current");
		uint64_t mlim = 0, slim = 0;
		/* runc reports "max" as 2^64-1 here */
		if (d && cg_read_u64(d, "memory.max", &mlim) < 0)
			mlim = 0;
		if (d && cg_read_u64(d, "memory.swap.max", &slim) < 0)
			slim = 0;
		mem_entry(g, "usage", mlim, mem, rd(d, "memory.peak"), kv_file(d, "memory.events", "max"));
		mem_entry(g, "swap", slim == UINT64_MAX || mlim == UINT64_MAX ? UINT64_MAX : slim + mlim, swap + mem, 0,
			  0);
		mem_entry(g, "kernel", 0, 0, 0, 0);
		mem_entry(g, "kernelTCP", 0, 0, 0, 0);
		raw_map(g, d, "memory.stat", &cache, "file");
	} else {
		v1_mem_entry(g, "usage", d, "memory.");
		v1_mem_entry(g, "swap", d, "memory.memsw.");
		v1_mem_entry(g, "kernel", d, "memory.kmem.");
		v1_mem_entry(g, "kernelTCP", d, "memory.kmem.tcp.");
		raw_map(g, d, "memory.stat", &cache, "cache");
	}
	kv_u64(g, "cache", cache, true);
	zs_jgen_map_close(g);
}

static void pids_stats(const struct zs_cgroup *cg, zs_jgen *g)
{
	const char *d = zs_cgroup_path(cg, "pids");

	zs_jgen_map_open(g);
	kv_u64(g, "current", rd(d, "pids.current"), true);
	kv_u64(g, "limit", rd(d, "pids.max"), true);
	zs_jgen_map_close(g);
}

static void blkio_entry(zs_jgen *g, unsigned long maj, unsigned long min, const char *op, uint64_t v)
{
	zs_jgen_map_open(g);
	kv_u64(g, "major", maj, true);
	kv_u64(g, "minor", min, true);
	if (op && *op)
		zs_jgen_kv_string(g, "op", op);
	kv_u64(g, "value", v, true);
	zs_jgen_map_close(g);
}

/* v1 "MAJ:MIN Op value" lines (the "Total" line has no device); like Go's
 * omitempty, no key at all when there is no entry. */
static void blkio_v1_list(zs_jgen *g, const char *k, const char *d, const char *file)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *s = NULL;
	char *save = NULL;
	bool open = false;

	if (d == NULL || cg_read(d, file, &s, &e) < 0)
		return;
	for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long maj, min;
		char op[32];
		unsigned long long v;
		if (sscanf(l, "%lu:%lu %31s %llu", &maj, &min, op, &v) != 4)
			continue;
		if (!open) {
			zs_jgen_key(g, k);
			zs_jgen_array_open(g);
			open = true;
		}
		blkio_entry(g, maj, min, op, v);
	}
	if (open)
		zs_jgen_array_close(g);
}

/* v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..." */
static void blkio_v2_list(zs_jgen *g, const char *k, const char *d, const char *rkey, const char *wkey)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *s = NULL;
	char *save = NULL;
	bool open = false;

	if (d == NULL || cg_read(d, "io.stat", &s, &e) < 0)
		return;
	for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long maj, min;
		char *save2 = NULL, *sp = strchr(l, ' ');
		if (sp == NULL || sscanf(l, "%lu:%lu", &maj, &min) != 2)
			continue;
		for (char *t = strtok_r(sp, " ", &save2); t; t = strtok_r(NULL, " ", &save2)) {
			char *eq = strchr(t, '=');
			bool r;
			if (eq == NULL)
				continue;
			*eq = '\0';
			r = strcmp(t, rkey) == 0;
			if (!r && strcmp(t, wkey) != 0)
				continue;
			if (!open) {
				zs_jgen_key(g, k);
				zs_jgen_array_open(g);
				open = true;
			}
			blkio_entry(g, maj, min, r ? "Read" : "Write", strtoull(eq + 1, NULL, 10));
		}
	}
	if (open)
		zs_jgen_array_close(g);
}

static void blkio_stats(const struct zs_cgroup *cg, zs_jgen *g)
{
	const char *d = zs_cgroup_path(cg, cg->mode == ZS_CGROUP_UNIFIED ? "io" : "blkio");

	zs_jgen_map_open(g);
	if (cg->mode == ZS_CGROUP_UNIFIED) {
		blkio_v2_list(g, "ioServiceBytesRecursive", d, "rbytes", "wbytes");
		blkio_v2_list(g, "ioServicedRecursive", d, "rios", "wios");
	} else if (d && cg_exists(d, "blkio.io_service_bytes_recursive")) {
		blkio_v1_list(g, "ioServiceBytesRecursive", d, "blkio.io_service_bytes_recursive");
		blkio_v1_list(g, "ioServicedRecursive", d, "blkio.io_serviced_recursive");
	} else {
		blkio_v1_list(g, "ioServiceBytesRecursive", d, "blkio.throttle.io_service_bytes_recursive");
		blkio_v1_list(g, "ioServicedRecursive", d, "blkio.throttle.io_serviced_recursive");
	}
	zs_jgen_map_close(g);
}

/* "hugepages-2048kB" -> "2MB", as runc names hugetlb files. */
static char *hugepage_name(const char *dirent)
{
	unsigned long kb = strtoul(dirent + strlen("hugepages-"), NULL, 10);

	if (kb >= 1024 * 1024 && kb % (1024 * 1024) == 0)
		return xasprintf("%luGB", kb / (1024 * 1024));
	if (kb >= 1024 && kb % 1024 == 0)
		return xasprintf("%luMB", kb / 1024);
	return xasprintf("%luKB", kb);
}

static void hugetlb_stats(const struct zs_cgroup *cg, zs_jgen *g)
{
	const char *d = zs_cgroup_path(cg, "hugetlb");
	bool v2 = cg->mode == ZS_CGROUP_UNIFIED;
	cleanup_dir DIR *dir = opendir("/sys/kernel/mm/hugepages");
	struct dirent *de;

	zs_jgen_map_open(g);
	while (d && dir && (de = readdir(dir))) {
		if (!str_has_prefix(de->d_name, "hugepages-"))
			continue;
		cleanup_free char *n = hugepage_name(de->d_name);
		cleanup_free char *u = xasprintf(v2 ? "hugetlb.%s.current" : "hugetlb.%s.usage_in_bytes", n);
		cleanup_free char *m = xasprintf("hugetlb.%s.max_usage_in_bytes", n);
		cleanup_free char *f = xasprintf("hugetlb.%s.failcnt", n), *ev = xasprintf("hugetlb.%s.events", n);
		if (!cg_exists(d, u))
			continue;
		zs_jgen_key(g, n);
		zs_jgen_map_open(g);
		kv_u64(g, "usage", rd(d, u), true);
		kv_u64(g, "max", v2 ? 0 : rd(d, m), true);
		kv_u64(g, "failcnt", v2 ? kv_file(d, ev, "max") : rd(d, f), false);
		zs_jgen_map_close(g);
	}
	zs_jgen_map_close(g);
}

int zs_cgroup_stats(const struct zs_cgroup *cg, zs_jgen *g, zs_error_t *err)
{
	zs_jgen_map_open(g);
	zs_jgen_key(g, "cpu");
	zs_jgen_map_open(g);
	if (cg->mode == ZS_CGROUP_UNIFIED)
		cpu_v2(cg->paths[0].path, g);
	else
		cpu_v1(cg, g);
	zs_jgen_map_close(g);
	zs_jgen_key(g, "cpuset");
	cpuset_stats(cg, g);
	zs_jgen_key(g, "memory");
	memory_stats(cg, g);
	zs_jgen_key(g, "pids");
	pids_stats(cg, g);
	zs_jgen_key(g, "blkio");
	blkio_stats(cg, g);
	zs_jgen_key(g, "hugetlb");
	hugetlb_stats(cg, g);
	zs_jgen_key(g, "intel_rdt");
	zs_jgen_map_open(g);
	zs_jgen_map_close(g);
	zs_jgen_key(g, "network_interfaces");
	zs_jgen_null(g);
	zs_jgen_map_close(g);
	return 0;
}

/* ---- OOM --------------------------------------------------------------- */

int zs_cgroup_oom_open(const struct zs_cgroup *cg, int *fd, zs_error_t *err)
{
	const char *d = zs_cgroup_path(cg, "memory");
	cleanup_close int efd = -1, ofd = -1;

	if (d == NULL)
		return zs_make_error(err, ENOENT, "the memory cgroup controller is not available");
	if (cg->mode == ZS_CGROUP_UNIFIED) {
		cleanup_free char *p = xasprintf("%s/memory.events", d);
		efd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (efd < 0)
			return zs_make_error(err, errno, "inotify_init1");
		if (inotify_add_watch(efd, p, IN_MODIFY) < 0)
			return zs_make_error(err, errno, "watch `%s`", p);
		((struct zs_cgroup *) cg)->oom_seen = kv_file(d, "memory.events", "oom_kill");
		*fd = steal_fd(&efd);
		return 0;
	}
	{
		cleanup_free char *p = xasprintf("%s/memory.oom_control", d);
		ofd = open(p, O_RDONLY | O_CLOEXEC);
		if (ofd < 0)
			return zs_make_error(err, errno, "open `%s`", p);
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return zs_make_error(err, errno, "eventfd");
	if (cg_writef(d, "cgroup.event_control", err, "%d %d", efd, ofd) < 0)
		return -1;
	*fd = steal_fd(&efd);
	return 0;
}

int zs_cgroup_oom_read(struct zs_cgroup *cg, int fd, zs_error_t *err)
{
	const char *d = zs_cgroup_path(cg, "memory");

	if (cg->mode == ZS_CGROUP_UNIFIED) {
		char buf[4096];
		uint64_t now;
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		now = kv_file(d, "memory.events", "oom_kill");
		if (now <= cg->oom_seen)
			return 0;
		int n = (int) (now - cg->oom_seen);
		cg->oom_seen = now;
		return n;
	}
	{
		uint64_t v = 0;
		ssize_t r = read(fd, &v, sizeof(v));
		if (r < 0)
			return errno == EAGAIN ? 0 : zs_make_error(err, errno, "read OOM eventfd");
		/* the eventfd also fires when the cgroup goes away */
		if (d == NULL || access(d, F_OK) < 0)
			return zs_make_error(err, ENOENT, "cgroup `%s` removed", d ? d : "?");
		return (int) v;
	}
}
