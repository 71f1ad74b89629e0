/* zanshin — restore of a container through libcriu, as runc 1.1 does it
 * (a fresh state directory and cgroup, the rootfs bound on criu-root,
 * bind-mount sources and external namespaces handed to CRIU, stdio pipes
 * inherited, the pty master sent to --console-socket), plus memory
 * tracking that starts at the restore. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "criu_internal.h"
#include "criu_watchdog.h"
#include "zanshin/cgroup.h"
#include "zanshin/checkpoint.h"
#include "zanshin/config.h"
#include "zanshin/container.h"
#include "zanshin/container_internal.h"
#include "zanshin/criu_image.h"
#include "zanshin/image_dir.h"
#include "zanshin/image_manifest.h"
#include "zanshin/json.h"
#include "zanshin/ksm_share.h"
#include "zanshin/lazy_restore.h"
#include "zanshin/lazy_workdir.h"
#include "zanshin/linux.h"
#include "zanshin/linux_internal.h"
#include "zanshin/log.h"
#include "zanshin/lsm.h"
#include "zanshin/remnant.h"
#include "zanshin/settings.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

struct rst {
	const struct zs_restore_opts *o;
	struct zs_config *cfg;
	struct zs_resources *res;
	struct zs_cgroup *cg;
	char *bundle, *rootfs, *image_dir, *work_dir, *criu_root, *created, *image_id;
	int image_fd, work_fd, console_fd;
	int lazy_lock; /* --lazy: the work directory, held (lib/lazy_workdir.c) */
	int ns_fds[2];
	int null_fds[3]; /* the host's /dev/null for stdio recorded as external files */
	char **umounts;
	size_t n_umounts;
	char *own_cgroups;  /* /proc/self/cgroup before we joined the container's */
	char *yards_before; /* CRIU's cgroup yards in the work directory before ours */
	struct zs_remnant *store;
	char *parent_id;  /* the image is a diff against this image */
	char *generation; /* the remnant generation restored from */
	pid_t pid;
	struct zs_lazy_server lazy;
	struct zs_restore_verify *verify; /* --image-path against its manifests */
	bool dir_created, root_mounted, track, timed_out;
	zs_error_t notify_err;
};

static struct rst *cur; /* libcriu's notify callback has no user pointer */

/* ---- our own cgroup: CRIU is forked from us and must start in the
 * container's cgroup (as runc puts criu there); we go back afterwards. */

static char *cg_procs_path(const char *ctrl, const char *path)
{
	const char *name = *ctrl ? ctrl : "unified";

	if (*ctrl == '\0' && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
		return xasprintf("/sys/fs/cgroup%s/cgroup.procs", path);
	if (str_has_prefix(name, "name="))
		name += 5;
	return xasprintf("/sys/fs/cgroup/%s%s/cgroup.procs", name, path);
}

/* The criu-keeper holding the tracking userfaultfds (criu-patches 0011)
 * was forked by CRIU inside the container's cgroup: it is ours, not the
 * container's (ps, memory accounting, delete), so it leaves with us.  Its
 * pid is in the tracking state file of the restored init. */
/* The tracking state file CRIU keeps for PID (criu-patches 0011). */
static char *track_state(pid_t pid)
{
	char ns[64], *lb;
	ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
	cleanup_free char *path = NULL;
	cleanup_error zs_error_t e = NULL;
	char *buf = NULL;
	size_t len;

	if (n <= 0)
		return NULL;
	ns[n] = '\0';
	lb = strchr(ns, '[');
	if (lb == NULL)
		return NULL;
	path = xasprintf("/run/criu/track/%lu-%d-%llu", strtoul(lb + 1, NULL, 10), (int) pid,
			 zs_proc_start_time(pid, NULL));
	if (read_file(path, &buf, &len, &e) < 0)
		return NULL;
	return buf;
}

char *zs_track_backend(pid_t pid)
{
	cleanup_free char *buf = track_state(pid);
	char name[64];
	const char *b = buf ? strstr(buf, "\nbackend ") : NULL;

	if (b == NULL || sscanf(b + 9, "%63s", name) != 1)
		return NULL;
	return xstrdup(name);
}

static pid_t keeper_of(pid_t pid)
{
	cleanup_free char *buf = track_state(pid), *line = NULL;

	if (buf == NULL)
		return -1;
	line = strstr(buf, "\nkeeper ") ? xstrdup(strstr(buf, "\nkeeper ") + 8) : NULL;
	return line ? (pid_t) strtol(line, NULL, 10) : -1;
}

static void return_to_own_cgroups(struct rst *r)
{
	char *save = NULL, *line;
	cleanup_free char *copy = NULL;
	pid_t keeper = r->pid > 0 && r->track ? keeper_of(r->pid) : -1;

	if (r->own_cgroups == NULL)
		return;
	copy = xstrdup(r->own_cgroups);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *ctrl = strchr(line, ':'), *path;
		cleanup_free char *procs = NULL;
		cleanup_error zs_error_t e = NULL;
		char pid[16];
		if (ctrl == NULL || (path = strchr(++ctrl, ':')) == NULL)
			continue;
		*path++ = '\0';
		procs = cg_procs_path(ctrl, path);
		if (access(procs, F_OK) < 0)
			continue;
		snprintf(pid, sizeof(pid), "%d", (int) getpid());
		if (write_file(procs, pid, strlen(pid), &e) < 0)
			zs_debug("restore: back to %s: %s", procs, zs_error_msg(e));
		zs_error_release(&e);
		snprintf(pid, sizeof(pid), "%d", (int) keeper);
		if (keeper > 0 && write_file(procs, pid, strlen(pid), &e) < 0)
			zs_debug("restore: criu-keeper %d to %s: %s", (int) keeper, procs, zs_error_msg(e));
	}
}

