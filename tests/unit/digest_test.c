/* Unit tests for lib/digest.c and lib/sha256_x16.c (TAP): the sha256-4k
 * digest against a reference built here from gnutls's SHA-256, for many
 * lengths, through every entry point (buffer, streaming in odd pieces, a
 * file), with the AVX-512 code on and off; and SHA-256 known answers. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gnutls/crypto.h>

#include "../../lib/digest_internal.h"
#include "zanshin/digest.h"
#include "zanshin/utils.h"

static int n, failed;

static void check(int ok, const char *name)
{
	n++;
	if (!ok)
		failed++;
	printf("%sok %d - %s\n", ok ? "" : "not ", n, name);
}

/* the definition, one block at a time */
static void reference(const uint8_t *p, size_t len, uint8_t out[32])
{
	gnutls_hash_hd_t list;
	uint8_t b[32];
	size_t off;

	gnutls_hash_init(&list, GNUTLS_DIG_SHA256);
	for (off = 0; off < len; off += 4096) {
		gnutls_hash_fast(GNUTLS_DIG_SHA256, p + off, len - off < 4096 ? len - off : 4096, b);
		gnutls_hash(list, b, 32);
	}
	gnutls_hash_deinit(list, out);
}

static bool by_fd(const uint8_t *p, size_t len, uint8_t out[32])
{
	char path[] = "/tmp/zs-digest-test.XXXXXX";
	zs_error_t err = NULL;
	uint64_t size = 0;
	int fd = mkstemp(path), ret;

	if (fd < 0)
		return false;
	unlink(path);
	ret = write_all(fd, p, len) == 0 ? zs_digest_fd(fd, "test", out, &size, &err) : -1;
	close(fd);
	zs_error_release(&err);
	return ret == 0 && size == len;
}

static bool streamed(const uint8_t *p, size_t len, uint8_t out[32])
{
	zs_digest *d = zs_digest_new();
	size_t off = 0, step = 1;

	if (d == NULL)
		return false;
	while (off < len) { /* pieces of 1, 2, 4... 8191 bytes, across block edges */
		size_t k = len - off < step ? len - off : step;

		zs_digest_update(d, p + off, k);
		off += k;
		step = step * 2 + 1 > 8191 ? 1 : step * 2 + 1;
	}
	zs_digest_final(d, out);
	return true;
}

static void test_lengths(bool x16)
{
	static const size_t lens[] = {0,
				      1,
				      63,
				      64,
				      4095,
				      4096,
				      4097,
				      15 * 4096,
				      16 * 4096,
				      16 * 4096 + 1,
				      17 * 4096 - 3,
				      (1 << 20) - 1,
				      1 << 20,
				      (1 << 20) + 16 * 4096 + 7,
				      (3 << 20) + 12345};
	size_t max = (3 << 20) + 12345, i;
	uint8_t *buf = xmalloc(max), want[32], got[32];
	bool all_buf = true, all_blocks = true, all_stream = true, all_fd = true;
	char name[160];

	zs_digest_set_x16(x16);
	srandom(4096);
	for (i = 0; i < max; i++)
		buf[i] = (uint8_t) random();
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t len = lens[i];
		uint8_t *blk = xmalloc(zs_digest_nblocks(len) * 32 + 1), b1[32];

		reference(buf, len, want);
		all_buf &= zs_digest_buf(buf, len, got) == 0 && memcmp(got, want, 32) == 0;
		/* block digests: each is the SHA-256 of its block */
		if (zs_digest_blocks(buf, len, blk, 2) == 0 && len) {
			size_t last = zs_digest_nblocks(len) - 1;

			gnutls_hash_fast(GNUTLS_DIG_SHA256, buf + last * 4096, len - last * 4096, b1);
			all_blocks &= memcmp(blk + last * 32, b1, 32) == 0;
			gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, len < 4096 ? len : 4096, b1);
			all_blocks &= memcmp(blk, b1, 32) == 0;
		}
		all_stream &= streamed(buf, len, got) && memcmp(got, want, 32) == 0;
		all_fd &= by_fd(buf, len, got) && memcmp(got, want, 32) == 0;
		free(blk);
	}
	snprintf(name, sizeof(name), "%s: zs_digest_buf = the definition, 0 B to 3 MiB", x16 ? "x16" : "gnutls");
	check(all_buf, name);
	snprintf(name, sizeof(name), "%s: zs_digest_blocks: first and last block digests", x16 ? "x16" : "gnutls");
	check(all_blocks, name);
	snprintf(name, sizeof(name), "%s: streaming in odd pieces = the definition", x16 ? "x16" : "gnutls");
	check(all_stream, name);
	snprintf(name, sizeof(name), "%s: zs_digest_fd (threads) = the definition", x16 ? "x16" : "gnutls");
	check(all_fd, name);
	free(buf);
}

/* The AVX-512 code against gnutls block by block, on data that varies in
 * every lane, including all-zero and all-one blocks. */
static void test_x16(void)
{
	uint8_t *buf = xmalloc(64 * 4096), got[16 * 32], want[32];
	bool ok = true;
	int g, l;
	size_t i;

	if (!zs_sha256_x16_usable()) {
		printf("ok %d - # SKIP x16: this CPU has no AVX-512F/BW, gnutls does all\n", ++n);
		free(buf);
		return;
	}
	for (i = 0; i < 64 * 4096; i++)
		buf[i] = (uint8_t) (i * 2654435761u >> 13);
	memset(buf + 5 * 4096, 0, 4096);
	memset(buf + 6 * 4096, 0xff, 4096);
	for (g = 0; g < 4; g++) {
		zs_sha256_x16(buf + g * 16 * 4096, got);
		for (l = 0; l < 16; l++) {
			gnutls_hash_fast(GNUTLS_DIG_SHA256, buf + (g * 16 + l) * 4096, 4096, want);
			ok &= memcmp(got + l * 32, want, 32) == 0;
		}
	}
	check(ok, "x16: 64 blocks, each = gnutls SHA-256");
	free(buf);
}

/* FIPS 180-4 example: SHA-256("abc"); and the sha256-4k digest of an
 * empty file is SHA-256 of nothing. */
static void test_known(void)
{
	static const char abc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const char empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	uint8_t d[32], b[32];
	char hex[65];

	/* one block "abc": the digest is SHA-256(SHA-256("abc")) */
	gnutls_hash_fast(GNUTLS_DIG_SHA256, "abc", 3, b);
	zs_digest_hex(b, hex);
	check(strcmp(hex, abc) == 0, "SHA-256(\"abc\") known answer (gnutls, hex)");
	zs_digest_buf("abc", 3, d);
	gnutls_hash_fast(GNUTLS_DIG_SHA256, b, 32, b);
	check(memcmp(d, b, 32) == 0, "sha256-4k of \"abc\" = SHA-256(SHA-256(\"abc\"))");
	zs_digest_buf("", 0, d);
	zs_digest_hex(d, hex);
	check(strcmp(hex, empty) == 0, "sha256-4k of nothing = SHA-256 of nothing");
}

int main(void)
{
	test_known();
	test_x16();
	test_lengths(true);
	test_lengths(false);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
