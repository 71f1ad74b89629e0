/* zanshin — stdio of the container's processes, inside the container:
 * the host's /dev/null is reopened on the container's own (so CRIU finds
 * it in the container's mounts at checkpoint) and stdio is chowned to the
 * process's user.  The same conditions as runc 1.1 (rootfs_linux.go
 * reOpenDevNull, init_linux.go fixStdioPermissions), for exec'd
 * processes too. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "zanshin/stdio.h"
#include "zanshin/utils.h"

static const char *const stdio_names[] = {"stdin", "stdout", "stderr"};

bool zs_stdio_is_null_dev(dev_t rdev)
{
	return major(rdev) == 1 && minor(rdev) == 3;
}

/* runc leaves stdio alone when /dev is the host's, bound in. */
static bool dev_is_bound(const struct zs_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->n_mounts; i++)
		if (cfg->mounts[i].bind && strcmp(cfg->mounts[i].destination, "/dev") == 0)
			return true;
	return false;
}

/* Open O_PATH fd P for reading and writing: through /proc/self/fd, the
 * same inode whatever happens to the path meanwhile; without a /proc in
 * the container, by PATH again (only the init runs there then), checked
 * to be the same inode. */
static int reopen_rw(int p, int root, const char *path, const struct stat *want, zs_error_t *err)
{
	char self[64];
	struct stat st;
	int fd;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", p);
	fd = open(self, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : zs_make_error(err, errno, "open the container's %s", path);
	fd = safe_openat(root, path, O_RDWR | O_NOCTTY, 0, err);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || st.st_dev != want->st_dev || st.st_ino != want->st_ino) {
		close(fd);
		return zs_make_error(err, -EBUSY, "the container's %s changed while it was opened", path);
	}
	return fd;
}

/* The container's /dev/null, resolved inside the root without following
 * links out of it, into *OUT; *OUT stays -1 when it is not the null
 * device (runc compares the device numbers and then leaves stdio alone).
 * It is checked before it is opened for I/O: an image's /dev/null could
 * be any device node, and opening some (a watchdog) has effects. */
static int open_container_null(int *out, zs_error_t *err)
{
	cleanup_close int root = open("/", O_DIRECTORY | O_PATH | O_CLOEXEC);
	cleanup_close int p = -1;
	struct stat st;
	int fd;

	if (root < 0)
		return zs_make_error(err, errno, "open the container's root");
	p = safe_openat(root, "/dev/null", O_PATH, 0, err);
	if (p < 0)
		return p;
	if (fstat(p, &st) < 0)
		return zs_make_error(err, errno, "stat the container's /dev/null");
	if (!S_ISCHR(st.st_mode) || !zs_stdio_is_null_dev(st.st_rdev))
		return 0;
	fd = reopen_rw(p, root, "/dev/null", &st, err);
	if (fd < 0)
		return fd;
	*out = fd;
	return 0;
}

static int reopen_null(bool required, zs_error_t *err)
{
	cleanup_close int null = -1;
	bool opened = false;
	struct stat st;
	int i;

	for (i = 0; i < 3; i++) {
		if (fstat(i, &st) < 0 || !S_ISCHR(st.st_mode) || !zs_stdio_is_null_dev(st.st_rdev))
			continue;
		if (!opened) {
			cleanup_error zs_error_t e = NULL;
			opened = true;
			if (open_container_null(&null, required ? err : &e) < 0 && required)
				return zs_error_wrap(err, "reopen %s (the host's /dev/null) inside the container",
						     stdio_names[i]);
		}
		if (null < 0)
			return 0; /* not there (exec) or not the null device: as runc */
		if (dup3(null, i, 0) < 0)
			return zs_make_error(err, errno, "dup3 the container's /dev/null onto %s", stdio_names[i]);
	}
	return 0;
}

/* fchown what the process gets as stdio to its user (a pipe, a file given
 * by the caller), never the null device; failures that mean "not ours to
 * change" (unmapped owner or group, read-only file system) are ignored,
 * as runc does. */
static int chown_stdio(uid_t uid, zs_error_t *err)
{
	struct stat st;
	int i;

	for (i = 0; i < 3; i++) {
		if (fstat(i, &st) < 0) {
			if (errno == EBADF)
				continue;
			return zs_make_error(err, errno, "fstat %s", stdio_names[i]);
		}
		if (st.st_uid == uid || (S_ISCHR(st.st_mode) && zs_stdio_is_null_dev(st.st_rdev)))
			continue;
		if (fchown(i, uid, st.st_gid) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
			return zs_make_error(err, errno, "chown %s to uid %u", stdio_names[i], (unsigned) uid);
	}
	return 0;
}

int zs_stdio_prepare(const struct zs_config *cfg, uid_t uid, bool terminal, bool required, zs_error_t *err)
{
	if (!dev_is_bound(cfg) && reopen_null(required, err) < 0)
		return -1;
	if (terminal)
		return 0; /* the terminal replaces stdio and is chowned itself */
	return chown_stdio(uid, err);
}
