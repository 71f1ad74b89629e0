/* zanshin — small helpers shared by every binary: cleanup attributes,
 * allocation that aborts on OOM, file I/O, safe path resolution. */
#ifndef ZANSHIN_UTILS_H
#define ZANSHIN_UTILS_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "zanshin/error.h"

void cleanup_freep(void *p);
void cleanup_closep(int *fd);
void cleanup_filep(FILE **f);
void cleanup_dirp(DIR **d);
void cleanup_pidp(pid_t *pid); /* SIGKILL + reap if > 0 */

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_file __attribute__((cleanup(cleanup_filep)))
#define cleanup_dir __attribute__((cleanup(cleanup_dirp)))
#define cleanup_pid __attribute__((cleanup(cleanup_pidp)))

static inline void *zs_steal_pointer(void *pp)
{
	void **p = (void **) pp;
	void *r = *p;
	*p = NULL;
	return r;
}
#define steal_pointer(pp) ((__typeof__(*(pp))) zs_steal_pointer(pp))

static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}

void *xmalloc(size_t size);
void *xzalloc(size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Read a whole file (NUL-terminated; *len excludes the NUL). */
int read_file(const char *path, char **out, size_t *len, zs_error_t *err);
int read_all_fd(int fd, const char *what, char **out, size_t *len, zs_error_t *err);
/* Write data to path through a temp file in the same dir: write, fsync,
 * rename, fsync the directory. The temp file has an unpredictable name
 * (".BASE.<random>") and is created O_EXCL|O_NOFOLLOW relative to one fd of
 * the directory: a symlink planted at any name, or at PATH, is never written
 * through (rename replaces a symlink at PATH, not its target). */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, zs_error_t *err);
/* Same, atomic by rename but without fsync: for runtime state that lives on
 * tmpfs (/run) and must not survive a reboot anyway. */
int write_file_replace(const char *path, const void *data, size_t len, mode_t mode, zs_error_t *err);
/* Write to an existing file (truncated; never created, no symlink followed
 * at the last component): kernel interface files such as cgroup.procs. */
int write_file(const char *path, const void *data, size_t len, zs_error_t *err);
int write_all(int fd, const void *data, size_t len);

/* Open PATH resolved inside the directory ROOTFD (openat2 with
 * RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS); O_CLOEXEC is always added.
 * Falls back to EINVAL-checked openat only when openat2 is unavailable. */
int safe_openat(int rootfd, const char *path, int flags, mode_t mode, zs_error_t *err);
/* mkdir -p PATH inside ROOTFD, returns an O_PATH fd of the last component. */
int safe_mkdir_p_at(int rootfd, const char *path, mode_t mode, zs_error_t *err);
/* mkdir -p on the host. */
int mkdir_p(const char *path, mode_t mode, zs_error_t *err);

/* Remove a directory tree (does not cross mounts: fails on EBUSY). */
/* Remove PATH recursively, never across a mount point below it (EBUSY). */
int rm_rf(const char *path);

/* Re-exec the calling binary from a sealed memfd copy unless it already
 * runs from one (CVE-2019-5736); returns only on error. */
int zs_ensure_cloned_binary(char **argv, zs_error_t *err);

bool str_has_prefix(const char *s, const char *prefix);
/* Close every fd >= from except those < keep_below (set CLOEXEC). */
int mark_fds_cloexec_from(int from, zs_error_t *err);

#endif
