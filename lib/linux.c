/* zanshin — inside the container: namespaces, rootfs, process attributes,
 * the exec fifo wait and execve.  Runs in the init child (and, with
 * is_exec, in an exec'd process after it joined the namespaces). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include <linux/keyctl.h>

#include "zanshin/linux.h"
#include "zanshin/container_internal.h"
#include "zanshin/linux_internal.h"
#include "zanshin/log.h"
#include "zanshin/lsm.h"
#include "zanshin/procfs.h"
#include "zanshin/seccomp.h"
#include "zanshin/stdio.h"
#include "zanshin/utils.h"

extern char **environ;

static int join_namespaces(const struct zs_init_args *a, zs_error_t *err)
{
	const struct zs_config *c = a->config;
	size_t i;
	int pass;

	/* user first, then the others (pid was joined by the parent). */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < c->n_namespaces; i++) {
			const struct zs_namespace *ns = &c->namespaces[i];
			int fd;
			if (ns->path == NULL || *ns->path == '\0' || ns->type == CLONE_NEWPID)
				continue;
			if ((pass == 0) != (ns->type == CLONE_NEWUSER))
				continue;
			fd = open(ns->path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return zs_make_error(err, errno, "open namespace `%s`", ns->path);
			if (setns(fd, ns->type) < 0) {
				int e = errno;
				close(fd);
				return zs_make_error(err, e, "setns `%s`", ns->path);
			}
			close(fd);
		}
	}
	return 0;
}

/* The init's terminal is also /dev/console, as runc sets it up.  The
 * target is opened inside the root without following links (the 2025
 * console CVE); a read-only /dev is left alone. */
static int bind_console(int slave, zs_error_t *err)
{
	cleanup_close int dev = -1, target = -1;
	char src[64], dst[64];

	dev = safe_openat(AT_FDCWD, "/dev", O_DIRECTORY | O_RDONLY, 0, NULL);
	if (dev < 0)
		return 0;
	target = openat(dev, "console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (target < 0 && (errno == EROFS || errno == EACCES))
		return 0;
	if (target >= 0)
		close(target);
	target = safe_openat(dev, "console", O_PATH, 0, err);
	if (target < 0)
		return target;
	snprintf(src, sizeof(src), "/proc/self/fd/%d", slave);
	snprintf(dst, sizeof(dst), "/proc/self/fd/%d", target);
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		return zs_make_error(err, errno, "bind the terminal to /dev/console");
	return 0;
}

static int setup_terminal(const struct zs_init_args *a, const struct zs_process *p, zs_error_t *err)
{
	cleanup_close int master = -1;
	int slave;
	char name[PATH_MAX];

	if (!p->terminal)
		return 0;
	if (a->console_fd < 0)
		return zs_make_error(err, EINVAL, "process.terminal is set but no --console-socket was given");
	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return zs_make_error(err, errno, "open /dev/ptmx");
	if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
		return zs_make_error(err, errno, "unlockpt");
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return zs_make_error(err, errno, "open `%s`", name);
	if (fchown(slave, p->uid, -1) < 0)
		return zs_make_error(err, errno, "chown `%s`", name);
	if (p->console_height || p->console_width) {
		struct winsize ws = {.ws_row = p->console_height, .ws_col = p->console_width};
		ioctl(slave, TIOCSWINSZ, &ws);
	}
	if (!a->is_exec && bind_console(slave, err) < 0)
		return -1;
	if (zs_send_fd(a->console_fd, master, name, err) < 0)
		return -1;
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		return zs_make_error(err, errno, "dup2 the terminal");
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		return zs_make_error(err, errno, "ioctl TIOCSCTTY");
	close(slave);
	close(a->console_fd);
	return 0;
}

static int set_rlimits(const struct zs_process *p, zs_error_t *err)
{
	size_t i;

	for (i = 0; i < p->n_rlimits; i++) {
		struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			return zs_make_error(err, errno, "setrlimit(%d, soft=%llu, hard=%llu)", p->rlimits[i].resource,
					     (unsigned long long) rl.rlim_cur, (unsigned long long) rl.rlim_max);
	}
	return 0;
}

/* Written by the parent into /proc/PID: the child is non-dumpable, so its
 * own /proc/self files belong to the host's root, which a user-namespaced
 * child cannot write (runc writes it before joining the user namespace). */
int zs_set_oom_score_adj(pid_t pid, const struct zs_process *p, zs_error_t *err)
{
	cleanup_free char *path = NULL;
	char buf[16];

	if (!p->oom_score_adj_set)
		return 0;
	path = xasprintf("%d/oom_score_adj", (int) pid);
	snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
	if (zs_proc_write(path, buf, strlen(buf), err) < 0)
		return zs_error_wrap(err, "set process.oomScoreAdj");
	return 0;
}

/* Look ARGV0 up in PATH (from ENV) the way execvp will. */
static int find_executable(const char *argv0, char **env, char **out, zs_error_t *err)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	cleanup_free char *copy = NULL;
	char *dir, *save = NULL, **e;

	if (strchr(argv0, '/')) {
		if (access(argv0, X_OK) < 0)
			return zs_make_error(err, errno, "exec: \"%s\"", argv0);
		*out = xstrdup(argv0);
		return 0;
	}
	for (e = env; e && *e; e++)
		if (str_has_prefix(*e, "PATH="))
			path = *e + 5;
	copy = xstrdup(path);
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		cleanup_free char *cand = xasprintf("%s/%s", *dir ? dir : ".", argv0);
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
			*out = steal_pointer(&cand);
			return 0;
		}
	}
	return zs_make_error(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", argv0);
}

