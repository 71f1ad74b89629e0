/* zanshin start — let a created container's init exec its process. */
#include "cli.h"
#include "zanshin/container.h"

static const struct zs_optdef opts[] = {{NULL, 0, false, 0, NULL}};

static int none(int id, const char *v, void *d)
{
	return 0;
}

ZS_VERB(start)
{
	int first, ret;

	ret = zs_parse_opts("start", opts, argc, argv, none, NULL, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("start (runc start)", "<container-id>",
			       "executes the user defined process in a created container", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("start", argc - first, 1, 1, err) < 0)
		return -1;
	return zs_container_start(g->root, argv[first], err);
}
