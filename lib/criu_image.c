/* zanshin — CRIU image directories read without CRIU: the entries of an
 * image file, pagemaps, the inventory (with the lineage ids of
 * criu-patches 0010), zs_image_info() and zs_image_check().
 *
 * An image file is, for CRIU 4.2.1 (img_version 2, CRTOOLS_IMAGES_V1_1):
 * IMG_COMMON_MAGIC (IMG_SERVICE_MAGIC for stats/irmap-cache) and the
 * file's own magic as host-order u32s -- inventory.img has only its own
 * magic -- then entries, each a u32 length and a protobuf message.
 * pages-*.img and a few others are raw, without any header. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu_image_internal.h"
#include "zanshin/criu_image.h"
#include "zanshin/utils.h"

int zs_img_open(int dfd, const char *dir, const char *name, struct stat *st, zs_error_t *err)
{
	/* no symlink, and no open that blocks (a FIFO) or has side effects (a
	 * device): only a regular file is read */
	cleanup_close int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat sb;

	if (fd < 0 && errno == ELOOP)
		return zs_make_error(err, -ELOOP, "%s/%s: is a symlink (an image file must be a regular file)", dir,
				     name);
	if (fd < 0)
		return zs_make_error(err, errno, "%s/%s", dir, name);
	if (fstat(fd, &sb) < 0)
		return zs_make_error(err, errno, "%s/%s: fstat", dir, name);
	if (!S_ISREG(sb.st_mode))
		return zs_make_error(err, -EINVAL, "%s/%s: not a regular file (an image file must be one)", dir, name);
	if (st)
		*st = sb;
	return steal_fd(&fd);
}

/* Read exactly the file's size (no more: a file growing under us is cut
 * at the size it had when checked), at most MAX bytes. */
static int read_bounded(int fd, const char *what, size_t size, uint8_t *buf, zs_error_t *err)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = pread(fd, buf + got, size - got, got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return zs_make_error(err, errno, "%s: read", what);
		if (n == 0)
			return zs_make_error(err, -EIO, "%s: shrank while read (%zu of %zu bytes)", what, got, size);
		got += n;
	}
	return 0;
}

int zs_img_slurp(int dfd, const char *dir, const char *name, size_t max, uint8_t **out, size_t *len, zs_error_t *err)
{
	cleanup_free char *what = xasprintf("%s/%s", dir, name);
	cleanup_free uint8_t *buf = NULL;
	cleanup_close int fd = -1;
	struct stat st;

	fd = zs_img_open(dfd, dir, name, &st, err);
	if (fd < 0)
		return -1;
	if ((uint64_t) st.st_size > max)
		return zs_make_error(err, -EFBIG, "%s: %llu bytes, more than the %zu this kind of image may have", what,
				     (unsigned long long) st.st_size, max);
	buf = xmalloc(st.st_size + 1);
	if (read_bounded(fd, what, st.st_size, buf, err) < 0)
		return -1;
	buf[st.st_size] = '\0';
	*len = st.st_size;
	*out = steal_pointer(&buf);
	return 0;
}

int zs_img_next(struct zs_img_iter *it, const uint8_t **msg, size_t *len, zs_error_t *err)
{
	size_t left = it->end - it->pos;
	uint32_t n;

	if (left == 0)
		return 0;
	if (left < sizeof(n))
		return zs_make_error(err, -EINVAL, "%s: truncated entry at offset %zu (%zu bytes left, need 4)",
				     it->what, (size_t) (it->pos - it->base), left);
	memcpy(&n, it->pos, sizeof(n));
	if (n > left - sizeof(n))
		return zs_make_error(err, -EINVAL, "%s: truncated entry at offset %zu (%" PRIu32 " bytes, %zu left)",
				     it->what, (size_t) (it->pos - it->base), n, left - sizeof(n));
	*msg = it->pos + sizeof(n);
	*len = n;
	it->pos += sizeof(n) + n;
	return 1;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Check the two magics at the head of a pagemap image. */
static int check_pagemap_head(const char *what, const uint8_t *p, size_t len, zs_error_t *err)
{
	if (len < 8)
		return zs_make_error(err, -EINVAL, "%s: truncated header (%zu bytes)", what, len);
	if (get_u32(p) != ZS_IMG_COMMON_MAGIC || get_u32(p + 4) != ZS_PAGEMAP_MAGIC)
		return zs_make_error(err, -EINVAL, "%s: bad magic (not a CRIU pagemap image)", what);
	return 0;
}

static int decode_pagemap_head(const char *what, const uint8_t *m, size_t len, uint32_t *id, zs_error_t *err)
{
	const uint8_t *end = m + len;
	struct zs_pb_field f;
	bool seen = false;
	int r;

	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.num == 1 && f.wire == ZS_PB_VARINT && f.v <= UINT32_MAX) {
			*id = f.v;
			seen = true;
		}
	}
	if (r < 0 || !seen)
		return zs_make_error(err, -EINVAL, "%s: pagemap_head: %s", what,
				     r < 0 ? "malformed message" : "no pages_id");
	return 0;
}

