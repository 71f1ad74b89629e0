/* zanshin image — CRIU image directories, for people and tests:
 *   image info DIR [--format json]   lineage ids and page counts
 *   image check DIR                  what the headers say, before a restore
 *   image flatten LEAF OUT           a diff chain written as one full image */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "zanshin/config.h"
#include "zanshin/criu_image.h"
#include "zanshin/json.h"
#include "zanshin/utils.h"

enum { O_FORMAT = 1, O_CONFIG };

static const struct zs_optdef opts[] = {
    {"format", 'f', true, O_FORMAT, "output format of info: 'text' (default) or 'json'"},
    {"config", 'c', true, O_CONFIG, "check: also what the tasks would get against this config.json"},
    {NULL, 0, false, 0, NULL},
};

struct image_opts {
	const char *format;
	const char *config;
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
	       "                          the parent chain; with --config FILE, every task's credentials,\n"
	       "                          capabilities, seccomp and namespaces against that config.json\n"
	       "   flatten <leaf> <out>   write <out> (must not exist): <leaf> with every page of its parent\n"
	       "                          chain, no parent link; it appears only when complete\n");
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

	if (strcmp(o->format, "json") != 0 && strcmp(o->format, "text") != 0)
		return zs_make_error(err, 0, "invalid format: %s (text or json)", o->format);
	if (zs_image_info(dir, &in, err) < 0)
		return -1;
	if (strcmp(o->format, "json") == 0)
		info_json(dir, &in);
	else
		info_text(dir, &in);
	zs_image_info_free(&in);
	return 0;
}

static int cmd_check(const char *dir, const struct image_opts *o, zs_error_t *err)
{
	cleanup_config struct zs_config *cfg = NULL;

	if (zs_image_check(dir, err) < 0)
		return -1;
	if (o->config && zs_config_load(o->config, o->config, &cfg, err) < 0)
		return -1;
	if (cfg && zs_image_check_config(-1, dir, cfg, o->config, err) < 0)
		return -1;
	printf("%s: ok\n", dir);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_flatten(const char *leaf, const char *out, zs_error_t *err)
{
	struct zs_flatten_stats st;
	double t0 = now(), secs;

	if (zs_image_flatten_to(leaf, out, &st, err) < 0)
		return -1;
	secs = now() - t0;
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
	if (zs_check_args("image", argc - first, 1, -1, err) < 0)
		return -1;
	sub = argv[first];
	n = argc - first - 1;
	if (strcmp(sub, "info") == 0 || strcmp(sub, "check") == 0) {
		if (zs_check_args(strcmp(sub, "info") == 0 ? "image info" : "image check", n, 1, 1, err) < 0)
			return -1;
		return sub[0] == 'i' ? cmd_info(argv[first + 1], &o, err) : cmd_check(argv[first + 1], &o, err);
	}
	if (strcmp(sub, "flatten") == 0) {
		if (zs_check_args("image flatten", n, 2, 2, err) < 0)
			return -1;
		return cmd_flatten(argv[first + 1], argv[first + 2], err);
	}
	return zs_make_error(err, -EINVAL, "image: unknown command '%s' (info, check or flatten)", sub);
}
