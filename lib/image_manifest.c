/* zanshin — manifests of image directories outside the remnant store
 * (include/zanshin/image_manifest.h has the format).  Written after every
 * dump into --image-path, verified by every restore from one (in parallel
 * with CRIU's restore, before the tasks resume: lib/restore_verify.c) and
 * by `zanshin image check`. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu_image_internal.h"
#include "remnant_internal.h"
#include "zanshin/container_internal.h"
#include "zanshin/criu_image.h"
#include "zanshin/digest.h"
#include "zanshin/image_manifest.h"
#include "zanshin/json.h"
#include "zanshin/utils.h"

#define BLOCKS_MAGIC "zanshin-blocks1\n"
#define BLOCKS_MAGIC_LEN 16u

struct entry {
	char *name;
	uint64_t size;
	uint8_t digest[ZS_DIGEST_LEN];
};

bool zs_image_manifest_file(const char *name)
{
	return strcmp(name, ZS_IMAGE_MANIFEST) == 0 || strcmp(name, ZS_IMAGE_LINEAGE) == 0 ||
	       strcmp(name, ZS_IMAGE_BLOCKS) == 0;
}

/* The block digests of the open file FD (WHAT in errors): *BLOCKS (to
 * free), *N of them, *SIZE bytes. */
/* THREADS: hashing threads (0: every usable core). */
static int hash_blocks(int fd, const char *what, unsigned threads, uint8_t **blocks, uint64_t *n, uint64_t *size,
		       zs_error_t *err)
{
	struct stat st;
	void *p;

	*blocks = NULL;
	if (fstat(fd, &st) < 0)
		return zs_make_error(err, errno, "stat `%s`", what);
	if (!S_ISREG(st.st_mode))
		return zs_make_error(err, -EINVAL, "%s: not a regular file", what);
	*size = st.st_size;
	*n = zs_digest_nblocks(*size);
	*blocks = xmalloc(*n ? *n * ZS_DIGEST_LEN : 1);
	if (*size == 0)
		return 0;
	p = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return zs_make_error(err, errno, "mmap `%s`", what);
	madvise(p, *size, MADV_SEQUENTIAL | MADV_WILLNEED);
	if (zs_digest_blocks(p, *size, *blocks, threads) < 0) {
		munmap(p, *size);
		return zs_make_error(err, EIO, "%s: SHA-256 not available", what);
	}
	munmap(p, *size);
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

static char *hostname(void)
{
	char buf[256] = "";

	gethostname(buf, sizeof(buf) - 1);
	return xstrdup(buf);
}

static int write_lineage(const char *dir, const char *container, const struct zs_image_info *in, zs_error_t *err)
{
	struct zs_remnant_gen g = {0};
	cleanup_free char *created = zs_now_rfc3339(), *node = hostname();

	g.container = (char *) container;
	g.image_id = in->image_id;
	g.parent_image_id = in->parent_image_id;
	g.parent = in->parent_link;
	g.created = created;
	g.node = node;
	g.diff = in->parent_image_id != NULL;
	g.pages = in->pages;
	g.bytes = in->bytes;
	return zs_rem_write_lineage(dir, &g, NULL, err);
}

/* One regular file: fsync'ed, hashed, its block digests appended to *B. */
static int add_file(int dfd, const char *dir, const char *name, struct entry *e, uint8_t **b, size_t *blen,
		    zs_error_t *err)
{
	cleanup_free char *what = xasprintf("%s/%s", dir, name);
	cleanup_close int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_free uint8_t *blocks = NULL;
	uint64_t n;

	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", what);
	if (fsync(fd) < 0)
		return zs_make_error(err, errno, "fsync `%s`", what);
	if (hash_blocks(fd, what, 0, &blocks, &n, &e->size, err) < 0)
		return -1;
	zs_digest_of_blocks(blocks, n, e->digest);
	e->name = xstrdup(name);
	*b = xrealloc(*b, *blen + n * ZS_DIGEST_LEN);
	memcpy(*b + *blen, blocks, n * ZS_DIGEST_LEN);
	*blen += n * ZS_DIGEST_LEN;
	return 0;
}

static void gen_entry(zs_jgen *g, const struct entry *e)
{
	char hex[2 * ZS_DIGEST_LEN + 1];

	zs_digest_hex(e->digest, hex);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "name", e->name);
	zs_jgen_key(g, "size");
	zs_jgen_uint(g, e->size);
	zs_jgen_kv_string(g, "hash", hex);
	zs_jgen_map_close(g);
}

