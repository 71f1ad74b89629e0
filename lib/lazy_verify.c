/* zanshin — a lazy restore from an image directory with manifests checks
 * its memory as it is served, not all before the container runs.
 *
 * An eager restore hashes the whole image chain beside CRIU's copy of it
 * (lib/restore_verify.c).  A lazy restore copies nothing before the tasks
 * resume, so the same hashing was the whole time until the container ran.
 * Here, before CRIU starts:
 *   - every file of each level with manifest.blocks is verified as before
 *     except the tasks' pages images (pages-N.img of pagemap-PID.img);
 *   - of those, only the blocks CRIU copies itself before the tasks resume
 *     are hashed now: the pagemap entries CRIU restores eagerly (mem.c
 *     restore_priv_vma_content(): not PE_LAZY, and not a parent hole that
 *     lies wholly in VMAs that can be lazy), followed through the parent
 *     chain to the level that holds them;
 *   - the rest is left to the fault server: WORK/lazy-blocks lists each
 *     pages image by device and inode with its block digests from the
 *     verified manifest.blocks, and `criu lazy-pages --lazy-block-digests`
 *     (criu-patches 0042) checks every page against its block's digest
 *     just before it copies it into a task, and kills the restored tasks
 *     on a mismatch.
 * Levels whose manifest has no manifest.blocks are verified whole before
 * the tasks resume (the caller's thread), levels without a manifest not at
 * all (with a warning), as before; their pages images are listed without
 * digests (served unchecked), so that a file the server opens and did not
 * come through here is refused.  See docs/lazy-restore.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu_image_internal.h"
#include "zanshin/digest.h"
#include "zanshin/image_manifest.h"
#include "zanshin/lazy_restore.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define LAZY_BLOCKS_MAGIC "zanshin-lzblk1\n" /* with its NUL: 16 bytes */
#define LIST_COUNT_AT 16		     /* then the u64 number of files */

/* criu/include/vma.h vma_entry_can_be_lazy(), criu/include/image.h */
#define VMA_AREA_VSYSCALL (1u << 2)
#define VMA_AREA_VDSO (1u << 3)
#define VMA_AREA_VVAR (1u << 12)
#define LINUX_MAP_PRIVATE 0x02u
#define LINUX_MAP_ANONYMOUS 0x20u
#define LINUX_MAP_LOCKED 0x2000u
#define LINUX_MAP_HUGETLB 0x40000u

struct vma {
	uint64_t start, end;
	bool lazy;
};

/* blocks of one pages image CRIU reads before the tasks resume */
struct range {
	size_t level;
	uint32_t pages_id;
	uint64_t blk, n;
};

struct plan {
	char **dirs; /* the chain, the restored image first */
	size_t ndirs;
	char **tasks; /* pagemap-PID.img of the restored image */
	size_t ntasks;
	int64_t *ids; /* [level * ntasks + task]: its pages-N.img's N, -1 none */
	struct range *r;
	size_t nr, cap;
	struct zs_buf out; /* WORK/lazy-blocks */
	uint64_t nfiles;
	size_t level; /* the level being verified */
	uint64_t eager_blocks;
};

static bool is_task_pagemap(const char *name)
{
	size_t n = strlen(name);

	return zs_img_is_pagemap(name) && n > 12 && strspn(name + 8, "0123456789") == n - 12;
}

static void add_range(struct plan *p, size_t level, uint32_t pages_id, uint64_t blk, uint64_t n)
{
	if (p->nr == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->r = xrealloc(p->r, p->cap * sizeof(*p->r));
	}
	p->r[p->nr++] = (struct range){level, pages_id, blk, n};
	p->eager_blocks += n;
}

/* ---- which pages CRIU restores eagerly --------------------------------- */

static int vma_decode(const uint8_t *m, size_t len, struct vma *v)
{
	const uint8_t *end = m + len;
	struct zs_pb_field f;
	uint64_t flags = 0, status = 0;
	int r;

	memset(v, 0, sizeof(*v));
	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.wire != ZS_PB_VARINT)
			continue;
		if (f.num == 1)
			v->start = f.v;
		else if (f.num == 2)
			v->end = f.v;
		else if (f.num == 6)
			flags = f.v;
		else if (f.num == 7)
			status = f.v;
	}
	v->lazy = (flags & LINUX_MAP_ANONYMOUS) && (flags & LINUX_MAP_PRIVATE) && !(flags & LINUX_MAP_LOCKED) &&
		  !(flags & LINUX_MAP_HUGETLB) && !(status & (VMA_AREA_VDSO | VMA_AREA_VVAR | VMA_AREA_VSYSCALL));
	return r < 0 || v->end <= v->start ? -1 : 0;
}

