/* zanshin state — print the state of a container (runc's JSON shape). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "zanshin/config.h"
#include "zanshin/container.h"

static const struct zs_optdef opts[] = {{NULL, 0, false, 0, NULL}};

static int none(int id, const char *v, void *d)
{
	return 0;
}

ZS_VERB(state)
{
	char *out = NULL;
	int first, ret;

	ret = zs_parse_opts("state", opts, argc, argv, none, NULL, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("state (runc state)", "<container-id>", "output the state of a container", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("state", argc - first, 1, 1, err) < 0)
		return -1;
	if (zs_validate_id(argv[first], err) < 0)
		return -1;
	ret = zs_container_state_json(g->root, argv[first], &out, err);
	if (ret < 0)
		return ret;
	printf("%s\n", out);
	free(out);
	return 0;
}
