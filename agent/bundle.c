/* zanshind — a container's Bundle on the wire and on this node.
 *
 * A Bundle travels as its config.json and a tar of its rootfs (GNU tar,
 * names sorted, numeric owners: the same tree gives the same bytes).  The
 * rootfs digest is the sha256-4k (zanshin/digest.h) of that tar; the
 * Bundle's digest is the sha256-4k of config.json followed by the rootfs
 * digest (hex), so a target can check a Bundle whose rootfs it did not
 * receive again; config.json counts as a held Bundle keeps it (root.path
 * "rootfs", re-written JSON), so a Bundle forwarded by a node that
 * received it keeps its digest.  A node holds Bundles it received in
 * STATE_DIR/bundles/DIGEST/ (config.json with root.path "rootfs", rootfs/,
 * rootfs.digest), and remembers the digests of a container's own bundle
 * directory when it first computes them (STATE_DIR/bundles/by-id/ID.json),
 * so a container that comes back finds its Bundle without sending it
 * again.  A rootfs held for one container is reused for another whose
 * rootfs has the same digest: copied locally (cp -a --reflink=auto: its own
 * inodes, so one container writing a file in place never changes another
 * container's rootfs), not sent. */
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

/* The digest of CONFIG as a held Bundle keeps it (config_rootfs: root.path
 * "rootfs", the JSON re-written): a Bundle forwarded by a node that
 * received it has the digest it had at its origin, so a node that holds
 * it is not sent it again. */
static int digest_config(zs_digest *d, const char *config, zs_error_t *err)
{
	cleanup_json zs_json *j = NULL;
	cleanup_free char *text = NULL;
	size_t len = 0;

	if (zs_json_parse_file(config, "config.json", &j, err) < 0 ||
	    zs_json_check_object(j, "config.json", "(top level)", ZS_JSON_REQUIRED, err) < 0)
		return -1;
	text = config_rootfs(j, &len);
	zs_digest_update(d, text, len);
	return 0;
}

/* ROOTFS_DIGEST: of TAR (when TAR is not NULL, else given); DIGEST: of
 * CONFIG (as held: digest_config) followed by ROOTFS_DIGEST. */
int bundle_digests(const char *config, const char *tar, char **digest, char **rootfs_digest, zs_error_t *err)
{
	uint8_t out[ZS_DIGEST_LEN];
	char hex[2 * ZS_DIGEST_LEN + 1];
	zs_digest *d;

	if (tar) {
		d = zs_digest_new();
		if (d == NULL)
			return zs_make_error(err, -ENOSYS, "SHA-256 is not available");
		if (digest_file(d, tar, err) < 0) {
			zs_digest_free(d);
			return -1;
		}
		zs_digest_final(d, out);
		zs_digest_hex(out, hex);
		free(*rootfs_digest);
		*rootfs_digest = xstrdup(hex);
	}
	d = zs_digest_new();
	if (d == NULL)
		return zs_make_error(err, -ENOSYS, "SHA-256 is not available");
	if (digest_config(d, config, err) < 0) {
		zs_digest_free(d);
		return -1;
	}
	zs_digest_update(d, *rootfs_digest, strlen(*rootfs_digest));
	zs_digest_final(d, out);
	zs_digest_hex(out, hex);
	*digest = xstrdup(hex);
	return 0;
}

static char *record_path(struct agent *a, const char *id)
{
	return xasprintf("%s/bundles/by-id/%s.json", a->state_dir, id);
}

int bundle_record(struct agent *a, const char *id, const char *digest, const char *rootfs_digest, const char *path,
		  const char *rootfs, zs_error_t *err)
{
	cleanup_free char *dir = xasprintf("%s/bundles/by-id", a->state_dir), *p = record_path(a, id), *s = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	size_t len = 0;

	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "digest", digest);
	zs_jgen_kv_string(g, "rootfs_digest", rootfs_digest);
	zs_jgen_kv_string(g, "path", path);
	zs_jgen_kv_string(g, "rootfs", rootfs);
	zs_jgen_map_close(g);
	s = zs_jgen_result(g, &len);
	return write_file_atomic(p, s, len, 0600, err);
}

