/* zanshin — checkpoint of a container through libcriu, as runc 1.1 does it
 * (same options, same files in the image directory, the container is gone
 * afterwards unless --leave-running or --pre-dump), plus diffs against the
 * image the container was restored from (see docs/checkpoint-restore.md). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "criu_internal.h"
#include "zanshin/cgroup.h"
#include "zanshin/checkpoint.h"
#include "zanshin/config.h"
#include "zanshin/container.h"
#include "zanshin/criu_image.h"
#include "zanshin/image_dir.h"
#include "zanshin/image_manifest.h"
#include "zanshin/json.h"
#include "zanshin/log.h"
#include "zanshin/remnant.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

static int status_fd = -1;
/* the temporary generation CRIU dumps into (an automatic diff), marked at
 * post-dump: see lib/remnant_orphan.c */
static const char *dump_tmp, *dump_id;

static int dump_notify(char *action, criu_notify_arg_t na)
{
	zs_debug("criu notify: %s", action);
	if (strcmp(action, "post-dump") == 0 && dump_tmp) {
		cleanup_error zs_error_t e = NULL;
		if (zs_remnant_dump_mark(dump_tmp, dump_id, &e) < 0)
			zs_warn("checkpoint: cannot mark the finished dump (kept only if this command completes): %s",
				zs_error_msg(e));
	}
	if (strcmp(action, "status-ready") == 0 && status_fd >= 0) {
		if (write(status_fd, "", 1) != 1)
			zs_warn("cannot write \\0 to --status-fd %d", status_fd);
		close(status_fd);
		status_fd = -1;
	}
	return 0;
}

/* runc's checks: relative to the image path, an existing directory. */
static int check_parent_path(const char *image_dir, const char *parent, zs_error_t *err)
{
	cleanup_free char *real = NULL;
	struct stat st;

	if (parent == NULL || *parent == '\0')
		return 0;
	if (parent[0] == '/')
		return zs_make_error(err, -EINVAL, "--parent-path must be relative (to --image-path)");
	real = xasprintf("%s/%s", image_dir, parent);
	if (stat(real, &st) < 0)
		return zs_make_error(err, errno, "invalid --parent-path `%s` (`%s`)", parent, real);
	if (!S_ISDIR(st.st_mode))
		return zs_make_error(err, -ENOTDIR, "--parent-path `%s` must be a directory", parent);
	return 0;
}

static int check_status_fd(int fd, zs_error_t *err)
{
	int fl;

	if (fd < 0)
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return zs_make_error(err, errno, "invalid --status-fd argument %d", fd);
	if ((fl & O_ACCMODE) == O_RDONLY)
		return zs_make_error(err, -EBADF, "invalid --status-fd argument %d: not writable", fd);
	return 0;
}

static int page_server(criu_opts *c, const char *arg, zs_error_t *err)
{
	cleanup_free char *addr = NULL;
	char *colon, *end;
	long port;

	if (arg == NULL || *arg == '\0')
		return 0;
	addr = xstrdup(arg);
	colon = strrchr(addr, ':');
	if (colon == NULL)
		return zs_make_error(err, -EINVAL, "--page-server: `%s` is not ADDRESS:PORT", arg);
	*colon = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || port <= 0 || port > 65535)
		return zs_make_error(err, -EINVAL, "--page-server: invalid port in `%s`", arg);
	if (criu_local_set_page_server_address_port(c, addr, (int) port) < 0)
		return zs_make_error(err, ENOMEM, "libcriu: page server");
	return 0;
}

/* --page-server-fd: a lazy dump serves its pages on this connected socket
 * (whoever gave it carries the bytes), never on a listening port. */
