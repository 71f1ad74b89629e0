/* zanshin image — CRIU image directories, for people and tests:
 *   image info DIR       lineage ids and page counts
 *   image check DIR      what the headers say, before a restore
 *   image flatten LEAF OUT   a diff chain written as one full image
 * each with --format text|json (before or after the command; `table` is
 * taken for `text`, as `zanshin remnant` names it).  With json, a failed
 * check prints {"ok": false, "error": ...} too, and exits non-zero. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "zanshin/criu_image.h"
#include "zanshin/config.h"
#include "zanshin/image_manifest.h"
#include "zanshin/json.h"
#include "zanshin/utils.h"

enum { O_FORMAT = 1, O_CONFIG };

static const struct zs_optdef opts[] = {
    {"format", 'f', true, O_FORMAT, "output format: 'text' (default, or 'table') or 'json'"},
    {"config", 'c', true, O_CONFIG, "check: also what the tasks would get against this config.json"},
    {NULL, 0, false, 0, NULL},
};

struct image_opts {
	const char *format;
	const char *config;
	bool json;
};

static int opt_cb(int id, const char *value, void *data)
{
	struct image_opts *o = data;

	if (id == O_FORMAT)
		o->format = value;
	else if (id == O_CONFIG)
		o->config = value;
	return 0;
}

static void usage(void)
{
	zs_print_usage("image", "info <dir> | check <dir> | flatten <leaf> <out>",
		       "read, check and flatten CRIU image directories (no CRIU needed)", opts);
	printf("\nCOMMANDS:\n"
	       "   info <dir>             image id, parent id and link, pages stored, in the parent, lazy\n"
	       "   check <dir>            inventory version, magic of every *.img, pages files vs pagemaps,\n"
	       "                          the parent chain, every file against the image's manifest; with --config "
	       "FILE, every task's credentials,\n"
	       "                          capabilities, seccomp and namespaces against that config.json\n"
	       "   flatten <leaf> <out>   write <out> (must not exist): <leaf> with every page of its parent\n"
	       "                          chain, no parent link; it appears only when complete\n");
}

/* The error's whole text (with the errno's) as a JSON string. */
static void json_error(zs_jgen *j, zs_error_t e)
{
	cleanup_free char *text = zs_error_text(e);

	zs_jgen_string(j, text);
}

static void info_json(const char *dir, const struct zs_image_info *in)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(true);
	cleanup_free char *text = NULL;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "dir", dir);
	zs_jgen_key(g, "image_id");
	in->image_id ? zs_jgen_string(g, in->image_id) : zs_jgen_null(g);
	zs_jgen_key(g, "parent_image_id");
	in->parent_image_id ? zs_jgen_string(g, in->parent_image_id) : zs_jgen_null(g);
	zs_jgen_key(g, "parent");
	in->parent_link ? zs_jgen_string(g, in->parent_link) : zs_jgen_null(g);
	zs_jgen_key(g, "full");
	zs_jgen_bool(g, in->parent_pages == 0);
	zs_jgen_key(g, "img_version");
	zs_jgen_uint(g, in->img_version);
	zs_jgen_key(g, "pagemaps");
	zs_jgen_uint(g, in->n_pagemaps);
	zs_jgen_key(g, "pages");
	zs_jgen_uint(g, in->pages);
	zs_jgen_key(g, "parent_pages");
	zs_jgen_uint(g, in->parent_pages);
	zs_jgen_key(g, "lazy_pages");
	zs_jgen_uint(g, in->lazy_pages);
	zs_jgen_key(g, "bytes");
	zs_jgen_uint(g, in->bytes);
	zs_jgen_map_close(g);
	text = zs_jgen_result(g, NULL);
	printf("%s\n", text);
}

static void info_text(const char *dir, const struct zs_image_info *in)
{
	printf("dir:             %s\n", dir);
	printf("image_id:        %s\n", in->image_id ? in->image_id : "-");
	printf("parent_image_id: %s\n", in->parent_image_id ? in->parent_image_id : "-");
	printf("parent:          %s\n", in->parent_link ? in->parent_link : "-");
	printf("full:            %s\n", in->parent_pages == 0 ? "yes" : "no");
	printf("img_version:     %u\n", in->img_version);
	printf("pagemaps:        %u\n", in->n_pagemaps);
	printf("pages:           %llu\n", (unsigned long long) in->pages);
	printf("parent_pages:    %llu\n", (unsigned long long) in->parent_pages);
	printf("lazy_pages:      %llu\n", (unsigned long long) in->lazy_pages);
	printf("bytes:           %llu\n", (unsigned long long) in->bytes);
}

static int cmd_info(const char *dir, const struct image_opts *o, zs_error_t *err)
{
	struct zs_image_info in;

	if (zs_image_info(dir, &in, err) < 0)
		return -1;
	if (o->json)
		info_json(dir, &in);
	else
		info_text(dir, &in);
	zs_image_info_free(&in);
	return 0;
}

/* A failed info or flatten with --format json: {"command", "dir", "ok":
 * false, "error"} (check prints its own). */
