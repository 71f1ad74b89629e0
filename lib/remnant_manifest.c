/* zanshin — remnant store records: manifest.json (every file of a
 * generation with size and digest) and lineage.json; both carry a format
 * name and version, checked on read (STYLE.md 6).
 *
 * Manifest version 2 (written since 0.2): "hash": "sha256-4k" and each
 * file's "hash" (include/zanshin/digest.h: SHA-256 of the SHA-256s of its
 * 4096-byte blocks).  Version 1 (read, verified, never written): each
 * file's "sha256", the plain SHA-256 of the file. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/crypto.h>

#include "remnant_internal.h"
#include "zanshin/criu_image.h"
#include "zanshin/digest.h"
#include "zanshin/json.h"
#include "zanshin/utils.h"

#define MANIFEST "manifest.json"
#define LINEAGE "lineage.json"

bool zs_rem_ignored_file(const char *name)
{
	/* CRIU writes its statistics (and, with the image directory as its
	 * work directory, its logs) into the image directory */
	return zs_rem_criu_log_file(name);
}

/* ---- known digests (zs_rem_known_add) ---- */

struct known {
	char *dir, *name;
	struct stat st;
	char hex[65];
	bool on_disk;
};

static struct known *known;
static size_t n_known;

void zs_rem_known_add(const char *dir, const char *name, const unsigned char digest[32], uint64_t size, bool on_disk)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	struct known *k;
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t) st.st_size != size)
		return; /* not the file hashed: it will be read */
	known = xrealloc(known, sizeof(*known) * (n_known + 1));
	k = &known[n_known++];
	k->dir = xstrdup(dir);
	k->name = xstrdup(name);
	k->st = st;
	k->on_disk = on_disk;
	zs_digest_hex(digest, k->hex);
}

void zs_rem_known_clear(void)
{
	size_t i;

	for (i = 0; i < n_known; i++) {
		free(known[i].dir);
		free(known[i].name);
	}
	free(known);
	known = NULL;
	n_known = 0;
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* The known digest of the file open as FD (DIR/NAME), or NULL. */
static const char *known_hex(int fd, const char *dir, const char *name, bool need_on_disk)
{
	struct stat st;
	size_t i;

	if (n_known == 0 || fstat(fd, &st) < 0)
		return NULL;
	for (i = 0; i < n_known; i++) {
		const struct known *k = &known[i];

		if (strcmp(k->name, name) != 0 || strcmp(k->dir, dir) != 0 || (need_on_disk && !k->on_disk))
			continue;
		if (k->st.st_dev == st.st_dev && k->st.st_ino == st.st_ino && k->st.st_size == st.st_size &&
		    same_time(&k->st.st_mtim, &st.st_mtim) && same_time(&k->st.st_ctim, &st.st_ctim))
			return k->hex;
	}
	return NULL;
}

/* Version 1 manifests: the plain SHA-256 of the file, one core. */
static int sha256_fd(int fd, const char *what, char hex[65], uint64_t *size, zs_error_t *err)
{
	unsigned char dig[32];
	gnutls_hash_hd_t h;
	cleanup_free char *buf = xmalloc(1 << 20);
	uint64_t total = 0;
	ssize_t n;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return zs_make_error(err, EIO, "%s: SHA-256 not available", what);
	while ((n = read(fd, buf, 1 << 20)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			gnutls_hash_deinit(h, NULL);
			return zs_make_error(err, e, "read `%s`", what);
		}
		gnutls_hash(h, buf, n);
		total += n;
	}
	gnutls_hash_deinit(h, dig);
	zs_digest_hex(dig, hex);
	*size = total;
	return 0;
}

/* The file's digest as manifest version V has it.  SYNC: fsync first
 * (writing a manifest), and a known digest of what was written will do;
 * else (verifying) only one of what is on disk.  Known digests are
 * sha256-4k: never used for a version 1 manifest. */
static int hash_file(int dfd, const char *dir, const char *name, int v, bool sync, char hex[65], uint64_t *size,
		     zs_error_t *err)
{
	cleanup_free char *what = xasprintf("%s/%s", dir, name);
	cleanup_close int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	unsigned char dig[ZS_DIGEST_LEN];
	const char *k;
	struct stat st;

	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", what);
	if (sync && fsync(fd) < 0)
		return zs_make_error(err, errno, "fsync `%s`", what);
	if (v == 1)
		return sha256_fd(fd, what, hex, size, err);
	k = known_hex(fd, dir, name, !sync);
	if (k && fstat(fd, &st) == 0) {
		memcpy(hex, k, 65);
		*size = st.st_size;
		return 0;
	}
	if (zs_digest_fd(fd, what, dig, size, err) < 0)
		return -1;
	zs_digest_hex(dig, hex);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Names in DIR (sorted), without . .. and manifest.json. */
static int dir_names(const char *dir, char ***out, size_t *n, zs_error_t *err)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t cnt = 0;

	if (d == NULL)
		return zs_make_error(err, errno, "open `%s`", dir);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 || strcmp(de->d_name, MANIFEST) == 0)
			continue;
		names = xrealloc(names, sizeof(char *) * (cnt + 2));
		names[cnt++] = xstrdup(de->d_name);
		names[cnt] = NULL;
	}
	if (cnt)
		qsort(names, cnt, sizeof(char *), cmp_names);
	*out = names;
	*n = cnt;
	return 0;
}

