/* zanshin — cgroup v1 resource files (runc's fs driver semantics: a value
 * of 0 is "not set"). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zanshin/utils.h"
#include "cgroup_internal.h"

static int set_memory(const char *dir, int64_t v, zs_error_t *err)
{
	uint64_t usage = 0, max = 0;
	int ret;

	if (v == 0)
		return 0;
	ret = cg_writef(dir, "memory.limit_in_bytes", err, "%" PRId64, v);
	if (ret >= 0 || zs_error_errno(*err) != EBUSY)
		return ret;
	cg_read_u64(dir, "memory.usage_in_bytes", &usage);
	cg_read_u64(dir, "memory.max_usage_in_bytes", &max);
	zs_error_release(err);
	return zs_make_error(err, EBUSY,
			     "unable to set memory limit to %" PRId64 " (current usage: %" PRIu64
			     ", peak usage: %" PRIu64 ")",
			     v, usage, max);
}

static int set_swap(const char *dir, int64_t v, zs_error_t *err)
{
	if (v == 0)
		return 0;
	return cg_writef(dir, "memory.memsw.limit_in_bytes", err, "%" PRId64, v);
}

static int v1_memory(const char *dir, const struct zs_resources *r, zs_error_t *err)
{
	int64_t mem = r->memory_limit, swap = r->memory_swap;
	bool have_swap = cg_exists(dir, "memory.memsw.limit_in_bytes");
	uint64_t cur = 0;

	if (mem == -1 && swap == 0 && have_swap)
		swap = -1; /* removing the memory limit removes the swap limit too */
	if (swap != 0 && !have_swap)
		return zs_make_error(err, ENOTSUP, "memory swap limit set but the kernel has no swap accounting");
	if (mem != 0 && swap != 0 && cg_read_u64(dir, "memory.limit_in_bytes", &cur) == 0 &&
	    (swap == -1 || cur < (uint64_t) swap)) {
		/* raising: memsw first, so that memory <= memsw holds throughout */
		if (set_swap(dir, swap, err) < 0 || set_memory(dir, mem, err) < 0)
			return -1;
	} else if (set_memory(dir, mem, err) < 0 || set_swap(dir, swap, err) < 0) {
		return -1;
	}
	if (r->memory_reservation != 0 &&
	    cg_writef(dir, "memory.soft_limit_in_bytes", err, "%" PRId64, r->memory_reservation) < 0)
		return -1;
	if (r->oom_kill_disable && cg_write(dir, "memory.oom_control", "1", err) < 0)
		return -1;
	if (r->memory_swappiness >= 0) {
		if (r->memory_swappiness > 100)
			return zs_make_error(err, EINVAL,
					     "invalid memory swappiness value: %" PRId64 " (valid range is 0-100)",
					     r->memory_swappiness);
		if (cg_writef(dir, "memory.swappiness", err, "%" PRId64, r->memory_swappiness) < 0)
			return -1;
	}
	return 0;
}

static int v1_cpu_rt(const char *dir, const struct zs_resources *r, zs_error_t *err)
{
	if (r->cpu_rt_period != 0 && cg_writef(dir, "cpu.rt_period_us", err, "%" PRIu64, r->cpu_rt_period) < 0)
		return -1;
	if (r->cpu_rt_runtime != 0 && cg_writef(dir, "cpu.rt_runtime_us", err, "%" PRId64, r->cpu_rt_runtime) < 0)
		return -1;
	return 0;
}

