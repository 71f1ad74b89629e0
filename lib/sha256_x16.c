/* zanshin — SHA-256 of sixteen 4096-byte blocks at once, with AVX-512
 * (FIPS 180-4, section 6.2; written for zanshin, not derived from another
 * implementation).
 *
 * The sha256-4k digest (zanshin/digest.h) hashes every 4096-byte block of
 * a file on its own: independent messages of one length, the case for
 * "multi-buffer" hashing.  Each 32-bit lane of a 512-bit register carries
 * one message: the 64 rounds run once for sixteen blocks, with a rotate
 * and ternary-logic instruction per step.  On this project's machines
 * (Xeon with SHA-NI and AVX-512) it hashes ~2x faster per core than the
 * SHA-NI code of gnutls/nettle, which hashes one message at a time.
 * lib/digest.c uses it when the CPU has AVX-512F and AVX-512BW (checked at
 * run time; else gnutls does all), and tests/unit/digest_test.c checks it
 * against gnutls. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "digest_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

#define AVX512 __attribute__((target("avx512f,avx512bw")))
#define ROR(x, n) _mm512_ror_epi32(x, n)
#define XOR3(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0x96)
#define CH(e, f, g) _mm512_ternarylogic_epi32(e, f, g, 0xca)  /* e ? f : g */
#define MAJ(a, b, c) _mm512_ternarylogic_epi32(a, b, c, 0xe8) /* majority */
#define ADD(a, b) _mm512_add_epi32(a, b)

/* One compression of the sixteen lanes' state S with their message block
 * W (sixteen words each, in host order; W is overwritten). */
AVX512 static inline void compress(__m512i s[8], __m512i w[16])
{
	__m512i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
	int t;

#pragma GCC unroll 64
	for (t = 0; t < 64; t++) {
		__m512i wt, t1, t2;

		if (t < 16) {
			wt = w[t];
		} else {
			__m512i w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
			__m512i s0 = XOR3(ROR(w15, 7), ROR(w15, 18), _mm512_srli_epi32(w15, 3));
			__m512i s1 = XOR3(ROR(w2, 17), ROR(w2, 19), _mm512_srli_epi32(w2, 10));

			wt = ADD(ADD(w[t & 15], s0), ADD(w[(t - 7) & 15], s1));
			w[t & 15] = wt;
		}
		t1 = ADD(ADD(h, XOR3(ROR(e, 6), ROR(e, 11), ROR(e, 25))),
			 ADD(CH(e, f, g), ADD(wt, _mm512_set1_epi32((int) K[t]))));
		t2 = ADD(XOR3(ROR(a, 2), ROR(a, 13), ROR(a, 22)), MAJ(a, b, c));
		h = g, g = f, f = e, e = ADD(d, t1);
		d = c, c = b, b = a, a = ADD(t1, t2);
	}
	s[0] = ADD(s[0], a), s[1] = ADD(s[1], b), s[2] = ADD(s[2], c), s[3] = ADD(s[3], d);
	s[4] = ADD(s[4], e), s[5] = ADD(s[5], f), s[6] = ADD(s[6], g), s[7] = ADD(s[7], h);
}

AVX512 static void x16(const uint8_t *p, uint8_t *out)
{
	/* big-endian words: byte swap within each 32-bit lane */
	const __m512i bswap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
	/* lane i reads block i: ZS_DIGEST_BLOCK bytes apart */
	const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
					       _mm512_set1_epi32((int) ZS_DIGEST_BLOCK));
	uint32_t st[8][16];
	__m512i s[8], w[16];
	int i, j, l;

	for (i = 0; i < 8; i++)
		s[i] = _mm512_set1_epi32((int) H0[i]);
	for (i = 0; i < (int) ZS_DIGEST_BLOCK / 64; i++) {
		const uint8_t *b = p + 64 * i;

		for (j = 0; j < 16; j++)
			w[j] = _mm512_shuffle_epi8(_mm512_i32gather_epi32(idx, (const void *) (b + 4 * j), 1), bswap);
		compress(s, w);
	}
	/* the padding block, the same for every lane: 0x80, zeros, the length
	 * in bits */
	for (j = 0; j < 16; j++)
		w[j] = _mm512_setzero_si512();
	w[0] = _mm512_set1_epi32((int) 0x80000000u);
	w[15] = _mm512_set1_epi32((int) (ZS_DIGEST_BLOCK * 8));
	compress(s, w);
	for (i = 0; i < 8; i++)
		_mm512_storeu_si512((void *) st[i], _mm512_shuffle_epi8(s[i], bswap));
	for (l = 0; l < 16; l++)
		for (i = 0; i < 8; i++)
			memcpy(out + 32 * l + 4 * i, &st[i][l], 4);
}

bool zs_sha256_x16_usable(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

void zs_sha256_x16(const uint8_t *p, uint8_t *out)
{
	x16(p, out);
}

#else

bool zs_sha256_x16_usable(void)
{
	return false;
}

void zs_sha256_x16(const uint8_t *p, uint8_t *out)
{
	(void) p;
	(void) out;
}

#endif
