/* zanshin — zs_image_rebase(): a checkpoint written out as a diff against
 * another image, given which of its pages that image holds the same
 * (include/zanshin/image_rebase.h).
 *
 * For every pagemap of LEAF, every page it restores (its own, or its
 * chain's through PE_PARENT) is asked about: the same as the new parent's
 * page at that address → a PE_PARENT run; else a PE_PRESENT run, the page
 * copied into OUT's pages file (same pages id).  Other files are copied;
 * the inventory keeps LEAF's image_id and names the new parent. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu_image_internal.h"
#include "zanshin/image_rebase.h"
#include "zanshin/page_delta.h"
#include "zanshin/utils.h"

struct run {
	uint64_t vaddr, nr;
	uint32_t flags;
};

struct rebase {
	const char *leaf, *out, *pm_name;
	zs_rebase_same_cb same;
	void *arg;
	struct zs_rebase_stats *st;
	struct run *runs;
	size_t n_runs, cap;
	int pages_fd; /* OUT's pages file */
};

static void put_entry(struct zs_buf *b, const struct zs_buf *m)
{
	zs_buf_put_u32(b, (uint32_t) m->len);
	zs_buf_put(b, m->p, m->len);
}

static void add_page(struct rebase *r, uint64_t vaddr, uint32_t flags)
{
	struct run *last = r->n_runs ? &r->runs[r->n_runs - 1] : NULL;

	if (last && last->flags == flags && last->vaddr + last->nr * ZS_IMG_PAGE_SIZE == vaddr) {
		last->nr++;
		return;
	}
	if (r->n_runs == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->runs = xrealloc(r->runs, sizeof(*r->runs) * r->cap);
	}
	r->runs[r->n_runs++] = (struct run){.vaddr = vaddr, .nr = 1, .flags = flags};
}

static int write_pagemap(struct rebase *r, uint32_t pages_id, zs_error_t *err)
{
	struct zs_buf b = {0}, m = {0};
	cleanup_free char *path = xasprintf("%s/%s", r->out, r->pm_name);
	int fd, ret = 0;

	zs_buf_put_u32(&b, ZS_IMG_COMMON_MAGIC);
	zs_buf_put_u32(&b, ZS_PAGEMAP_MAGIC);
	zs_pb_put_uint_field(&m, 1, pages_id);
	put_entry(&b, &m);
	for (size_t i = 0; i < r->n_runs; i++) {
		m.len = 0;
		zs_pb_put_uint_field(&m, 1, r->runs[i].vaddr);
		zs_pb_put_uint_field(&m, 2, 0);
		zs_pb_put_uint_field(&m, 4, r->runs[i].flags);
		zs_pb_put_uint_field(&m, 5, r->runs[i].nr);
		put_entry(&b, &m);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, b.p, b.len) < 0)
		ret = zs_make_error(err, errno, "write `%s`", path);
	if (fd >= 0)
		close(fd);
	zs_buf_free(&b);
	zs_buf_free(&m);
	return ret;
}

/* One page of LEAF at VADDR (bytes in PAGE): same as the new parent's, or
 * copied into OUT's pages file. */
static int one_page(struct rebase *r, uint64_t vaddr, const uint8_t *page, uint32_t flags, zs_error_t *err)
{
	if (r->same(r->arg, r->pm_name, vaddr, page) == 1) {
		add_page(r, vaddr, ZS_PE_PARENT);
		r->st->parent_pages++;
		return 0;
	}
	if (write_all(r->pages_fd, page, ZS_IMG_PAGE_SIZE) < 0)
		return zs_make_error(err, errno, "write the pages of `%s`", r->pm_name);
	add_page(r, vaddr, ZS_PE_PRESENT | (flags & ZS_PE_LAZY));
	r->st->pages++;
	return 0;
}