static int page_server_fd(criu_opts *c, const struct zs_checkpoint_opts *o, zs_error_t *err)
{
	struct stat st;

	if (o->page_server_fd < 0)
		return 0;
	if (!o->c.lazy_pages || (o->page_server && *o->page_server))
		return zs_make_error(err, -EINVAL, "--page-server-fd needs --lazy-pages and no --page-server");
	if (fstat(o->page_server_fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return zs_make_error(err, -EBADF, "invalid --page-server-fd argument %d: not a socket",
				     o->page_server_fd);
	if (criu_local_set_page_server_fd(c, o->page_server_fd) < 0)
		return zs_make_error(err, ENOMEM, "libcriu: page server fd");
	return 0;
}

static int external_namespaces(criu_opts *c, const struct zs_config *cfg, zs_error_t *err)
{
	static const struct {
		int type;
		const char *name, *key;
	} ext[] = {{CLONE_NEWNET, "net", "extRootNetNS"}, {CLONE_NEWPID, "pid", "extRootPidNS"}};
	size_t i;

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		const struct zs_namespace *ns = zs_config_namespace(cfg, ext[i].type);
		cleanup_free char *key = NULL;
		struct stat st;
		if (ns == NULL || ns->path == NULL || *ns->path == '\0')
			continue;
		if (stat(ns->path, &st) < 0)
			return zs_make_error(err, errno, "namespace `%s`", ns->path);
		key = xasprintf("%s[%lu]:%s", ext[i].name, (unsigned long) st.st_ino, ext[i].key);
		if (criu_local_add_external(c, key) < 0)
			return zs_make_error(err, ENOMEM, "libcriu: external `%s`", key);
	}
	return 0;
}

static int freezer(criu_opts *c, const struct zs_cgroup *cg, zs_error_t *err)
{
	size_t i;

	for (i = 0; cg && i < zs_cgroup_count(cg); i++) {
		const char *ctrls = NULL, *dir = NULL;
		if (zs_cgroup_get(cg, i, &ctrls, &dir, NULL, err) < 0)
			return -1;
		if (ctrls && strstr(ctrls, "freezer") && criu_local_set_freeze_cgroup(c, dir) < 0)
			return zs_make_error(err, ENOMEM, "libcriu: freeze cgroup");
	}
	return 0;
}

struct ckpt {
	const struct zs_checkpoint_opts *o;
	struct zs_status *st;
	struct zs_cgroup *cg;
	struct zs_config *cfg;
	char *image_dir, *work_dir;
	int image_fd, work_fd;
	/* remnant store */
	struct zs_remnant *store;
	struct zs_remnant_gen *base; /* auto diff: the baseline generation */
	char *tmp;		     /* auto diff: the generation being written */
	char *parent;		     /* auto diff: ../NAME; or the store's copy of --parent-path */
	char *swap;		     /* the sibling of --image-path CRIU writes, swapped in when complete */
	bool relink;		     /* parent is the store's copy: `parent` -> --parent-path after */
	bool dumped;		     /* CRIU's dump succeeded: the processes are gone unless left running */
	int criu_signal;	     /* CRIU's dump ended by this signal (killed, crashed), else 0 */
	struct timespec t0;
	struct zs_ckpt_report rep;
};

/* The directory CRIU writes: --image-path, or for an automatic diff a new
 * generation in the store. */
static const char *dump_dir(const struct ckpt *k)
{
	if (k->tmp)
		return k->tmp;
	return k->swap ? k->swap : k->image_dir;
}

/* CRIU writes the image (and zanshin its manifest) into --image-path, in
 * the directory itself, not into the store or a page server? */
static bool writes_image_dir(const struct ckpt *k)
{
	const struct zs_checkpoint_opts *o = k->o;

	return k->tmp == NULL && !o->c.lazy_pages && !(o->page_server && *o->page_server);
}

/* --parent-path resolves to the same directory from DIR as from
 * --image-path. */
static bool same_parent(const struct ckpt *k, const char *dir)
{
	const char *p = k->o->parent_path;
	cleanup_free char *a = NULL, *b = NULL, *ra = NULL, *rb = NULL;

	if (p == NULL || *p == '\0')
		return true;
	a = xasprintf("%s/%s", k->image_dir, p);
	b = xasprintf("%s/%s", dir, p);
	ra = realpath(a, NULL);
	rb = realpath(b, NULL);
	return ra && rb && strcmp(ra, rb) == 0;
}

/* A dump into --image-path goes into a new sibling directory, swapped in
 * when complete (zs_cr_swap_in): CRIU writes its files in place, so a dump
 * that fails partway would leave the previous image mixed with the new
 * one.  Not for a mount point (it cannot be renamed) or a --parent-path
 * that leads elsewhere from the sibling: there, CRIU writes in place, the
 * old manifest removed first. */
static int plan_swap(struct ckpt *k, zs_error_t *err)
{
	cleanup_free char *real = NULL;

	if (!writes_image_dir(k) || k->swap)
		return 0;
	real = realpath(k->image_dir, NULL);
	if (real == NULL)
		return zs_make_error(err, errno, "--image-path `%s`", k->image_dir);
	if (!zs_cr_is_mount_root(real)) {
		zs_cr_settle_siblings(real);
		k->swap = zs_cr_sibling(real, "dump");
		rm_rf(k->swap);
		if (mkdir(k->swap, 0700) < 0)
			return zs_make_error(err, errno, "mkdir `%s`", k->swap);
		if (same_parent(k, k->swap))
			return 0;
		rmdir(k->swap);
		free(k->swap);
		k->swap = NULL;
	}
	cleanup_free char *m = xasprintf("%s/%s", k->image_dir, ZS_IMAGE_MANIFEST);
	if (unlink(m) < 0 && errno != ENOENT)
		return zs_make_error(err, errno, "remove `%s`", m);
	return 0;
}

/* After the dump: the image's manifest, then (swap) the image in place. */
static int finish_image_dir(struct ckpt *k, zs_error_t *err)
{
	if (!writes_image_dir(k))
		return 0;
	if (zs_image_manifest_write(dump_dir(k), k->o->c.id, err) < 0)
		return zs_error_wrap(err,
				     "checkpoint not written to --image-path `%s` (the previous contents are "
				     "unchanged)",
				     k->image_dir);
	if (k->swap == NULL)
		return 0;
	if (zs_cr_swap_in(k->swap, k->image_dir, err) < 0)
		return zs_error_wrap(err, "checkpoint not written to --image-path `%s`", k->image_dir);
	free(k->swap);
	k->swap = NULL;
	zs_remnant_dump_unmark(k->image_dir);
	return 0;
}

static int prepare(struct ckpt *k, criu_opts *c, zs_error_t *err)
{
	const struct zs_checkpoint_opts *o = k->o;

	if (mkdir(k->image_dir, 0700) < 0 && errno != EEXIST)
		return zs_make_error(err, errno, "--image-path: mkdir `%s`", k->image_dir);
	if (check_parent_path(k->image_dir, o->parent_path, err) < 0 || check_status_fd(o->status_fd, err) < 0 ||
	    plan_swap(k, err) < 0)
		return -1;
	k->image_fd = open(dump_dir(k), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (k->image_fd < 0)
		return zs_make_error(err, errno, "open `%s`", dump_dir(k));
	criu_local_set_images_dir_fd(c, k->image_fd);
	if (zs_criu_common(c, &o->c, k->cfg, k->image_dir, &k->work_fd, err) < 0)
		return -1;
	if (k->work_fd < 0 && (k->tmp || k->swap)) {
		/* logs stay where the user looks for them, not in the store */
		k->work_fd = open(k->image_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		if (k->work_fd < 0)
			return zs_make_error(err, errno, "open `%s`", k->image_dir);
		criu_local_set_work_dir_fd(c, k->work_fd);
	}
	criu_local_set_log_file(c, o->pre_dump ? "predump.log" : "dump.log");
	if (zs_image_dirs_check(k->image_fd, dump_dir(k), k->work_fd, k->work_dir, ZS_IMAGE_DIR_DUMP, err) < 0)
		return -1;
	criu_local_set_pid(c, k->st->pid);
	if (criu_local_set_root(c, k->st->rootfs) < 0)
		return zs_make_error(err, ENOMEM, "libcriu: root");
	criu_local_set_leave_running(c, o->leave_running || o->pre_dump);
	criu_local_set_notify_cb(c, dump_notify);
	if (external_namespaces(c, k->cfg, err) < 0 || freezer(c, k->cg, err) < 0 ||
	    page_server(c, o->page_server, err) < 0 || page_server_fd(c, o, err) < 0)
		return -1;
	if ((o->parent_path && *o->parent_path) || k->parent) {
		if (criu_local_set_parent_images(c, k->parent ? k->parent : o->parent_path) < 0)
			return zs_make_error(err, ENOMEM, "libcriu: parent images");
		criu_local_set_track_mem(c, true);
	} else if (o->track_mem || o->pre_dump || k->st->tracking)
		criu_local_set_track_mem(c, true);
	if (o->pre_dump)
		return 0;
	if (zs_criu_mount_maps(c, k->cfg, k->st->rootfs, k->st->bundle, k->st->pid, false, err) < 0)
		return -1;
	return zs_cr_stdio_dump(c, dump_dir(k), k->st->pid, o->c.shell_job, err);
}

static void ckpt_free(struct ckpt *k)
{
	zs_status_free(k->st);
	zs_cgroup_free(k->cg);
	zs_config_free(k->cfg);
	free(k->image_dir);
	free(k->work_dir);
	if (k->image_fd >= 0)
		close(k->image_fd);
	if (k->work_fd >= 0)
		close(k->work_fd);
	if (k->tmp)
		zs_remnant_gen_abort(k->store, k->tmp);
	if (k->swap)
		rm_rf(k->swap); /* a failed dump: --image-path is as it was */
	free(k->swap);
	free(k->tmp);
	free(k->parent);
	zs_remnant_gen_free(k->base);
	zs_remnant_close(k->store);
	zs_ckpt_report_free(&k->rep);
}

static int load(struct ckpt *k, zs_error_t *err)
{
	const struct zs_checkpoint_opts *o = k->o;
	cleanup_free char *cfgp = NULL;
	const char *status;
	int ret;

	ret = zs_validate_id(o->c.id, err);
	if (ret == 0)
		ret = zs_container_load(o->c.root, o->c.id, &k->st, &k->cg, err);
	if (ret < 0)
		return ret;
	status = zs_container_status(k->st);
	if (strcmp(status, "running") != 0 && strcmp(status, "paused") != 0)
		return zs_make_error(err, 0, "container %s is not running (%s): cannot checkpoint it", o->c.id, status);
	cfgp = xasprintf("%s/config.json", k->st->dir);
	return zs_config_load(cfgp, "config.json", &k->cfg, err);
}

static bool store_applies(const struct zs_checkpoint_opts *o)
{
	return !o->pre_dump && !o->c.lazy_pages && !(o->page_server && *o->page_server);
}

/* A tracked container whose baseline this node holds (and whose chain
 * checks out: every file there with its manifest's size): dump a diff into
 * a new generation of the store, --image-path gets a flattened copy.  A
 * tracked container that cannot get a diff is checkpointed in full, and a
 * warning says why. */
static void plan_auto_diff(struct ckpt *k)
{
	const struct zs_checkpoint_opts *o = k->o;
	cleanup_error zs_error_t e = NULL;

	if ((o->parent_path && *o->parent_path) || !k->st->tracking || !k->st->image_id)
		return;
	if (k->store == NULL) {
		zs_ckpt_report_fallback(&k->rep,
					"the remnant store is not used, so the baseline (image %s) cannot be found",
					k->st->image_id);
		return;
	}
	zs_remnant_settle(k->store); /* the restore may still be keeping the baseline */
	if (!zs_cr_store_baseline(k->store, o->c.id, k->st->image_id, &k->base)) {
		zs_ckpt_report_fallback(&k->rep, "the baseline (image %s) is not in the remnant store %s",
					k->st->image_id, zs_remnant_root(k->store));
		return;
	}
	if (zs_remnant_check(k->store, k->base, &e) < 0) {
		zs_ckpt_report_fallback(&k->rep, "the baseline generation %s does not check out: %s", k->base->name,
					zs_error_msg(e));
		zs_remnant_gen_free(k->base);
		k->base = NULL;
		return;
	}
	if (zs_remnant_gen_begin(k->store, o->c.id, &k->tmp, &e) < 0) {
		zs_ckpt_report_fallback(&k->rep, "remnant store: %s", zs_error_msg(e));
		return;
	}
	k->parent = xasprintf("../%s", k->base->name);
	zs_debug("checkpoint: diff against generation %s (image %s)", k->base->name, k->st->image_id);
}

/* Drop the automatic diff planned (or tried): a full checkpoint instead. */
static void drop_auto_diff(struct ckpt *k)
{
	zs_remnant_gen_abort(k->store, k->tmp);
	free(k->tmp);
	k->tmp = NULL;
	free(k->parent);
	k->parent = NULL;
}

/* Before the container is stopped: the directories written exist and are
 * writable, their filesystems have room for the container's memory (the
 * store's, when a diff goes there: else a full checkpoint). */
static int precheck(struct ckpt *k, zs_error_t *err)
{
	const struct zs_checkpoint_opts *o = k->o;
	cleanup_error zs_error_t e = NULL;
	uint64_t need;

	if (zs_ckpt_check_dir(k->image_dir, "--image-path", err) < 0)
		return -1;
	if (o->c.work_path && *o->c.work_path && zs_ckpt_check_dir(k->work_dir, "--work-path", err) < 0)
		return -1;
	if (!store_applies(o))
		return 0;
	need = zs_ckpt_memory_estimate(k->st->pid);
	if (k->tmp && zs_ckpt_check_space(k->tmp, "remnant store", need, &e) < 0) {
		zs_ckpt_report_fallback(&k->rep, "%s", zs_error_msg(e));
		drop_auto_diff(k);
	}
	return zs_ckpt_check_space(k->image_dir, "--image-path", need, err);
}

/* --parent-path names an image whose own parents are not all here (it was
 * shipped as a diff and restored through the store): CRIU needs the whole
 * chain to know which pages the parent holds, so it gets this node's
 * generation with the same image id, and the `parent` link is set back to
 * --parent-path afterwards, as the user asked. */
static void plan_explicit_parent(struct ckpt *k)
{
	const struct zs_checkpoint_opts *o = k->o;
	cleanup_free char *abs = NULL;
	cleanup_error zs_error_t e = NULL;
	struct zs_image_info info = {0};
	struct zs_remnant_gen *g = NULL;

	if (k->store == NULL || o->parent_path == NULL || *o->parent_path == '\0')
		return;
	abs = xasprintf("%s/%s", k->image_dir, o->parent_path);
	if (zs_cr_chain_complete(abs) || zs_image_info(abs, &info, &e) < 0)
		return;
	zs_remnant_settle(k->store);
	if (info.image_id && zs_cr_store_baseline(k->store, o->c.id, info.image_id, &g)) {
		k->parent = xstrdup(g->path);
		k->relink = true;
		zs_debug("checkpoint: parent %s taken from the remnant store (%s)", info.image_id, g->name);
	}
	zs_remnant_gen_free(g);
	zs_image_info_free(&info);
}

static int relink_parent(struct ckpt *k, zs_error_t *err)
{
	cleanup_free char *link = xasprintf("%s/parent", dump_dir(k));
	cleanup_free char *tmp = xasprintf("%s/.parent.tmp", dump_dir(k));

	unlink(tmp);
	if (symlink(k->o->parent_path, tmp) < 0 || rename(tmp, link) < 0)
		return zs_make_error(err, errno, "set `%s` to `%s`", link, k->o->parent_path);
	return 0;
}

static int run_dump(struct ckpt *k, zs_error_t *err)
{
	const struct zs_checkpoint_opts *o = k->o;
	cleanup_criu_opts criu_opts *c = NULL;
	int ret;

	ret = zs_criu_opts_new(&o->c, &c, err);
	if (ret == 0)
		zs_criu_network_lock(c, &o->c);
	if (ret == 0)
		ret = prepare(k, c, err);
	if (ret < 0)
		return ret;
	zs_debug("checkpoint: criu %s of pid %d into %s", o->pre_dump ? "pre-dump" : "dump", (int) k->st->pid,
		 dump_dir(k));
	dump_tmp = o->pre_dump ? NULL : k->tmp ? k->tmp : k->swap;
	dump_id = o->c.id;
	ret = o->pre_dump ? criu_local_pre_dump(c) : criu_local_dump(c);
	dump_tmp = NULL;
	if (ret < 0) {
		int ws = criu_local_get_swrk_status(c);
		k->criu_signal = ws != -1 && WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
	}
	if (ret < 0)
		return zs_criu_error(err, ret, o->pre_dump ? "pre-dump" : "dump", k->work_dir,
				     o->pre_dump ? "predump.log" : "dump.log");
	return 0;
}

/* After an automatic diff: commit the generation, export it flattened
 * into --image-path (with CRIU's stats of this dump, which Podman reads
 * there).  A failure names where the newest state is. */
static int finish_auto_diff(struct ckpt *k, zs_error_t *err)
{
	struct zs_remnant_gen *g = NULL;
	int ret;

	/* the mark stays until the generation is committed (a kill in
	 * between leaves a marked temporary generation, which gc commits; no
	 * manifest lists the mark) */
	ret = zs_remnant_gen_commit(k->store, k->o->c.id, k->tmp, &g, err);
	if (ret < 0) {
		/* the diff stays where CRIU wrote it: its `parent` leads to the
		 * baseline, so it can still be flattened from there */
		cleanup_free char *cause = zs_cr_error_text(*err);
		zs_error_release(err);
		ret = zs_cr_store_export_dir(k->store, k->tmp, k->image_dir, err);
		if (ret < 0) {
			/* the error names the diff: it must outlive ckpt_free,
			 * which removes an uncommitted generation */
			cleanup_free char *kept = steal_pointer(&k->tmp);
			return zs_error_wrap(err,
					     "remnant store: %s; the newest state is the diff in `%s` (write it out "
					     "with `zanshin image flatten %s NEW-DIR` before `remnant gc` collects it)",
					     cause, kept, kept);
		}
		zs_warn("remnant store: the diff was not kept (%s); `%s` holds the checkpoint", cause, k->image_dir);
		return 0;
	}
	free(k->tmp);
	k->tmp = NULL;
	zs_remnant_dump_unmark(g->path);
	k->rep.generation = xstrdup(g->name);
	ret = zs_cr_store_export(k->store, g, k->image_dir, err);
	zs_remnant_gen_free(g);
	if (ret == 0 && k->rep.stats_raw) {
		cleanup_free char *path = xasprintf("%s/stats-dump", k->image_dir);
		cleanup_error zs_error_t e = NULL;
		if (write_file_atomic(path, k->rep.stats_raw, k->rep.stats_len, 0600, &e) < 0)
			zs_debug("checkpoint: %s", zs_error_msg(e));
	}
	return ret;
}

/* The store keeps the new baseline while the container lives
 * (lib/remnant_pin.c). */
static void pin_baseline(struct ckpt *k)
{
	cleanup_error zs_error_t e = NULL;

	if (zs_remnant_pin(k->store, k->o->c.id, k->st->image_id, k->st->pid, &e) < 0)
		zs_warn("remnant store: %s", zs_error_msg(e));
}

/* What the image just written is (CRIU's stats, pages, ids). */
static void describe_dump(struct ckpt *k)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_image_info info = {0};

	/* CRIU writes stats-dump where it logs: the work directory (the image
	 * directory without --work-path, also for an automatic diff, whose
	 * images go to the store); never another directory's, where a
	 * stats-dump may be a previous checkpoint's */
	if (k->work_dir)
		zs_ckpt_report_read_stats(&k->rep, k->work_dir);
	if (zs_image_info(dump_dir(k), &info, &e) < 0) {
		zs_image_info_free(&info);
		return;
	}
	k->rep.pages = info.pages;
	k->rep.bytes = info.bytes;
	k->rep.image_id = steal_pointer(&info.image_id);
	k->rep.parent_image_id = steal_pointer(&info.parent_image_id);
	k->rep.diff = k->rep.parent_image_id != NULL;
	if (k->tmp && k->base)
		k->rep.base = xstrdup(k->base->name);
	zs_image_info_free(&info);
}

static void report(struct ckpt *k)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	k->rep.duration_s = (t1.tv_sec - k->t0.tv_sec) + (t1.tv_nsec - k->t0.tv_nsec) / 1e9;
	zs_ckpt_report_log(&k->rep);
	if (k->o->stats_out)
		*k->o->stats_out = zs_ckpt_report_json(&k->rep);
}

/* A tracked dump that leaves the container running (--leave-running,
 * --pre-dump) moves CRIU's tracking baseline to the image just written:
 * the state follows at once, whatever happens afterwards (an export to a
 * full disk), or every later diff would name a stale parent. */
static void update_baseline(struct ckpt *k, const char *dir, const char *generation)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_image_info info = {0};

	if (zs_image_info(dir, &info, &e) < 0 || info.image_id == NULL) {
		zs_image_info_free(&info);
		return;
	}
	free(k->st->image_id);
	k->st->image_id = steal_pointer(&info.image_id);
	k->st->tracking = true;
	free(k->st->generation);
	k->st->generation = generation ? xstrdup(generation) : NULL;
	zs_image_info_free(&info);
	if (zs_status_write(k->o->c.root, k->st, k->st->annotations, k->cg, &e) < 0)
		zs_warn("state of %s not updated: %s", k->o->c.id, zs_error_msg(e));
	pin_baseline(k);
}