/* PagemapEntry, with init_compat_pagemap_entry()'s rules for old images. */
static int decode_pagemap_entry(const char *what, size_t idx, const uint8_t *m, size_t len, struct zs_pm_entry *e,
				zs_error_t *err)
{
	const uint8_t *end = m + len;
	bool has_vaddr = false, has_flags = false, has_nr = false, in_parent = false;
	uint64_t compat_nr = 0;
	struct zs_pb_field f;
	int r;

	memset(e, 0, sizeof(*e));
	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.wire != ZS_PB_VARINT)
			continue;
		switch (f.num) {
		case 1:
			e->vaddr = f.v, has_vaddr = true;
			break;
		case 2:
			compat_nr = f.v;
			break;
		case 3:
			in_parent = f.v != 0;
			break;
		case 4:
			e->flags = f.v, has_flags = true;
			break;
		case 5:
			e->nr_pages = f.v, has_nr = true;
			break;
		}
	}
	if (r < 0 || !has_vaddr)
		return zs_make_error(err, -EINVAL, "%s: entry %zu: %s", what, idx,
				     r < 0 ? "malformed message" : "no vaddr");
	if (in_parent)
		e->flags |= ZS_PE_PARENT;
	else if (!has_flags)
		e->flags = ZS_PE_PRESENT;
	if (!has_nr)
		e->nr_pages = compat_nr;
	if (e->vaddr % ZS_IMG_PAGE_SIZE || e->nr_pages == 0 || e->nr_pages > (UINT64_MAX - e->vaddr) / ZS_IMG_PAGE_SIZE)
		return zs_make_error(err, -EINVAL, "%s: entry %zu: bad range %#" PRIx64 " + %" PRIu64 " pages", what,
				     idx, e->vaddr, e->nr_pages);
	return 0;
}

static void pagemap_account(struct zs_pagemap *pm, struct zs_pm_entry *e)
{
	e->off = pm->present_pages * ZS_IMG_PAGE_SIZE;
	if (e->flags & ZS_PE_PRESENT)
		pm->present_pages += e->nr_pages;
	if (e->flags & ZS_PE_PARENT)
		pm->parent_pages += e->nr_pages;
	if (e->flags & ZS_PE_LAZY)
		pm->lazy_pages += e->nr_pages;
}

