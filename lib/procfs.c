/* zanshin — verified writes to procfs and sysfs (see zanshin/procfs.h).
 * The checks follow what runc 1.2+ does for CVE-2025-52881: resolve below a
 * verified root without crossing mounts, then fstatfs() the opened file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/openat2.h>

#include "zanshin/procfs.h"
#include "zanshin/utils.h"

/* procfs's and sysfs's (kernfs's) root directories have inode 1 */
#define KERNFS_ROOT_INO 1

static const char *fs_name(unsigned long magic)
{
	return magic == PROC_SUPER_MAGIC ? "procfs" : magic == SYSFS_MAGIC ? "sysfs" : "kernel file system";
}

int zs_kernfs_open_root(int dirfd, const char *path, unsigned long magic, zs_error_t *err)
{
	struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
			       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	cleanup_close int fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	struct statfs sf;
	struct stat st;

	if (fd < 0 && errno == ENOENT)
		return -1; /* *err untouched: there is none */
	if (fd < 0)
		return zs_make_error(err, errno, "open `%s` (a %s mount, no symlinks)", path, fs_name(magic));
	if (fstatfs(fd, &sf) < 0 || fstat(fd, &st) < 0)
		return zs_make_error(err, errno, "stat `%s`", path);
	if ((unsigned long) sf.f_type != magic)
		return zs_make_error(err, -EINVAL, "`%s` is not a %s mount (file system type 0x%lx)", path,
				     fs_name(magic), (unsigned long) sf.f_type);
	if (st.st_ino != KERNFS_ROOT_INO)
		return zs_make_error(err, -EINVAL, "`%s` is not the root of a %s mount (inode %lu)", path,
				     fs_name(magic), (unsigned long) st.st_ino);
	return steal_fd(&fd);
}

int zs_kernfs_open_file(int rootfd, const char *sub, int flags, const char *what, zs_error_t *err)
{
	struct open_how how = {.flags = (unsigned) flags | O_NOFOLLOW | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS};
	cleanup_close int fd = -1;
	struct statfs rsf, sf;
	struct stat st;

	if (fstatfs(rootfd, &rsf) < 0)
		return zs_make_error(err, errno, "stat the mount of `%s`", what);
	fd = syscall(SYS_openat2, rootfd, sub, &how, sizeof(how));
	if (fd < 0 && errno == EXDEV)
		return zs_make_error(err, -EXDEV, "`%s`: refusing to write: something is mounted over it", what);
	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", what);
	if (fstatfs(fd, &sf) < 0 || fstat(fd, &st) < 0)
		return zs_make_error(err, errno, "stat `%s`", what);
	if (sf.f_type != rsf.f_type)
		return zs_make_error(err, -EINVAL, "`%s`: refusing to write: not a %s file (file system type 0x%lx)",
				     what, fs_name(rsf.f_type), (unsigned long) sf.f_type);
	if (!S_ISREG(st.st_mode))
		return zs_make_error(err, -EINVAL, "`%s`: refusing to write: not a regular file", what);
	return steal_fd(&fd);
}

int zs_kernfs_write(int rootfd, const char *sub, const char *data, size_t len, const char *what, zs_error_t *err)
{
	cleanup_close int fd = zs_kernfs_open_file(rootfd, sub, O_WRONLY, what, err);
	ssize_t n;

	if (fd < 0)
		return fd;
	/* one write: a kernel attribute takes its value in one piece */
	n = write(fd, data, len);
	if (n < 0)
		return zs_make_error(err, errno, "write `%s`", what);
	if ((size_t) n != len)
		return zs_make_error(err, EIO, "write `%s`: short write", what);
	return 0;
}

int zs_proc_write(const char *sub, const char *data, size_t len, zs_error_t *err)
{
	cleanup_free char *what = xasprintf("/proc/%s", sub);
	cleanup_close int proc = zs_kernfs_open_root(AT_FDCWD, "/proc", PROC_SUPER_MAGIC, err);

	if (proc < 0 && *err == NULL)
		return zs_make_error(err, ENOENT, "write `%s`: there is no /proc", what);
	if (proc < 0)
		return zs_error_wrap(err, "write `%s`", what);
	return zs_kernfs_write(proc, sub, data, len, what, err);
}
