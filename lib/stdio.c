/* zanshin — stdio of the container's processes, inside the container:
 * the host's /dev/null is reopened on the container's own (so CRIU finds
 * it in the container's mounts at checkpoint) and stdio is chowned to the
 * process's user.  The same conditions as runc 1.1 (rootfs_linux.go
 * reOpenDevNull, init_linux.go fixStdioPermissions), for exec'd
 * processes too. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

/* The container's /dev/null, opened inside the root without following
 * links out of it, and checked to be the null device. */
static int open_container_null(zs_error_t *err)
{
	cleanup_close int root = open("/", O_DIRECTORY | O_PATH | O_CLOEXEC);
	cleanup_close int fd = -1;
	struct stat st;

	if (root < 0)
		return zs_make_error(err, errno, "open the container's root");
	fd = safe_openat(root, "/dev/null", O_RDWR | O_NOCTTY, 0, err);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return zs_make_error(err, errno, "stat the container's /dev/null");
	if (!S_ISCHR(st.st_mode) || !zs_stdio_is_null_dev(st.st_rdev))
		return zs_make_error(err, -EINVAL, "the container's /dev/null is not the null device (1:3)");
	return steal_fd(&fd);
}

static int reopen_null(bool required, zs_error_t *err)
{
	cleanup_close int null = -1;
	struct stat st;
	int i;

	for (i = 0; i < 3; i++) {
		if (fstat(i, &st) < 0 || !S_ISCHR(st.st_mode) || !zs_stdio_is_null_dev(st.st_rdev))
			continue;
		if (null < 0) {
			cleanup_error zs_error_t e = NULL;
			null = open_container_null(required ? err : &e);
			if (null < 0 && required)
				return zs_error_wrap(err, "reopen %s (the host's /dev/null) inside the container",
						     stdio_names[i]);
			if (null < 0)
				return 0; /* exec: the host's /dev/null stays, as with runc */
		}
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