static bool tracked_dump(const struct ckpt *k)
{
	const struct zs_checkpoint_opts *o = k->o;

	return (o->parent_path && *o->parent_path) || k->parent || o->track_mem || o->pre_dump || k->st->tracking;
}

/* Plan the dump: the store (an automatic diff, an explicit parent kept
 * there) and every check that can be made before the container stops. */
static int plan(struct ckpt *k, zs_error_t *err)
{
	const struct zs_checkpoint_opts *o = k->o;

	/* the image directory exists before anything resolves --parent-path in it */
	if (zs_ckpt_check_dir(k->image_dir, "--image-path", err) < 0)
		return -1;
	if (store_applies(o)) {
		cleanup_error zs_error_t e = NULL;
		if (zs_cr_store_open(&o->c, &k->store, &e) < 0)
			zs_warn("remnant store not used: %s", zs_error_msg(e));
		/* what the store still copies from this very directory (a
		 * restore from it) finishes before CRIU writes here */
		int dl = zs_cr_image_dir_lock(k->image_dir, true);
		if (dl >= 0)
			close(dl);
		plan_auto_diff(k);
		plan_explicit_parent(k);
	}
	return o->pre_dump ? 0 : precheck(k, err);
}

/* CRIU failed (killed, say) after its post-dump notification was
 * answered (the mark in the directory it dumped into: every image written)
 * and the container is gone (CRIU had begun to kill it): the dump is
 * complete and is the container's only state, kept as a successful one.
 * Had CRIU not got that far, it resumed the container. */
