/* zanshin — chunked zstd of file data on the wire, and the level picker of
 * `--compress auto` (include/zanshin/zcompress.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "zanshin/utils.h"
#include "zanshin/zcompress.h"

struct zs_zcodec {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	uint8_t *out;	/* header + the largest payload */
	uint8_t *alt;	/* the same, for the other of delta and data */
	uint8_t * xor ; /* a delta's input, or its decoded XOR */
	int level;	/* the level cctx is set to */
};

size_t zs_zchunk_wire_max(void)
{
	return ZSTD_compressBound(ZS_ZCHUNK_MAX);
}

struct zs_zcodec *zs_zcodec_new(void)
{
	struct zs_zcodec *z = xzalloc(sizeof(*z));

	z->cctx = ZSTD_createCCtx();
	z->dctx = ZSTD_createDCtx();
	if (z->cctx == NULL || z->dctx == NULL)
		abort(); /* out of memory, as xmalloc */
	/* a chunk is at most 1 MiB: a frame that asks for a larger window is
	 * not one of ours */
	ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax, 21);
	ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_contentSizeFlag, 1);
	ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 0);
	z->out = xmalloc(ZS_ZCHUNK_HDR + zs_zchunk_wire_max());
	z->xor = xmalloc(ZS_ZCHUNK_MAX);
	z->alt = xmalloc(ZS_ZCHUNK_HDR + zs_zchunk_wire_max());
	return z;
}

void zs_zcodec_free(struct zs_zcodec *z)
{
	if (z == NULL)
		return;
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	free(z->out);
	free(z->xor);
	free(z->alt);
	free(z);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void put_header(uint8_t *p, int kind, int level, size_t raw, size_t wire)
{
	p[0] = (uint8_t) kind;
	p[1] = (uint8_t) (int8_t) level;
	p[2] = p[3] = 0;
	put32(p + 4, (uint32_t) raw);
	put32(p + 8, (uint32_t) wire);
}

static void xor_into(uint8_t *dst, const uint8_t *a, const uint8_t *b, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		x ^= y;
		memcpy(dst + i, &x, 8);
	}
	for (; i < len; i++)
		dst[i] = a[i] ^ b[i];
}

static int set_level(struct zs_zcodec *z, int level, zs_error_t *err)
{
	size_t r;

	if (z->level == level)
		return 0;
	r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
	if (ZSTD_isError(r))
		return zs_make_error(err, -EINVAL, "zstd level %d: %s", level, ZSTD_getErrorName(r));
	z->level = level;
	return 0;
}

/* One zstd frame of IN into BUF (after the header): *WIRE its size. */
static int compress_into(struct zs_zcodec *z, uint8_t *buf, const void *in, size_t len, int level, size_t *wire,
			 zs_error_t *err)
{
	size_t r;

	if (set_level(z, level, err) < 0)
		return -1;
	r = ZSTD_compress2(z->cctx, buf + ZS_ZCHUNK_HDR, zs_zchunk_wire_max(), in, len);
	if (ZSTD_isError(r))
		return zs_make_error(err, -EIO, "zstd: %s", ZSTD_getErrorName(r));
	*wire = r;
	return 0;
}

int zs_zchunk_encode(struct zs_zcodec *z, const void *raw, size_t len, int level, const void *base, const uint8_t **out,
		     size_t *out_len, zs_error_t *err)
{
	size_t dw = SIZE_MAX, pw = SIZE_MAX;

	if (len == 0 || len > ZS_ZCHUNK_MAX)
		return zs_make_error(err, -EINVAL, "chunk of %zu bytes (1 to %u)", len, ZS_ZCHUNK_MAX);
	*out = z->out;
	if (level != 0 && base) {
		xor_into(z->xor, raw, base, len);
		if (compress_into(z, z->out, z->xor, len, level, &dw, err) < 0)
			return -1;
	}
	/* a delta not much smaller than the data: the data itself may
	 * compress better (pages that changed whole) */
	if (level != 0 && dw > len / 4 && compress_into(z, z->alt, raw, len, level, &pw, err) < 0)
		return -1;
	if (dw < len && dw <= pw) {
		put_header(z->out, ZS_ZDELTA, level, len, dw);
		*out_len = ZS_ZCHUNK_HDR + dw;
	} else if (pw < len) {
		put_header(z->alt, ZS_ZZSTD, level, len, pw);
		*out = z->alt;
		*out_len = ZS_ZCHUNK_HDR + pw;
	} else {
		put_header(z->out, ZS_ZRAW, 0, len, len);
		memcpy(z->out + ZS_ZCHUNK_HDR, raw, len);
		*out_len = ZS_ZCHUNK_HDR + len;
	}
	return 0;
}