static int write_json(const char *dir, const char *image_id, const struct entry *e, size_t n, const char *parent,
		      zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(true);
	cleanup_free char *text = NULL, *path = xasprintf("%s/%s", dir, ZS_IMAGE_MANIFEST);
	size_t i, len;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "format", ZS_MANIFEST_FORMAT);
	zs_jgen_kv_int(g, "version", ZS_MANIFEST_VERSION);
	zs_jgen_kv_string(g, "hash", ZS_DIGEST_NAME);
	zs_jgen_kv_string(g, "image_id", image_id);
	/* the store's manifests have no block list: a file of that name in a
	 * generation is just a file */
	zs_jgen_kv_string(g, "blocks", ZS_IMAGE_BLOCKS);
	zs_jgen_key(g, "files");
	zs_jgen_array_open(g);
	for (i = 0; i < n; i++)
		gen_entry(g, &e[i]);
	zs_jgen_array_close(g);
	zs_jgen_key(g, "links");
	zs_jgen_array_open(g);
	if (parent) {
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "name", "parent");
		zs_jgen_kv_string(g, "target", parent);
		zs_jgen_map_close(g);
	}
	zs_jgen_array_close(g);
	zs_jgen_map_close(g);
	text = zs_jgen_result(g, &len);
	return write_file_atomic(path, text, len, 0600, err);
}

/* What the manifest lists: regular files but CRIU's logs and stats and
 * the manifest's own files (directories, sockets are left alone). */
