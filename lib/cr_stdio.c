/* zanshin — the container init's stdio across checkpoint and restore.
 *
 * descriptors.json (runc's file, same shape: three strings) records where
 * fds 0-2 of the init pointed.  Pipes ("pipe:[N]") are handed back at
 * restore from the restoring runtime's own stdio, as runc does.  zanshin
 * adds one case runc leaves to fail: the host's /dev/null (a restore given
 * </dev/null hands the host's to a process whose image had pipes; runc's
 * init reopens it, but a restored process never runs that code again).  It
 * is dumped as a CRIU external file "file[MNT_ID:INODE]", recorded under
 * that key, and at restore the host's /dev/null is inherited for it (the
 * process had /dev/null and gets /dev/null, whatever the restoring
 * runtime's own stdio is; the container's /dev/null is restored from the
 * image the same way).  Any other file that is
 * not on one of the container's mounts (a regular file, a terminal that
 * is not the container's) cannot be dumped by CRIU, with runc or with us:
 * it is refused before CRIU runs, with its name and what to do instead;
 * so is a socket of another network namespace (CRIU looks sockets up in
 * the container's and says only "socket not found"). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "criu_internal.h"
#include "zanshin/json.h"
#include "zanshin/stdio.h"
#include "zanshin/utils.h"

static const char *const fd_names[] = {"stdin", "stdout", "stderr"};

/* mnt_id of PID's fd FD (/proc/PID/fdinfo/FD), -1 if unknown. */
static long fd_mnt_id(pid_t pid, int fd)
{
	cleanup_free char *path = xasprintf("/proc/%d/fdinfo/%d", (int) pid, fd);
	cleanup_file FILE *f = fopen(path, "re");
	char line[256];
	long id = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "mnt_id: %ld", &id) == 1)
			break;
	return id;
}

/* Is mount MNT_ID one of PID's mount namespace? */
static bool mount_in_ns(pid_t pid, long mnt_id)
{
	cleanup_free char *path = xasprintf("/proc/%d/mountinfo", (int) pid);
	cleanup_file FILE *f = fopen(path, "re");
	cleanup_free char *line = NULL; /* whole lines: overlay options run long */
	size_t cap = 0;
	long id;

	while (f && getline(&line, &cap, f) > 0)
		if (sscanf(line, "%ld ", &id) == 1 && id == mnt_id)
			return true;
	return false;
}

/* The inode of the network namespace of PID's socket FD, 0 if unknown. */
static ino_t socket_netns(pid_t pid, int fd)
{
	cleanup_close int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
	cleanup_close int sock = -1, ns = -1;
	struct stat st;

	if (pidfd < 0)
		return 0;
	sock = (int) syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (sock < 0)
		return 0;
	ns = ioctl(sock, SIOCGSKNS);
	if (ns < 0 || fstat(ns, &st) < 0)
		return 0;
	return st.st_ino;
}

/* A socket as stdio must live in the container's network namespace. */
static int check_socket(pid_t pid, int i, const char *target, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/ns/net", (int) pid);
	ino_t ns = socket_netns(pid, i);
	struct stat st;

	if (ns == 0 || stat(path, &st) < 0 || st.st_ino == ns)
		return 0;
	return zs_make_error(err, -EINVAL,
			     "the container's %s (fd %d) is `%s`, a socket of another network namespace: CRIU cannot "
			     "checkpoint it (neither can runc's); give the container pipes, a terminal "
			     "(process.terminal with --console-socket) or /dev/null as stdio",
			     fd_names[i], i, target);
}

/* A file CRIU dumps by its path in the container (not a pipe, socket or
 * anonymous inode, which it dumps by themselves). */
static bool is_path_file(const char *target)
{
	return target[0] == '/';
}

/* Does LINK still read TARGET? */
static bool same_link(const char *link, const char *target)
{
	char now[PATH_MAX];
	ssize_t n = readlink(link, now, sizeof(now) - 1);

	if (n < 0)
		return false;
	now[n] = '\0';
	return strcmp(now, target) == 0;
}

/* The key recorded for fd I of PID (TARGET is its link), and the CRIU
 * external it needs (in *EXT, NULL if none). */
static int classify(pid_t pid, int i, const char *target, bool shell_job, char **key, char **ext, zs_error_t *err)
{
	cleanup_free char *link = xasprintf("/proc/%d/fd/%d", (int) pid, i);
	struct stat st;
	long mnt;

	*ext = NULL;
	*key = xstrdup(target);
	if (str_has_prefix(target, "socket:"))
		return check_socket(pid, i, target, err);
	if (!is_path_file(target) || stat(link, &st) < 0)
		return 0;
	mnt = fd_mnt_id(pid, i);
	if (!same_link(link, target))
		return -EAGAIN; /* fd I changed under us: the caller reads again */
	if (mnt < 0 || mount_in_ns(pid, mnt))
		return 0;
	if (S_ISCHR(st.st_mode) && zs_stdio_is_null_dev(st.st_rdev)) {
		free(*key);
		*key = xasprintf("file[%lx:%" PRIx64 "]", mnt, (uint64_t) st.st_ino);
		*ext = xstrdup(*key);
		return 0;
	}
	if (shell_job && S_ISCHR(st.st_mode))
		return 0; /* --shell-job: CRIU takes the caller's terminal */
	return zs_make_error(err, -EINVAL,
			     "the container's %s (fd %d) is `%s`, a file outside the container's mounts: CRIU cannot "
			     "checkpoint it (neither can runc's); give the container pipes, a terminal "
			     "(process.terminal with --console-socket) or /dev/null as stdio%s",
			     fd_names[i], i, target, S_ISCHR(st.st_mode) ? ", or checkpoint with --shell-job" : "");
}