static bool dumped_and_gone(struct ckpt *k)
{
	const char *dir = k->tmp ? k->tmp : k->swap;
	cleanup_free char *mark = dir ? xasprintf("%s/%s", dir, ZS_DUMP_MARK) : NULL;
	char state = 0;

	if (mark == NULL || access(mark, F_OK) < 0)
		return false;
	return zs_proc_start_time(k->st->pid, &state) != k->st->start_time || state == 'Z' || state == 'X';
}

/* CRIU was killed (or crashed) in the middle of the dump: unlike a CRIU
 * that fails, it did not put the tasks back as they were.  They may hold
 * its parasite, run from code it poked at their instruction pointer, or
 * have registers it changed; resumed, they crash or, worse, run on wrong.
 * The container is killed instead and the error says so: its last
 * checkpoint restores it. */
static int kill_held_container(struct ckpt *k, zs_error_t *err)
{
	cleanup_free char *cause = zs_cr_error_text(*err);
	cleanup_error zs_error_t e = NULL;
	char state = 0;
	int ret = 0;

	if (k->cg)
		ret = zs_cgroup_kill_all(k->cg, SIGKILL, &e);
	if ((k->cg == NULL || ret < 0) && zs_proc_start_time(k->st->pid, &state) == k->st->start_time)
		kill(k->st->pid, SIGKILL);
	zs_error_release(err);
	return zs_make_error(err, EIO,
			     "checkpoint of %s: CRIU was killed by signal %d (%s) while it held the container's "
			     "processes (%s); they may have been left with CRIU's code or registers in them, so the "
			     "container was killed rather than left running in a state nobody checked%s%s; restore it "
			     "from its last checkpoint",
			     k->o->c.id, k->criu_signal, strsignal(k->criu_signal), cause,
			     e ? ": killing it failed: " : "", e ? zs_error_msg(e) : "");
}

