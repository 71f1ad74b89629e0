/* zanshin remnant — the per-node remnant store (lib/remnant*.c):
 *   list [ID] | show ID | verify ID [GEN] | gc [--dry-run] | merge ID [GEN]
 *   rm ID [GEN] [--force] [--dependents]
 *   begin ID | commit ID TMPDIR | import ID DIR | export ID GEN DIR
 *   save-bundle ID BUNDLE [--rootfs DIR]
 * each with --format json|table (before or after the command) and --help.
 * GEN: a generation name, an image id, or a unique prefix of either (or of
 * the hex part of a name, as `list` shows it). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "zanshin/config.h"
#include "zanshin/json.h"
#include "zanshin/remnant.h"
#include "zanshin/utils.h"

enum { O_FORMAT = 1, O_DRY_RUN, O_ROOTFS, O_FORCE, O_DEPENDENTS };

struct ropts {
	bool json;
	bool dry_run;
	bool force, dependents;
	const char *rootfs;
	int bad_format;
	const char *format;
};

static const struct zs_optdef fmt_opts[] = {
    {"format", 'f', true, O_FORMAT, "output format: table (default) or json"},
    {NULL, 0, false, 0, NULL},
};
static const struct zs_optdef gc_opts[] = {
    {"format", 'f', true, O_FORMAT, "output format: table (default) or json"},
    {"dry-run", 0, false, O_DRY_RUN, "report what would be removed, remove nothing"},
    {NULL, 0, false, 0, NULL},
};
static const struct zs_optdef rm_opts[] = {
    {"format", 'f', true, O_FORMAT, "output format: table (default) or json"},
    {"force", 0, false, O_FORCE, "also remove a live container's tracking baseline (its next checkpoint is then full)"},
    {"dependents", 0, false, O_DEPENDENTS, "also remove the generations that depend on the one named"},
    {NULL, 0, false, 0, NULL},
};
static const struct zs_optdef bundle_opts[] = {
    {"format", 'f', true, O_FORMAT, "output format: table (default) or json"},
    {"rootfs", 0, true, O_ROOTFS, "rootfs to keep (default: root.path of the bundle's config.json)"},
    {NULL, 0, false, 0, NULL},
};

struct sub {
	const char *name, *args, *desc;
	const struct zs_optdef *opts;
	int min, max;
	int (*fn)(struct zs_remnant *r, struct ropts *o, char **args, int n, zs_error_t *err);
};

static int cb(int id, const char *value, void *data)
{
	struct ropts *o = data;

	switch (id) {
	case O_FORMAT:
		o->format = value;
		o->json = strcmp(value, "json") == 0;
		o->bad_format = strcmp(value, "json") != 0 && strcmp(value, "table") != 0;
		break;
	case O_DRY_RUN:
		o->dry_run = zs_opt_bool(value);
		break;
	case O_ROOTFS:
		o->rootfs = value;
		break;
	case O_FORCE:
		o->force = zs_opt_bool(value);
		break;
	case O_DEPENDENTS:
		o->dependents = zs_opt_bool(value);
		break;
	}
	return 0;
}

static void gen_json(zs_jgen *j, const struct zs_remnant_gen *g)
{
	zs_jgen_map_open(j);
	zs_jgen_kv_string(j, "container", g->container);
	zs_jgen_kv_string(j, "name", g->name);
	zs_jgen_kv_string(j, "path", g->path);
	zs_jgen_kv_string(j, "image_id", g->image_id);
	zs_jgen_key(j, "parent_image_id");
	g->parent_image_id ? zs_jgen_string(j, g->parent_image_id) : zs_jgen_null(j);
	zs_jgen_key(j, "parent");
	g->parent ? zs_jgen_string(j, g->parent) : zs_jgen_null(j);
	zs_jgen_kv_string(j, "kind", g->diff ? "diff" : "full");
	zs_jgen_kv_int(j, "chain_len", g->chain_len);
	zs_jgen_key(j, "pages");
	zs_jgen_uint(j, g->pages);
	zs_jgen_key(j, "bytes");
	zs_jgen_uint(j, g->bytes);
	zs_jgen_kv_string(j, "created", g->created);
	zs_jgen_kv_string(j, "node", g->node);
	zs_jgen_map_close(j);
}

/* The error's whole text (with the errno's) as a JSON string. */
static void json_error(zs_jgen *j, zs_error_t e)
{
	cleanup_free char *text = zs_error_text(e);

	zs_jgen_string(j, text);
}