static int vma_cmp(const void *a, const void *b)
{
	const struct vma *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The VMAs of mm-PID.img (MmEntry.vmas, field 14), sorted by address. */
static int read_vmas(int dfd, const char *dir, const char *pid, struct vma **out, size_t *n, zs_error_t *err)
{
	cleanup_free char *name = xasprintf("mm-%s.img", pid);
	cleanup_free uint8_t *buf = NULL;
	const uint8_t *m, *pos, *end;
	struct zs_pb_field f;
	size_t len, mlen, cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	if (zs_img_slurp(dfd, dir, name, ZS_IMG_MAX_CORE, &buf, &len, err) < 0)
		return -1;
	if (len < 8)
		return zs_make_error(err, -EINVAL, "%s/%s: no mm entry", dir, name);
	{
		struct zs_img_iter it = {name, buf, buf + 8, buf + len};

		if (zs_img_next(&it, &m, &mlen, err) <= 0)
			return zs_make_error(err, -EINVAL, "%s/%s: no mm entry", dir, name);
	}
	pos = m;
	end = m + mlen;
	while ((r = zs_pb_next(&pos, end, &f)) > 0) {
		if (f.num != 14 || f.wire != ZS_PB_LEN)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		if (vma_decode(f.data, f.len, &(*out)[*n]) < 0)
			return zs_make_error(err, -EINVAL, "%s/%s: a malformed vma entry", dir, name);
		(*n)++;
	}
	if (r < 0)
		return zs_make_error(err, -EINVAL, "%s/%s: malformed", dir, name);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), vma_cmp);
	return 0;
}

/* The VMA holding VA (V sorted by start), or NULL. */
static const struct vma *vma_at(const struct vma *v, size_t n, uint64_t va)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (va < v[mid].start)
			hi = mid;
		else if (va >= v[mid].end)
			lo = mid + 1;
		else
			return &v[mid];
	}
	return NULL;
}

/* mem.c parent_pages_lazy(): [va, end) lies wholly in VMAs that can be lazy */
static bool wholly_lazy(const struct vma *v, size_t n, uint64_t va, uint64_t end)
{
	const struct vma *a;

	while (va < end) {
		a = vma_at(v, n, va);
		if (a == NULL || !a->lazy)
			return false;
		va = a->end;
	}
	return true;
}

/* The pages [va, va + n pages) of the task's pagemap at LEVEL, followed
 * through parent holes to the levels that hold them. */
static int resolve(struct plan *p, struct zs_pagemap *pm, size_t level, uint64_t va, uint64_t n, zs_error_t *err)
{
	while (n > 0) {
		long k = level < p->ndirs && pm[level].what ? zs_pagemap_find(&pm[level], va) : -1;
		const struct zs_pm_entry *e;
		uint64_t in, m;

		if (k < 0)
			return zs_make_error(err, -EINVAL, "%s: page %#" PRIx64 " is in no level of the image chain",
					     pm[0].what, va);
		e = &pm[level].e[k];
		in = (va - e->vaddr) / ZS_IMG_PAGE_SIZE;
		m = e->nr_pages - in < n ? e->nr_pages - in : n;
		if (e->flags & ZS_PE_PARENT) {
			if (resolve(p, pm, level + 1, va, m, err) < 0)
				return -1;
		} else if (e->flags & ZS_PE_PRESENT)
			add_range(p, level, pm[level].pages_id, e->off / ZS_IMG_PAGE_SIZE + in, m);
		va += m * ZS_IMG_PAGE_SIZE;
		n -= m;
	}
	return 0;
}

