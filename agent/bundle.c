/* zanshind — a container's Bundle on the wire and on this node.
 *
 * A Bundle travels as its config.json and a tar of its rootfs (GNU tar,
 * names sorted, numeric owners: the same tree gives the same bytes).  Its
 * digest is the sha256-4k (zanshin/digest.h) of config.json followed by
 * the tar.  A node holds Bundles it received in STATE_DIR/bundles/DIGEST/
 * (config.json with root.path "rootfs", rootfs/), and remembers which
 * digest a container's own bundle directory had when it was first sent
 * (STATE_DIR/bundles/by-id/ID.json), so a container that comes back finds
 * its Bundle without sending it again. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "zanshin/log.h"
#include "zanshin/digest.h"
#include "zanshin/utils.h"

static int run_tar(char *const argv[], zs_error_t *err)
{
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		return zs_make_error(err, errno, "fork");
	if (pid == 0) {
		int n = open("/dev/null", O_RDWR | O_CLOEXEC);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (n >= 0)
			dup2(n, 0);
		syscall(SYS_close_range, 3, ~0U, 0);
		execv("/bin/tar", argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return zs_make_error(err, errno, "wait for tar");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return zs_make_error(err, -EIO, "tar %s `%s` failed (status %d)", argv[1], argv[3], status);
	return 0;
}

int bundle_pack(const char *bundle, const char *rootfs, const char *work, zs_error_t *err)
{
	cleanup_free char *cfg = xasprintf("%s/config.json", bundle), *out = xasprintf("%s/config.json", work);
	cleanup_free char *tar = xasprintf("%s/rootfs.tar", work), *buf = NULL;
	char *argv[] = {"tar",		"-cf", tar, "-C", (char *) rootfs, "--sort=name", "--numeric-owner",
			"--format=gnu", ".",   NULL};
	size_t len = 0;

	if (read_file(cfg, &buf, &len, err) < 0 || write_file_atomic(out, buf, len, 0600, err) < 0)
		return zs_error_wrap(err, "bundle");
	argv[2] = tar;
	return run_tar(argv, err);
}

static int digest_file(zs_digest *d, const char *path, zs_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	static char buf[1 << 20];
	ssize_t r;

	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return zs_make_error(err, errno, "read `%s`", path);
		zs_digest_update(d, buf, (size_t) r);
	}
	return 0;
}

int bundle_digest_files(const char *config, const char *tar, char **digest, zs_error_t *err)
{
	zs_digest *d = zs_digest_new();
	uint8_t out[ZS_DIGEST_LEN];
	char hex[2 * ZS_DIGEST_LEN + 1];

	if (d == NULL)
		return zs_make_error(err, -ENOSYS, "SHA-256 is not available");
	if (digest_file(d, config, err) < 0 || digest_file(d, tar, err) < 0) {
		zs_digest_free(d);
		return -1;
	}
	zs_digest_final(d, out);
	zs_digest_hex(out, hex);
	*digest = xstrdup(hex);
	return 0;
}

static char *record_path(struct agent *a, const char *id)
{
	return xasprintf("%s/bundles/by-id/%s.json", a->state_dir, id);
}

int bundle_record(struct agent *a, const char *id, const char *digest, const char *path, zs_error_t *err)
{
	cleanup_free char *dir = xasprintf("%s/bundles/by-id", a->state_dir), *p = record_path(a, id), *s = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	size_t len = 0;

	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "digest", digest);
	zs_jgen_kv_string(g, "path", path);
	zs_jgen_map_close(g);
	s = zs_jgen_result(g, &len);
	return write_file_atomic(p, s, len, 0600, err);
}

/* The recorded digest of container ID's bundle when it is BUNDLE. */
static char *recorded(struct agent *a, const char *id, const char *bundle)
{
	cleanup_free char *p = record_path(a, id);
	cleanup_json zs_json *j = NULL;
	cleanup_error zs_error_t e = NULL;
	const char *d, *path;

	if (access(p, F_OK) < 0 || zs_json_parse_file(p, "bundle record", &j, &e) < 0)
		return NULL;
	d = zs_json_string_value(zs_json_get(j, "digest"));
	path = zs_json_string_value(zs_json_get(j, "path"));
	if (d && path && strcmp(path, bundle) == 0 && valid_name(d))
		return xstrdup(d);
	return NULL;
}

int bundle_digest(struct agent *a, const char *id, const char *bundle, const char *rootfs, const char *work,
		  char **digest, zs_error_t *err)
{
	cleanup_free char *held = xasprintf("%s/bundles/", a->state_dir);
	cleanup_free char *cfg = xasprintf("%s/config.json", work), *tar = xasprintf("%s/rootfs.tar", work);

	*digest = NULL;
	if (str_has_prefix(bundle, held) && valid_name(bundle + strlen(held))) {
		*digest = xstrdup(bundle + strlen(held));
		return 0;
	}
	*digest = recorded(a, id, bundle);
	if (*digest)
		return 0;
	if (bundle_pack(bundle, rootfs, work, err) < 0 || bundle_digest_files(cfg, tar, digest, err) < 0)
		return -1;
	return bundle_record(a, id, *digest, bundle, err);
}

