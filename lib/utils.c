/* zanshin — helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "zanshin/utils.h"

void cleanup_freep(void *p)
{
	void **pp = (void **) p;
	free(*pp);
}

void cleanup_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

void cleanup_filep(FILE **f)
{
	if (*f)
		fclose(*f);
}

void cleanup_dirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

void cleanup_pidp(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		abort();
	return p;
}

void *xzalloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);
	if (p == NULL)
		abort();
	return p;
}

void *xrealloc(void *p, size_t size)
{
	void *r = realloc(p, size ? size : 1);
	if (r == NULL)
		abort();
	return r;
}

char *xstrdup(const char *s)
{
	char *r;

	if (s == NULL)
		return NULL;
	r = strdup(s);
	if (r == NULL)
		abort();
	return r;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *r;

	va_start(ap, fmt);
	if (vasprintf(&r, fmt, ap) < 0)
		abort();
	va_end(ap);
	return r;
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int read_all_fd(int fd, const char *what, char **out, size_t *len, zs_error_t *err)
{
	size_t cap = 4096, used = 0;
	cleanup_free char *buf = xmalloc(cap);

	for (;;) {
		ssize_t n;
		if (used + 1 >= cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return zs_make_error(err, errno, "read `%s`", what);
		}
		if (n == 0)
			break;
		used += n;
	}
	buf[used] = '\0';
	if (len)
		*len = used;
	*out = steal_pointer(&buf);
	return 0;
}

int read_file(const char *path, char **out, size_t *len, zs_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	return read_all_fd(fd, path, out, len, err);
}

int write_file(const char *path, const void *data, size_t len, zs_error_t *err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	if (write_all(fd, data, len) < 0)
		return zs_make_error(err, errno, "write `%s`", path);
	return 0;
}

/* PATH's directory (opened once: every later step is relative to this fd,
 * so a directory renamed or swapped for a symlink meanwhile changes
 * nothing) and its last component. */
static int open_parent_dir(const char *path, char **base, zs_error_t *err)
{
	cleanup_free char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int dfd;

	if (slash != NULL && slash[1] == '\0')
		return zs_make_error(err, -EINVAL, "`%s`: not a file name", path);
	*base = xstrdup(slash ? slash + 1 : dir);
	if (slash == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else if (slash == dir) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		free(steal_pointer(base));
		return zs_make_error(err, errno, "open directory `%s`", dir);
	}
	return dfd;
}

/* Create ".BASE.<16 random hex digits>" in DFD: O_EXCL|O_NOFOLLOW, so a name
 * someone planted (a symlink, a file) is never opened, and the name cannot
 * be guessed in advance. */
static int create_temp_at(int dfd, const char *base, mode_t mode, char **tmp, zs_error_t *err)
{
	int attempt;

	for (attempt = 0; attempt < 16; attempt++) {
		unsigned long long r;
		int fd;
		if (getrandom(&r, sizeof(r), 0) != (ssize_t) sizeof(r))
			return zs_make_error(err, errno, "getrandom");
		*tmp = xasprintf(".%s.%016llx", base, r);
		fd = openat(dfd, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0)
			return fd;
		free(steal_pointer(tmp));
		if (errno != EEXIST)
			return zs_make_error(err, errno, "create a temporary file for `%s`", base);
	}
	return zs_make_error(err, EEXIST, "create a temporary file for `%s`", base);
}

/* Write DATA to PATH by rename: the temp file is created by create_temp_at,
 * written (and, with DURABLE, fsynced with its directory), then renamed over
 * PATH. rename() replaces a symlink at PATH itself, never its target. */
static int replace_file(const char *path, const void *data, size_t len, mode_t mode, bool durable, zs_error_t *err)
{
	cleanup_free char *base = NULL, *tmp = NULL;
	cleanup_close int dfd = open_parent_dir(path, &base, err), fd = -1;

	if (dfd < 0)
		return dfd;
	fd = create_temp_at(dfd, base, mode, &tmp, err);
	if (fd < 0)
		return zs_error_wrap(err, "write `%s`", path);
	if (write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
		int e = errno;
		unlinkat(dfd, tmp, 0);
		return zs_make_error(err, e, "write `%s`", path);
	}
	if (renameat(dfd, tmp, dfd, base) < 0) {
		int e = errno;
		unlinkat(dfd, tmp, 0);
		return zs_make_error(err, e, "rename a temporary file to `%s`", path);
	}
	if (durable && fsync(dfd) < 0)
		return zs_make_error(err, errno, "fsync the directory of `%s`", path);
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, zs_error_t *err)
{
	return replace_file(path, data, len, mode, true, err);
}

