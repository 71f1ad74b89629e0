/* zanshin — the work directory of a lazy restore (docs/lazy-restore.md,
 * "Templates"): where `criu lazy-pages` listens (lazy-pages.socket) and
 * where CRIU and the server write their logs. Many containers restored
 * lazily from one image directory (a template) must never share it: the
 * server of one would take the restore of another. */
#ifndef ZANSHIN_LAZY_WORKDIR_H
#define ZANSHIN_LAZY_WORKDIR_H

#include "zanshin/error.h"

/* The container's own work directory, ROOT/.lazy-work/ID (made 0700),
 * used when the caller gave no --work-path: nothing is written into the
 * image directory, which other restores may be reading. Outside the
 * container's state directory, so that the logs of a failed restore stay
 * where its error message says; removed when the container is deleted
 * (zs_lazy_work_remove). */
char *zs_lazy_work_dir(const char *root, const char *id, zs_error_t *err);
void zs_lazy_work_remove(const char *root, const char *id);

/* Hold WORK_DIR exclusively (flock on the directory) until the returned
 * fd is closed: two lazy restores given the same --work-path take turns
 * instead of replacing each other's socket. */
int zs_lazy_work_lock(const char *work_dir, zs_error_t *err);

#endif
