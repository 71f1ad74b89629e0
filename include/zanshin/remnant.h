/* zanshin — the per-node remnant store (DESIGN.md "Remnant store").
 *
 *   ROOT (default /var/lib/zanshin, --remnant-root, 0700)
 *     containers/ID/bundle/            config.json (+ rootfs/ when kept)
 *     containers/ID/bundle.json        what was kept of the bundle, and from where
 *     containers/ID/generations/NAME/  CRIU images + manifest.json + lineage.json
 *     containers/ID/generations/.tmp-* generations being written (ignored, collected)
 *     containers/ID/pins/PID-START.json  live containers' baselines (zs_remnant_pin)
 *
 * A generation appears only when complete (temp dir, fsync, rename, fsync
 * parent).  A diff's `parent` link is relative (../NAME).  manifest.json
 * ("zanshin-manifest" v2) lists every file with size and sha256-4k digest
 * (zanshin/digest.h; v1, a plain SHA-256 per file, is still read);
 * lineage.json ("zanshin-lineage" v1) has image id, parent id, parent
 * generation, created, node, kind (full|diff), pages and bytes. */
#ifndef ZANSHIN_REMNANT_H
#define ZANSHIN_REMNANT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "zanshin/error.h"

#define ZS_REMNANT_DEFAULT_ROOT "/var/lib/zanshin"

struct zs_remnant;

struct zs_remnant_gen {
	char *container; /* container id */
	char *name;	 /* directory name under generations/ */
	char *path;	 /* absolute path of the generation */
	char *image_id;
	char *parent_image_id; /* NULL for a full generation */
	char *parent;	       /* parent generation name, NULL for full */
	char *created;	       /* RFC 3339 */
	char *node;	       /* hostname that wrote it */
	bool diff;
	unsigned chain_len; /* 1 for a full generation */
	uint64_t pages, bytes;
};
void zs_remnant_gen_free(struct zs_remnant_gen *g);

/* Open (create with 0700 if missing) the store at ROOT. */
int zs_remnant_open(const char *root, struct zs_remnant **out, zs_error_t *err);
void zs_remnant_close(struct zs_remnant *r);

/* A temp directory (0700) in ID's generations/ for CRIU to dump into. */
int zs_remnant_gen_begin(struct zs_remnant *r, const char *id, char **tmp_dir, zs_error_t *err);
/* Make TMP_DIR a generation: read its lineage (zs_image_info), find the
 * parent generation by parent image id (its `parent` link must point at
 * it), write manifest.json and lineage.json, fsync, rename into place,
 * fsync the parent directory.  Then merge automatically when the chain is
 * longer than the configured maximum.  *GEN (may be NULL) gets the result. */
int zs_remnant_gen_commit(struct zs_remnant *r, const char *id, const char *tmp_dir, struct zs_remnant_gen **gen,
			  zs_error_t *err);
void zs_remnant_gen_abort(struct zs_remnant *r, const char *tmp_dir);
/* Mark a temporary generation CRIU has finished dumping into (before its
 * processes are killed), so that gc keeps it as a generation when the
 * runtime dies before committing it; unmark before a commit. */
int zs_remnant_dump_mark(const char *tmp_dir, const char *container, zs_error_t *err);
void zs_remnant_dump_unmark(const char *tmp_dir);
/* 1: DIR holds a finished dump whose writer is dead, on this boot
 * (*CONTAINER, when not NULL, gets the container id it names, if any);
 * 0: no mark, or its writer lives; -1: a mark from another boot or one
 * that cannot be read (keep DIR, never use it as complete). */
int zs_remnant_dump_orphaned(const char *dir, char **container);

/* Keep a copy of an image directory written elsewhere as a generation of
 * ID (each file opened once, never through a symlink, a regular file, its
 * data copied: FICLONE, copy_file_range or read/write; CRIU's logs and
 * stats left out), unless one
 * with the same image id is already stored (then *GEN is that one).  A diff
 * is kept only if its parent generation is in the store (else -ENOENT). */
int zs_remnant_import(struct zs_remnant *r, const char *id, const char *src_dir, struct zs_remnant_gen **gen,
		      zs_error_t *err);

/* The generation whose image id is IMAGE_ID, in container ID (or any
 * container when ID is NULL).  Returns 1 and fills *GEN when found, 0 when
 * not found, < 0 on error. */
int zs_remnant_find(struct zs_remnant *r, const char *id, const char *image_id, struct zs_remnant_gen **gen,
		    zs_error_t *err);

/* Check every file of a generation and of its ancestors against their
 * manifests.  0 or an error naming the first file that differs. */
int zs_remnant_verify(struct zs_remnant *r, const struct zs_remnant_gen *g, zs_error_t *err);
/* The same without hashing: every file of G and of its ancestors present
 * with its manifest's size, nothing extra, records readable (what a
 * checkpoint checks of its baseline before the container is stopped). */
int zs_remnant_check(struct zs_remnant *r, const struct zs_remnant_gen *g, zs_error_t *err);

/* Flatten generation G (and its chain) into OUT_DIR (must not exist):
 * a full image restorable on its own. */
int zs_remnant_export(struct zs_remnant *r, const struct zs_remnant_gen *g, const char *out_dir, zs_error_t *err);

/* Bundle: keep BUNDLE_DIR/config.json and ROOTFS (a copy, own inodes, when on
 * the same filesystem and ROOTFS is not a mount point, else recorded as
 * not kept).  *PATH gets the stored bundle directory (config.json whose
 * root.path points at the kept rootfs) or 0 when none is stored. */
int zs_remnant_save_bundle(struct zs_remnant *r, const char *id, const char *bundle_dir, const char *rootfs,
			   zs_error_t *err);
