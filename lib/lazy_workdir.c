/* zanshin — the work directory of a lazy restore: the container's own
 * (STATE_DIR/lazy-work) unless --work-path names one, and held
 * exclusively while the restore runs. See include/zanshin/lazy_workdir.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zanshin/lazy_workdir.h"
#include "zanshin/utils.h"

#define LAZY_WORK "lazy-work"

char *zs_lazy_work_dir(const char *state_dir, zs_error_t *err)
{
	cleanup_free char *dir = xasprintf("%s/%s", state_dir, LAZY_WORK);
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		zs_make_error(err, errno, "mkdir `%s`", dir);
		return NULL;
	}
	if (lstat(dir, &st) < 0) {
		zs_make_error(err, errno, "lstat `%s`", dir);
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		zs_make_error(err, ENOTDIR, "`%s`: not a directory (the lazy restore's work directory)", dir);
		return NULL;
	}
	return steal_pointer(&dir);
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
