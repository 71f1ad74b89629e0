/* zanshin — the container's rootfs: mounts, devices, pivot_root, masked and
 * read-only paths.  Everything below the rootfs is opened with safe_openat
 * and mounted through /proc/self/fd/N so that symlinks in the rootfs cannot
 * redirect a mount outside it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "zanshin/linux.h"
#include "zanshin/linux_internal.h"
#include "zanshin/lsm.h"
#include "zanshin/procfs.h"
#include "zanshin/utils.h"

#define FDPATH(buf, fd) (snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd), buf)

static int split_parent(const char *path, char **parent, char **base)
{
	cleanup_free char *p = xstrdup(path);
	char *slash;
	size_t l = strlen(p);

	while (l > 1 && p[l - 1] == '/')
		p[--l] = '\0';
	slash = strrchr(p, '/');
	if (slash == NULL) {
		*parent = xstrdup("/");
		*base = xstrdup(p);
	} else {
		*base = xstrdup(slash + 1);
		*slash = '\0';
		*parent = xstrdup(*p ? p : "/");
	}
	return 0;
}

/* Make sure DEST exists inside ROOTFD (a directory, or an empty file when
 * IS_FILE) and return an O_PATH fd of it. */
static int ensure_dest(int rootfd, const char *dest, bool is_file, zs_error_t *err)
{
	cleanup_free char *parent = NULL, *base = NULL;
	cleanup_close int pfd = -1;
	int fd;

	fd = safe_openat(rootfd, dest, O_PATH, 0, NULL);
	if (fd >= 0)
		return fd;
	if (!is_file) {
		fd = safe_mkdir_p_at(rootfd, dest, 0755, err);
		return fd < 0 ? zs_error_wrap(err, "create mount destination `%s`", dest) : fd;
	}
	split_parent(dest, &parent, &base);
	pfd = safe_mkdir_p_at(rootfd, parent, 0755, err);
	if (pfd < 0)
		return zs_error_wrap(err, "create mount destination `%s`", dest);
	fd = openat(pfd, base, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && errno != EEXIST)
		return zs_make_error(err, errno, "create mount destination `%s`", dest);
	if (fd >= 0)
		close(fd);
	return safe_openat(pfd, base, O_PATH, 0, err);
}

static int do_mount(const char *src, int destfd, const char *dest, const char *type, unsigned long flags,
		    const char *data, zs_error_t *err)
{
	char p[64];

	if (mount(src, FDPATH(p, destfd), type, flags, data) < 0)
		return zs_make_error(err, errno, "mount `%s` to `%s` (type %s)", src ? src : "", dest,
				     type ? type : "none");
	return 0;
}

#define REMOUNT_MASK (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME)

static int remount_bind(int rootfd, const char *dest, unsigned long flags, zs_error_t *err)
{
	cleanup_close int fd = safe_openat(rootfd, dest, O_PATH, 0, err);
	struct statvfs sv;
	char p[64];
	unsigned long keep = 0;

	if (fd < 0)
		return fd;
	if (fstatvfs(fd, &sv) == 0) {
		/* Locked flags of the source mount must be kept (userns). */
		if (sv.f_flag & ST_NOSUID)
			keep |= MS_NOSUID;
		if (sv.f_flag & ST_NODEV)
			keep |= MS_NODEV;
		if (sv.f_flag & ST_NOEXEC)
			keep |= MS_NOEXEC;
	}
	if (mount(NULL, FDPATH(p, fd), NULL, MS_REMOUNT | MS_BIND | (flags & REMOUNT_MASK) | keep, NULL) < 0)
		return zs_make_error(err, errno, "remount `%s`", dest);
	return 0;
}

static int set_propagation(int rootfd, const char *dest, unsigned long prop, zs_error_t *err)
{
	cleanup_close int fd = safe_openat(rootfd, dest, O_PATH, 0, err);
	char p[64];

	if (fd < 0)
		return fd;
	if (mount(NULL, FDPATH(p, fd), NULL, prop, NULL) < 0)
		return zs_make_error(err, errno, "set propagation of `%s`", dest);
	return 0;
}

