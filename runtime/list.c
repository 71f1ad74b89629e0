/* zanshin list — containers under --root: table, --format json, or -q. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
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

/* The table, runc's columns, each as wide as its widest value (a 64-character
 * id or a long bundle path does not push the other columns out of line). */
struct row {
	char *id, *status, *bundle, *created, *owner;
	int pid;
};

static int col(const struct row *rows, size_t n, size_t off, const char *head, int min)
{
	int w = (int) strlen(head) > min ? (int) strlen(head) : min;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *v = *(char *const *) ((const char *) &rows[i] + off);
		if ((int) strlen(v) > w)
			w = (int) strlen(v);
	}
	return w;
}

static void print_table(struct row *rows, size_t n)
{
	int wi = col(rows, n, offsetof(struct row, id), "ID", 12);
	int wb = col(rows, n, offsetof(struct row, bundle), "BUNDLE", 40);
	int wc = col(rows, n, offsetof(struct row, created), "CREATED", 30);
	size_t i;

	printf("%-*s %-10s %-10s %-*s %-*s %s\n", wi, "ID", "PID", "STATUS", wb, "BUNDLE", wc, "CREATED", "OWNER");
	for (i = 0; i < n; i++)
		printf("%-*s %-10d %-10s %-*s %-*s %s\n", wi, rows[i].id, rows[i].pid, rows[i].status, wb,
		       rows[i].bundle, wc, rows[i].created, rows[i].owner);
}

static void rows_free(struct row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].id);
		free(rows[i].status);
		free(rows[i].bundle);
		free(rows[i].created);
		free(rows[i].owner);
	}
	free(rows);
}

static void add_row(struct row **rows, size_t *n, const struct zs_status *st, const char *status)
{
	struct row *r;

	*rows = xrealloc(*rows, sizeof(**rows) * (*n + 1));
	r = &(*rows)[(*n)++];
	r->id = xstrdup(st->id);
	r->pid = strcmp(status, "stopped") ? st->pid : 0;
	r->status = xstrdup(status);
	r->bundle = xstrdup(st->bundle ? st->bundle : "");
	r->created = xstrdup(st->created ? st->created : "");
	r->owner = xstrdup(st->owner && *st->owner ? st->owner : "root");
}

ZS_VERB(list)
{
	struct lopts l = {.format = "table"};
	cleanup_jgen zs_jgen *gen = NULL;
	char **ids = NULL, **id;
	struct row *rows = NULL;
	size_t nrows = 0;
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
			add_row(&rows, &nrows, st, status);
		}
	}
	zs_free_string_array(ids);
	if (!gen && !l.quiet)
		print_table(rows, nrows);
	rows_free(rows, nrows);
	if (gen) {
		cleanup_free char *out = NULL;
		zs_jgen_array_close(gen);
		out = zs_jgen_result(gen, NULL);
		printf("%s\n", strcmp(out, "[]") == 0 ? "null" : out);
	}
	return 0;
}
