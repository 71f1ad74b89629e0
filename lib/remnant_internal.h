/* zanshin — internals of the remnant store (lib/remnant*.c). */
#ifndef ZANSHIN_REMNANT_INTERNAL_H
#define ZANSHIN_REMNANT_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <time.h>
#include "zanshin/error.h"
#include "zanshin/remnant.h"
#include "zanshin/settings.h"

#define ZS_MANIFEST_FORMAT "zanshin-manifest"
#define ZS_LINEAGE_FORMAT "zanshin-lineage"
#define ZS_BUNDLE_FORMAT "zanshin-bundle"
#define ZS_REMNANT_VERSION 1 /* lineage.json, bundle.json */
/* manifest.json: 2 = sha256-4k digests (include/zanshin/digest.h); 1, plain
 * SHA-256 of each file, is still read and verified */
#define ZS_MANIFEST_VERSION 2
#define ZS_TMP_PREFIX ".tmp-"
#define ZS_IMAGE_CHAIN_LIMIT 64

struct zs_remnant {
	char *root;
	struct zs_settings settings;
};

/* Now, UTC, RFC 3339 to the second (created, saved). */
char *zs_rem_now(void);
/* ROOT/containers/ID and ROOT/containers/ID/generations. */
char *zs_rem_container_dir(struct zs_remnant *r, const char *id);
char *zs_rem_gens_dir(struct zs_remnant *r, const char *id);
/* Exclusive lock of ID's directory (created), held until *FD is closed. */
int zs_rem_lock(struct zs_remnant *r, const char *id, int *fd, zs_error_t *err);
/* Every generation of ID, in creation order (sequence number). */
int zs_rem_list(struct zs_remnant *r, const char *id, struct zs_remnant_gen ***gens, size_t *n, zs_error_t *err);
void zs_rem_gens_free(struct zs_remnant_gen **gens, size_t n);
unsigned zs_rem_seq(const char *name);
time_t zs_rem_created(const struct zs_remnant_gen *g);
/* Make TMP (in ID's generations/) a generation; no lock, no merge. */
int zs_rem_commit_locked(struct zs_remnant *r, const char *id, const char *tmp, const char *merged_from,
			 struct zs_remnant_gen **gen, zs_error_t *err);
int zs_rem_merge_locked(struct zs_remnant *r, const char *id, const struct zs_remnant_gen *g,
			struct zs_remnant_gen **out, zs_error_t *err);
/* Remove a generation: renamed to .tmp-* first (gone at once), then deleted. */
int zs_rem_retire(struct zs_remnant *r, const char *id, const char *name, zs_error_t *err);
int zs_rem_fsync_path(const char *path, zs_error_t *err);
/* lib/remnant_orphan.c: commit TMP when it holds a finished dump whose
 * runtime was killed (this boot); *KEEP: do not remove TMP. Under ID's lock. */
int zs_rem_recover_dump(struct zs_remnant *r, const char *id, const char *tmp, bool *keep, zs_error_t *err);

/* lib/remnant_manifest.c */
/* Hash (and fsync) every entry of DIR but manifest.json, write manifest.json. */
int zs_rem_write_manifest(const char *dir, const char *image_id, zs_error_t *err);
/* DIR against its manifest.json and lineage.json; 0 or an error naming the file. */
int zs_rem_verify_dir(const char *dir, zs_error_t *err);
int zs_rem_write_lineage(const char *dir, const struct zs_remnant_gen *g, const char *merged_from, zs_error_t *err);
int zs_rem_read_lineage(const char *dir, struct zs_remnant_gen *g, zs_error_t *err);
/* Files CRIU writes into an image directory on restore: not part of it. */
bool zs_rem_ignored_file(const char *name);
/* As zs_rem_verify_dir(), but the files for which DEFER is true are only
 * checked present with the manifest's size, not hashed (the caller hashes
 * them in another pass: the merge, while flattening). */
int zs_rem_verify_dir_defer(const char *dir, bool (*defer)(const char *name), zs_error_t *err);
/* The second half: the files for which DEFER is true are hashed, the
 * others only checked present with the manifest's size. */
int zs_rem_verify_dir_deferred(const char *dir, bool (*defer)(const char *name), zs_error_t *err);

/* Known digests: the sha256-4k digest of a file's content established by the caller in
 * this process from the bytes on disk (the merge: source pages files hashed
 * whole while flattening; output files hashed as written, pages files read
 * back after fsync and compared byte for byte with the hashed source).
 * zs_rem_write_manifest() takes a known digest instead of reading the file
 * again, and so does zs_rem_verify_dir() when ON_DISK is set (the digest
 * was of what is on disk, not only of what was written) — each only while
 * the file is the one recorded: same device, inode, size, mtime and ctime.
 * The record is taken at zs_rem_known_add() (a stat of DIR/NAME). */
void zs_rem_known_add(const char *dir, const char *name, const unsigned char digest[32], uint64_t size, bool on_disk);
void zs_rem_known_clear(void);

/* Index in GENS (of container ID) of generation WHICH: a generation name,
 * an image id, or a unique prefix of a name, of its hex part (as `remnant
 * list` shows it) or of an image id; matches of one image id resolve as
 * that id (full preferred, else newest).  WHICH NULL: the newest.  An
 * ambiguous prefix is an error listing the candidates. */
int zs_rem_pick(struct zs_remnant_gen **gens, size_t n, const char *id, const char *which, size_t *out,
		zs_error_t *err);

/* The generation named NAME in GENS, or NULL (NAME NULL: NULL). */
struct zs_remnant_gen *zs_rem_by_name(struct zs_remnant_gen **gens, size_t n, const char *name);

/* lib/remnant_pin.c */
/* Index in GENS of the generation a checkpoint takes as baseline IMAGE_ID
 * (the full one, else the newest diff: zs_remnant_find's choice), or -1. */
ssize_t zs_rem_baseline_index(struct zs_remnant_gen **gens, size_t n, const char *image_id);
/* Set MARK[j] for GENS[I] and every ancestor of it. */
void zs_rem_mark_chain(struct zs_remnant_gen **gens, size_t n, size_t i, bool *mark);
/* *MARKS (n entries, free()): the generations of ID that a live pin needs
 * (each pin's baseline and its chain); stale pins are removed. */
int zs_rem_pinned_marks(struct zs_remnant *r, const char *id, struct zs_remnant_gen **gens, size_t n, bool **marks,
			zs_error_t *err);

/* lib/remnant_copy.c */
/* CRIU's logs and statistics (dump.log, restore.log, any *.log,
 * stats-dump, stats-restore): rewritten in place by CRIU's next run, not
 * needed to restore; never part of a generation or its manifest (older
 * manifests that list them are tolerated). */
bool zs_rem_criu_log_file(const char *name);
/* DFD/NAME opened once (O_RDONLY | O_NOFOLLOW | O_NONBLOCK), *ST from the
 * opened fd; a regular file or an error (a symlink, a FIFO, a device...).
 * Returns the fd. */
int zs_rem_open_regular(int dfd, const char *name, const char *path, struct stat *st, zs_error_t *err);
/* IN's data into OUT: FICLONE, else copy_file_range, else read/write. */
int zs_rem_copy_fd(int in, int out, const char *path, zs_error_t *err);
/* SFD/NAME (zs_rem_open_regular) copied into a new DFD/NAME of MODE;
 * *ST (may be NULL): the source as opened. */
int zs_rem_copy_file_at(int sfd, const char *name, const char *path, int dfd, mode_t mode, struct stat *st,
			zs_error_t *err);

#endif