/* Lexically clean absolute PATH: no "//", "." or ".." (never above "/"). */
static char *clean_path(const char *path)
{
	cleanup_free char *copy = xstrdup(path);
	char *out = xzalloc(strlen(path) + 2), *save = NULL, *c;
	size_t len = 0;

	for (c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			while (len > 0 && out[--len] != '/')
				;
			out[len] = '\0';
			continue;
		}
		out[len++] = '/';
		strcpy(out + len, c);
		len += strlen(c);
	}
	if (len == 0)
		strcpy(out, "/");
	return out;
}

static bool path_within(const char *path, const char *dir)
{
	size_t l = strlen(dir);

	return strncmp(path, dir, l) == 0 && (path[l] == '\0' || path[l] == '/');
}

/* Where FD (opened below ROOTFD) is, as an absolute path inside the root. */
static int path_in_root(int rootfd, int fd, char **out, zs_error_t *err)
{
	char root[PATH_MAX], dest[PATH_MAX], p[64];
	ssize_t rl = readlink(FDPATH(p, rootfd), root, sizeof(root) - 1);
	ssize_t dl = readlink(FDPATH(p, fd), dest, sizeof(dest) - 1);

	if (rl < 0 || dl < 0)
		return zs_make_error(err, errno, "find where a mount destination resolves to");
	root[rl] = dest[dl] = '\0';
	if (strcmp(root, "/") == 0)
		rl = 0;
	if (strncmp(dest, root, rl) != 0 || (dest[rl] != '/' && dest[rl] != '\0'))
		return zs_make_error(err, -EINVAL, "mount destination resolves to `%s`, outside of the rootfs `%s`",
				     dest, root);
	*out = xstrdup(dest[rl] ? dest + rl : "/");
	return 0;
}

/* The files below /proc that lxcfs-style bind mounts may cover (runc's
 * list, 1.1 and 1.3; 1.3 dropped /proc/net/dev: /proc/net is a symlink). */
static const char *const proc_binds_allowed[] = {"/proc/cpuinfo",
						 "/proc/diskstats",
						 "/proc/meminfo",
						 "/proc/stat",
						 "/proc/swaps",
						 "/proc/uptime",
						 "/proc/loadavg",
						 "/proc/slabinfo",
						 "/proc/sys/kernel/ns_last_pid",
						 "/proc/sys/crypto/fips_enabled"};

static bool bind_source_is_procfs(const struct zs_mount *m, int sfd)
{
	struct statfs sf;
	int r = sfd >= 0 ? fstatfs(sfd, &sf) : statfs(m->source ? m->source : "", &sf);

	return r == 0 && sf.f_type == PROC_SUPER_MAGIC;
}

/* runc's checkProcMount: may M (source fd SFD, or -1) be mounted at REL, a
 * clean absolute path inside the root? On /proc itself only a procfs (a
 * fresh one or a bind of one), below it only the files listed above. */
static int check_proc_dest(const char *rel, const struct zs_mount *m, int sfd, zs_error_t *err)
{
	size_t i;

	if (!path_within(rel, "/proc"))
		return 0;
	if (strcmp(rel, "/proc") == 0) {
		if (m->bind ? bind_source_is_procfs(m, sfd) : (m->type && strcmp(m->type, "proc") == 0))
			return 0;
		return zs_make_error(err, -EINVAL,
				     "mount destination `%s` (%s in the rootfs) cannot be mounted because it is not of "
				     "type proc",
				     m->destination, rel);
	}
	for (i = 0; i < sizeof(proc_binds_allowed) / sizeof(proc_binds_allowed[0]); i++)
		if (strcmp(rel, proc_binds_allowed[i]) == 0)
			return 0;
	return zs_make_error(err, -EINVAL,
			     "mount destination `%s` (%s in the rootfs) cannot be mounted because it is inside /proc",
			     m->destination, rel);
}

/* FD is M's destination as it resolved inside the root (symlinks
 * followed): refuse it inside /proc (by path, and on any procfs mount,
 * wherever it is) and over a file of sysfs. */
