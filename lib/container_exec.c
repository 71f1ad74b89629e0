/* zanshin — exec a new process in a running container: join every
 * namespace of its init and its cgroup, then set the process up as the init
 * was (caps, user, rlimits, seccomp, cwd, terminal). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zanshin/cgroup.h"
#include "zanshin/config.h"
#include "zanshin/container.h"
#include "zanshin/container_internal.h"
#include "zanshin/linux.h"
#include "zanshin/log.h"
#include "zanshin/lsm.h"
#include "zanshin/seccomp.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

static char **strv_append(char **v, const char *s)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	v = xrealloc(v, sizeof(char *) * (n + 2));
	v[n] = xstrdup(s);
	v[n + 1] = NULL;
	return v;
}

/* env: replace an existing KEY=, else append. */
static char **env_set(char **v, const char *kv)
{
	size_t klen = strcspn(kv, "=");
	char **p;

	for (p = v; p && *p; p++) {
		if (strncmp(*p, kv, klen) == 0 && (*p)[klen] == '=') {
			free(*p);
			*p = xstrdup(kv);
			return v;
		}
	}
	return strv_append(v, kv);
}

static int apply_overrides(struct zs_process *p, const struct zs_exec_opts *o, zs_error_t *err)
{
	char **s;
	size_t i;

	if (o->args && o->args[0]) {
		zs_free_string_array(p->args);
		p->args = NULL;
		for (s = o->args; *s; s++)
			p->args = strv_append(p->args, *s);
	}
	if (o->cwd) {
		free(p->cwd);
		p->cwd = xstrdup(o->cwd);
	}
	for (s = o->env; s && *s; s++)
		p->env = env_set(p->env, *s);
	/* runc: without --process, the terminal comes from --tty only */
	if (o->tty_set || o->process_file == NULL)
		p->terminal = o->tty;
	if (o->no_new_privs)
		p->no_new_privileges = true;
	if (o->apparmor) {
		free(p->apparmor_profile);
		p->apparmor_profile = xstrdup(o->apparmor);
	}
	if (o->process_label) {
		free(p->selinux_label);
		p->selinux_label = xstrdup(o->process_label);
	}
	if (o->user) {
		char *end;
		unsigned long u = strtoul(o->user, &end, 10);
		p->uid = u;
		if (*end == ':')
			p->gid = strtoul(end + 1, &end, 10);
		if (*end != '\0')
			return zs_make_error(err, -EINVAL, "invalid --user value \"%s\": must be UID[:GID]", o->user);
	}
	for (s = o->caps; s && *s; s++) {
		int c = zs_cap_from_name(*s);
		if (c < 0)
			return zs_make_error(err, -EINVAL, "unknown capability \"%s\"", *s);
		p->caps_set = true;
		for (i = 0; i < ZS_CAP_SETS; i++)
			p->caps[i] |= 1ULL << c;
	}
	if (o->n_additional_gids) {
		p->additional_gids =
		    xrealloc(p->additional_gids, sizeof(gid_t) * (p->n_additional_gids + o->n_additional_gids + 1));
		memcpy(p->additional_gids + p->n_additional_gids, o->additional_gids,
		       sizeof(gid_t) * o->n_additional_gids);
		p->n_additional_gids += o->n_additional_gids;
	}
	return 0;
}

static int load_process(const struct zs_exec_opts *o, const struct zs_config *cfg, struct zs_process **p,
			zs_error_t *err)
{
	cleanup_json zs_json *j = NULL;
	int ret;

	if (o->process_file) {
		ret = zs_json_parse_file(o->process_file, o->process_file, &j, err);
		if (ret == 0)
			ret = zs_process_parse(j, o->process_file, "", p, err);
	} else {
		if (o->args == NULL || o->args[0] == NULL)
			return zs_make_error(err, -EINVAL, "exec: no command given (use --process or add arguments)");
		ret = zs_process_parse(zs_json_get(cfg->json, "process"), "config.json", "process", p, err);
	}
	if (ret < 0)
		return ret;
	return apply_overrides(*p, o, err);
}

/* Open /proc/PID/ns/NAME; *fd = -1 when we already are in that namespace.
 * Fails closed: a namespace we cannot open or compare is an error, never
 * "the same" (an exec'd process left in the host's mount namespace). */
static int open_ns(pid_t pid, const char *name, int *fd, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/ns/%s", (int) pid, name);
	cleanup_free char *self = xasprintf("/proc/self/ns/%s", name);
	cleanup_close int nsfd = -1;
	struct stat s1, s2;

	*fd = -1;
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	if (fstat(nsfd, &s1) < 0)
		return zs_make_error(err, errno, "stat `%s`", path);
	if (stat(self, &s2) < 0)
		return zs_make_error(err, errno, "stat `%s`", self);
	if (s1.st_ino != s2.st_ino || s1.st_dev != s2.st_dev)
		*fd = steal_fd(&nsfd);
	return 0;
}

