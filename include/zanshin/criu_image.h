/* zanshin — CRIU image directories read and rewritten without CRIU: lineage
 * ids (inventory image_id / parent_image_id, criu-patches 0010), sanity
 * checks before root hands an image to CRIU, and flattening a chain of
 * diffs (pagemap entries with PE_PARENT) into one full image.
 *
 * Only the protobuf fields we need are decoded (a small varint reader);
 * CRIU's own generated code is not linked. */
#ifndef ZANSHIN_CRIU_IMAGE_H
#define ZANSHIN_CRIU_IMAGE_H
#include <stdbool.h>
#include <stdint.h>
#include "zanshin/error.h"

struct zs_image_info {
	char *image_id;	       /* inventory image_id; NULL for images of a stock CRIU */
	char *parent_image_id; /* NULL when the image is full */
	char *parent_link;     /* target of the `parent` symlink, NULL if none */
	uint32_t img_version;  /* inventory img_version */
	uint64_t pages;	       /* pages stored in this directory (PE_PRESENT) */
	uint64_t parent_pages; /* pages this directory takes from its parent (PE_PARENT) */
	uint64_t lazy_pages;   /* PE_LAZY pages (served by a page server) */
	uint64_t bytes;	       /* total size of the regular files */
	unsigned n_pagemaps;   /* pagemap-*.img files */
};

/* Read DIR's inventory and pagemaps.  A missing inventory.img, a bad magic
 * or a truncated entry is an error naming the file. */
int zs_image_info(const char *dir, struct zs_image_info *info, zs_error_t *err);
void zs_image_info_free(struct zs_image_info *info);

/* Check DIR and every image of its `parent` chain before it is given to
 * CRIU: only regular files (and directories, and the `parent` symlink),
 * inventory present with a known magic and img_version, every *.img file
 * starts with a CRIU magic, pages-*.img sizes match their pagemaps, each
 * parent's image_id is its child's parent_image_id.  Files are opened
 * without following symlinks or blocking, read with a size limit, and
 * errors name the file, never its content. */
int zs_image_check(const char *dir, zs_error_t *err);
/* The same for a generation of the store, which may be a pre-dump (a
 * pre-copy round: only ever the parent of a checkpoint, never restored). */
int zs_image_check_stored(const char *dir, zs_error_t *err);
/* The same on the directory AT (DIR names it; AT < 0: DIR is opened), the
 * one CRIU will get: nothing can swap it between check and use.
 * DANGLING_OK: a `parent` link to nothing ends the chain (a restore whose
 * parent the remnant store provides). */
int zs_image_check_at(int at, const char *dir, bool dangling_ok, zs_error_t *err);

struct zs_flatten_stats {
	uint64_t pages;	    /* pages written to OUT */
	uint64_t bytes;	    /* bytes written to OUT (all files) */
	unsigned chain_len; /* images walked (1 = LEAF was already full) */
};

/* Write into OUT (created 0700, must not exist) a full image equal in
 * memory to LEAF restored through its `parent` chain: every PE_PARENT page
 * is fetched from the nearest ancestor holding it, the other files are
 * copied from LEAF, OUT has no `parent` link, and its inventory keeps
 * LEAF's image_id and drops parent_image_id.  Every file and OUT are
 * fsync'ed; the caller renames OUT into place.  On error OUT is removed. */
int zs_image_flatten(const char *leaf, const char *out, struct zs_flatten_stats *st, zs_error_t *err);

/* The digest of one file (sha256-4k, zanshin/digest.h), reported by
 * zs_image_flatten_hashed(). */
struct zs_flatten_digest {
	const char *dir;  /* OUT, or the source level as named in errors (LEAF/parent/...) */
	const char *name; /* file name in DIR */
	unsigned level;	  /* source: 0 = LEAF, 1 = its parent...; output: 0 */
	bool source;	  /* a whole source file read from its image, else a file of OUT */
	bool read_back;	  /* output: after fsync, OUT's file was read back and compared byte
			   * for byte with the source bytes the digest was computed over */
	uint64_t size;	  /* bytes hashed */
	unsigned char digest[32];
};
/* Called once per digest; a return < 0 (with *err set) fails the flatten. */
typedef int (*zs_flatten_digest_cb)(void *arg, const struct zs_flatten_digest *d, zs_error_t *err);

/* zs_image_flatten(), and the digest of every file written to OUT computed
 * as it is written (no second pass).  The pages files are copied from the
 * mapped source images while every page of each source pages file is
 * hashed (source digests, for a caller to check against its own records;
 * the output pages file's digest is made of the same page digests);
 * after fsync each output pages file is read back (posix_fadvise DONTNEED
 * first, so a disk-backed file system reads the disk) and compared with the
 * source bytes.  A mismatch there fails the flatten. */
int zs_image_flatten_hashed(const char *leaf, const char *out, struct zs_flatten_stats *st, zs_flatten_digest_cb cb,
			    void *arg, zs_error_t *err);

/* zs_image_flatten() into a temporary sibling of OUT (".NAME.flatten-PID"),
 * then renamed to OUT (which must not exist) and the parent directory
 * fsync'ed: OUT appears only complete, even if the process is killed. */
