/* zanshin — state store. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zanshin/cgroup.h"
#include "zanshin/log.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

char *zs_status_dir(const char *root, const char *id)
{
	return xasprintf("%s/%s", root, id);
}

char *zs_status_fifo_path(const char *root, const char *id)
{
	return xasprintf("%s/%s/exec.fifo", root, id);
}

int zs_status_create_dir(const char *root, const char *id, zs_error_t *err)
{
	cleanup_free char *dir = zs_status_dir(root, id);
	int ret;

	ret = mkdir_p(root, 0700, err);
	if (ret < 0)
		return ret;
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			return zs_make_error(err, -EEXIST, "container with id exists: %s", id);
		return zs_make_error(err, errno, "mkdir `%s`", dir);
	}
	return 0;
}

int zs_status_lock(const char *root, const char *id, zs_error_t *err)
{
	cleanup_free char *dir = zs_status_dir(root, id);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return zs_make_error(err, -ENOENT, "container \"%s\" does not exist", id);
		return zs_make_error(err, errno, "open `%s`", dir);
	}
	if (flock(fd, LOCK_EX) < 0) {
		int e = errno;
		close(fd);
		return zs_make_error(err, e, "lock `%s`", dir);
	}
	return fd;
}

int zs_status_write(const char *root, const struct zs_status *st, const zs_json *annotations,
		    const struct zs_cgroup *cg, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s/state.json", root, st->id);
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *buf = NULL;
	size_t len;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "format", ZS_STATE_FORMAT);
	zs_jgen_kv_int(g, "version", ZS_STATE_VERSION);
	zs_jgen_kv_string(g, "id", st->id);
	zs_jgen_kv_int(g, "pid", st->pid);
	zs_jgen_key(g, "start_time");
	zs_jgen_uint(g, st->start_time);
	zs_jgen_kv_string(g, "bundle", st->bundle);
	zs_jgen_kv_string(g, "rootfs", st->rootfs);
	zs_jgen_kv_string(g, "created", st->created);
	zs_jgen_kv_string(g, "owner", st->owner ? st->owner : "");
	if (st->image_id)
		zs_jgen_kv_string(g, "image_id", st->image_id);
	if (st->generation)
		zs_jgen_kv_string(g, "generation", st->generation);
	if (st->tracking)
		zs_jgen_key(g, "tracking"), zs_jgen_bool(g, true);
	zs_jgen_key(g, "annotations");
	if (annotations)
		zs_jgen_value(g, annotations);
	else {
		zs_jgen_map_open(g);
		zs_jgen_map_close(g);
	}
	if (cg) {
		zs_jgen_key(g, "cgroup");
		zs_cgroup_save(cg, g);
	}
	zs_jgen_map_close(g);
	buf = zs_jgen_result(g, &len);
	/* --root is runtime state (tmpfs /run by default): atomic, no fsync */
	return write_file_replace(path, buf, len, 0600, err);
}

static int check_format(const zs_json *j, const char *path, zs_error_t *err)
{
	const char *fmt = zs_json_string_value(zs_json_get(j, "format"));
	int64_t v = 0;

	if (fmt == NULL || strcmp(fmt, ZS_STATE_FORMAT) != 0)
		return zs_make_error(err, -EINVAL, "%s: not a zanshin state file (format)", path);
	if (zs_json_to_int64(zs_json_get(j, "version"), path, "version", ZS_JSON_REQUIRED, &v, err) < 0)
		return -1;
	if (v != ZS_STATE_VERSION)
		return zs_make_error(err, -EINVAL, "%s: unsupported state version %lld", path, (long long) v);
	return 0;
}

