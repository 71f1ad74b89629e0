/* Unit tests for lib/page_delta.c (TAP): the parent's pages of a diff
 * image's pages file, on a chain of three images written here (pagemaps
 * with PE_PRESENT, PE_PRESENT|PE_LAZY and PE_PARENT entries, `parent`
 * links), and a delta chunk (lib/zcompress.c) made against that base
 * rebuilding the pages. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/criu_image_internal.h"
#include "zanshin/criu_image.h"
#include "zanshin/image_rebase.h"
#include "zanshin/page_delta.h"
#include "zanshin/utils.h"
#include "zanshin/zcompress.h"

#define PG 4096u
#define LAZY_PRESENT (ZS_PE_PRESENT | ZS_PE_LAZY)

static int n, failed;
static char tmp[] = "/tmp/zs-page-delta-test.XXXXXX";

static void check(int ok, const char *name)
{
	n++;
	if (!ok)
		failed++;
	printf("%sok %d - %s\n", ok ? "" : "not ", n, name);
}

struct ent {
	uint64_t vaddr, nr;
	uint32_t flags;
};

static void put(const char *dir, const char *name, const void *p, size_t len)
{
	char *path = xasprintf("%s/%s/%s", tmp, dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write_all(fd, p, len) < 0)
		abort();
	close(fd);
	free(path);
}

static void put_msg(struct zs_buf *b, const struct zs_buf *m)
{
	zs_buf_put_u32(b, (uint32_t) m->len);
	zs_buf_put(b, m->p, m->len);
}

static void put_pagemap(const char *dir, uint32_t pages_id, const struct ent *e, size_t k)
{
	struct zs_buf b = {0}, m = {0};

	zs_buf_put_u32(&b, ZS_IMG_COMMON_MAGIC);
	zs_buf_put_u32(&b, ZS_PAGEMAP_MAGIC);
	zs_pb_put_uint_field(&m, 1, pages_id);
	put_msg(&b, &m);
	for (size_t i = 0; i < k; i++) {
		m.len = 0;
		zs_pb_put_uint_field(&m, 1, e[i].vaddr);
		zs_pb_put_uint_field(&m, 4, e[i].flags);
		zs_pb_put_uint_field(&m, 5, e[i].nr);
		put_msg(&b, &m);
	}
	put(dir, "pagemap-7.img", b.p, b.len);
	zs_buf_free(&b);
	zs_buf_free(&m);
}

/* K pages, page i filled with the byte TAGS[i] */
static void put_pages(const char *dir, const char *name, const char *tags, size_t k)
{
	uint8_t *p = xmalloc(k * PG);

	for (size_t i = 0; i < k; i++)
		memset(p + i * PG, tags[i], PG);
	put(dir, name, p, k * PG);
	free(p);
}

static void mkimg(const char *dir, const char *parent)
{
	char *path = xasprintf("%s/%s", tmp, dir), *link = NULL;

	if (mkdir(path, 0700) < 0)
		abort();
	if (parent) {
		link = xasprintf("%s/parent", path);
		if (symlink(parent, link) < 0)
			abort();
	}
	free(path);
	free(link);
}

static void put_inventory(const char *dir, const char *image_id)
{
	struct zs_buf b = {0}, m = {0};

	zs_buf_put_u32(&b, ZS_INVENTORY_MAGIC);
	zs_pb_put_uint_field(&m, 1, 2);
	zs_pb_put_bytes_field(&m, 15, image_id, strlen(image_id));
	put_msg(&b, &m);
	put(dir, "inventory.img", b.p, b.len);
	zs_buf_free(&b);
	zs_buf_free(&m);
}

/* the new parent holds the pages filled with 'A' and 'Q' */
static int same_aq(void *arg, const char *pagemap, uint64_t vaddr, const uint8_t *page)
{
	(void) arg;
	(void) vaddr;
	return strcmp(pagemap, "pagemap-7.img") == 0 && (page[0] == 'A' || page[0] == 'Q');
}

static void test_rebase(const char *g2)
{
	char *out = xasprintf("%s/rebased", tmp), *pages = xasprintf("%s/pages-5.img", out);
	struct zs_rebase_stats st;
	struct zs_image_info info = {0};
	zs_error_t err = NULL;
	struct stat sb;

	put_inventory("g2", "2222222222222222");
	check(zs_image_rebase(g2, out, "9999999999999999", same_aq, NULL, &st, &err) == 0,
	      "rebase: a chain written as a diff against another image");
	/* g2 restores 0x10000 A, 0x11000 Q (parent), 0x12000 C, 0x13000 D,
	 * 0x20000 E... from its own pages: v w x y z; the new parent holds A, Q */
	check(st.parent_pages == 0 && st.pages == 7, "rebase: g2's own pages differ from the new parent's");
	check(zs_image_info(out, &info, &err) == 0 && info.image_id && strcmp(info.image_id, "2222222222222222") == 0 &&
		  info.parent_image_id && strcmp(info.parent_image_id, "9999999999999999") == 0,
	      "rebase: the image keeps its id and names the new parent");
	check(info.pages == 7 && stat(pages, &sb) == 0 && sb.st_size == 7 * PG, "rebase: its pages file holds 7 pages");
	zs_image_info_free(&info);
	free(out);
	free(pages);
	/* g1 restores A Q C D E F: A and Q are the new parent's */
	out = xasprintf("%s/rebased1", tmp);
	put_inventory("g1", "1111111111111111");
	{
		char *g1 = xasprintf("%s/g1", tmp);
		check(zs_image_rebase(g1, out, "9999999999999999", same_aq, NULL, &st, &err) == 0 &&
			  st.parent_pages == 2 && st.pages == 4,
		      "rebase: pages the new parent holds become PE_PARENT, the others travel");
		check(zs_image_info(out, &info, &err) == 0 && info.parent_pages == 2 && info.pages == 4,
		      "rebase: its pagemap says so");
		zs_image_info_free(&info);
		free(g1);
	}
	free(out);
	zs_error_release(&err);
}

