/* zanshin — the manifest of an image directory written outside the remnant
 * store (--image-path, `image flatten`): the store's manifest.json
 * (format, version 2, "sha256-4k" digest and size of every file, the
 * `parent` link) with lineage.json (the image's lineage ids), plus
 * manifest.blocks, the SHA-256 of every 4 KiB block of every file listed,
 * so that a mismatch names the file and the block.
 *
 * manifest.blocks: the 16 bytes "zanshin-blocks1\n", then, for each entry
 * of manifest.json's files[] in order (but manifest.blocks itself), the
 * 32-byte SHA-256 of each of its 4096-byte blocks.  It is listed in
 * files[] with its own digest (as trusted as manifest.json), and named by
 * manifest.json's "blocks" (the store's manifests have no such key). */
#ifndef ZANSHIN_IMAGE_MANIFEST_H
#define ZANSHIN_IMAGE_MANIFEST_H
#include <stdbool.h>
#include <stdint.h>
#include "zanshin/error.h"

#define ZS_IMAGE_MANIFEST "manifest.json"
#define ZS_IMAGE_LINEAGE "lineage.json"
#define ZS_IMAGE_BLOCKS "manifest.blocks"

/* manifest.json, lineage.json, manifest.blocks: what the manifest adds to
 * an image directory (never copied from one image to another). */
bool zs_image_manifest_file(const char *name);

/* Write DIR's manifest (CONTAINER: the id recorded in lineage.json), every
 * image file fsync'ed first.  An image without an image id (a stock CRIU's)
 * gets none: 0 either way. */
int zs_image_manifest_write(const char *dir, const char *container, zs_error_t *err);

/* Verify DIR against its manifest: 1 verified, 0 DIR has no manifest.json,
 * < 0 a mismatch (naming the file, and the 4 KiB block when
 * manifest.blocks is there), a missing or extra image file, a parent link
 * other than recorded, ids that differ from the inventory's. */
int zs_image_manifest_verify(const char *dir, zs_error_t *err);
/* The same on THREADS hashing threads (0: every usable core). */
int zs_image_manifest_verify_threads(const char *dir, unsigned threads, zs_error_t *err);

/* A file the caller verifies itself (a lazy restore's pages images: block
 * by block as they are served): NAME of DIR, open as FD (fstat in *ST,
 * its size already checked), DIGESTS its NBLOCKS block digests from
 * manifest.blocks (already checked against its digest in manifest.json;
 * valid during the call).  1: taken, 0: verify it whole, < 0: an error. */
struct stat;
typedef int (*zs_manifest_defer_fn)(void *arg, const char *dir, const char *name, int fd, const struct stat *st,
				    const uint8_t *digests, uint64_t nblocks, zs_error_t *err);
/* zs_image_manifest_verify() where DEFER may take files; only a manifest
 * with manifest.blocks calls it. */
int zs_image_manifest_verify_deferred(const char *dir, zs_manifest_defer_fn defer, void *arg, zs_error_t *err);
/* DIR has a manifest.json (not checked). */
bool zs_image_has_manifest(const char *dir);
/* DIR has a manifest with manifest.blocks (one whose files can be checked
 * block by block). */
int zs_image_manifest_has_blocks(const char *dir);

/* zs_image_manifest_verify() of DIR and each parent: *VERIFIED of them had
 * a manifest, *WITHOUT none. */
int zs_image_manifest_verify_chain(const char *dir, unsigned *verified, unsigned *without, zs_error_t *err);

/* DIR and the images its `parent` links lead to (as CRIU follows them):
 * the directories, DIR first, NULL-terminated; *N their count. */
char **zs_image_chain_dirs(const char *dir, size_t *n);

#endif
