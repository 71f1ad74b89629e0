/* zanshin ps — processes of a container: --format json (array of pids) or
 * the lines of ps(1) for them. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "zanshin/cgroup.h"
#include "zanshin/container.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

static const struct zs_optdef opts[] = {
    {"format", 'f', true, 1, "select one of: table or json (default: \"table\")"},
    {NULL, 0, false, 0, NULL},
};

static int cb(int id, const char *v, void *p)
{
	*(const char **) p = v;
	return 0;
}

static bool has_pid(const pid_t *pids, size_t n, long pid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Run ps(1) with ARGS and print the header and the container's lines. */
static int print_ps(char **args, int nargs, const pid_t *pids, size_t n, zs_error_t *err)
{
	cleanup_free char *cmd = xstrdup("ps");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int pidcol = -1, i;
	FILE *f;

	for (i = 0; i < nargs; i++) {
		char *q = xasprintf("%s '%s'", cmd, args[i]);
		if (strchr(args[i], '\''))
			return zs_make_error(err, -EINVAL, "invalid ps argument");
		free(cmd);
		cmd = q;
	}
	if (nargs == 0) {
		free(cmd);
		cmd = xstrdup("ps -ef");
	}
	f = popen(cmd, "re");
	if (f == NULL)
		return zs_make_error(err, errno, "run ps");
	while (getline(&line, &cap, f) > 0) {
		if (pidcol < 0) {
			char *copy = xstrdup(line), *tok, *save = NULL;
			int c = 0;
			for (tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save), c++)
				if (strcmp(tok, "PID") == 0)
					pidcol = c;
			free(copy);
			fputs(line, stdout);
			if (pidcol < 0) {
				pclose(f);
				return zs_make_error(err, -EINVAL, "couldn't find PID field in ps output");
			}
			continue;
		}
		{
			char *copy = xstrdup(line), *tok, *save = NULL;
			int c = 0;
			for (tok = strtok_r(copy, " \t\n", &save); tok && c < pidcol;
			     tok = strtok_r(NULL, " \t\n", &save))
				c++;
			if (tok && has_pid(pids, n, strtol(tok, NULL, 10)))
				fputs(line, stdout);
			free(copy);
		}
	}
	pclose(f);
	return 0;
}

ZS_VERB(ps)
{
	cleanup_status struct zs_status *st = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	cleanup_free pid_t *pids = NULL;
	const char *format = "table";
	size_t n = 0, i;
	int first, ret;

	ret = zs_parse_opts("ps", opts, argc, argv, cb, &format, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("ps (runc ps)", "<container-id> [ps options]",
			       "ps displays the processes running inside a container", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("ps", argc - first, 1, -1, err) < 0)
		return -1;
	ret = zs_container_load(g->root, argv[first], &st, &cg, err);
	if (ret < 0)
		return ret;
	if (cg && strcmp(zs_container_status(st), "stopped") != 0)
		ret = zs_cgroup_pids(cg, true, &pids, &n, err);
	if (ret < 0)
		return ret;
	if (strcmp(format, "json") == 0) {
		printf("[");
		for (i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int) pids[i]);
		printf("]\n");
		return 0;
	}
	if (strcmp(format, "table") != 0)
		return zs_make_error(err, -EINVAL, "invalid format option");
	fflush(stdout);
	return print_ps(argv + first + 1, argc - first - 1, pids, n, err);
}