/* cgroup roots: where CRIU puts the restored tasks of each hierarchy
 * (the image has the checkpointed container's paths). */
static int add_cg_roots(criu_opts *c, zs_error_t *err)
{
	cleanup_free char *buf = NULL;
	char *save = NULL, *line;
	size_t len;

	if (read_file("/proc/self/cgroup", &buf, &len, err) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *ctrl = strchr(line, ':'), *path;
		if (ctrl == NULL || (path = strchr(++ctrl, ':')) == NULL)
			continue;
		*path++ = '\0';
		/* the cgroup2 hierarchy (pure v2, or hybrid's unified) has no
		 * controller name: the global root covers it */
		if (criu_local_add_cg_root(c, *ctrl ? ctrl : NULL, path) < 0)
			return zs_make_error(err, ENOMEM, "libcriu: cgroup root");
	}
	return 0;
}

/* ---- notifications ------------------------------------------------------ */

static int notify_setup_namespaces(struct rst *r, pid_t pid)
{
	const struct zs_config *cfg = r->cfg;
	cleanup_free char *state = zs_hook_state(r->o->c.id, pid, "creating", r->bundle, cfg->annotations);
	int ret;

	ret = zs_run_hooks(cfg->hooks[ZS_HOOK_PRESTART], cfg->n_hooks[ZS_HOOK_PRESTART], "prestart", state,
			   &r->notify_err);
	if (ret == 0)
		ret = zs_run_hooks(cfg->hooks[ZS_HOOK_CREATE_RUNTIME], cfg->n_hooks[ZS_HOOK_CREATE_RUNTIME],
				   "createRuntime", state, &r->notify_err);
	return ret;
}

static int notify_pts_master(struct rst *r)
{
	int fd = criu_get_orphan_pts_master_fd();
	int ret;

	if (fd < 0)
		return zs_make_error(&r->notify_err, EBADF, "criu sent no pty master");
	if (r->console_fd < 0) {
		close(fd);
		return zs_make_error(&r->notify_err, -EINVAL,
				     "the container has a terminal: restore needs --console-socket to hand it over");
	}
	ret = zs_send_fd(r->console_fd, fd, "/dev/ptmx", &r->notify_err);
	close(fd);
	return ret;
}

static int save_state(struct rst *r, zs_error_t *err);

static int restore_notify(char *action, criu_notify_arg_t na)
{
	struct rst *r = cur;

	zs_debug("criu notify: %s", action);
	if (strcmp(action, "setup-namespaces") == 0)
		return notify_setup_namespaces(r, criu_notify_pid(na)) < 0 ? -1 : 0;
	if (strcmp(action, "post-restore") == 0) {
		/* the last moment before the tasks resume: a failure of the
		 * image's verification here and CRIU kills them */
		r->pid = criu_notify_pid(na);
		if (zs_restore_verify_wait(r->verify, &r->notify_err) < 0)
			return -1;
		/* state.json now, so that a container whose runtime is killed
		 * from here on is known (runs, or stopped for `delete`), never
		 * an unknown second copy beside a retried restore */
		return save_state(r, &r->notify_err) < 0 ? -1 : 0;
	} else if (strcmp(action, "orphan-pts-master") == 0)
		return notify_pts_master(r) < 0 ? -1 : 0;
	return 0;
}

/* ---- preparation ---------------------------------------------------------- */

/* Has DIR (NULL: cwd) a config.json? */
static bool bundle_usable(const char *dir)
{
	cleanup_free char *p = xasprintf("%s/config.json", dir ? dir : ".");

	return access(p, F_OK) == 0;
}

