/* zanshin migrate — the progress of a move on stderr: on a terminal one
 * line rewritten in place (phase, bytes of the image on its way, its total,
 * the rate), otherwise one JSON object per event (JSON lines). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "migrate_progress.h"
#include "zanshin/utils.h"

static bool line_open;

int zs_progress_style_parse(const char *s, enum zs_progress_style *out, zs_error_t *err)
{
	if (s == NULL)
		*out = isatty(STDERR_FILENO) ? ZS_PROGRESS_TTY : ZS_PROGRESS_JSON;
	else if (strcmp(s, "tty") == 0)
		*out = ZS_PROGRESS_TTY;
	else if (strcmp(s, "json") == 0)
		*out = ZS_PROGRESS_JSON;
	else if (strcmp(s, "none") == 0)
		*out = ZS_PROGRESS_NONE;
	else
		return zs_make_error(err, -EINVAL, "--progress must be tty, json or none (not `%s`)", s);
	return 0;
}

static uint64_t u64(const zs_json *ev, const char *k)
{
	uint64_t v = 0;
	zs_error_t e = NULL;

	zs_json_to_uint64(zs_json_get(ev, k), "progress", k, 0, &v, &e);
	zs_error_release(&e);
	return v;
}

/* Bytes per second of the image on its way: from the previous event of
 * the same phase. */
static double rate_of(const char *phase, uint64_t bytes, double t)
{
	static char last_phase[64];
	static uint64_t last_bytes;
	static double last_t, rate;

	if (strcmp(phase, last_phase) != 0 || bytes < last_bytes) {
		snprintf(last_phase, sizeof(last_phase), "%s", phase);
		last_bytes = bytes;
		last_t = t;
		rate = 0;
		return 0;
	}
	if (t - last_t >= 0.1) {
		rate = (double) (bytes - last_bytes) / (t - last_t);
		last_bytes = bytes;
		last_t = t;
	}
	return rate;
}

static void show_tty(const zs_json *ev, const char *phase, uint64_t bytes, uint64_t total, double t, double rate)
{
	const char *id = zs_json_string_value(zs_json_get(ev, "move"));

	fprintf(stderr, "\r\033[K%s  %6.1fs  %-18s", id ? id : "", t, phase);
	if (total)
		fprintf(stderr, "  %8.1f / %.1f MiB  %7.1f MiB/s", (double) bytes / 1048576.0,
			(double) total / 1048576.0, rate / 1048576.0);
	fflush(stderr);
	line_open = true;
}

static void show_json(const zs_json *ev, const char *phase, uint64_t bytes, uint64_t total, double t, double rate)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *text = NULL;
	size_t len = 0;
	const char *id = zs_json_string_value(zs_json_get(ev, "move"));

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "move", id ? id : "");
	zs_jgen_kv_string(g, "phase", phase);
	zs_jgen_key(g, "bytes");
	zs_jgen_uint(g, bytes);
	zs_jgen_key(g, "total");
	zs_jgen_uint(g, total);
	zs_jgen_key(g, "rate");
	zs_jgen_uint(g, (unsigned long long) rate);
	zs_jgen_key(g, "rounds");
	zs_jgen_uint(g, u64(ev, "rounds"));
	zs_jgen_key(g, "elapsed_s");
	zs_jgen_double(g, t, 3);
	zs_jgen_map_close(g);
	text = zs_jgen_result(g, &len);
	fprintf(stderr, "%s\n", text);
	fflush(stderr);
}

void zs_progress_show(enum zs_progress_style st, const zs_json *ev)
{
	const char *phase = zs_json_string_value(zs_json_get(ev, "phase"));
	uint64_t bytes = u64(ev, "bytes"), total = u64(ev, "total");
	double t = (double) u64(ev, "elapsed_us") / 1e6, rate;

	if (st == ZS_PROGRESS_NONE || phase == NULL)
		return;
	rate = rate_of(phase, bytes, t);
	if (st == ZS_PROGRESS_TTY)
		show_tty(ev, phase, bytes, total, t, rate);
	else
		show_json(ev, phase, bytes, total, t, rate);
}

void zs_progress_end(enum zs_progress_style st)
{
	if (st == ZS_PROGRESS_TTY && line_open)
		fputc('\n', stderr);
	line_open = false;
}
