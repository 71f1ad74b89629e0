/* zanshin — a CRIU that never returns (a crafted image made its restorer
 * wait forever; a hook that hangs) must not hang the runtime: after the
 * timeout the whole tree of processes we started (CRIU, what it forked,
 * a hook) is stopped and killed from a SIGALRM handler, and what a killed
 * CRIU leaves mounted on the host -- its cgroup yard, a tmpfs with every
 * cgroup hierarchy under it, .criu.cgyard.XXXXXX in its work directory
 * (criu/cgroup.c prepare_cgroup_sfd) -- is unmounted and removed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu_watchdog.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define MAX_TREE 4096

static volatile sig_atomic_t fired;
static struct sigaction old_sa;
static pid_t tree[MAX_TREE];

/* Async-signal-safe: "/proc/P/task/P/children" into BUF. */
static void children_path(char *buf, pid_t pid)
{
	char num[16];
	int n = 0, i;
	char *p = buf;

	do
		num[n++] = '0' + pid % 10;
	while ((pid /= 10) > 0);
	memcpy(p, "/proc/", 6), p += 6;
	for (i = n - 1; i >= 0; i--)
		*p++ = num[i];
	memcpy(p, "/task/", 6), p += 6;
	for (i = n - 1; i >= 0; i--)
		*p++ = num[i];
	memcpy(p, "/children", 10);
}

/* Append PID's children to tree[*n...]; async-signal-safe. */
static void add_children(pid_t pid, size_t *n)
{
	char path[64], buf[4096];
	pid_t v = 0;
	bool in = false;
	ssize_t got, i;
	int fd;

	children_path(path, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < got; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				v = v * 10 + (buf[i] - '0');
				in = true;
			} else if (in) {
				if (*n < MAX_TREE)
					tree[(*n)++] = v;
				v = 0;
				in = false;
			}
		}
	}
	if (in && *n < MAX_TREE)
		tree[(*n)++] = v;
	close(fd);
}

/* Stop every process of our tree (so none forks away), then kill them. */
static void on_alarm(int sig)
{
	int saved = errno;
	size_t n = 0, i;

	(void) sig;
	fired = 1;
	add_children(getpid(), &n);
	for (i = 0; i < n; i++) {
		kill(tree[i], SIGSTOP);
		add_children(tree[i], &n);
	}
	for (i = 0; i < n; i++)
		kill(tree[i], SIGKILL);
	errno = saved;
}

void zs_criu_kill_children(void)
{
	size_t n = 0, i, left;
	int round;

	add_children(getpid(), &n);
	for (i = 0; i < n; i++) {
		zs_debug("restore: killing %d, left behind by the failed restore", (int) tree[i]);
		kill(tree[i], SIGKILL);
	}
	/* killing a pid namespace's init waits for the namespace to empty:
	 * bounded, a task stuck in the kernel must not hang the runtime */
	for (round = 0; round < 500; round++) {
		for (i = 0, left = 0; i < n; i++) {
			if (tree[i] <= 0)
				continue;
			if (waitpid(tree[i], NULL, WNOHANG) == 0)
				left++;
			else
				tree[i] = 0;
		}
		if (left == 0)
			break;
		usleep(10000);
	}
}

void zs_criu_watchdog_arm(unsigned seconds)
{
	struct sigaction sa;

	fired = 0;
	if (seconds == 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART; /* libcriu's recv goes on and sees CRIU gone */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old_sa);
	alarm(seconds);
}

bool zs_criu_watchdog_disarm(void)
{
	alarm(0);
	sigaction(SIGALRM, &old_sa, NULL);
	return fired != 0;
}

/* Is PATH (LEN bytes) DIR or under it? */
static bool is_under(const char *path, size_t len, const char *dir)
{
	size_t n = strlen(dir);

	return len >= n && strncmp(path, dir, n) == 0 && (len == n || path[n] == '/');
}