static int v1_cpu(const char *dir, const struct zs_resources *r, zs_error_t *err)
{
	bool period_pending = false;

	if (r->cpu_shares != 0) {
		uint64_t got = 0;
		if (cg_writef(dir, "cpu.shares", err, "%" PRIu64, r->cpu_shares) < 0)
			return -1;
		if (cg_read_u64(dir, "cpu.shares", &got) == 0 && got != r->cpu_shares)
			return zs_make_error(err, ERANGE, "the %s allowed cpu-shares is %" PRIu64,
					     r->cpu_shares > got ? "maximum" : "minimum", got);
	}
	if (r->cpu_period != 0 && cg_writef(dir, "cpu.cfs_period_us", err, "%" PRIu64, r->cpu_period) < 0) {
		/* A smaller period can be refused until the quota is lowered too. */
		if (zs_error_errno(*err) != EINVAL || r->cpu_quota == 0)
			return -1;
		zs_error_release(err);
		period_pending = true;
	}
	if (r->cpu_quota != 0) {
		if (cg_writef(dir, "cpu.cfs_quota_us", err, "%" PRId64, r->cpu_quota) < 0)
			return -1;
		if (period_pending && cg_writef(dir, "cpu.cfs_period_us", err, "%" PRIu64, r->cpu_period) < 0)
			return -1;
	}
	if (v1_cpu_rt(dir, r, err) < 0)
		return -1;
	if (r->cpu_idle_set && cg_writef(dir, "cpu.idle", err, "%" PRId64, r->cpu_idle) < 0)
		return -1;
	return 0;
}

static int v1_cpuset(const char *dir, const struct zs_resources *r, zs_error_t *err)
{
	if (r->cpuset_cpus && *r->cpuset_cpus && cg_write(dir, "cpuset.cpus", r->cpuset_cpus, err) < 0)
		return -1;
	if (r->cpuset_mems && *r->cpuset_mems && cg_write(dir, "cpuset.mems", r->cpuset_mems, err) < 0)
		return -1;
	return 0;
}

static int v1_pids(const char *dir, const struct zs_resources *r, zs_error_t *err)
{
	if (r->pids_limit == 0)
		return 0;
	if (r->pids_limit < 0)
		return cg_write(dir, "pids.max", "max", err);
	return cg_writef(dir, "pids.max", err, "%" PRId64, r->pids_limit);
}

static int write_throttle(const char *dir, const char *file, const struct zs_throttle_device *d, size_t n,
			  zs_error_t *err)
{
	for (size_t i = 0; i < n; i++)
		if (cg_writef(dir, file, err, "%" PRId64 ":%" PRId64 " %" PRIu64, d[i].major, d[i].minor, d[i].rate) <
		    0)
			return -1;
	return 0;
}

static int v1_blkio(const char *dir, const struct zs_resources *r, zs_error_t *err)
{
	bool cfq = cg_exists(dir, "blkio.weight");
	const char *wfile = cfq ? "blkio.weight" : "blkio.bfq.weight";
	const char *wdfile = cfq ? "blkio.weight_device" : "blkio.bfq.weight_device";

	if (r->blkio_weight != 0 && cg_writef(dir, wfile, err, "%u", r->blkio_weight) < 0)
		return -1;
	if (r->blkio_leaf_weight != 0 && cg_writef(dir, "blkio.leaf_weight", err, "%u", r->blkio_leaf_weight) < 0)
		return -1;
	for (size_t i = 0; i < r->n_weight_devices; i++) {
		const struct zs_weight_device *d = &r->weight_devices[i];
		if (d->weight &&
		    cg_writef(dir, wdfile, err, "%" PRId64 ":%" PRId64 " %u", d->major, d->minor, d->weight) < 0)
			return -1;
		if (d->leaf_weight && cg_writef(dir, "blkio.leaf_weight_device", err, "%" PRId64 ":%" PRId64 " %u",
						d->major, d->minor, d->leaf_weight) < 0)
			return -1;
	}
	if (write_throttle(dir, "blkio.throttle.read_bps_device", r->throttle_read_bps, r->n_throttle_read_bps, err) <
		0 ||
	    write_throttle(dir, "blkio.throttle.write_bps_device", r->throttle_write_bps, r->n_throttle_write_bps,
			   err) < 0 ||
	    write_throttle(dir, "blkio.throttle.read_iops_device", r->throttle_read_iops, r->n_throttle_read_iops,
			   err) < 0 ||
	    write_throttle(dir, "blkio.throttle.write_iops_device", r->throttle_write_iops, r->n_throttle_write_iops,
			   err) < 0)
		return -1;
	return 0;
}

