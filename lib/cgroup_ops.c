/* zanshin — cgroups: operations on an existing container cgroup: freezer
 * (pause/resume), pids, kill --all, destroy/remove. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zanshin/utils.h"
#include "cgroup_internal.h"

/* ---- freezer ----------------------------------------------------------- */

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static int v1_freeze(const char *dir, zs_error_t *err)
{
	for (int i = 0; i < 1000; i++) {
		cleanup_free char *state = NULL;
		if (i % 50 == 49) { /* occasional thaw helps when tasks keep forking */
			cleanup_error zs_error_t e = NULL;
			cg_write(dir, "freezer.state", "THAWED", &e);
			sleep_us(10000);
		}
		if (cg_write(dir, "freezer.state", "FROZEN", err) < 0)
			return -1;
		if (i % 25 == 24)
			sleep_us(10);
		if (cg_read(dir, "freezer.state", &state, err) < 0)
			return -1;
		if (strcmp(state, "FROZEN") == 0)
			return 0;
		if (strcmp(state, "FREEZING") != 0)
			return zs_make_error(err, EIO, "unexpected freezer state `%s` in `%s`", state, dir);
	}
	{
		cleanup_error zs_error_t e = NULL;
		cg_write(dir, "freezer.state", "THAWED", &e);
	}
	return zs_make_error(err, EBUSY, "unable to freeze `%s`", dir);
}

/* v2: wait until cgroup.events says "frozen WANT". */
static int v2_wait_frozen(const char *dir, int want, zs_error_t *err)
{
	char key[16];

	snprintf(key, sizeof(key), "frozen %d", want);
	for (int i = 0; i < 5000; i++) {
		cleanup_free char *ev = NULL;
		if (cg_read(dir, "cgroup.events", &ev, err) < 0)
			return -1;
		if (strstr(ev, key))
			return 0;
		sleep_us(1000);
	}
	return zs_make_error(err, ETIMEDOUT, "cgroup `%s` did not reach `%s`", dir, key);
}

