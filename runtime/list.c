/* zanshin list — containers under --root: table, --format json, or -q. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "zanshin/container.h"
#include "zanshin/json.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

enum { O_FORMAT = 1, O_QUIET };

static const struct zs_optdef opts[] = {
    {"format", 'f', true, O_FORMAT, "select one of: table or json (default: \"table\")"},
    {"quiet", 'q', false, O_QUIET, "display only container IDs"},
    {NULL, 0, false, 0, NULL},
};

struct lopts {
	const char *format;
	bool quiet;
};

static int cb(int id, const char *v, void *p)
{
	struct lopts *l = p;

	if (id == O_FORMAT)
		l->format = v;
	else if (id == O_QUIET)
		l->quiet = zs_opt_bool(v);
	return 0;
}

static void print_table_row(const char *id, int pid, const char *status, const char *bundle, const char *created,
			    const char *owner)
{
	printf("%-12s %-10d %-10s %-40s %-30s %s\n", id, pid, status, bundle, created, owner);
}

ZS_VERB(list)
{
	struct lopts l = {.format = "table"};
	cleanup_jgen zs_jgen *gen = NULL;
	char **ids = NULL, **id;
	int first, ret;

	ret = zs_parse_opts("list", opts, argc, argv, cb, &l, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("list (runc list)", "", "lists containers started by runc with the given root", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (strcmp(l.format, "table") != 0 && strcmp(l.format, "json") != 0)
		return zs_make_error(err, -EINVAL, "invalid format option");
	ret = zs_status_list(g->root, &ids, err);
	if (ret < 0)
		return ret;
	if (strcmp(l.format, "json") == 0) {
		gen = zs_jgen_new(false);
		zs_jgen_array_open(gen);
	} else if (!l.quiet) {
		printf("%-12s %-10s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
	}
	for (id = ids; *id; id++) {
		cleanup_status struct zs_status *st = NULL;
		cleanup_error zs_error_t e = NULL;
		const char *status;
		if (zs_status_load(g->root, *id, &st, &e) < 0)
			continue;
		status = zs_container_status(st);
		if (l.quiet && !gen) {
			printf("%s\n", st->id);
		} else if (gen) {
			zs_jgen_map_open(gen);
			zs_container_state_fields(gen, st, status, true);
			zs_jgen_map_close(gen);
		} else {
			print_table_row(st->id, strcmp(status, "stopped") ? st->pid : 0, status, st->bundle,
					st->created, st->owner && *st->owner ? st->owner : "root");
		}
	}
	zs_free_string_array(ids);
	if (gen) {
		cleanup_free char *out = NULL;
		zs_jgen_array_close(gen);
		out = zs_jgen_result(gen, NULL);
		printf("%s\n", strcmp(out, "[]") == 0 ? "null" : out);
	}
	return 0;
}
