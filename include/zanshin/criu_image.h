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

/* Check DIR before it is given to CRIU: inventory present with a known
 * magic and img_version, every *.img file starts with a CRIU magic,
 * pages-*.img sizes match their pagemaps.  0 or an error naming the file. */
int zs_image_check(const char *dir, zs_error_t *err);

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

/* CRIU's logs and statistics in an image directory (dump.log, restore.log,
 * any *.log, stats-dump, stats-restore): CRIU rewrites them in place on its
 * next run there; not needed to restore, not part of an image. */
bool zs_image_log_file(const char *name);

#endif