static void print_json(zs_jgen *j)
{
	cleanup_free char *s = zs_jgen_result(j, NULL);

	printf("%s\n", s);
}

/* Rows of a table, printed once all are known: columns as wide as their
 * widest value (64-character container ids included). */
struct rows {
	struct zs_remnant_gen **g;
	size_t n;
};

static void rows_add(struct rows *t, struct zs_remnant_gen *g)
{
	t->g = xrealloc(t->g, sizeof(*t->g) * (t->n + 1));
	t->g[t->n++] = g;
}

static int width(const struct rows *t, bool container, int min)
{
	size_t i;
	int w = min;

	for (i = 0; i < t->n; i++) {
		int l = (int) strlen(container ? t->g[i]->container : t->g[i]->name);
		if (l > w)
			w = l;
	}
	return w;
}

static void table_print(const struct rows *t)
{
	int cw = width(t, true, 9), gw = width(t, false, 10);
	size_t i;

	printf("%-*s  %-*s  %-4s %5s %10s %12s  %-20s  %s\n", cw, "CONTAINER", gw, "GENERATION", "KIND", "CHAIN",
	       "PAGES", "BYTES", "CREATED", "PARENT");
	for (i = 0; i < t->n; i++) {
		const struct zs_remnant_gen *g = t->g[i];
		printf("%-*s  %-*s  %-4s %5u %10llu %12llu  %-20s  %s\n", cw, g->container, gw, g->name,
		       g->diff ? "diff" : "full", g->chain_len, (unsigned long long) g->pages,
		       (unsigned long long) g->bytes, g->created, g->parent ? g->parent : "-");
	}
}

static void rows_free(struct rows *t)
{
	zs_remnant_gens_free(t->g, t->n);
	t->g = NULL;
	t->n = 0;
}

/* One generation printed (commit, import, merge). */
static void print_gen(struct ropts *o, const struct zs_remnant_gen *g)
{
	cleanup_jgen zs_jgen *j = NULL;
	struct rows t = {.g = (struct zs_remnant_gen **) &g, .n = 1};

	if (!o->json) {
		table_print(&t);
		return;
	}
	j = zs_jgen_new(true);
	gen_json(j, g);
	print_json(j);
}