/* One task: its pagemap at every level, its eager pages. */
static int plan_task(struct plan *p, size_t t, int *dfds, zs_error_t *err)
{
	const char *name = p->tasks[t];
	struct zs_pagemap *pm = xzalloc(p->ndirs * sizeof(*pm));
	cleanup_free struct vma *v = NULL;
	cleanup_free char *pid = xasprintf("%.*s", (int) (strlen(name) - 12), name + 8);
	size_t nv, i;
	int ret = 0;

	for (i = 0; i < p->ndirs && ret == 0; i++) {
		if (i > 0 && faccessat(dfds[i], name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			break; /* CRIU's chain for this task ends here */
		ret = zs_pagemap_read(dfds[i], p->dirs[i], name, &pm[i], err);
		if (ret == 0)
			p->ids[i * p->ntasks + t] = pm[i].pages_id;
	}
	if (ret == 0)
		ret = read_vmas(dfds[0], p->dirs[0], pid, &v, &nv, err);
	for (i = 0; ret == 0 && i < pm[0].n; i++) {
		const struct zs_pm_entry *e = &pm[0].e[i];
		uint64_t end = e->vaddr + e->nr_pages * ZS_IMG_PAGE_SIZE;

		if (e->flags & ZS_PE_LAZY)
			continue;
		if (e->flags & ZS_PE_PARENT) {
			if (!wholly_lazy(v, nv, e->vaddr, end))
				ret = resolve(p, pm, 1, e->vaddr, e->nr_pages, err);
		} else if (e->flags & ZS_PE_PRESENT)
			add_range(p, 0, pm[0].pages_id, e->off / ZS_IMG_PAGE_SIZE, e->nr_pages);
	}
	for (i = 0; i < p->ndirs; i++)
		zs_pagemap_free(&pm[i]);
	free(pm);
	return ret;
}

/* ---- the list for the fault server ------------------------------------- */

static void put_u64(struct zs_buf *b, uint64_t v)
{
	zs_buf_put(b, &v, sizeof(v));
}

static void put_file(struct plan *p, const struct stat *st, const uint8_t *digests, uint64_t nblocks)
{
	put_u64(&p->out, (uint64_t) st->st_dev);
	put_u64(&p->out, (uint64_t) st->st_ino);
	put_u64(&p->out, (uint64_t) st->st_size);
	put_u64(&p->out, nblocks);
	if (nblocks)
		zs_buf_put(&p->out, digests, nblocks * ZS_DIGEST_LEN);
	p->nfiles++;
}

/* NAME of level P->level is a task's pages image: pages-N.img of one of the
 * tasks' pagemaps there; *ID its N. */
static bool task_pages(const struct plan *p, const char *name, uint32_t *id)
{
	size_t i;

	for (i = 0; i < p->ntasks; i++) {
		int64_t n = p->ids[p->level * p->ntasks + i];
		cleanup_free char *want = n >= 0 ? xasprintf("pages-%" PRId64 ".img", n) : NULL;

		if (want && strcmp(want, name) == 0) {
			*id = (uint32_t) n;
			return true;
		}
	}
	return false;
}

/* zs_manifest_defer_fn: a task's pages image is taken; its eager blocks
 * are hashed now, the rest is the server's. */
static int defer(void *arg, const char *dir, const char *name, int fd, const struct stat *st, const uint8_t *digests,
		 uint64_t nblocks, zs_error_t *err)
{
	struct plan *p = arg;
	cleanup_free uint8_t *buf = NULL, *got = NULL;
	uint32_t id;
	size_t i;

	if (!task_pages(p, name, &id))
		return 0;
	for (i = 0; i < p->nr; i++) {
		const struct range *r = &p->r[i];
		uint64_t b, len;
		ssize_t n;

		if (r->level != p->level || r->pages_id != id)
			continue;
		if (r->blk > nblocks || r->n > nblocks - r->blk)
			return zs_make_error(err, -EBADMSG, "%s/%s: its pagemap reaches beyond its %" PRIu64 " pages",
					     dir, name, nblocks);
		len = r->n * ZS_DIGEST_BLOCK;
		buf = xrealloc(buf, len);
		got = xrealloc(got, r->n * ZS_DIGEST_LEN);
		n = pread(fd, buf, len, (off_t) (r->blk * ZS_DIGEST_BLOCK));
		if (n != (ssize_t) len)
			return zs_make_error(err, n < 0 ? errno : -EBADMSG, "%s/%s: read pages %" PRIu64 "..%" PRIu64,
					     dir, name, r->blk, r->blk + r->n - 1);
		if (zs_digest_blocks(buf, len, got, 1) < 0)
			return zs_make_error(err, EIO, "%s/%s: SHA-256 not available", dir, name);
		for (b = 0; b < r->n; b++)
			if (memcmp(got + b * ZS_DIGEST_LEN, digests + (r->blk + b) * ZS_DIGEST_LEN, ZS_DIGEST_LEN) != 0)
				return zs_make_error(err, -EBADMSG,
						     "%s/%s: block %" PRIu64 " (bytes %" PRIu64 " to %" PRIu64
						     ") differs from the manifest: the image is corrupt",
						     dir, name, r->blk + b, (r->blk + b) * ZS_DIGEST_BLOCK,
						     (r->blk + b + 1) * ZS_DIGEST_BLOCK - 1);
	}
	put_file(p, st, digests, nblocks);
	return 1;
}

/* A level verified whole (or not at all): its task pages images listed
 * without digests. */
static int list_unchecked(struct plan *p, int dfd, zs_error_t *err)
{
	size_t i;

	for (i = 0; i < p->ntasks; i++) {
		int64_t n = p->ids[p->level * p->ntasks + i];
		cleanup_free char *name = n >= 0 ? xasprintf("pages-%" PRId64 ".img", n) : NULL;
		struct stat st;
		int fd;

		if (name == NULL)
			continue;
		fd = zs_img_open(dfd, p->dirs[p->level], name, &st, err);
		if (fd < 0)
			return -1;
		close(fd);
		put_file(p, &st, NULL, 0);
	}
	return 0;
}

static void plan_free(struct plan *p)
{
	size_t i;

	for (i = 0; i < p->ndirs; i++)
		free(p->dirs[i]);
	free(p->dirs);
	zs_img_list_free(p->tasks, p->ntasks);
	free(p->ids);
	free(p->r);
	zs_buf_free(&p->out);
}

/* The list, read by the server before it listens and removed then: not
 * synced (a crash leaves nothing that a restore needs). */
static int write_list(struct plan *p, const char *path, zs_error_t *err)
{
	memcpy(p->out.p + LIST_COUNT_AT, &p->nfiles, sizeof(p->nfiles));
	return write_file_replace(path, p->out.p, p->out.len, 0600, err);
}

int zs_lazy_verify_prepare(const char *image_dir, const char *list_path, char ***whole, size_t *nwhole, zs_error_t *err)
{
	struct plan p = {0};
	int *dfds = NULL;
	size_t i;
	int ret = 0, any = 0;

	*whole = NULL;
	*nwhole = 0;
	zs_buf_put(&p.out, LAZY_BLOCKS_MAGIC, LIST_COUNT_AT);
	put_u64(&p.out, 0);
	p.dirs = zs_image_chain_dirs(image_dir, &p.ndirs);
	for (i = 0; i < p.ndirs; i++)
		any |= zs_image_manifest_has_blocks(p.dirs[i]);
	if (!any || p.ndirs > ZS_IMAGE_MAX_CHAIN) {
		plan_free(&p);
		return 0; /* nothing to check as served: the caller verifies as before */
	}
	dfds = xzalloc(p.ndirs * sizeof(int));
	for (i = 0; i < p.ndirs; i++) {
		dfds[i] = open(p.dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfds[i] < 0 && ret == 0)
			ret = zs_make_error(err, errno, "open `%s`", p.dirs[i]);
	}
	if (ret == 0)
		ret = zs_img_list(dfds[0], p.dirs[0], is_task_pagemap, &p.tasks, &p.ntasks, err);
	if (ret == 0) {
		p.ids = xmalloc(sizeof(*p.ids) * (p.ndirs * p.ntasks + 1));
		for (i = 0; i < p.ndirs * p.ntasks; i++)
			p.ids[i] = -1;
	}
	for (i = 0; ret == 0 && i < p.ntasks; i++)
		ret = plan_task(&p, i, dfds, err);
	*whole = xzalloc(sizeof(char *) * (p.ndirs + 1));
	for (i = 0; ret >= 0 && i < p.ndirs; i++) {
		p.level = i;
		if (zs_image_manifest_has_blocks(p.dirs[i])) {
			ret = zs_image_manifest_verify_deferred(p.dirs[i], defer, &p, err);
			continue;
		}
		if (zs_image_has_manifest(p.dirs[i]))
			(*whole)[(*nwhole)++] = xstrdup(p.dirs[i]);
		else
			zs_warn("%s: no manifest (an image written by runc, a stock CRIU or an older zanshin): "
				"restored without verifying its contents",
				p.dirs[i]);
		ret = list_unchecked(&p, dfds[i], err);
	}
	if (ret >= 0)
		ret = write_list(&p, list_path, err);
	if (ret >= 0)
		zs_debug("restore: --lazy: %zu image level(s), %" PRIu64 " pages image(s) checked as served; %" PRIu64
			 " page(s) CRIU restores before the container runs were hashed now",
			 p.ndirs, p.nfiles, p.eager_blocks);
	for (i = 0; i < p.ndirs; i++)
		if (dfds[i] >= 0)
			close(dfds[i]);
	free(dfds);
	plan_free(&p);
	if (ret < 0) {
		for (i = 0; i < *nwhole; i++)
			free((*whole)[i]);
		free(*whole);
		*whole = NULL;
		*nwhole = 0;
		return -1;
	}
	return 1;
}
