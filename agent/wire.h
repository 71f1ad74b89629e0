/* zanshind — file data on the wire (agent/wire.c): raw bytes, or chunks
 * (zstd, deltas against the parent's pages) when the target said it takes
 * `encodings: ["chunks"]` in its `have` and the file's frame says
 * `"encoding": "chunks"`.  The sizes in frames and manifests stay the raw
 * ones; the digest is always of the raw bytes. */
#ifndef ZANSHIN_AGENT_WIRE_H
#define ZANSHIN_AGENT_WIRE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zanshin/error.h"
#include "zanshin/frame.h"
#include "zanshin/json.h"
#include "zanshin/page_delta.h"
#include "zanshin/zcompress.h"

struct wire_tx {
	struct zs_zspec spec;
	struct zs_zauto au;
	struct zs_zcodec *z;
	bool chunks;		 /* the target takes chunks */
	bool delta;		 /* and deltas against the parent's pages */
	bool rebase;		 /* and `digests` (agent/move_rebase.c) */
	struct zs_page_base *pb; /* the current pages file's base */
	uint8_t *base;
	uint64_t raw, wire; /* file data: raw bytes, and what went on the wire */
	uint64_t delta_raw; /* raw bytes that travelled as deltas */
	bool meta;	    /* the file being sent is metadata (not pages nor Bundle) */
	uint64_t wire_meta; /* what of WIRE was metadata */
	int logged_level;
};
void wire_tx_init(struct wire_tx *w, const struct zs_zspec *spec);
void wire_tx_free(struct wire_tx *w);
/* Whether file data goes in chunks (the target takes them, and
 * --compress is not none). */
bool wire_compresses(const struct wire_tx *w);
/* LEN bytes of a file (one chunk: at most ZS_ZCHUNK_MAX); BASE: the bytes
 * the target holds at the same place (a delta), or NULL. */
int wire_send(struct zs_conn *c, struct wire_tx *w, const void *buf, size_t len, const void *base, zs_error_t *err);
/* "none", "zstd:1", "zstd:-1..3": the levels used. */
void wire_levels(const struct wire_tx *w, char *buf, size_t size);

struct wire_rx {
	struct zs_zcodec *z;
	uint8_t *payload;
	uint64_t raw, wire;
	uint64_t delta_raw;
	struct zs_page_base *pb; /* the current pages file's base */
	bool pb_tried;
	uint8_t *base;
};
/* The `encoding` of a frame's data: absent (raw) or "chunks". */
int wire_encoding(const zs_json *h, const char *what, bool *chunks, zs_error_t *err);
int wire_recv_header(struct zs_conn *c, struct wire_rx *w, uint64_t remaining, struct zs_zchunk *h, zs_error_t *err);
int wire_recv_payload(struct zs_conn *c, struct wire_rx *w, const struct zs_zchunk *h, const void *base, void *out,
		      zs_error_t *err);
/* The base of a delta chunk of LEN bytes at OFF of FILE, received into
 * the image DIR (its pagemap came first, its `parent` is linked): *BASE. */
int wire_rx_base(struct wire_rx *w, const char *dir, const char *file, uint64_t off, size_t len, const void **base,
		 zs_error_t *err);
void wire_rx_file_end(struct wire_rx *w);
void wire_rx_free(struct wire_rx *w);

/* The hooks of a move.  Source: M->compress (NULL: auto) checked and
 * W set up; `encodings` in the offer; whether the target's `have` takes
 * chunks; `encoding` in a data frame; the move's metrics. */
struct move;
int wire_request(struct wire_tx *w, struct move *m, zs_error_t *err);
void wire_offer(zs_jgen *g);
void wire_have(struct wire_tx *w, const zs_json *have);
/* Around the data of file NAME of the image DIR (a diff when DIFF): its
 * chunks go as deltas where the target holds the parent's pages. */
int wire_file_begin(struct wire_tx *w, const char *dir, const char *name, bool diff, zs_error_t *err);
void wire_file_end(struct wire_tx *w);
/* wire_send() of LEN bytes at OFF of the current file. */
int wire_send_at(struct zs_conn *c, struct wire_tx *w, const void *buf, size_t len, uint64_t off, zs_error_t *err);
void wire_frame_encoding(const struct wire_tx *w, zs_jgen *g);
void wire_metrics(const struct wire_tx *w, const struct zs_conn *c, struct move *m);

#endif
