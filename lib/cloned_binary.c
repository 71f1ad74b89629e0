/* zanshin — run from a sealed memfd copy of ourselves (CVE-2019-5736): a
 * process in the container that opens /proc/PID/exe of a runtime process
 * between setns and execve gets a sealed, unwritable copy, never the
 * binary on disk. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zanshin/utils.h"

extern char **environ;

#define ZS_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static bool running_from_sealed_copy(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int seals;

	if (fd < 0)
		return false;
	seals = fcntl(fd, F_GET_SEALS);
	close(fd);
	return seals >= 0 && (seals & ZS_SEALS) == ZS_SEALS;
}

int zs_ensure_cloned_binary(char **argv, zs_error_t *err)
{
	cleanup_close int src = -1, mfd = -1;
	struct stat st;
	off_t off = 0;

	if (running_from_sealed_copy())
		return 0;
	src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		return zs_make_error(err, errno, "open /proc/self/exe");
	mfd = memfd_create("zanshin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return zs_make_error(err, errno, "memfd_create");
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, src, &off, st.st_size - off);
		if (n <= 0)
			return zs_make_error(err, n < 0 ? errno : EIO, "copy /proc/self/exe");
	}
	if (fcntl(mfd, F_ADD_SEALS, ZS_SEALS) < 0)
		return zs_make_error(err, errno, "seal the binary copy");
	syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
	return zs_make_error(err, errno, "re-exec from the sealed copy");
}
