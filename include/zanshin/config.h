/* zanshin — the OCI runtime config (config.json, spec 1.0-1.2) as C structs,
 * parsed through lib/json.  Unknown fields are ignored, as the spec says;
 * fields we use are checked, and errors name them. */
#ifndef ZANSHIN_CONFIG_H
#define ZANSHIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zanshin/error.h"
#include "zanshin/json.h"

struct zs_mount {
	char *destination;
	char *source;
	char *type;
	unsigned long flags;		       /* MS_* set */
	unsigned long clear_flags;	       /* MS_* explicitly cleared (rw, dev, ...) */
	unsigned long propagation;	       /* MS_PRIVATE|MS_SLAVE|... (| MS_REC) or 0 */
	char *data;			       /* comma-joined fs-specific options */
	bool bind;			       /* bind or rbind */
	unsigned long long attr_set, attr_clr; /* MOUNT_ATTR_* applied recursively (rro, rnosuid...) */
};

struct zs_id_map {
	uint32_t container_id, host_id, size;
};

struct zs_namespace {
	int type; /* CLONE_NEW* */
	char *path;
};

struct zs_rlimit {
	int resource;
	uint64_t soft, hard;
};

struct zs_device {
	char *path;
	char type; /* 'c', 'b', 'u', 'p' */
	int64_t major, minor;
	bool mode_set, uid_set, gid_set;
	uint32_t mode, uid, gid;
};

struct zs_hook {
	char *path;
	char **args;
	char **env;
	int timeout; /* seconds, 0 = none */
};

enum zs_hook_kind {
	ZS_HOOK_PRESTART,
	ZS_HOOK_CREATE_RUNTIME,
	ZS_HOOK_CREATE_CONTAINER,
	ZS_HOOK_START_CONTAINER,
	ZS_HOOK_POSTSTART,
	ZS_HOOK_POSTSTOP,
	ZS_HOOK_KINDS,
};

enum { ZS_CAP_EFFECTIVE, ZS_CAP_PERMITTED, ZS_CAP_INHERITABLE, ZS_CAP_BOUNDING, ZS_CAP_AMBIENT, ZS_CAP_SETS };

struct zs_process {
	bool terminal;
	unsigned console_height, console_width;
	uid_t uid;
	gid_t gid;
	bool umask_set;
	mode_t umask;
	gid_t *additional_gids;
	size_t n_additional_gids;
	char **args;
	char **env;
	char *cwd;
	bool caps_set;
	uint64_t caps[ZS_CAP_SETS]; /* bitmasks of CAP_* numbers */
	struct zs_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool oom_score_adj_set;
	int oom_score_adj;
	char *apparmor_profile;
	char *selinux_label;
};

struct zs_sysctl {
	char *key, *value;
};

struct zs_config {
	zs_json *json; /* the parsed document; the pointers below into it */
	char *oci_version;
	char *root_path;
	bool root_readonly;
	char *hostname;
	char *domainname;
	struct zs_mount *mounts;
	size_t n_mounts;
	struct zs_process *process; /* may be NULL (spec allows it) */
	struct zs_hook *hooks[ZS_HOOK_KINDS];
	size_t n_hooks[ZS_HOOK_KINDS];
	const zs_json *annotations;
	/* linux */
	struct zs_namespace *namespaces;
	size_t n_namespaces;
	struct zs_id_map *uid_maps, *gid_maps;
	size_t n_uid_maps, n_gid_maps;
	char *cgroups_path;
	const zs_json *resources;
	const zs_json *seccomp;
	struct zs_device *devices;
	size_t n_devices;
	unsigned long rootfs_propagation; /* 0 = default (rslave) */
	char **masked_paths;
	char **readonly_paths;
	struct zs_sysctl *sysctl;
	size_t n_sysctl;
	bool personality_set;
	unsigned long personality;
	char *mount_label;
};

/* Load PATH (a config.json); NAME is used in messages ("config.json"). */
int zs_config_load(const char *path, const char *name, struct zs_config **out, zs_error_t *err);
int zs_config_parse(const char *buf, const char *name, struct zs_config **out, zs_error_t *err);
void zs_config_free(struct zs_config *c);
void cleanup_configp(struct zs_config **c);
#define cleanup_config __attribute__((cleanup(cleanup_configp)))

/* Parse a process object (config's "process", or exec --process FILE). */
int zs_process_parse(const zs_json *v, const char *file, const char *field, struct zs_process **out, zs_error_t *err);
void zs_process_free(struct zs_process *p);

/* Namespace of TYPE in the config, or NULL. */
const struct zs_namespace *zs_config_namespace(const struct zs_config *c, int type);
/* "pid", "network", ... -> CLONE_NEW*; 0 if unknown. */
int zs_namespace_type(const char *name);
/* CLONE_NEW* -> name used in /proc/PID/ns ("pid", "net", ...). */
const char *zs_namespace_proc_name(int type);

/* Parse mount options into M's flags/propagation/data. */
void zs_mount_parse_options(struct zs_mount *m, char **options);

/* Capability by name ("CAP_SYS_ADMIN"), -1 if unknown. */
int zs_cap_from_name(const char *name);
/* Signal by name ("KILL", "SIGKILL") or number; -1 if invalid. */
int zs_signal_from_string(const char *s);

/* Container ID check: [A-Za-z0-9_+-][A-Za-z0-9_+.-]*, at most 1024 chars. */
int zs_validate_id(const char *id, zs_error_t *err);

#endif