int zs_zchunk_parse(const uint8_t hdr[ZS_ZCHUNK_HDR], uint64_t remaining, struct zs_zchunk *h, zs_error_t *err)
{
	h->kind = hdr[0];
	h->level = (int8_t) hdr[1];
	h->raw_len = get32(hdr + 4);
	h->wire_len = get32(hdr + 8);
	if (h->kind < ZS_ZRAW || h->kind > ZS_ZDELTA || hdr[2] || hdr[3])
		return zs_make_error(err, -EBADMSG, "data chunk: unknown kind %d", h->kind);
	if (h->raw_len == 0 || h->raw_len > ZS_ZCHUNK_MAX || h->raw_len > remaining)
		return zs_make_error(err, -EBADMSG, "data chunk: %u bytes where %llu remain (at most %u per chunk)",
				     h->raw_len, (unsigned long long) remaining, ZS_ZCHUNK_MAX);
	if (h->wire_len == 0 || h->wire_len > zs_zchunk_wire_max() || (h->kind == ZS_ZRAW && h->wire_len != h->raw_len))
		return zs_make_error(err, -EBADMSG, "data chunk: bad wire length %u for %u bytes", h->wire_len,
				     h->raw_len);
	return 0;
}

int zs_zchunk_decode(struct zs_zcodec *z, const struct zs_zchunk *h, const void *payload, const void *base, void *out,
		     zs_error_t *err)
{
	unsigned long long csize;
	size_t r;

	if (h->kind == ZS_ZRAW) {
		memcpy(out, payload, h->raw_len);
		return 0;
	}
	if (h->kind == ZS_ZDELTA && base == NULL)
		return zs_make_error(err, -EBADMSG, "data chunk: a delta where no base page is held");
	csize = ZSTD_getFrameContentSize(payload, h->wire_len);
	if (csize != h->raw_len)
		return zs_make_error(err, -EBADMSG, "data chunk: zstd frame of %lld bytes, the header says %u",
				     (long long) csize, h->raw_len);
	r = ZSTD_decompressDCtx(z->dctx, h->kind == ZS_ZDELTA ? z->xor : out, h->raw_len, payload, h->wire_len);
	if (ZSTD_isError(r) || r != h->raw_len)
		return zs_make_error(err, -EBADMSG, "data chunk: zstd: %s",
				     ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short frame");
	if (h->kind == ZS_ZDELTA)
		xor_into(out, z->xor, base, h->raw_len);
	return 0;
}

int zs_zspec_parse(const char *s, struct zs_zspec *spec, zs_error_t *err)
{
	char *end;
	long l;

	memset(spec, 0, sizeof(*spec));
	if (s == NULL || strcmp(s, "auto") == 0) {
		spec->is_auto = true;
		return 0;
	}
	if (strcmp(s, "none") == 0)
		return 0;
	if (strcmp(s, "zstd") == 0) {
		spec->level = 3;
		return 0;
	}
	if (strncmp(s, "zstd:", 5) == 0 && s[5]) {
		errno = 0;
		l = strtol(s + 5, &end, 10);
		if (errno == 0 && *end == '\0' && l != 0 && l >= ZSTD_minCLevel() && l <= ZSTD_maxCLevel()) {
			spec->level = (int) l;
			return 0;
		}
		return zs_make_error(err, -EINVAL, "--compress %s: the zstd level must be %d..-1 or 1..%d", s,
				     ZSTD_minCLevel(), ZSTD_maxCLevel());
	}
	return zs_make_error(err, -EINVAL, "--compress `%s`: expected auto, none, zstd or zstd:LEVEL", s);
}

/* ---- --compress auto ----
 * Sending a chunk raw costs RAW / LINK seconds; compressed, RAW / COMP +
 * RATIO * RAW / LINK (one thread does both).  Compressing pays while
 * LINK < COMP * (1 - RATIO).  The picker starts at level 1, goes up the
 * ladder while the link is 4 times slower than that, down when compressing
 * does not pay, and off below the fastest level; when off, it tries the
 * fastest level again every PROBE_EVERY chunks.
 *
 * Both rates are measured over windows of bytes, not per chunk (a small
 * file costs more per byte: the frame's fixed costs).  LINK is the wire
 * bytes that left the socket's queue per second spent in writes: bytes a
 * write only queued (the queue grew) do not count, so the buffers filling
 * up at the start of a move do not look like a fast link; when nothing
 * waits in the queue (the sender, not the link, is the bottleneck), it is
 * what a write costs: TLS and the system call. */
static const int ladder[] = {-5, -1, 1, 3, 6};
#define LADDER_TOP ((int) (sizeof(ladder) / sizeof(ladder[0])) - 1)
#define LADDER_START 2
#define SAMPLES_BEFORE_MOVE 2
#define PROBE_EVERY 32
#define COMP_WINDOW (2u << 20)
#define PROBE_MIN (256u << 10)
#define LINK_WINDOW (1u << 20)
#define LINK_WINDOW_SECS 0.05
#define LINK_WINDOW_MAX (16u << 20)

void zs_zauto_init(struct zs_zauto *z, const struct zs_zspec *spec)
{
	memset(z, 0, sizeof(*z));
	z->spec = *spec;
	z->idx = LADDER_START;
	z->hi_cap = LADDER_TOP;
}

static void note_level(struct zs_zauto *z, int level)
{
	if (level == 0)
		return;
	if (z->lo_level == 0 || level < z->lo_level)
		z->lo_level = level;
	if (z->hi_level == 0 || level > z->hi_level)
		z->hi_level = level;
}

int zs_zauto_level(struct zs_zauto *z)
{
	if (!z->spec.is_auto)
		return z->spec.level;
	if (z->idx >= 0)
		return ladder[z->idx];
	if (++z->since_probe < PROBE_EVERY)
		return 0;
	z->since_probe = 0;
	return ladder[0];
}

int zs_zauto_level_now(const struct zs_zauto *z)
{
	if (!z->spec.is_auto)
		return z->spec.level;
	return z->idx >= 0 ? ladder[z->idx] : 0;
}

static void move_to(struct zs_zauto *z, int idx)
{
	z->idx = idx;
	z->samples = 0;
	z->comp_bps = 0;
	z->ratio = 0;
	z->since_probe = 0;
	z->c_raw = z->c_wire = 0;
	z->c_secs = 0;
}

static double ewma(double old, double sample)
{
	return old == 0 ? sample : 0.7 * old + 0.3 * sample;
}

static bool pays(double link, double comp, double ratio, double margin)
{
	return link * margin < comp * (1.0 - ratio);
}

static void decide(struct zs_zauto *z)
{
	if (z->link_bps == 0 || z->samples < SAMPLES_BEFORE_MOVE)
		return;
	if (!pays(z->link_bps, z->comp_bps, z->ratio, 1)) {
		/* stay below the level that did not pay from now on */
		z->hi_cap = z->idx - 1;
		move_to(z, z->idx - 1);
	} else if (pays(z->link_bps, z->comp_bps, z->ratio, 4) && z->idx < z->hi_cap) {
		move_to(z, z->idx + 1);
	}
}

/* A probe while off: back on at the fastest level when it pays now. */
static void probe(struct zs_zauto *z, size_t raw, size_t wire, double secs)
{
	double bps = secs > 0 ? (double) raw / secs : 1e12;
	double r = (double) wire / (double) raw;

	if (raw < PROBE_MIN || z->link_bps == 0 || !pays(z->link_bps, bps, r, 1))
		return;
	move_to(z, 0);
	if (z->hi_cap < 0)
		z->hi_cap = 0;
	z->comp_bps = bps;
	z->ratio = r;
	z->samples = 1;
}

void zs_zauto_compressed(struct zs_zauto *z, int level, size_t raw, size_t wire, double secs)
{
	note_level(z, level);
	if (!z->spec.is_auto || raw == 0)
		return;
	if (z->idx < 0 || level != ladder[z->idx]) {
		probe(z, raw, wire, secs);
		return;
	}
	z->c_raw += raw;
	z->c_wire += wire;
	z->c_secs += secs;
	if (z->c_raw < COMP_WINDOW)
		return;
	z->comp_bps = ewma(z->comp_bps, z->c_secs > 0 ? (double) z->c_raw / z->c_secs : 1e12);
	z->ratio = ewma(z->ratio, (double) z->c_wire / (double) z->c_raw);
	z->c_raw = z->c_wire = 0;
	z->c_secs = 0;
	z->samples++;
	decide(z);
}

void zs_zauto_sent(struct zs_zauto *z, size_t wire, double secs, uint64_t queued)
{
	uint64_t delivered;

	if (z->win_bytes == 0)
		z->win_queued = z->queued;
	z->queued = queued;
	z->win_bytes += wire;
	z->win_secs += secs;
	if (z->win_bytes < LINK_WINDOW || (z->win_secs < LINK_WINDOW_SECS && z->win_bytes < LINK_WINDOW_MAX))
		return;
	/* what the queue absorbed did not cross the link */
	delivered = z->win_bytes;
	if (queued > z->win_queued)
		delivered = queued - z->win_queued < delivered ? delivered - (queued - z->win_queued) : 0;
	if (z->win_secs > 0 && delivered > 0)
		z->link_bps = ewma(z->link_bps, (double) delivered / z->win_secs);
	z->win_bytes = 0;
	z->win_secs = 0;
}
