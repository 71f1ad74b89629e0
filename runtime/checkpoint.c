/* zanshin checkpoint — options as runc 1.1; the CRIU path is its own issue. */
#include <errno.h>
#include "cli.h"

static const struct zs_optdef opts[] = {
    {"image-path", 0, true, 1, "path for saving criu image files"},
    {"work-path", 0, true, 1, "path for saving work files and logs"},
    {"parent-path", 0, true, 1, "path for previous criu image files in pre-dump"},
    {"leave-running", 0, false, 1, "leave the process running after checkpointing"},
    {"tcp-established", 0, false, 1, "allow open tcp connections"},
    {"ext-unix-sk", 0, false, 1, "allow external unix sockets"},
    {"shell-job", 0, false, 1, "allow shell jobs"},
    {"lazy-pages", 0, false, 1, "use userfaultfd to lazily restore memory pages"},
    {"status-fd", 0, true, 1, "criu writes \\0 to this FD once lazy-pages is ready"},
    {"page-server", 0, true, 1, "ADDRESS:PORT of the page server"},
    {"file-locks", 0, false, 1, "handle file locks, for safety"},
    {"pre-dump", 0, false, 1, "dump container's memory information only, leave the container running after this"},
    {"manage-cgroups-mode", 0, true, 1, "cgroups mode: 'soft' (default), 'full' and 'strict'"},
    {"empty-ns", 0, true, 1, "create a namespace, but don't restore its properties"},
    {"auto-dedup", 0, false, 1, "enable auto deduplication of memory images"},
    {"track-mem", 0, false, 1, "keep tracking memory after the checkpoint (zanshin)"},
    {NULL, 0, false, 0, NULL},
};

static int ignore(int id, const char *value, void *data)
{
	return 0;
}

ZS_VERB(checkpoint)
{
	int first, ret;

	ret = zs_parse_opts("checkpoint", opts, argc, argv, ignore, NULL, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("checkpoint (runc checkpoint)", "<container-id>", "checkpoint a running container",
			       opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("checkpoint", argc - first, 1, 1, err) < 0)
		return -1;
	return zs_make_error(err, ENOSYS, "checkpoint: not implemented yet in zanshin");
}