static int dump(struct ckpt *k, zs_error_t *err)
{
	int ret;

	status_fd = k->o->status_fd;
	ret = run_dump(k, err);
	if (ret < 0 && !k->o->pre_dump && dumped_and_gone(k)) {
		zs_warn("checkpoint of %s: CRIU failed after its dump was complete (%s); the container is gone, its "
			"checkpoint is kept",
			k->o->c.id, zs_error_msg(*err));
		zs_error_release(err);
		ret = 0;
	}
	if (ret < 0 && k->criu_signal) {
		ret = kill_held_container(k, err);
		goto out;
	}
	if (ret < 0 && k->tmp) {
		/* the tasks were resumed: take a full checkpoint instead */
		zs_ckpt_report_fallback(&k->rep, "the diff dump failed: %s", zs_error_msg(*err));
		zs_error_release(err);
		drop_auto_diff(k);
		close(k->image_fd);
		k->image_fd = -1;
		if (k->work_fd >= 0)
			close(k->work_fd);
		k->work_fd = -1;
		ret = run_dump(k, err);
		if (ret < 0 && k->criu_signal)
			ret = kill_held_container(k, err);
	}
out:
	if (status_fd >= 0) {
		close(status_fd);
		status_fd = -1;
	}
	return ret;
}

/* A lazy dump keeps the container frozen while it serves the memory (a
 * post-copy move): marked, so that it does not look running here. */
