/* zanshin create — create a container; its init waits for `start`. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "create_opts.h"
#include "zanshin/container.h"

ZS_VERB(create)
{
	struct zs_create_opts o = {0};
	int first, ret, status = 0;

	ret = zs_parse_create_opts("create", argc, argv, &o, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_create_usage("create (runc create)", "create a container");
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("create", argc - first, 1, 1, err) < 0)
		return -1;
	o.root = g->root;
	o.id = argv[first];
	o.detach = true;
	return zs_container_create(&o, false, &status, err);
}
