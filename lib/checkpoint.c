/* zanshin — checkpoint of a container through libcriu, as runc 1.1 does it
 * (same options, same files in the image directory, the container is gone
 * afterwards unless --leave-running or --pre-dump), plus diffs against the
 * image the container was restored from (see docs/checkpoint-restore.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu_internal.h"
#include "zanshin/cgroup.h"
#include "zanshin/checkpoint.h"
#include "zanshin/config.h"
#include "zanshin/container.h"
#include "zanshin/json.h"
#include "zanshin/log.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

static int status_fd = -1;

static int dump_notify(char *action, criu_notify_arg_t na)
{
	zs_debug("criu notify: %s", action);
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

/* descriptors.json: where the init's stdio pointed, so that restore can
 * hand the same pipes back (runc's file, same shape). */
static int write_descriptors(const char *image_dir, pid_t pid, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *path = xasprintf("%s/%s", image_dir, ZS_DESCRIPTORS), *buf = NULL;
	size_t len;
	int i;

	zs_jgen_array_open(g);
	for (i = 0; i < 3; i++) {
		char l[64], target[PATH_MAX];
		ssize_t n;
		snprintf(l, sizeof(l), "/proc/%d/fd/%d", (int) pid, i);
		n = readlink(l, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		zs_jgen_string(g, n < 0 ? "/dev/null" : target);
	}
	zs_jgen_array_close(g);
	buf = zs_jgen_result(g, &len);
	return write_file_atomic(path, buf, len, 0600, err);
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

/* CRIU killed the dumped tasks; their parent (often pid 1, slow here) must
 * reap the init before its cgroup can be removed. */
static void wait_vanished(pid_t pid)
{
	int i;

	for (i = 0; i < 1000 && kill(pid, 0) == 0; i++)
		usleep(10000);
}

struct ckpt {
	const struct zs_checkpoint_opts *o;
	struct zs_status *st;
	struct zs_cgroup *cg;
	struct zs_config *cfg;
	char *image_dir, *work_dir;
	int image_fd, work_fd;
};

static int prepare(struct ckpt *k, criu_opts *c, zs_error_t *err)
{
	const struct zs_checkpoint_opts *o = k->o;

	if (mkdir(k->image_dir, 0700) < 0 && errno != EEXIST)
		return zs_make_error(err, errno, "--image-path: mkdir `%s`", k->image_dir);
	if (check_parent_path(k->image_dir, o->parent_path, err) < 0 || check_status_fd(o->status_fd, err) < 0)
		return -1;
	k->image_fd = open(k->image_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (k->image_fd < 0)
		return zs_make_error(err, errno, "--image-path: open `%s`", k->image_dir);
	criu_local_set_images_dir_fd(c, k->image_fd);
	if (zs_criu_common(c, &o->c, k->cfg, k->image_dir, &k->work_fd, err) < 0)
		return -1;
	criu_local_set_log_file(c, o->pre_dump ? "predump.log" : "dump.log");
	criu_local_set_pid(c, k->st->pid);
	if (criu_local_set_root(c, k->st->rootfs) < 0)
		return zs_make_error(err, ENOMEM, "libcriu: root");
	criu_local_set_leave_running(c, o->leave_running || o->pre_dump);
	criu_local_set_notify_cb(c, dump_notify);
	if (external_namespaces(c, k->cfg, err) < 0 || freezer(c, k->cg, err) < 0 ||
	    page_server(c, o->page_server, err) < 0)
		return -1;
	if (o->parent_path && *o->parent_path) {
		if (criu_local_set_parent_images(c, o->parent_path) < 0)
			return zs_make_error(err, ENOMEM, "libcriu: parent images");
		criu_local_set_track_mem(c, true);
	} else if (o->track_mem || o->pre_dump)
		criu_local_set_track_mem(c, true);
	if (o->pre_dump)
		return 0;
	if (zs_criu_mount_maps(c, k->cfg, k->st->rootfs, k->st->bundle, k->st->pid, false, err) < 0)
		return -1;
	return write_descriptors(k->image_dir, k->st->pid, err);
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

int zs_container_checkpoint(const struct zs_checkpoint_opts *o, zs_error_t *err)
{
	struct ckpt k = {.o = o, .image_fd = -1, .work_fd = -1};
	cleanup_criu_opts criu_opts *c = NULL;
	cleanup_close int lock = -1;
	int ret;

	lock = zs_status_lock(o->c.root, o->c.id, err);
	if (lock < 0)
		return lock;
	ret = load(&k, err);
	if (ret == 0)
		ret = zs_criu_opts_new(&o->c, &c, err);
	if (ret < 0)
		goto out;
	k.image_dir = zs_cr_image_path(&o->c);
	k.work_dir = zs_cr_work_path(&o->c);
	status_fd = o->status_fd;
	ret = prepare(&k, c, err);
	if (ret == 0) {
		zs_debug("checkpoint: criu %s of pid %d into %s", o->pre_dump ? "pre-dump" : "dump", (int) k.st->pid,
			 k.image_dir);
		ret = o->pre_dump ? criu_local_pre_dump(c) : criu_local_dump(c);
		if (ret < 0)
			ret = zs_criu_error(err, ret, o->pre_dump ? "pre-dump" : "dump", k.work_dir,
					    o->pre_dump ? "predump.log" : "dump.log");
	}
	if (status_fd >= 0) {
		close(status_fd);
		status_fd = -1;
	}
	if (ret == 0 && !o->leave_running && !o->pre_dump) {
		close(lock);
		lock = -1;
		/* the processes are gone: remove the container as runc does (a
		 * failure is logged, the checkpoint stands) */
		wait_vanished(k.st->pid);
		if (zs_container_delete(o->c.root, o->c.id, true, err) < 0) {
			zs_warn("checkpoint done, but removing container %s failed: %s", o->c.id, zs_error_msg(*err));
			zs_error_release(err);
		}
	}
out:
	ckpt_free(&k);
	return ret;
}