static int held_dump(struct ckpt *k, zs_error_t *err)
{
	const struct zs_checkpoint_opts *o = k->o;
	bool held = o->c.lazy_pages && !o->pre_dump;
	int ret;

	if (held && zs_status_hold_set(o->c.root, o->c.id, "checkpoint --lazy-pages", err) < 0)
		return -1;
	ret = dump(k, err);
	if (held)
		zs_status_hold_clear(o->c.root, o->c.id);
	return ret;
}

/* After CRIU's dump: the image where it belongs, the state, the store. */
static int after_dump(struct ckpt *k, zs_error_t *err)
{
	const struct zs_checkpoint_opts *o = k->o;
	struct zs_cr_keep keep = {0};
	bool tracked = (o->leave_running || o->pre_dump) && tracked_dump(k);
	int ret = 0;

	describe_dump(k);
	if (tracked)
		update_baseline(k, dump_dir(k), NULL);
	if (k->relink)
		ret = relink_parent(k, err);
	if (ret == 0)
		ret = finish_image_dir(k, err);
	if (ret == 0 && k->tmp) {
		ret = finish_auto_diff(k, err);
		if (ret == 0 && tracked && k->rep.generation)
			update_baseline(k, k->image_dir, k->rep.generation);
	} else if (ret == 0 && store_applies(o))
		keep.image_dir = k->image_dir;
	if (ret == 0 && store_applies(o)) {
		keep.id = o->c.id;
		keep.bundle = k->st->bundle;
		keep.rootfs = k->st->rootfs;
		keep.state_root = o->leave_running ? o->c.root : NULL;
		keep.gc = true;
		zs_cr_store_later(k->store, &keep);
	}
	return ret;
}

