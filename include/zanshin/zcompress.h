/* zanshin — compressed file data on the wire between zanshind agents.
 *
 * A file's bytes travel as a sequence of chunks, each a 12-byte header
 * (kind u8, level s8, 2 zero bytes, raw length u32 BE, wire length u32 BE)
 * and WIRE bytes of payload that decode to RAW bytes (1..ZS_ZCHUNK_MAX):
 *   raw    the bytes themselves
 *   zstd   one zstd frame of the bytes (content size in the frame)
 *   delta  one zstd frame of the bytes XORed with a base of the same
 *          length that the receiver holds (the parent's pages, see
 *          lib/page_delta.c)
 * Every chunk decodes on its own (one zstd frame per chunk), so the sender
 * may change the level, or stop compressing, from one chunk to the next.
 * Headers come from an untrusted peer: lengths are bounded, a frame must
 * decode to exactly RAW bytes.
 *
 * zs_zauto picks the level for `--compress auto` from what it measures as
 * it goes: the compression rate (raw bytes per second of compressing) and
 * the link rate (wire bytes per second of sending). */
#ifndef ZANSHIN_ZCOMPRESS_H
#define ZANSHIN_ZCOMPRESS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zanshin/error.h"

#define ZS_ZCHUNK_MAX (1u << 20)
#define ZS_ZCHUNK_HDR 12

enum zs_zkind { ZS_ZRAW = 1, ZS_ZZSTD = 2, ZS_ZDELTA = 3 };

struct zs_zchunk {
	int kind, level;
	uint32_t raw_len, wire_len;
};

struct zs_zcodec;
struct zs_zcodec *zs_zcodec_new(void);
void zs_zcodec_free(struct zs_zcodec *z);

/* The upper bound of a chunk's wire length (header excluded). */
size_t zs_zchunk_wire_max(void);

/* Encode RAW[0..LEN) (1..ZS_ZCHUNK_MAX bytes) as one chunk, header
 * included, into the codec's buffer (*OUT, *OUT_LEN: valid until the next
 * call).  LEVEL 0: raw.  BASE (LEN bytes, or NULL): a delta against it.
 * A compressed chunk that is not smaller than the raw one goes raw. */
int zs_zchunk_encode(struct zs_zcodec *z, const void *raw, size_t len, int level, const void *base, const uint8_t **out,
		     size_t *out_len, zs_error_t *err);
/* Check a received header; REMAINING: raw bytes still expected. */
int zs_zchunk_parse(const uint8_t hdr[ZS_ZCHUNK_HDR], uint64_t remaining, struct zs_zchunk *h, zs_error_t *err);
/* Decode a payload of H->wire_len bytes into OUT (H->raw_len bytes).  A
 * delta needs BASE (H->raw_len bytes): the same one the sender used. */
int zs_zchunk_decode(struct zs_zcodec *z, const struct zs_zchunk *h, const void *payload, const void *base, void *out,
		     zs_error_t *err);

/* --compress auto|none|zstd[:LEVEL] */
struct zs_zspec {
	bool is_auto;
	int level; /* fixed: 0 = none; auto: unused */
};
int zs_zspec_parse(const char *s, struct zs_zspec *spec, zs_error_t *err);

struct zs_zauto {
	struct zs_zspec spec;
	int idx;		/* index in the level ladder; -1: off */
	int hi_cap;		/* the highest index still allowed */
	double comp_bps;	/* raw bytes per second of compressing, at idx */
	double ratio;		/* wire / raw at idx */
	double link_bps;	/* wire bytes per second the link takes */
	unsigned samples;	/* compression windows measured at idx */
	unsigned since_probe;	/* chunks sent raw since compression was tried */
	uint64_t c_raw, c_wire; /* the current compression window */
	double c_secs;
	uint64_t win_bytes; /* the current window of the link rate */
	double win_secs;
	uint64_t win_queued, queued; /* bytes in the socket's queue */
	int lo_level, hi_level;	     /* the levels used (for the metrics) */
};
void zs_zauto_init(struct zs_zauto *z, const struct zs_zspec *spec);
/* The level of the next chunk (0: raw). */
int zs_zauto_level(struct zs_zauto *z);
/* The level it is at (0: off), without counting a chunk. */
int zs_zauto_level_now(const struct zs_zauto *z);
/* A chunk of RAW bytes became WIRE bytes in SECS of compressing. */
void zs_zauto_compressed(struct zs_zauto *z, int level, size_t raw, size_t wire, double secs);
/* WIRE bytes took SECS to write; QUEUED bytes wait in the socket's send
 * queue after it (SIOCOUTQ; 0 when unknown). */
void zs_zauto_sent(struct zs_zauto *z, size_t wire, double secs, uint64_t queued);

#endif
