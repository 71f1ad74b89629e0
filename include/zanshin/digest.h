/* zanshin — the remnant store's file digest, "sha256-4k".
 *
 * A file is cut into 4096-byte blocks (the last one may be shorter; an
 * empty file has none); each block is hashed with SHA-256, and the file's
 * digest is the SHA-256 of those block digests, concatenated in order (a
 * hash list: one level of a Merkle tree).  It is as hard to forge as
 * SHA-256 itself, and, unlike a plain SHA-256 of the file:
 *   - the blocks of one file hash on every core at once (verify, keep);
 *   - a checkpoint image's pages files are arrays of 4096-byte pages, so a
 *     merge, which copies pages from the chain it has just verified,
 *     knows the digest of every page it writes: the new generation's
 *     digest costs no second pass over the image (lib/criu_image_flatten.c).
 * With only the standard tools (one 4096-byte block per line of sha256sum):
 *   split -b 4096 --filter='sha256sum | cut -c1-64' FILE | tr a-f A-F |
 *       tr -d '\n' | basenc --base16 -d | sha256sum */
#ifndef ZANSHIN_DIGEST_H
#define ZANSHIN_DIGEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "zanshin/error.h"

#define ZS_DIGEST_NAME "sha256-4k"
#define ZS_DIGEST_BLOCK 4096u
#define ZS_DIGEST_LEN 32u

/* Streaming: whatever pieces the bytes come in. */
typedef struct zs_digest zs_digest;
zs_digest *zs_digest_new(void); /* NULL: SHA-256 not available */
void zs_digest_update(zs_digest *d, const void *p, size_t len);
/* The digest; frees D. */
void zs_digest_final(zs_digest *d, uint8_t out[ZS_DIGEST_LEN]);
void zs_digest_free(zs_digest *d);

/* Number of blocks of LEN bytes. */
static inline uint64_t zs_digest_nblocks(uint64_t len)
{
	return (len + ZS_DIGEST_BLOCK - 1) / ZS_DIGEST_BLOCK;
}
/* The block digests of P[0, LEN) into OUT (zs_digest_nblocks(LEN) * 32
 * bytes), on up to THREADS threads (0: zs_digest_threads()).  0, or -1 when
 * SHA-256 is not available. */
int zs_digest_blocks(const void *p, uint64_t len, uint8_t *out, unsigned threads);
/* The file digest from its N block digests. */
int zs_digest_of_blocks(const uint8_t *blocks, uint64_t n, uint8_t out[ZS_DIGEST_LEN]);
/* The digest of a buffer. */
int zs_digest_buf(const void *p, uint64_t len, uint8_t out[ZS_DIGEST_LEN]);
/* The digest of the open file FD (named WHAT in errors) from offset 0 to
 * its end, read on every usable core; *SIZE = bytes read. */
int zs_digest_fd(int fd, const char *what, uint8_t out[ZS_DIGEST_LEN], uint64_t *size, zs_error_t *err);
/* Cores this process may run on (sched_getaffinity), 1 to 8, or fewer
 * after zs_digest_set_max_threads(). */
unsigned zs_digest_threads(void);
/* At most N threads hash from now on (0: no limit); the store's background
 * work sets 1. */
void zs_digest_set_max_threads(unsigned n);
/* Lower-case hex of a digest: 64 characters and a NUL. */
void zs_digest_hex(const uint8_t d[ZS_DIGEST_LEN], char hex[2 * ZS_DIGEST_LEN + 1]);

#endif
