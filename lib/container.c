/* zanshin — container lifecycle (create/start/run/state/kill/delete). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zanshin/cgroup.h"
#include "zanshin/checkpoint.h"
#include "zanshin/config.h"
#include "zanshin/container.h"
#include "zanshin/container_internal.h"
#include "zanshin/linux.h"
#include "zanshin/log.h"
#include "zanshin/lsm.h"
#include "zanshin/procfs.h"
#include "zanshin/seccomp.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

char *zs_now_rfc3339(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

const char *zs_container_status(const struct zs_status *st)
{
	cleanup_free char *fifo = NULL;

	if (!zs_status_pid_alive(st))
		return "stopped";
	{
		/* a lazy dump holds it frozen (ptrace): not running here */
		cleanup_free char *hold = zs_status_hold(st);
		if (hold)
			return "paused";
	}
	if (st->cgroup) {
		cleanup_cgroup struct zs_cgroup *cg = NULL;
		cleanup_error zs_error_t e = NULL;
		if (zs_cgroup_load(st->cgroup, &cg, &e) == 0 && zs_cgroup_is_frozen(cg, &e) == 1)
			return "paused";
	}
	fifo = xasprintf("%s/exec.fifo", st->dir);
	return access(fifo, F_OK) == 0 ? "created" : "running";
}

/* The config's annotations, plus what zanshin knows of the container's
 * memory tracking (runc's schema has no field for it): org.zanshin.tracking
 * (the backend, or "off"), .image-id (the tracking baseline) and
 * .generation (its name in the remnant store), when it was restored. */
static void state_annotations(zs_jgen *g, const struct zs_status *st)
{
	size_t i, n = zs_json_object_len(st->annotations);
	cleanup_free char *hold = zs_status_hold(st);

	if (n == 0 && st->image_id == NULL && hold == NULL)
		return;
	zs_jgen_key(g, "annotations");
	zs_jgen_map_open(g);
	for (i = 0; i < n; i++) {
		const char *k = zs_json_object_key(st->annotations, i);
		if (st->image_id && str_has_prefix(k, "org.zanshin."))
			continue;
		zs_jgen_key(g, k);
		zs_jgen_value(g, zs_json_object_value(st->annotations, i));
	}
	if (st->image_id) {
		cleanup_free char *backend = st->tracking ? zs_track_backend(st->pid) : NULL;
		zs_jgen_kv_string(g, "org.zanshin.tracking", backend ? backend : st->tracking ? "lost" : "off");
		zs_jgen_kv_string(g, "org.zanshin.image-id", st->image_id);
		if (st->generation)
			zs_jgen_kv_string(g, "org.zanshin.generation", st->generation);
	}
	if (hold)
		zs_jgen_kv_string(g, "org.zanshin.frozen-by", hold);
	zs_jgen_map_close(g);
}

void zs_container_state_fields(zs_jgen *g, const struct zs_status *st, const char *status, bool with_annotations)
{
	bool stopped = strcmp(status, "stopped") == 0;

	zs_jgen_kv_string(g, "ociVersion", "1.0.2-dev");
	zs_jgen_kv_string(g, "id", st->id);
	zs_jgen_kv_int(g, "pid", stopped ? 0 : st->pid);
	zs_jgen_kv_string(g, "status", status);
	zs_jgen_kv_string(g, "bundle", st->bundle);
	zs_jgen_kv_string(g, "rootfs", st->rootfs);
	zs_jgen_kv_string(g, "created", st->created);
	if (with_annotations)
		state_annotations(g, st);
	zs_jgen_kv_string(g, "owner", st->owner ? st->owner : "");
}

/* The state given to hooks on stdin (OCI state). */
char *zs_hook_state(const char *id, pid_t pid, const char *status, const char *bundle, const zs_json *annotations)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "ociVersion", "1.0.2-dev");
	zs_jgen_kv_string(g, "id", id);
	zs_jgen_kv_string(g, "status", status);
	zs_jgen_kv_int(g, "pid", pid);
	zs_jgen_kv_string(g, "bundle", bundle);
	if (annotations) {
		zs_jgen_key(g, "annotations");
		zs_jgen_value(g, annotations);
	}
	zs_jgen_map_close(g);
	return zs_jgen_result(g, NULL);
}