/* The Bundle this node kept for the container (remnant store). */
static bool stored_bundle(struct rst *r, char real[PATH_MAX])
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *path = NULL;

	if (r->store == NULL || zs_remnant_bundle(r->store, r->o->c.id, &path, &e) <= 0)
		return false;
	return realpath(path, real) != NULL;
}

static int load_bundle(struct rst *r, zs_error_t *err)
{
	const struct zs_restore_opts *o = r->o;
	cleanup_free char *cfgp = NULL, *rootfs = NULL;
	char real[PATH_MAX];
	int ret;

	if (!bundle_usable(o->bundle) && stored_bundle(r, real))
		zs_debug("restore: using the bundle kept in the remnant store: %s", real);
	else if (realpath(o->bundle ? o->bundle : ".", real) == NULL)
		return zs_make_error(err, errno, "bundle `%s`", o->bundle ? o->bundle : ".");
	r->bundle = xstrdup(real);
	cfgp = xasprintf("%s/config.json", r->bundle);
	ret = zs_config_load(cfgp, "config.json", &r->cfg, err);
	if (ret < 0)
		return ret;
	if (r->cfg->process == NULL)
		return zs_make_error(err, -EINVAL, "config.json: process: missing");
	if (zs_lsm_check(r->cfg->process, "config.json", "process", err) < 0 ||
	    zs_lsm_check_mount_label(r->cfg, err) < 0)
		return -1;
	rootfs =
	    r->cfg->root_path[0] == '/' ? xstrdup(r->cfg->root_path) : xasprintf("%s/%s", r->bundle, r->cfg->root_path);
	if (realpath(rootfs, real) == NULL)
		return zs_make_error(err, errno, "config.json: root.path: rootfs (\"%s\") does not exist", rootfs);
	r->rootfs = xstrdup(real);
	if (r->cfg->process->terminal && o->console_socket == NULL)
		return zs_make_error(err, -EINVAL,
				     "the container has a terminal (process.terminal): restore needs --console-socket");
	if (!r->cfg->process->terminal && o->console_socket)
		return zs_make_error(err, -EINVAL, "cannot use console socket if the container has no terminal");
	ret = zs_cgroup_resources_parse(r->cfg->resources, "config.json", "linux.resources", &r->res, err);
	if (ret == 0)
		zs_resources_append_default_devices(r->res);
	return ret;
}

/* A diff whose parent is not where its link says: this node's remnant of
 * the parent, found by lineage id, then restore from the store. */