/* fds 0-2 of PID as links (a closed one as ""); true when one of them is a
 * path that is not a device: a shell running `echo x >file` has the file
 * on fd 1 for a moment (bash dup2()s it over its stdout for a builtin). */
static bool read_stdio(pid_t pid, char targets[3][PATH_MAX])
{
	bool file = false;
	int i;

	for (i = 0; i < 3; i++) {
		cleanup_free char *link = xasprintf("/proc/%d/fd/%d", (int) pid, i);
		ssize_t n = readlink(link, targets[i], PATH_MAX - 1);

		targets[i][n < 0 ? 0 : n] = '\0';
		if (n > 0 && is_path_file(targets[i]) && !str_has_prefix(targets[i], "/dev/"))
			file = true;
	}
	return file;
}

static int stdio_dump_once(criu_opts *c, const char *image_dir, pid_t pid, bool shell_job, bool last, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *path = xasprintf("%s/%s", image_dir, ZS_DESCRIPTORS), *buf = NULL;
	char targets[3][PATH_MAX];
	size_t len;
	int i, tries;

	/* the container runs: a file seen on its stdio may be a shell's
	 * redirection of a moment; look again for up to 10 ms before taking it
	 * (a file that stays, e.g. after `exec >/log`, costs those 10 ms) */
	for (tries = 0; read_stdio(pid, targets) && !last && tries < 10; tries++)
		usleep(1000);
	zs_jgen_array_open(g);
	for (i = 0; i < 3; i++) {
		cleanup_free char *key = NULL, *ext = NULL;
		int ret;

		if (targets[i][0] == '\0') {
			zs_jgen_string(g, "/dev/null"); /* closed: nothing to hand back */
			continue;
		}
		ret = classify(pid, i, targets[i], shell_job, &key, &ext, err);
		if (ret == -EAGAIN)
			return ret;
		if (ret < 0)
			return -1;
		if (ext && criu_local_add_external(c, ext) < 0)
			return zs_make_error(err, ENOMEM, "libcriu: external `%s`", ext);
		zs_jgen_string(g, key);
	}
	zs_jgen_array_close(g);
	buf = zs_jgen_result(g, &len);
	return write_file_atomic(path, buf, len, 0600, err);
}

int zs_cr_stdio_dump(criu_opts *c, const char *image_dir, pid_t pid, bool shell_job, zs_error_t *err)
{
	int ret = -EAGAIN, tries;

	for (tries = 0; ret == -EAGAIN && tries < 20; tries++)
		ret = stdio_dump_once(c, image_dir, pid, shell_job, tries == 19, err);
	if (ret == -EAGAIN)
		return zs_make_error(err, EAGAIN, "the container's stdio kept changing while it was read");
	return ret;
}

/* The host's /dev/null, inheritable by CRIU (no O_CLOEXEC: the caller
 * closes it after the restore). */
static int host_null(int *null_fd, zs_error_t *err)
{
	*null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (*null_fd < 0)
		return zs_make_error(err, errno, "open /dev/null");
	if (fcntl(*null_fd, F_SETFD, 0) < 0)
		return zs_make_error(err, errno, "fcntl /dev/null");
	return *null_fd;
}

/* Pipes recorded become our fds 0-2 (runc's way); external files the
 * host's /dev/null. */
static int inherit_one(criu_opts *c, int i, const char *s, int null_fds[3], zs_error_t *err)
{
	int fd = i;

	if (str_has_prefix(s, "file[")) {
		fd = host_null(&null_fds[i], err);
		if (fd < 0)
			return fd;
	} else if (!str_has_prefix(s, "pipe:"))
		return 0;
	else if (fcntl(i, F_GETFD) < 0)
		return zs_make_error(err, errno, "restore: %s (fd %d) must be open: the checkpoint's was `%s`",
				     fd_names[i], i, s);
	if (criu_local_add_inherit_fd(c, fd, s) < 0)
		return zs_make_error(err, ENOMEM, "libcriu: inherit fd");
	return 0;
}

int zs_cr_stdio_restore(criu_opts *c, const char *image_dir, int null_fds[3], zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", image_dir, ZS_DESCRIPTORS);
	zs_json *j = NULL;
	size_t i;
	int ret = 0;

	if (access(path, F_OK) < 0)
		return 0; /* an image of plain criu */
	if (zs_json_parse_file(path, ZS_DESCRIPTORS, &j, err) < 0)
		return -1;
	for (i = 0; i < 3 && i < zs_json_array_len(j) && ret == 0; i++) {
		const char *s = zs_json_string_value(zs_json_array_at(j, i));
		if (s)
			ret = inherit_one(c, (int) i, s, null_fds, err);
	}
	zs_json_free(j);
	return ret;
}
