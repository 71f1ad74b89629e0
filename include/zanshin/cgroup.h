/* zanshin — cgroups: parse linux.resources, create/join/update/freeze/stat/
 * destroy a container's cgroup on cgroup v1 (with the hybrid cgroup2 mount
 * joined too, as runc does) and on pure cgroup v2.
 *
 * Conventions follow runc's libcontainer so that containerd, Podman and
 * runc's integration tests see the same cgroup files:
 *   - a numeric resource of 0 means "not set, leave the kernel value alone";
 *     -1 means "unlimited" where runc accepts it (memory, swap, pids, quota);
 *   - cgroupsPath "/a/b" is under each hierarchy's mount root; "a/b" (and the
 *     default, the container id, when cgroupsPath is absent) is relative to
 *     the cgroup of the calling process, as runc's fs driver does;
 *   - systemd's "slice:prefix:name" form is refused with a clear error.
 *
 * Typical use by the runtime core:
 *   create:  zs_cgroup_resources_parse(linux.resources) ->
 *            zs_resources_append_default_devices() and
 *            zs_resources_append_device() for every linux.devices entry ->
 *            zs_cgroup_create(id, cgroupsPath, res, child_pid) ->
 *            zs_cgroup_save() into the state file.  The child must be in its
 *            cgroup before it unshares the cgroup namespace.
 *   later:   zs_cgroup_load() from the state file, then freeze/thaw/update/
 *            pids/stats/destroy.
 */
#ifndef ZANSHIN_CGROUP_H
#define ZANSHIN_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zanshin/error.h"
#include "zanshin/json.h"

/* ---- resources (the linux.resources object) ---------------------------- */

struct zs_device_rule {
	bool allow;
	char type;	/* 'a', 'c' or 'b' */
	int64_t major;	/* -1 = any */
	int64_t minor;	/* -1 = any */
	char access[4]; /* subset of "rwm" */
};

struct zs_weight_device {
	int64_t major, minor;
	uint16_t weight;      /* 0 = not set */
	uint16_t leaf_weight; /* 0 = not set */
};

struct zs_throttle_device {
	int64_t major, minor;
	uint64_t rate;
};

struct zs_hugetlb_limit {
	char *pagesize; /* "2MB", "1GB" ... */
	uint64_t limit;
};

struct zs_net_prio {
	char *name;
	uint32_t priority;
};

struct zs_unified {
	char *key; /* file name, e.g. "memory.max" (must not contain '/') */
	char *value;
};

struct zs_resources {
	/* memory (bytes) */
	int64_t memory_limit;
	int64_t memory_reservation;
	int64_t memory_swap;	   /* memory+swap, as in the spec and v1 */
	int64_t memory_kernel;	   /* ignored (removed from kernels), as runc */
	int64_t memory_kernel_tcp; /* ignored (removed from kernels), as runc */
	int64_t memory_swappiness; /* -1 = not set */
	bool oom_kill_disable;
	/* cpu */
	uint64_t cpu_shares;
	int64_t cpu_quota; /* -1 = no limit */
	uint64_t cpu_period;
	int64_t cpu_rt_runtime;
	uint64_t cpu_rt_period;
	bool cpu_idle_set;
	int64_t cpu_idle;
	char *cpuset_cpus; /* NULL = not set */
	char *cpuset_mems;
	/* pids */
	int64_t pids_limit; /* 0 = not set, -1 (or <0) = max */
	/* block I/O */
	uint16_t blkio_weight;
	uint16_t blkio_leaf_weight;
	struct zs_weight_device *weight_devices;
	size_t n_weight_devices;
	struct zs_throttle_device *throttle_read_bps, *throttle_write_bps, *throttle_read_iops, *throttle_write_iops;
	size_t n_throttle_read_bps, n_throttle_write_bps, n_throttle_read_iops, n_throttle_write_iops;
	/* hugetlb */
	struct zs_hugetlb_limit *hugetlb;
	size_t n_hugetlb;
	/* network (v1 net_cls / net_prio, applied only where mounted) */
	bool net_class_id_set;
	uint32_t net_class_id;
	struct zs_net_prio *net_prio;
	size_t n_net_prio;
	/* device access rules, in order (v1 devices cgroup / v2 BPF program) */
	struct zs_device_rule *devices;
	size_t n_devices;
	/* cgroup v2 "unified" key/values (an error on v1, as runc) */
	struct zs_unified *unified;
	size_t n_unified;
};

