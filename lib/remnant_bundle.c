/* zanshin — files into the remnant store: a container's bundle (config.json
 * and a copy of its rootfs) and image directories written
 * elsewhere (zs_remnant_import).  Trees are walked with *at() calls on
 * directory fds opened O_NOFOLLOW: a symlink is copied as a symlink, never
 * followed out of the tree.  File data is copied into inodes of the
 * store's own (lib/remnant_copy.c), never hard-linked. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "remnant_internal.h"
#include "zanshin/image_manifest.h"
#include "zanshin/config.h"
#include "zanshin/criu_image.h"
#include "zanshin/json.h"
#include "zanshin/utils.h"

/* A directory of the tree, never through a symlink. */
static int open_dir_at(int dfd, const char *name)
{
	return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* ---- rootfs size and copy ---- */

struct walk {
	dev_t dev;
	uint64_t bytes, limit;
	bool over;
};

static int tree_size(int dfd, const char *path, struct walk *w, zs_error_t *err)
{
	int fd = dup(dfd);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	struct stat st;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return zs_make_error(err, errno, "open `%s`", path);
	}
	while (!w->over && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != w->dev)
			continue;
		if (S_ISREG(st.st_mode))
			w->bytes += st.st_size;
		if (w->bytes > w->limit)
			w->over = true;
		if (S_ISDIR(st.st_mode)) {
			cleanup_close int sub = open_dir_at(dfd, de->d_name);
			cleanup_free char *p = xasprintf("%s/%s", path, de->d_name);
			if (sub < 0)
				return zs_make_error(err, errno, "open `%s`", p);
			if (tree_size(sub, p, w, err) < 0)
				return -1;
		}
	}
	return 0;
}

static void copy_xattrs(int sfd, int dfd)
{
	char list[8192], val[8192];
	ssize_t n, v;
	char *k;

	n = flistxattr(sfd, list, sizeof(list));
	for (k = list; n > 0 && k < list + n; k += strlen(k) + 1) {
		v = fgetxattr(sfd, k, val, sizeof(val));
		if (v >= 0)
			fsetxattr(dfd, k, val, v, 0);
	}
}

static int copy_tree(int sfd, int dfd, const char *path, dev_t dev, zs_error_t *err);

