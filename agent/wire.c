/* zanshind — file data on the wire: raw, or in chunks (zstd, deltas)
 * when both agents speak them (include/zanshin/zcompress.h; the sender's
 * level comes from --compress, auto measured as it goes). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <time.h>

#include "agent.h"
#include "wire.h"
#include "zanshin/log.h"
#include "zanshin/page_delta.h"
#include "zanshin/utils.h"

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void wire_tx_init(struct wire_tx *w, const struct zs_zspec *spec)
{
	memset(w, 0, sizeof(*w));
	w->spec = *spec;
	zs_zauto_init(&w->au, spec);
	w->logged_level = zs_zauto_level_now(&w->au);
}

void wire_tx_free(struct wire_tx *w)
{
	wire_file_end(w);
	zs_zcodec_free(w->z);
	w->z = NULL;
	free(w->base);
	w->base = NULL;
}

int wire_file_begin(struct wire_tx *w, const char *dir, const char *name, bool diff, zs_error_t *err)
{
	cleanup_error zs_error_t e = NULL;

	wire_file_end(w);
	if (!diff || !w->delta || !wire_compresses(w))
		return 0;
	/* no base (or an unreadable one): the pages travel as data */
	if (zs_page_base_open(dir, name, &w->pb, &e) <= 0)
		return 0;
	if (w->base == NULL)
		w->base = xmalloc(ZS_ZCHUNK_MAX);
	return 0;
}

void wire_file_end(struct wire_tx *w)
{
	zs_page_base_close(w->pb);
	w->pb = NULL;
}

int wire_send_at(struct zs_conn *c, struct wire_tx *w, const void *buf, size_t len, uint64_t off, zs_error_t *err)
{
	size_t with_parent = 0;

	if (w->pb == NULL || len % 4096 || off % 4096)
		return wire_send(c, w, buf, len, NULL, err);
	if (zs_page_base_read(w->pb, off, len, w->base, &with_parent, err) < 0)
		return -1;
	return wire_send(c, w, buf, len, with_parent ? w->base : NULL, err);
}

bool wire_compresses(const struct wire_tx *w)
{
	return w->chunks && (w->spec.is_auto || w->spec.level != 0);
}

/* Bytes written to the socket FD that still wait in its send queue. */
static uint64_t queued(int fd)
{
	int q = 0;

	if (ioctl(fd, SIOCOUTQ, &q) < 0 || q < 0)
		return 0;
	return (uint64_t) q;
}

static int send_timed(struct zs_conn *c, struct wire_tx *w, const void *p, size_t n, zs_error_t *err)
{
	double t = mono_s();

	if (zs_conn_write(c, p, n, err) < 0)
		return -1;
	zs_zauto_sent(&w->au, n, mono_s() - t, queued(c->fd));
	w->wire += n;
	if (w->meta)
		w->wire_meta += n;
	return 0;
}

int wire_send(struct zs_conn *c, struct wire_tx *w, const void *buf, size_t len, const void *base, zs_error_t *err)
{
	const uint8_t *out = NULL;
	size_t out_len = 0;
	int level;
	double t;

	w->raw += len;
	if (!wire_compresses(w))
		return send_timed(c, w, buf, len, err);
	if (w->z == NULL)
		w->z = zs_zcodec_new();
	level = zs_zauto_level(&w->au);
	/* a delta of pages that changed little compresses fast, whatever the
	 * link: it goes compressed even where data would not */
	if (level == 0 && base)
		level = 1;
	t = mono_s();
	if (zs_zchunk_encode(w->z, buf, len, level, base, &out, &out_len, err) < 0)
		return -1;
	if (level != 0)
		zs_zauto_compressed(&w->au, level, len, out_len, mono_s() - t);
	if (w->spec.is_auto && zs_zauto_level_now(&w->au) != w->logged_level) {
		w->logged_level = zs_zauto_level_now(&w->au);
		zs_log("info", "--compress auto: level %d (the link takes %.1f MB/s)", w->logged_level,
		       w->au.link_bps / 1e6);
	}
	if (out[0] == ZS_ZDELTA)
		w->delta_raw += len;
	return send_timed(c, w, out, out_len, err);
}

void wire_levels(const struct wire_tx *w, char *buf, size_t size)
{
	if (!wire_compresses(w) || w->au.lo_level == 0)
		snprintf(buf, size, "none");
	else if (w->au.lo_level == w->au.hi_level)
		snprintf(buf, size, "zstd:%d", w->au.lo_level);
	else
		snprintf(buf, size, "zstd:%d..%d", w->au.lo_level, w->au.hi_level);
}

int wire_encoding(const zs_json *h, const char *what, bool *chunks, zs_error_t *err)
{
	const zs_json *e = zs_json_get(h, "encoding");
	const char *s = zs_json_string_value(e);

	*chunks = false;
	if (e == NULL)
		return 0;
	if (s && strcmp(s, "chunks") == 0) {
		*chunks = true;
		return 0;
	}
	return zs_make_error(err, -EPROTO, "%s: unknown encoding `%s` (raw or chunks)", what, s ? s : "?");
}