static int set_frozen(const struct zs_cgroup *cg, bool frozen, zs_error_t *err)
{
	const char *dir;

	if (cg->mode == ZS_CGROUP_UNIFIED) {
		dir = cg->paths[0].path;
		if (cg_write(dir, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
			return -1;
		return v2_wait_frozen(dir, frozen, err);
	}
	dir = zs_cgroup_path(cg, "freezer");
	if (dir == NULL)
		return zs_make_error(err, ENOTSUP, "the freezer cgroup controller is not mounted");
	if (frozen)
		return v1_freeze(dir, err);
	return cg_write(dir, "freezer.state", "THAWED", err);
}

int zs_cgroup_freeze(const struct zs_cgroup *cg, zs_error_t *err)
{
	return set_frozen(cg, true, err);
}

int zs_cgroup_thaw(const struct zs_cgroup *cg, zs_error_t *err)
{
	return set_frozen(cg, false, err);
}

int zs_cgroup_is_frozen(const struct zs_cgroup *cg, zs_error_t *err)
{
	cleanup_free char *s = NULL;
	const char *dir;

	if (cg->mode == ZS_CGROUP_UNIFIED) {
		dir = cg->paths[0].path;
		if (!cg_exists(dir, "cgroup.freeze"))
			return 0;
		if (cg_read(dir, "cgroup.freeze", &s, err) < 0)
			return -1;
		return strcmp(s, "1") == 0;
	}
	dir = zs_cgroup_path(cg, "freezer");
	if (dir == NULL || !cg_exists(dir, "freezer.state"))
		return 0;
	if (cg_read(dir, "freezer.state", &s, err) < 0)
		return -1;
	return strcmp(s, "THAWED") != 0;
}

/* ---- pids, kill, destroy ----------------------------------------------- */

static const char *procs_dir(const struct zs_cgroup *cg)
{
	static const char *const pref[] = {"pids", "freezer", "memory", "cpu", "devices"};
	const char *d;

	if (cg->mode == ZS_CGROUP_UNIFIED)
		return cg->paths[0].path;
	for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
		if ((d = zs_cgroup_path(cg, pref[i])))
			return d;
	return cg->n_paths ? cg->paths[0].path : NULL;
}

static void pids_add(pid_t **pids, size_t *n, pid_t p)
{
	for (size_t i = 0; i < *n; i++)
		if ((*pids)[i] == p)
			return;
	*pids = xrealloc(*pids, (*n + 1) * sizeof(pid_t));
	(*pids)[(*n)++] = p;
}

static int read_procs(const char *dir, bool recursive, pid_t **pids, size_t *n, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/cgroup.procs", dir);
	cleanup_file FILE *f = fopen(path, "re");
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	long p;

	if (f == NULL) {
		if (errno == ENOENT)
			return 0; /* removed meanwhile */
		return zs_make_error(err, errno, "open `%s`", path);
	}
	while (fscanf(f, "%ld", &p) == 1)
		pids_add(pids, n, (pid_t) p);
	if (!recursive)
		return 0;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : zs_make_error(err, errno, "opendir `%s`", dir);
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		cleanup_free char *sub = xasprintf("%s/%s", dir, de->d_name);
		if (read_procs(sub, true, pids, n, err) < 0)
			return -1;
	}
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
	return (x > y) - (x < y);
}

int zs_cgroup_pids(const struct zs_cgroup *cg, bool recursive, pid_t **pids, size_t *n, zs_error_t *err)
{
	const char *dir = procs_dir(cg);

	*pids = NULL;
	*n = 0;
	if (dir == NULL)
		return 0;
	if (read_procs(dir, recursive, pids, n, err) < 0) {
		free(*pids);
		*pids = NULL;
		*n = 0;
		return -1;
	}
	if (*n > 1) /* qsort(NULL, 0, ...) is undefined (UBSan: nonnull) */
		qsort(*pids, *n, sizeof(pid_t), cmp_pid);
	return 0;
}

static int signal_all(const struct zs_cgroup *cg, int sig, size_t *count, zs_error_t *err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;

	if (zs_cgroup_pids(cg, true, &pids, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			return zs_make_error(err, errno, "kill %d", (int) pids[i]);
	if (count)
		*count = n;
	return 0;
}

int zs_cgroup_kill_all(const struct zs_cgroup *cg, int sig, zs_error_t *err)
{
	cleanup_error zs_error_t ferr = NULL;
	bool was_frozen = zs_cgroup_is_frozen(cg, &ferr) > 0;
	bool froze = false;
	int ret;

	if (!was_frozen && sig != SIGKILL)
		froze = zs_cgroup_freeze(cg, &ferr) == 0;
	ret = signal_all(cg, sig, NULL, err);
	if (froze || (was_frozen && sig == SIGKILL)) {
		cleanup_error zs_error_t e = NULL;
		zs_cgroup_thaw(cg, &e);
	}
	return ret;
}

/* rmdir DIR and every sub-directory (deepest first). */
static int rmdir_tree(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		cleanup_free char *sub = xasprintf("%s/%s", dir, de->d_name);
		rmdir_tree(sub);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* rmdir every path, retrying ATTEMPTS times; with KILL, SIGKILL what is left
 * before each attempt. */
static int remove_paths(const struct zs_cgroup *cg, bool kill_left, int attempts, zs_error_t *err)
{
	cleanup_error zs_error_t e = NULL;
	int last = 0;

	for (int attempt = 0; attempt < attempts; attempt++) {
		if (kill_left)
			signal_all(cg, SIGKILL, NULL, &e);
		last = 0;
		for (size_t i = 0; i < cg->n_paths; i++) {
			int r = rmdir_tree(cg->paths[i].path);
			if (r < 0)
				last = r;
		}
		if (last == 0)
			return 0;
		sleep_us(attempt < 10 ? 1000 : 10000);
	}
	return zs_make_error(err, -last, "remove cgroup `%s`", cg->n_paths ? cg->paths[0].path : "?");
}

int zs_cgroup_remove(const struct zs_cgroup *cg, zs_error_t *err)
{
	return remove_paths(cg, false, 100, err); /* up to ~1 s */
}

int zs_cgroup_destroy(const struct zs_cgroup *cg, zs_error_t *err)
{
	cleanup_error zs_error_t e = NULL;

	if (zs_cgroup_is_frozen(cg, &e) > 0)
		zs_cgroup_thaw(cg, &e);
	if (cg->mode == ZS_CGROUP_UNIFIED && cg_exists(cg->paths[0].path, "cgroup.kill"))
		cg_write(cg->paths[0].path, "cgroup.kill", "1", &e);
	return remove_paths(cg, true, 500, err); /* up to ~5 s */
}