static int copy_dir(int sfd, int dfd, const char *name, const char *path, const struct stat *st, dev_t dev,
		    zs_error_t *err)
{
	cleanup_close int s = -1, d = -1;
	struct timespec ts[2] = {st->st_atim, st->st_mtim};

	if (mkdirat(dfd, name, 0700) < 0)
		return zs_make_error(err, errno, "mkdir `%s` (copy)", path);
	s = open_dir_at(sfd, name);
	d = open_dir_at(dfd, name);
	if (s < 0 || d < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	/* a mount inside the rootfs is not copied: an empty directory stands for it */
	if (st->st_dev == dev && copy_tree(s, d, path, dev, err) < 0)
		return -1;
	copy_xattrs(s, d);
	if (fchown(d, st->st_uid, st->st_gid) < 0 || fchmod(d, st->st_mode & 07777) < 0)
		return zs_make_error(err, errno, "chown/chmod `%s` (copy)", path);
	futimens(d, ts);
	return 0;
}

/* A file of the rootfs: its own inode in the store (a container restored
 * from the kept Bundle must not write through into the live rootfs), same
 * owner, mode, times and xattrs.  Opened once: what is copied is what was
 * checked. */
static int copy_regular(int sfd, int dfd, const char *name, const char *path, const struct stat *lst, zs_error_t *err)
{
	cleanup_close int in = -1, out = -1;
	struct stat st;
	struct timespec ts[2];

	in = zs_rem_open_regular(sfd, name, path, &st, err);
	if (in < 0)
		return -1;
	if (st.st_ino != lst->st_ino || st.st_dev != lst->st_dev)
		return zs_make_error(err, -EAGAIN, "%s: changed while the rootfs was kept", path);
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return zs_make_error(err, errno, "create `%s` (copy)", path);
	if (zs_rem_copy_fd(in, out, path, err) < 0)
		return -1;
	copy_xattrs(in, out);
	if (fchown(out, st.st_uid, st.st_gid) < 0 || fchmod(out, st.st_mode & 07777) < 0)
		return zs_make_error(err, errno, "chown/chmod `%s` (copy)", path);
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	futimens(out, ts);
	return 0;
}

static int copy_entry(int sfd, int dfd, const char *name, const char *path, dev_t dev, zs_error_t *err)
{
	char target[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return zs_make_error(err, errno, "stat `%s`", path);
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		return copy_dir(sfd, dfd, name, path, &st, dev, err);
	case S_IFREG:
		return copy_regular(sfd, dfd, name, path, &st, err);
	case S_IFLNK:
		n = readlinkat(sfd, name, target, sizeof(target) - 1);
		if (n < 0)
			return zs_make_error(err, errno, "readlink `%s`", path);
		target[n] = '\0';
		if (symlinkat(target, dfd, name) < 0)
			return zs_make_error(err, errno, "symlink `%s` (copy)", path);
		fchownat(dfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
		return 0;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
		if (mknodat(dfd, name, st.st_mode, st.st_rdev) < 0)
			return zs_make_error(err, errno, "mknod `%s` (copy)", path);
		fchownat(dfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
		fchmodat(dfd, name, st.st_mode & 07777, 0);
		return 0;
	default: /* sockets belong to the processes that made them */
		return 0;
	}
}

static int copy_tree(int sfd, int dfd, const char *path, dev_t dev, zs_error_t *err)
{
	int fd = dup(sfd);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return zs_make_error(err, errno, "open `%s`", path);
	}
	while ((de = readdir(d))) {
		cleanup_free char *p = NULL;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", path, de->d_name);
		if (copy_entry(sfd, dfd, de->d_name, p, dev, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- bundle ---- */

struct rootfs_plan {
	char *source;
	bool keep;
	char *reason;
	uint64_t bytes;
};

static bool is_mount_point(const char *path, const struct stat *st)
{
	struct statx sx;
	cleanup_free char *parent = xasprintf("%s/..", path);
	struct stat pst;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
	    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	return stat(parent, &pst) == 0 && pst.st_dev != st->st_dev;
}

static int plan_rootfs(struct zs_remnant *r, const char *id, const char *rootfs, struct rootfs_plan *p, zs_error_t *err)
{
	cleanup_free char *cdir = zs_rem_container_dir(r, id);
	cleanup_close int fd = -1;
	struct stat st, cst;
	struct walk w = {0};

	p->source = realpath(rootfs, NULL);
	if (p->source == NULL)
		return zs_make_error(err, errno, "rootfs `%s`", rootfs);
	fd = open_dir_at(AT_FDCWD, p->source);
	if (fd < 0 || fstat(fd, &st) < 0 || stat(cdir, &cst) < 0)
		return zs_make_error(err, errno, "rootfs `%s`", p->source);
	if (st.st_dev != cst.st_dev) {
		p->reason = xstrdup("on another filesystem than the remnant store");
		return 0;
	}
	if (is_mount_point(p->source, &st)) {
		p->reason = xstrdup("a mount point");
		return 0;
	}
	w.dev = st.st_dev;
	w.limit = r->settings.remnant.keep_rootfs_max_bytes;
	if (tree_size(fd, p->source, &w, err) < 0)
		return -1;
	p->bytes = w.bytes;
	if (w.over) {
		p->reason = xasprintf("larger than keep_rootfs_max_bytes (%llu)",
				      (unsigned long long) r->settings.remnant.keep_rootfs_max_bytes);
		return 0;
	}
	p->keep = true;
	return 0;
}

/* config.json with root.path replaced. */
static char *rewrite_config(const zs_json *cfg, const char *root_path)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(true);
	size_t i, j;

	zs_jgen_map_open(g);
	for (i = 0; i < zs_json_object_len(cfg); i++) {
		const char *k = zs_json_object_key(cfg, i);
		const zs_json *v = zs_json_object_value(cfg, i);
		zs_jgen_key(g, k);
		if (strcmp(k, "root") != 0 || !zs_json_is_object(v)) {
			zs_jgen_value(g, v);
			continue;
		}
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "path", root_path);
		for (j = 0; j < zs_json_object_len(v); j++)
			if (strcmp(zs_json_object_key(v, j), "path") != 0) {
				zs_jgen_key(g, zs_json_object_key(v, j));
				zs_jgen_value(g, zs_json_object_value(v, j));
			}
		zs_jgen_map_close(g);
	}
	zs_jgen_map_close(g);
	return zs_jgen_result(g, NULL);
}

static int write_bundle_json(const char *cdir, const char *id, const char *source, const struct rootfs_plan *p,
			     const char *stored, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(true);
	cleanup_free char *text = NULL, *path = xasprintf("%s/bundle.json", cdir), *now = zs_rem_now();
	size_t len;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "format", ZS_BUNDLE_FORMAT);
	zs_jgen_kv_int(g, "version", ZS_REMNANT_VERSION);
	zs_jgen_kv_string(g, "container", id);
	zs_jgen_kv_string(g, "source", source);
	zs_jgen_kv_string(g, "saved", now);
	zs_jgen_key(g, "rootfs");
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "source", p->source);
	zs_jgen_key(g, "kept");
	zs_jgen_bool(g, p->keep);
	zs_jgen_kv_string(g, "path", stored);
	zs_jgen_key(g, "bytes");
	zs_jgen_uint(g, p->bytes);
	if (p->reason)
		zs_jgen_kv_string(g, "reason", p->reason);
	zs_jgen_map_close(g);
	zs_jgen_map_close(g);
	text = zs_jgen_result(g, &len);
	return write_file_atomic(path, text, len, 0600, err);
}

/* Fill TMP (a new directory) with config.json and, when kept, rootfs/. */
static int build_bundle(const char *tmp, const char *final, const zs_json *cfg, struct rootfs_plan *p, char **stored,
			zs_error_t *err)
{
	cleanup_free char *cfgpath = xasprintf("%s/config.json", tmp), *text = NULL;
	cleanup_close int tfd = open_dir_at(AT_FDCWD, tmp), sfd = -1, dfd = -1;
	struct stat st;

	*stored = p->keep ? xasprintf("%s/rootfs", final) : xstrdup(p->source);
	text = rewrite_config(cfg, *stored);
	if (tfd < 0)
		return zs_make_error(err, errno, "open `%s`", tmp);
	if (write_file_atomic(cfgpath, text, strlen(text), 0600, err) < 0)
		return -1;
	if (!p->keep)
		return 0;
	sfd = open_dir_at(AT_FDCWD, p->source);
	if (sfd < 0 || fstat(sfd, &st) < 0)
		return zs_make_error(err, errno, "open `%s`", p->source);
	if (mkdirat(tfd, "rootfs", 0700) < 0 || (dfd = open_dir_at(tfd, "rootfs")) < 0)
		return zs_make_error(err, errno, "mkdir `%s/rootfs`", tmp);
	if (copy_tree(sfd, dfd, p->source, st.st_dev, err) < 0)
		return zs_error_wrap(err, "keep rootfs");
	copy_xattrs(sfd, dfd);
	if (fchown(dfd, st.st_uid, st.st_gid) < 0 || fchmod(dfd, st.st_mode & 07777) < 0)
		return zs_make_error(err, errno, "chown/chmod `%s/rootfs`", tmp);
	return zs_rem_fsync_path(tmp, err);
}

static int read_config(const char *bundle_dir, const char *rootfs, zs_json **cfg, char **rootfs_out, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/config.json", bundle_dir);
	const char *rp;

	if (zs_json_parse_file(path, path, cfg, err) < 0)
		return -1;
	if (!zs_json_is_object(*cfg))
		return zs_make_error(err, -EINVAL, "%s: must be a JSON object", path);
	if (rootfs) {
		*rootfs_out = xstrdup(rootfs);
		return 0;
	}
	rp = zs_json_string_value(zs_json_get(zs_json_get(*cfg, "root"), "path"));
	if (rp == NULL || *rp == '\0')
		return zs_make_error(err, -EINVAL, "%s: root.path: required to keep the rootfs", path);
	*rootfs_out = rp[0] == '/' ? xstrdup(rp) : xasprintf("%s/%s", bundle_dir, rp);
	return 0;
}

static int swap_bundle(const char *cdir, const char *tmp, zs_error_t *err)
{
	cleanup_free char *final = xasprintf("%s/bundle", cdir);
	cleanup_free char *old = xasprintf("%s/" ZS_TMP_PREFIX "old-bundle-XXXXXX", cdir);
	bool had_old = access(final, F_OK) == 0;

	if (had_old) {
		if (mkdtemp(old) == NULL || rmdir(old) < 0)
			return zs_make_error(err, errno, "mkdtemp `%s`", old);
		if (rename(final, old) < 0)
			return zs_make_error(err, errno, "rename `%s` to `%s`", final, old);
	}
	if (rename(tmp, final) < 0)
		return zs_make_error(err, errno, "rename `%s` to `%s`", tmp, final);
	if (zs_rem_fsync_path(cdir, err) < 0)
		return -1;
	if (had_old)
		rm_rf(old);
	return 0;
}

static void plan_free(struct rootfs_plan *p)
{
	free(p->source);
	free(p->reason);
}

int zs_remnant_save_bundle(struct zs_remnant *r, const char *id, const char *bundle_dir, const char *rootfs,
			   zs_error_t *err)
{
	cleanup_close int lock = -1;
	cleanup_json zs_json *cfg = NULL;
	cleanup_free char *cdir = NULL, *tmp = NULL, *final = NULL, *stored = NULL, *rpath = NULL, *src = NULL;
	struct rootfs_plan p = {0};
	int ret = -1;

	if (zs_rem_lock(r, id, &lock, err) < 0)
		return -1;
	src = realpath(bundle_dir, NULL);
	if (src == NULL)
		return zs_make_error(err, errno, "bundle `%s`", bundle_dir);
	if (read_config(src, rootfs, &cfg, &rpath, err) < 0)
		return -1;
	cdir = zs_rem_container_dir(r, id);
	final = xasprintf("%s/bundle", cdir);
	tmp = xasprintf("%s/" ZS_TMP_PREFIX "bundle-XXXXXX", cdir);
	if (plan_rootfs(r, id, rpath, &p, err) < 0)
		goto out;
	if (mkdtemp(tmp) == NULL) {
		zs_make_error(err, errno, "mkdtemp `%s`", tmp);
		goto out;
	}
	if (build_bundle(tmp, final, cfg, &p, &stored, err) < 0 || swap_bundle(cdir, tmp, err) < 0) {
		rm_rf(tmp);
		goto out;
	}
	ret = write_bundle_json(cdir, id, src, &p, stored, err);
out:
	plan_free(&p);
	return ret;
}

void zs_remnant_bundle_info_free(struct zs_remnant_bundle_info *info)
{
	free(info->source);
	free(info->rootfs_source);
	free(info->reason);
	free(info->saved);
	memset(info, 0, sizeof(*info));
}

int zs_remnant_bundle_info(struct zs_remnant *r, const char *id, struct zs_remnant_bundle_info *info, zs_error_t *err)
{
	cleanup_free char *cdir = NULL, *path = NULL, *fmt = NULL;
	cleanup_json zs_json *v = NULL;
	const zs_json *rf;
	int64_t version = 0;

	memset(info, 0, sizeof(*info));
	if (zs_validate_id(id, err) < 0)
		return -1;
	cdir = zs_rem_container_dir(r, id);
	path = xasprintf("%s/bundle.json", cdir);
	if (access(path, F_OK) < 0)
		return errno == ENOENT ? 0 : zs_make_error(err, errno, "`%s`", path);
	if (zs_json_parse_file(path, path, &v, err) < 0)
		return -1;
	if (zs_json_to_string(zs_json_get(v, "format"), path, "format", ZS_JSON_REQUIRED, &fmt, err) < 0 ||
	    zs_json_to_int64(zs_json_get(v, "version"), path, "version", ZS_JSON_REQUIRED, &version, err) < 0)
		return -1;
	if (strcmp(fmt, ZS_BUNDLE_FORMAT) != 0 || version != ZS_REMNANT_VERSION)
		return zs_make_error(err, -EINVAL, "%s: not a \"%s\" version %d record", path, ZS_BUNDLE_FORMAT,
				     ZS_REMNANT_VERSION);
	rf = zs_json_get(v, "rootfs");
	if (zs_json_to_string(zs_json_get(v, "source"), path, "source", 0, &info->source, err) < 0 ||
	    zs_json_to_string(zs_json_get(v, "saved"), path, "saved", 0, &info->saved, err) < 0 ||
	    zs_json_check_object(rf, path, "rootfs", ZS_JSON_REQUIRED, err) < 0 ||
	    zs_json_to_string(zs_json_get(rf, "source"), path, "rootfs.source", 0, &info->rootfs_source, err) < 0 ||
	    zs_json_to_bool(zs_json_get(rf, "kept"), path, "rootfs.kept", ZS_JSON_REQUIRED, &info->rootfs_kept, err) <
		0 ||
	    zs_json_to_string(zs_json_get(rf, "reason"), path, "rootfs.reason", 0, &info->reason, err) < 0 ||
	    zs_json_to_uint64(zs_json_get(rf, "bytes"), path, "rootfs.bytes", 0, &info->rootfs_bytes, err) < 0) {
		zs_remnant_bundle_info_free(info);
		return -1;
	}
	return 1;
}

int zs_remnant_bundle(struct zs_remnant *r, const char *id, char **path, zs_error_t *err)
{
	struct zs_remnant_bundle_info info;
	cleanup_free char *cdir = NULL, *cfg = NULL;
	int ret;

	*path = NULL;
	ret = zs_remnant_bundle_info(r, id, &info, err);
	if (ret <= 0)
		return ret;
	zs_remnant_bundle_info_free(&info);
	cdir = zs_rem_container_dir(r, id);
	cfg = xasprintf("%s/bundle/config.json", cdir);
	if (access(cfg, F_OK) < 0)
		return zs_make_error(err, errno, "`%s`", cfg);
	*path = xasprintf("%s/bundle", cdir);
	return 1;
}

/* ---- import of an image directory ---- */

/* Every file of SRC copied into TMP: each opened once without following
 * symlinks, checked a regular file as opened, its data copied from that fd
 * (lib/remnant_copy.c).  `parent` is the store's own link to PARENT. */
static int import_entries(const char *src, const char *tmp, const char *parent, zs_error_t *err)
{
	cleanup_close int sfd = open_dir_at(AT_FDCWD, src), dfd = open_dir_at(AT_FDCWD, tmp);
	cleanup_free char *link = parent ? xasprintf("../%s", parent) : NULL;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (sfd < 0 || dfd < 0 || (fd = dup(sfd)) < 0)
		return zs_make_error(err, errno, "open `%s`", sfd < 0 ? src : tmp);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return zs_make_error(err, errno, "open `%s`", src);
	}
	while ((de = readdir(d))) {
		cleanup_free char *p = xasprintf("%s/%s", src, de->d_name);
		const char *n = de->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, "parent") == 0 ||
		    zs_image_manifest_file(n) || zs_rem_ignored_file(n))
			continue;
		if (zs_rem_copy_file_at(sfd, n, p, dfd, 0600, NULL, err) < 0)
			return zs_error_wrap(err, "%s: not kept", src);
	}
	if (link && symlinkat(link, dfd, "parent") < 0)
		return zs_make_error(err, errno, "symlink `%s/parent`", tmp);
	return 0;
}