void wire_rx_file_end(struct wire_rx *w)
{
	zs_page_base_close(w->pb);
	w->pb = NULL;
	w->pb_tried = false;
}

int wire_rx_base(struct wire_rx *w, const char *dir, const char *file, uint64_t off, size_t len, const void **base,
		 zs_error_t *err)
{
	size_t with_parent = 0;

	if (file == NULL || dir == NULL)
		return zs_make_error(err, -EBADMSG, "a delta chunk outside the pages of an image");
	if (!w->pb_tried) {
		w->pb_tried = true;
		if (zs_page_base_open(dir, file, &w->pb, err) < 0)
			return zs_error_wrap(err, "the parent pages of `%s`", file);
	}
	if (w->pb == NULL)
		return zs_make_error(err, -EBADMSG,
				     "a delta chunk for `%s`, whose parent pages this node does not hold (no parent, "
				     "or its pagemap did not come first)",
				     file);
	if (w->base == NULL)
		w->base = xmalloc(ZS_ZCHUNK_MAX);
	if (zs_page_base_read(w->pb, off, len, w->base, &with_parent, err) < 0)
		return zs_error_wrap(err, "the parent pages of `%s`", file);
	*base = w->base;
	return 0;
}

void wire_rx_free(struct wire_rx *w)
{
	wire_rx_file_end(w);
	free(w->base);
	w->base = NULL;
	zs_zcodec_free(w->z);
	free(w->payload);
	w->z = NULL;
	w->payload = NULL;
}

int wire_recv_header(struct zs_conn *c, struct wire_rx *w, uint64_t remaining, struct zs_zchunk *h, zs_error_t *err)
{
	uint8_t hdr[ZS_ZCHUNK_HDR];

	if (w->z == NULL) {
		w->z = zs_zcodec_new();
		w->payload = xmalloc(zs_zchunk_wire_max());
	}
	if (zs_conn_read(c, hdr, sizeof(hdr), err) < 0 || zs_zchunk_parse(hdr, remaining, h, err) < 0)
		return -1;
	w->wire += ZS_ZCHUNK_HDR + h->wire_len;
	w->raw += h->raw_len;
	if (h->kind == ZS_ZDELTA)
		w->delta_raw += h->raw_len;
	return 0;
}

int wire_recv_payload(struct zs_conn *c, struct wire_rx *w, const struct zs_zchunk *h, const void *base, void *out,
		      zs_error_t *err)
{
	if (zs_conn_read(c, w->payload, h->wire_len, err) < 0)
		return -1;
	return zs_zchunk_decode(w->z, h, w->payload, base, out, err);
}

/* ---- the hooks of a move (move_source.c, move_target.c) ---- */

int wire_request(struct wire_tx *w, struct move *m, zs_error_t *err)
{
	struct zs_zspec spec;

	if (m->compress == NULL)
		m->compress = xstrdup("auto");
	if (zs_zspec_parse(m->compress, &spec, err) < 0)
		return -1;
	wire_tx_init(w, &spec);
	return 0;
}

void wire_offer(zs_jgen *g)
{
	zs_jgen_key(g, "encodings");
	zs_jgen_array_open(g);
	zs_jgen_string(g, "chunks");
	zs_jgen_string(g, "delta");
	zs_jgen_string(g, "rebase");
	zs_jgen_array_close(g);
}

void wire_have(struct wire_tx *w, const zs_json *have)
{
	const zs_json *e = zs_json_get(have, "encodings");

	for (size_t i = 0; zs_json_is_array(e) && i < zs_json_array_len(e); i++) {
		const char *s = zs_json_string_value(zs_json_array_at(e, i));
		if (s && strcmp(s, "chunks") == 0)
			w->chunks = true;
		if (s && strcmp(s, "delta") == 0)
			w->delta = true;
		if (s && strcmp(s, "rebase") == 0)
			w->rebase = true;
	}
}

void wire_frame_encoding(const struct wire_tx *w, zs_jgen *g)
{
	if (wire_compresses(w))
		zs_jgen_kv_string(g, "encoding", "chunks");
}

void wire_metrics(const struct wire_tx *w, const struct zs_conn *c, struct move *m)
{
	char levels[64];
	uint64_t data = w->wire - w->wire_meta;

	wire_levels(w, levels, sizeof(levels));
	free(m->compress_levels);
	m->compress_levels = xstrdup(levels);
	m->bytes_raw = w->raw;
	m->bytes_data = w->wire;
	m->bytes_delta = w->delta_raw;
	m->bytes_wire = c->bytes_out + c->bytes_in;
	/* everything but the pages and the Bundle, as it went on the wire */
	if (m->bytes_wire >= data)
		m->bytes_metadata = m->bytes_wire - data;
}
