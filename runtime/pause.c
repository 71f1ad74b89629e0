/* zanshin pause — freeze every process of the container. */
#include "cli.h"
#include "zanshin/container.h"

static const struct zs_optdef opts[] = {{NULL, 0, false, 0, NULL}};

static int none(int id, const char *v, void *d)
{
	return 0;
}

ZS_VERB(pause)
{
	int first, ret;

	ret = zs_parse_opts("pause", opts, argc, argv, none, NULL, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("pause (runc pause)", "<container-id>",
			       "pause suspends all processes inside the container", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("pause", argc - first, 1, 1, err) < 0)
		return -1;
	return zs_container_pause(g->root, argv[first], err);
}