static int check_resolved_dest(int rootfd, int fd, const struct zs_mount *m, int sfd, zs_error_t *err)
{
	cleanup_free char *rel = NULL;
	struct statfs sf;
	struct stat st;

	if (path_in_root(rootfd, fd, &rel, err) < 0)
		return zs_error_wrap(err, "mount destination `%s`", m->destination);
	if (fstatfs(fd, &sf) < 0 || fstat(fd, &st) < 0)
		return zs_make_error(err, errno, "stat mount destination `%s`", m->destination);
	if (sf.f_type == PROC_SUPER_MAGIC && !path_within(rel, "/proc"))
		return zs_make_error(err, -EINVAL,
				     "mount destination `%s` (%s in the rootfs) cannot be mounted because it is inside "
				     "a procfs mount",
				     m->destination, rel);
	if (check_proc_dest(rel, m, sfd, err) < 0)
		return -1;
	if (sf.f_type == SYSFS_MAGIC && !S_ISDIR(st.st_mode))
		return zs_make_error(err, -EINVAL,
				     "mount destination `%s` (%s in the rootfs) cannot be mounted because it is a file "
				     "inside /sys",
				     m->destination, rel);
	return 0;
}

int zs_mount_dest_check(int rootfd, int fd, const struct zs_mount *m, zs_error_t *err)
{
	cleanup_free char *lexical = clean_path(m->destination);

	if (check_proc_dest(lexical, m, -1, err) < 0)
		return -1;
	return check_resolved_dest(rootfd, fd, m, -1, err);
}

/* ensure_dest, then check_resolved_dest (the lexical check comes first, in
 * the caller, so that nothing is created below /proc). */