static int resolve_parent(struct rst *r, zs_error_t *err)
{
	cleanup_free char *use = NULL;
	int ret;

	/* the store keeps a copy of the diff: it must be the one written */
	if (r->store && r->parent_id && !zs_cr_chain_complete(r->image_dir) &&
	    zs_image_manifest_verify(r->image_dir, err) < 0)
		return zs_error_wrap(err, "restore refused");
	ret = zs_cr_store_resolve(r->store, r->o->c.id, r->image_dir, r->image_id, r->parent_id, &use, &r->generation,
				  err);
	if (ret < 0 || use == NULL)
		return ret;
	close(r->image_fd);
	free(r->image_dir);
	r->image_dir = steal_pointer(&use);
	r->image_fd = open(r->image_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (r->image_fd < 0)
		return zs_make_error(err, errno, "open `%s`", r->image_dir);
	return 0;
}

static int check_image(struct rst *r, zs_error_t *err)
{
	struct zs_image_info info = {0};
	int ret;

	r->image_fd = open(r->image_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (r->image_fd < 0)
		return zs_make_error(err, errno, "--image-path: open `%s`", r->image_dir);
	ret = zs_image_check_at(r->image_fd, r->image_dir, true, err);
	if (ret == 0)
		ret = zs_image_info(r->image_dir, &info, err);
	if (ret < 0)
		return zs_error_wrap(err, "--image-path `%s`", r->image_dir);
	r->image_id = info.image_id ? xstrdup(info.image_id) : NULL;
	r->parent_id = info.parent_image_id ? xstrdup(info.parent_image_id) : NULL;
	zs_image_info_free(&info);
	ret = resolve_parent(r, err);
	if (ret == 0 && r->generation && zs_image_check_at(r->image_fd, r->image_dir, false, err) < 0)
		return zs_error_wrap(err, "remnant store: `%s`", r->image_dir);
	/* the image is untrusted: what its tasks get back must be what
	 * config.json allows (lib/criu_image_policy.c) */
	if (ret == 0 && zs_image_check_config(r->image_fd, r->image_dir, r->cfg, "config.json", err) < 0)
		return zs_error_wrap(err, "restore refused");
	return ret;
}

static void add_umount(struct rst *r, const char *path)
{
	r->umounts = xrealloc(r->umounts, sizeof(char *) * (r->n_umounts + 1));
	r->umounts[r->n_umounts++] = xstrdup(path);
}

static bool under_tmpfs(const struct zs_config *cfg, const char *dest)
{
	size_t i, l;

	for (i = 0; i < cfg->n_mounts; i++) {
		const struct zs_mount *m = &cfg->mounts[i];
		if (m->type == NULL || strcmp(m->type, "tmpfs") != 0)
			continue;
		l = strlen(m->destination);
		if (strncmp(dest, m->destination, l) == 0 && dest[l] == '/')
			return true;
	}
	return false;
}

/* A mount point in the rootfs for mount M (CRIU does not create them), and
 * for bind mounts the source bound there for the time of the restore, so
 * that nested mount points inside it can be created (runc does the same). */
static int prepare_mountpoint(struct rst *r, int rootfd, const struct zs_mount *m, zs_error_t *err)
{
	cleanup_free char *src = NULL;
	cleanup_close int fd = -1;
	struct stat st;
	char procfd[64];

	if (m->type && strcmp(m->type, "cgroup") == 0)
		return 0;
	if (!m->bind || m->source == NULL) {
		fd = safe_mkdir_p_at(rootfd, m->destination, 0755, err);
		if (fd < 0)
			return zs_error_wrap(err, "mount point `%s`", m->destination);
		return zs_mount_dest_check(rootfd, fd, m, err);
	}
	src = m->source[0] == '/' ? xstrdup(m->source) : xasprintf("%s/%s", r->bundle, m->source);
	if (stat(src, &st) < 0)
		return zs_make_error(err, errno, "config.json: mounts: source `%s`", src);
	if (S_ISDIR(st.st_mode))
		fd = safe_mkdir_p_at(rootfd, m->destination, 0755, err);
	else {
		cleanup_free char *parent = xstrdup(m->destination);
		char *slash = strrchr(parent, '/');
		if (slash)
			*slash = '\0';
		fd = safe_mkdir_p_at(rootfd, *parent ? parent : "/", 0755, err);
		if (fd >= 0) {
			close(fd);
			fd = safe_openat(rootfd, m->destination, O_CREAT | O_WRONLY | O_NOFOLLOW, 0644, err);
			if (fd >= 0) {
				close(fd);
				fd = safe_openat(rootfd, m->destination, O_PATH, 0, err);
			}
		}
	}
	if (fd < 0)
		return zs_error_wrap(err, "mount point `%s`", m->destination);
	if (zs_mount_dest_check(rootfd, fd, m, err) < 0)
		return -1;
	snprintf(procfd, sizeof(procfd), "/proc/self/fd/%d", fd);
	if (mount(src, procfd, NULL, MS_BIND | MS_REC, NULL) < 0)
		return zs_make_error(err, errno, "bind `%s` on `%s` for the restore", src, m->destination);
	{
		char target[PATH_MAX];
		ssize_t n = readlink(procfd, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			add_umount(r, target);
		}
	}
	return 0;
}

static int prepare_root(struct rst *r, zs_error_t *err)
{
	cleanup_close int rootfd = -1;
	size_t i;

	r->criu_root = xasprintf("%s/%s/criu-root", r->o->c.root, r->o->c.id);
	if (mkdir(r->criu_root, 0755) < 0)
		return zs_make_error(err, errno, "mkdir `%s`", r->criu_root);
	if (mount(r->rootfs, r->criu_root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return zs_make_error(err, errno, "bind the rootfs on `%s`", r->criu_root);
	r->root_mounted = true;
	rootfd = open(r->criu_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return zs_make_error(err, errno, "open `%s`", r->criu_root);
	for (i = 0; i < r->cfg->n_mounts; i++) {
		if (under_tmpfs(r->cfg, r->cfg->mounts[i].destination))
			continue;
		if (prepare_mountpoint(r, rootfd, &r->cfg->mounts[i], err) < 0)
			return -1;
	}
	return 0;
}

static int namespaces(struct rst *r, criu_opts *c, zs_error_t *err)
{
	size_t i;
	int n = 0;

	for (i = 0; i < r->cfg->n_namespaces; i++) {
		const struct zs_namespace *ns = &r->cfg->namespaces[i];
		if (ns->path == NULL || *ns->path == '\0')
			continue;
		if (ns->type == CLONE_NEWNET || ns->type == CLONE_NEWPID) {
			const char *key = ns->type == CLONE_NEWNET ? "extRootNetNS" : "extRootPidNS";
			/* inherited by CRIU: no O_CLOEXEC here on purpose */
			int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return zs_make_error(err, errno, "namespace `%s` must exist", ns->path);
			fcntl(fd, F_SETFD, 0);
			r->ns_fds[n++] = fd;
			if (criu_local_add_inherit_fd(c, fd, key) < 0)
				return zs_make_error(err, ENOMEM, "libcriu: inherit fd");
			continue;
		}
		if (ns->type == CLONE_NEWCGROUP)
			return zs_make_error(
			    err, -EINVAL, "restore into an existing cgroup namespace (%s) is not supported", ns->path);
		if (criu_local_join_ns_add(c, zs_namespace_proc_name(ns->type), ns->path, NULL) < 0)
			return zs_make_error(err, ENOMEM, "libcriu: join namespace");
	}
	return 0;
}

/* Can this kernel track memory (wp-async: userfaultfd WP_ASYNC)? */
static bool kernel_can_track(void)
{
	struct uffdio_api api = {.api = UFFD_API};
	cleanup_close int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	if (fd < 0 || ioctl(fd, UFFDIO_API, &api) < 0)
		return false;
#ifdef UFFD_FEATURE_WP_ASYNC
	return (api.features & UFFD_FEATURE_WP_ASYNC) && (api.features & UFFD_FEATURE_WP_UNPOPULATED);
#else
	return (api.features & (1ULL << 15)) && (api.features & (1ULL << 13));
#endif
}

/* track_mem of zanshin.json(5); a broken file is reported, tracking stays on */
static bool setting_track_mem(void)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_settings s;

	if (zs_settings_load(NULL, &s, &e) < 0) {
		zs_warn("%s", zs_error_msg(e));
		return true;
	}
	return s.track_mem;
}

static int lazy_options(struct rst *r, criu_opts *c, zs_error_t *err);

static int criu_options(struct rst *r, criu_opts *c, zs_error_t *err)
{
	const struct zs_restore_opts *o = r->o;

	criu_local_set_images_dir_fd(c, r->image_fd);
	if (zs_criu_common(c, &o->c, r->cfg, r->image_dir, &r->work_fd, err) < 0)
		return -1;
	if (r->work_fd < 0 && strcmp(r->work_dir, r->image_dir) != 0) {
		/* restoring from the store: logs go where the user looks, and
		 * the generation stays as its manifest says */
		r->work_fd = open(r->work_dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		if (r->work_fd < 0)
			return zs_make_error(err, errno, "open `%s`", r->work_dir);
		criu_local_set_work_dir_fd(c, r->work_fd);
	}
	criu_local_set_log_file(c, "restore.log");
	if (zs_image_dirs_check(r->image_fd, r->image_dir, r->work_fd, r->work_dir, ZS_IMAGE_DIR_RESTORE, err) < 0)
		return -1;
	if (criu_local_set_root(c, r->criu_root) < 0)
		return zs_make_error(err, ENOMEM, "libcriu: root");
	criu_local_set_evasive_devices(c, true);
	criu_local_set_notify_cb(c, restore_notify);
	if (o->lsm_profile && criu_local_set_lsm_profile(c, o->lsm_profile) < 0)
		return zs_make_error(err, ENOMEM, "libcriu: lsm profile");
	if (o->lsm_mount_context && criu_local_set_lsm_mount_context(c, o->lsm_mount_context) < 0)
		return zs_make_error(err, ENOMEM, "libcriu: lsm mount context");
	r->track = o->track_mem == 1 || (o->track_mem < 0 && setting_track_mem() && !o->c.auto_dedup &&
					 !o->c.lazy_pages && r->image_id != NULL && kernel_can_track());
	if (o->lazy && lazy_options(r, c, err) < 0)
		return -1;
	criu_local_set_track_mem(c, r->track);
	if (namespaces(r, c, err) < 0 || zs_cr_stdio_restore(c, r->image_dir, r->null_fds, err) < 0)
		return -1;
	return zs_criu_mount_maps(c, r->cfg, r->rootfs, r->bundle, 0, true, err);
}

/* --lazy: our fault server keeps tracking exact and needs wp-async
 * tracking (criu-patches 0019); runc's --lazy-pages is the user's own
 * `criu lazy-pages`. */
static int lazy_options(struct rst *r, criu_opts *c, zs_error_t *err)
{
	const struct zs_restore_opts *o = r->o;

	if (o->c.lazy_pages)
		return zs_make_error(err, EINVAL,
				     "--lazy and --lazy-pages cannot be used together: --lazy starts its own fault "
				     "server, --lazy-pages connects to one the caller started");
	if (o->track_mem == 0 || o->c.auto_dedup)
		return zs_make_error(err, EINVAL,
				     "--lazy needs memory tracking (not --no-track-mem, not --auto-dedup): its fault "
				     "server shares the tracking userfaultfd and the tracking keeper guards it");
	if (!kernel_can_track())
		return zs_make_error(err, EOPNOTSUPP,
				     "--lazy needs userfaultfd WP_ASYNC|WP_UNPOPULATED (Linux >= 6.7), which this "
				     "kernel lacks");
	r->track = true;
	criu_local_set_lazy_pages(c, true);
	zs_debug("restore: --lazy: private anonymous memory on first touch; shared memory, file mappings and "
		 "stacks restored eagerly");
	return 0;
}

/* --lazy: the fault server runs on the host, outside the container's
 * cgroup (it outlives the restore; started before we join the cgroup). */
static int start_lazy_server(struct rst *r, zs_error_t *err)
{
	cleanup_free char *bin = NULL, *blocks = NULL;
	int ret;

	if (!r->o->lazy)
		return 0;
	if (zs_criu_binary(r->o->c.criu, &bin, err) < 0)
		return -1;
	r->lazy_lock = zs_lazy_work_lock(r->work_dir, err);
	if (r->lazy_lock < 0)
		return -1;
	if (r->generation == NULL) {
		/* from --image-path: its pages are checked as they are served
		 * (the list is written under the work directory's lock) */
		char **whole = NULL;
		size_t n = 0;

		blocks = xasprintf("%s/lazy-blocks", r->work_dir);
		ret = zs_lazy_verify_prepare(r->image_dir, blocks, &whole, &n, err);
		if (ret < 0)
			return zs_error_wrap(err, "restore refused: the image does not match its manifest");
		if (ret == 0) {
			free(steal_pointer(&blocks));
			ret = zs_restore_verify_start(r->image_dir, false, true, &r->verify, err);
		} else
			ret = zs_restore_verify_start_dirs(whole, n, &r->verify, err);
		if (ret < 0)
			return -1;
	}
	ret = zs_lazy_server_start(bin, r->image_dir, r->work_dir, blocks, &r->lazy, err);
	if (blocks)
		unlink(blocks); /* read by the server before it listens */
	return ret;
}

/* --ksm, after the fault server started (it reads images: no KSM) */
static int ksm_share(zs_error_t *err)
{
	bool running = false;

	if (zs_ksm_share_prepare(&running, err) < 0)
		return -1;
	if (!running)
		zs_warn("--ksm: KSM is not running (/sys/kernel/mm/ksm/run is not 1): nothing is merged until it is");
	return 0;
}

static int join_cgroup(struct rst *r, criu_opts *c, zs_error_t *err)
{
	size_t len;
	int ret;

	if (read_file("/proc/self/cgroup", &r->own_cgroups, &len, err) < 0)
		return -1;
	ret = zs_cgroup_create(r->o->c.id, r->cfg->cgroups_path, r->res, getpid(), &r->cg, err);
	if (ret < 0)
		return ret;
	return add_cg_roots(c, err);
}

static int save_state(struct rst *r, zs_error_t *err)
{
	struct zs_status st = {0};
	cleanup_free char *state_dir = zs_status_dir(r->o->c.root, r->o->c.id);

	if (zs_state_keep_config(r->bundle, state_dir, err) < 0)
		return -1;
	st.id = (char *) r->o->c.id;
	st.pid = r->pid;
	st.start_time = zs_proc_start_time(r->pid, NULL);
	st.bundle = r->bundle;
	st.rootfs = r->rootfs;
	st.created = r->created;
	st.owner = "";
	st.image_id = r->image_id;
	st.generation = r->generation;
	st.tracking = r->track;
	return zs_status_write(r->o->c.root, &st, r->cfg->annotations, r->cg, err);
}

/* --timeout, else restore_timeout of zanshin.json (a broken file is
 * reported: the default holds). */
static unsigned restore_timeout(const struct zs_restore_opts *o)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_settings s;

	if (o->timeout >= 0)
		return (unsigned) o->timeout;
	if (zs_settings_load(NULL, &s, &e) < 0) {
		zs_warn("%s", zs_error_msg(e));
		zs_settings_defaults(&s);
	}
	return s.restore_timeout > UINT32_MAX ? UINT32_MAX : (unsigned) s.restore_timeout;
}

/* The watchdog killed CRIU and everything it started: what it left
 * mounted goes, the rest is rst_cleanup()'s. */
static int criu_timed_out(struct rst *r, zs_error_t *err)
{
	int n = zs_criu_yard_cleanup_new(r->work_fd >= 0 ? r->work_fd : r->image_fd, r->yards_before);

	zs_error_release(&r->notify_err);
	r->pid = -1; /* killed with the tree */
	return zs_make_error(err, ETIMEDOUT,
			     "criu restore did not finish within %u s: killed it and every process it started%s "
			     "(log file: %s/restore.log)",
			     restore_timeout(r->o), n > 0 ? ", unmounted its cgroup yard" : "", r->work_dir);
}

/* Tracking from R->image_id: the store keeps that baseline while the
 * container's init lives (lib/remnant_pin.c). */
static void pin_baseline(struct rst *r)
{
	cleanup_error zs_error_t e = NULL;

	if (r->track && zs_remnant_pin(r->store, r->o->c.id, r->image_id, r->pid, &e) < 0)
		zs_warn("remnant store: %s", zs_error_msg(e));
}

/* A failed --lazy restore whose fault server found a page that does not
 * match its digest (criu-patches 0042) killed the tasks: CRIU only says a
 * task died; the server's log says why. -1 always. */
static int lazy_corrupt_error(struct rst *r, zs_error_t *err)
{
	cleanup_free char *path = NULL, *buf = NULL;
	const char *hit, *start, *end;
	size_t len;
	cleanup_error zs_error_t e = NULL;

	if (!r->o->lazy || r->work_dir == NULL)
		return -1;
	path = xasprintf("%s/lazy-pages.log", r->work_dir);
	if (read_file(path, &buf, &len, &e) < 0 || (hit = strstr(buf, "the image is corrupt")) == NULL)
		return -1;
	for (start = hit; start > buf && start[-1] != '\n'; start--)
		;
	if (strstr(start, "pages-") != NULL && strstr(start, "pages-") < hit)
		start = strstr(start, "pages-"); /* the file and block, not the log's prefix */
	end = strchr(hit, '\n');
	zs_error_release(err);
	return zs_make_error(err, -EBADMSG,
			     "restore refused: the image does not match its manifest: the fault server found %.*s "
			     "(log file: %s)",
			     (int) (end ? end - start : (ptrdiff_t) strlen(start)), start, path);
}

static int do_restore(struct rst *r, zs_error_t *err)
{
	const struct zs_restore_opts *o = r->o;
	cleanup_criu_opts criu_opts *c = NULL;
	int ret;

	ret = zs_validate_id(o->c.id, err);
	if (ret < 0)
		return ret;
	if (!o->c.lazy_pages) {
		cleanup_error zs_error_t e = NULL;
		if (zs_cr_store_open(&o->c, &r->store, &e) < 0)
			zs_warn("remnant store not used: %s", zs_error_msg(e));
	}
	/* a checkpoint into this directory whose runtime was killed after
	 * CRIU finished left the newest image beside it: it comes in first */
	zs_cr_settle_siblings(r->image_dir);
	ret = load_bundle(r, err);
	if (ret == 0)
		ret = check_image(r, err);
	/* from --image-path (not the store, whose generations were verified):
	 * checked from now on, while the restore is prepared and CRIU
	 * restores; the tasks resume only if it matches */
	if (ret == 0 && r->generation == NULL && !o->lazy) /* --lazy: start_lazy_server() */
		ret = zs_restore_verify_start(r->image_dir, o->c.lazy_pages, false, &r->verify, err);
	if (ret == 0)
		ret = zs_criu_opts_new(&o->c, &c, err);
	if (ret < 0)
		return ret;
	ret = zs_status_create_dir(o->c.root, o->c.id, err);
	if (ret < 0)
		return ret;
	r->dir_created = true;
	r->created = zs_now_rfc3339();
	if (o->lazy && (o->c.work_path == NULL || *o->c.work_path == '\0')) {
		/* the image directory may be a template others restore from */
		free(r->work_dir);
		r->work_dir = zs_lazy_work_dir(o->c.root, o->c.id, err);
		if (r->work_dir == NULL)
			return -1;
	}
	if (o->console_socket) {
		r->console_fd = zs_connect_console(o->console_socket, err);
		if (r->console_fd < 0)
			return -1;
	}
	ret = prepare_root(r, err);
	if (ret == 0)
		ret = criu_options(r, c, err);
	if (ret == 0)
		ret = start_lazy_server(r, err);
	if (ret == 0 && o->ksm)
		ret = ksm_share(err);
	if (ret == 0)
		ret = join_cgroup(r, c, err);
	if (ret < 0)
		return ret;
	zs_debug("restore: criu restore from %s (track-mem %s)", r->image_dir, r->track ? "on" : "off");
	cur = r;
	r->yards_before = zs_criu_yards(r->work_fd >= 0 ? r->work_fd : r->image_fd);
	zs_criu_watchdog_arm(restore_timeout(o));
	ret = criu_local_restore_child(c);
	r->timed_out = zs_criu_watchdog_disarm();
	cur = NULL;
	if (ret > 0 && r->pid <= 0)
		r->pid = ret;
	return_to_own_cgroups(r);
	if (r->timed_out)
		return criu_timed_out(r, err);
	if (ret < 0 || r->notify_err) {
		if (r->notify_err) {
			zs_error_t e = r->notify_err;
			r->notify_err = NULL;
			*err = e;
			return -1;
		}
		zs_criu_error(err, ret, "restore", r->work_dir, "restore.log");
		return lazy_corrupt_error(r, err);
	}
	if (r->pid <= 0)
		r->pid = ret;
	ret = save_state(r, err);
	if (ret == 0)
		pin_baseline(r);
	if (ret == 0)
		ret = zs_write_pid_file(o->pid_file, r->pid, err);
	/* what was restored stays on this node as a remnant (the baseline of
	 * the next checkpoint's diff); its generation goes into state.json
	 * once kept */
	if (ret == 0) {
		struct zs_cr_keep keep = {.id = o->c.id, .bundle = r->bundle, .rootfs = r->rootfs};
		if (r->generation == NULL && r->image_id) {
			keep.image_dir = r->image_dir;
			keep.state_root = o->c.root;
		}
		zs_cr_store_later(r->store, &keep);
	}
	return ret;
}

static void rst_cleanup(struct rst *r, bool failed)
{
	cleanup_error zs_error_t e = NULL;
	size_t i;

	if (failed) {
		/* CRIU's root task and its cgroupd are our children
		 * (CLONE_PARENT) and we are a child subreaper while restoring:
		 * what a failed restore left is ours to kill (a root task whose
		 * CRIU was killed early sleeps on CRIU's futex for ever, holding
		 * the container's stdio; the keeper; the lazy-pages server) */
		zs_criu_kill_children();
		/* a killed CRIU leaves its cgroup yard mounted in the work
		 * directory (a user's rm -rf of it then walks into every
		 * cgroup hierarchy); one that failed removed its own */
		if (r->yards_before &&
		    zs_criu_yard_cleanup_new(r->work_fd >= 0 ? r->work_fd : r->image_fd, r->yards_before) > 0)
			zs_warn("restore: CRIU ended without removing its cgroup yard: unmounted it");
	}
	for (i = r->n_umounts; i > 0; i--) {
		umount2(r->umounts[i - 1], MNT_DETACH);
		free(r->umounts[i - 1]);
	}
	free(r->umounts);
	if (r->root_mounted)
		umount2(r->criu_root, MNT_DETACH);
	if (r->criu_root)
		rmdir(r->criu_root);
	if (failed && r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
	}
	if (failed)
		zs_lazy_server_abort(&r->lazy);
	zs_lazy_server_release(&r->lazy);
	if (failed && r->cg)
		zs_cgroup_destroy(r->cg, &e);
	if (failed && r->dir_created)
		zs_status_delete(r->o->c.root, r->o->c.id, &e);
	for (i = 0; i < 2; i++)
		if (r->ns_fds[i] >= 0)
			close(r->ns_fds[i]);
	for (i = 0; i < 3; i++)
		if (r->null_fds[i] >= 0)
			close(r->null_fds[i]);
	if (r->image_fd >= 0)
		close(r->image_fd);
	if (r->work_fd >= 0)
		close(r->work_fd);
	if (r->lazy_lock >= 0)
		close(r->lazy_lock);
	if (r->console_fd >= 0)
		close(r->console_fd);
	zs_cgroup_free(r->cg);
	zs_resources_free(r->res);
	zs_config_free(r->cfg);
	free(r->bundle);
	free(r->rootfs);
	free(r->image_dir);
	free(r->work_dir);
	free(r->criu_root);
	free(r->created);
	free(r->image_id);
	free(r->own_cgroups);
	free(r->yards_before);
	free(r->parent_id);
	free(r->generation);
	zs_remnant_close(r->store);
	zs_restore_verify_free(r->verify);
	zs_error_release(&r->notify_err);
}

int zs_container_restore(const struct zs_restore_opts *o, int *exit_status, zs_error_t *err)
{
	struct rst r = {.o = o,
			.image_fd = -1,
			.work_fd = -1,
			.lazy_lock = -1,
			.console_fd = -1,
			.ns_fds = {-1, -1},
			.null_fds = {-1, -1, -1},
			.lazy = ZS_LAZY_SERVER_INIT};
	pid_t pid;
	int ret;

	/* CRIU (and the keeper and lazy-pages daemons) inherit nothing of our
	 * caller's: what they get is made inheritable below, one by one */
	if (zs_cr_fds_private(NULL, 0, err) < 0)
		return -1;
	r.image_dir = zs_cr_image_path(&o->c);
	r.work_dir = zs_cr_work_path(&o->c);
	/* a subreaper while restoring (detached too: our caller's subreaper,
	 * a shim or conmon, gets the container when we exit, as before), so
	 * that a failed restore can kill what CRIU left */
	if (!o->no_subreaper)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	ret = do_restore(&r, err);
	pid = r.pid;
	rst_cleanup(&r, ret < 0);
	if (ret < 0 || o->detach)
		return ret;
	*exit_status = zs_wait_forwarding(pid, -1);
	zs_container_delete(o->c.root, o->c.id, true, err);
	zs_error_release(err);
	return 0;
}