int zs_container_state_json(const char *root, const char *id, char **out, zs_error_t *err)
{
	cleanup_status struct zs_status *st = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(true);
	int ret;

	ret = zs_status_load(root, id, &st, err);
	if (ret < 0)
		return ret;
	zs_jgen_map_open(g);
	zs_container_state_fields(g, st, zs_container_status(st), true);
	zs_jgen_map_close(g);
	*out = zs_jgen_result(g, NULL);
	return 0;
}

/* ---- create ------------------------------------------------------------ */

struct create_ctx {
	const struct zs_create_opts *o;
	struct zs_config *config;
	struct zs_resources *res;
	struct zs_seccomp *seccomp;
	struct zs_cgroup *cg;
	char *bundle, *rootfs, *state_dir, *created;
	pid_t pid;
	int sync[2];
	int fifo_fd, console_fd, own_console; /* own_console: our end when we proxy the tty */
	int *mount_fds;
	bool dir_created;
};

static void create_ctx_cleanup(struct create_ctx *c, bool failed)
{
	cleanup_error zs_error_t e = NULL;

	if (failed && c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	if (failed && c->cg)
		zs_cgroup_destroy(c->cg, &e);
	if (failed && c->dir_created)
		zs_status_delete(c->o->root, c->o->id, &e);
	if (c->mount_fds) {
		size_t i;
		for (i = 0; i < c->config->n_mounts; i++)
			if (c->mount_fds[i] >= 0)
				close(c->mount_fds[i]);
		free(c->mount_fds);
	}
	zs_cgroup_free(c->cg);
	zs_resources_free(c->res);
	zs_seccomp_free(c->seccomp);
	zs_config_free(c->config);
	free(c->bundle);
	free(c->rootfs);
	free(c->state_dir);
	free(c->created);
	if (c->sync[0] >= 0)
		close(c->sync[0]);
	if (c->sync[1] >= 0)
		close(c->sync[1]);
	if (c->fifo_fd >= 0)
		close(c->fifo_fd);
	if (c->console_fd >= 0)
		close(c->console_fd);
}

/* socket activation: with LISTEN_FDS in our environment the fds are
 * preserved (create_opts) and the container gets LISTEN_FDS and
 * LISTEN_PID=1, as runc does. */
static void add_listen_fds_env(struct zs_process *p)
{
	const char *n = getenv("LISTEN_FDS");
	size_t len = 0;

	if (n == NULL || *n == '\0')
		return;
	while (p->env && p->env[len])
		len++;
	p->env = xrealloc(p->env, sizeof(char *) * (len + 3));
	p->env[len++] = xasprintf("LISTEN_FDS=%s", n);
	p->env[len++] = xstrdup("LISTEN_PID=1");
	p->env[len] = NULL;
}

/* Settings that would change the host when the container shares the
 * namespace with it are refused (as runc's validator does). */
static bool has_private_ns(const struct zs_config *cfg, int type)
{
	return zs_config_namespace(cfg, type) != NULL;
}

static int validate_namespaced(const struct zs_config *cfg, zs_error_t *err)
{
	size_t i;

	if ((cfg->hostname && *cfg->hostname) && !has_private_ns(cfg, CLONE_NEWUTS))
		return zs_make_error(err, -EINVAL,
				     "config.json: hostname: unable to set hostname without a private UTS namespace");
	if ((cfg->domainname && *cfg->domainname) && !has_private_ns(cfg, CLONE_NEWUTS))
		return zs_make_error(
		    err, -EINVAL, "config.json: domainname: unable to set domainname without a private UTS namespace");
	if (!has_private_ns(cfg, CLONE_NEWNS) &&
	    (cfg->n_mounts || (cfg->masked_paths && *cfg->masked_paths) ||
	     (cfg->readonly_paths && *cfg->readonly_paths) || cfg->n_devices || cfg->n_sysctl))
		return zs_make_error(
		    err, -EINVAL,
		    "config.json: linux.namespaces: mounts, devices, masked/readonly paths and sysctls need a "
		    "mount namespace");
	for (i = 0; i < cfg->n_sysctl; i++) {
		const char *k = cfg->sysctl[i].key;
		if (str_has_prefix(k, "net.") && !has_private_ns(cfg, CLONE_NEWNET))
			return zs_make_error(
			    err, -EINVAL, "config.json: linux.sysctl.%s: not allowed in the host's network namespace",
			    k);
		if ((str_has_prefix(k, "kernel.msg") || str_has_prefix(k, "kernel.sem") ||
		     str_has_prefix(k, "kernel.shm") || str_has_prefix(k, "fs.mqueue.")) &&
		    !has_private_ns(cfg, CLONE_NEWIPC))
			return zs_make_error(
			    err, -EINVAL, "config.json: linux.sysctl.%s: not allowed without a private IPC namespace",
			    k);
	}
	return 0;
}

static int load_bundle(struct create_ctx *c, zs_error_t *err)
{
	cleanup_free char *cfg = NULL, *rootfs = NULL;
	char real[PATH_MAX];
	int ret;

	if (realpath(c->o->bundle ? c->o->bundle : ".", real) == NULL)
		return zs_make_error(err, errno, "bundle `%s`", c->o->bundle ? c->o->bundle : ".");
	c->bundle = xstrdup(real);
	cfg = xasprintf("%s/config.json", c->bundle);
	ret = zs_config_load(cfg, "config.json", &c->config, err);
	if (ret < 0)
		return ret;
	if (c->config->process == NULL)
		return zs_make_error(err, -EINVAL, "config.json: process: missing");
	ret = validate_namespaced(c->config, err);
	if (ret == 0)
		ret = zs_lsm_check(c->config->process, "config.json", "process", err);
	if (ret == 0)
		ret = zs_lsm_check_mount_label(c->config, err);
	if (ret < 0)
		return ret;
	rootfs = c->config->root_path[0] == '/' ? xstrdup(c->config->root_path)
						: xasprintf("%s/%s", c->bundle, c->config->root_path);
	if (realpath(rootfs, real) == NULL)
		return zs_make_error(err, errno, "config.json: root.path: rootfs (\"%s\") does not exist", rootfs);
	c->rootfs = xstrdup(real);
	add_listen_fds_env(c->config->process);
	if (c->config->process->terminal && c->o->console_socket == NULL && c->o->detach)
		return zs_make_error(err, -EINVAL,
				     "cannot allocate tty if runc will detach without setting console socket");
	if (!c->config->process->terminal && c->o->console_socket)
		return zs_make_error(err, -EINVAL, "cannot use console socket if runc will not detach or allocate tty");
	return 0;
}

static int parse_linux_parts(struct create_ctx *c, zs_error_t *err)
{
	size_t i;
	int ret;

	ret = zs_cgroup_resources_parse(c->config->resources, "config.json", "linux.resources", &c->res, err);
	if (ret < 0)
		return ret;
	/* As runc: linux.devices are created, access comes from the rules. */
	zs_resources_append_default_devices(c->res);
	(void) i;
	return zs_seccomp_parse(c->config->seccomp, "config.json", "linux.seccomp", &c->seccomp, err);
}

int zs_connect_console(const char *path, zs_error_t *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return zs_make_error(err, ENAMETOOLONG, "console socket path `%s`", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return zs_make_error(err, errno, "socket");
	if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0) {
		int e = errno;
		close(fd);
		return zs_make_error(err, e, "connect to the console socket `%s`", path);
	}
	return fd;
}

static int prepare_fds(struct create_ctx *c, zs_error_t *err)
{
	cleanup_free char *fifo = zs_status_fifo_path(c->o->root, c->o->id);
	int pair[2];

	if (mkfifo(fifo, 0622) < 0)
		return zs_make_error(err, errno, "mkfifo `%s`", fifo);
	/* the init may have switched to a non-root user by the time it opens it */
	if (chmod(fifo, 0622) < 0)
		return zs_make_error(err, errno, "chmod `%s`", fifo);
	c->fifo_fd = open(fifo, O_PATH | O_CLOEXEC);
	if (c->fifo_fd < 0)
		return zs_make_error(err, errno, "open `%s`", fifo);
	if (c->config->process->terminal) {
		if (c->o->console_socket) {
			c->console_fd = zs_connect_console(c->o->console_socket, err);
			if (c->console_fd < 0)
				return -1;
		} else {
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
				return zs_make_error(err, errno, "socketpair");
			c->console_fd = pair[1];
			c->own_console = pair[0];
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->sync) < 0)
		return zs_make_error(err, errno, "socketpair");
	return 0;
}

/* Open every bind mount source now, as root in our own user namespace: the
 * init may lose access to them once it is in a user namespace (runc does the
 * same).  Relative sources are relative to the bundle. */
static int open_mount_sources(struct create_ctx *c, zs_error_t *err)
{
	cleanup_close int bfd = open(c->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	size_t i;

	c->mount_fds = xmalloc(sizeof(int) * (c->config->n_mounts + 1));
	for (i = 0; i < c->config->n_mounts; i++) {
		const struct zs_mount *m = &c->config->mounts[i];
		c->mount_fds[i] = -1;
		if (!m->bind || m->source == NULL)
			continue;
		/* a detached copy of the source tree, attached by the init with
		 * move_mount() (works across mount and user namespaces) */
		c->mount_fds[i] = syscall(428 /* open_tree */, bfd, m->source,
					  1 /* OPEN_TREE_CLONE */ | O_CLOEXEC | ((m->flags & MS_REC) ? 0x8000 : 0));
		if (c->mount_fds[i] < 0)
			return zs_make_error(err, errno, "config.json: mounts[%zu].source: open_tree `%s`", i,
					     m->source);
	}
	return 0;
}

static int join_pidns_path(const struct zs_config *cfg, zs_error_t *err)
{
	const struct zs_namespace *ns = zs_config_namespace(cfg, CLONE_NEWPID);
	int fd;

	if (ns == NULL || ns->path == NULL || *ns->path == '\0')
		return 0;
	fd = open(ns->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return zs_make_error(err, errno, "open namespace `%s`", ns->path);
	if (setns(fd, CLONE_NEWPID) < 0) {
		int e = errno;
		close(fd);
		return zs_make_error(err, e, "setns `%s`", ns->path);
	}
	close(fd);
	return 0;
}

static int clone_flags_of(const struct zs_config *cfg)
{
	size_t i;
	int flags = 0;

	for (i = 0; i < cfg->n_namespaces; i++) {
		const struct zs_namespace *ns = &cfg->namespaces[i];
		if (ns->path && *ns->path)
			continue;
		if (ns->type == CLONE_NEWCGROUP || ns->type == 0x80 /* time */)
			continue; /* unshared by the child once it is in its cgroup */
		flags |= ns->type;
	}
	return flags;
}

static int write_id_map(pid_t pid, const char *file, const struct zs_id_map *m, size_t n, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%d/%s", (int) pid, file);
	char buf[4096];
	size_t len = 0, i;

	for (i = 0; i < n && len < sizeof(buf) - 64; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
	return zs_proc_write(path, buf, len, err) < 0 ? zs_error_wrap(err, "write %s", file) : 0;
}

static int spawn_init(struct create_ctx *c, zs_error_t *err)
{
	struct zs_init_args a = {0};
	int flags = clone_flags_of(c->config);
	pid_t pid;

	a.config = c->config;
	a.process = c->config->process;
	a.seccomp = c->seccomp;
	a.rootfs = c->rootfs;
	a.id = c->o->id;
	a.bundle = c->bundle;
	a.sync_fd = c->sync[1];
	a.fifo_fd = c->fifo_fd;
	a.console_fd = c->console_fd;
	a.preserve_fds = c->o->preserve_fds;
	a.no_pivot = c->o->no_pivot;
	a.no_new_keyring = c->o->no_new_keyring;
	a.clone_flags = flags;
	a.mount_src_fds = c->mount_fds;
	/* inherited by the init: it is never dumpable in the container */
	if (zs_make_undumpable(err) < 0 || join_pidns_path(c->config, err) < 0)
		return -1;
	pid = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
	if (pid < 0)
		return zs_make_error(err, errno, "clone the container init");
	if (pid == 0) {
		close(c->sync[0]);
		if (c->own_console >= 0)
			close(c->own_console);
		zs_linux_init(&a);
	}
	c->pid = pid;
	zs_debug("create: container init is pid %d (clone flags 0x%x)", (int) pid, flags);
	close(c->sync[1]);
	c->sync[1] = -1;
	if (c->console_fd >= 0) {
		close(c->console_fd);
		c->console_fd = -1;
	}
	return 0;
}

static int setup_from_parent(struct create_ctx *c, zs_error_t *err)
{
	const struct zs_config *cfg = c->config;
	int ret;

	if (zs_config_namespace(cfg, CLONE_NEWUSER) && !zs_config_namespace(cfg, CLONE_NEWUSER)->path) {
		ret = write_id_map(c->pid, "uid_map", cfg->uid_maps, cfg->n_uid_maps, err);
		if (ret == 0)
			ret = write_id_map(c->pid, "gid_map", cfg->gid_maps, cfg->n_gid_maps, err);
		if (ret < 0)
			return ret;
	}
	ret = zs_cgroup_create(c->o->id, cfg->cgroups_path, c->res, c->pid, &c->cg, err);
	if (ret < 0)
		return ret;
	if (zs_cgroup_was_populated(c->cg))
		zs_warn("container's cgroup is not empty: processes other than the container's init found");
	ret = zs_set_oom_score_adj(c->pid, cfg->process, err);
	if (ret < 0)
		return ret;
	if (zs_sync_send(c->sync[0], ZS_SYNC_GO, 0, NULL) < 0)
		return zs_make_error(err, errno, "sync with the container init");
	return 0;
}

static int run_parent_hooks(struct create_ctx *c, zs_error_t *err)
{
	const struct zs_config *cfg = c->config;
	cleanup_free char *state = zs_hook_state(c->o->id, c->pid, "creating", c->bundle, cfg->annotations);
	int ret;

	ret = zs_run_hooks(cfg->hooks[ZS_HOOK_PRESTART], cfg->n_hooks[ZS_HOOK_PRESTART], "prestart", state, err);
	if (ret == 0)
		ret = zs_run_hooks(cfg->hooks[ZS_HOOK_CREATE_RUNTIME], cfg->n_hooks[ZS_HOOK_CREATE_RUNTIME],
				   "createRuntime", state, err);
	if (ret < 0)
		return ret;
	/* the init builds the same state from the pid we send (no size limit) */
	if (zs_sync_send(c->sync[0], ZS_SYNC_HOOKS_DONE, (int) c->pid, NULL) < 0)
		return zs_make_error(err, errno, "sync with the container init");
	return 0;
}

/* After ZS_SYNC_CREATED the init seals itself (the seccomp filter with
 * noNewPrivileges) and closes the socket: EOF then means success, unless the
 * init died instead. */
static int wait_sealed(struct create_ctx *c, zs_error_t *err)
{
	struct zs_sync_msg m;
	int status;

	if (zs_sync_recv_reply(c->sync[0], &m, err) < 0)
		return -1;
	if (m.type == ZS_SYNC_ERROR)
		return zs_make_error(err, m.err_no, "%s", m.msg);
	if (m.type != 0)
		return zs_make_error(err, -EPROTO, "container init: unexpected message %d after it was created",
				     m.type);
	if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
		c->pid = -1;
		return zs_make_error(err, 0, "container init exited before it was started");
	}
	return 0;
}

/* Messages from the init are untrusted (it runs in the container):
 * zs_sync_recv bounds, checks and sanitizes them. */
static int wait_created(struct create_ctx *c, zs_error_t *err)
{
	struct zs_sync_msg m;
	int ret;

	for (;;) {
		ret = zs_sync_recv_reply(c->sync[0], &m, err);
		if (ret < 0)
			return ret;
		switch (m.type) {
		case ZS_SYNC_HOOKS:
			ret = run_parent_hooks(c, err);
			if (ret < 0)
				return ret;
			break;
		case ZS_SYNC_CREATED:
			return wait_sealed(c, err);
		case ZS_SYNC_ERROR:
			return zs_make_error(err, m.err_no, "%s", m.msg);
		case 0:
			return zs_make_error(err, 0, "container init exited unexpectedly");
		default:
			return zs_make_error(err, -EPROTO, "container init: unexpected message %d", m.type);
		}
	}
}

int zs_write_pid_file(const char *path, pid_t pid, zs_error_t *err)
{
	char buf[32];
	int len;

	if (path == NULL)
		return 0;
	len = snprintf(buf, sizeof(buf), "%d", (int) pid);
	return write_file_atomic(path, buf, len, 0644, err);
}

int zs_state_keep_config(const char *bundle, const char *state_dir, zs_error_t *err)
{
	cleanup_free char *cfg_src = xasprintf("%s/config.json", bundle);
	cleanup_free char *cfg_dst = xasprintf("%s/config.json", state_dir);
	cleanup_free char *buf = NULL;
	size_t len;
	int ret;

	ret = read_file(cfg_src, &buf, &len, err);
	if (ret == 0)
		ret = write_file_replace(cfg_dst, buf, len, 0600, err);
	return ret;
}

static int save_state(struct create_ctx *c, zs_error_t *err)
{
	struct zs_status st = {0};

	if (zs_state_keep_config(c->bundle, c->state_dir, err) < 0)
		return -1;
	st.id = (char *) c->o->id;
	st.pid = c->pid;
	st.start_time = zs_proc_start_time(c->pid, NULL);
	st.bundle = c->bundle;
	st.rootfs = c->rootfs;
	st.created = c->created;
	st.owner = "";
	return zs_status_write(c->o->root, &st, c->config->annotations, c->cg, err);
}

static int do_create(struct create_ctx *c, zs_error_t *err)
{
	int ret;

	ret = zs_validate_id(c->o->id, err);
	if (ret == 0)
		ret = load_bundle(c, err);
	if (ret == 0)
		ret = parse_linux_parts(c, err);
	if (ret < 0)
		return ret;
	ret = zs_status_create_dir(c->o->root, c->o->id, err);
	if (ret < 0)
		return ret;
	c->dir_created = true;
	c->state_dir = zs_status_dir(c->o->root, c->o->id);
	c->created = zs_now_rfc3339();
	ret = prepare_fds(c, err);
	if (ret == 0)
		ret = open_mount_sources(c, err);
	if (ret == 0)
		ret = spawn_init(c, err);
	if (ret == 0)
		ret = setup_from_parent(c, err);
	if (ret == 0)
		ret = wait_created(c, err);
	if (ret == 0)
		ret = save_state(c, err);
	if (ret == 0)
		ret = zs_write_pid_file(c->o->pid_file, c->pid, err);
	return ret;
}

static void forward_signal(int sig);
static pid_t forward_pid;

static int proxy_master = -1;

static void forward_signal(int sig)
{
	struct winsize ws;

	/* our terminal was resized: resize the container's pty (which sends
	 * SIGWINCH to its foreground process group itself) */
	if (sig == SIGWINCH && proxy_master >= 0) {
		if (ioctl(0, TIOCGWINSZ, &ws) == 0)
			ioctl(proxy_master, TIOCSWINSZ, &ws);
		return;
	}
	if (forward_pid > 0)
		kill(forward_pid, sig);
}

int zs_wait_forwarding(pid_t pid, int tty_master)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
	struct sigaction sa = {.sa_handler = forward_signal};
	size_t i;
	int status = 0;

	forward_pid = pid;
	proxy_master = tty_master;
	if (tty_master >= 0)
		forward_signal(SIGWINCH); /* initial size */
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	if (tty_master >= 0)
		zs_tty_proxy(tty_master);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 255;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int zs_container_create(const struct zs_create_opts *o, bool start, int *exit_status, zs_error_t *err)
{
	struct create_ctx c = {.o = o, .sync = {-1, -1}, .fifo_fd = -1, .console_fd = -1, .own_console = -1};
	int master = -1, ret;

	ret = do_create(&c, err);
	if (ret == 0 && c.own_console >= 0) {
		master = zs_recv_fd(c.own_console, err);
		if (master < 0)
			ret = -1;
	}
	if (ret < 0) {
		create_ctx_cleanup(&c, true);
		if (c.own_console >= 0)
			close(c.own_console);
		return ret;
	}
	if (c.own_console >= 0)
		close(c.own_console);
	if (start) {
		ret = zs_container_start(o->root, o->id, err);
		if (ret == 0 && !o->detach) {
			*exit_status = zs_wait_forwarding(c.pid, master);
			if (!o->keep)
				zs_container_delete(o->root, o->id, true, err);
			zs_error_release(err);
		}
	}
	if (master >= 0)
		close(master);
	create_ctx_cleanup(&c, false);
	return ret;
}

/* ---- start -------------------------------------------------------------- */

int zs_container_start(const char *root, const char *id, zs_error_t *err)
{
	cleanup_status struct zs_status *st = NULL;
	cleanup_config struct zs_config *cfg = NULL;
	cleanup_free char *fifo = zs_status_fifo_path(root, id);
	cleanup_free char *cfgp = NULL, *state = NULL;
	cleanup_close int lock = -1, fd = -1;
	char b;
	int ret;

	ret = zs_validate_id(id, err);
	if (ret < 0)
		return ret;
	/* checked before the lock, which a checkpoint holds */
	ret = zs_status_load(root, id, &st, err);
	if (ret == 0)
		ret = zs_status_check_hold(st, "started", err);
	zs_status_free(st);
	st = NULL;
	if (ret < 0)
		return ret;
	lock = zs_status_lock(root, id, err);
	if (lock < 0)
		return lock;
	ret = zs_status_load(root, id, &st, err);
	if (ret < 0)
		return ret;
	if (!zs_status_pid_alive(st))
		return zs_make_error(err, 0, "cannot start a container that has stopped");
	fd = open(fifo, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return zs_make_error(err, 0, "cannot start an already running container");
		return zs_make_error(err, errno, "open exec fifo");
	}
	/* The init has the fifo open for writing, blocked until we opened it;
	 * wait for its byte. */
	{
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int tries;
		for (tries = 0; tries < 1000; tries++) {
			ssize_t n = read(fd, &b, 1);
			if (n == 1)
				break;
			if (n == 0 || (n < 0 && errno == EAGAIN)) {
				if (!zs_status_pid_alive(st))
					return zs_make_error(err, 0, "container init exited before start");
				poll(&p, 1, 10);
				continue;
			}
			return zs_make_error(err, errno, "read exec fifo");
		}
	}
	unlink(fifo);
	cfgp = xasprintf("%s/%s/config.json", root, id);
	ret = zs_config_load(cfgp, "config.json", &cfg, err);
	if (ret < 0)
		return ret;
	if (cfg->n_hooks[ZS_HOOK_POSTSTART]) {
		state = zs_hook_state(id, st->pid, "running", st->bundle, st->annotations);
		ret = zs_run_hooks(cfg->hooks[ZS_HOOK_POSTSTART], cfg->n_hooks[ZS_HOOK_POSTSTART], "poststart", state,
				   err);
		if (ret < 0) {
			kill(st->pid, SIGKILL);
			return ret;
		}
	}
	return 0;
}
