/* zanshin — the parent's pages of a diff image's pages file
 * (include/zanshin/page_delta.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu_image_internal.h"
#include "zanshin/page_delta.h"
#include "zanshin/utils.h"

struct pd_level {
	int dfd, pages_fd;
	char *dir; /* for errors */
	bool loaded, absent;
	struct zs_pagemap pm;
};

struct zs_page_base {
	char *pm_name;		 /* the pagemap naming the pages file */
	struct zs_pagemap child; /* DIR's pagemap */
	size_t *present;	 /* indexes of its PE_PRESENT entries, by offset */
	size_t n_present;
	bool self;				/* lv[0] is DIR itself (zs_page_base_open_self) */
	struct pd_level lv[ZS_IMAGE_MAX_CHAIN]; /* DIR/parent, DIR/parent/parent... */
	unsigned n;
};

void zs_page_base_close(struct zs_page_base *b)
{
	if (b == NULL)
		return;
	for (unsigned i = 0; i < b->n; i++) {
		if (b->lv[i].dfd >= 0)
			close(b->lv[i].dfd);
		if (b->lv[i].pages_fd >= 0)
			close(b->lv[i].pages_fd);
		free(b->lv[i].dir);
		zs_pagemap_free(&b->lv[i].pm);
	}
	zs_pagemap_free(&b->child);
	free(b->present);
	free(b->pm_name);
	free(b);
}