int zs_image_flatten_to(const char *leaf, const char *out, struct zs_flatten_stats *st, zs_error_t *err);

/* ---- the tasks of an image (lib/criu_image_tasks.c) ---- */

enum { ZS_IMG_CAP_INH, ZS_IMG_CAP_PRM, ZS_IMG_CAP_EFF, ZS_IMG_CAP_BND, ZS_IMG_CAP_AMB, ZS_IMG_CAP_SETS };
/* uid, gid, euid, egid, suid, sgid, fsuid, fsgid: creds_entry fields 1-8 */
enum { ZS_IMG_UID, ZS_IMG_GID, ZS_IMG_EUID, ZS_IMG_EGID, ZS_IMG_SUID, ZS_IMG_SGID, ZS_IMG_FSUID, ZS_IMG_FSGID };

struct zs_image_creds { /* thread_core.creds */
	uint32_t ids[8];
	unsigned ids_seen;
	uint64_t caps[ZS_IMG_CAP_SETS]; /* bitmasks of CAP_* numbers */
	bool caps_high;			/* a capability above 63 */
	uint32_t secbits;
	uint32_t *groups;
	size_t n_groups;
	bool no_new_privs;
};

/* pid, net, ipc, uts, mnt, user, cgroup, time: task_kobj_ids_entry 5-12 */
enum {
	ZS_IMG_NS_PID,
	ZS_IMG_NS_NET,
	ZS_IMG_NS_IPC,
	ZS_IMG_NS_UTS,
	ZS_IMG_NS_MNT,
	ZS_IMG_NS_USER,
	ZS_IMG_NS_CGROUP,
	ZS_IMG_NS_TIME,
	ZS_IMG_NS_KINDS
};
struct zs_img_ns_ids {
	bool present;
	unsigned has; /* bit per ZS_IMG_NS_* */
	uint32_t id[ZS_IMG_NS_KINDS];
};

struct zs_image_thread {
	uint32_t pid, tid; /* tid == pid: the task's leader (its core has tc and ids) */
	char file[32];	   /* core-<tid>.img */
	char ns_file[48];  /* where ns came from: "ids-<pid>.img: " or "core-<pid>.img: ids." */
	bool has_creds;
	struct zs_image_creds creds;
	bool has_seccomp_mode, has_seccomp_filter;
	uint32_t seccomp_mode; /* 0 disabled, 1 strict, 2 filter */
	uint32_t seccomp_filter;
	struct zs_img_ns_ids ns; /* leaders: ids-<pid>.img, else core_entry.ids */
	uint32_t task_state;	 /* leaders: tc.task_state (1 alive, 2 dead: a zombie, 3 stopped) */
};

struct zs_image_filter { /* seccomp.img */
	uint8_t *bpf;	 /* struct sock_filter[] */
	size_t len;	 /* bytes */
	long prev;	 /* index of the filter installed before it, -1 none */
	uint32_t flags;	 /* SECCOMP_FILTER_FLAG_* it is installed with (TSYNC: 1) */
};

struct zs_image_extent { /* userns-*.img uid_gid_extent */
	uint32_t first, lower_first, count;
};

struct zs_image_tasks {
	struct zs_img_ns_ids root_ids; /* inventory root_ids: the dumping CRIU's namespaces */
	struct zs_image_thread *threads;
	size_t n;
	struct zs_image_filter *filters;
	size_t n_filters;
	bool has_userns;      /* the root task's userns-<id>.img was read */
	char userns_file[48]; /* its name */
	struct zs_image_extent *uid_map, *gid_map;
	size_t n_uid_map, n_gid_map;
};

/* Every thread of pstree.img with its core-<tid>.img, inventory root_ids
 * and seccomp.img of the directory AT (DIR names it; AT < 0: DIR is opened),
 * read with zs_image_check()'s care (no symlinks, no
 * FIFOs, bounded reads).  An error names the file and the message. */
int zs_image_tasks_read(int at, const char *dir, struct zs_image_tasks *ts, zs_error_t *err);
void zs_image_tasks_free(struct zs_image_tasks *ts);

struct zs_config;
/* What the image would restore against what CONFIG (FILE names it:
 * "config.json") allows: every thread's credentials, capabilities,
 * no_new_privs and seccomp filter, and the namespaces the root task gets
 * (lib/criu_image_policy.c; docs/security-images.md has the rules).
 * 0, or an error naming the image file, the field and the config field. */
int zs_image_check_config(int at, const char *dir, const struct zs_config *cfg, const char *file, zs_error_t *err);

/* CRIU's logs and statistics in an image directory (dump.log, restore.log,
 * any *.log, stats-dump, stats-restore): CRIU rewrites them in place on its
 * next run there; not needed to restore, not part of an image. */
/* The runtime's mark of a finished dump in the directory CRIU dumped into
 * (lib/remnant_orphan.c): bookkeeping, never part of an image. */
#define ZS_DUMP_MARK ".zanshin-dumped"
bool zs_image_log_file(const char *name);

#endif