static int set_caps_bounding(const struct zs_process *p, zs_error_t *err)
{
	int c;

	if (!p->caps_set)
		return 0;
	for (c = 0; c <= CAP_LAST_CAP; c++) {
		if (p->caps[ZS_CAP_BOUNDING] & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return zs_make_error(err, errno, "drop capability %d from the bounding set", c);
	}
	return 0;
}

static int set_caps_final(const struct zs_process *p, zs_error_t *err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	int c;

	if (!p->caps_set)
		return 0;
	memset(data, 0, sizeof(data));
	data[0].effective = p->caps[ZS_CAP_EFFECTIVE];
	data[1].effective = p->caps[ZS_CAP_EFFECTIVE] >> 32;
	data[0].permitted = p->caps[ZS_CAP_PERMITTED];
	data[1].permitted = p->caps[ZS_CAP_PERMITTED] >> 32;
	data[0].inheritable = p->caps[ZS_CAP_INHERITABLE];
	data[1].inheritable = p->caps[ZS_CAP_INHERITABLE] >> 32;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return zs_make_error(err, errno, "capset");
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (c = 0; c <= CAP_LAST_CAP; c++)
		if (p->caps[ZS_CAP_AMBIENT] & (1ULL << c))
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
	return 0;
}

static int set_user(const struct zs_process *p, zs_error_t *err)
{
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return zs_make_error(err, errno, "prctl(PR_SET_KEEPCAPS)");
	if (setgroups(p->n_additional_gids, p->additional_gids) < 0 && !(errno == EPERM && p->n_additional_gids == 0))
		return zs_make_error(err, errno, "setgroups");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return zs_make_error(err, errno, "setresgid(%u)", (unsigned) p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return zs_make_error(err, errno, "setresuid(%u)", (unsigned) p->uid);
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}

static int wait_for_start(const struct zs_init_args *a, zs_error_t *err)
{
	char path[64];
	cleanup_close int fd = -1;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", a->fifo_fd);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return zs_make_error(err, errno, "open exec fifo");
	if (write(fd, "0", 1) != 1)
		return zs_make_error(err, errno, "write exec fifo");
	close(a->fifo_fd);
	return 0;
}

static int seal_process(struct zs_init_args *a, const struct zs_process *p, zs_error_t *err);

static void init_fail(const struct zs_init_args *a, zs_error_t err)
{
	zs_sync_send(a->sync_fd, ZS_SYNC_ERROR, zs_error_errno(err), zs_error_msg(err));
	_exit(1);
}

/* Inherited fds >= FROM that the caller did not ask to pass: every fd of
 * our own is O_CLOEXEC, so the ones without it came from our caller
 * (runc passes only stdio, the preserved fds and its own). */
static int close_inherited_fds(int from, zs_error_t *err)
{
	cleanup_dir DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (d == NULL)
		return zs_make_error(err, errno, "open /proc/self/fd");
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name), flags;
		if (de->d_name[0] == '.' || fd < from || fd == dirfd(d))
			continue;
		flags = fcntl(fd, F_GETFD);
		if (flags >= 0 && !(flags & FD_CLOEXEC))
			close(fd);
	}
	return 0;
}