/* mountinfo's mount point (field 5), \ooo escapes decoded in place. */
static char *mount_point(char *line)
{
	char *p = line, *f, *o;
	int i;

	for (i = 0; i < 4 && p; i++)
		p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
	if (p == NULL)
		return NULL;
	f = p;
	for (o = p; *p && *p != ' '; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
			*o++ = (char) ((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return f;
}

/* Unmount what is mounted under PREFIX, deepest first (mountinfo lists a
 * mount after the one it sits on); 1 while something was found. */
static int umount_yard_once(const char *prefix, unsigned *count)
{
	cleanup_file FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL, *last = NULL;
	size_t cap = 0;

	if (f == NULL)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		char *m = mount_point(line);

		if (m && is_under(m, strlen(m), prefix)) {
			free(last);
			last = xstrdup(m);
		}
	}
	if (last == NULL)
		return 0;
	if (umount2(last, MNT_DETACH) < 0) {
		zs_warn("restore: cannot unmount CRIU's `%s`: %s", last, strerror(errno));
		return 0;
	}
	(*count)++;
	return 1;
}

/* The directory WORK_FD is open on, or NULL. */
static char *fd_dir(int work_fd)
{
	char link[64], dir[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", work_fd);
	n = readlink(link, dir, sizeof(dir) - 1);
	if (n <= 0)
		return NULL;
	dir[n] = '\0';
	return xstrdup(dir);
}

/* Unmount and remove the yard NAME in WORK_FD. */
static int yard_cleanup(int work_fd, const char *name)
{
	cleanup_free char *dir = fd_dir(work_fd), *prefix = NULL;
	unsigned count = 0, guard;

	if (dir == NULL)
		return 0;
	prefix = xasprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
	for (guard = 0; guard < 1024 && umount_yard_once(prefix, &count); guard++)
		;
	if (unlinkat(work_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		zs_warn("restore: cannot remove CRIU's cgroup yard `%s`: %s", name, strerror(errno));
	if (count)
		zs_debug("restore: unmounted %u mount(s) of CRIU's cgroup yard in %s", count, dir);
	return (int) count;
}

char *zs_criu_yards(int work_fd)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	char *out = xstrdup("\n");
	int fd = fcntl(work_fd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return out;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (str_has_prefix(de->d_name, ".criu.cgyard.")) {
			char *more = xasprintf("%s%s\n", out, de->d_name);
			free(out);
			out = more;
		}
	return out;
}

/* Does any process hold something under PATH open (an fd or its cwd)? */
static bool yard_held(const char *path)
{
	cleanup_dir DIR *procs = opendir("/proc");
	struct dirent *p;

	if (procs == NULL)
		return true;
	while ((p = readdir(procs)) != NULL) {
		cleanup_dir DIR *fds = NULL;
		struct dirent *f;
		char link[PATH_MAX], name[600];
		ssize_t len;

		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(name, sizeof(name), "/proc/%s/cwd", p->d_name);
		len = readlink(name, link, sizeof(link) - 1);
		if (len > 0 && is_under(link, (size_t) len, path))
			return true;
		snprintf(name, sizeof(name), "/proc/%s/fd", p->d_name);
		fds = opendir(name);
		while (fds && (f = readdir(fds)) != NULL) {
			if (f->d_name[0] == '.')
				continue;
			snprintf(name, sizeof(name), "/proc/%s/fd/%s", p->d_name, f->d_name);
			len = readlink(name, link, sizeof(link) - 1);
			if (len > 0 && is_under(link, (size_t) len, path))
				return true;
		}
	}
	return false;
}

int zs_criu_yard_cleanup_new(int work_fd, const char *before)
{
	cleanup_free char *dir = fd_dir(work_fd), *now = zs_criu_yards(work_fd);
	char *name, *save = NULL;
	int count = 0, round;

	if (dir == NULL)
		return 0;
	for (name = strtok_r(now, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
		cleanup_free char *line = xasprintf("\n%s\n", name);
		cleanup_free char *path = xasprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
		bool held = false;

		if (before && strstr(before, line))
			continue; /* there before our CRIU started: not ours */
		/* a CRIU that runs holds its yard open (a service fd); one that
		 * has just made it opens it within moments: look twice */
		for (round = 0; round < 2 && !held; round++) {
			if (round)
				usleep(300000);
			held = yard_held(path);
		}
		if (held) {
			zs_debug("restore: CRIU's cgroup yard %s is in use: left alone", path);
			continue;
		}
		count += yard_cleanup(work_fd, name);
	}
	return count;
}
