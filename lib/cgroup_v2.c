/* zanshin — cgroup v2 resource files, with runc's v1 -> v2 conversions
 * (cpu shares -> cpu.weight, blkio weight -> io.weight, memory+swap ->
 * memory.swap.max). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zanshin/utils.h"
#include "cgroup_internal.h"

static uint64_t shares_to_weight(uint64_t shares)
{
	if (shares == 0)
		return 0;
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static uint64_t blkio_to_io_weight(uint16_t w)
{
	if (w == 0)
		return 0;
	return 1 + ((uint64_t) (w < 10 ? 10 : w) - 10) * 9999 / 990;
}

static int write_max(const char *dir, const char *file, int64_t v, zs_error_t *err)
{
	if (v < 0)
		return cg_write(dir, file, "max", err);
	return cg_writef(dir, file, err, "%" PRId64, v);
}

/* memory.swap.max: the spec's swap is memory+swap, v2's is swap alone. */
static int swap_value(const struct zs_resources *r, int64_t *out, zs_error_t *err)
{
	int64_t mem = r->memory_limit, swap = r->memory_swap;

	*out = 0;
	if (swap == 0)
		return 0;
	if (swap == -1) {
		*out = -1;
		return 0;
	}
	if (mem == 0 || mem == -1)
		return zs_make_error(err, EINVAL, "invalid memory swap %" PRId64 ": memory limit must be set too",
				     swap);
	if (swap < mem)
		return zs_make_error(
		    err, EINVAL, "memory+swap limit (%" PRId64 ") should be >= memory limit (%" PRId64 ")", swap, mem);
	*out = swap - mem;
	if (*out == 0)
		*out = -2; /* "0": no swap at all */
	return 0;
}

static int v2_memory(const char *dir, const struct zs_resources *r, zs_error_t *err)
{
	int64_t swap;

	if (swap_value(r, &swap, err) < 0)
		return -1;
	if (r->memory_limit == -1 && r->memory_swap == 0 && cg_exists(dir, "memory.swap.max"))
		swap = -1;
	if (swap != 0 && !cg_exists(dir, "memory.swap.max")) {
		if (swap != -1)
			return zs_make_error(err, ENOTSUP, "memory swap limit set but memory.swap.max is missing");
	} else if (swap == -2) {
		if (cg_write(dir, "memory.swap.max", "0", err) < 0)
			return -1;
	} else if (swap != 0 && write_max(dir, "memory.swap.max", swap, err) < 0) {
		return -1;
	}
	if (r->memory_limit != 0 && write_max(dir, "memory.max", r->memory_limit, err) < 0)
		return -1;
	if (r->memory_reservation != 0 && write_max(dir, "memory.low", r->memory_reservation, err) < 0)
		return -1;
	return 0;
}

static int v2_cpu(const char *dir, const struct zs_resources *r, zs_error_t *err)
{
	if (r->cpu_shares != 0 && cg_writef(dir, "cpu.weight", err, "%" PRIu64, shares_to_weight(r->cpu_shares)) < 0)
		return -1;
	if (r->cpu_idle_set && cg_writef(dir, "cpu.idle", err, "%" PRId64, r->cpu_idle) < 0)
		return -1;
	if (r->cpu_rt_period != 0 || r->cpu_rt_runtime != 0)
		return zs_make_error(err, ENOTSUP, "realtime cpu settings are not supported on cgroup v2");
	if (r->cpu_quota != 0 || r->cpu_period != 0) {
		cleanup_free char *cur = NULL;
		char quota[32] = "max";
		uint64_t period = 100000;

		if (cg_read(dir, "cpu.max", &cur, err) < 0)
			return -1;
		sscanf(cur, "%31s %" SCNu64, quota, &period);
		if (r->cpu_period != 0)
			period = r->cpu_period;
		if (r->cpu_quota > 0)
			snprintf(quota, sizeof(quota), "%" PRId64, r->cpu_quota);
		else if (r->cpu_quota < 0)
			snprintf(quota, sizeof(quota), "max");
		if (cg_writef(dir, "cpu.max", err, "%s %" PRIu64, quota, period) < 0)
			return -1;
	}
	if (r->cpuset_cpus && *r->cpuset_cpus && cg_write(dir, "cpuset.cpus", r->cpuset_cpus, err) < 0)
		return -1;
	if (r->cpuset_mems && *r->cpuset_mems && cg_write(dir, "cpuset.mems", r->cpuset_mems, err) < 0)
		return -1;
	return 0;
}

