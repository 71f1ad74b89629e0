/* zanshin — internal split of lib/linux*.c. */
#ifndef ZANSHIN_LINUX_INTERNAL_H
#define ZANSHIN_LINUX_INTERNAL_H

#include "zanshin/linux.h"

int zs_rootfs_prepare(const struct zs_init_args *a, zs_error_t *err);
int zs_rootfs_pivot(const struct zs_init_args *a, zs_error_t *err);
int zs_rootfs_finalize(const struct zs_init_args *a, zs_error_t *err);
/* FD is mount M's destination opened below ROOTFD: refuse it where runc's
 * checkProcMount does (inside /proc but for the lxcfs files, on /proc but
 * for a procfs), on a procfs elsewhere and over a sysfs file. */
int zs_mount_dest_check(int rootfd, int fd, const struct zs_mount *m, zs_error_t *err);

#endif
