/* zanshin — internals of lib/digest.c and lib/sha256_x16.c. */
#ifndef ZANSHIN_DIGEST_INTERNAL_H
#define ZANSHIN_DIGEST_INTERNAL_H
#include <stdbool.h>
#include <stdint.h>
#include "zanshin/digest.h"

/* The CPU can run zs_sha256_x16() (AVX-512F and AVX-512BW). */
bool zs_sha256_x16_usable(void);
/* SHA-256 of each of the 16 consecutive ZS_DIGEST_BLOCK-byte blocks at P,
 * into OUT (16 x 32 bytes, in order).  Only where usable. */
void zs_sha256_x16(const uint8_t *p, uint8_t *out);
/* Tests: 0 = gnutls only, 1 = x16 where usable (the default). */
void zs_digest_set_x16(bool on);

#endif