/* The pagemap of DFD whose head names PAGES_ID: 1 (*PM), 0 none. */
static int find_pagemap(int dfd, const char *dir, uint32_t pages_id, struct zs_page_base *b, zs_error_t *err)
{
	char **names = NULL;
	size_t n = 0, i;
	int ret = 0;

	if (zs_img_list(dfd, dir, zs_img_is_pagemap, &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n && ret == 0; i++) {
		if (zs_pagemap_read(dfd, dir, names[i], &b->child, err) < 0) {
			ret = -1;
			break;
		}
		if (b->child.pages_id == pages_id) {
			b->pm_name = xstrdup(names[i]);
			ret = 1;
		} else {
			zs_pagemap_free(&b->child);
		}
	}
	zs_img_list_free(names, n);
	return ret;
}

static void index_present(struct zs_page_base *b)
{
	b->present = xmalloc(sizeof(size_t) * (b->child.n + 1));
	for (size_t i = 0; i < b->child.n; i++)
		if (b->child.e[i].flags & ZS_PE_PRESENT)
			b->present[b->n_present++] = i;
}

/* Level I of the chain (0: DIR/parent): 1 open, 0 the chain ends. */
static int level_open(struct zs_page_base *b, int child_dfd, const char *dir, unsigned i, zs_error_t *err)
{
	struct pd_level *l;
	int from = i == 0 ? child_dfd : b->lv[i - 1].dfd;
	int fd;

	if (i < b->n)
		return !b->lv[i].absent;
	if (i >= ZS_IMAGE_MAX_CHAIN)
		return 0;
	fd = openat(from, i == 0 && b->self ? "." : "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	l = &b->lv[b->n++];
	l->dfd = fd;
	l->pages_fd = -1;
	l->dir = i == 0 ? xasprintf(b->self ? "%s" : "%s/parent", dir) : xasprintf("%s/parent", b->lv[i - 1].dir);
	if (fd < 0) {
		l->absent = true;
		if (errno == ENOENT)
			return 0;
		return zs_make_error(err, errno, "open `%s`", l->dir);
	}
	return 1;
}

static int level_load(struct pd_level *l, const char *pm_name, zs_error_t *err)
{
	struct stat st;
	char pages[64];

	if (l->loaded || l->absent)
		return l->absent ? 0 : 1;
	l->loaded = true;
	if (faccessat(l->dfd, pm_name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		l->absent = true;
		return 0;
	}
	if (zs_pagemap_read(l->dfd, l->dir, pm_name, &l->pm, err) < 0)
		return -1;
	snprintf(pages, sizeof(pages), "pages-%u.img", l->pm.pages_id);
	l->pages_fd = zs_img_open(l->dfd, l->dir, pages, &st, err);
	if (l->pages_fd < 0 && l->pm.present_pages > 0)
		return -1;
	zs_error_release(err);
	return 1;
}

int zs_page_base_open(const char *dir, const char *pages_name, struct zs_page_base **out, zs_error_t *err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct zs_page_base *b;
	unsigned id;
	char tail;
	int r;

	*out = NULL;
	if (sscanf(pages_name, "pages-%u.im%c", &id, &tail) != 2 || tail != 'g')
		return 0;
	if (dfd < 0)
		return zs_make_error(err, errno, "open `%s`", dir);
	b = xzalloc(sizeof(*b));
	r = find_pagemap(dfd, dir, id, b, err);
	if (r > 0)
		r = level_open(b, dfd, dir, 0, err);
	if (r <= 0) {
		zs_page_base_close(b);
		return r;
	}
	index_present(b);
	*out = b;
	return 1;
}

/* The child's entry holding byte OFF of its pages file, or NULL. */
static const struct zs_pm_entry *child_entry(const struct zs_page_base *b, uint64_t off)
{
	size_t lo = 0, hi = b->n_present;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct zs_pm_entry *e = &b->child.e[b->present[mid]];
		if (off < e->off)
			hi = mid;
		else if (off >= e->off + e->nr_pages * ZS_IMG_PAGE_SIZE)
			lo = mid + 1;
		else
			return e;
	}
	return NULL;
}

/* The parent's page at VADDR into PAGE: 1, 0 none. */
static int parent_page(struct zs_page_base *b, uint64_t vaddr, uint8_t *page, zs_error_t *err)
{
	for (unsigned i = 0; i < ZS_IMAGE_MAX_CHAIN; i++) {
		const struct zs_pm_entry *e;
		struct pd_level *l;
		long idx;
		int r = i < b->n ? !b->lv[i].absent : level_open(b, b->lv[i - 1].dfd, NULL, i, err);
		if (r <= 0)
			return r;
		l = &b->lv[i];
		r = level_load(l, b->pm_name, err);
		if (r <= 0)
			return r;
		idx = zs_pagemap_find(&l->pm, vaddr);
		if (idx < 0)
			return 0;
		e = &l->pm.e[idx];
		/* PE_LAZY with PE_PRESENT: in the pages file all the same
		 * (CRIU marks every private anonymous page lazy-capable) */
		if (e->flags & ZS_PE_PRESENT) {
			uint64_t at = e->off + (vaddr - e->vaddr);
			ssize_t n = pread(l->pages_fd, page, ZS_IMG_PAGE_SIZE, (off_t) at);
			if (n != (ssize_t) ZS_IMG_PAGE_SIZE)
				return zs_make_error(err, n < 0 ? errno : -EIO, "%s: page at %#llx: %s", l->dir,
						     (unsigned long long) vaddr,
						     n < 0 ? "read error" : "beyond its pages file");
			return 1;
		}
		if (!(e->flags & ZS_PE_PARENT))
			return 0;
	}
	return 0;
}

int zs_page_base_read(struct zs_page_base *b, uint64_t off, size_t len, uint8_t *base, size_t *with_parent,
		      zs_error_t *err)
{
	*with_parent = 0;
	if (off % ZS_IMG_PAGE_SIZE || len % ZS_IMG_PAGE_SIZE)
		return zs_make_error(err, -EINVAL, "page base: %zu bytes at %llu are not whole pages", len,
				     (unsigned long long) off);
	for (size_t p = 0; p < len; p += ZS_IMG_PAGE_SIZE) {
		const struct zs_pm_entry *e = child_entry(b, off + p);
		int r = 0;
		if (e)
			r = parent_page(b, e->vaddr + (off + p - e->off), base + p, err);
		if (r < 0)
			return -1;
		if (r == 0)
			memset(base + p, 0, ZS_IMG_PAGE_SIZE);
		*with_parent += (size_t) r;
	}
	return 0;
}

int zs_page_base_open_self(const char *dir, const char *pagemap, struct zs_page_base **out, zs_error_t *err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct zs_page_base *b;
	int r;

	*out = NULL;
	if (dfd < 0)
		return zs_make_error(err, errno, "open `%s`", dir);
	b = xzalloc(sizeof(*b));
	b->self = true;
	b->pm_name = xstrdup(pagemap);
	r = level_open(b, dfd, dir, 0, err);
	if (r <= 0) {
		zs_page_base_close(b);
		return r < 0 ? -1 : zs_make_error(err, -ENOENT, "open `%s`", dir);
	}
	*out = b;
	return 0;
}

int zs_page_base_page(struct zs_page_base *b, uint64_t vaddr, uint8_t *page, zs_error_t *err)
{
	return parent_page(b, vaddr, page, err);
}

int zs_page_each(const char *dir, zs_page_each_cb cb, void *arg, zs_error_t *err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free uint8_t *page = xmalloc(ZS_IMG_PAGE_SIZE);
	char **names = NULL;
	size_t n = 0;
	int ret = 0;

	if (dfd < 0)
		return zs_make_error(err, errno, "open `%s`", dir);
	if (zs_img_list(dfd, dir, zs_img_is_pagemap, &names, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct zs_page_base *b = NULL;
		struct zs_pagemap pm;
		if (zs_pagemap_read(dfd, dir, names[i], &pm, err) < 0) {
			ret = -1;
			break;
		}
		ret = zs_page_base_open_self(dir, names[i], &b, err);
		for (size_t k = 0; ret == 0 && k < pm.n; k++)
			for (uint64_t p = 0; ret == 0 && p < pm.e[k].nr_pages; p++) {
				uint64_t va = pm.e[k].vaddr + p * ZS_IMG_PAGE_SIZE;
				int r = parent_page(b, va, page, err);
				if (r < 0)
					ret = -1;
				else if (r > 0)
					ret = cb(arg, names[i], va, page, err);
			}
		zs_page_base_close(b);
		zs_pagemap_free(&pm);
	}
	zs_img_list_free(names, n);
	return ret;
}