static void error_json(const char *command, const char *dir, zs_error_t err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(true);
	cleanup_free char *text = NULL;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "command", command);
	zs_jgen_kv_string(g, "dir", dir);
	zs_jgen_key(g, "ok");
	zs_jgen_bool(g, false);
	zs_jgen_key(g, "error");
	json_error(g, err);
	zs_jgen_map_close(g);
	text = zs_jgen_result(g, NULL);
	printf("%s\n", text);
}

static void check_json(const char *dir, zs_error_t err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(true);
	cleanup_free char *text = NULL;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "dir", dir);
	zs_jgen_key(g, "ok");
	zs_jgen_bool(g, err == NULL);
	zs_jgen_key(g, "error");
	err ? json_error(g, err) : zs_jgen_null(g);
	zs_jgen_map_close(g);
	text = zs_jgen_result(g, NULL);
	printf("%s\n", text);
}

static int cmd_check(const char *dir, const struct image_opts *o, zs_error_t *err)
{
	cleanup_config struct zs_config *cfg = NULL;
	unsigned verified = 0, without = 0;
	int ret = zs_image_check(dir, err);

	if (ret == 0 && o->config)
		ret = zs_config_load(o->config, o->config, &cfg, err);
	if (ret == 0 && cfg)
		ret = zs_image_check_config(-1, dir, cfg, o->config, err);
	/* what the tasks would get is said first, then whether the bytes are
	 * the ones written */
	if (ret == 0)
		ret = zs_image_manifest_verify_chain(dir, &verified, &without, err);

	if (o->json)
		check_json(dir, ret < 0 ? *err : NULL);
	else if (ret == 0 && without == 0)
		printf("%s: ok (%u image(s) verified against their manifests)\n", dir, verified);
	else if (ret == 0)
		printf("%s: ok (%u image(s) without a manifest: their contents are not verified)\n", dir, without);
	return ret;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void flatten_json(const char *leaf, const char *out, const struct zs_flatten_stats *st, double secs)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(true);
	cleanup_free char *text = NULL;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "leaf", leaf);
	zs_jgen_kv_string(g, "out", out);
	zs_jgen_key(g, "chain_len");
	zs_jgen_uint(g, st->chain_len);
	zs_jgen_key(g, "pages");
	zs_jgen_uint(g, st->pages);
	zs_jgen_key(g, "bytes");
	zs_jgen_uint(g, st->bytes);
	zs_jgen_key(g, "microseconds");
	zs_jgen_uint(g, (unsigned long long) (secs * 1e6));
	zs_jgen_map_close(g);
	text = zs_jgen_result(g, NULL);
	printf("%s\n", text);
}

static int cmd_flatten(const char *leaf, const char *out, const struct image_opts *o, zs_error_t *err)
{
	struct zs_flatten_stats st;
	double t0 = now(), secs;

	if (zs_image_flatten_to(leaf, out, &st, err) < 0)
		return -1;
	secs = now() - t0;
	if (o->json) {
		flatten_json(leaf, out, &st, secs);
		return 0;
	}
	printf("%s: %u image(s) flattened into %s: %llu pages, %llu bytes in %.3f s (%.0f MB/s)\n", leaf, st.chain_len,
	       out, (unsigned long long) st.pages, (unsigned long long) st.bytes, secs,
	       secs > 0 ? st.bytes / secs / 1e6 : 0.0);
	return 0;
}

ZS_VERB(image)
{
	struct image_opts o = {.format = "text"};
	const char *sub;
	int first, ret, n;

	ret = zs_parse_opts("image", opts, argc, argv, opt_cb, &o, &first, err);
	if (ret == ZS_CLI_HELP) {
		usage();
		return 0;
	}
	if (ret < 0)
		return ret;
	o.json = strcmp(o.format, "json") == 0;
	if (!o.json && strcmp(o.format, "text") != 0 && strcmp(o.format, "table") != 0)
		return zs_make_error(err, 0, "invalid format: %s (text or json)", o.format);
	if (zs_check_args("image", argc - first, 1, -1, err) < 0)
		return -1;
	sub = argv[first];
	n = argc - first - 1;
	if (strcmp(sub, "info") == 0 || strcmp(sub, "check") == 0) {
		if (zs_check_args(strcmp(sub, "info") == 0 ? "image info" : "image check", n, 1, 1, err) < 0)
			return -1;
		if (sub[0] == 'c')
			return cmd_check(argv[first + 1], &o, err);
		ret = cmd_info(argv[first + 1], &o, err);
		if (ret < 0 && o.json)
			error_json("info", argv[first + 1], *err);
		return ret;
	}
	if (strcmp(sub, "flatten") == 0) {
		if (zs_check_args("image flatten", n, 2, 2, err) < 0)
			return -1;
		ret = cmd_flatten(argv[first + 1], argv[first + 2], &o, err);
		if (ret < 0 && o.json)
			error_json("flatten", argv[first + 1], *err);
		return ret;
	}
	return zs_make_error(err, -EINVAL, "image: unknown command '%s' (info, check or flatten)", sub);
}
