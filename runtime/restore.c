/* zanshin restore — options as runc 1.1; the CRIU path is its own issue. */
#include <errno.h>

#include "cli.h"

static const struct zs_optdef opts[] = {
    {"console-socket", 0, true, 1, "path to an AF_UNIX socket which will receive the pty master fd"},
    {"image-path", 0, true, 1, "path to criu image files for restoring"},
    {"work-path", 0, true, 1, "path for saving work files and logs"},
    {"tcp-established", 0, false, 1, "allow open tcp connections"},
    {"ext-unix-sk", 0, false, 1, "allow external unix sockets"},
    {"shell-job", 0, false, 1, "allow shell jobs"},
    {"file-locks", 0, false, 1, "handle file locks, for safety"},
    {"manage-cgroups-mode", 0, true, 1, "cgroups mode: 'soft' (default), 'full' and 'strict'"},
    {"bundle", 'b', true, 1, "path to the root of the bundle directory"},
    {"detach", 'd', false, 1, "detach from the container's process"},
    {"pid-file", 0, true, 1, "specify the file to write the process id to"},
    {"no-subreaper", 0, false, 1, "disable the use of the subreaper used to reap reparented processes"},
    {"no-pivot", 0, false, 1, "do not use pivot root to jail process inside rootfs"},
    {"empty-ns", 0, true, 1, "create a namespace, but don't restore its properties"},
    {"auto-dedup", 0, false, 1, "enable auto deduplication of memory images"},
    {"lazy-pages", 0, false, 1, "use userfaultfd to lazily restore memory pages"},
    {"lsm-profile", 0, true, 1, "Specify an LSM profile to be used during restore"},
    {"lsm-mount-context", 0, true, 1, "Specify an LSM mount context to be used during restore"},
    {"track-mem", 0, false, 1, "start memory tracking at restore (zanshin)"},
    {NULL, 0, false, 0, NULL},
};

static int ignore(int id, const char *value, void *data)
{
	return 0;
}

ZS_VERB(restore)
{
	int first, ret;

	ret = zs_parse_opts("restore", opts, argc, argv, ignore, NULL, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("restore (runc restore)", "<container-id>",
			       "restore a container from a previous checkpoint", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("restore", argc - first, 1, 1, err) < 0)
		return -1;
	return zs_make_error(err, ENOSYS, "restore: not implemented yet in zanshin");
}
