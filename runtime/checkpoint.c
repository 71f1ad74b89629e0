/* zanshin checkpoint — runc 1.1's options, plus diffs against the image
 * the container was restored from (--track-mem, --parent-path). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "zanshin/checkpoint.h"

enum {
	O_IMAGE = 1,
	O_WORK,
	O_PARENT,
	O_LEAVE,
	O_TCP,
	O_EXT_UNIX,
	O_SHELL,
	O_LAZY,
	O_STATUS_FD,
	O_PAGE_SERVER,
	O_PAGE_SERVER_FD,
	O_LOCKS,
	O_PRE_DUMP,
	O_CG_MODE,
	O_EMPTY_NS,
	O_DEDUP,
	O_TRACK,
	O_PRINT_STATS,
};

static const struct zs_optdef opts[] = {
    {"image-path", 0, true, O_IMAGE, "path for saving criu image files (default: ./checkpoint)"},
    {"work-path", 0, true, O_WORK, "path for saving work files and logs (default: the image path)"},
    {"parent-path", 0, true, O_PARENT,
     "path for previous criu image files in pre-dump, relative to --image-path; with zanshin also a "
     "checkpoint the container was restored from: the new image is a diff against it"},
    {"leave-running", 0, false, O_LEAVE, "leave the process running after checkpointing"},
    {"tcp-established", 0, false, O_TCP, "allow open tcp connections"},
    {"ext-unix-sk", 0, false, O_EXT_UNIX, "allow external unix sockets"},
    {"shell-job", 0, false, O_SHELL, "allow shell jobs"},
    {"lazy-pages", 0, false, O_LAZY, "use userfaultfd to lazily restore memory pages"},
    {"status-fd", 0, true, O_STATUS_FD, "criu writes \\0 to this FD once lazy-pages is ready"},
    {"page-server", 0, true, O_PAGE_SERVER, "ADDRESS:PORT of the page server"},
    {"page-server-fd", 0, true, O_PAGE_SERVER_FD,
     "with --lazy-pages: a connected socket to serve the pages on, instead of a TCP port (zanshin)"},
    {"file-locks", 0, false, O_LOCKS, "handle file locks, for safety"},
    {"pre-dump", 0, false, O_PRE_DUMP,
     "dump container's memory information only, leave the container running after this"},
    {"manage-cgroups-mode", 0, true, O_CG_MODE, "cgroups mode: 'soft' (default), 'full', 'strict' or 'ignore'"},
    {"empty-ns", 0, true, O_EMPTY_NS, "create a namespace, but don't restore its properties ('network')"},
    {"auto-dedup", 0, false, O_DEDUP, "enable auto deduplication of memory images"},
    {"track-mem", 0, false, O_TRACK,
     "use memory tracking: with --parent-path the image is a diff against it (zanshin; a tracked container's "
     "checkpoint is a diff in the remnant store anyway)"},
    {"print-stats", 0, false, O_PRINT_STATS,
     "print one JSON object on stdout: diff or full, why it fell back, size, time, generation, CRIU's statistics"},
    {NULL, 0, false, 0, NULL},
};

static int parse_fd(const char *v, int *fd, zs_error_t *err)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || *v == '\0' || n < 0 || n > 65535)
		return zs_make_error(err, -EINVAL, "--status-fd: `%s` is not a file descriptor number", v);
	*fd = (int) n;
	return 0;
}

struct parsed {
	struct zs_checkpoint_opts o;
	zs_error_t *err;
	bool print_stats;
};

static int on_opt(int id, const char *v, void *data)
{
	struct parsed *p = data;
	struct zs_checkpoint_opts *o = &p->o;

	switch (id) {
	case O_IMAGE:
		o->c.image_path = v;
		break;
	case O_WORK:
		o->c.work_path = v;
		break;
	case O_PARENT:
		o->parent_path = v;
		break;
	case O_LEAVE:
		o->leave_running = zs_opt_bool(v);
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
	case O_LAZY:
		o->c.lazy_pages = zs_opt_bool(v);
		break;
	case O_STATUS_FD:
		return parse_fd(v, &o->status_fd, p->err);
	case O_PAGE_SERVER_FD:
		return parse_fd(v, &o->page_server_fd, p->err);
	case O_PAGE_SERVER:
		o->page_server = v;
		break;
	case O_LOCKS:
		o->c.file_locks = zs_opt_bool(v);
		break;
	case O_PRE_DUMP:
		o->pre_dump = zs_opt_bool(v);
		break;
	case O_CG_MODE:
		o->c.manage_cgroups_mode = v;
		break;
	case O_EMPTY_NS:
		o->c.empty_ns = v;
		break;
	case O_DEDUP:
		o->c.auto_dedup = zs_opt_bool(v);
		break;
	case O_TRACK:
		o->track_mem = zs_opt_bool(v);
		break;
	case O_PRINT_STATS:
		p->print_stats = zs_opt_bool(v);
		break;
	}
	return 0;
}

ZS_VERB(checkpoint)
{
	struct parsed p = {.o = {.status_fd = -1, .page_server_fd = -1}, .err = err};
	char *stats = NULL;
	int first, ret;

	ret = zs_parse_opts("checkpoint", opts, argc, argv, on_opt, &p, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("checkpoint (runc checkpoint)", "<container-id>", "checkpoint a running container",
			       opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("checkpoint", argc - first, 1, 1, err) < 0)
		return -1;
	if (p.o.c.lazy_pages && p.o.pre_dump)
		return zs_make_error(err, -EINVAL, "--lazy-pages and --pre-dump cannot be used together");
	p.o.c.root = g->root;
	p.o.c.criu = g->criu;
	p.o.c.remnant_root = g->remnant_root;
	p.o.c.id = argv[first];
	if (p.print_stats)
		p.o.stats_out = &stats;
	ret = zs_container_checkpoint(&p.o, err);
	if (stats) {
		printf("%s\n", stats);
		fflush(stdout);
		free(stats);
	}
	return ret;
}