/* An empty resources object (everything "not set"). */
struct zs_resources *zs_resources_new(void);
void zs_resources_free(struct zs_resources *r);
void cleanup_resourcesp(struct zs_resources **r);
#define cleanup_resources __attribute__((cleanup(cleanup_resourcesp)))

/* Parse linux.resources (RESOURCES may be NULL: empty result).  FILE is the
 * name used in messages ("config.json", or "-" for `update --resources -`)
 * and FIELD the path of RESOURCES ("linux.resources", or "" for update's
 * top-level object).  Errors name the field, e.g.
 *   config.json: linux.resources.memory.limit: must be an integer */
int zs_cgroup_resources_parse(const zs_json *resources, const char *file, const char *field, struct zs_resources **out,
			      zs_error_t *err);

/* Append a device rule (TYPE 'a','c','b'; -1 = wildcard; ACCESS "rwm"). */
void zs_resources_append_device(struct zs_resources *r, bool allow, char type, int64_t major, int64_t minor,
				const char *access);
/* Append runc's default allowed devices (null, zero, full, tty, random,
 * urandom, console, ptmx, pts/N, net/tun, and mknod of any char/block). */
void zs_resources_append_default_devices(struct zs_resources *r);

/* ---- cgroup of a container --------------------------------------------- */

enum zs_cgroup_mode {
	ZS_CGROUP_LEGACY = 1,  /* v1 only */
	ZS_CGROUP_HYBRID = 2,  /* v1 + cgroup2 at /sys/fs/cgroup/unified */
	ZS_CGROUP_UNIFIED = 3, /* pure v2 */
};

/* Which cgroup mode the host runs (statfs of /sys/fs/cgroup). */
int zs_cgroup_get_mode(zs_error_t *err);

struct zs_cgroup; /* opaque: the container's cgroup path(s) */

/* Create the cgroup(s) of container ID at CGROUPS_PATH (NULL = default),
 * move PID (> 0) into them and apply RES (may be NULL).  Refuses a cgroup
 * that is frozen already ("container's cgroup unexpectedly frozen").  On
 * error nothing created by this call is left behind. */
int zs_cgroup_create(const char *id, const char *cgroups_path, const struct zs_resources *res, pid_t pid,
		     struct zs_cgroup **out, zs_error_t *err);
/* True if the cgroup held processes before zs_cgroup_create() added PID
 * (runc warns "container's cgroup is not empty"). */
bool zs_cgroup_was_populated(const struct zs_cgroup *cg);

/* Move PID (an exec'd process) into the container's cgroup(s). */
int zs_cgroup_enter(const struct zs_cgroup *cg, pid_t pid, zs_error_t *err);

/* `exec --cgroup` (runc 1.1): ARGS are "[CONTROLLER[,CONTROLLER]:]PATH"
 * values naming existing sub-cgroups of the container's cgroup(s) ("/" =
 * the container's own).  A path without a controller applies to every
 * hierarchy (then it must be the only argument).  Errors as runc's:
 * "X is not a sub cgroup path", "unknown controller X", "error adding pid
 * N to cgroups: open .../cgroup.procs: no such file or directory".  With no
 * ARGS this is zs_cgroup_enter(). */
int zs_cgroup_enter_sub(const struct zs_cgroup *cg, pid_t pid, char *const *args, size_t nargs, zs_error_t *err);