/* The recorded digests of container ID's bundle when it is BUNDLE. */
static bool recorded(struct agent *a, const char *id, const char *bundle, char **digest, char **rootfs_digest)
{
	cleanup_free char *p = record_path(a, id);
	cleanup_json zs_json *j = NULL;
	cleanup_error zs_error_t e = NULL;
	const char *d, *rd, *path;

	if (access(p, F_OK) < 0 || zs_json_parse_file(p, "bundle record", &j, &e) < 0)
		return false;
	d = zs_json_string_value(zs_json_get(j, "digest"));
	rd = zs_json_string_value(zs_json_get(j, "rootfs_digest"));
	path = zs_json_string_value(zs_json_get(j, "path"));
	if (d == NULL || rd == NULL || path == NULL || strcmp(path, bundle) != 0 || !valid_name(d) || !valid_name(rd))
		return false;
	*digest = xstrdup(d);
	*rootfs_digest = xstrdup(rd);
	return true;
}

static char *read_small(const char *path)
{
	cleanup_error zs_error_t e = NULL;
	char *buf = NULL;
	size_t len = 0;

	if (read_file(path, &buf, &len, &e) < 0)
		return NULL;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (!valid_name(buf)) {
		free(buf);
		return NULL;
	}
	return buf;
}

int bundle_ident(struct agent *a, const char *id, const char *bundle, const char *rootfs, const char *work,
		 char **digest, char **rootfs_digest, zs_error_t *err)
{
	cleanup_free char *held = xasprintf("%s/bundles/", a->state_dir);
	cleanup_free char *cfg = xasprintf("%s/config.json", work), *tar = xasprintf("%s/rootfs.tar", work);

	*digest = NULL;
	*rootfs_digest = NULL;
	if (str_has_prefix(bundle, held) && valid_name(bundle + strlen(held))) {
		cleanup_free char *rd = xasprintf("%s/rootfs.digest", bundle);
		*rootfs_digest = read_small(rd);
		if (*rootfs_digest) {
			*digest = xstrdup(bundle + strlen(held));
			return 0;
		}
	}
	if (recorded(a, id, bundle, digest, rootfs_digest))
		return 0;
	if (bundle_pack(bundle, rootfs, work, err) < 0 || bundle_digests(cfg, tar, digest, rootfs_digest, err) < 0)
		return -1;
	return bundle_record(a, id, *digest, *rootfs_digest, bundle, rootfs, err);
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

/* A rootfs with ROOTFS_DIGEST held on this node (received, or a local
 * container's own), or NULL. */
char *rootfs_find(struct agent *a, const char *rootfs_digest)
{
	cleanup_free char *bdir = xasprintf("%s/bundles", a->state_dir),
			  *rdir = xasprintf("%s/bundles/by-id", a->state_dir);
	cleanup_dir DIR *d = NULL, *r = NULL;
	struct dirent *de;

	if (!valid_name(rootfs_digest))
		return NULL;
	d = opendir(bdir);
	while (d && (de = readdir(d))) {
		cleanup_free char *p = NULL, *have = NULL;
		if (de->d_name[0] == '.' || !valid_name(de->d_name) || strcmp(de->d_name, "by-id") == 0)
			continue;
		p = xasprintf("%s/%s/rootfs.digest", bdir, de->d_name);
		have = read_small(p);
		if (have && strcmp(have, rootfs_digest) == 0)
			return xasprintf("%s/%s/rootfs", bdir, de->d_name);
	}
	r = opendir(rdir);
	while (r && (de = readdir(r))) {
		cleanup_free char *p = xasprintf("%s/%s", rdir, de->d_name);
		cleanup_json zs_json *j = NULL;
		cleanup_error zs_error_t e = NULL;
		const char *rd, *path;
		if (de->d_name[0] == '.' || zs_json_parse_file(p, "bundle record", &j, &e) < 0)
			continue;
		rd = zs_json_string_value(zs_json_get(j, "rootfs_digest"));
		path = zs_json_string_value(zs_json_get(j, "rootfs"));
		if (rd && path && strcmp(rd, rootfs_digest) == 0 && access(path, F_OK) == 0)
			return xstrdup(path);
	}
	return NULL;
}

static int local_copy(const char *from, const char *to, zs_error_t *err)
{
	char *argv[] = {"cp", "-a", "--reflink=auto", "--", NULL, NULL, NULL};
	cleanup_free char *src = xasprintf("%s/.", from);
	int status = 0;
	pid_t pid;

	argv[4] = src;
	argv[5] = (char *) to;
	pid = fork();
	if (pid < 0)
		return zs_make_error(err, errno, "fork");
	if (pid == 0) {
		int n = open("/dev/null", O_RDWR | O_CLOEXEC);
		signal(SIGTERM, SIG_DFL);
		if (n >= 0)
			dup2(n, 0);
		syscall(SYS_close_range, 3, ~0U, 0);
		execv("/bin/cp", argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return zs_make_error(err, errno, "wait for cp");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return zs_make_error(err, -EIO, "copy of `%s` to `%s` failed", from, to);
	return 0;
}

/* WORK/config.json + WORK/rootfs.tar (or, REUSE, a rootfs held here with
 * ROOTFS_DIGEST, copied) become STATE_DIR/bundles/DIGEST, atomically
 * (a temporary directory renamed), once both digests check. */
int bundle_unpack(struct agent *a, const char *work, const char *digest, const char *rootfs_digest, bool reuse,
		  zs_error_t *err)
{
	cleanup_free char *cfg = xasprintf("%s/config.json", work), *tar = xasprintf("%s/rootfs.tar", work);
	cleanup_free char *have = NULL, *have_rootfs = NULL, *text = NULL, *tmp = NULL, *dst = NULL, *rootfs = NULL,
			  *out = NULL, *held = NULL, *rdf = NULL;
	cleanup_json zs_json *j = NULL;
	char *argv[] = {"tar", "-xf", tar, "-C", NULL, "--numeric-owner", "--same-permissions", NULL};
	size_t len = 0;
	int ret;

	if (!valid_name(digest) || !valid_name(rootfs_digest))
		return zs_make_error(err, -EINVAL, "invalid bundle or rootfs digest");
	if (reuse) {
		held = rootfs_find(a, rootfs_digest);
		if (held == NULL)
			return zs_make_error(err, -ENOENT, "no rootfs with digest %s is held by node %s", rootfs_digest,
					     a->node);
		have_rootfs = xstrdup(rootfs_digest);
	}
	if (bundle_digests(cfg, reuse ? NULL : tar, &have, &have_rootfs, err) < 0)
		return -1;
	if (strcmp(have_rootfs, rootfs_digest) != 0 || strcmp(have, digest) != 0)
		return zs_make_error(err, -EBADMSG, "bundle: digest %s (rootfs %s), but the sender said %s (rootfs %s)",
				     have, have_rootfs, digest, rootfs_digest);
	if (zs_json_parse_file(cfg, "config.json", &j, err) < 0 ||
	    zs_json_check_object(j, "config.json", "(top level)", ZS_JSON_REQUIRED, err) < 0)
		return zs_error_wrap(err, "bundle %s", digest);
	dst = xasprintf("%s/bundles/%s", a->state_dir, digest);
	tmp = xasprintf("%s/bundles/.tmp-%s-%d", a->state_dir, digest, (int) getpid());
	rootfs = xasprintf("%s/rootfs", tmp);
	out = xasprintf("%s/config.json", tmp);
	rdf = xasprintf("%s/rootfs.digest", tmp);
	rm_rf(tmp);
	if (mkdir_p(rootfs, 0755, err) < 0)
		return -1;
	chmod(tmp, 0700);
	argv[4] = rootfs;
	text = config_rootfs(j, &len);
	ret = reuse ? local_copy(held, rootfs, err) : run_tar(argv, err);
	if (ret == 0)
		ret = write_file_atomic(out, text, len, 0600, err);
	if (ret == 0)
		ret = write_file_atomic(rdf, rootfs_digest, strlen(rootfs_digest), 0600, err);
	if (ret < 0) {
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