int zs_status_load(const char *root, const char *id, struct zs_status **out, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s/state.json", root, id);
	struct zs_status *st;
	int64_t pid = 0;
	uint64_t st_time = 0;
	int ret;

	if (access(path, F_OK) < 0 && errno == ENOENT)
		return zs_make_error(err, -ENOENT, "container \"%s\" does not exist", id);
	st = xzalloc(sizeof(*st));
	ret = zs_json_parse_file(path, path, &st->json, err);
	if (ret == 0)
		ret = check_format(st->json, path, err);
	if (ret == 0)
		ret = zs_json_to_int64(zs_json_get(st->json, "pid"), path, "pid", ZS_JSON_REQUIRED, &pid, err);
	if (ret == 0)
		ret = zs_json_to_uint64(zs_json_get(st->json, "start_time"), path, "start_time", 0, &st_time, err);
	if (ret == 0)
		ret = zs_json_to_string(zs_json_get(st->json, "id"), path, "id", ZS_JSON_REQUIRED, &st->id, err);
	if (ret == 0)
		ret = zs_json_to_string(zs_json_get(st->json, "bundle"), path, "bundle", 0, &st->bundle, err);
	if (ret == 0)
		ret = zs_json_to_string(zs_json_get(st->json, "rootfs"), path, "rootfs", 0, &st->rootfs, err);
	if (ret == 0)
		ret = zs_json_to_string(zs_json_get(st->json, "created"), path, "created", 0, &st->created, err);
	if (ret == 0)
		ret = zs_json_to_string(zs_json_get(st->json, "owner"), path, "owner", 0, &st->owner, err);
	if (ret == 0)
		ret = zs_json_to_string(zs_json_get(st->json, "image_id"), path, "image_id", 0, &st->image_id, err);
	if (ret == 0)
		ret =
		    zs_json_to_string(zs_json_get(st->json, "generation"), path, "generation", 0, &st->generation, err);
	if (ret == 0)
		ret = zs_json_to_bool(zs_json_get(st->json, "tracking"), path, "tracking", 0, &st->tracking, err);
	if (ret < 0) {
		zs_status_free(st);
		return ret;
	}
	st->pid = pid;
	st->start_time = st_time;
	st->dir = zs_status_dir(root, id);
	st->annotations = zs_json_get(st->json, "annotations");
	st->cgroup = zs_json_get(st->json, "cgroup");
	st->has_cgroup = st->cgroup != NULL;
	*out = st;
	return 0;
}

void zs_status_free(struct zs_status *st)
{
	if (st == NULL)
		return;
	free(st->image_id);
	free(st->generation);
	free(st->id);
	free(st->dir);
	free(st->bundle);
	free(st->rootfs);
	free(st->created);
	free(st->owner);
	zs_json_free(st->json);
	free(st);
}

void cleanup_statusp(struct zs_status **st)
{
	zs_status_free(*st);
}

int zs_status_delete(const char *root, const char *id, zs_error_t *err)
{
	cleanup_free char *dir = zs_status_dir(root, id);
	cleanup_free char *criu_root = xasprintf("%s/criu-root", dir);

	/* a restore killed before its clean-up left the rootfs bound there
	 * (lib/restore.c prepare_root): detach it, rm_rf never crosses it */
	if (umount2(criu_root, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		zs_debug("delete: detached the rootfs a killed restore left on `%s`", criu_root);
	if (rm_rf(dir) < 0 && errno != ENOENT)
		return zs_make_error(err, errno, "remove `%s`", dir);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

int zs_status_list(const char *root, char ***ids, zs_error_t *err)
{
	cleanup_dir DIR *d = opendir(root);
	struct dirent *de;
	size_t n = 0;
	char **r = xzalloc(sizeof(char *));

	if (d == NULL) {
		if (errno == ENOENT) {
			*ids = r;
			return 0;
		}
		free(r);
		return zs_make_error(err, errno, "open `%s`", root);
	}
	while ((de = readdir(d)) != NULL) {
		cleanup_free char *p = NULL;
		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s/state.json", root, de->d_name);
		if (access(p, F_OK) < 0)
			continue;
		r = xrealloc(r, sizeof(char *) * (n + 2));
		r[n++] = xstrdup(de->d_name);
		r[n] = NULL;
	}
	qsort(r, n, sizeof(char *), cmp_str);
	*ids = r;
	return 0;
}

unsigned long long zs_proc_start_time(pid_t pid, char *state_out)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	int fd, i;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	p += 2; /* state */
	if (state_out)
		*state_out = *p;
	for (i = 3; i < 22 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		v = strtoull(p, NULL, 10);
	return v;
}

bool zs_status_pid_alive(const struct zs_status *st)
{
	char state = 0;
	unsigned long long t;

	if (st->pid <= 0)
		return false;
	t = zs_proc_start_time(st->pid, &state);
	if (t == 0 || state == 'Z' || state == 'X')
		return false;
	return st->start_time == 0 || t == st->start_time;
}