static int manifest_entry(zs_jgen *files, zs_jgen *links, int dfd, const char *dir, const char *name, zs_error_t *err)
{
	struct stat st;
	char hex[65], target[4096];
	uint64_t size;
	ssize_t n;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return zs_make_error(err, errno, "stat `%s/%s`", dir, name);
	if (S_ISLNK(st.st_mode) && strcmp(name, "parent") != 0)
		return zs_make_error(err, -EINVAL, "%s/%s: a symlink where an image file belongs", dir, name);
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(dfd, name, target, sizeof(target) - 1);
		if (n < 0)
			return zs_make_error(err, errno, "readlink `%s/%s`", dir, name);
		target[n] = '\0';
		zs_jgen_map_open(links);
		zs_jgen_kv_string(links, "name", name);
		zs_jgen_kv_string(links, "target", target);
		zs_jgen_map_close(links);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return zs_make_error(err, -EINVAL, "%s/%s: neither a regular file nor a symlink", dir, name);
	if (hash_file(dfd, dir, name, ZS_MANIFEST_VERSION, true, hex, &size, err) < 0)
		return -1;
	zs_jgen_map_open(files);
	zs_jgen_kv_string(files, "name", name);
	zs_jgen_key(files, "size");
	zs_jgen_uint(files, size);
	zs_jgen_kv_string(files, "hash", hex);
	zs_jgen_map_close(files);
	return 0;
}

int zs_rem_write_manifest(const char *dir, const char *image_id, zs_error_t *err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_jgen zs_jgen *files = zs_jgen_new(false), *links = zs_jgen_new(false), *g = zs_jgen_new(true);
	cleanup_free char *ftext = NULL, *ltext = NULL, *text = NULL, *path = NULL;
	cleanup_json zs_json *fv = NULL, *lv = NULL;
	char **names = NULL;
	size_t n, i, len;
	int ret = 0;

	if (dfd < 0)
		return zs_make_error(err, errno, "open `%s`", dir);
	if (dir_names(dir, &names, &n, err) < 0)
		return -1;
	zs_jgen_array_open(files);
	zs_jgen_array_open(links);
	for (i = 0; i < n && ret == 0; i++) {
		/* the runtime's mark of a finished dump stays until the
		 * generation is committed (lib/remnant_orphan.c), unlisted */
		if (strcmp(names[i], ZS_DUMP_MARK) == 0)
			continue;
		/* CRIU's logs and stats are not part of a generation */
		if (zs_rem_criu_log_file(names[i])) {
			if (unlinkat(dfd, names[i], 0) < 0 && errno != ENOENT)
				ret = zs_make_error(err, errno, "remove `%s/%s`", dir, names[i]);
			continue;
		}
		ret = manifest_entry(files, links, dfd, dir, names[i], err);
	}
	zs_free_string_array(names);
	if (ret < 0)
		return ret;
	zs_jgen_array_close(files);
	zs_jgen_array_close(links);
	ftext = zs_jgen_result(files, NULL);
	ltext = zs_jgen_result(links, NULL);
	if (zs_json_parse_buf(ftext, "manifest", &fv, err) < 0 || zs_json_parse_buf(ltext, "manifest", &lv, err) < 0)
		return -1;
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "format", ZS_MANIFEST_FORMAT);
	zs_jgen_kv_int(g, "version", ZS_MANIFEST_VERSION);
	zs_jgen_kv_string(g, "hash", ZS_DIGEST_NAME);
	zs_jgen_kv_string(g, "image_id", image_id);
	zs_jgen_key(g, "files");
	zs_jgen_value(g, fv);
	zs_jgen_key(g, "links");
	zs_jgen_value(g, lv);
	zs_jgen_map_close(g);
	text = zs_jgen_result(g, &len);
	path = xasprintf("%s/%s", dir, MANIFEST);
	return write_file_atomic(path, text, len, 0600, err);
}

