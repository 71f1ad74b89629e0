/* zanshin delete — remove a stopped (or, with --force, any) container. */
#include "cli.h"
#include "zanshin/container.h"

static const struct zs_optdef opts[] = {
    {"force", 'f', false, 1, "forcibly deletes the container if it is still running (uses SIGKILL)"},
    {NULL, 0, false, 0, NULL},
};

static int cb(int id, const char *v, void *p)
{
	*(bool *) p = zs_opt_bool(v);
	return 0;
}

ZS_VERB(delete)
{
	bool force = false;
	int first, ret;

	ret = zs_parse_opts("delete", opts, argc, argv, cb, &force, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("delete (runc delete)", "<container-id>",
			       "delete any resources held by the container often used with detached container", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("delete", argc - first, 1, 1, err) < 0)
		return -1;
	return zs_container_delete(g->root, argv[first], force, err);
}