/* ID's generations: into J (JSON) or T (table rows). */
static int list_gens(struct zs_remnant *r, zs_jgen *j, struct rows *t, const char *id, zs_error_t *err)
{
	struct zs_remnant_gen **gens = NULL;
	size_t n, i;

	if (zs_remnant_list(r, id, &gens, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (j) {
			gen_json(j, gens[i]);
			zs_remnant_gen_free(gens[i]);
		} else {
			rows_add(t, gens[i]);
		}
	}
	free(gens);
	return 0;
}

/* A container id the store has no remnant of is an error. */
static int known(struct zs_remnant *r, const char *id, zs_error_t *err)
{
	if (zs_remnant_exists(r, id))
		return 0;
	if (zs_validate_id(id, err) < 0)
		return -1;
	return zs_make_error(err, -ENOENT, "container `%s`: no remnant in `%s`", id, zs_remnant_root(r));
}

static int do_list(struct zs_remnant *r, struct ropts *o, char **a, int n, zs_error_t *err)
{
	cleanup_jgen zs_jgen *j = o->json ? zs_jgen_new(true) : NULL;
	struct rows t = {0};
	char **ids = NULL;
	size_t nids = 0, i;
	int ret = 0;

	if (n == 1) {
		if (known(r, a[0], err) < 0)
			return -1;
		ids = xzalloc(2 * sizeof(char *));
		ids[0] = xstrdup(a[0]);
		nids = 1;
	} else if (zs_remnant_containers(r, &ids, &nids, err) < 0) {
		return -1;
	}
	if (j)
		zs_jgen_array_open(j);
	for (i = 0; i < nids && ret == 0; i++)
		ret = list_gens(r, j, &t, ids[i], err);
	zs_free_string_array(ids);
	if (ret == 0 && j) {
		zs_jgen_array_close(j);
		print_json(j);
	} else if (ret == 0) {
		table_print(&t);
	}
	rows_free(&t);
	return ret;
}

static void bundle_out(zs_jgen *j, const struct zs_remnant_bundle_info *b, const char *path)
{
	if (j == NULL) {
		printf("bundle: %s (from %s)\nrootfs: %s%s%s\n", path ? path : "-", b->source ? b->source : "-",
		       b->rootfs_kept ? "kept" : "not kept", b->reason ? ": " : "", b->reason ? b->reason : "");
		return;
	}
	zs_jgen_map_open(j);
	zs_jgen_kv_string(j, "path", path);
	zs_jgen_kv_string(j, "source", b->source);
	zs_jgen_kv_string(j, "saved", b->saved);
	zs_jgen_kv_string(j, "rootfs_source", b->rootfs_source);
	zs_jgen_key(j, "rootfs_kept");
	zs_jgen_bool(j, b->rootfs_kept);
	zs_jgen_key(j, "rootfs_bytes");
	zs_jgen_uint(j, b->rootfs_bytes);
	zs_jgen_key(j, "reason");
	b->reason ? zs_jgen_string(j, b->reason) : zs_jgen_null(j);
	zs_jgen_map_close(j);
}

static int do_show(struct zs_remnant *r, struct ropts *o, char **a, int n, zs_error_t *err)
{
	cleanup_jgen zs_jgen *j = o->json ? zs_jgen_new(true) : NULL;
	struct zs_remnant_bundle_info b;
	cleanup_free char *bpath = NULL;
	struct rows t = {0};
	int have;

	if (known(r, a[0], err) < 0)
		return -1;
	have = zs_remnant_bundle_info(r, a[0], &b, err);
	if (have < 0 || (have > 0 && zs_remnant_bundle(r, a[0], &bpath, err) < 0))
		return -1;
	if (j) {
		zs_jgen_map_open(j);
		zs_jgen_kv_string(j, "container", a[0]);
		zs_jgen_key(j, "generations");
		zs_jgen_array_open(j);
	}
	if (list_gens(r, j, &t, a[0], err) < 0)
		goto fail;
	if (!j)
		table_print(&t);
	rows_free(&t);
	if (j) {
		zs_jgen_array_close(j);
		zs_jgen_key(j, "bundle");
		have ? bundle_out(j, &b, bpath) : zs_jgen_null(j);
		zs_jgen_map_close(j);
		print_json(j);
	} else if (have) {
		bundle_out(NULL, &b, bpath);
	}
	if (have)
		zs_remnant_bundle_info_free(&b);
	return 0;
fail:
	rows_free(&t);
	if (have)
		zs_remnant_bundle_info_free(&b);
	return -1;
}

static void verify_json(const char *id, const struct zs_remnant_gen *g, zs_error_t err)
{
	cleanup_jgen zs_jgen *j = zs_jgen_new(true);

	zs_jgen_map_open(j);
	zs_jgen_kv_string(j, "container", id);
	zs_jgen_key(j, "generation");
	g ? zs_jgen_string(j, g->name) : zs_jgen_null(j);
	zs_jgen_key(j, "image_id");
	g ? zs_jgen_string(j, g->image_id) : zs_jgen_null(j);
	zs_jgen_key(j, "chain_len");
	g ? zs_jgen_uint(j, g->chain_len) : zs_jgen_null(j);
	zs_jgen_key(j, "ok");
	zs_jgen_bool(j, err == NULL);
	zs_jgen_key(j, "verified");
	zs_jgen_bool(j, err == NULL);
	zs_jgen_key(j, "error");
	err ? json_error(j, err) : zs_jgen_null(j);
	zs_jgen_map_close(j);
	print_json(j);
}

static int do_verify(struct zs_remnant *r, struct ropts *o, char **a, int n, zs_error_t *err)
{
	struct zs_remnant_gen *g = NULL;
	int ret;

	ret = zs_remnant_get(r, a[0], n > 1 ? a[1] : NULL, &g, err);
	if (ret == 0)
		ret = zs_remnant_verify(r, g, err);
	if (o->json)
		verify_json(a[0], g, ret < 0 ? *err : NULL);
	else if (ret == 0)
		printf("%s %s: verified (chain of %u)\n", g->container, g->name, g->chain_len);
	zs_remnant_gen_free(g);
	return ret;
}

static int do_merge(struct zs_remnant *r, struct ropts *o, char **a, int n, zs_error_t *err)
{
	struct zs_remnant_gen *g = NULL, *m = NULL;
	int ret;

	if (zs_remnant_get(r, a[0], n > 1 ? a[1] : NULL, &g, err) < 0)
		return -1;
	ret = zs_remnant_merge(r, a[0], g, &m, err);
	if (ret == 0)
		print_gen(o, m);
	zs_remnant_gen_free(g);
	zs_remnant_gen_free(m);
	return ret;
}

static int do_gc(struct zs_remnant *r, struct ropts *o, char **a, int n, zs_error_t *err)
{
	struct zs_remnant_gc_opts go = {.dry_run = o->dry_run};
	struct zs_remnant_gc_item *items = NULL;
	cleanup_jgen zs_jgen *j = o->json ? zs_jgen_new(true) : NULL;
	size_t ni, i;

	if (zs_remnant_gc(r, &go, &items, &ni, err) < 0)
		return -1;
	if (j)
		zs_jgen_array_open(j);
	for (i = 0; i < ni; i++) {
		if (j == NULL) {
			printf("%s %s/%s: %s\n", o->dry_run ? "would remove" : "removed", items[i].container,
			       items[i].name, items[i].reason);
			continue;
		}
		zs_jgen_map_open(j);
		zs_jgen_kv_string(j, "container", items[i].container);
		zs_jgen_kv_string(j, "name", items[i].name);
		zs_jgen_kv_string(j, "reason", items[i].reason);
		zs_jgen_key(j, "bytes");
		zs_jgen_uint(j, items[i].bytes);
		zs_jgen_key(j, "removed");
		zs_jgen_bool(j, !o->dry_run);
		zs_jgen_map_close(j);
	}
	if (j) {
		zs_jgen_array_close(j);
		print_json(j);
	}
	zs_remnant_gc_items_free(items, ni);
	return 0;
}

static int do_rm(struct zs_remnant *r, struct ropts *o, char **a, int n, zs_error_t *err)
{
	struct zs_remnant_rm_opts ro = {.force = o->force, .dependents = o->dependents};
	cleanup_jgen zs_jgen *j = NULL;
	cleanup_free char *report = NULL;

	if (zs_remnant_rm(r, a[0], n > 1 ? a[1] : NULL, &ro, &report, err) < 0)
		return -1;
	if (!o->json) {
		printf("%s\n", report);
		return 0;
	}
	j = zs_jgen_new(true);
	zs_jgen_map_open(j);
	zs_jgen_kv_string(j, "container", a[0]);
	zs_jgen_key(j, "generation");
	n > 1 ? zs_jgen_string(j, a[1]) : zs_jgen_null(j);
	zs_jgen_kv_string(j, "removed", report);
	zs_jgen_map_close(j);
	print_json(j);
	return 0;
}

static int do_begin(struct zs_remnant *r, struct ropts *o, char **a, int n, zs_error_t *err)
{
	cleanup_free char *tmp = NULL;

	if (zs_remnant_gen_begin(r, a[0], &tmp, err) < 0)
		return -1;
	printf(o->json ? "{\"tmp_dir\": \"%s\"}\n" : "%s\n", tmp);
	return 0;
}

static int do_commit(struct zs_remnant *r, struct ropts *o, char **a, int n, zs_error_t *err)
{
	struct zs_remnant_gen *g = NULL;

	if (zs_remnant_gen_commit(r, a[0], a[1], &g, err) < 0)
		return -1;
	print_gen(o, g);
	zs_remnant_gen_free(g);
	return 0;
}

static int do_import(struct zs_remnant *r, struct ropts *o, char **a, int n, zs_error_t *err)
{
	struct zs_remnant_gen *g = NULL;

	if (zs_remnant_import(r, a[0], a[1], &g, err) < 0)
		return -1;
	print_gen(o, g);
	zs_remnant_gen_free(g);
	return 0;
}

static int do_export(struct zs_remnant *r, struct ropts *o, char **a, int n, zs_error_t *err)
{
	struct zs_remnant_gen *g = NULL;
	int ret;

	if (zs_remnant_get(r, a[0], a[1], &g, err) < 0)
		return -1;
	ret = zs_remnant_export(r, g, a[2], err);
	zs_remnant_gen_free(g);
	return ret;
}

static int do_save_bundle(struct zs_remnant *r, struct ropts *o, char **a, int n, zs_error_t *err)
{
	struct zs_remnant_bundle_info b;
	cleanup_free char *path = NULL;
	cleanup_jgen zs_jgen *j = o->json ? zs_jgen_new(true) : NULL;

	if (zs_remnant_save_bundle(r, a[0], a[1], o->rootfs, err) < 0)
		return -1;
	if (zs_remnant_bundle_info(r, a[0], &b, err) <= 0 || zs_remnant_bundle(r, a[0], &path, err) < 0)
		return -1;
	bundle_out(j, &b, path);
	if (j)
		print_json(j);
	zs_remnant_bundle_info_free(&b);
	return 0;
}

static const struct sub subs[] = {
    {"list", "[container-id]", "list the stored generations", fmt_opts, 0, 1, do_list},
    {"show", "<container-id>", "a container's generations and bundle", fmt_opts, 1, 1, do_show},
    {"verify", "<container-id> [generation|image-id]",
     "check a generation and its ancestors against their manifests (default: the newest)", fmt_opts, 1, 2, do_verify},
    {"gc", "", "remove old generations and leftovers (remnant settings in zanshin.json)", gc_opts, 0, 0, do_gc},
    {"merge", "<container-id> [generation|image-id]",
     "flatten a chain of diffs into one full generation and retire the chain", fmt_opts, 1, 2, do_merge},
    {"rm", "<container-id> [generation|image-id]",
     "remove a container's remnant, or one generation (a live container's baseline only with --force)", rm_opts, 1, 2,
     do_rm},
    {"begin", "<container-id>", "create a temporary directory for CRIU to dump into", fmt_opts, 1, 1, do_begin},
    {"commit", "<container-id> <tmp-dir>", "make a dumped temporary directory a generation", fmt_opts, 2, 2, do_commit},
    {"import", "<container-id> <image-dir>", "keep a copy of an image directory as a generation", fmt_opts, 2, 2,
     do_import},
    {"export", "<container-id> <generation|image-id> <out-dir>", "write a generation flattened to a full image",
     fmt_opts, 3, 3, do_export},
    {"save-bundle", "<container-id> <bundle-dir>", "keep the bundle (config.json and rootfs)", bundle_opts, 2, 2,
     do_save_bundle},
    {NULL, NULL, NULL, NULL, 0, 0, NULL},
};

static void usage(void)
{
	const struct sub *s;

	printf(
	    "NAME:\n   zanshin remnant - the per-node remnant store (checkpoint generations, bundles)\n\n"
	    "USAGE:\n   zanshin [--remnant-root DIR] remnant [--format json|table] COMMAND [options] [arguments...]\n"
	    "   (--format may also follow the COMMAND)\n\n"
	    "COMMANDS:\n");
	for (s = subs; s->name; s++)
		printf("   %-12s %s %s\n               %s\n", s->name, s->name, s->args, s->desc);
}

/* {"command": ..., "ok": false, "error": ...} on stdout; the error goes to
 * stderr as well, and the exit status is 1. */
static void error_json(const char *command, zs_error_t e)
{
	cleanup_jgen zs_jgen *j = zs_jgen_new(true);

	zs_jgen_map_open(j);
	zs_jgen_kv_string(j, "command", command);
	zs_jgen_key(j, "ok");
	zs_jgen_bool(j, false);
	zs_jgen_key(j, "error");
	json_error(j, e);
	zs_jgen_map_close(j);
	print_json(j);
}

/* --format VALUE (-f, --format=VALUE) before the command, as `zanshin
 * image` takes it: the number of arguments it used. */
static int leading_format(int argc, char **argv, struct ropts *o, zs_error_t *err)
{
	int i = 0;

	while (i < argc) {
		const char *a = argv[i];
		if (str_has_prefix(a, "--format=") || str_has_prefix(a, "-format=")) {
			cb(O_FORMAT, strchr(a, '=') + 1, o);
			i++;
		} else if (strcmp(a, "--format") == 0 || strcmp(a, "-format") == 0 || strcmp(a, "-f") == 0) {
			if (i + 1 >= argc)
				return zs_make_error(err, 0, "remnant: flag needs an argument: %s", a);
			cb(O_FORMAT, argv[i + 1], o);
			i += 2;
		} else {
			break;
		}
	}
	return i;
}

ZS_VERB(remnant)
{
	struct ropts o = {0};
	cleanup_free char *verb = NULL;
	struct zs_remnant *r = NULL;
	const struct sub *s;
	int first, ret, lead;

	lead = leading_format(argc, argv, &o, err);
	if (lead < 0)
		return -1;
	argc -= lead;
	argv += lead;
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "help") == 0) {
		usage();
		return argc < 1 && g ? zs_make_error(err, 0, "remnant: a command is required") : 0;
	}
	for (s = subs; s->name && strcmp(s->name, argv[0]) != 0; s++)
		;
	if (s->name == NULL)
		return zs_make_error(err, 0, "remnant: unknown command `%s` (see zanshin remnant --help)", argv[0]);
	verb = xasprintf("remnant %s", s->name);
	ret = zs_parse_opts(verb, s->opts, argc - 1, argv + 1, cb, &o, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage(verb, s->args, s->desc, s->opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (o.bad_format)
		return zs_make_error(err, 0, "invalid format option: %s (table or json)", o.format);
	if (zs_check_args(verb, argc - 1 - first, s->min, s->max, err) < 0)
		return -1;
	ret = zs_remnant_open(g ? g->remnant_root : NULL, &r, err);
	if (ret == 0) {
		zs_remnant_settle(r); /* what checkpoint/restore keep in the background */
		ret = s->fn(r, &o, argv + 1 + first, argc - 1 - first, err);
		zs_remnant_close(r);
	}
	/* with --format json a failure is JSON too (verify prints its own) */
	if (ret < 0 && o.json && s->fn != do_verify)
		error_json(s->name, *err);
	return ret;
}
