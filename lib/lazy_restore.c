/* zanshin — lazy restore's fault server: `criu lazy-pages --track-mem`
 * (criu-patches 0019), started before CRIU restores and left running:
 * it fills the restored tasks' private anonymous memory from the images
 * (the whole parent chain) on first touch and in the background, installs
 * every page write-protected (clean for wp-async tracking), and serves
 * faults for as long as the tasks live. CRIU's tracking keeper watches it
 * and kills the tasks if it dies (never zero-filled memory). See
 * docs/lazy-restore.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zanshin/lazy_restore.h"
#include "zanshin/log.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

#define LAZY_SOCKET "lazy-pages.socket"
#define LAZY_PIDFILE "lazy-pages.pid"
#define LAZY_LOG "lazy-pages.log"

/* A socket left by an earlier server would make this one fail to listen. */
static int drop_stale_socket(const char *work_dir, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", work_dir, LAZY_SOCKET);
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : zs_make_error(err, errno, "lstat `%s`", path);
	if (!S_ISSOCK(st.st_mode))
		return zs_make_error(err, EEXIST, "`%s` exists and is not a socket: not removing it", path);
	if (unlink(path) < 0)
		return zs_make_error(err, errno, "remove stale `%s`", path);
	return 0;
}

static void exec_server(const char *criu, const char *image_dir, const char *work_dir, const char *blocks,
			const char *pidfile)
{
	sigset_t none;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	/* the daemon outlives the restore: it needs none of our descriptors
	 * (those made inheritable for CRIU's restore included); no
	 * allocation here, after fork (lib/cr_fds.c does the same) */
	syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
	if (blocks)
		execl(criu, criu, "lazy-pages", "--images-dir", image_dir, "--work-dir", work_dir, "--track-mem",
		      "--lazy-block-digests", blocks, "--log-file", LAZY_LOG, "-v3", "--daemon", "--pidfile", pidfile,
		      (char *) NULL);
	else
		execl(criu, criu, "lazy-pages", "--images-dir", image_dir, "--work-dir", work_dir, "--track-mem",
		      "--log-file", LAZY_LOG, "-v3", "--daemon", "--pidfile", pidfile, (char *) NULL);
	_exit(127);
}

/* `criu lazy-pages --daemon` exits once its socket listens; the daemon's
 * pid is in PIDFILE. */
static int wait_daemonized(pid_t child, const char *pidfile, const char *work_dir, pid_t *pid, zs_error_t *err)
{
	cleanup_free char *buf = NULL;
	size_t len;
	int status;
	long v;

	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return zs_make_error(err, errno, "waitpid criu lazy-pages");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return zs_make_error(err, EIO, "criu lazy-pages did not start (status %d; log file: %s/%s)", status,
				     work_dir, LAZY_LOG);
	if (read_file(pidfile, &buf, &len, err) < 0)
		return -1;
	unlink(pidfile);
	v = strtol(buf, NULL, 10);
	if (v <= 1)
		return zs_make_error(err, EIO, "`%s`: no pid of criu lazy-pages", pidfile);
	*pid = (pid_t) v;
	return 0;
}

int zs_lazy_server_start(const char *criu, const char *image_dir, const char *work_dir, const char *blocks,
			 struct zs_lazy_server *s, zs_error_t *err)
{
	cleanup_free char *pidfile = xasprintf("%s/%s", work_dir, LAZY_PIDFILE);
	pid_t child;

	s->pid = -1;
	s->pidfd = -1;
	if (drop_stale_socket(work_dir, err) < 0)
		return -1;
	if (unlink(pidfile) < 0 && errno != ENOENT)
		return zs_make_error(err, errno, "remove stale `%s`", pidfile);
	child = fork();
	if (child < 0)
		return zs_make_error(err, errno, "fork for criu lazy-pages");
	if (child == 0)
		exec_server(criu, image_dir, work_dir, blocks, pidfile);
	if (wait_daemonized(child, pidfile, work_dir, &s->pid, err) < 0)
		return -1;
	s->pidfd = (int) syscall(SYS_pidfd_open, s->pid, 0);
	if (s->pidfd < 0)
		return zs_make_error(err, errno,
				     "criu lazy-pages (pid %d) is gone before the restore (log file: %s/%s)",
				     (int) s->pid, work_dir, LAZY_LOG);
	zs_debug("restore: lazy-pages server %d serves %s", (int) s->pid, image_dir);
	return 0;
}

void zs_lazy_server_abort(struct zs_lazy_server *s)
{
	if (s->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
	zs_lazy_server_release(s);
}

void zs_lazy_server_release(struct zs_lazy_server *s)
{
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->pidfd = -1;
	s->pid = -1;
}

int zs_lazy_filled(pid_t pid)
{
	char ns[64], *lb;
	ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
	cleanup_free char *path = NULL;

	if (n <= 0)
		return -1;
	ns[n] = '\0';
	lb = strchr(ns, '[');
	if (lb == NULL)
		return -1;
	path = xasprintf("/run/criu/track/%lu-%d-%llu.lazy-filled", strtoul(lb + 1, NULL, 10), (int) pid,
			 zs_proc_start_time(pid, NULL));
	return access(path, F_OK) == 0;
}
