/* zanshin run — create + start; in the foreground unless --detach, exiting
 * with the container's exit code. */
#include "cli.h"
#include "create_opts.h"
#include "zanshin/container.h"

ZS_VERB(run)
{
	struct zs_create_opts o = {0};
	int first, ret, status = 0;

	ret = zs_parse_create_opts("run", argc, argv, &o, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_create_usage("run (runc run)", "create and run a container");
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("run", argc - first, 1, 1, err) < 0)
		return -1;
	o.root = g->root;
	o.id = argv[first];
	ret = zs_container_create(&o, true, &status, err);
	return ret < 0 ? ret : status;
}