/* Store/restore the paths for the state file: zs_cgroup_save() writes one
 * JSON object value (the caller has already written its key). */
void zs_cgroup_save(const struct zs_cgroup *cg, zs_jgen *g);
int zs_cgroup_load(const zs_json *v, struct zs_cgroup **out, zs_error_t *err);
void zs_cgroup_free(struct zs_cgroup *cg);
void cleanup_cgroupp(struct zs_cgroup **cg);
#define cleanup_cgroup __attribute__((cleanup(cleanup_cgroupp)))

enum zs_cgroup_mode zs_cgroup_mode_of(const struct zs_cgroup *cg);
/* Path of controller NAME ("memory", "cpu", ... ; "" = cgroup2 unified),
 * or NULL if that controller is not used. */
const char *zs_cgroup_path(const struct zs_cgroup *cg, const char *controller);

/* The hierarchies used: I from 0 to zs_cgroup_count() - 1.  CONTROLLERS is
 * "cpu", "cpu,cpuacct", "name=systemd" or "" (cgroup2), DIR the absolute
 * directory and *INNER (malloc'd) the path inside the hierarchy, e.g.
 * "/default/ctr1", as CRIU's --cgroup-root CONTROLLERS:INNER wants. */
size_t zs_cgroup_count(const struct zs_cgroup *cg);
int zs_cgroup_get(const struct zs_cgroup *cg, size_t i, const char **controllers, const char **dir, char **inner,
		  zs_error_t *err);

/* Apply RES to a live cgroup (runc update; device rules are not changed). */
int zs_cgroup_update(const struct zs_cgroup *cg, const struct zs_resources *res, zs_error_t *err);

/* pause / resume; both wait until the kernel reports the new state. */
int zs_cgroup_freeze(const struct zs_cgroup *cg, zs_error_t *err);
int zs_cgroup_thaw(const struct zs_cgroup *cg, zs_error_t *err);
/* 1 if frozen, 0 if not (or no freezer), < 0 on error. */
int zs_cgroup_is_frozen(const struct zs_cgroup *cg, zs_error_t *err);

/* Pids in the cgroup (RECURSIVE: also sub-cgroups), sorted ascending. */
int zs_cgroup_pids(const struct zs_cgroup *cg, bool recursive, pid_t **pids, size_t *n, zs_error_t *err);
/* Send SIG to every process in the cgroup tree (freezing it meanwhile so
 * that nothing forks away), as `kill --all`. */
int zs_cgroup_kill_all(const struct zs_cgroup *cg, int sig, zs_error_t *err);

/* Statistics in runc 1.1's `events --stats` "data" shape (types.Stats):
 * {"cpu":{"usage":{...},"throttling":{...}},"cpuset":{...},"memory":{...},
 *  "pids":{...},"blkio":{...},"hugetlb":{...},...}; writes one value. */
int zs_cgroup_stats(const struct zs_cgroup *cg, zs_jgen *g, zs_error_t *err);

/* OOM notification: an fd that becomes readable when an OOM kill happens
 * (v1: eventfd on memory.oom_control; v2: inotify on memory.events).  After
 * poll() says readable, call zs_cgroup_oom_read(); it returns the number of
 * new OOM events (>= 0) or < 0. */
int zs_cgroup_oom_open(const struct zs_cgroup *cg, int *fd, zs_error_t *err);
int zs_cgroup_oom_read(struct zs_cgroup *cg, int fd, zs_error_t *err);

/* Kill what is left (SIGKILL, thawing first), then remove every directory,
 * retrying while the tasks exit.  Missing directories are not an error. */
int zs_cgroup_destroy(const struct zs_cgroup *cg, zs_error_t *err);
/* Remove the directories without killing anything (a cgroup shared with
 * another container, e.g. runc's "container's cgroup is not empty" case):
 * retries for about a second while tasks exit, then fails with EBUSY. */
int zs_cgroup_remove(const struct zs_cgroup *cg, zs_error_t *err);

#endif
