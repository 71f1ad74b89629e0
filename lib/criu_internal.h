/* zanshin — internal split of lib/checkpoint.c, lib/restore.c and
 * lib/criu_common.c (the libcriu plumbing they share). */
#ifndef ZANSHIN_CRIU_INTERNAL_H
#define ZANSHIN_CRIU_INTERNAL_H
#include <criu/criu.h>
#include <stdbool.h>
#include <sys/types.h>
#include "zanshin/checkpoint.h"
#include "zanshin/config.h"
#include "zanshin/error.h"

#define ZS_DESCRIPTORS "descriptors.json" /* stdio of the init, as runc names it */

/* New libcriu options: our CRIU as the service binary, log level 4. */
int zs_criu_opts_new(const struct zs_cr_opts *o, criu_opts **out, zs_error_t *err);
/* A checkpoint: CRIU locks the network with nftables where it can (no
 * iptables processes in the dump's and the restore's critical path). */
void zs_criu_network_lock(criu_opts *c, const struct zs_cr_opts *o);
void cleanup_criu_optsp(criu_opts **c);
#define cleanup_criu_opts __attribute__((cleanup(cleanup_criu_optsp)))

/* Settings both verbs pass the same way: org.criu.config (or
 * /etc/criu/runc.conf, as runc), --manage-cgroups-mode, --empty-ns, the
 * boolean flags, and the work directory (opened into *WORK_FD). */
int zs_criu_common(criu_opts *c, const struct zs_cr_opts *o, const struct zs_config *cfg, const char *image_dir,
		   int *work_fd, zs_error_t *err);

/* External mounts (runc's rules): bind mounts, cgroup v1 binds, masked
 * files, devices.  On dump the key and value are the path in the
 * container; on restore the value is the host source. */
int zs_criu_mount_maps(criu_opts *c, const struct zs_config *cfg, const char *rootfs, const char *bundle, pid_t pid,
		       bool restore, zs_error_t *err);

/* The path DEST has inside ROOTFS once symlinks are resolved in it
 * (securejoin); DEST itself when it does not exist yet. */
char *zs_rootfs_resolve(const char *rootfs, const char *dest);

/* A libcriu failure as an error naming the log and its last errors. */
int zs_criu_error(zs_error_t *err, int ret, const char *what, const char *work_dir, const char *log);

/* ---- lib/cr_stdio.c: the init's stdio in descriptors.json ---- */
/* Record fds 0-2 of PID in IMAGE_DIR/descriptors.json; the host's
 * /dev/null becomes a CRIU external file; another file outside the
 * container's mounts is refused (a terminal allowed with SHELL_JOB). */
int zs_cr_stdio_dump(criu_opts *c, const char *image_dir, pid_t pid, bool shell_job, zs_error_t *err);
/* Inherit our fds 0-2 for the pipes recorded, the host's /dev/null (opened
 * into NULL_FDS[fd], -1 initially, which the caller closes after CRIU:
 * CRIU closes each inherited fd, so each needs its own) for external files. */
int zs_cr_stdio_restore(criu_opts *c, const char *image_dir, int null_fds[3], zs_error_t *err);

/* "network" -> CLONE_NEWNET (the only one runc accepts for --empty-ns). */
int zs_empty_ns_flags(const char *s, int *flags, zs_error_t *err);

/* Absolute image / work paths with runc's defaults (cwd/checkpoint). */
char *zs_cr_image_path(const struct zs_cr_opts *o);
char *zs_cr_work_path(const struct zs_cr_opts *o);

/* ---- lib/restore_verify.c: the image verified while CRIU restores ---- */
struct zs_restore_verify;
/* Start verifying IMAGE_DIR and its parents against their manifests (a
 * warning for each without one). */
/* LAZY (--lazy-pages): an image without a manifest is expected (the dump
 * still serves its pages), logged at debug level instead of a warning. */
int zs_restore_verify_start(const char *image_dir, bool lazy, bool all_cores, struct zs_restore_verify **v,
			    zs_error_t *err);
/* Start verifying the N directories DIRS (taken, NULL-terminated), with
 * every core (--lazy: lib/lazy_verify.c left them whole). */
int zs_restore_verify_start_dirs(char **dirs, size_t n, struct zs_restore_verify **v, zs_error_t *err);
/* Wait for the verdict: 0, or the mismatch (file and block) as the error. */
int zs_restore_verify_wait(struct zs_restore_verify *v, zs_error_t *err);
void zs_restore_verify_free(struct zs_restore_verify *v);

/* ---- lib/cr_store.c: the remnant store for checkpoint/restore ---- */
struct zs_remnant;
struct zs_remnant_gen;
/* Open the store (O->remnant_root, "none" = disabled: *R stays NULL). */
int zs_cr_store_open(const struct zs_cr_opts *o, struct zs_remnant **r, zs_error_t *err);
/* 1 and *G when the store holds IMAGE_ID for container ID, else 0. */
int zs_cr_store_baseline(struct zs_remnant *r, const char *id, const char *image_id, struct zs_remnant_gen **g);
/* Flattened copy of G into IMAGE_DIR (which may exist): its contents are
 * replaced as a whole (CRIU's logs kept); on failure the error names G and
 * how to export it. */