static int open_checked_dest(int rootfd, const struct zs_mount *m, const char *dest, bool is_file, int sfd,
			     zs_error_t *err)
{
	int fd = ensure_dest(rootfd, dest, is_file, err);

	if (fd < 0)
		return fd;
	if (check_resolved_dest(rootfd, fd, m, sfd, err) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Controllers of the calling process: "cpu,cpuacct" -> host dir name. */
/* One v1 hierarchy (or the hybrid cgroup2) at DEST: inside a cgroup
 * namespace a fresh mount (its root is the namespace's root), else a bind of
 * the container's own cgroup directory on the host. */
static int mount_hierarchy(int rootfd, const struct zs_mount *m, const char *ctrl, const char *name, const char *path,
			   bool cgroupns, zs_error_t *err)
{
	cleanup_free char *host = xasprintf("/sys/fs/cgroup/%s%s", name, path);
	cleanup_free char *dest = xasprintf("%s/%s", m->destination, name);
	cleanup_free char *data = NULL;
	unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	int fd, ret;

	if (!cgroupns && access(host, F_OK) < 0)
		return 0;
	fd = ensure_dest(rootfd, dest, false, err);
	if (fd < 0)
		return fd;
	if (cgroupns) {
		bool v2 = *ctrl == '\0';
		data = str_has_prefix(ctrl, "name=") ? xasprintf("none,%s", ctrl) : xstrdup(ctrl);
		ret = do_mount("cgroup", fd, dest, v2 ? "cgroup2" : "cgroup", fl | (m->flags & MS_RDONLY),
			       v2 ? NULL : data, err);
		close(fd);
		return ret;
	}
	ret = do_mount(host, fd, dest, NULL, MS_BIND | MS_REC, NULL, err);
	close(fd);
	if (ret < 0)
		return ret;
	return remount_bind(rootfd, dest, m->flags | fl, err);
}

static int mount_cgroup_v1(int rootfd, const struct zs_mount *m, bool cgroupns, zs_error_t *err)
{
	cleanup_file FILE *f = fopen("/proc/self/cgroup", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int ret, fd;

	fd = open_checked_dest(rootfd, m, m->destination, false, -1, err);
	if (fd < 0)
		return fd;
	ret = do_mount("tmpfs", fd, m->destination, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755", err);
	close(fd);
	if (ret < 0)
		return ret;
	if (f == NULL)
		return zs_make_error(err, errno, "open /proc/self/cgroup");
	while (getline(&line, &cap, f) > 0) {
		char *ctrl = strchr(line, ':'), *path, *name, *c;
		cleanup_free char *host = NULL, *dest = NULL;
		if (ctrl == NULL)
			continue;
		ctrl++;
		path = strchr(ctrl, ':');
		if (path == NULL)
			continue;
		*path++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		name = *ctrl ? ctrl : "unified";
		if (str_has_prefix(name, "name="))
			name += 5;
		/* hierarchies this host does not mount under /sys/fs/cgroup */
		host = xasprintf("/sys/fs/cgroup/%s", name);
		if (access(host, F_OK) < 0)
			continue;
		ret = mount_hierarchy(rootfd, m, ctrl, name, path, cgroupns, err);
		if (ret < 0)
			return ret;
		(void) dest;
		/* cpu,cpuacct -> symlinks cpu and cpuacct */
		if (strchr(name, ',')) {
			cleanup_free char *copy = xstrdup(name);
			cleanup_close int dfd = safe_openat(rootfd, m->destination, O_DIRECTORY | O_RDONLY, 0, NULL);
			char *save = NULL;
			for (c = strtok_r(copy, ",", &save); c && dfd >= 0; c = strtok_r(NULL, ",", &save))
				symlinkat(name, dfd, c);
		}
	}
	if (m->flags & MS_RDONLY)
		return remount_bind(rootfd, m->destination, m->flags | MS_NOSUID | MS_NODEV | MS_NOEXEC, err);
	return 0;
}

static int mount_cgroup(int rootfd, const struct zs_mount *m, bool cgroupns, zs_error_t *err)
{
	cleanup_close int fd = -1;

	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) < 0)
		return mount_cgroup_v1(rootfd, m, cgroupns, err);
	fd = open_checked_dest(rootfd, m, m->destination, false, -1, err);
	if (fd < 0)
		return fd;
	if (cgroupns)
		return do_mount("cgroup2", fd, m->destination, "cgroup2", m->flags & ~(MS_BIND | MS_REC), NULL, err);
	{
		cleanup_file FILE *f = fopen("/proc/self/cgroup", "re");
		char line[4096], *path = NULL;
		cleanup_free char *host = NULL;
		while (f && fgets(line, sizeof(line), f))
			if (str_has_prefix(line, "0::")) {
				path = line + 3;
				path[strcspn(path, "\n")] = '\0';
			}
		host = xasprintf("/sys/fs/cgroup%s", path ? path : "");
		if (do_mount(host, fd, m->destination, NULL, MS_BIND | MS_REC, NULL, err) < 0)
			return -1;
		return remount_bind(rootfd, m->destination, m->flags, err);
	}
}

static int set_recursive_attrs(int rootfd, const struct zs_mount *m, zs_error_t *err)
{
	struct {
		unsigned long long attr_set, attr_clr, propagation, userns_fd;
	} attr = {m->attr_set, m->attr_clr, 0, 0};
	cleanup_close int fd = -1;

	if (!m->attr_set && !m->attr_clr)
		return 0;
	fd = safe_openat(rootfd, m->destination, O_PATH, 0, err);
	if (fd < 0)
		return fd;
	if (syscall(442 /* mount_setattr */, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return zs_make_error(err, errno, "set recursive mount attributes of `%s`", m->destination);
	return 0;
}

/* M's bind source: *SFD (a tree the parent cloned) or stat of the path. */
static int stat_bind_source(const struct zs_init_args *a, size_t idx, const struct zs_mount *m, int *sfd,
			    struct stat *st, zs_error_t *err)
{
	*sfd = a->mount_src_fds ? a->mount_src_fds[idx] : -1;
	if (*sfd >= 0) {
		/* a detached tree cloned by the parent, before any user namespace */
		if (fstat(*sfd, st) < 0)
			return zs_make_error(err, errno, "bind mount source `%s`", m->source);
		return 0;
	}
	if (m->source == NULL || stat(m->source, st) < 0)
		return zs_make_error(err, errno ? errno : EINVAL, "bind mount source `%s`", m->source ? m->source : "");
	return 0;
}

static int mount_entry(int rootfd, const struct zs_init_args *a, size_t idx, const struct zs_mount *m, zs_error_t *err)
{
	cleanup_free char *lexical = clean_path(m->destination);
	const char *src = m->source;
	bool is_file = false;
	int sfd = -1;
	struct stat st;
	unsigned long flags = m->flags;
	int fd, ret;

	if (m->type && (strcmp(m->type, "cgroup") == 0 || strcmp(m->type, "cgroup2") == 0))
		return mount_cgroup(
		    rootfd, m, (a->clone_flags & CLONE_NEWCGROUP) || zs_config_namespace(a->config, CLONE_NEWCGROUP),
		    err);
	if (m->type && (strcmp(m->type, "proc") == 0 || strcmp(m->type, "sysfs") == 0)) {
		cleanup_free char *parent = NULL, *base = NULL;
		cleanup_close int pfd = -1;
		split_parent(m->destination, &parent, &base);
		pfd = safe_openat(rootfd, parent, O_PATH, 0, NULL);
		if (pfd >= 0 && fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
			return zs_make_error(err, -EINVAL, "`%s` must be mounted on ordinary directory",
					     m->destination);
	}
	if (m->bind) {
		if (stat_bind_source(a, idx, m, &sfd, &st, err) < 0)
			return -1;
		is_file = !S_ISDIR(st.st_mode);
	}
	if (check_proc_dest(lexical, m, sfd, err) < 0)
		return -1;
	fd = open_checked_dest(rootfd, m, m->destination, is_file, sfd, err);
	if (fd < 0)
		return fd;
	if (m->bind) {
		if (sfd >= 0) {
			ret = 0;
			if (syscall(429 /* move_mount */, sfd, "", fd, "", 0x4 | 0x40 /* F_ and T_EMPTY_PATH */) < 0)
				ret = zs_make_error(err, errno, "move_mount `%s` to `%s`", m->source, m->destination);
		} else {
			ret = do_mount(src, fd, m->destination, NULL, MS_BIND | (flags & MS_REC), NULL, err);
		}
		close(fd);
		if (ret == 0 && (flags & REMOUNT_MASK))
			ret = remount_bind(rootfd, m->destination, flags, err);
	} else {
		/* a read-only tmpfs (/dev) is filled first, made ro in finish_ro_tmpfs() */
		if (m->type && strcmp(m->type, "tmpfs") == 0)
			flags &= ~MS_RDONLY;
		cleanup_free char *labelled = zs_selinux_mount_data(m->data, a->config->mount_label, m->type);
		ret = do_mount(m->source ? m->source : m->type, fd, m->destination, m->type,
			       flags & ~(MS_BIND | MS_REC | MS_REMOUNT), labelled ? labelled : m->data, err);
		if (ret < 0 && m->type && strcmp(m->type, "sysfs") == 0 && zs_error_errno(*err) == EPERM) {
			/* No netns of our own: bind the host's /sys, as runc. */
			zs_error_release(err);
			ret = do_mount("/sys", fd, m->destination, NULL, MS_BIND | MS_REC, NULL, err);
			if (ret == 0)
				ret = remount_bind(rootfd, m->destination, flags | MS_RDONLY, err);
		}
		close(fd);
	}
	if (ret == 0 && m->propagation)
		ret = set_propagation(rootfd, m->destination, m->propagation, err);
	if (ret == 0)
		ret = set_recursive_attrs(rootfd, m, err);
	return ret;
}

struct dev_spec {
	const char *path;
	char type;
	int major, minor;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

static const struct dev_spec default_devices[] = {
    {"/dev/null", 'c', 1, 3, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, 0, 0},
    {"/dev/full", 'c', 1, 7, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, 0, 0},
    {"/dev/urandom", 'c', 1, 9, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, 0, 0},
};

static int create_device(int rootfd, const struct dev_spec *d, bool bind, zs_error_t *err)
{
	cleanup_free char *parent = NULL, *base = NULL;
	cleanup_close int pfd = -1;
	mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;

	split_parent(d->path, &parent, &base);
	pfd = safe_mkdir_p_at(rootfd, parent, 0755, err);
	if (pfd < 0)
		return pfd;
	{
		/* re-open the parent as a real directory fd for *at() calls */
		cleanup_close int dfd = safe_openat(rootfd, parent, O_DIRECTORY | O_RDONLY, 0, err);
		if (dfd < 0)
			return dfd;
		unlinkat(dfd, base, 0);
		if (!bind) {
			if (mknodat(dfd, base, type | (d->mode & 07777), makedev(d->major, d->minor)) < 0)
				return zs_make_error(err, errno, "mknod `%s`", d->path);
			if (fchownat(dfd, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
				return zs_make_error(err, errno, "chown `%s`", d->path);
			fchmodat(dfd, base, d->mode & 07777, 0);
			return 0;
		}
		{
			int fd = openat(dfd, base, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
			cleanup_close int dest = -1;
			if (fd < 0)
				return zs_make_error(err, errno, "create `%s`", d->path);
			close(fd);
			dest = safe_openat(dfd, base, O_PATH, 0, err);
			if (dest < 0)
				return dest;
			return do_mount(d->path, dest, d->path, NULL, MS_BIND, NULL, err);
		}
	}
}

static int create_devices(int rootfd, const struct zs_init_args *a, zs_error_t *err)
{
	bool bind = (a->clone_flags & CLONE_NEWUSER) || zs_config_namespace(a->config, CLONE_NEWUSER);
	size_t i;
	int ret;

	for (i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
		ret = create_device(rootfd, &default_devices[i], bind, err);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < a->config->n_devices; i++) {
		const struct zs_device *d = &a->config->devices[i];
		struct dev_spec s = {d->path,
				     d->type,
				     d->major,
				     d->minor,
				     d->mode_set ? d->mode : 0666,
				     d->uid_set ? d->uid : 0,
				     d->gid_set ? d->gid : 0};
		if (d->mode_set)
			s.mode = d->mode & 07777;
		ret = create_device(rootfd, &s, bind, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void dev_symlinks(int rootfd)
{
	static const char *links[][2] = {{"/proc/self/fd", "fd"},
					 {"/proc/self/fd/0", "stdin"},
					 {"/proc/self/fd/1", "stdout"},
					 {"/proc/self/fd/2", "stderr"},
					 {"pts/ptmx", "ptmx"}};
	cleanup_close int dev = safe_openat(rootfd, "/dev", O_DIRECTORY | O_RDONLY, 0, NULL);
	size_t i;

	if (dev < 0)
		return;
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (strcmp(links[i][1], "ptmx") == 0)
			unlinkat(dev, "ptmx", 0);
		symlinkat(links[i][0], dev, links[i][1]);
	}
	if (access("/proc/kcore", F_OK) == 0)
		symlinkat("/proc/kcore", dev, "core");
}

static bool dev_is_bind_mounted(const struct zs_config *c)
{
	size_t i;

	for (i = 0; i < c->n_mounts; i++)
		if (c->mounts[i].bind && strcmp(c->mounts[i].destination, "/dev") == 0)
			return true;
	return false;
}

static int finish_ro_tmpfs(int rootfd, const struct zs_config *c, zs_error_t *err)
{
	size_t i;

	for (i = 0; i < c->n_mounts; i++) {
		const struct zs_mount *m = &c->mounts[i];
		cleanup_close int fd = -1;
		char p[64];
		if (!m->type || strcmp(m->type, "tmpfs") != 0 || !(m->flags & MS_RDONLY))
			continue;
		fd = safe_openat(rootfd, m->destination, O_PATH, 0, err);
		if (fd < 0)
			return fd;
		if (mount(NULL, FDPATH(p, fd), NULL, MS_REMOUNT | (m->flags & ~(MS_BIND | MS_REC)), m->data) < 0)
			return zs_make_error(err, errno, "remount `%s` read-only", m->destination);
	}
	return 0;
}

int zs_rootfs_prepare(const struct zs_init_args *a, zs_error_t *err)
{
	const struct zs_config *c = a->config;
	unsigned long prop = c->rootfs_propagation ? c->rootfs_propagation : (MS_SLAVE | MS_REC);
	cleanup_close int rootfd = -1;
	size_t i;
	int ret;

	if (mount(NULL, "/", NULL, (prop & MS_SHARED) ? (MS_SLAVE | MS_REC) : prop, NULL) < 0)
		return zs_make_error(err, errno, "set propagation of /");
	if (mount(a->rootfs, a->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return zs_make_error(err, errno, "bind mount rootfs `%s`", a->rootfs);
	rootfd = open(a->rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (rootfd < 0)
		return zs_make_error(err, errno, "open rootfs `%s`", a->rootfs);
	for (i = 0; i < c->n_mounts; i++) {
		ret = mount_entry(rootfd, a, i, &c->mounts[i], err);
		if (ret < 0)
			return ret;
	}
	if (!dev_is_bind_mounted(c)) {
		ret = create_devices(rootfd, a, err);
		if (ret < 0)
			return ret;
		dev_symlinks(rootfd);
	}
	return finish_ro_tmpfs(rootfd, c, err);
}

/* --no-pivot leaves the host's mounts in the namespace: detach every mount
 * outside the rootfs, so that e.g. a fully visible host /proc cannot let
 * the container mount a fresh procfs (runc's msMoveRoot does the same). */
static void detach_outside_mounts(const char *rootfs)
{
	cleanup_file FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	char **points = NULL;
	size_t cap = 0, n = 0, rl = strlen(rootfs);

	while (f && getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		if (strcmp(mp, "/") == 0 || (strncmp(mp, rootfs, rl) == 0 && (mp[rl] == '/' || mp[rl] == '\0')))
			continue;
		if (strncmp(rootfs, mp, strlen(mp)) == 0 && rootfs[strlen(mp)] == '/')
			continue; /* a parent of the rootfs */
		points = xrealloc(points, sizeof(char *) * (n + 1));
		points[n++] = xstrdup(mp);
	}
	while (n-- > 0) {
		umount2(points[n], MNT_DETACH);
		free(points[n]);
	}
	free(points);
}

int zs_rootfs_pivot(const struct zs_init_args *a, zs_error_t *err)
{
	cleanup_close int oldroot = -1, newroot = -1;

	if (a->no_pivot) {
		detach_outside_mounts(a->rootfs);
		if (chdir(a->rootfs) < 0)
			return zs_make_error(err, errno, "chdir `%s`", a->rootfs);
		if (mount(a->rootfs, "/", NULL, MS_MOVE, NULL) < 0)
			return zs_make_error(err, errno, "move rootfs to /");
		if (chroot(".") < 0)
			return zs_make_error(err, errno, "chroot");
		if (chdir("/") < 0)
			return zs_make_error(err, errno, "chdir /");
		return 0;
	}
	oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	newroot = open(a->rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0 || newroot < 0)
		return zs_make_error(err, errno, "open / or rootfs");
	if (fchdir(newroot) < 0)
		return zs_make_error(err, errno, "fchdir rootfs");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return zs_make_error(err, errno, "pivot_root");
	if (fchdir(oldroot) < 0)
		return zs_make_error(err, errno, "fchdir old root");
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return zs_make_error(err, errno, "make old root rslave");
	if (umount2(".", MNT_DETACH) < 0)
		return zs_make_error(err, errno, "unmount old root");
	if (chdir("/") < 0)
		return zs_make_error(err, errno, "chdir /");
	return 0;
}

/* /proc in the container must be the root of a real procfs before we
 * write sysctls into it or mask/protect paths below it (runc's 2025 CVEs:
 * a container could have put something else there). Returns an O_PATH fd
 * of it, or -1 with no error if the container has no /proc at all. */
static int open_verified_proc(int rootfd, zs_error_t *err)
{
	int fd = zs_kernfs_open_root(rootfd, "proc", PROC_SUPER_MAGIC, err);

	if (fd < 0 && *err)
		return zs_error_wrap(err, "/proc in the container");
	return fd;
}

/* Each sysctl goes into the procfs file itself: a file bound over it (a
 * volume, another procfs's file) makes the write refuse. */
static int write_sysctl(const struct zs_config *c, int procfd, zs_error_t *err)
{
	size_t i;

	for (i = 0; i < c->n_sysctl; i++) {
		cleanup_free char *key = xstrdup(c->sysctl[i].key);
		cleanup_free char *path = NULL, *what = NULL;
		char *p;
		for (p = key; *p; p++)
			if (*p == '.')
				*p = '/';
		path = xasprintf("sys/%s", key);
		what = xasprintf("/proc/%s", path);
		if (procfd < 0)
			return zs_make_error(err, -EINVAL, "set sysctl %s: the container has no /proc",
					     c->sysctl[i].key);
		if (zs_kernfs_write(procfd, path, c->sysctl[i].value, strlen(c->sysctl[i].value), what, err) < 0)
			return zs_error_wrap(err, "set sysctl %s=%s", c->sysctl[i].key, c->sysctl[i].value);
	}
	return 0;
}

static int readonly_path(int rootfd, const char *path, zs_error_t *err)
{
	cleanup_close int fd = safe_openat(rootfd, path, O_PATH, 0, NULL);
	char p[64];

	if (fd < 0)
		return 0; /* missing: nothing to protect */
	if (mount(FDPATH(p, fd), FDPATH(p, fd), NULL, MS_BIND | MS_REC, NULL) < 0)
		return zs_make_error(err, errno, "bind `%s` read-only", path);
	return remount_bind(rootfd, path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, err);
}

static int mask_path(int rootfd, int devnull, const char *path, zs_error_t *err)
{
	cleanup_close int fd = safe_openat(rootfd, path, O_PATH, 0, NULL);
	struct stat st;
	char p[64], q[64];

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0)
		return zs_make_error(err, errno, "stat `%s`", path);
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", FDPATH(p, fd), "tmpfs", MS_RDONLY, NULL) < 0)
			return zs_make_error(err, errno, "mask `%s`", path);
		return 0;
	}
	if (mount(FDPATH(q, devnull), FDPATH(p, fd), NULL, MS_BIND, NULL) < 0)
		return zs_make_error(err, errno, "mask `%s`", path);
	return 0;
}

/* /dev/null must be the real character device 1:3 before it is bound over
 * anything (a container could have replaced it). */
static int open_verified_devnull(int rootfd, zs_error_t *err)
{
	int fd = safe_openat(rootfd, "/dev/null", O_PATH, 0, err);
	struct stat st;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
		close(fd);
		return zs_make_error(err, -EINVAL, "/dev/null in the container is not the null device");
	}
	return fd;
}

int zs_rootfs_finalize(const struct zs_init_args *a, zs_error_t *err)
{
	const struct zs_config *c = a->config;
	cleanup_close int rootfd = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	cleanup_close int devnull = -1, procfd = -1;
	char **p;
	int ret;

	procfd = open_verified_proc(rootfd, err);
	if (procfd < 0 && *err)
		return -1;
	ret = write_sysctl(c, procfd, err);
	if (ret < 0)
		return ret;
	for (p = c->readonly_paths; p && *p; p++) {
		ret = readonly_path(rootfd, *p, err);
		if (ret < 0)
			return ret;
	}
	if (c->masked_paths && c->masked_paths[0]) {
		devnull = open_verified_devnull(rootfd, err);
		if (devnull < 0)
			return devnull;
	}
	for (p = c->masked_paths; p && *p; p++) {
		ret = mask_path(rootfd, devnull, *p, err);
		if (ret < 0)
			return ret;
	}
	if (c->root_readonly) {
		if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_REC, NULL) < 0)
			return zs_make_error(err, errno, "remount / read-only");
	}
	if (c->rootfs_propagation & MS_SHARED)
		mount(NULL, "/", NULL, c->rootfs_propagation, NULL);
	return 0;
}
