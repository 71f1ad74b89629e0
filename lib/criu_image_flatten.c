/* zanshin — zs_image_flatten(): a chain of diff images (pagemap entries
 * with PE_PARENT, resolved through `parent` symlinks) written out as one
 * full image.
 *
 * For each pagemap*-*.img of LEAF, CRIU reads a PE_PARENT range from the
 * same-named pagemap of the parent directory, entry by entry, walking up
 * while the parent's entry is PE_PARENT itself (criu/pagemap.c
 * read_parent_page); pages of a PE_PRESENT entry sit in pages-<id>.img in
 * pagemap order.  We do the same by virtual address and copy runs of pages
 * with copy_file_range, merging runs that are contiguous in the source.
 *
 * zs_image_flatten_hashed() also computes the digest (sha256-4k,
 * include/zanshin/digest.h) of every file it writes.  There the source
 * pages files are mapped and the runs recorded first; then the digest of
 * every 4096-byte page of every source pages file is computed, on every
 * core, while the caller's thread writes the runs from the same mapped
 * bytes.  The sources' digests come from their page digests (so a caller
 * can check the sources against its records without a pass of its own),
 * and so does the output's: its pages are the sources' pages, in the
 * order of the runs, so its page digests are theirs — one SHA-256 pass
 * over the image, not two.  Nothing is copied through a buffer but by the
 * write itself.  After fsync the output is read back and compared with
 * the sources (see read_back()). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu_image_internal.h"
#include "zanshin/criu_image.h"
#include "zanshin/digest.h"
#include "zanshin/image_manifest.h"
#include "zanshin/utils.h"

struct level {
	char *dir; /* as named in errors: LEAF, LEAF/parent, LEAF/parent/parent... */
	int dfd;
};

struct hashing {
	zs_flatten_digest_cb cb;
	void *arg;
};

struct chain {
	struct level lv[ZS_IMAGE_MAX_CHAIN];
	unsigned n;
	struct zs_inventory leaf_inv;
	const struct hashing *h; /* zs_image_flatten_hashed(), else NULL */
};

/* One pagemap file along the chain. */
struct pm_src {
	bool loaded, absent;
	struct zs_pagemap pm;
	int pages_fd;
	/* hashed flatten: the pages file mapped whole, the digests of its
	 * pages (blocks) and its own */
	const uint8_t *map;
	uint64_t map_len;
	uint8_t *blk;
	unsigned char sha[ZS_DIGEST_LEN];
	bool sha_ok;
};

/* hashed flatten: a run of the output, LEN bytes at OFF of SRC's pages */
struct run {
	struct pm_src *src;
	uint64_t off, len;
};

struct flat {
	struct chain *c;
	const char *name; /* the pagemap file */
	struct pm_src src[ZS_IMAGE_MAX_CHAIN];
	int out_fd;
	uint64_t out_off;
	/* the pending run */
	int run_fd;
	uint64_t run_off, run_len;
	uint64_t synced; /* output bytes handed to writeback */
	bool no_cfr;	 /* copy_file_range unusable here: pread/pwrite */
	char *buf;
	zs_digest *copy_dig; /* hashed copy_file(): what copy_rw() writes */
	/* hashed flatten (h != NULL): runs recorded, written by write_runs() */
	const struct hashing *h;
	struct pm_src *run_src;
	struct run *runs;
	size_t n_runs, cap_runs;
};

static void chain_free(struct chain *c)
{
	unsigned i;

	for (i = 0; i < c->n; i++) {
		free(c->lv[i].dir);
		if (c->lv[i].dfd >= 0)
			close(c->lv[i].dfd);
	}
	zs_inventory_free(&c->leaf_inv);
}

/* Add the parent of the last level: 0, 1 when there is none, or an error.
 * *pid is the child's parent_image_id on entry (NULL: a stock CRIU image,
 * nothing to check) and the new level's on return. */
