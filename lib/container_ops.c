/* zanshin — operations on an existing container: kill, delete, pause,
 * resume, and loading its cgroup. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zanshin/cgroup.h"
#include "zanshin/config.h"
#include "zanshin/container.h"
#include "zanshin/container_internal.h"
#include "zanshin/lazy_workdir.h"
#include "zanshin/linux.h"
#include "zanshin/log.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

int zs_container_load(const char *root, const char *id, struct zs_status **st, struct zs_cgroup **cg, zs_error_t *err)
{
	int ret;

	ret = zs_validate_id(id, err);
	if (ret == 0)
		ret = zs_status_load(root, id, st, err);
	if (ret < 0 || cg == NULL)
		return ret;
	*cg = NULL;
	if ((*st)->cgroup == NULL)
		return 0;
	ret = zs_cgroup_load((*st)->cgroup, cg, err);
	if (ret < 0) {
		zs_status_free(*st);
		*st = NULL;
	}
	return ret;
}

static int signal_pid(const struct zs_status *st, int sig, zs_error_t *err)
{
	int pfd = syscall(SYS_pidfd_open, st->pid, 0);

	/* pidfd: the pid cannot be recycled between the check and the kill */
	if (pfd >= 0) {
		int r = zs_status_pid_alive(st) ? (int) syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) : -1;
		int e = errno;
		close(pfd);
		if (r == 0)
			return 0;
		if (r < 0 && !zs_status_pid_alive(st))
			return zs_make_error(err, ESRCH, "container not running");
		return zs_make_error(err, e, "kill container init");
	}
	if (kill(st->pid, sig) < 0) {
		if (errno == ESRCH)
			return zs_make_error(err, ESRCH, "container not running");
		return zs_make_error(err, errno, "kill container init");
	}
	return 0;
}

int zs_container_kill(const char *root, const char *id, int sig, bool all, zs_error_t *err)
{
	cleanup_status struct zs_status *st = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	int ret;

	ret = zs_container_load(root, id, &st, &cg, err);
	if (ret < 0)
		return ret;
	if (zs_status_check_hold(st, "signalled", err) < 0)
		return -1;
	if (all && cg)
		return zs_cgroup_kill_all(cg, sig, err);
	if (!zs_status_pid_alive(st))
		return zs_make_error(err, ESRCH, "container not running");
	return signal_pid(st, sig, err);
}

static void wait_gone(const struct zs_status *st)
{
	int i;

	for (i = 0; i < 1000 && zs_status_pid_alive(st); i++) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		/* our own child (run, or create in the same process)? reap it */
		waitpid(st->pid, NULL, WNOHANG);
		nanosleep(&ts, NULL);
	}
}

static void run_poststop(const char *root, const struct zs_status *st)
{
	cleanup_free char *cfgp = xasprintf("%s/config.json", st->dir);
	cleanup_config struct zs_config *cfg = NULL;
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *state = NULL;

	if (zs_config_load(cfgp, "config.json", &cfg, &e) < 0 || cfg->n_hooks[ZS_HOOK_POSTSTOP] == 0)
		return;
	state = zs_hook_state(st->id, 0, "stopped", st->bundle, st->annotations);
	if (zs_run_hooks(cfg->hooks[ZS_HOOK_POSTSTOP], cfg->n_hooks[ZS_HOOK_POSTSTOP], "poststop", state, &e) < 0)
		zs_warn("%s", zs_error_msg(e));
}

static int destroy(const char *root, const struct zs_status *st, struct zs_cgroup *cg, zs_error_t *err)
{
	int ret = 0;

	if (cg)
		ret = zs_cgroup_destroy(cg, err);
	if (ret < 0)
		return ret;
	run_poststop(root, st);
	zs_lazy_work_remove(root, st->id);
	return zs_status_delete(root, st->id, err);
}

int zs_container_delete(const char *root, const char *id, bool force, zs_error_t *err)
{
	cleanup_status struct zs_status *st = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	cleanup_close int lock = -1;
	const char *status;
	int ret;

	ret = zs_validate_id(id, err);
	if (ret < 0)
		return ret;
	/* a checkpoint holds the lock while it holds the container frozen:
	 * said at once, not waited for */
	if (zs_status_load(root, id, &st, err) == 0 && zs_status_check_hold(st, "deleted", err) < 0)
		return -1;
	zs_error_release(err);
	zs_status_free(st);
	st = NULL;
	lock = zs_status_lock(root, id, err);
	if (lock < 0)
		return (force && zs_error_errno(*err) == ENOENT) ? (zs_error_release(err), 0) : lock;
	ret = zs_container_load(root, id, &st, &cg, err);
	if (ret < 0) {
		if (!force)
			return ret;
		/* a broken state directory: remove it anyway */
		zs_error_release(err);
		return zs_status_delete(root, id, err);
	}
	status = zs_container_status(st);
	if (strcmp(status, "stopped") != 0) {
		if (strcmp(status, "created") != 0 && !force)
			return zs_make_error(err, 0, "cannot delete container %s that is not stopped: %s", id, status);
		if (cg && strcmp(status, "paused") == 0)
			zs_cgroup_thaw(cg, err);
		zs_error_release(err);
		kill(st->pid, SIGKILL);
		wait_gone(st);
	}
	return destroy(root, st, cg, err);
}

int zs_container_pause(const char *root, const char *id, zs_error_t *err)
{
	cleanup_status struct zs_status *st = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	const char *status;
	int ret;

	ret = zs_container_load(root, id, &st, &cg, err);
	if (ret < 0)
		return ret;
	status = zs_container_status(st);
	if (strcmp(status, "running") != 0 && strcmp(status, "created") != 0)
		return zs_make_error(err, 0, "container not running");
	if (cg == NULL)
		return zs_make_error(err, ENOTSUP, "container has no cgroup");
	return zs_cgroup_freeze(cg, err);
}

int zs_container_resume(const char *root, const char *id, zs_error_t *err)
{
	cleanup_status struct zs_status *st = NULL;
	cleanup_cgroup struct zs_cgroup *cg = NULL;
	int ret;

	ret = zs_container_load(root, id, &st, &cg, err);
	if (ret < 0)
		return ret;
	if (zs_status_check_hold(st, "resumed", err) < 0)
		return -1;
	if (strcmp(zs_container_status(st), "paused") != 0)
		return zs_make_error(err, 0, "container not paused");
	return zs_cgroup_thaw(cg, err);
}