static int join_ns(pid_t pid, const char *name, int type, zs_error_t *err)
{
	cleanup_close int fd = -1;

	if (open_ns(pid, name, &fd, err) < 0)
		return -1;
	if (fd >= 0 && setns(fd, type) < 0)
		return zs_make_error(err, errno, "setns /proc/%d/ns/%s", (int) pid, name);
	return 0;
}

static const struct {
	const char *name;
	int type;
} ns_order[] = {{"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},	      {"uts", CLONE_NEWUTS},
		{"net", CLONE_NEWNET},	 {"cgroup", CLONE_NEWCGROUP}, {"mnt", CLONE_NEWNS}};
#define N_NS (sizeof(ns_order) / sizeof(ns_order[0]))

/* Every namespace is opened before the first setns, as host root: once in
 * the container's user namespace we may no longer open the init's
 * /proc/PID/ns (a non-dumpable init, waiting for `start`, is out of
 * reach), as runc's nsexec also opens them all first. */
static int join_init_namespaces(pid_t pid, zs_error_t *err)
{
	int fds[N_NS];
	size_t i;
	int ret = 0;

	for (i = 0; i < N_NS; i++)
		fds[i] = -1;
	for (i = 0; i < N_NS && ret == 0; i++)
		ret = open_ns(pid, ns_order[i].name, &fds[i], err);
	for (i = 0; i < N_NS && ret == 0; i++)
		if (fds[i] >= 0 && setns(fds[i], ns_order[i].type) < 0)
			ret = zs_make_error(err, errno, "setns /proc/%d/ns/%s", (int) pid, ns_order[i].name);
	for (i = 0; i < N_NS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ret;
}

static __attribute__((noreturn)) void exec_child(struct zs_init_args *a)
{
	zs_error_t err = NULL;
	struct zs_sync_msg m;

	/* already in the container's pid namespace: guard before anything */
	zs_linux_guard(a);
	if (zs_sync_recv(a->sync_fd, &m, &err) < 0 || m.type != ZS_SYNC_GO)
		_exit(1);
	if (join_init_namespaces(a->ns_join_pid, &err) < 0) {
		zs_sync_send(a->sync_fd, ZS_SYNC_ERROR, zs_error_errno(err), zs_error_msg(err));
		_exit(1);
	}
	if (a->process->terminal || a->console_fd < 0)
		setsid();
	zs_linux_exec(a);
	_exit(127);
}

struct exec_ctx {
	struct zs_status *st;
	struct zs_cgroup *cg;
	struct zs_config *cfg;
	struct zs_process *proc;
	struct zs_seccomp *seccomp;
	int sync[2], console_fd, own_console;
};

static void exec_ctx_free(struct exec_ctx *c)
{
	zs_status_free(c->st);
	zs_cgroup_free(c->cg);
	zs_config_free(c->cfg);
	zs_process_free(c->proc);
	zs_seccomp_free(c->seccomp);
	if (c->sync[0] >= 0)
		close(c->sync[0]);
	if (c->sync[1] >= 0)
		close(c->sync[1]);
	if (c->console_fd >= 0)
		close(c->console_fd);
	if (c->own_console >= 0)
		close(c->own_console);
}

static int exec_prepare(struct exec_ctx *c, const struct zs_exec_opts *o, zs_error_t *err)
{
	cleanup_free char *cfgp = NULL;
	const char *status;
	int pair[2], ret;

	ret = zs_container_load(o->root, o->id, &c->st, &c->cg, err);
	if (ret < 0)
		return ret;
	status = zs_container_status(c->st);
	if (strcmp(status, "stopped") == 0)
		return zs_make_error(err, 0, "cannot exec in a stopped container");
	if (strcmp(status, "paused") == 0 && !o->ignore_paused)
		return zs_make_error(err, 0, "cannot exec in a paused container");
	cfgp = xasprintf("%s/config.json", c->st->dir);
	ret = zs_config_load(cfgp, "config.json", &c->cfg, err);
	if (ret == 0)
		ret = load_process(o, c->cfg, &c->proc, err);
	if (ret == 0)
		ret = zs_lsm_check(c->proc, o->process_file ? o->process_file : "config.json",
				   o->process_file ? "" : "process", err);
	if (ret == 0)
		ret = zs_seccomp_parse(c->cfg->seccomp, "config.json", "linux.seccomp", &c->seccomp, err);
	if (ret < 0)
		return ret;
	if (c->proc->terminal) {
		if (o->console_socket) {
			c->console_fd = zs_connect_console(o->console_socket, err);
			if (c->console_fd < 0)
				return -1;
		} else if (o->detach) {
			return zs_make_error(err, -EINVAL,
					     "cannot allocate tty if runc will detach without setting console socket");
		} else {
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
				return zs_make_error(err, errno, "socketpair");
			c->console_fd = pair[1];
			c->own_console = pair[0];
		}
	} else if (o->console_socket) {
		return zs_make_error(err, -EINVAL, "cannot use console socket if runc will not detach or allocate tty");
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->sync) < 0)
		return zs_make_error(err, errno, "socketpair");
	return 0;
}

static int join_pidns(pid_t pid, zs_error_t *err)
{
	return join_ns(pid, "pid", CLONE_NEWPID, err);
}

/* The child's answer: EOF when its execve closed the socket, or an error.
 * The message is untrusted (the child is in the container): zs_sync_recv
 * bounds, checks and sanitizes it. */
static int exec_wait_child(int sync_fd, zs_error_t *err)
{
	struct zs_sync_msg m;

	if (zs_sync_recv_reply(sync_fd, &m, err) < 0)
		return zs_error_wrap(err, "exec");
	if (m.type == 0)
		return 0;
	if (m.type == ZS_SYNC_ERROR)
		return zs_make_error(err, m.err_no, "%s", m.msg);
	return zs_make_error(err, -EPROTO, "exec: unexpected message %d from the exec'd process", m.type);
}

static int exec_spawn(struct exec_ctx *c, const struct zs_exec_opts *o, pid_t *out, zs_error_t *err)
{
	struct zs_init_args a = {0};
	pid_t pid;
	int ret;

	a.config = c->cfg;
	a.process = c->proc;
	a.seccomp = c->seccomp;
	a.id = o->id;
	a.sync_fd = c->sync[1];
	a.fifo_fd = -1;
	a.console_fd = c->console_fd;
	a.preserve_fds = o->preserve_fds;
	a.is_exec = true;
	a.ns_join_pid = c->st->pid;
	/* the child inherits it: it is never dumpable in the container */
	ret = zs_make_undumpable(err);
	if (ret == 0)
		ret = join_pidns(c->st->pid, err);
	if (ret < 0)
		return ret;
	pid = fork();
	if (pid < 0)
		return zs_make_error(err, errno, "fork");
	if (pid == 0) {
		close(c->sync[0]);
		if (c->own_console >= 0)
			close(c->own_console);
		exec_child(&a);
	}
	*out = pid;
	zs_debug("exec: process %d joins the namespaces of init %d", (int) pid, (int) c->st->pid);
	close(c->sync[1]);
	c->sync[1] = -1;
	if (c->console_fd >= 0) {
		close(c->console_fd);
		c->console_fd = -1;
	}
	if (c->cg) {
		size_t n = 0;
		while (o->cgroups && o->cgroups[n])
			n++;
		if (zs_cgroup_enter_sub(c->cg, pid, o->cgroups, n, err) < 0)
			goto fail;
	}
	if (zs_set_oom_score_adj(pid, c->proc, err) < 0)
		goto fail;
	if (zs_sync_send(c->sync[0], ZS_SYNC_GO, 0, NULL) < 0) {
		zs_make_error(err, errno, "sync with the exec'd process");
		goto fail;
	}
	if (exec_wait_child(c->sync[0], err) < 0)
		goto fail;
	return 0;
fail:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

int zs_container_exec(const struct zs_exec_opts *o, int *exit_status, zs_error_t *err)
{
	struct exec_ctx c = {.sync = {-1, -1}, .console_fd = -1, .own_console = -1};
	int master = -1, ret;
	pid_t pid = -1;

	ret = exec_prepare(&c, o, err);
	if (ret == 0)
		ret = exec_spawn(&c, o, &pid, err);
	if (ret == 0 && c.own_console >= 0) {
		master = zs_recv_fd(c.own_console, err);
		if (master < 0)
			ret = -1;
	}
	if (ret == 0 && o->pid_file) {
		char buf[32];
		int len = snprintf(buf, sizeof(buf), "%d", (int) pid);
		ret = write_file_atomic(o->pid_file, buf, len, 0644, err);
	}
	if (ret == 0 && !o->detach)
		*exit_status = zs_wait_forwarding(pid, master);
	if (master >= 0)
		close(master);
	exec_ctx_free(&c);
	return ret;
}