int zs_remnant_import(struct zs_remnant *r, const char *id, const char *src_dir, struct zs_remnant_gen **gen,
		      zs_error_t *err)
{
	struct zs_image_info info = {0};
	struct zs_remnant_gen *have = NULL, *parent = NULL;
	cleanup_free char *tmp = NULL;
	int ret;

	if (zs_validate_id(id, err) < 0 || zs_image_info(src_dir, &info, err) < 0)
		return -1;
	ret = -1;
	if (info.image_id == NULL) {
		zs_make_error(err, -EINVAL, "%s: the image has no image id (dumped by a stock CRIU?)", src_dir);
		goto out;
	}
	ret = zs_remnant_find(r, id, info.image_id, &have, err);
	if (ret != 0) {
		if (ret > 0 && gen)
			*gen = steal_pointer(&have);
		ret = ret < 0 ? ret : 0;
		goto out;
	}
	if (info.parent_image_id) {
		ret = zs_remnant_find(r, id, info.parent_image_id, &parent, err);
		if (ret == 0)
			ret = zs_make_error(err, -ENOENT, "%s: parent image %s is not stored for container `%s`",
					    src_dir, info.parent_image_id, id);
		if (ret < 0)
			goto out;
	}
	ret = zs_remnant_gen_begin(r, id, &tmp, err);
	if (ret == 0 && import_entries(src_dir, tmp, parent ? parent->name : NULL, err) < 0)
		ret = -1;
	if (ret == 0)
		ret = zs_remnant_gen_commit(r, id, tmp, gen, err);
	if (ret < 0 && tmp)
		zs_remnant_gen_abort(r, tmp);
out:
	zs_remnant_gen_free(have);
	zs_remnant_gen_free(parent);
	zs_image_info_free(&info);
	return ret;
}