int zs_cr_store_export(struct zs_remnant *r, const struct zs_remnant_gen *g, const char *image_dir, zs_error_t *err);
/* The same from the image directory LEAF (a diff whose `parent` chain
 * leads to the store), not verified against a manifest. */
int zs_cr_store_export_dir(struct zs_remnant *r, const char *leaf, const char *image_dir, zs_error_t *err);
/* Every descriptor above 2 but KEEP[0..N-1] close-on-exec: CRIU gets
 * none of what the runtime's caller left open (lib/cr_fds.c). */
int zs_cr_fds_private(const int *keep, size_t n, zs_error_t *err);
/* ".NAME.zanshin-WHAT-PID" next to DIR. */
char *zs_cr_sibling(const char *dir, const char *what);
/* DIR is the root of a mount (it cannot be renamed). */
bool zs_cr_is_mount_root(const char *dir);
/* The complete image directory TMP (a sibling of IMAGE_DIR) takes
 * IMAGE_DIR's place in one rename (RENAME_EXCHANGE), with CRIU's logs of
 * IMAGE_DIR; the old contents are removed.  A failure leaves IMAGE_DIR as
 * it was (TMP is the caller's to remove). */
int zs_cr_swap_in(const char *tmp, const char *image_dir, zs_error_t *err);
/* The siblings ".NAME.zanshin-dump-PID" a checkpoint into IMAGE_DIR left
 * when it was killed: one CRIU had finished (marked at its post-dump, its
 * runtime dead, this boot) takes IMAGE_DIR's place, as the checkpoint
 * would have done (the container's newest state: CRIU had stopped it);
 * one of a dead process without that mark is removed; one from another
 * boot is kept (warned). */
void zs_cr_settle_siblings(const char *image_dir);
/* "the newest state is ... generation G ...: zanshin remnant export ..." */
char *zs_cr_store_export_hint(struct zs_remnant *r, const struct zs_remnant_gen *g);
/* ERR's text with its errno spelled out. */
char *zs_cr_error_text(zs_error_t e);
/* Keep IMAGE_DIR as a generation (warning on failure); *GEN_NAME if kept. */
void zs_cr_store_keep(struct zs_remnant *r, const char *id, const char *image_dir, char **gen_name, char **image_id);
/* Keep the bundle unless one is stored already. */
void zs_cr_store_bundle(struct zs_remnant *r, const char *id, const char *bundle, const char *rootfs);
/* A diff whose parent is not at its `parent` link: the parent from the
 * store (verified), IMAGE_DIR imported on it; or, the parent gone, the
 * store's own generation of IMAGE_ID (verified); *USE_DIR = what to
 * restore. */
int zs_cr_store_resolve(struct zs_remnant *r, const char *id, const char *image_dir, const char *image_id,
			const char *parent_id, char **use_dir, char **gen_name, zs_error_t *err);
/* What the store keeps after a checkpoint/restore, done by a detached
 * process (ZANSHIN_STORE_SYNC=1: inline); NULL fields are skipped. */
struct zs_cr_keep {
	const char *id, *image_dir, *bundle, *rootfs;
	const char *state_root; /* set: record the generation kept in ID's state.json */
	bool gc;
};
void zs_cr_store_later(struct zs_remnant *r, const struct zs_cr_keep *k);
/* DIR opened and flock()ed (shared: the store copies from it; exclusive:
 * wait for that copy before writing into DIR); the fd, -1 on failure. */
int zs_cr_image_dir_lock(const char *dir, bool exclusive);
/* Does DIR's `parent` chain lead, id by id, to a full image? */
bool zs_cr_chain_complete(const char *dir);
/* Retention (max_age, max_bytes) after a checkpoint. */
void zs_cr_store_gc(struct zs_remnant *r);
/* ---- lib/checkpoint_report.c: what a checkpoint says it did ---- */
#include <stdint.h>
struct zs_ckpt_report {
	const char *id;
	bool diff;
	char *fallback; /* why a diff was wanted but a full one taken */
	uint64_t bytes, pages;
	double duration_s;
	char *generation, *base, *image_id, *parent_image_id;
	bool have_criu;
	uint64_t criu[15]; /* dump_stats_entry by field number */
	bool criu_set[15];
	char *stats_raw; /* stats-dump as read */
	size_t stats_len;
};
/* DIR/stats-dump (CRIU's dump statistics) into R. */
void zs_ckpt_report_read_stats(struct zs_ckpt_report *r, const char *dir);
/* Record (and always warn) why the checkpoint is full instead of a diff. */
void zs_ckpt_report_fallback(struct zs_ckpt_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *zs_ckpt_report_json(const struct zs_ckpt_report *r);
void zs_ckpt_report_log(const struct zs_ckpt_report *r);
void zs_ckpt_report_free(struct zs_ckpt_report *r);

/* ---- lib/checkpoint_precheck.c: checked before the container is stopped ---- */
/* Bytes of memory a full image of the process tree of INIT holds (about). */
uint64_t zs_ckpt_memory_estimate(pid_t init);
/* DIR created with its parents (0700), a writable directory; WHAT names it. */
int zs_ckpt_check_dir(const char *dir, const char *what, zs_error_t *err);
/* DIR's filesystem has NEED bytes free (-ENOSPC naming both if not). */
int zs_ckpt_check_space(const char *dir, const char *what, uint64_t need, zs_error_t *err);

#endif