int zs_remnant_bundle(struct zs_remnant *r, const char *id, char **path, zs_error_t *err);

/* ---- additions ---- */
struct zs_settings;

/* Use these settings instead of those zs_remnant_open loaded (settings.h). */
void zs_remnant_set_settings(struct zs_remnant *r, const struct zs_settings *s);
const char *zs_remnant_root(struct zs_remnant *r);

/* Container ids with a directory in the store (NULL-terminated, sorted;
 * free with zs_free_string_array). */
int zs_remnant_containers(struct zs_remnant *r, char ***ids, size_t *n, zs_error_t *err);
/* Does the store have a directory for ID? */
bool zs_remnant_exists(struct zs_remnant *r, const char *id);
/* Every generation of ID in creation order (chain_len filled). */
int zs_remnant_list(struct zs_remnant *r, const char *id, struct zs_remnant_gen ***gens, size_t *n, zs_error_t *err);
void zs_remnant_gens_free(struct zs_remnant_gen **gens, size_t n);
/* Generation WHICH of ID: a generation name or an image id (the full
 * generation preferred), or a unique prefix of a name, of the hex part of a
 * name (as `remnant list` shows it) or of an image id; the newest one when
 * WHICH is NULL.  -ENOENT when there is none (also when the store has no
 * remnant of ID), -EINVAL for an ambiguous prefix (the error lists the
 * candidates). */
int zs_remnant_get(struct zs_remnant *r, const char *id, const char *which, struct zs_remnant_gen **gen,
		   zs_error_t *err);

/* Flatten the chain ending at GEN into a new full generation (same image
 * id, no parent, named to sort after the chain), verify it against its
 * manifest, rename it into place, then retire the generations of the chain
 * that no other kept generation depends on and no live pin needs.  An interruption at any point
 * leaves the old chain intact (the temporary directory is collected by gc).
 * -EINVAL when GEN is already full. */
int zs_remnant_merge(struct zs_remnant *r, const char *id, const struct zs_remnant_gen *gen,
		     struct zs_remnant_gen **newgen, zs_error_t *err);

/* Retention: .tmp-* older than remnant.tmp_grace; generations older than
 * remnant.max_age; then, while the store holds more than remnant.max_bytes,
 * the least useful generation (a diff also stored merged, then the oldest).
 * Never the newest generation of a container, a live pin's baseline or its
 * chain (zs_remnant_pin), nor one a kept generation depends on.  Stale
 * pins are removed. */
struct zs_remnant_gc_opts {
	bool dry_run; /* report only */
	time_t now;   /* 0: time(NULL) */
};
struct zs_remnant_gc_item {
	char *container;
	char *name; /* generation or temporary directory */
	char *reason;
	uint64_t bytes;
};
int zs_remnant_gc(struct zs_remnant *r, const struct zs_remnant_gc_opts *o, struct zs_remnant_gc_item **items,
		  size_t *n_items, zs_error_t *err);
void zs_remnant_gc_items_free(struct zs_remnant_gc_item *items, size_t n);

/* What zs_remnant_save_bundle kept (bundle.json, "zanshin-bundle" v1). */
struct zs_remnant_bundle_info {
	char *source;	     /* bundle directory it was saved from */
	char *rootfs_source; /* rootfs it was saved from */
	bool rootfs_kept;
	char *reason; /* why not kept, NULL when kept */
	uint64_t rootfs_bytes;
	char *saved; /* RFC 3339 */
};
int zs_remnant_bundle_info(struct zs_remnant *r, const char *id, struct zs_remnant_bundle_info *info, zs_error_t *err);
void zs_remnant_bundle_info_free(struct zs_remnant_bundle_info *info);

/* Keeping work done in the background by checkpoint/restore (lib/cr_store.c)
 * holds a shared lock on ROOT/.keeping: an fd holding it (EXCLUSIVE: wait
 * for all of them), and a wait until every one of them has finished. */
int zs_remnant_keeping_fd(struct zs_remnant *r, bool exclusive, zs_error_t *err);
void zs_remnant_settle(struct zs_remnant *r);

/* Pins (lib/remnant_pin.c): ROOT/containers/ID/pins/PID-START.json
 * ("zanshin-pin" v1), written atomically, records that the container whose
 * init is PID (with its start time, /proc/PID/stat field 22) tracks memory
 * from IMAGE_ID.  While that process exists, gc, merge and rm keep the
 * generation a checkpoint would take as that baseline and its whole chain.
 * A pin whose process is gone is stale: ignored and removed.  R or
 * IMAGE_ID NULL: nothing to do. */
int zs_remnant_pin(struct zs_remnant *r, const char *id, const char *image_id, pid_t pid, zs_error_t *err);
/* Image ids of ID's live pins (NULL-terminated, zs_free_string_array). */
int zs_remnant_pinned(struct zs_remnant *r, const char *id, char ***image_ids, size_t *n, zs_error_t *err);

/* Remove ID's whole remnant (GEN NULL) or generation GEN (lib/remnant_rm.c).
 * Refused, naming them, when generations depend on GEN and !O->dependents;
 * refused when what goes includes a live pin's baseline and !O->force.
 * *REPORT (may be NULL) gets what was removed, and with --force what it
 * costs ("the next checkpoint of ID will be full, about N MB"). */
struct zs_remnant_rm_opts {
	bool force;	 /* also a live container's baseline */
	bool dependents; /* also the generations that depend on GEN */
};
int zs_remnant_rm(struct zs_remnant *r, const char *id, const char *gen, const struct zs_remnant_rm_opts *o,
		  char **report, zs_error_t *err);

#endif
