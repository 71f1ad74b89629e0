/* zanshin — how bytes enter the remnant store: a file of a directory the
 * store does not own (an image directory, a live rootfs) is opened once,
 * without following symlinks and without blocking on a FIFO, checked as
 * the object opened (a regular file), and its data copied into a new inode
 * of the store: a reflink (FICLONE) where the filesystem shares extents
 * copy-on-write, else copy_file_range, else read/write.  Nothing in the
 * store shares a writable inode with anything outside it (no hard links),
 * and nothing swapped in after a check is ever followed (issue 18.3). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remnant_internal.h"
#include "zanshin/criu_image.h"
#include "zanshin/utils.h"

#define COPY_BUF (1u << 20)

bool zs_rem_criu_log_file(const char *name)
{
	return zs_image_log_file(name);
}

int zs_rem_open_regular(int dfd, const char *name, const char *path, struct stat *st, zs_error_t *err)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0 && errno == ELOOP)
		return zs_make_error(err, -EINVAL, "%s: a symlink where an image file belongs", path);
	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		return zs_make_error(err, e, "stat `%s`", path);
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return zs_make_error(err, -EINVAL, "%s: not a regular file", path);
	}
	return fd;
}

/* From the current offsets of IN and OUT (copy_file_range may have
 * advanced both) to the end of IN. */
static int copy_rw(int in, int out, const char *path, zs_error_t *err)
{
	cleanup_free char *buf = xmalloc(COPY_BUF);
	ssize_t n;

	while ((n = read(in, buf, COPY_BUF)) != 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return zs_make_error(err, errno, "read `%s`", path);
		errno = 0;
		if (write_all(out, buf, n) < 0)
			return zs_make_error(err, errno ? errno : ENOSPC, "copy `%s` into the remnant store", path);
	}
	return 0;
}

int zs_rem_copy_fd(int in, int out, const char *path, zs_error_t *err)
{
	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 64u << 20, 0);
		if (n > 0)
			continue;
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EBADF)
			break;
		return zs_make_error(err, errno, "copy `%s` into the remnant store", path);
	}
	return copy_rw(in, out, path, err);
}

int zs_rem_copy_file_at(int sfd, const char *name, const char *path, int dfd, mode_t mode, struct stat *st,
			zs_error_t *err)
{
	struct stat tmp;
	cleanup_close int in = zs_rem_open_regular(sfd, name, path, st ? st : &tmp, err);
	cleanup_close int out = -1;

	if (in < 0)
		return -1;
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (out < 0)
		return zs_make_error(err, errno, "create the store's copy of `%s`", path);
	return zs_rem_copy_fd(in, out, path, err);
}
