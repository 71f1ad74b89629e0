/* zanshin — internal split of lib/linux*.c. */
#ifndef ZANSHIN_LINUX_INTERNAL_H
#define ZANSHIN_LINUX_INTERNAL_H

#include "zanshin/linux.h"

int zs_rootfs_prepare(const struct zs_init_args *a, zs_error_t *err);
int zs_rootfs_pivot(const struct zs_init_args *a, zs_error_t *err);
int zs_rootfs_finalize(const struct zs_init_args *a, zs_error_t *err);

#endif
