/* Unit tests for lib/zcompress.c (TAP): the chunk framing of file data on
 * zanshind's wire (raw, zstd, delta against a base), what a hostile peer
 * may send in a chunk (lengths that lie, a corrupted frame, a delta without
 * a base, an unknown kind), --compress parsing, and the level picker of
 * --compress auto on links of known speed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zanshin/utils.h"
#include "zanshin/zcompress.h"

#include "check.h"

static uint64_t rng = 88172645463325252ull;

static uint8_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t) rng;
}

/* Decode an encoded chunk (header + payload); 0 on success, else -1 and
 * *MSG the error. */
static int roundtrip(struct zs_zcodec *z, const uint8_t *wire, size_t wlen, uint64_t remaining, const void *base,
		     uint8_t *out, char **msg)
{
	struct zs_zchunk h;
	zs_error_t err = NULL;
	int r;

	*msg = NULL;
	r = zs_zchunk_parse(wire, remaining, &h, &err);
	if (r == 0 && ZS_ZCHUNK_HDR + h.wire_len != wlen)
		r = zs_make_error(&err, -1, "wire length %u of %zu", h.wire_len, wlen);
	if (r == 0)
		r = zs_zchunk_decode(z, &h, wire + ZS_ZCHUNK_HDR, base, out, &err);
	if (r < 0)
		*msg = xstrdup(zs_error_msg(err));
	zs_error_release(&err);
	return r;
}

static void test_chunks(void)
{
	struct zs_zcodec *z = zs_zcodec_new(), *rx = zs_zcodec_new();
	size_t len = ZS_ZCHUNK_MAX, wlen = 0, i;
	uint8_t *text = xmalloc(len), *noise = xmalloc(len), *out = xmalloc(len), *copy;
	const uint8_t *wire = NULL;
	zs_error_t err = NULL;
	char *msg = NULL;

	for (i = 0; i < len; i++) {
		text[i] = (uint8_t) "zanshin remnant store "[i % 22];
		noise[i] = rnd();
	}
	check(zs_zchunk_encode(z, text, len, 1, NULL, &wire, &wlen, &err) == 0 && wire[0] == ZS_ZZSTD &&
		  wlen < len / 20,
	      "compressible data becomes a zstd chunk, much smaller");
	check(roundtrip(rx, wire, wlen, len, NULL, out, &msg) == 0 && memcmp(out, text, len) == 0,
	      "the zstd chunk decodes to the same bytes");
	free(msg);
	check(zs_zchunk_encode(z, noise, len, 3, NULL, &wire, &wlen, &err) == 0 && wire[0] == ZS_ZRAW &&
		  wlen == len + ZS_ZCHUNK_HDR,
	      "incompressible data goes raw (compressed would not be smaller)");
	check(roundtrip(rx, wire, wlen, len, NULL, out, &msg) == 0 && memcmp(out, noise, len) == 0,
	      "a raw chunk decodes to the same bytes");
	free(msg);
	check(zs_zchunk_encode(z, text, 4096, 0, NULL, &wire, &wlen, &err) == 0 && wire[0] == ZS_ZRAW,
	      "level 0 sends raw");

	/* a page of noise with 1% of it changed: the delta is tiny */
	copy = xmalloc(len);
	memcpy(copy, noise, len);
	for (i = 0; i < len; i += 97 * 41)
		copy[i] ^= 0x5a;
	check(zs_zchunk_encode(z, copy, len, 1, noise, &wire, &wlen, &err) == 0 && wire[0] == ZS_ZDELTA &&
		  wlen < len / 50,
	      "noise changed in 1% of its bytes travels as a small delta against its base");
	check(roundtrip(rx, wire, wlen, len, noise, out, &msg) == 0 && memcmp(out, copy, len) == 0,
	      "the delta rebuilds the changed data from the base");
	free(msg);
	check(roundtrip(rx, wire, wlen, len, NULL, out, &msg) < 0 && strstr(msg, "no base"),
	      "a delta where the receiver holds no base is refused");
	free(msg);
	{
		uint8_t *bad = xmalloc(wlen);
		memcpy(bad, wire, wlen);
		bad[ZS_ZCHUNK_HDR + wlen / 2] ^= 0xff;
		bad[wlen - 1] ^= 0xff;
		/* a flipped byte either breaks the frame or rebuilds other
		 * bytes: the digest of the file catches the latter */
		int r = roundtrip(rx, bad, wlen, len, noise, out, &msg);
		check(r < 0 || memcmp(out, copy, len) != 0, "a corrupted delta never rebuilds the original bytes");
		free(msg);
		free(bad);
	}

	/* hostile headers */
	check(zs_zchunk_encode(z, text, len, 1, NULL, &wire, &wlen, &err) == 0, "encode again");
	{
		uint8_t *bad = xmalloc(wlen);
		memcpy(bad, wire, wlen);
		check(roundtrip(rx, bad, wlen, len - 1, NULL, out, &msg) < 0 && strstr(msg, "remain"),
		      "a chunk longer than what remains of the file is refused");
		free(msg);
		bad[5] = 0x0f; /* raw length one less than the frame's */
		bad[6] = bad[7] = 0xff;
		check(roundtrip(rx, bad, wlen, len, NULL, out, &msg) < 0 && strstr(msg, "header says"),
		      "a raw length that is not the frame's content size is refused");
		free(msg);
		memcpy(bad, wire, wlen);
		bad[0] = 9;
		check(roundtrip(rx, bad, wlen, len, NULL, out, &msg) < 0 && strstr(msg, "unknown kind"),
		      "an unknown chunk kind is refused");
		free(msg);
		memcpy(bad, wire, wlen);
		bad[4] = 0x7f; /* raw length > 1 MiB */
		check(roundtrip(rx, bad, wlen, (uint64_t) 1 << 40, NULL, out, &msg) < 0 && strstr(msg, "at most"),
		      "a chunk of more than 1 MiB is refused");
		free(msg);
		memcpy(bad, wire, wlen);
		bad[8] = 0x7f; /* wire length huge */
		check(roundtrip(rx, bad, wlen, len, NULL, out, &msg) < 0 && strstr(msg, "wire length"),
		      "a huge wire length is refused before anything is read");
		free(msg);
		memcpy(bad, wire, wlen);
		memset(bad + ZS_ZCHUNK_HDR + 8, 0xee, wlen - ZS_ZCHUNK_HDR - 8);
		check(roundtrip(rx, bad, wlen, len, NULL, out, &msg) < 0, "a corrupted zstd frame is refused");
		free(msg);
		free(bad);
	}
	check(zs_zchunk_encode(z, text, len + 1, 1, NULL, &wire, &wlen, &err) < 0, "a chunk over 1 MiB is not made");
	zs_error_release(&err);
	free(text);
	free(noise);
	free(out);
	free(copy);
	zs_zcodec_free(z);
	zs_zcodec_free(rx);
}