static int rebase_pagemap(struct rebase *r, int ldfd, zs_error_t *err)
{
	struct zs_pagemap pm;
	struct zs_page_base *b = NULL;
	cleanup_free uint8_t *page = xmalloc(ZS_IMG_PAGE_SIZE);
	cleanup_free char *pages = NULL;
	int ret = -1;

	if (zs_pagemap_read(ldfd, r->leaf, r->pm_name, &pm, err) < 0)
		return -1;
	pages = xasprintf("%s/pages-%u.img", r->out, pm.pages_id);
	r->pages_fd = open(pages, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (r->pages_fd < 0) {
		zs_make_error(err, errno, "create `%s`", pages);
		goto out;
	}
	if (zs_page_base_open_self(r->leaf, r->pm_name, &b, err) < 0)
		goto out;
	r->n_runs = 0;
	for (size_t i = 0; i < pm.n; i++) {
		const struct zs_pm_entry *e = &pm.e[i];
		for (uint64_t k = 0; k < e->nr_pages; k++) {
			uint64_t va = e->vaddr + k * ZS_IMG_PAGE_SIZE;
			int got;
			if (!(e->flags & (ZS_PE_PRESENT | ZS_PE_PARENT))) {
				add_page(r, va, e->flags); /* lazy, served elsewhere: as it was */
				continue;
			}
			got = zs_page_base_page(b, va, page, err);
			if (got < 0)
				goto out;
			if (got == 0) {
				zs_make_error(err, -ENOENT, "%s/%s: no page at %#llx in its chain", r->leaf, r->pm_name,
					      (unsigned long long) va);
				goto out;
			}
			if (one_page(r, va, page, e->flags, err) < 0)
				goto out;
		}
	}
	ret = write_pagemap(r, pm.pages_id, err);
out:
	zs_page_base_close(b);
	zs_pagemap_free(&pm);
	if (r->pages_fd >= 0)
		close(r->pages_fd);
	r->pages_fd = -1;
	return ret;
}

static bool is_pages(const char *name)
{
	return str_has_prefix(name, "pages-") && strstr(name, ".img") != NULL;
}

static bool copied(const char *name)
{
	size_t l = strlen(name);

	return !zs_img_is_pagemap(name) && !is_pages(name) && strcmp(name, "inventory.img") != 0 &&
	       strcmp(name, "parent") != 0 && strcmp(name, "manifest.json") != 0 && strcmp(name, "lineage.json") != 0 &&
	       !(l > 4 && strcmp(name + l - 4, ".log") == 0);
}

static int copy_one(const char *from, const char *to, zs_error_t *err)
{
	cleanup_close int in = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int out = -1;
	cleanup_free char *buf = NULL;
	size_t len = 0;

	if (in < 0 || read_all_fd(in, from, &buf, &len, err) < 0)
		return in < 0 ? zs_make_error(err, errno, "open `%s`", from) : -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0 || write_all(out, buf, len) < 0)
		return zs_make_error(err, errno, "write `%s`", to);
	return 0;
}

static int write_inventory(int ldfd, const char *leaf, const char *out, const char *parent_id, zs_error_t *err)
{
	struct zs_inventory inv;
	struct zs_buf b = {0}, msg = {0};
	struct zs_pb_field f;
	const uint8_t *m, *end;
	cleanup_free char *path = xasprintf("%s/inventory.img", out);
	int fd, ret = 0;

	if (zs_inventory_read(ldfd, leaf, &inv, err) < 0)
		return -1;
	m = inv.msg;
	end = inv.msg + inv.msg_len;
	while (zs_pb_next(&m, end, &f) > 0)
		if (f.num != 16)
			zs_buf_put(&msg, f.raw, f.raw_len);
	zs_pb_put_bytes_field(&msg, 16, parent_id, strlen(parent_id));
	zs_buf_put_u32(&b, ZS_INVENTORY_MAGIC);
	put_entry(&b, &msg);
	zs_buf_put(&b, end, inv.raw + inv.raw_len - end);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, b.p, b.len) < 0)
		ret = zs_make_error(err, errno, "write `%s`", path);
	if (fd >= 0)
		close(fd);
	zs_buf_free(&b);
	zs_buf_free(&msg);
	zs_inventory_free(&inv);
	return ret;
}

int zs_image_rebase(const char *leaf, const char *out, const char *parent_image_id, zs_rebase_same_cb same, void *arg,
		    struct zs_rebase_stats *st, zs_error_t *err)
{
	cleanup_close int ldfd = open(leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct rebase r = {.leaf = leaf, .out = out, .same = same, .arg = arg, .st = st, .pages_fd = -1};
	char **names = NULL;
	size_t n = 0;
	int ret = -1;

	memset(st, 0, sizeof(*st));
	if (ldfd < 0)
		return zs_make_error(err, errno, "open `%s`", leaf);
	if (mkdir(out, 0700) < 0)
		return zs_make_error(err, errno, "mkdir `%s`", out);
	if (zs_img_list(ldfd, leaf, NULL, &names, &n, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *from = xasprintf("%s/%s", leaf, names[i]), *to = xasprintf("%s/%s", out, names[i]);
		r.pm_name = names[i];
		if (zs_img_is_pagemap(names[i]) ? rebase_pagemap(&r, ldfd, err) < 0
		    : copied(names[i])		? copy_one(from, to, err) < 0
						: false)
			goto out;
	}
	ret = write_inventory(ldfd, leaf, out, parent_image_id, err);
out:
	free(r.runs);
	zs_img_list_free(names, n);
	if (ret < 0)
		rm_rf(out);
	return ret;
}
