/* zanshin — what a checkpoint checks before the container is stopped
 * (issue 17.2): the directories it writes exist (created with their
 * parents, as runc does) and are writable, and their filesystems have room
 * for at least the container's memory (what a full image holds: the
 * private anonymous and shared memory of every process of the container,
 * from /proc/PID/status).  A checkpoint refused here has not touched the
 * container. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "criu_internal.h"
#include "zanshin/utils.h"

#define MAX_TASKS 4096

/* RssAnon + RssShmem of PID, in bytes. */
static uint64_t task_memory(pid_t pid)
{
	cleanup_free char *path = xasprintf("/proc/%d/status", (int) pid);
	cleanup_file FILE *f = fopen(path, "re");
	char line[256];
	unsigned long long kb, sum = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %llu kB", &kb) == 1 || sscanf(line, "RssShmem: %llu kB", &kb) == 1)
			sum += kb;
	return (uint64_t) sum << 10;
}

/* Children of every thread of PID, appended to PIDS. */
static void children(pid_t pid, pid_t *pids, size_t *n)
{
	cleanup_free char *tdir = xasprintf("/proc/%d/task", (int) pid);
	cleanup_dir DIR *d = opendir(tdir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		cleanup_free char *path = NULL;
		cleanup_file FILE *f = NULL;
		int c;
		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s/children", tdir, de->d_name);
		f = fopen(path, "re");
		while (f && *n < MAX_TASKS && fscanf(f, "%d", &c) == 1)
			pids[(*n)++] = c;
	}
}

uint64_t zs_ckpt_memory_estimate(pid_t init)
{
	cleanup_free pid_t *pids = xmalloc(sizeof(pid_t) * MAX_TASKS);
	size_t n = 1, i;
	uint64_t sum = 0;

	pids[0] = init;
	for (i = 0; i < n; i++) {
		sum += task_memory(pids[i]);
		children(pids[i], pids, &n);
	}
	return sum;
}

int zs_ckpt_check_dir(const char *dir, const char *what, zs_error_t *err)
{
	struct stat st;

	if (mkdir_p(dir, 0700, err) < 0)
		return zs_error_wrap(err, "%s", what);
	if (stat(dir, &st) < 0)
		return zs_make_error(err, errno, "%s `%s`", what, dir);
	if (!S_ISDIR(st.st_mode))
		return zs_make_error(err, -ENOTDIR, "%s `%s`: not a directory", what, dir);
	if (access(dir, W_OK) < 0)
		return zs_make_error(err, errno, "%s `%s`: not writable", what, dir);
	return 0;
}

int zs_ckpt_check_space(const char *dir, const char *what, uint64_t need, zs_error_t *err)
{
	struct statvfs sv;
	uint64_t avail;

	if (statvfs(dir, &sv) < 0)
		return zs_make_error(err, errno, "%s `%s`: statvfs", what, dir);
	avail = (uint64_t) sv.f_bavail * sv.f_frsize;
	if (avail >= need)
		return 0;
	return zs_make_error(err, -ENOSPC,
			     "%s `%s`: %.1f MiB free on its filesystem, the checkpoint needs about %.1f MiB (the "
			     "container's memory); nothing was done to the container",
			     what, dir, (double) avail / (1 << 20), (double) need / (1 << 20));
}