static int pagemap_decode(struct zs_pagemap *pm, const uint8_t *buf, size_t len, zs_error_t *err)
{
	struct zs_img_iter it = {pm->what, buf, buf + 8, buf + len};
	const uint8_t *m;
	size_t mlen, cap = 0;
	int r;

	if (check_pagemap_head(pm->what, buf, len, err) < 0)
		return -1;
	r = zs_img_next(&it, &m, &mlen, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return zs_make_error(err, -EINVAL, "%s: no pagemap_head entry", pm->what);
	if (decode_pagemap_head(pm->what, m, mlen, &pm->pages_id, err) < 0)
		return -1;
	while ((r = zs_img_next(&it, &m, &mlen, err)) > 0) {
		struct zs_pm_entry *e;

		if (pm->n == cap) {
			cap = cap ? cap * 2 : 64;
			pm->e = xrealloc(pm->e, cap * sizeof(*pm->e));
		}
		e = &pm->e[pm->n];
		if (decode_pagemap_entry(pm->what, pm->n, m, mlen, e, err) < 0)
			return -1;
		if (pm->n > 0 && e->vaddr < pm->e[pm->n - 1].vaddr + pm->e[pm->n - 1].nr_pages * ZS_IMG_PAGE_SIZE)
			return zs_make_error(err, -EINVAL, "%s: entry %zu at %#" PRIx64 " overlaps or is out of order",
					     pm->what, pm->n, e->vaddr);
		pagemap_account(pm, e);
		pm->n++;
	}
	return r;
}

int zs_pagemap_read(int dfd, const char *dir, const char *name, struct zs_pagemap *pm, zs_error_t *err)
{
	cleanup_free uint8_t *buf = NULL;
	size_t len;

	memset(pm, 0, sizeof(*pm));
	pm->what = xasprintf("%s/%s", dir, name);
	if (zs_img_slurp(dfd, dir, name, ZS_IMG_MAX_PAGEMAP, &buf, &len, err) < 0)
		return -1;
	if (pagemap_decode(pm, buf, len, err) < 0) {
		zs_pagemap_free(pm);
		return -1;
	}
	return 0;
}

void zs_pagemap_free(struct zs_pagemap *pm)
{
	free(pm->what);
	free(pm->e);
	memset(pm, 0, sizeof(*pm));
}

long zs_pagemap_find(const struct zs_pagemap *pm, uint64_t vaddr)
{
	size_t lo = 0, hi = pm->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct zs_pm_entry *e = &pm->e[mid];

		if (vaddr < e->vaddr)
			hi = mid;
		else if (vaddr >= e->vaddr + e->nr_pages * ZS_IMG_PAGE_SIZE)
			lo = mid + 1;
		else
			return (long) mid;
	}
	return -1;
}

static int inventory_decode(const char *what, struct zs_inventory *inv, zs_error_t *err)
{
	const uint8_t *m = inv->msg, *end = inv->msg + inv->msg_len;
	struct zs_pb_field f;
	bool has_version = false;
	int r;

	while ((r = zs_pb_next(&m, end, &f)) > 0) {
		if (f.num == 1 && f.wire == ZS_PB_VARINT) {
			inv->img_version = (uint32_t) f.v;
			has_version = true;
		} else if ((f.num == 15 || f.num == 16) && f.wire == ZS_PB_LEN) {
			char **dst = f.num == 15 ? &inv->image_id : &inv->parent_image_id;

			free(*dst);
			*dst = xmalloc(f.len + 1);
			memcpy(*dst, f.data, f.len);
			(*dst)[f.len] = '\0';
			if (strlen(*dst) != f.len)
				return zs_make_error(err, -EINVAL, "%s: %s contains a NUL byte", what,
						     f.num == 15 ? "image_id" : "parent_image_id");
		}
	}
	if (r < 0)
		return zs_make_error(err, -EINVAL, "%s: inventory_entry: malformed message", what);
	if (!has_version)
		return zs_make_error(err, -EINVAL, "%s: inventory_entry: no img_version", what);
	return 0;
}