/* Parse DIR/NAME and check its "format" and "version" (MIN to MAX; *V). */
static int read_record(const char *dir, const char *name, const char *format, int min, int max, zs_json **out, int *v,
		       zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	cleanup_free char *fmt = NULL;
	cleanup_json zs_json *val = NULL;
	int64_t version = 0;

	if (zs_json_parse_file(path, path, &val, err) < 0)
		return -1;
	if (!zs_json_is_object(val))
		return zs_make_error(err, -EINVAL, "%s: must be a JSON object", path);
	if (zs_json_to_string(zs_json_get(val, "format"), path, "format", ZS_JSON_REQUIRED, &fmt, err) < 0 ||
	    zs_json_to_int64(zs_json_get(val, "version"), path, "version", ZS_JSON_REQUIRED, &version, err) < 0)
		return -1;
	if (strcmp(fmt, format) != 0)
		return zs_make_error(err, -EINVAL, "%s: format: \"%s\", expected \"%s\"", path, fmt, format);
	if (version < min || version > max)
		return min == max
			   ? zs_make_error(err, -EINVAL, "%s: version: %lld is not supported (expected %d)", path,
					   (long long) version, max)
			   : zs_make_error(err, -EINVAL, "%s: version: %lld is not supported (expected %d to %d)", path,
					   (long long) version, min, max);
	*out = steal_pointer(&val);
	if (v)
		*v = (int) version;
	return 0;
}

static const zs_json *manifest_lookup(const zs_json *files, const zs_json *links, const char *name, bool *link)
{
	size_t i;

	for (i = 0; i < zs_json_array_len(files); i++) {
		const char *n = zs_json_string_value(zs_json_get(zs_json_array_at(files, i), "name"));
		if (n && strcmp(n, name) == 0) {
			*link = false;
			return zs_json_array_at(files, i);
		}
	}
	for (i = 0; i < zs_json_array_len(links); i++) {
		const char *n = zs_json_string_value(zs_json_get(zs_json_array_at(links, i), "name"));
		if (n && strcmp(n, name) == 0) {
			*link = true;
			return zs_json_array_at(links, i);
		}
	}
	return NULL;
}

/* DEFER(name) == SKIP: only checked present with the manifest's size. */
static int check_file(int dfd, const char *dir, int v, const zs_json *e, bool (*defer)(const char *), bool skip,
		      zs_error_t *err)
{
	cleanup_free char *name = NULL, *sum = NULL;
	uint64_t size = 0, real_size;
	struct stat st;
	char hex[65];

	if (zs_json_to_string(zs_json_get(e, "name"), "manifest.json", "files[].name", ZS_JSON_REQUIRED, &name, err) <
		0 ||
	    zs_json_to_uint64(zs_json_get(e, "size"), "manifest.json", "files[].size", ZS_JSON_REQUIRED, &size, err) <
		0 ||
	    zs_json_to_string(zs_json_get(e, v == 1 ? "sha256" : "hash"), "manifest.json",
			      v == 1 ? "files[].sha256" : "files[].hash", ZS_JSON_REQUIRED, &sum, err) < 0)
		return zs_error_wrap(err, "%s", dir);
	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return zs_make_error(err, -EINVAL, "%s/manifest.json: bad file name `%s`", dir, name);
	/* an older manifest listing CRIU's logs or stats, which CRIU rewrote
	 * in place: not needed to restore, not checked */
	if (zs_rem_criu_log_file(name))
		return 0;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return zs_make_error(err, errno == ENOENT ? -ENOENT : errno, "%s/%s: listed in the manifest but %s",
				     dir, name, errno == ENOENT ? "missing" : "not readable");
	if (!S_ISREG(st.st_mode))
		return zs_make_error(err, -EINVAL, "%s/%s: not a regular file", dir, name);
	if ((uint64_t) st.st_size != size)
		return zs_make_error(err, -EBADMSG, "%s/%s: size %llu, manifest says %llu", dir, name,
				     (unsigned long long) st.st_size, (unsigned long long) size);
	if (defer && defer(name) == skip)
		return 0;
	if (hash_file(dfd, dir, name, v, false, hex, &real_size, err) < 0)
		return -1;
	if (strcmp(hex, sum) != 0 || real_size != size)
		return zs_make_error(err, -EBADMSG, "%s/%s: %s %s differs from the manifest's %s", dir, name,
				     v == 1 ? "SHA-256" : "digest (" ZS_DIGEST_NAME ")", hex, sum);
	return 0;
}

