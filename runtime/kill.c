/* zanshin kill — send a signal (name or number, default SIGTERM). */
#include <errno.h>

#include "cli.h"
#include "zanshin/config.h"
#include "zanshin/container.h"

enum { O_ALL = 1 };

static const struct zs_optdef opts[] = {
    {"all", 'a', false, O_ALL, "send the specified signal to all processes inside the container"},
    {NULL, 0, false, 0, NULL},
};

static int cb(int id, const char *v, void *p)
{
	*(bool *) p = zs_opt_bool(v);
	return 0;
}

ZS_VERB(kill)
{
	bool all = false;
	int first, ret, sig = 15;

	ret = zs_parse_opts("kill", opts, argc, argv, cb, &all, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("kill (runc kill)", "<container-id> [signal]",
			       "kill sends the specified signal (default: SIGTERM) to the container's init process",
			       opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("kill", argc - first, 1, 2, err) < 0)
		return -1;
	if (zs_validate_id(argv[first], err) < 0)
		return -1;
	if (argc - first == 2) {
		sig = zs_signal_from_string(argv[first + 1]);
		if (sig < 0)
			return zs_make_error(err, -EINVAL, "unknown signal \"%s\"", argv[first + 1]);
	}
	return zs_container_kill(g->root, argv[first], sig, all, err);
}
