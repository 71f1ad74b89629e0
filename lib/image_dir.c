/* zanshin — image and work directories checked before CRIU uses them
 * (include/zanshin/image_dir.h has the rules). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zanshin/image_dir.h"
#include "zanshin/utils.h"

/* Names CRIU writes in a work directory (criu/log.c, criu/stats.c) and
 * the runtime next to the images. */
static const char *const written[] = {"dump.log",      "predump.log", "restore.log",	  "stats-dump",
				      "stats-restore", "irmap-cache", "descriptors.json", NULL};

static bool is_written(const char *name, enum zs_image_dir_use use)
{
	size_t n = strlen(name);
	const char *const *w;

	for (w = written; *w; w++)
		if (strcmp(name, *w) == 0)
			return true;
	return use == ZS_IMAGE_DIR_DUMP && n > 4 && strcmp(name + n - 4, ".img") == 0;
}

/* Owned by root or the caller, a directory, writable by its owner only. */
static int check_owner_mode(int fd, const char *path, const char *what, zs_error_t *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return zs_make_error(err, errno, "%s `%s`", what, path);
	if (!S_ISDIR(st.st_mode))
		return zs_make_error(err, -ENOTDIR, "%s `%s`: not a directory", what, path);
	if (st.st_uid != 0 && st.st_uid != geteuid() && st.st_uid != getuid())
		return zs_make_error(err, -EPERM,
				     "%s `%s`: owned by uid %u, not by root or the caller: whoever owns it could "
				     "plant files CRIU writes through or swap the images",
				     what, path, (unsigned) st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return zs_make_error(
		    err, -EPERM, "%s `%s`: mode %04o is writable by %s: only its owner may write there (chmod go-w)",
		    what, path, (unsigned) (st.st_mode & 07777), (st.st_mode & S_IWOTH) ? "anyone" : "its group");
	return 0;
}

/* An entry CRIU will write: a regular file (made 0600 for a dump), or
 * refused by name. */
static int check_entry(int dfd, const char *path, const char *name, enum zs_image_dir_use use, zs_error_t *err)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : zs_make_error(err, errno, "%s/%s", path, name);
	if (S_ISLNK(st.st_mode))
		return zs_make_error(err, -EPERM, "%s/%s: is a symlink: CRIU would write through it (remove it)", path,
				     name);
	if (!S_ISREG(st.st_mode))
		return zs_make_error(err, -EPERM, "%s/%s: not a regular file: CRIU writes this name (remove it)", path,
				     name);
	if (use == ZS_IMAGE_DIR_DUMP && (st.st_mode & 077) && fchmodat(dfd, name, 0600, 0) < 0)
		return zs_make_error(err, errno, "%s/%s: chmod 0600", path, name);
	return 0;
}

static int check_entries(int fd, const char *path, enum zs_image_dir_use use, zs_error_t *err)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int ret = 0;

	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		int e = errno;

		if (dfd >= 0)
			close(dfd);
		return zs_make_error(err, e, "%s", path);
	}
	rewinddir(d);
	while (ret == 0 && (errno = 0, de = readdir(d)) != NULL)
		if (is_written(de->d_name, use))
			ret = check_entry(fd, path, de->d_name, use, err);
	if (ret == 0 && errno)
		return zs_make_error(err, errno, "%s: readdir", path);
	return ret;
}

static int check_dir(int fd, const char *path, const char *what, enum zs_image_dir_use use, zs_error_t *err)
{
	if (check_owner_mode(fd, path, what, err) < 0)
		return -1;
	return check_entries(fd, path, use, err);
}

int zs_image_dirs_check(int image_fd, const char *image_path, int work_fd, const char *work_path,
			enum zs_image_dir_use use, zs_error_t *err)
{
	if (check_dir(image_fd, image_path, "image directory", use, err) < 0)
		return -1;
	if (work_fd >= 0 && check_dir(work_fd, work_path, "work directory", use, err) < 0)
		return -1;
	if (use == ZS_IMAGE_DIR_DUMP)
		umask(077); /* CRIU creates images 0644 (CR_FD_PERM): they hold the memory */
	return 0;
}
