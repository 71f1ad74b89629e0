/* zanshin — `restore --ksm`: the restored tasks inherit KSM's "merge any"
 * mm flag from us through CRIU. See include/zanshin/ksm_share.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "zanshin/ksm_share.h"
#include "zanshin/utils.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

#define KSM_RUN "/sys/kernel/mm/ksm/run"

int zs_ksm_share_prepare(bool *ksmd_running, zs_error_t *err)
{
	cleanup_close int fd = open(KSM_RUN, O_RDONLY | O_CLOEXEC);
	char c = '0';

	if (fd < 0)
		return zs_make_error(err, errno == ENOENT ? EOPNOTSUPP : errno,
				     "--ksm: `%s`: this kernel has no KSM (CONFIG_KSM)", KSM_RUN);
	if (read(fd, &c, 1) != 1)
		return zs_make_error(err, errno ? errno : EIO, "--ksm: read `%s`", KSM_RUN);
	*ksmd_running = c == '1';
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) < 0)
		return zs_make_error(err, errno, "--ksm: prctl(PR_SET_MEMORY_MERGE) (Linux >= 6.4)");
	return 0;
}