static bool listed(int dfd, const char *name)
{
	struct stat st;

	if (zs_image_manifest_file(name) || zs_image_log_file(name) || strcmp(name, "parent") == 0)
		return false;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static void entries_free(struct entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

static int write_files(int dfd, const char *dir, const struct zs_image_info *in, zs_error_t *err)
{
	cleanup_free uint8_t *b = xmalloc(BLOCKS_MAGIC_LEN);
	cleanup_free char *bpath = xasprintf("%s/%s", dir, ZS_IMAGE_BLOCKS);
	struct entry *e = NULL;
	size_t blen = BLOCKS_MAGIC_LEN, n = 0, cnt = 0, i;
	char **names = NULL;
	int ret = 0;

	memcpy(b, BLOCKS_MAGIC, BLOCKS_MAGIC_LEN);
	if (zs_img_list(dfd, dir, NULL, &names, &n, err) < 0)
		return -1;
	e = xzalloc(sizeof(*e) * (n + 1));
	for (i = 0; i < n && ret == 0; i++)
		if (listed(dfd, names[i]))
			ret = add_file(dfd, dir, names[i], &e[cnt++], &b, &blen, err);
	zs_img_list_free(names, n);
	if (ret == 0)
		ret = write_file_atomic(bpath, b, blen, 0600, err);
	if (ret == 0) {
		e[cnt].name = xstrdup(ZS_IMAGE_BLOCKS);
		e[cnt].size = blen;
		zs_digest_buf(b, blen, e[cnt++].digest);
		ret = write_json(dir, in->image_id, e, cnt, in->parent_link, err);
	}
	entries_free(e, cnt);
	return ret;
}

int zs_image_manifest_write(const char *dir, const char *container, zs_error_t *err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct zs_image_info in = {0};
	int ret;

	if (dfd < 0)
		return zs_make_error(err, errno, "open `%s`", dir);
	/* a manifest of the previous image here would describe other files */
	if (unlinkat(dfd, ZS_IMAGE_MANIFEST, 0) < 0 && errno != ENOENT)
		return zs_make_error(err, errno, "remove `%s/%s`", dir, ZS_IMAGE_MANIFEST);
	ret = zs_image_info(dir, &in, err);
	if (ret == 0 && in.image_id)
		ret = write_lineage(dir, container ? container : "", &in, err);
	if (ret == 0 && in.image_id)
		ret = write_files(dfd, dir, &in, err);
	if (ret == 0 && fsync(dfd) < 0)
		ret = zs_make_error(err, errno, "fsync `%s`", dir);
	zs_image_info_free(&in);
	return ret < 0 ? zs_error_wrap(err, "manifest of `%s`", dir) : 0;
}

/* ---- verifying ---------------------------------------------------------- */

struct vctx {
	int dfd;
	const char *dir;
	const zs_json *files;
	uint8_t *blocks; /* manifest.blocks after its magic, or NULL */
	uint64_t nblocks;
	unsigned threads;
	zs_manifest_defer_fn defer; /* may take a file (with manifest.blocks only) */
	void *defer_arg;
};

static const zs_json *find_entry(const zs_json *files, const char *name)
{
	size_t i;

	for (i = 0; i < zs_json_array_len(files); i++) {
		const char *n = zs_json_string_value(zs_json_get(zs_json_array_at(files, i), "name"));
		if (n && strcmp(n, name) == 0)
			return zs_json_array_at(files, i);
	}
	return NULL;
}

static int entry_fields(const struct vctx *v, const zs_json *e, char **name, uint64_t *size, uint8_t dig[32],
			zs_error_t *err)
{
	cleanup_free char *hex = NULL;
	unsigned i;

	if (zs_json_to_string(zs_json_get(e, "name"), "manifest.json", "files[].name", ZS_JSON_REQUIRED, name, err) <
		0 ||
	    zs_json_to_uint64(zs_json_get(e, "size"), "manifest.json", "files[].size", ZS_JSON_REQUIRED, size, err) <
		0 ||
	    zs_json_to_string(zs_json_get(e, "hash"), "manifest.json", "files[].hash", ZS_JSON_REQUIRED, &hex, err) < 0)
		return zs_error_wrap(err, "%s", v->dir);
	if (strchr(*name, '/') || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0 || **name == '\0')
		return zs_make_error(err, -EINVAL, "%s/manifest.json: bad file name `%s`", v->dir, *name);
	if (strlen(hex) != 2 * ZS_DIGEST_LEN)
		return zs_make_error(err, -EINVAL, "%s/manifest.json: %s: hash is not 64 hex digits", v->dir, *name);
	for (i = 0; i < ZS_DIGEST_LEN; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &dig[i]) != 1)
			return zs_make_error(err, -EINVAL, "%s/manifest.json: %s: hash is not hex", v->dir, *name);
	return 0;
}

/* The first block of NAME whose digest differs from manifest.blocks (at
 * block OFF there), as an error. */
static int block_error(const struct vctx *v, const char *name, const uint8_t *blocks, uint64_t n, uint64_t off,
		       zs_error_t *err)
{
	uint64_t i;

	for (i = 0; v->blocks && off + n <= v->nblocks && i < n; i++)
		if (memcmp(blocks + i * ZS_DIGEST_LEN, v->blocks + (off + i) * ZS_DIGEST_LEN, ZS_DIGEST_LEN) != 0)
			return zs_make_error(err, -EBADMSG,
					     "%s/%s: block %llu (bytes %llu to %llu) differs from the manifest: the "
					     "image is corrupt",
					     v->dir, name, (unsigned long long) i,
					     (unsigned long long) (i * ZS_DIGEST_BLOCK),
					     (unsigned long long) ((i + 1) * ZS_DIGEST_BLOCK - 1));
	return zs_make_error(err, -EBADMSG,
			     "%s/%s: its digest (" ZS_DIGEST_NAME ") differs from the manifest: the "
			     "image is corrupt",
			     v->dir, name);
}

/* V->defer takes NAME: its size checked here, its slice of manifest.blocks
 * against its digest in manifest.json (so each block's digest is as
 * trusted as the file's); the caller checks the blocks it uses.  1 taken
 * (*OFF moved on), 0 not taken, < 0 an error. */
static int defer_file(const struct vctx *v, const char *name, const char *what, int fd, uint64_t size,
		      const uint8_t want[ZS_DIGEST_LEN], uint64_t *off, zs_error_t *err)
{
	uint64_t n = zs_digest_nblocks(size);
	uint8_t got[ZS_DIGEST_LEN];
	struct stat st;
	int ret;

	if (fstat(fd, &st) < 0)
		return zs_make_error(err, errno, "stat `%s`", what);
	if (!S_ISREG(st.st_mode))
		return zs_make_error(err, -EINVAL, "%s: not a regular file", what);
	if ((uint64_t) st.st_size != size)
		return zs_make_error(err, -EBADMSG, "%s: %llu bytes, the manifest says %llu: the image is corrupt",
				     what, (unsigned long long) st.st_size, (unsigned long long) size);
	if (*off > v->nblocks || n > v->nblocks - *off)
		return zs_make_error(err, -EBADMSG, "%s/%s: fewer block digests than the files have blocks", v->dir,
				     ZS_IMAGE_BLOCKS);
	zs_digest_of_blocks(v->blocks + *off * ZS_DIGEST_LEN, n, got);
	if (memcmp(got, want, ZS_DIGEST_LEN) != 0)
		return zs_make_error(err, -EBADMSG, "%s/%s: the block digests of %s differ from its digest in %s",
				     v->dir, ZS_IMAGE_BLOCKS, name, ZS_IMAGE_MANIFEST);
	ret = v->defer(v->defer_arg, v->dir, name, fd, &st, v->blocks + *off * ZS_DIGEST_LEN, n, err);
	if (ret > 0)
		*off += n;
	return ret;
}

/* One file of files[]; *OFF: its first block in manifest.blocks. */
static int check_file(const struct vctx *v, const zs_json *e, uint64_t *off, zs_error_t *err)
{
	cleanup_free char *name = NULL, *what = NULL;
	cleanup_free uint8_t *blocks = NULL;
	cleanup_close int fd = -1;
	uint8_t want[ZS_DIGEST_LEN], got[ZS_DIGEST_LEN];
	uint64_t size, real, n;
	int ret;

	if (entry_fields(v, e, &name, &size, want, err) < 0)
		return -1;
	if (v->blocks && strcmp(name, ZS_IMAGE_BLOCKS) == 0)
		return 0; /* checked first */
	what = xasprintf("%s/%s", v->dir, name);
	fd = openat(v->dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return zs_make_error(err, errno == ENOENT ? -ENOENT : errno, "%s: listed in the manifest but %s", what,
				     errno == ENOENT ? "missing" : "not readable (or a symlink)");
	if (v->defer && v->blocks) {
		ret = defer_file(v, name, what, fd, size, want, off, err);
		if (ret != 0)
			return ret < 0 ? ret : 0;
	}
	ret = hash_blocks(fd, what, v->threads, &blocks, &n, &real, err);
	if (ret < 0)
		return ret;
	if (real != size)
		return zs_make_error(err, -EBADMSG, "%s: %llu bytes, the manifest says %llu: the image is corrupt",
				     what, (unsigned long long) real, (unsigned long long) size);
	zs_digest_of_blocks(blocks, n, got);
	ret = memcmp(got, want, ZS_DIGEST_LEN) == 0 ? 0 : block_error(v, name, blocks, n, *off, err);
	*off += n;
	return ret;
}

/* manifest.blocks, checked against its entry: V->blocks. */
static int load_blocks(struct vctx *v, const zs_json *m, uint8_t **buf, zs_error_t *err)
{
	const char *named = zs_json_string_value(zs_json_get(m, "blocks"));
	const zs_json *e = named && strcmp(named, ZS_IMAGE_BLOCKS) == 0 ? find_entry(v->files, ZS_IMAGE_BLOCKS) : NULL;
	cleanup_free char *name = NULL, *path = NULL;
	uint8_t want[ZS_DIGEST_LEN], got[ZS_DIGEST_LEN];
	uint64_t size;
	size_t len;

	if (e == NULL)
		return 0; /* a manifest without block digests: mismatches name the file */
	if (entry_fields(v, e, &name, &size, want, err) < 0)
		return -1;
	path = xasprintf("%s/%s", v->dir, ZS_IMAGE_BLOCKS);
	if (read_file(path, (char **) buf, &len, err) < 0)
		return zs_error_wrap(err, "listed in the manifest");
	zs_digest_buf(*buf, len, got);
	if (len != size || memcmp(got, want, ZS_DIGEST_LEN) != 0)
		return zs_make_error(err, -EBADMSG, "%s: differs from the manifest: the image is corrupt", path);
	if (len < BLOCKS_MAGIC_LEN || memcmp(*buf, BLOCKS_MAGIC, BLOCKS_MAGIC_LEN) != 0 ||
	    (len - BLOCKS_MAGIC_LEN) % ZS_DIGEST_LEN)
		return zs_make_error(err, -EINVAL, "%s: not a zanshin block list", path);
	v->blocks = *buf + BLOCKS_MAGIC_LEN;
	v->nblocks = (len - BLOCKS_MAGIC_LEN) / ZS_DIGEST_LEN;
	return 0;
}

/* Every *.img and the `parent` link are in the manifest (CRIU would read
 * an image file planted next to the others). */
static int check_extra(const struct vctx *v, const zs_json *links, zs_error_t *err)
{
	char **names = NULL;
	size_t n = 0, i, l;
	int ret = 0;

	if (zs_img_list(v->dfd, v->dir, NULL, &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n && ret == 0; i++) {
		l = strlen(names[i]);
		if (strcmp(names[i], "parent") == 0 && zs_json_array_len(links) == 0)
			ret = zs_make_error(err, -EBADMSG, "%s/parent: not in the manifest (a parent link added)",
					    v->dir);
		else if (l > 4 && strcmp(names[i] + l - 4, ".img") == 0 && !zs_image_log_file(names[i]) &&
			 find_entry(v->files, names[i]) == NULL)
			ret = zs_make_error(err, -EBADMSG, "%s/%s: not in the manifest (an image file added)", v->dir,
					    names[i]);
	}
	zs_img_list_free(names, n);
	return ret;
}

static int check_links(const struct vctx *v, const zs_json *links, zs_error_t *err)
{
	size_t i;

	for (i = 0; i < zs_json_array_len(links); i++) {
		const char *name = zs_json_string_value(zs_json_get(zs_json_array_at(links, i), "name"));
		const char *target = zs_json_string_value(zs_json_get(zs_json_array_at(links, i), "target"));
		char buf[4096];
		ssize_t n;

		if (name == NULL || target == NULL || strcmp(name, "parent") != 0)
			return zs_make_error(err, -EINVAL, "%s/manifest.json: links[]: only `parent`, with a target",
					     v->dir);
		n = readlinkat(v->dfd, name, buf, sizeof(buf) - 1);
		if (n < 0)
			return zs_make_error(err, errno == ENOENT ? -ENOENT : errno,
					     "%s/parent: listed in the manifest but %s", v->dir,
					     errno == ENOENT ? "missing" : "not a symlink");
		buf[n] = '\0';
		if (strcmp(buf, target) != 0)
			return zs_make_error(err, -EBADMSG, "%s/parent: points at `%s`, the manifest says `%s`", v->dir,
					     buf, target);
	}
	return 0;
}

/* manifest.json's image_id is the inventory's and lineage.json's. */
static int check_ids(const struct vctx *v, const zs_json *m, zs_error_t *err)
{
	cleanup_free char *lpath = xasprintf("%s/%s", v->dir, ZS_IMAGE_LINEAGE);
	cleanup_json zs_json *l = NULL;
	struct zs_image_info in = {0};
	const char *mid = zs_json_string_value(zs_json_get(m, "image_id")), *lid;
	int ret = 0;

	if (zs_json_parse_file(lpath, lpath, &l, err) < 0)
		return -1;
	lid = zs_json_string_value(zs_json_get(l, "image_id"));
	if (mid == NULL || lid == NULL || strcmp(mid, lid) != 0)
		return zs_make_error(err, -EBADMSG, "%s/manifest.json: image_id does not match lineage.json's", v->dir);
	if (zs_image_info(v->dir, &in, err) < 0)
		return -1;
	if (in.image_id == NULL || strcmp(in.image_id, mid) != 0)
		ret = zs_make_error(err, -EBADMSG, "%s/inventory.img: image id %s, the manifest is of image %s", v->dir,
				    in.image_id ? in.image_id : "(none)", mid);
	zs_image_info_free(&in);
	return ret;
}

/* *V: the manifest's version; 1 (a store generation written before 0.2,
 * plain SHA-256 per file) is verified by the store's code. */
static int read_manifest(const char *dir, zs_json **m, int64_t *v, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, ZS_IMAGE_MANIFEST);
	const char *fmt, *hash;
	int64_t version = 0;

	if (zs_json_parse_file(path, path, m, err) < 0)
		return -1;
	fmt = zs_json_string_value(zs_json_get(*m, "format"));
	hash = zs_json_string_value(zs_json_get(*m, "hash"));
	if (fmt == NULL || strcmp(fmt, ZS_MANIFEST_FORMAT) != 0)
		return zs_make_error(err, -EINVAL, "%s: format: expected \"%s\"", path, ZS_MANIFEST_FORMAT);
	if (zs_json_to_int64(zs_json_get(*m, "version"), path, "version", ZS_JSON_REQUIRED, &version, err) < 0)
		return -1;
	*v = version;
	if (version == 1)
		return 0;
	if (version != ZS_MANIFEST_VERSION || hash == NULL || strcmp(hash, ZS_DIGEST_NAME) != 0)
		return zs_make_error(err, -EINVAL, "%s: version %lld, hash \"%s\": expected %d and \"%s\"", path,
				     (long long) version, hash ? hash : "(none)", ZS_MANIFEST_VERSION, ZS_DIGEST_NAME);
	return 0;
}

static int verify(struct vctx *v, const zs_json *m, zs_error_t *err)
{
	cleanup_free uint8_t *bbuf = NULL;
	const zs_json *links = zs_json_get(m, "links");
	uint64_t off = 0;
	size_t i;

	v->files = zs_json_get(m, "files");
	if (zs_json_check_array(v->files, "manifest.json", "files", ZS_JSON_REQUIRED, err) < 0 ||
	    zs_json_check_array(links, "manifest.json", "links", 0, err) < 0)
		return zs_error_wrap(err, "%s", v->dir);
	if (check_ids(v, m, err) < 0 || check_extra(v, links, err) < 0 || check_links(v, links, err) < 0 ||
	    load_blocks(v, m, &bbuf, err) < 0)
		return -1;
	for (i = 0; i < zs_json_array_len(v->files); i++)
		if (check_file(v, zs_json_array_at(v->files, i), &off, err) < 0)
			return -1;
	if (v->blocks && off != v->nblocks)
		return zs_make_error(err, -EBADMSG, "%s/%s: %llu block digests, the files have %llu", v->dir,
				     ZS_IMAGE_BLOCKS, (unsigned long long) v->nblocks, (unsigned long long) off);
	return 1;
}

static int verify_dir(const char *dir, unsigned threads, zs_manifest_defer_fn defer, void *arg, zs_error_t *err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_json zs_json *m = NULL;
	struct vctx v = {.dfd = dfd, .dir = dir, .threads = threads, .defer = defer, .defer_arg = arg};
	int64_t version = 0;

	if (dfd < 0)
		return zs_make_error(err, errno, "open `%s`", dir);
	if (faccessat(dfd, ZS_IMAGE_MANIFEST, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return 0;
	if (read_manifest(dir, &m, &version, err) < 0)
		return -1;
	if (version == 1)
		return zs_rem_verify_dir(dir, err) < 0 ? -1 : 1;
	return verify(&v, m, err);
}

int zs_image_manifest_verify_threads(const char *dir, unsigned threads, zs_error_t *err)
{
	return verify_dir(dir, threads, NULL, NULL, err);
}

int zs_image_manifest_verify_deferred(const char *dir, zs_manifest_defer_fn defer, void *arg, zs_error_t *err)
{
	return verify_dir(dir, 0, defer, arg, err);
}

bool zs_image_has_manifest(const char *dir)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, ZS_IMAGE_MANIFEST);

	return access(path, F_OK) == 0;
}

int zs_image_manifest_has_blocks(const char *dir)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_json zs_json *m = NULL;
	const char *named;
	int64_t version = 0;

	if (!zs_image_has_manifest(dir) || read_manifest(dir, &m, &version, &e) < 0 || version == 1)
		return 0;
	named = zs_json_string_value(zs_json_get(m, "blocks"));
	return named != NULL && strcmp(named, ZS_IMAGE_BLOCKS) == 0;
}

int zs_image_manifest_verify(const char *dir, zs_error_t *err)
{
	return zs_image_manifest_verify_threads(dir, 0, err);
}

char **zs_image_chain_dirs(const char *dir, size_t *n)
{
	char **dirs = xzalloc(sizeof(char *) * (ZS_IMAGE_MAX_CHAIN + 1));
	cleanup_free char *cur = xstrdup(dir);
	size_t cnt = 0;

	while (cnt < ZS_IMAGE_MAX_CHAIN) {
		cleanup_free char *link = xasprintf("%s/parent", cur);
		char *real;
		dirs[cnt++] = xstrdup(cur);
		real = realpath(link, NULL);
		if (real == NULL)
			break;
		free(cur);
		cur = real;
	}
	*n = cnt;
	return dirs;
}

int zs_image_manifest_verify_chain(const char *dir, unsigned *verified, unsigned *without, zs_error_t *err)
{
	size_t n, i;
	char **dirs = zs_image_chain_dirs(dir, &n);
	int ret = 0, r;

	*verified = *without = 0;
	for (i = 0; i < n && ret == 0; i++) {
		r = zs_image_manifest_verify(dirs[i], err);
		if (r < 0)
			ret = -1;
		else
			(*(r ? verified : without))++;
	}
	for (i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	return ret;
}