static bool page_is(const uint8_t *p, uint8_t v)
{
	for (size_t i = 0; i < PG; i++)
		if (p[i] != v)
			return false;
	return true;
}

int main(void)
{
	/* g0 full: 0x10000-0x13fff (lazy-capable, as CRIU marks private
	 * anonymous pages) and 0x20000-0x21fff */
	const struct ent e0[] = {{0x10000, 4, LAZY_PRESENT}, {0x20000, 2, ZS_PE_PRESENT}};
	/* g1: 0x11000 changed, the rest in its parent */
	const struct ent e1[] = {{0x10000, 1, ZS_PE_PARENT},
				 {0x11000, 1, LAZY_PRESENT},
				 {0x12000, 2, ZS_PE_PARENT},
				 {0x20000, 2, ZS_PE_PARENT}};
	/* g2: 0x10000-0x11fff, 0x13000, 0x20000 changed; 0x30000 is new */
	const struct ent e2[] = {{0x10000, 2, LAZY_PRESENT},  {0x12000, 1, ZS_PE_PARENT}, {0x13000, 1, ZS_PE_PRESENT},
				 {0x20000, 1, ZS_PE_PRESENT}, {0x21000, 1, ZS_PE_PARENT}, {0x30000, 1, ZS_PE_PRESENT}};
	struct zs_page_base *b = NULL;
	zs_error_t err = NULL;
	uint8_t *base = xmalloc(5 * PG), *data = xmalloc(5 * PG), *out = xmalloc(5 * PG);
	size_t with = 0;
	char *g2;

	if (mkdtemp(tmp) == NULL)
		abort();
	mkimg("g0", NULL);
	put_pagemap("g0", 1, e0, 2);
	put_pages("g0", "pages-1.img", "ABCDEF", 6);
	mkimg("g1", "../g0");
	put_pagemap("g1", 3, e1, 4);
	put_pages("g1", "pages-3.img", "Q", 1);
	mkimg("g2", "../g1");
	put_pagemap("g2", 5, e2, 6);
	put_pages("g2", "pages-5.img", "vwxyz", 5);
	g2 = xasprintf("%s/g2", tmp);

	check(zs_page_base_open(g2, "pages-5.img", &b, &err) == 1 && b, "the base of a diff's pages file opens");
	check(zs_page_base_read(b, 0, 5 * PG, base, &with, &err) == 0 && with == 4,
	      "4 of its 5 pages have a parent page");
	check(page_is(base, 'A'), "0x10000: through a PE_PARENT entry to the grandparent's lazy-capable page");
	check(page_is(base + PG, 'Q'), "0x11000: the parent's own page");
	check(page_is(base + 2 * PG, 'D'), "0x13000: the grandparent's 4th page");
	check(page_is(base + 3 * PG, 'E'), "0x20000: the grandparent's 5th page");
	check(page_is(base + 4 * PG, 0), "0x30000 (new): zeros");
	check(zs_page_base_read(b, PG, 2 * PG, base, &with, &err) == 0 && with == 2 && page_is(base, 'Q') &&
		  page_is(base + PG, 'D'),
	      "a range in the middle of the file");
	check(zs_page_base_read(b, 100, PG, base, &with, &err) < 0 && strstr(zs_error_msg(err), "whole pages"),
	      "a range that is not whole pages is refused");
	zs_error_release(&err);

	/* a delta chunk against that base: pages changed in one byte */
	zs_page_base_read(b, 0, 5 * PG, base, &with, &err);
	memcpy(data, base, 5 * PG);
	for (size_t i = 0; i < 5; i++)
		data[i * PG + 17] ^= 0x40;
	{
		struct zs_zcodec *z = zs_zcodec_new();
		const uint8_t *wire = NULL;
		size_t wlen = 0;
		struct zs_zchunk h;
		check(zs_zchunk_encode(z, data, 5 * PG, 1, base, &wire, &wlen, &err) == 0 && wire[0] == ZS_ZDELTA &&
			  wlen < 200,
		      "pages changed in one byte each travel as a delta of a few bytes");
		check(zs_zchunk_parse(wire, 5 * PG, &h, &err) == 0 &&
			  zs_zchunk_decode(z, &h, wire + ZS_ZCHUNK_HDR, base, out, &err) == 0 &&
			  memcmp(out, data, 5 * PG) == 0,
		      "the receiver rebuilds them from its own base");
		zs_zcodec_free(z);
	}
	zs_page_base_close(b);
	b = NULL;

	test_rebase(g2);
	check(zs_page_base_open(g2, "pages-9.img", &b, &err) == 0 && b == NULL, "no pagemap names pages-9: no base");
	{
		char *g0 = xasprintf("%s/g0", tmp);
		check(zs_page_base_open(g0, "pages-1.img", &b, &err) == 0 && b == NULL, "a full image has no base");
		free(g0);
	}
	check(zs_page_base_open(g2, "inventory.img", &b, &err) == 0 && b == NULL, "not a pages file: no base");
	{
		/* a pagemap that does not decode is an error, not a silent
		 * "no base" */
		put("g2", "pagemap-6.img", "garbage!", 8);
		check(zs_page_base_open(g2, "pages-5.img", &b, &err) < 0, "a pagemap that does not decode is refused");
		zs_error_release(&err);
	}
	{
		char *cmd = xasprintf("rm -rf %s", tmp);
		if (system(cmd) != 0)
			perror("rm");
		free(cmd);
	}
	free(g2);
	free(base);
	free(data);
	free(out);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
