/* zanshin — the work directory of a lazy restore: the container's own
 * (ROOT/.lazy-work/ID) unless --work-path names one, and held
 * exclusively while the restore runs. See include/zanshin/lazy_workdir.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zanshin/lazy_workdir.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define LAZY_WORK ".lazy-work"

static int mkdir_private(const char *dir, zs_error_t *err)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return zs_make_error(err, errno, "mkdir `%s`", dir);
	if (lstat(dir, &st) < 0)
		return zs_make_error(err, errno, "lstat `%s`", dir);
	if (!S_ISDIR(st.st_mode))
		return zs_make_error(err, ENOTDIR, "`%s`: not a directory (a lazy restore's work directory)", dir);
	return 0;
}

char *zs_lazy_work_dir(const char *root, const char *id, zs_error_t *err)
{
	cleanup_free char *parent = xasprintf("%s/%s", root, LAZY_WORK);
	cleanup_free char *dir = xasprintf("%s/%s", parent, id);

	if (mkdir_private(parent, err) < 0 || mkdir_private(dir, err) < 0)
		return NULL;
	return steal_pointer(&dir);
}

void zs_lazy_work_remove(const char *root, const char *id)
{
	cleanup_free char *dir = xasprintf("%s/%s/%s", root, LAZY_WORK, id);

	if (rm_rf(dir) < 0 && errno != ENOENT)
		zs_debug("remove `%s`: %s", dir, strerror(errno));
}

int zs_lazy_work_lock(const char *work_dir, zs_error_t *err)
{
	cleanup_close int fd = open(work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return zs_make_error(err, errno, "open the work directory `%s`", work_dir);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return zs_make_error(err, errno, "lock the work directory `%s`", work_dir);
	return steal_fd(&fd);
}