int zs_make_undumpable(zs_error_t *err)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return zs_make_error(err, errno, "prctl(PR_SET_DUMPABLE, 0)");
	return 0;
}

/* First thing in a process that enters the container (the init, an exec'd
 * process), CVE-2016-9962: non-dumpable until execve (which makes it
 * dumpable again for a readable binary), so that nothing in the container
 * can ptrace it or open its /proc/PID/{fd,exe,mem} while it holds host
 * resources and container capabilities without the seccomp filter; the
 * parent made itself non-dumpable before forking, this is the child's own
 * guarantee.  The host's log file is closed (lines go to the parent over
 * the sync socket) and inherited fds beyond the preserved ones are closed
 * (seal_process() gives whatever is left CLOEXEC before execve). */
void zs_linux_guard(struct zs_init_args *a)
{
	zs_error_t err = NULL;

	if (zs_make_undumpable(&err) < 0)
		init_fail(a, err);
	zs_sync_log_to_parent(&a->sync_fd);
	if (close_inherited_fds(3 + a->preserve_fds, &err) < 0)
		init_fail(a, err);
}

/* The init is created: tell the parent, seal (the filter now, before the
 * wait for `start`, as runc does with noNewPrivileges), report a failure to
 * seal, then hang up: EOF is what the parent waits for. */
static void init_created(struct zs_init_args *a, const struct zs_process *p)
{
	zs_error_t err = NULL;

	if (zs_sync_send(a->sync_fd, ZS_SYNC_CREATED, 0, NULL) < 0)
		_exit(1);
	if (seal_process(a, p, &err) < 0)
		init_fail(a, err);
	zs_log_redirect(NULL, NULL);
	close(a->sync_fd);
	a->sync_fd = -1;
}

static int prepare_process(const struct zs_init_args *a, const struct zs_process *p, zs_error_t *err)
{
	int ret;

	/* the init in its own mount namespace must get the container's
	 * /dev/null; an exec'd process keeps the host's if it cannot */
	ret = zs_stdio_prepare(a->config, p->uid, p->terminal,
			       !a->is_exec && zs_config_namespace(a->config, CLONE_NEWNS), err);
	if (ret == 0)
		ret = setup_terminal(a, p, err);
	if (ret == 0)
		ret = set_rlimits(p, err);
	if (ret == 0 && a->config->personality_set && personality(a->config->personality) < 0)
		ret = zs_make_error(err, errno, "personality");
	/* while still privileged, as runc: the profile/label take effect at execve */
	if (ret == 0)
		ret = zs_lsm_apply_exec(p, err);
	return ret;
}