static void test_spec(void)
{
	struct zs_zspec s;
	zs_error_t err = NULL;

	check(zs_zspec_parse("auto", &s, &err) == 0 && s.is_auto, "--compress auto");
	check(zs_zspec_parse(NULL, &s, &err) == 0 && s.is_auto, "the default is auto");
	check(zs_zspec_parse("none", &s, &err) == 0 && !s.is_auto && s.level == 0, "--compress none");
	check(zs_zspec_parse("zstd", &s, &err) == 0 && s.level == 3, "--compress zstd is level 3");
	check(zs_zspec_parse("zstd:19", &s, &err) == 0 && s.level == 19, "--compress zstd:19");
	check(zs_zspec_parse("zstd:-3", &s, &err) == 0 && s.level == -3, "--compress zstd:-3 (fast)");
	check(zs_zspec_parse("zstd:0", &s, &err) < 0, "--compress zstd:0 is refused");
	zs_error_release(&err);
	check(zs_zspec_parse("zstd:99", &s, &err) < 0 && strstr(zs_error_msg(err), "level"),
	      "--compress zstd:99 is refused, naming the levels");
	zs_error_release(&err);
	check(zs_zspec_parse("lz4", &s, &err) < 0 && strstr(zs_error_msg(err), "lz4"), "--compress lz4 is refused");
	zs_error_release(&err);
}

/* Run the picker over CHUNKS chunks of 1 MiB on a link of LINK bytes/s,
 * compressing at COMP(level) bytes/s to RATIO of the size. */
static int simulate(double link, double ratio, double (*comp)(int), int chunks, int *raw_chunks)
{
	struct zs_zspec spec = {.is_auto = true};
	struct zs_zauto z;
	int i, level = 0;

	zs_zauto_init(&z, &spec);
	*raw_chunks = 0;
	for (i = 0; i < chunks; i++) {
		double raw = ZS_ZCHUNK_MAX, wire = raw;
		level = zs_zauto_level(&z);
		if (level) {
			wire = raw * ratio;
			zs_zauto_compressed(&z, level, (size_t) raw, (size_t) wire, raw / comp(level));
		} else {
			(*raw_chunks)++;
		}
		zs_zauto_sent(&z, (size_t) wire, wire / link, 0);
	}
	return zs_zauto_level(&z);
}

static double comp_fast(int level)
{
	return level <= 1 ? 500e6 : 500e6 / level;
}

static double comp_slow(int level)
{
	return level <= 1 ? 20e6 : 20e6 / level;
}

static void test_auto(void)
{
	int raw = 0, level;
	struct zs_zspec fixed = {.level = 7};
	struct zs_zauto z;

	level = simulate(12.5e6, 0.3, comp_fast, 400, &raw);
	check(level >= 3, "auto: a 100 Mbit/s link with a fast CPU climbs to a higher level");
	level = simulate(2.5e9, 0.3, comp_fast, 400, &raw);
	check(level == 0 && raw > 300, "auto: a link faster than compressing turns compression off");
	level = simulate(125e6, 0.3, comp_slow, 400, &raw);
	check(level == 0, "auto: a CPU that compresses slower than the link turns compression off");
	level = simulate(12.5e6, 0.99, comp_fast, 400, &raw);
	check(level == 0, "auto: incompressible data turns compression off");
	level = simulate(12.5e6, 0.3, comp_fast, 1, &raw);
	check(level == 1 && raw == 0, "auto: starts at level 1");
	{
		/* the socket's buffers fill: writes return at once, the queue
		 * grows by what was written: not a fast link */
		struct zs_zspec spec = {.is_auto = true};
		uint64_t q = 0;
		zs_zauto_init(&z, &spec);
		for (int i = 0; i < 64; i++) {
			zs_zauto_compressed(&z, zs_zauto_level(&z), ZS_ZCHUNK_MAX, ZS_ZCHUNK_MAX / 4, 0.002);
			q += ZS_ZCHUNK_MAX / 4;
			zs_zauto_sent(&z, ZS_ZCHUNK_MAX / 4, 1e-5, q);
		}
		check(zs_zauto_level(&z) >= 1, "auto: bytes that only filled the socket's queue are not a fast link");
	}
	zs_zauto_init(&z, &fixed);
	check(zs_zauto_level(&z) == 7, "a fixed level is kept");
}

int main(void)
{
	test_chunks();
	test_spec();
	test_auto();
	return check_done();
}