static int io_max(const char *dir, const char *key, const struct zs_throttle_device *d, size_t n, zs_error_t *err)
{
	for (size_t i = 0; i < n; i++)
		if (cg_writef(dir, "io.max", err, "%" PRId64 ":%" PRId64 " %s=%" PRIu64, d[i].major, d[i].minor, key,
			      d[i].rate) < 0)
			return -1;
	return 0;
}

static int v2_io(const char *dir, const struct zs_resources *r, zs_error_t *err)
{
	bool bfq = cg_exists(dir, "io.bfq.weight");

	if (r->blkio_weight != 0) {
		if (bfq ? cg_writef(dir, "io.bfq.weight", err, "default %u", r->blkio_weight) < 0
			: cg_writef(dir, "io.weight", err, "default %" PRIu64, blkio_to_io_weight(r->blkio_weight)) < 0)
			return -1;
	}
	for (size_t i = 0; i < r->n_weight_devices; i++) {
		const struct zs_weight_device *d = &r->weight_devices[i];
		if (d->weight == 0)
			continue;
		if (!bfq)
			return zs_make_error(err, ENOTSUP,
					     "per-device io weight needs the bfq scheduler (io.bfq.weight)");
		if (cg_writef(dir, "io.bfq.weight", err, "%" PRId64 ":%" PRId64 " %u", d->major, d->minor, d->weight) <
		    0)
			return -1;
	}
	if (io_max(dir, "rbps", r->throttle_read_bps, r->n_throttle_read_bps, err) < 0 ||
	    io_max(dir, "wbps", r->throttle_write_bps, r->n_throttle_write_bps, err) < 0 ||
	    io_max(dir, "riops", r->throttle_read_iops, r->n_throttle_read_iops, err) < 0 ||
	    io_max(dir, "wiops", r->throttle_write_iops, r->n_throttle_write_iops, err) < 0)
		return -1;
	return 0;
}

static int v2_unified(const char *dir, const struct zs_resources *r, zs_error_t *err)
{
	for (size_t i = 0; i < r->n_unified; i++) {
		const char *k = r->unified[i].key;
		if (strchr(k, '/') || k[0] == '.' || k[0] == '\0')
			return zs_make_error(err, EINVAL, "linux.resources.unified: invalid key `%s`", k);
		if (cg_write(dir, k, r->unified[i].value, err) < 0)
			return -1;
	}
	return 0;
}

int cg_v2_apply(const char *dir, const struct zs_resources *r, bool update, zs_error_t *err)
{
	if (v2_memory(dir, r, err) < 0 || v2_cpu(dir, r, err) < 0)
		return -1;
	if (r->pids_limit != 0 && write_max(dir, "pids.max", r->pids_limit, err) < 0)
		return -1;
	if (v2_io(dir, r, err) < 0)
		return -1;
	for (size_t i = 0; i < r->n_hugetlb; i++) {
		cleanup_free char *f = xasprintf("hugetlb.%s.max", r->hugetlb[i].pagesize);
		if (cg_writef(dir, f, err, "%" PRIu64, r->hugetlb[i].limit) < 0)
			return -1;
	}
	if (!update && r->n_devices > 0 && cg_v2_devices_apply(dir, r->devices, r->n_devices, err) < 0)
		return -1;
	return v2_unified(dir, r, err);
}