static int check_link(int dfd, const char *dir, const zs_json *e, zs_error_t *err)
{
	const char *name = zs_json_string_value(zs_json_get(e, "name"));
	const char *target = zs_json_string_value(zs_json_get(e, "target"));
	char buf[4096];
	ssize_t n;

	if (name == NULL || target == NULL || strchr(name, '/'))
		return zs_make_error(err, -EINVAL, "%s/manifest.json: links[]: needs a name and a target", dir);
	/* the only symlink a generation has is the `parent` the store wrote */
	if (strcmp(name, "parent") != 0)
		return zs_make_error(err, -EBADMSG, "%s/%s: a symlink in the manifest where an image file belongs", dir,
				     name);
	n = readlinkat(dfd, name, buf, sizeof(buf) - 1);
	if (n < 0)
		return zs_make_error(err, errno == ENOENT ? -ENOENT : errno,
				     "%s/%s: link listed in the manifest but %s", dir, name,
				     errno == ENOENT ? "missing" : "not a symlink");
	buf[n] = '\0';
	if (strcmp(buf, target) != 0)
		return zs_make_error(err, -EBADMSG, "%s/%s: points at `%s`, manifest says `%s`", dir, name, buf,
				     target);
	return 0;
}

static int check_extra(const char *dir, const zs_json *files, const zs_json *links, zs_error_t *err)
{
	char **names = NULL;
	size_t n, i;
	bool link;
	int ret = 0;

	if (dir_names(dir, &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n && ret == 0; i++)
		if (!zs_rem_ignored_file(names[i]) && manifest_lookup(files, links, names[i], &link) == NULL)
			ret = zs_make_error(err, -EBADMSG, "%s/%s: not in the manifest (extra file)", dir, names[i]);
	zs_free_string_array(names);
	return ret;
}

static int verify_dir(const char *dir, bool (*defer)(const char *name), bool skip, zs_error_t *err)
{
	cleanup_json zs_json *m = NULL, *l = NULL;
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const zs_json *files, *links;
	const char *mid, *lid, *hash;
	size_t i;
	int v;

	if (dfd < 0)
		return zs_make_error(err, errno, "open `%s`", dir);
	if (read_record(dir, MANIFEST, ZS_MANIFEST_FORMAT, 1, ZS_MANIFEST_VERSION, &m, &v, err) < 0)
		return -1;
	hash = zs_json_string_value(zs_json_get(m, "hash"));
	if (v >= 2 && (hash == NULL || strcmp(hash, ZS_DIGEST_NAME) != 0))
		return zs_make_error(err, -EINVAL, "%s/manifest.json: hash: \"%s\" is not supported (expected \"%s\")",
				     dir, hash ? hash : "(none)", ZS_DIGEST_NAME);
	files = zs_json_get(m, "files");
	links = zs_json_get(m, "links");
	if (zs_json_check_array(files, "manifest.json", "files", ZS_JSON_REQUIRED, err) < 0 ||
	    zs_json_check_array(links, "manifest.json", "links", 0, err) < 0)
		return zs_error_wrap(err, "%s", dir);
	if (check_extra(dir, files, links, err) < 0)
		return -1;
	for (i = 0; i < zs_json_array_len(files); i++)
		if (check_file(dfd, dir, v, zs_json_array_at(files, i), defer, skip, err) < 0)
			return -1;
	for (i = 0; i < zs_json_array_len(links); i++)
		if (check_link(dfd, dir, zs_json_array_at(links, i), err) < 0)
			return -1;
	if (read_record(dir, LINEAGE, ZS_LINEAGE_FORMAT, ZS_REMNANT_VERSION, ZS_REMNANT_VERSION, &l, NULL, err) < 0)
		return -1;
	mid = zs_json_string_value(zs_json_get(m, "image_id"));
	lid = zs_json_string_value(zs_json_get(l, "image_id"));
	if (mid == NULL || lid == NULL || strcmp(mid, lid) != 0)
		return zs_make_error(err, -EBADMSG, "%s/manifest.json: image_id does not match lineage.json's", dir);
	return 0;
}

int zs_rem_verify_dir(const char *dir, zs_error_t *err)
{
	return verify_dir(dir, NULL, true, err);
}

int zs_rem_verify_dir_defer(const char *dir, bool (*defer)(const char *name), zs_error_t *err)
{
	return verify_dir(dir, defer, true, err);
}

int zs_rem_verify_dir_deferred(const char *dir, bool (*defer)(const char *name), zs_error_t *err)
{
	return verify_dir(dir, defer, false, err);
}

int zs_rem_write_lineage(const char *dir, const struct zs_remnant_gen *gen, const char *merged_from, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(true);
	cleanup_free char *text = NULL, *path = xasprintf("%s/%s", dir, LINEAGE);
	size_t len;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "format", ZS_LINEAGE_FORMAT);
	zs_jgen_kv_int(g, "version", ZS_REMNANT_VERSION);
	zs_jgen_kv_string(g, "container", gen->container);
	zs_jgen_kv_string(g, "image_id", gen->image_id);
	zs_jgen_key(g, "parent_image_id");
	gen->parent_image_id ? zs_jgen_string(g, gen->parent_image_id) : zs_jgen_null(g);
	zs_jgen_key(g, "parent");
	gen->parent ? zs_jgen_string(g, gen->parent) : zs_jgen_null(g);
	zs_jgen_kv_string(g, "created", gen->created);
	zs_jgen_kv_string(g, "node", gen->node);
	zs_jgen_kv_string(g, "kind", gen->diff ? "diff" : "full");
	zs_jgen_key(g, "pages");
	zs_jgen_uint(g, gen->pages);
	zs_jgen_key(g, "bytes");
	zs_jgen_uint(g, gen->bytes);
	if (merged_from)
		zs_jgen_kv_string(g, "merged_from", merged_from);
	zs_jgen_map_close(g);
	text = zs_jgen_result(g, &len);
	return write_file_atomic(path, text, len, 0600, err);
}

