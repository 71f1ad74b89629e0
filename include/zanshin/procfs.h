/* zanshin — the runtime's own writes to /proc and /sys (sysctls,
 * oom_score_adj, LSM attributes, id maps) land in the real kernel file:
 * a container (or its image, or a mount) cannot redirect them into a
 * regular file, another procfs mount or a file of its choosing. */
#ifndef ZANSHIN_PROCFS_H
#define ZANSHIN_PROCFS_H

#include <stddef.h>

#include "zanshin/error.h"

/* Open the root of a procfs (MAGIC PROC_SUPER_MAGIC) or sysfs (SYSFS_MAGIC)
 * mount at PATH below DIRFD (no symlink followed at any component): an
 * O_PATH directory fd whose file system is MAGIC and which is that file
 * system's root directory, not a directory inside it bound elsewhere.
 * Returns -1 and leaves *err unset when PATH does not exist. */
int zs_kernfs_open_root(int dirfd, const char *path, unsigned long magic, zs_error_t *err);

/* Open SUB below ROOTFD (from zs_kernfs_open_root) with FLAGS: SUB may not
 * leave ROOTFD, cross a mount point (a file bound over a procfs file is one)
 * or go through a magic link, and what is opened must be a regular file of
 * the same file system. WHAT names the file in errors ("/proc/sys/..."). */
int zs_kernfs_open_file(int rootfd, const char *sub, int flags, const char *what, zs_error_t *err);

/* zs_kernfs_open_file(O_WRONLY) and write DATA in one write(2). */
int zs_kernfs_write(int rootfd, const char *sub, const char *data, size_t len, const char *what, zs_error_t *err);

/* The same for a file of "/proc" as the calling process sees it
 * (e.g. "self/oom_score_adj"). */
int zs_proc_write(const char *sub, const char *data, size_t len, zs_error_t *err);

#endif
