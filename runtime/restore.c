/* zanshin restore — runc 1.1's options, plus memory tracking from the
 * restore on (--track-mem, default on where the kernel can track). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "zanshin/checkpoint.h"

enum {
	O_CONSOLE = 1,
	O_IMAGE,
	O_WORK,
	O_TCP,
	O_EXT_UNIX,
	O_SHELL,
	O_LOCKS,
	O_CG_MODE,
	O_BUNDLE,
	O_DETACH,
	O_PID_FILE,
	O_NO_SUBREAPER,
	O_NO_PIVOT,
	O_EMPTY_NS,
	O_DEDUP,
	O_LAZY,
	O_LAZY_LOCAL,
	O_KSM,
	O_LSM_PROFILE,
	O_LSM_MOUNT,
	O_TRACK,
	O_NO_TRACK,
	O_TIMEOUT,
};

static const struct zs_optdef opts[] = {
    {"console-socket", 0, true, O_CONSOLE, "path to an AF_UNIX socket which will receive the pty master fd"},
    {"image-path", 0, true, O_IMAGE, "path to criu image files for restoring (default: ./checkpoint)"},
    {"work-path", 0, true, O_WORK, "path for saving work files and logs (default: the image path)"},
    {"tcp-established", 0, false, O_TCP, "allow open tcp connections"},
    {"ext-unix-sk", 0, false, O_EXT_UNIX, "allow external unix sockets"},
    {"shell-job", 0, false, O_SHELL, "allow shell jobs"},
    {"file-locks", 0, false, O_LOCKS, "handle file locks, for safety"},
    {"manage-cgroups-mode", 0, true, O_CG_MODE, "cgroups mode: 'soft' (default), 'full', 'strict' or 'ignore'"},
    {"bundle", 'b', true, O_BUNDLE, "path to the root of the bundle directory"},
    {"detach", 'd', false, O_DETACH, "detach from the container's process"},
    {"pid-file", 0, true, O_PID_FILE, "specify the file to write the process id to"},
    {"no-subreaper", 0, false, O_NO_SUBREAPER, "disable the use of the subreaper used to reap reparented processes"},
    {"no-pivot", 0, false, O_NO_PIVOT, "do not use pivot root to jail process inside rootfs"},
    {"empty-ns", 0, true, O_EMPTY_NS, "create a namespace, but don't restore its properties ('network')"},
    {"auto-dedup", 0, false, O_DEDUP, "enable auto deduplication of memory images"},
    {"lazy-pages", 0, false, O_LAZY, "use userfaultfd to lazily restore memory pages"},
    {"lazy", 0, false, O_LAZY_LOCAL,
     "run at once and fill private memory from the images on first touch and in the background, tracking kept "
     "(zanshin; docs/lazy-restore.md)"},
    {"ksm", 0, false, O_KSM,
     "let the kernel's KSM merge the restored memory with identical pages of other processes, e.g. containers "
     "restored from the same checkpoint (zanshin prototype; needs /sys/kernel/mm/ksm/run = 1; a merged page "
     "reads as written to memory tracking: the next checkpoint stores it)"},
    {"lsm-profile", 0, true, O_LSM_PROFILE, "Specify an LSM profile to be used during restore"},
    {"lsm-mount-context", 0, true, O_LSM_MOUNT, "Specify an LSM mount context to be used during restore"},
    {"track-mem", 0, false, O_TRACK,
     "track memory from the restore on, so that the next checkpoint is a diff (zanshin; default on where the "
     "kernel can track, see track_mem in zanshin.json(5))"},
    {"no-track-mem", 0, false, O_NO_TRACK, "do not track memory after the restore (zanshin)"},
    {"timeout", 0, true, O_TIMEOUT,
     "seconds CRIU may take before it is killed (default: restore_timeout of zanshin.json, 600; 0 = none)"},
    {NULL, 0, false, 0, NULL},
};

static const char *timeout_arg;

static int on_opt(int id, const char *v, void *data)
{
	struct zs_restore_opts *o = data;

	switch (id) {
	case O_CONSOLE:
		o->console_socket = v;
		break;
	case O_IMAGE:
		o->c.image_path = v;
		break;
	case O_WORK:
		o->c.work_path = v;
		break;
	case O_TCP:
		o->c.tcp_established = zs_opt_bool(v);
		break;
	case O_EXT_UNIX:
		o->c.ext_unix_sk = zs_opt_bool(v);
		break;
	case O_SHELL:
		o->c.shell_job = zs_opt_bool(v);
		break;
	case O_LOCKS:
		o->c.file_locks = zs_opt_bool(v);
		break;
	case O_CG_MODE:
		o->c.manage_cgroups_mode = v;
		break;
	case O_BUNDLE:
		o->bundle = v;
		break;
	case O_DETACH:
		o->detach = zs_opt_bool(v);
		break;
	case O_PID_FILE:
		o->pid_file = v;
		break;
	case O_NO_SUBREAPER:
		o->no_subreaper = zs_opt_bool(v);
		break;
	case O_NO_PIVOT:
		o->no_pivot = zs_opt_bool(v);
		break;
	case O_EMPTY_NS:
		o->c.empty_ns = v;
		break;
	case O_DEDUP:
		o->c.auto_dedup = zs_opt_bool(v);
		break;
	case O_LAZY:
		o->c.lazy_pages = zs_opt_bool(v);
		break;
	case O_LAZY_LOCAL:
		o->lazy = zs_opt_bool(v);
		break;
	case O_KSM:
		o->ksm = zs_opt_bool(v);
		break;
	case O_LSM_PROFILE:
		o->lsm_profile = v;
		break;
	case O_LSM_MOUNT:
		o->lsm_mount_context = v;
		break;
	case O_TRACK:
		o->track_mem = zs_opt_bool(v) ? 1 : 0;
		break;
	case O_NO_TRACK:
		o->track_mem = zs_opt_bool(v) ? 0 : 1;
		break;
	case O_TIMEOUT:
		timeout_arg = v;
		break;
	}
	return 0;
}

ZS_VERB(restore)
{
	struct zs_restore_opts o = {.track_mem = -1, .timeout = -1};
	int first, ret, status = 0;

	ret = zs_parse_opts("restore", opts, argc, argv, on_opt, &o, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("restore (runc restore)", "<container-id>",
			       "restore a container from a previous checkpoint", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("restore", argc - first, 1, 1, err) < 0)
		return -1;
	if (timeout_arg) {
		char *end;
		errno = 0;
		o.timeout = strtol(timeout_arg, &end, 10);
		if (errno || *end || end == timeout_arg || o.timeout < 0 || o.timeout > 366L * 86400)
			return zs_make_error(err, -EINVAL, "--timeout: `%s` is not a number of seconds", timeout_arg);
	}
	if (o.track_mem == 1 && o.c.auto_dedup)
		return zs_make_error(err, -EINVAL,
				     "--track-mem and --auto-dedup cannot be used together: the restored image is the "
				     "tracking baseline and must stay intact");
	o.c.root = g->root;
	o.c.criu = g->criu;
	o.c.remnant_root = g->remnant_root;
	o.c.id = argv[first];
	ret = zs_container_restore(&o, &status, err);
	if (ret < 0)
		return ret;
	return o.detach ? 0 : status;
}
