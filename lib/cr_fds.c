/* zanshin — the descriptors CRIU inherits.
 *
 * libcriu forks and execs `criu swrk` (and restore forks `criu
 * lazy-pages`): every descriptor of the runtime without close-on-exec is
 * CRIU's too, and the tracking keeper and lazy-pages daemon CRIU leaves
 * behind hold them for as long as the container lives. The runtime's own
 * descriptors are all opened O_CLOEXEC, but whatever its caller left
 * inheritable (a shell's redirections, a supervisor's sockets) came along;
 * with ~100 of them CRIU's restore broke (docs/soak.md, seed 778). runc
 * (Go) never passes them. So before CRIU runs, every descriptor above 2
 * is made close-on-exec, except the ones named (a --page-server-fd
 * socket); the ones the runtime means CRIU to have (--inherit-fd: the
 * namespaces it joins, the host's /dev/null) are made inheritable one by
 * one afterwards (lib/restore.c, lib/cr_stdio.c). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "criu_internal.h"
#include "zanshin/utils.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* FROM..TO (inclusive) close-on-exec; /proc/self/fd without close_range. */
static int cloexec_range(int from, int to, zs_error_t *err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (from > to)
		return 0;
	if (syscall(SYS_close_range, (unsigned) from, (unsigned) to, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	d = opendir("/proc/self/fd");
	if (d == NULL)
		return zs_make_error(err, errno, "open /proc/self/fd");
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd < from || fd > to || fd == dirfd(d))
			continue;
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
			return zs_make_error(err, errno, "close-on-exec fd %d", fd);
	}
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *) a, y = *(const int *) b;

	return (x > y) - (x < y);
}

int zs_cr_fds_private(const int *keep, size_t n, zs_error_t *err)
{
	cleanup_free int *k = xmalloc(sizeof(int) * (n + 1));
	int from = 3;
	size_t i;

	for (i = 0; i < n; i++)
		k[i] = keep[i];
	qsort(k, n, sizeof(int), cmp_int);
	for (i = 0; i < n; i++) {
		if (k[i] < from)
			continue;
		if (cloexec_range(from, k[i] - 1, err) < 0)
			return -1;
		from = k[i] + 1;
	}
	return cloexec_range(from, ~0U >> 1, err);
}