char *bundle_find(struct agent *a, const char *digest)
{
	cleanup_free char *dir = NULL, *cfg = NULL, *rdir = xasprintf("%s/bundles/by-id", a->state_dir);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (!valid_name(digest))
		return NULL;
	dir = xasprintf("%s/bundles/%s", a->state_dir, digest);
	cfg = xasprintf("%s/config.json", dir);
	if (access(cfg, F_OK) == 0)
		return steal_pointer(&dir);
	d = opendir(rdir);
	while (d && (de = readdir(d))) {
		cleanup_free char *p = xasprintf("%s/%s", rdir, de->d_name);
		cleanup_json zs_json *j = NULL;
		cleanup_error zs_error_t e = NULL;
		const char *dg, *path;
		if (de->d_name[0] == '.' || zs_json_parse_file(p, "bundle record", &j, &e) < 0)
			continue;
		dg = zs_json_string_value(zs_json_get(j, "digest"));
		path = zs_json_string_value(zs_json_get(j, "path"));
		if (dg && path && strcmp(dg, digest) == 0) {
			cleanup_free char *c = xasprintf("%s/config.json", path);
			if (access(c, F_OK) == 0)
				return xstrdup(path);
		}
	}
	return NULL;
}

/* config.json with root.path set to "rootfs" (the layout of a held Bundle). */
static char *config_rootfs(const zs_json *cfg, size_t *len)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(true);
	size_t i, k;

	zs_jgen_map_open(g);
	for (i = 0; i < zs_json_object_len(cfg); i++) {
		const char *key = zs_json_object_key(cfg, i);
		const zs_json *v = zs_json_object_value(cfg, i);
		zs_jgen_key(g, key);
		if (strcmp(key, "root") != 0 || !zs_json_is_object(v)) {
			zs_jgen_value(g, v);
			continue;
		}
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "path", "rootfs");
		for (k = 0; k < zs_json_object_len(v); k++) {
			if (strcmp(zs_json_object_key(v, k), "path") == 0)
				continue;
			zs_jgen_key(g, zs_json_object_key(v, k));
			zs_jgen_value(g, zs_json_object_value(v, k));
		}
		zs_jgen_map_close(g);
	}
	zs_jgen_map_close(g);
	return zs_jgen_result(g, len);
}

int bundle_unpack(struct agent *a, const char *work, const char *digest, zs_error_t *err)
{
	cleanup_free char *cfg = xasprintf("%s/config.json", work), *tar = xasprintf("%s/rootfs.tar", work);
	cleanup_free char *have = NULL, *text = NULL, *tmp = NULL, *dst = NULL, *rootfs = NULL, *out = NULL;
	cleanup_json zs_json *j = NULL;
	char *argv[] = {"tar", "-xf", tar, "-C", NULL, "--numeric-owner", "--same-permissions", NULL};
	size_t len = 0;

	if (!valid_name(digest))
		return zs_make_error(err, -EINVAL, "invalid bundle digest `%s`", digest);
	if (bundle_digest_files(cfg, tar, &have, err) < 0)
		return -1;
	if (strcmp(have, digest) != 0)
		return zs_make_error(err, -EBADMSG, "bundle: digest %s, but the sender said %s", have, digest);
	if (zs_json_parse_file(cfg, "config.json", &j, err) < 0 ||
	    zs_json_check_object(j, "config.json", "(top level)", ZS_JSON_REQUIRED, err) < 0)
		return zs_error_wrap(err, "bundle %s", digest);
	dst = xasprintf("%s/bundles/%s", a->state_dir, digest);
	tmp = xasprintf("%s/bundles/.tmp-%s-%d", a->state_dir, digest, (int) getpid());
	rootfs = xasprintf("%s/rootfs", tmp);
	out = xasprintf("%s/config.json", tmp);
	rm_rf(tmp);
	if (mkdir_p(rootfs, 0755, err) < 0)
		return -1;
	chmod(tmp, 0700);
	argv[4] = rootfs;
	text = config_rootfs(j, &len);
	if (run_tar(argv, err) < 0 || write_file_atomic(out, text, len, 0600, err) < 0) {
		rm_rf(tmp);
		return zs_error_wrap(err, "bundle %s", digest);
	}
	if (rename(tmp, dst) < 0) {
		int e = errno;
		rm_rf(tmp);
		if (e != EEXIST && e != ENOTEMPTY)
			return zs_make_error(err, e, "rename `%s`", dst);
	}
	return 0;
}