int zs_container_checkpoint(const struct zs_checkpoint_opts *o, zs_error_t *err)
{
	struct ckpt k = {.o = o, .image_fd = -1, .work_fd = -1};
	cleanup_close int lock = -1;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &k.t0);
	k.rep.id = o->c.id;
	/* CRIU inherits nothing of our caller's but a page-server socket */
	if (zs_cr_fds_private(&o->page_server_fd, o->page_server_fd >= 0 ? 1 : 0, err) < 0)
		return -1;
	lock = zs_status_lock(o->c.root, o->c.id, err);
	if (lock < 0)
		return lock;
	ret = load(&k, err);
	if (ret < 0)
		goto out;
	k.image_dir = zs_cr_image_path(&o->c);
	k.work_dir = zs_cr_work_path(&o->c);
	ret = plan(&k, err);
	if (ret == 0)
		ret = held_dump(&k, err);
	if (ret < 0)
		goto out;
	k.dumped = true;
	ret = after_dump(&k, err);
	if (ret == 0 && !o->pre_dump)
		report(&k);
	if (!o->leave_running && !o->pre_dump) {
		close(lock);
		lock = -1;
		/* the processes are gone: remove the container as runc does,
		 * also when keeping the image failed afterwards (the error
		 * says where the newest state is); a failure to remove is
		 * logged, the checkpoint stands */
		cleanup_error zs_error_t e = NULL;
		if (zs_container_delete(o->c.root, o->c.id, true, &e) < 0)
			zs_warn("checkpoint done, but removing container %s failed: %s", o->c.id, zs_error_msg(e));
	}
out:
	ckpt_free(&k);
	return ret;
}