int zs_rem_read_lineage(const char *dir, struct zs_remnant_gen *g, zs_error_t *err)
{
	cleanup_json zs_json *l = NULL;
	cleanup_free char *kind = NULL;
	const char *f = "lineage.json";

	if (read_record(dir, LINEAGE, ZS_LINEAGE_FORMAT, ZS_REMNANT_VERSION, ZS_REMNANT_VERSION, &l, NULL, err) < 0)
		return -1;
	if (zs_json_to_string(zs_json_get(l, "image_id"), f, "image_id", ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY,
			      &g->image_id, err) < 0 ||
	    zs_json_to_string(zs_json_get(l, "parent_image_id"), f, "parent_image_id", 0, &g->parent_image_id, err) <
		0 ||
	    zs_json_to_string(zs_json_get(l, "parent"), f, "parent", 0, &g->parent, err) < 0 ||
	    zs_json_to_string(zs_json_get(l, "created"), f, "created", ZS_JSON_REQUIRED, &g->created, err) < 0 ||
	    zs_json_to_string(zs_json_get(l, "node"), f, "node", 0, &g->node, err) < 0 ||
	    zs_json_to_string(zs_json_get(l, "kind"), f, "kind", ZS_JSON_REQUIRED, &kind, err) < 0 ||
	    zs_json_to_uint64(zs_json_get(l, "pages"), f, "pages", 0, &g->pages, err) < 0 ||
	    zs_json_to_uint64(zs_json_get(l, "bytes"), f, "bytes", 0, &g->bytes, err) < 0)
		return zs_error_wrap(err, "%s", dir);
	if (strcmp(kind, "full") != 0 && strcmp(kind, "diff") != 0)
		return zs_make_error(err, -EINVAL, "%s/lineage.json: kind: must be \"full\" or \"diff\"", dir);
	g->diff = strcmp(kind, "diff") == 0;
	if (g->diff != (g->parent != NULL) || g->diff != (g->parent_image_id != NULL))
		return zs_make_error(err, -EINVAL,
				     "%s/lineage.json: a diff needs parent and parent_image_id, a full "
				     "generation has neither",
				     dir);
	return 0;
}