static int drop_privileges(struct zs_init_args *a, const struct zs_process *p, zs_error_t *err)
{
	int ret;

	/* chdir while still privileged; retried as the user (runc does both) */
	a->cwd_done = chdir(p->cwd) == 0;
	ret = set_caps_bounding(p, err);
	if (ret == 0 && a->seccomp && !p->no_new_privileges)
		ret = zs_seccomp_load(a->seccomp, err);
	if (ret == 0)
		ret = set_user(p, err);
	if (ret == 0)
		ret = set_caps_final(p, err);
	if (ret == 0 && p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		ret = zs_make_error(err, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
	return ret;
}

static int enter_cwd(const struct zs_init_args *a, const struct zs_process *p, zs_error_t *err)
{
	char buf[PATH_MAX];

	if (!a->cwd_done && chdir(p->cwd) < 0)
		return zs_make_error(err, errno, "chdir to cwd (\"%s\") set in config.json failed", p->cwd);
	/* CVE-2024-21626: a leaked fd could leave us outside the root. */
	if (getcwd(buf, sizeof(buf)) == NULL)
		return zs_make_error(err, errno, "current working directory is outside of the container's root");
	return 0;
}

/* The last steps before execve, once: every fd beyond the preserved ones
 * gets CLOEXEC, then, with noNewPrivileges, the seccomp filter (as late as
 * runc loads it, so that a profile need not allow our own syscalls; the
 * process is non-dumpable all along, so nothing in the container can use
 * the unfiltered window).  Without noNewPrivileges the filter was loaded in
 * drop_privileges(), before the capabilities went. */
static int seal_process(struct zs_init_args *a, const struct zs_process *p, zs_error_t *err)
{
	if (a->sealed)
		return 0;
	if (mark_fds_cloexec_from(3 + a->preserve_fds, err) < 0)
		return -1;
	if (a->seccomp && p->no_new_privileges && !a->seccomp_loaded) {
		if (zs_seccomp_load(a->seccomp, err) < 0)
			return -1;
		a->seccomp_loaded = true;
	}
	a->sealed = true;
	return 0;
}

static void exec_process(struct zs_init_args *a, const struct zs_process *p, const char *exe)
{
	zs_error_t err = NULL;

	if (seal_process(a, p, &err) < 0)
		goto fail;
	environ = p->env ? p->env : (char *[]){NULL};
	execv(exe, p->args);
	zs_make_error(&err, errno, "exec `%s`", exe);
fail:
	if (a->fifo_fd >= 0) {
		/* after start nobody reads the sync socket any more */
		fprintf(stderr, "zanshin init: %s: %s\n", zs_error_msg(err), strerror(zs_error_errno(err)));
		_exit(127);
	}
	init_fail(a, err);
}

static int run_create_container_hooks(const struct zs_init_args *a, zs_error_t *err)
{
	const struct zs_config *c = a->config;

	if (c->n_hooks[ZS_HOOK_CREATE_CONTAINER] == 0)
		return 0;
	/* runc runs them from the rootfs, before pivot_root */
	if (chdir(a->rootfs) < 0)
		return zs_make_error(err, errno, "chdir `%s`", a->rootfs);
	return zs_run_hooks(c->hooks[ZS_HOOK_CREATE_CONTAINER], c->n_hooks[ZS_HOOK_CREATE_CONTAINER], "createContainer",
			    a->state_json, err);
}

/* The detached bind-mount sources (host trees) are not needed once mounted. */
static void close_mount_sources(const struct zs_init_args *a)
{
	size_t i;

	for (i = 0; a->mount_src_fds && i < a->config->n_mounts; i++)
		if (a->mount_src_fds[i] >= 0)
			close(a->mount_src_fds[i]);
}

static int setup_rootfs(struct zs_init_args *a, zs_error_t *err)
{
	const struct zs_config *c = a->config;
	struct zs_sync_msg m;
	int ret;

	ret = zs_rootfs_prepare(a, err);
	if (ret < 0)
		return ret;
	if (zs_sync_send(a->sync_fd, ZS_SYNC_HOOKS, 0, NULL) < 0)
		return zs_make_error(err, errno, "sync with parent");
	ret = zs_sync_recv(a->sync_fd, &m, err);
	if (ret < 0)
		return ret;
	if (m.type != ZS_SYNC_HOOKS_DONE)
		_exit(1); /* the parent failed and reports it */
	a->state_json = zs_hook_state(a->id, m.err_no, "creating", a->bundle, a->config->annotations);
	ret = run_create_container_hooks(a, err);
	if (ret < 0)
		return ret;
	ret = zs_rootfs_pivot(a, err);
	if (ret < 0)
		return ret;
	(void) c;
	ret = zs_rootfs_finalize(a, err);
	close_mount_sources(a);
	return ret;
}

static int set_names(const struct zs_config *c, zs_error_t *err)
{
	if (c->hostname && *c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0)
		return zs_make_error(err, errno, "sethostname");
	if (c->domainname && *c->domainname && setdomainname(c->domainname, strlen(c->domainname)) < 0)
		return zs_make_error(err, errno, "setdomainname");
	return 0;
}

void zs_linux_init(struct zs_init_args *a)
{
	const struct zs_config *c = a->config;
	const struct zs_process *p = a->process;
	zs_error_t err = NULL;
	struct zs_sync_msg m;
	cleanup_free char *exe = NULL;

	zs_linux_guard(a);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (zs_sync_recv(a->sync_fd, &m, &err) < 0 || m.type != ZS_SYNC_GO)
		_exit(1);
	if (setresuid(0, 0, 0) < 0 || setresgid(0, 0, 0) < 0) {
		if (a->clone_flags & CLONE_NEWUSER)
			zs_make_error(&err, errno, "become root in the user namespace");
	}
	if (err || join_namespaces(a, &err) < 0)
		init_fail(a, err);
	if (zs_config_namespace(c, CLONE_NEWCGROUP) && !zs_config_namespace(c, CLONE_NEWCGROUP)->path &&
	    unshare(CLONE_NEWCGROUP) < 0) {
		zs_make_error(&err, errno, "unshare the cgroup namespace");
		init_fail(a, err);
	}
	setsid();
	if (!a->no_new_keyring)
		syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, a->id);
	if (set_names(c, &err) < 0)
		init_fail(a, err);
	if (zs_config_namespace(c, CLONE_NEWNS) && setup_rootfs(a, &err) < 0)
		init_fail(a, err);
	if (!zs_config_namespace(c, CLONE_NEWNS)) {
		/* no mount namespace: still sync for the hooks, then chroot-less */
		zs_sync_send(a->sync_fd, ZS_SYNC_HOOKS, 0, NULL);
		if (zs_sync_recv(a->sync_fd, &m, &err) < 0 || m.type != ZS_SYNC_HOOKS_DONE)
			_exit(1);
		a->state_json = zs_hook_state(a->id, m.err_no, "creating", a->bundle, a->config->annotations);
		if (chroot(a->rootfs) < 0 || chdir("/") < 0) {
			zs_make_error(&err, errno, "chroot `%s`", a->rootfs);
			init_fail(a, err);
		}
	}
	if (prepare_process(a, p, &err) < 0)
		init_fail(a, err);
	if (find_executable(p->args[0], p->env, &exe, &err) < 0)
		init_fail(a, err);
	if (drop_privileges(a, p, &err) < 0)
		init_fail(a, err);
	umask(p->umask_set ? p->umask : 022);
	if (enter_cwd(a, p, &err) < 0)
		init_fail(a, err);
	/* From here on the init outlives `create`. */
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	init_created(a, p);
	if (wait_for_start(a, &err) < 0) {
		fprintf(stderr, "zanshin init: %s\n", zs_error_msg(err));
		_exit(1);
	}
	/* startContainer hooks run under the container's seccomp filter (loaded
	 * by init_created() or drop_privileges()) */
	if (c->n_hooks[ZS_HOOK_START_CONTAINER] && a->state_json) {
		/* the state we were given says "creating"; now it is "created" */
		char *s = strstr((char *) a->state_json, "\"status\":\"creating\"");
		if (s)
			memcpy(s, "\"status\":\"created\" ", 19);
	}
	if (c->n_hooks[ZS_HOOK_START_CONTAINER] &&
	    zs_run_hooks(c->hooks[ZS_HOOK_START_CONTAINER], c->n_hooks[ZS_HOOK_START_CONTAINER], "startContainer",
			 a->state_json, &err) < 0) {
		fprintf(stderr, "zanshin init: %s\n", zs_error_msg(err));
		_exit(1);
	}
	exec_process(a, p, exe);
	_exit(127);
}

/* An exec'd process: namespaces joined by the caller (lib/container.c). */
void zs_linux_exec(struct zs_init_args *a)
{
	const struct zs_process *p = a->process;
	zs_error_t err = NULL;
	cleanup_free char *exe = NULL;

	if (prepare_process(a, p, &err) < 0)
		init_fail(a, err);
	if (find_executable(p->args[0], p->env, &exe, &err) < 0)
		init_fail(a, err);
	if (drop_privileges(a, p, &err) < 0)
		init_fail(a, err);
	if (p->umask_set)
		umask(p->umask);
	if (enter_cwd(a, p, &err) < 0)
		init_fail(a, err);
	exec_process(a, p, exe);
	_exit(127);
}
