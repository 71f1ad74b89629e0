/* zanshin — cgroups: what lib/cgroup*.c share (not a public header). */
#ifndef ZANSHIN_CGROUP_INTERNAL_H
#define ZANSHIN_CGROUP_INTERNAL_H

#include "zanshin/cgroup.h"

#define ZS_CGROUP_ROOT "/sys/fs/cgroup"

struct zs_cg_path {
	char *controllers; /* v1: "cpu" / "cpu,cpuacct" / "name=systemd"; cgroup2: "" */
	char *path;	   /* absolute directory */
};

struct zs_cgroup {
	enum zs_cgroup_mode mode;
	struct zs_cg_path *paths;
	size_t n_paths;
	bool was_populated;
	uint64_t oom_seen; /* v2: last oom_kill count seen */
};

/* Files of one cgroup directory. */
int cg_write(const char *dir, const char *file, const char *value, zs_error_t *err);
int cg_writef(const char *dir, const char *file, zs_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Read FILE, trailing newline removed; NULL-safe *out on error. */
int cg_read(const char *dir, const char *file, char **out, zs_error_t *err);
/* 0 and *out on success; -ENOENT without error fill when missing. */
int cg_read_u64(const char *dir, const char *file, uint64_t *out);
bool cg_exists(const char *dir, const char *file);

/* Apply resources. UPDATE: skip device rules (runc update never changes them). */
int cg_v1_apply(const struct zs_cgroup *cg, const struct zs_resources *r, bool update, zs_error_t *err);
int cg_v2_apply(const char *path, const struct zs_resources *r, bool update, zs_error_t *err);
/* v2 devices: attach a BPF_PROG_TYPE_CGROUP_DEVICE program built from rules. */
int cg_v2_devices_apply(const char *path, const struct zs_device_rule *rules, size_t n, zs_error_t *err);

#endif
