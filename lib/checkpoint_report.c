/* zanshin — what a checkpoint says it did (issue 17.4): one info line on
 * the log (diff or full, why it fell back, size, time, generation) and,
 * with `checkpoint --print-stats`, one JSON object with the same facts and
 * CRIU's own dump statistics (stats-dump, as Podman's --print-stats shows
 * them under "criu_statistics"). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu_image_internal.h"
#include "criu_internal.h"
#include "zanshin/json.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define STATS_MAGIC 0x57093306u /* criu/include/magic.h */
#define STATS_MAX (64u << 10)

/* dump_stats_entry (images/stats.proto), field number -> name */
static const char *const dump_fields[] = {
    NULL,
    "freezing_time",
    "frozen_time",
    "memdump_time",
    "memwrite_time",
    "pages_scanned",
    "pages_skipped_parent",
    "pages_written",
    "irmap_resolve",
    "pages_lazy",
    "page_pipes",
    "page_pipe_bufs",
    "shpages_scanned",
    "shpages_skipped_parent",
    "shpages_written",
};
#define N_DUMP_FIELDS (sizeof(dump_fields) / sizeof(dump_fields[0]))

static void parse_dump(struct zs_ckpt_report *r, const uint8_t *p, const uint8_t *end)
{
	struct zs_pb_field f;

	while (zs_pb_next(&p, end, &f) > 0) {
		if (f.wire != ZS_PB_VARINT || f.num == 0 || f.num >= N_DUMP_FIELDS)
			continue;
		r->criu[f.num] = f.v;
		r->criu_set[f.num] = true;
	}
}

/* DIR/stats-dump: magic(s), then one u32-length-prefixed stats_entry. */
static void parse_stats(struct zs_ckpt_report *r, const uint8_t *b, size_t len)
{
	const uint8_t *p = b, *end = b + len, *e;
	struct zs_pb_field f;
	uint32_t m, n;

	if (len < 12)
		return;
	memcpy(&m, p, 4);
	if (m == ZS_IMG_SERVICE_MAGIC || m == ZS_IMG_COMMON_MAGIC)
		p += 4, memcpy(&m, p, 4);
	if (m != STATS_MAGIC || end - p < 8)
		return;
	p += 4;
	memcpy(&n, p, 4);
	p += 4;
	if (n > (size_t) (end - p))
		return;
	e = p + n;
	while (zs_pb_next(&p, e, &f) > 0)
		if (f.num == 1 && f.wire == ZS_PB_LEN)
			parse_dump(r, f.data, f.data + f.len);
	r->have_criu = true;
}

void zs_ckpt_report_read_stats(struct zs_ckpt_report *r, const char *dir)
{
	cleanup_free char *path = xasprintf("%s/stats-dump", dir);
	cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATS_MAX)
		return;
	free(r->stats_raw);
	r->stats_raw = xmalloc(st.st_size + 1);
	n = read(fd, r->stats_raw, st.st_size);
	r->stats_len = n > 0 ? (size_t) n : 0;
	parse_stats(r, (const uint8_t *) r->stats_raw, r->stats_len);
}

void zs_ckpt_report_free(struct zs_ckpt_report *r)
{
	free(r->fallback);
	free(r->generation);
	free(r->image_id);
	free(r->parent_image_id);
	free(r->base);
	free(r->stats_raw);
	memset(r, 0, sizeof(*r));
}

void zs_ckpt_report_fallback(struct zs_ckpt_report *r, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	zs_warn("checkpoint of %s: full checkpoint, not a diff: %s", r->id, msg);
	free(r->fallback);
	r->fallback = msg;
}

static void kv_str_or_null(zs_jgen *g, const char *k, const char *v)
{
	zs_jgen_key(g, k);
	if (v)
		zs_jgen_string(g, v);
	else
		zs_jgen_null(g);
}

char *zs_ckpt_report_json(const struct zs_ckpt_report *r)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	size_t i;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "id", r->id);
	zs_jgen_kv_string(g, "kind", r->diff ? "diff" : "full");
	kv_str_or_null(g, "fallback_reason", r->fallback);
	zs_jgen_key(g, "bytes");
	zs_jgen_uint(g, r->bytes);
	zs_jgen_key(g, "pages");
	zs_jgen_uint(g, r->pages);
	zs_jgen_key(g, "duration_s");
	zs_jgen_double(g, r->duration_s, 6);
	kv_str_or_null(g, "generation", r->generation);
	kv_str_or_null(g, "base_generation", r->base);
	kv_str_or_null(g, "image_id", r->image_id);
	kv_str_or_null(g, "parent_image_id", r->parent_image_id);
	zs_jgen_key(g, "criu_statistics");
	if (!r->have_criu)
		zs_jgen_null(g);
	else {
		zs_jgen_map_open(g);
		for (i = 1; i < N_DUMP_FIELDS; i++)
			if (r->criu_set[i]) {
				zs_jgen_key(g, dump_fields[i]);
				zs_jgen_uint(g, r->criu[i]);
			}
		zs_jgen_map_close(g);
	}
	zs_jgen_map_close(g);
	return zs_jgen_result(g, NULL);
}

void zs_ckpt_report_log(const struct zs_ckpt_report *r)
{
	cleanup_free char *where = NULL;

	if (r->diff)
		where = r->base ? xasprintf("diff against generation %s", r->base)
				: xasprintf("diff against image %s", r->parent_image_id);
	else
		where = xstrdup("full");
	zs_log("info", "checkpoint of %s: %s, %llu pages, %.1f MiB, %.2f s%s%s%s%s", r->id, where,
	       (unsigned long long) r->pages, (double) r->bytes / (1 << 20), r->duration_s,
	       r->generation ? "; remnant generation " : "", r->generation ? r->generation : "",
	       r->fallback ? "; fell back to full: " : "", r->fallback ? r->fallback : "");
}