static int inventory_parse(const char *what, struct zs_inventory *inv, zs_error_t *err)
{
	struct zs_img_iter it = {what, inv->raw, inv->raw + 4, inv->raw + inv->raw_len};
	int r;

	if (inv->raw_len < 4)
		return zs_make_error(err, -EINVAL, "%s: truncated header (%zu bytes)", what, inv->raw_len);
	if (get_u32(inv->raw) != ZS_INVENTORY_MAGIC)
		return zs_make_error(err, -EINVAL, "%s: bad magic (not a CRIU inventory image)", what);
	r = zs_img_next(&it, &inv->msg, &inv->msg_len, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return zs_make_error(err, -EINVAL, "%s: no inventory entry", what);
	return inventory_decode(what, inv, err);
}

int zs_inventory_read(int dfd, const char *dir, struct zs_inventory *inv, zs_error_t *err)
{
	cleanup_free char *what = xasprintf("%s/inventory.img", dir);

	memset(inv, 0, sizeof(*inv));
	if (zs_img_slurp(dfd, dir, "inventory.img", ZS_IMG_MAX_INVENTORY, &inv->raw, &inv->raw_len, err) < 0)
		return -1;
	if (inventory_parse(what, inv, err) < 0) {
		zs_inventory_free(inv);
		return -1;
	}
	return 0;
}

void zs_inventory_free(struct zs_inventory *inv)
{
	free(inv->image_id);
	free(inv->parent_image_id);
	free(inv->raw);
	memset(inv, 0, sizeof(*inv));
}

bool zs_image_log_file(const char *name)
{
	size_t l = strlen(name);

	if (l > 4 && strcmp(name + l - 4, ".log") == 0)
		return true;
	return strcmp(name, "stats-dump") == 0 || strcmp(name, "stats-restore") == 0 ||
	       strcmp(name, ZS_DUMP_MARK) == 0 || strcmp(name, "stats-restore.img") == 0 ||
	       strcmp(name, "stats-dump.img") == 0;
}

bool zs_img_is_pagemap(const char *name)
{
	size_t n = strlen(name);

	return str_has_prefix(name, "pagemap-") && n > 12 && strcmp(name + n - 4, ".img") == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

void zs_img_list_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int zs_img_list(int dfd, const char *dir, bool (*pred)(const char *), char ***names, size_t *n, zs_error_t *err)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0, cap = 0;

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return zs_make_error(err, e, "%s", dir);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 || (pred && !pred(de->d_name)))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 32;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[cnt++] = xstrdup(de->d_name);
	}
	if (errno) {
		int e = errno;

		zs_img_list_free(v, cnt);
		return zs_make_error(err, e, "%s: readdir", dir);
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_names);
	*names = v;
	*n = cnt;
	return 0;
}

/* ---- zs_image_info ---- */

static int info_parent_link(int dfd, const char *dir, struct zs_image_info *info, zs_error_t *err)
{
	char buf[4096];
	ssize_t n = readlinkat(dfd, "parent", buf, sizeof(buf) - 1);

	if (n < 0 && errno == ENOENT)
		return 0;
	if (n < 0)
		return zs_make_error(err, errno, "%s/parent", dir);
	buf[n] = '\0';
	info->parent_link = xstrdup(buf);
	return 0;
}

static int info_sizes(int dfd, const char *dir, struct zs_image_info *info, zs_error_t *err)
{
	char **names = NULL;
	size_t n = 0, i;
	struct stat st;

	if (zs_img_list(dfd, dir, NULL, &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			info->bytes += st.st_size;
	zs_img_list_free(names, n);
	return 0;
}

static int info_pagemaps(int dfd, const char *dir, struct zs_image_info *info, zs_error_t *err)
{
	char **names = NULL;
	size_t n = 0, i;
	int ret = 0;

	if (zs_img_list(dfd, dir, zs_img_is_pagemap, &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n && ret == 0; i++) {
		struct zs_pagemap pm;

		ret = zs_pagemap_read(dfd, dir, names[i], &pm, err);
		if (ret < 0)
			break;
		info->pages += pm.present_pages;
		info->parent_pages += pm.parent_pages;
		info->lazy_pages += pm.lazy_pages;
		info->n_pagemaps++;
		zs_pagemap_free(&pm);
	}
	zs_img_list_free(names, n);
	return ret;
}

int zs_image_info(const char *dir, struct zs_image_info *info, zs_error_t *err)
{
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct zs_inventory inv;

	memset(info, 0, sizeof(*info));
	if (dfd < 0)
		return zs_make_error(err, errno, "%s", dir);
	if (zs_inventory_read(dfd, dir, &inv, err) < 0)
		return -1;
	info->image_id = steal_pointer(&inv.image_id);
	info->parent_image_id = steal_pointer(&inv.parent_image_id);
	info->img_version = inv.img_version;
	zs_inventory_free(&inv);
	if (info_parent_link(dfd, dir, info, err) < 0 || info_sizes(dfd, dir, info, err) < 0 ||
	    info_pagemaps(dfd, dir, info, err) < 0) {
		zs_image_info_free(info);
		return -1;
	}
	return 0;
}

void zs_image_info_free(struct zs_image_info *info)
{
	free(info->image_id);
	free(info->parent_image_id);
	free(info->parent_link);
	memset(info, 0, sizeof(*info));
}