int write_file_replace(const char *path, const void *data, size_t len, mode_t mode, zs_error_t *err)
{
	return replace_file(path, data, len, mode, false, err);
}

int safe_openat(int rootfd, const char *path, int flags, mode_t mode, zs_error_t *err)
{
	struct open_how how = {0};
	int fd;

	how.flags = flags | O_CLOEXEC;
	if (flags & (O_CREAT | O_TMPFILE))
		how.mode = mode;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	while (*path == '/')
		path++;
	if (*path == '\0')
		path = ".";
	fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = openat(rootfd, path, flags | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return zs_make_error(err, errno, "open `%s` inside the rootfs", path);
	return fd;
}

int safe_mkdir_p_at(int rootfd, const char *path, mode_t mode, zs_error_t *err)
{
	cleanup_free char *copy = xstrdup(path);
	char *p = copy, *next;
	int cur = dup(rootfd);

	if (cur < 0)
		return zs_make_error(err, errno, "dup");
	while (*p == '/')
		p++;
	while (*p) {
		int fd;
		next = strchr(p, '/');
		if (next) {
			*next++ = '\0';
			while (*next == '/')
				next++;
		}
		if (strcmp(p, ".") == 0 || *p == '\0') {
			p = next ? next : "";
			continue;
		}
		if (mkdirat(cur, p, mode) < 0 && errno != EEXIST) {
			int e = errno;
			close(cur);
			return zs_make_error(err, e, "mkdir `%s`", path);
		}
		fd = safe_openat(cur, p, O_PATH | O_DIRECTORY, 0, err);
		close(cur);
		if (fd < 0)
			return fd;
		cur = fd;
		p = next ? next : "";
	}
	return cur;
}

int mkdir_p(const char *path, mode_t mode, zs_error_t *err)
{
	cleanup_free char *copy = xstrdup(path);
	char *p;

	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return zs_make_error(err, errno, "mkdir `%s`", copy);
		*p = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		return zs_make_error(err, errno, "mkdir `%s`", copy);
	return 0;
}

/* Open directory NAME in DFD for removal; below the top, never across a
 * mount point (a bind mount of the same filesystem included: a rootfs
 * bound under a state directory must not be emptied with it). -1 with
 * errno EXDEV for a mount point. */
static int rm_open_dir(int dfd, const char *name, bool top)
{
	struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
			       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH};
	long fd;

	if (top)
		return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	how.resolve |= RESOLVE_NO_XDEV;
	fd = syscall(SYS_openat2, dfd, name, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return (int) fd;
}

static int rm_rf_at(int dfd, const char *name, bool top)
{
	int fd = rm_open_dir(dfd, name, top), busy = 0;
	DIR *d;
	struct dirent *de;

	if (fd < 0) {
		if (errno == EXDEV) {
			errno = EBUSY; /* a mount point: left alone */
			return -1;
		}
		return unlinkat(dfd, name, 0);
	}
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_DIR) {
			if (rm_rf_at(dirfd(d), de->d_name, false) < 0 && errno == EBUSY)
				busy = 1;
		} else if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno == EBUSY)
			busy = 1;
	}
	closedir(d);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0) {
		if (busy)
			errno = EBUSY;
		return -1;
	}
	return 0;
}

/* Remove PATH and what is under it, on PATH's own mounts only: a mount
 * point below PATH (and what it shows) is left alone, and the removal
 * fails with EBUSY. */
int rm_rf(const char *path)
{
	return rm_rf_at(AT_FDCWD, path, true);
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int mark_fds_cloexec_from(int from, zs_error_t *err)
{
	cleanup_dir DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (syscall(SYS_close_range, from, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) == 0)
		return 0;
	if (d == NULL)
		return zs_make_error(err, errno, "open /proc/self/fd");
	while ((de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd < from || fd == dirfd(d))
			continue;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	return 0;
}