static int v1_hugetlb(const char *dir, const struct zs_resources *r, zs_error_t *err)
{
	for (size_t i = 0; i < r->n_hugetlb; i++) {
		cleanup_free char *file = xasprintf("hugetlb.%s.limit_in_bytes", r->hugetlb[i].pagesize);
		if (cg_writef(dir, file, err, "%" PRIu64, r->hugetlb[i].limit) < 0)
			return -1;
	}
	return 0;
}

static void dev_num(char *buf, size_t len, int64_t v)
{
	if (v < 0)
		snprintf(buf, len, "*");
	else
		snprintf(buf, len, "%" PRId64, v);
}

static int v1_devices(const char *dir, const struct zs_device_rule *rules, size_t n, zs_error_t *err)
{
	/* Start from "deny everything", then apply the rules in order. */
	if (cg_write(dir, "devices.deny", "a", err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct zs_device_rule *d = &rules[i];
		char maj[24], min[24];
		const char *file = d->allow ? "devices.allow" : "devices.deny";
		dev_num(maj, sizeof(maj), d->major);
		dev_num(min, sizeof(min), d->minor);
		if (d->type == 'a' && d->major < 0 && d->minor < 0 && strlen(d->access) == 3) {
			if (cg_write(dir, file, "a", err) < 0)
				return -1;
			continue;
		}
		if (cg_writef(dir, file, err, "%c %s:%s %s", d->type, maj, min, d->access) < 0)
			return -1;
	}
	return 0;
}

static int v1_net(const struct zs_cgroup *cg, const struct zs_resources *r, zs_error_t *err)
{
	const char *cls = zs_cgroup_path(cg, "net_cls"), *prio = zs_cgroup_path(cg, "net_prio");

	if (r->net_class_id_set && cls && cg_writef(cls, "net_cls.classid", err, "%u", r->net_class_id) < 0)
		return -1;
	for (size_t i = 0; prio && i < r->n_net_prio; i++)
		if (cg_writef(prio, "net_prio.ifpriomap", err, "%s %u", r->net_prio[i].name, r->net_prio[i].priority) <
		    0)
			return -1;
	return 0;
}

int cg_v1_apply(const struct zs_cgroup *cg, const struct zs_resources *r, bool update, zs_error_t *err)
{
	const char *d;

	if ((d = zs_cgroup_path(cg, "cpuset")) && v1_cpuset(d, r, err) < 0)
		return -1;
	if (!update && r->n_devices > 0) {
		d = zs_cgroup_path(cg, "devices");
		if (d == NULL)
			return zs_make_error(err, ENOENT, "the devices cgroup controller is not mounted");
		if (v1_devices(d, r->devices, r->n_devices, err) < 0)
			return -1;
	}
	if ((d = zs_cgroup_path(cg, "memory")) && v1_memory(d, r, err) < 0)
		return -1;
	if ((d = zs_cgroup_path(cg, "cpu")) && v1_cpu(d, r, err) < 0)
		return -1;
	if ((d = zs_cgroup_path(cg, "pids")) && v1_pids(d, r, err) < 0)
		return -1;
	if ((d = zs_cgroup_path(cg, "blkio")) && v1_blkio(d, r, err) < 0)
		return -1;
	if (r->n_hugetlb > 0) {
		d = zs_cgroup_path(cg, "hugetlb");
		if (d == NULL)
			return zs_make_error(err, ENOENT,
					     "hugepage limits set but the hugetlb controller is not mounted");
		if (v1_hugetlb(d, r, err) < 0)
			return -1;
	}
	return v1_net(cg, r, err);
}