static int chain_up(struct chain *c, char **pid, zs_error_t *err)
{
	struct level *cur = &c->lv[c->n - 1], *up;
	char target[4096];
	struct stat st, pst;
	struct zs_inventory inv;
	ssize_t len;
	unsigned i;
	int fd, ret = 0;

	len = readlinkat(cur->dfd, "parent", target, sizeof(target) - 1);
	if (len < 0 && errno == ENOENT)
		return 1;
	if (len < 0)
		return zs_make_error(err, errno, "%s/parent: not a symlink to the parent image", cur->dir);
	target[len] = '\0';
	if (c->n >= ZS_IMAGE_MAX_CHAIN)
		return zs_make_error(err, -ELOOP, "%s: chain deeper than %d images", c->lv[0].dir, ZS_IMAGE_MAX_CHAIN);
	fd = openat(cur->dfd, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return zs_make_error(err, errno, "%s/parent -> %s: missing parent image", cur->dir, target);
	up = &c->lv[c->n++];
	up->dir = xasprintf("%s/parent", cur->dir);
	up->dfd = fd;
	if (fstat(fd, &pst) < 0)
		return zs_make_error(err, errno, "%s", up->dir);
	for (i = 0; i + 1 < c->n; i++)
		if (fstat(c->lv[i].dfd, &st) == 0 && st.st_dev == pst.st_dev && st.st_ino == pst.st_ino)
			return zs_make_error(err, -ELOOP, "%s -> %s: a loop in the parent chain (back to %s)", up->dir,
					     target, c->lv[i].dir);
	if (zs_inventory_read(fd, up->dir, &inv, err) < 0)
		return -1;
	if (*pid && (!inv.image_id || strcmp(inv.image_id, *pid) != 0))
		ret = zs_make_error(err, -EINVAL,
				    "%s -> %s: image id %s is not the parent_image_id %s of %s: a parent from another "
				    "lineage",
				    up->dir, target, inv.image_id ? inv.image_id : "(none)", *pid, cur->dir);
	free(*pid);
	*pid = steal_pointer(&inv.parent_image_id);
	zs_inventory_free(&inv);
	return ret;
}

static int chain_open(const char *leaf, struct chain *c, zs_error_t *err)
{
	cleanup_free char *pid = NULL;
	int r;

	memset(c, 0, sizeof(*c));
	c->lv[0].dir = xstrdup(leaf);
	c->lv[0].dfd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	c->n = 1;
	if (c->lv[0].dfd < 0)
		return zs_make_error(err, errno, "%s", leaf);
	if (zs_inventory_read(c->lv[0].dfd, leaf, &c->leaf_inv, err) < 0)
		return -1;
	if (c->leaf_inv.parent_image_id)
		pid = xstrdup(c->leaf_inv.parent_image_id);
	while ((r = chain_up(c, &pid, err)) == 0)
		;
	return r < 0 ? -1 : 0;
}

/* ---- copying ---- */

#define COPY_BUF (8u << 20)

static int copy_rw(struct flat *f, int in, uint64_t off, uint64_t len, uint64_t out_off, zs_error_t *err)
{
	if (!f->buf)
		f->buf = xmalloc(COPY_BUF);
	while (len) {
		size_t chunk = len < COPY_BUF ? len : COPY_BUF;
		ssize_t n = pread(in, f->buf, chunk, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return zs_make_error(err, errno, "read pages");
		if (n == 0)
			return zs_make_error(err, -EIO, "pages file ends at offset %" PRIu64, off);
		if (f->copy_dig)
			zs_digest_update(f->copy_dig, f->buf, n);
		{
			ssize_t w;
			errno = 0; /* a short write leaves errno alone: ENOSPC */
			w = pwrite(f->out_fd, f->buf, n, out_off);
			if (w != n)
				return zs_make_error(err, w < 0 ? errno : ENOSPC, "write pages");
		}
		off += n, out_off += n, len -= n;
	}
	return 0;
}

/* Copy LEN bytes at OFF of IN to OUT_OFF of the output; copy_file_range,
 * or read/write where the kernel cannot (EXDEV, EINVAL, ENOSYS...). */
static int copy_range(struct flat *f, int in, uint64_t off, uint64_t len, uint64_t out_off, zs_error_t *err)
{
	while (len && !f->no_cfr) {
		loff_t io = off, oo = out_off;
		ssize_t n = copy_file_range(in, &io, f->out_fd, &oo, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
			f->no_cfr = true;
			break;
		}
		if (n < 0)
			return zs_make_error(err, errno, "copy pages");
		if (n == 0)
			return zs_make_error(err, -EIO, "pages file ends at offset %" PRIu64, off);
		off += n, out_off += n, len -= n;
	}
	return len ? copy_rw(f, in, off, len, out_off, err) : 0;
}

/* Start writeback every WB_CHUNK so that it runs while we copy and the
 * final fsync has little left to wait for. */
#define WB_CHUNK (8ull << 20)

static void run_record(struct flat *f)
{
	if (f->n_runs == f->cap_runs) {
		f->cap_runs = f->cap_runs ? 2 * f->cap_runs : 256;
		f->runs = xrealloc(f->runs, f->cap_runs * sizeof(*f->runs));
	}
	f->runs[f->n_runs++] = (struct run){.src = f->run_src, .off = f->run_off, .len = f->run_len};
	f->out_off += f->run_len;
	f->run_len = 0;
}

static int run_flush(struct flat *f, zs_error_t *err)
{
	if (f->run_len == 0)
		return 0;
	if (f->h) {
		run_record(f);
		return 0;
	}
	if (copy_range(f, f->run_fd, f->run_off, f->run_len, f->out_off, err) < 0)
		return -1;
	f->out_off += f->run_len;
	f->run_len = 0;
	if (f->out_off - f->synced >= WB_CHUNK) {
		sync_file_range(f->out_fd, f->synced, f->out_off - f->synced, SYNC_FILE_RANGE_WRITE);
		f->synced = f->out_off;
	}
	return 0;
}

static int run_add(struct flat *f, struct pm_src *s, uint64_t off, uint64_t len, zs_error_t *err)
{
	if (f->run_len && f->run_src == s && f->run_off + f->run_len == off) {
		f->run_len += len;
		return 0;
	}
	if (run_flush(f, err) < 0)
		return -1;
	f->run_src = s;
	f->run_fd = s->pages_fd;
	f->run_off = off;
	f->run_len = len;
	return 0;
}

/* ---- resolving pages along the chain ---- */

/* The whole pages file, mapped read-only: every thread reads it in place.
 * The store's lock keeps it from being truncated under us. */
static int src_map(struct pm_src *s, const char *dir, const char *pages, zs_error_t *err)
{
	struct stat st;
	void *m;

	if (fstat(s->pages_fd, &st) < 0)
		return zs_make_error(err, errno, "%s/%s", dir, pages);
	s->map_len = st.st_size;
	if (st.st_size == 0)
		return 0;
	/* not MAP_POPULATE: the hashing threads fault it in, in parallel */
	m = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, s->pages_fd, 0);
	if (m == MAP_FAILED)
		return zs_make_error(err, errno, "%s/%s: mmap", dir, pages);
	s->map = m;
	return 0;
}

static int src_load(struct flat *f, unsigned lvl, zs_error_t *err)
{
	struct pm_src *s = &f->src[lvl];
	struct level *l = &f->c->lv[lvl];
	char pages[64];
	struct stat st;

	if (s->loaded)
		return 0;
	s->loaded = true;
	s->pages_fd = -1;
	if (faccessat(l->dfd, f->name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
		s->absent = true;
		return 0;
	}
	if (zs_pagemap_read(l->dfd, l->dir, f->name, &s->pm, err) < 0)
		return -1;
	snprintf(pages, sizeof(pages), "pages-%" PRIu32 ".img", s->pm.pages_id);
	if (faccessat(l->dfd, pages, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
		if (s->pm.present_pages)
			return zs_make_error(err, ENOENT, "%s/%s", l->dir, pages);
	} else {
		s->pages_fd = zs_img_open(l->dfd, l->dir, pages, NULL, err);
		if (s->pages_fd < 0)
			return -1;
	}
	if (s->pages_fd >= 0 && fstat(s->pages_fd, &st) == 0 &&
	    (uint64_t) st.st_size < s->pm.present_pages * ZS_IMG_PAGE_SIZE)
		return zs_make_error(err, -EINVAL, "%s/%s: truncated (%" PRIu64 " bytes, %s has %" PRIu64 " pages)",
				     l->dir, pages, (uint64_t) st.st_size, f->name, s->pm.present_pages);
	if (f->h && s->pages_fd >= 0)
		return src_map(s, l->dir, pages, err);
	return 0;
}

static int resolve(struct flat *f, unsigned lvl, uint64_t va, uint64_t nr, zs_error_t *err)
{
	while (nr) {
		struct pm_src *s = &f->src[lvl];
		const struct zs_pm_entry *e;
		uint64_t k, skip;
		long i;

		if (lvl >= f->c->n)
			return zs_make_error(err, -EINVAL,
					     "%s/%s: pages at %#" PRIx64 " are in the parent, and there is "
					     "no parent image",
					     f->c->lv[lvl - 1].dir, f->name, va);
		if (src_load(f, lvl, err) < 0)
			return -1;
		if (s->absent)
			return zs_make_error(err, -ENOENT, "%s/%s: missing, its child refers to pages at %#" PRIx64,
					     f->c->lv[lvl].dir, f->name, va);
		i = zs_pagemap_find(&s->pm, va);
		if (i < 0)
			return zs_make_error(err, -EINVAL,
					     "%s/%s: no entry for page %#" PRIx64 " (its child refers to it)",
					     f->c->lv[lvl].dir, f->name, va);
		e = &s->pm.e[i];
		skip = (va - e->vaddr) / ZS_IMG_PAGE_SIZE;
		k = e->nr_pages - skip < nr ? e->nr_pages - skip : nr;
		if (e->flags & ZS_PE_PARENT) {
			if (resolve(f, lvl + 1, va, k, err) < 0)
				return -1;
		} else if (e->flags & ZS_PE_PRESENT) {
			if (run_add(f, s, e->off + skip * ZS_IMG_PAGE_SIZE, k * ZS_IMG_PAGE_SIZE, err) < 0)
				return -1;
		} else {
			return zs_make_error(err, -EINVAL,
					     "%s/%s: pages at %#" PRIx64 " are lazy (on a page server), "
					     "not in the image",
					     f->c->lv[lvl].dir, f->name, va);
		}
		va += k * ZS_IMG_PAGE_SIZE;
		nr -= k;
	}
	return 0;
}

/* ---- output files ---- */

static void report_init(struct zs_flatten_digest *d, const char *dir, const char *name, uint64_t size)
{
	memset(d, 0, sizeof(*d));
	d->dir = dir;
	d->name = name;
	d->size = size;
}

static int create_out(int odfd, const char *out, const char *name, mode_t mode, zs_error_t *err)
{
	int fd = openat(odfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);

	if (fd < 0)
		return zs_make_error(err, errno, "%s/%s", out, name);
	return fd;
}

static int finish_out(int fd, const char *out, const char *name, zs_error_t *err)
{
	if (fsync(fd) < 0)
		return zs_make_error(err, errno, "%s/%s: fsync", out, name);
	return 0;
}

/* hashed flatten: the digest of a file of OUT, from what was written */
static int report_out(const struct hashing *h, const char *out, const char *name, uint64_t size,
		      const unsigned char sha[32], zs_error_t *err)
{
	struct zs_flatten_digest d;

	if (h == NULL)
		return 0;
	report_init(&d, out, name, size);
	memcpy(d.digest, sha, ZS_DIGEST_LEN);
	return h->cb(h->arg, &d, err);
}

static int write_buf_file(const struct hashing *h, int odfd, const char *out, const char *name, const struct zs_buf *b,
			  struct zs_flatten_stats *st, zs_error_t *err)
{
	cleanup_close int fd = create_out(odfd, out, name, 0600, err);
	unsigned char sha[ZS_DIGEST_LEN];

	if (fd < 0)
		return -1;
	if (write_all(fd, b->p, b->len) < 0)
		return zs_make_error(err, errno, "%s/%s: write", out, name);
	st->bytes += b->len;
	if (finish_out(fd, out, name, err) < 0)
		return -1;
	if (h && zs_digest_buf(b->p ? (const void *) b->p : "", b->len, sha) < 0)
		return zs_make_error(err, EIO, "%s/%s: SHA-256 not available", out, name);
	return report_out(h, out, name, b->len, sha, err);
}

static void put_entry(struct zs_buf *b, const struct zs_buf *msg)
{
	zs_buf_put_u32(b, (uint32_t) msg->len);
	zs_buf_put(b, msg->p, msg->len);
}

/* The new pagemap: LEAF's entries, all PE_PRESENT, as CRIU writes them
 * (vaddr, compat_nr_pages 0, flags, nr_pages). */
static void build_pagemap(const struct zs_pagemap *pm, struct zs_buf *b)
{
	struct zs_buf m = {0};
	size_t i;

	zs_buf_put_u32(b, ZS_IMG_COMMON_MAGIC);
	zs_buf_put_u32(b, ZS_PAGEMAP_MAGIC);
	zs_pb_put_uint_field(&m, 1, pm->pages_id);
	put_entry(b, &m);
	for (i = 0; i < pm->n; i++) {
		const struct zs_pm_entry *e = &pm->e[i];

		m.len = 0;
		zs_pb_put_uint_field(&m, 1, e->vaddr);
		zs_pb_put_uint_field(&m, 2, 0);
		zs_pb_put_uint_field(&m, 4, (e->flags & ~ZS_PE_PARENT) | ZS_PE_PRESENT);
		zs_pb_put_uint_field(&m, 5, e->nr_pages);
		put_entry(b, &m);
	}
	zs_buf_free(&m);
}

static void flat_release(struct flat *f)
{
	unsigned i;

	for (i = 0; i < ZS_IMAGE_MAX_CHAIN; i++) {
		if (!f->src[i].loaded)
			continue;
		zs_pagemap_free(&f->src[i].pm);
		if (f->src[i].map)
			munmap((void *) f->src[i].map, f->src[i].map_len);
		free(f->src[i].blk);
		if (f->src[i].pages_fd >= 0)
			close(f->src[i].pages_fd);
	}
	if (f->out_fd >= 0)
		close(f->out_fd);
	free(f->buf);
	free(f->runs);
}

/* ---- hashed flatten: the pages file ---- */

/* A thread, or the function run here when none can be started. */
static bool spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	if (pthread_create(t, NULL, fn, arg) == 0)
		return true;
	fn(arg);
	return false;
}

/* The writer has a core of its own: the others hash. */
static unsigned hash_threads(void)
{
	unsigned n = zs_digest_threads();

	return n > 1 ? n - 1 : 1;
}

/* Every source pages file the runs come from (and the other loaded ones):
 * the digest of each of its pages, on every core, and its own. */
static void *hash_srcs(void *p)
{
	struct flat *f = p;
	unsigned i;

	for (i = 0; i < f->c->n; i++) {
		struct pm_src *s = &f->src[i];
		uint64_t nb = zs_digest_nblocks(s->map_len);

		if (!s->loaded || s->absent || s->pages_fd < 0)
			continue;
		s->blk = xmalloc(nb * ZS_DIGEST_LEN + 1);
		s->sha_ok = zs_digest_blocks(s->map, s->map_len, s->blk, hash_threads()) == 0 &&
			    zs_digest_of_blocks(s->blk, nb, s->sha) == 0;
	}
	return NULL;
}

/* The output's digest: the page digests of the runs, in order.  A run is
 * whole pages of its source (pagemap offsets are page multiples). */
static int out_digest(const struct flat *f, unsigned char out[ZS_DIGEST_LEN])
{
	cleanup_free uint8_t *blk = xmalloc(zs_digest_nblocks(f->out_off) * ZS_DIGEST_LEN + 1);
	uint64_t nb = 0;
	size_t i;

	for (i = 0; i < f->n_runs; i++) {
		const struct run *r = &f->runs[i];

		if (r->off % ZS_DIGEST_BLOCK || r->len % ZS_DIGEST_BLOCK || r->src->blk == NULL)
			return -1;
		memcpy(blk + nb * ZS_DIGEST_LEN, r->src->blk + r->off / ZS_DIGEST_BLOCK * ZS_DIGEST_LEN,
		       r->len / ZS_DIGEST_BLOCK * ZS_DIGEST_LEN);
		nb += r->len / ZS_DIGEST_BLOCK;
	}
	return zs_digest_of_blocks(blk, nb, out);
}

static int write_runs(struct flat *f, zs_error_t *err)
{
	uint64_t off = 0;
	size_t i;

	for (i = 0; i < f->n_runs; i++) {
		const uint8_t *p = f->runs[i].src->map + f->runs[i].off;
		uint64_t len = f->runs[i].len;

		while (len) {
			ssize_t n = pwrite(f->out_fd, p, len, off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return zs_make_error(err, n < 0 ? errno : EIO, "write pages");
			p += n, off += n, len -= n;
		}
		if (off - f->synced >= WB_CHUNK) {
			sync_file_range(f->out_fd, f->synced, off - f->synced, SYNC_FILE_RANGE_WRITE);
			f->synced = off;
		}
	}
	return 0;
}

struct cmp_job {
	const struct flat *f;
	const uint8_t *out;
	size_t from, to;  /* runs [from, to) */
	uint64_t out_off; /* where run FROM starts in the output */
	uint64_t bad;	  /* first differing offset, or UINT64_MAX */
};

static void *cmp_runs(void *p)
{
	struct cmp_job *j = p;
	uint64_t o = j->out_off;
	size_t i;

	j->bad = UINT64_MAX;
	/* map this half in one call (each thread its own, in parallel) rather
	 * than page fault by page fault; where the kernel cannot, faults do */
	if (j->to > j->from) {
		uint64_t end = o, s = o & ~(uint64_t) (ZS_IMG_PAGE_SIZE - 1);

		for (i = j->from; i < j->to; i++)
			end += j->f->runs[i].len;
		madvise((void *) (j->out + s), end - s, MADV_POPULATE_READ);
	}
	for (i = j->from; i < j->to; o += j->f->runs[i].len, i++)
		if (memcmp(j->out + o, j->f->runs[i].src->map + j->f->runs[i].off, j->f->runs[i].len) != 0) {
			j->bad = o;
			break;
		}
	return NULL;
}

/* The verification of what was written: after fsync, drop the file's
 * cached pages (a disk-backed file system then reads the disk; tmpfs keeps
 * them, they are the file) and compare it, through a fresh descriptor,
 * byte for byte with the mapped source pages the digest was computed over.
 * memcmp runs at memory speed where a second SHA-256 would not: the
 * output's digest is the digest of what is on disk because the two are
 * equal, and the sources themselves are hashed whole (hash_srcs) for the
 * caller to check. */
static int read_back(struct flat *f, int odfd, const char *out, const char *pages, zs_error_t *err)
{
	cleanup_close int fd = openat(odfd, pages, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct cmp_job a = {.f = f}, b = {.f = f};
	uint64_t half = 0;
	struct stat st;
	pthread_t t;
	bool th;
	void *m;

	if (fd < 0 || fstat(fd, &st) < 0)
		return zs_make_error(err, errno, "%s/%s: read back", out, pages);
	if ((uint64_t) st.st_size != f->out_off)
		return zs_make_error(err, -EIO, "%s/%s: read back %" PRIu64 " bytes, wrote %" PRIu64, out, pages,
				     (uint64_t) st.st_size, f->out_off);
	if (f->out_off == 0)
		return 0;
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	m = mmap(NULL, f->out_off, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return zs_make_error(err, errno, "%s/%s: mmap to read back", out, pages);
	a.out = b.out = m;
	/* two halves by bytes, one per core */
	for (a.to = 0; a.to < f->n_runs && half < f->out_off / 2; a.to++)
		half += f->runs[a.to].len;
	b.from = a.to, b.to = f->n_runs, b.out_off = half;
	th = spawn(&t, cmp_runs, &a);
	cmp_runs(&b);
	if (th)
		pthread_join(t, NULL);
	munmap(m, f->out_off);
	if (a.bad != UINT64_MAX || b.bad != UINT64_MAX)
		return zs_make_error(err, -EIO,
				     "%s/%s: read back after fsync differs from the source at offset %" PRIu64, out,
				     pages, a.bad != UINT64_MAX ? a.bad : b.bad);
	return 0;
}

static int report_pages(struct flat *f, const char *out, const char *pages, const unsigned char *osha, zs_error_t *err)
{
	struct zs_flatten_digest d;
	char name[64];
	unsigned i;

	report_init(&d, out, pages, f->out_off);
	d.read_back = true;
	memcpy(d.digest, osha, ZS_DIGEST_LEN);
	if (f->h->cb(f->h->arg, &d, err) < 0)
		return -1;
	for (i = 0; i < f->c->n; i++) {
		const struct pm_src *s = &f->src[i];

		if (!s->loaded || s->absent || s->pages_fd < 0)
			continue;
		snprintf(name, sizeof(name), "pages-%" PRIu32 ".img", s->pm.pages_id);
		report_init(&d, f->c->lv[i].dir, name, s->map_len);
		d.level = i;
		d.source = true;
		memcpy(d.digest, s->sha, ZS_DIGEST_LEN);
		if (f->h->cb(f->h->arg, &d, err) < 0)
			return -1;
	}
	return 0;
}

/* Write the recorded runs while the sources' pages are hashed; fsync;
 * read back; the output's digest from the page digests. */
static int write_hashed(struct flat *f, int odfd, const char *out, const char *pages, zs_error_t *err)
{
	unsigned char osha[ZS_DIGEST_LEN];
	bool ths, ok = true;
	pthread_t ts;
	unsigned i;
	int ret;

	ths = spawn(&ts, hash_srcs, f);
	ret = write_runs(f, err);
	if (ths)
		pthread_join(ts, NULL);
	if (ret < 0)
		return zs_error_wrap(err, "%s/%s", out, pages);
	for (i = 0; i < f->c->n; i++)
		if (f->src[i].loaded && !f->src[i].absent && f->src[i].pages_fd >= 0 && !f->src[i].sha_ok)
			ok = false;
	if (!ok)
		return zs_make_error(err, EIO, "%s/%s: SHA-256 not available", out, pages);
	if (out_digest(f, osha) < 0)
		return zs_make_error(err, -EINVAL, "%s/%s: a run of pages not on page boundaries of its source", out,
				     pages);
	if (finish_out(f->out_fd, out, pages, err) < 0 || read_back(f, odfd, out, pages, err) < 0)
		return -1;
	return report_pages(f, out, pages, osha, err);
}

static int flatten_pages(struct flat *f, int odfd, const char *out, zs_error_t *err)
{
	const struct zs_pagemap *pm = &f->src[0].pm;
	char pages[64];
	size_t i;

	snprintf(pages, sizeof(pages), "pages-%" PRIu32 ".img", pm->pages_id);
	f->out_fd = create_out(odfd, out, pages, 0600, err);
	if (f->out_fd < 0)
		return -1;
	for (i = 0; i < pm->n; i++)
		if (resolve(f, 0, pm->e[i].vaddr, pm->e[i].nr_pages, err) < 0)
			return zs_error_wrap(err, "flatten %s", f->name);
	if (run_flush(f, err) < 0)
		return zs_error_wrap(err, "%s/%s", out, pages);
	if (f->h)
		return write_hashed(f, odfd, out, pages, err);
	return finish_out(f->out_fd, out, pages, err);
}

static int flatten_one(struct chain *c, const char *name, int odfd, const char *out, struct zs_flatten_stats *st,
		       zs_error_t *err)
{
	struct flat f = {.c = c, .name = name, .out_fd = -1, .h = c->h};
	struct zs_buf b = {0};
	int ret;

	ret = src_load(&f, 0, err);
	if (ret == 0) {
		ret = flatten_pages(&f, odfd, out, err);
		st->pages += f.out_off / ZS_IMG_PAGE_SIZE;
		st->bytes += f.out_off;
	}
	if (ret == 0) {
		build_pagemap(&f.src[0].pm, &b);
		ret = write_buf_file(c->h, odfd, out, name, &b, st, err);
	}
	zs_buf_free(&b);
	flat_release(&f);
	return ret;
}

/* inventory.img with parent_image_id dropped; every other field, and
 * anything after the entry, byte for byte. */
static void build_inventory(const struct zs_inventory *inv, struct zs_buf *b)
{
	const uint8_t *m = inv->msg, *end = inv->msg + inv->msg_len;
	struct zs_buf msg = {0};
	struct zs_pb_field fl;

	while (zs_pb_next(&m, end, &fl) > 0)
		if (fl.num != 16)
			zs_buf_put(&msg, fl.raw, fl.raw_len);
	zs_buf_put_u32(b, ZS_INVENTORY_MAGIC);
	put_entry(b, &msg);
	zs_buf_put(b, end, inv->raw + inv->raw_len - end);
	zs_buf_free(&msg);
}

static int copy_file(struct chain *c, const char *name, int odfd, const char *out, struct zs_flatten_stats *st,
		     zs_error_t *err)
{
	const struct level *l = &c->lv[0];
	struct flat f = {.out_fd = -1};
	cleanup_close int in = -1;
	struct stat sb;
	int ret;

	/* opened once, checked as opened: what is copied is what was checked */
	in = openat(l->dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (in < 0 && errno == ELOOP)
		return zs_make_error(err, -EINVAL, "%s/%s: not a regular file (an image holds only files and `parent`)",
				     l->dir, name);
	if (in < 0 || fstat(in, &sb) < 0)
		return zs_make_error(err, errno, "%s/%s", l->dir, name);
	if (!S_ISREG(sb.st_mode))
		return zs_make_error(err, -EINVAL, "%s/%s: not a regular file (an image holds only files and `parent`)",
				     l->dir, name);
	f.out_fd = create_out(odfd, out, name, sb.st_mode, err);
	if (f.out_fd < 0)
		return -1;
	/* hashed: through the buffer, hashing what is written */
	if (c->h && (f.copy_dig = zs_digest_new()) == NULL) {
		flat_release(&f);
		return zs_make_error(err, EIO, "%s/%s: SHA-256 not available", out, name);
	}
	f.no_cfr = c->h != NULL;
	ret = copy_range(&f, in, 0, sb.st_size, 0, err);
	if (ret < 0)
		zs_error_wrap(err, "%s/%s", l->dir, name);
	else
		ret = finish_out(f.out_fd, out, name, err);
	st->bytes += sb.st_size;
	if (f.copy_dig) {
		unsigned char sha[ZS_DIGEST_LEN];

		zs_digest_final(f.copy_dig, sha);
		if (ret == 0)
			ret = report_out(c->h, out, name, sb.st_size, sha, err);
	}
	flat_release(&f);
	return ret;
}

static int flatten_files(struct chain *c, int odfd, const char *out, struct zs_flatten_stats *st, zs_error_t *err)
{
	const char *leaf = c->lv[0].dir;
	char **names = NULL;
	size_t n = 0, i;
	int ret = 0;

	if (zs_img_list(c->lv[0].dfd, leaf, NULL, &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n && ret == 0; i++)
		if (zs_img_is_pagemap(names[i]))
			ret = flatten_one(c, names[i], odfd, out, st, err);
	/* The rest, but for what is already written (the pages files of the
	 * pagemaps) and what is rewritten. */
	for (i = 0; i < n && ret == 0; i++) {
		if (strcmp(names[i], "parent") == 0 || strcmp(names[i], "inventory.img") == 0 ||
		    zs_image_log_file(names[i]) || zs_image_manifest_file(names[i]) ||
		    faccessat(odfd, names[i], F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		ret = copy_file(c, names[i], odfd, out, st, err);
	}
	zs_img_list_free(names, n);
	return ret;
}

static int flatten_into(struct chain *c, int odfd, const char *out, struct zs_flatten_stats *st, zs_error_t *err)
{
	struct zs_buf b = {0};
	int ret;

	ret = flatten_files(c, odfd, out, st, err);
	if (ret == 0) {
		build_inventory(&c->leaf_inv, &b);
		ret = write_buf_file(c->h, odfd, out, "inventory.img", &b, st, err);
	}
	zs_buf_free(&b);
	if (ret == 0 && fsync(odfd) < 0)
		ret = zs_make_error(err, errno, "%s: fsync", out);
	return ret;
}

static int flatten(const char *leaf, const char *out, struct zs_flatten_stats *st, const struct hashing *h,
		   zs_error_t *err)
{
	struct chain c;
	cleanup_close int odfd = -1;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = chain_open(leaf, &c, err);
	c.h = h;
	if (ret == 0 && mkdir(out, 0700) < 0)
		ret = zs_make_error(err, errno, "%s", out);
	if (ret < 0) {
		chain_free(&c);
		return ret;
	}
	st->chain_len = c.n;
	odfd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (odfd < 0)
		ret = zs_make_error(err, errno, "%s", out);
	else
		ret = flatten_into(&c, odfd, out, st, err);
	chain_free(&c);
	if (ret < 0)
		rm_rf(out);
	return ret;
}

int zs_image_flatten(const char *leaf, const char *out, struct zs_flatten_stats *st, zs_error_t *err)
{
	return flatten(leaf, out, st, NULL, err);
}

int zs_image_flatten_hashed(const char *leaf, const char *out, struct zs_flatten_stats *st, zs_flatten_digest_cb cb,
			    void *arg, zs_error_t *err)
{
	struct hashing h = {.cb = cb, .arg = arg};

	return flatten(leaf, out, st, &h, err);
}

static int fsync_dir(const char *path, zs_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return zs_make_error(err, errno, "%s: fsync", path);
	return 0;
}

int zs_image_flatten_to(const char *leaf, const char *out, struct zs_flatten_stats *st, zs_error_t *err)
{
	cleanup_free char *copy = xstrdup(out);
	cleanup_free char *pdir = NULL, *tmp = NULL;
	char *slash, *base;
	struct stat sb;

	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = '\0';
	slash = strrchr(copy, '/');
	if (slash) {
		pdir = xstrdup(copy);
		pdir[slash == copy ? 1 : slash - copy] = '\0';
	} else {
		pdir = xstrdup(".");
	}
	base = slash ? slash + 1 : copy;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return zs_make_error(err, -EINVAL, "%s: not a name for a new image directory", out);
	if (lstat(copy, &sb) == 0)
		return zs_make_error(err, EEXIST, "%s", out);
	tmp = xasprintf("%s/.%s.flatten-%d", pdir, base, (int) getpid());
	if (zs_image_flatten(leaf, tmp, st, err) < 0)
		return -1;
	if (zs_image_manifest_write(tmp, NULL, err) < 0) {
		rm_rf(tmp);
		return -1;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, copy, RENAME_NOREPLACE) < 0) {
		int e = errno;

		rm_rf(tmp);
		return zs_make_error(err, e, "rename %s to %s", tmp, out);
	}
	return fsync_dir(pdir, err);
}
