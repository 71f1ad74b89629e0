// SPDX-License-Identifier: Apache-2.0
/*
 * zs-workload memory: regions with a known content, the operations that
 * change content and layout, and the check of every page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "workload.h"

#define WL_MAGIC 0x7a616e7368696e21ULL /* "zanshin!" */
#define WL_WORDS (WL_PAGE / sizeof(uint64_t))
#define WL_MAX_BAD_REPORTED 8

void out_add(struct wl_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= sizeof(o->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t) n;
	if (o->len >= sizeof(o->buf))
		o->len = sizeof(o->buf) - 1;
}

uint64_t wl_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

unsigned wl_random_words = WL_WORDS;

static void pattern(uint64_t *w, uint64_t seed, uint32_t tag, uint64_t key, uint8_t ver)
{
	/* -e: the random words do not change with the version (a rewrite
	 * changes the header only: a page that changed little) */
	uint64_t v = wl_random_words < WL_WORDS ? 0 : ver;
	uint64_t s = wl_mix64(seed ^ wl_mix64(key ^ ((uint64_t) tag << 40) ^ (v << 32))) | 1;
	size_t i;

	w[0] = WL_MAGIC ^ key;
	w[1] = ((uint64_t) tag << 32) | ver;
	w[2] = key;
	for (i = 3; i < WL_WORDS; i++) {
		if (i - 3 >= wl_random_words) {
			w[i] = key << 8 | (i & 7);
			continue;
		}
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		w[i] = s;
	}
}

static uint8_t next_ver(uint8_t v)
{
	return (uint8_t) ((v & 0x7f) % 127 + 1);
}

static void fill_page(const struct wl_mem *m, const struct wl_region *r, size_t i)
{
	pattern((uint64_t *) (r->addr + i * WL_PAGE), m->seed, r->tag, r->keybase + i, r->ver[i]);
}

static uint8_t *ver_alloc(size_t npages)
{
	void *p = mmap(NULL, npages ? npages : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static struct wl_region *region_add(struct wl_mem *m, char *addr, size_t npages, uint32_t tag, const char *kind)
{
	struct wl_region *r;
	size_t i;

	if (m->nr >= WL_MAX_REGIONS)
		return NULL;
	r = &m->r[m->nr];
	r->ver = ver_alloc(npages);
	if (!r->ver)
		return NULL;
	r->addr = addr;
	r->npages = npages;
	r->keybase = m->next_key;
	r->tag = tag;
	r->kind = kind;
	m->next_key += npages;
	for (i = 0; i < npages; i++) {
		r->ver[i] = 1;
		fill_page(m, r, i);
	}
	m->nr++;
	return r;
}

static void hole_add(struct wl_mem *m, char *addr, size_t npages, uint64_t keybase)
{
	if (m->nh < WL_MAX_HOLES)
		m->h[m->nh++] = (struct wl_hole){addr, npages, keybase};
}

int mem_init(struct wl_mem *m, uint64_t seed, uint32_t tag, size_t mib)
{
	size_t npages = mib * (1024 * 1024 / WL_PAGE);
	char *addr;

	memset(m, 0, sizeof(*m));
	m->seed = seed;
	m->next_key = 1;
	addr = mmap(NULL, npages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED)
		return -1;
	if (!region_add(m, addr, npages, tag, "main"))
		return -1;
	return 0;
}

size_t mem_total_pages(const struct wl_mem *m)
{
	size_t n = 0;
	int i;

	for (i = 0; i < m->nr; i++)
		n += m->r[i].npages;
	return n;
}

static size_t gcd(size_t a, size_t b)
{
	while (b) {
		size_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * Plan a write of exactly k distinct pages spread over all regions: page j
 * is (start + j * step) mod n with step coprime to n, start from (seed, gen).
 */
int mem_write_prepare(struct wl_mem *m, size_t k, struct wl_out *o)
{
	size_t n = mem_total_pages(m), step;
	int i;

	if (k == 0 || k > n) {
		out_add(o, "write: %zu pages asked, process has %zu\n", k, n);
		return -1;
	}
	m->cum[0] = 0;
	for (i = 0; i < m->nr; i++)
		m->cum[i + 1] = m->cum[i] + m->r[i].npages;
	step = n / k;
	if (step == 0)
		step = 1;
	while (gcd(step, n) != 1)
		step++;
	m->plan_n = n;
	m->plan_step = step;
	m->plan_start = (size_t) (wl_mix64(m->seed ^ (m->gen + 1) * 0x5851f42d4c957f2dULL) % n);
	return 0;
}

static struct wl_region *page_lookup(struct wl_mem *m, size_t g, size_t *off)
{
	int lo = 0, hi = m->nr - 1;

	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;

		if (m->cum[mid] <= g)
			lo = mid;
		else
			hi = mid - 1;
	}
	*off = g - m->cum[lo];
	return &m->r[lo];
}

/* Write pages j in [from, to) of the planned command; threads share the work. */
void mem_write_range(struct wl_mem *m, size_t from, size_t to)
{
	size_t j;

	for (j = from; j < to; j++) {
		size_t g = (m->plan_start + (j % m->plan_n) * m->plan_step) % m->plan_n, off;
		struct wl_region *r = page_lookup(m, g, &off);

		r->ver[off] = next_ver(r->ver[off]);
		fill_page(m, r, off);
	}
}

static void describe_bad(const struct wl_mem *m, const struct wl_region *r, size_t i, struct wl_out *o)
{
	const uint64_t *w = (const uint64_t *) (r->addr + i * WL_PAGE);
	uint64_t key = r->keybase + i;
	uint64_t buf[WL_WORDS];

	out_add(o, "  bad page: region %s@%p page %zu key %llu expected %s%u", r->kind, (void *) r->addr, i,
		(unsigned long long) key, r->ver[i] & WL_VER_ZERO ? "zeroes, last version " : "version ",
		r->ver[i] & 0x7f);
	if (w[0] == (WL_MAGIC ^ w[2])) {
		pattern(buf, m->seed, (uint32_t) (w[1] >> 32), w[2], (uint8_t) w[1]);
		out_add(o, "; found key %llu tag %u version %u%s\n", (unsigned long long) w[2], (unsigned) (w[1] >> 32),
			(unsigned) (uint8_t) w[1],
			memcmp(buf, w, WL_PAGE) ? " (body corrupt)" : (w[2] == key ? " (stale content)" : ""));
	} else {
		size_t z = 0;

		while (z < WL_WORDS && w[z] == 0)
			z++;
		out_add(o, "; found %s\n", z == WL_WORDS ? "zeroes" : "unrecognised content");
	}
}

static uint64_t digest_add(uint64_t d, uint64_t v)
{
	return wl_mix64(d ^ v);
}

static size_t verify_region(const struct wl_mem *m, const struct wl_region *r, struct wl_out *o, size_t reported,
			    uint64_t *d)
{
	static const uint64_t zero[WL_WORDS];
	uint64_t buf[WL_WORDS];
	size_t i, bad = 0;

	*d = digest_add(*d, (uintptr_t) r->addr);
	*d = digest_add(*d, r->npages);
	*d = digest_add(*d, r->keybase);
	*d = digest_add(*d, r->tag);
	for (i = 0; i < r->npages; i++) {
		const void *p = r->addr + i * WL_PAGE;
		int ok;

		*d = digest_add(*d, r->ver[i]);
		if (r->ver[i] & WL_VER_ZERO) {
			ok = !memcmp(p, zero, WL_PAGE);
		} else {
			pattern(buf, m->seed, r->tag, r->keybase + i, r->ver[i]);
			ok = !memcmp(p, buf, WL_PAGE);
		}
		if (ok)
			continue;
		if (reported + bad < WL_MAX_BAD_REPORTED)
			describe_bad(m, r, i, o);
		bad++;
	}
	return bad;
}

struct maps_range {
	uintptr_t start, end;
};

/* The readable mappings of this process, from /proc/self/maps. */
static int readable_ranges(struct maps_range *mr, int max)
{
	static char buf[1 << 16];
	int fd, n = 0;
	ssize_t len = 0, got;
	char *line, *save;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len < (ssize_t) sizeof(buf) - 1 && (got = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += got;
	close(fd);
	buf[len] = 0;
	for (line = strtok_r(buf, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
		unsigned long s, e;
		char perm[8];

		if (sscanf(line, "%lx-%lx %7s", &s, &e, perm) == 3 && perm[0] == 'r')
			mr[n++] = (struct maps_range){s, e};
	}
	return n;
}

static int in_ranges(const struct maps_range *mr, int n, uintptr_t a)
{
	int i;

	for (i = 0; i < n; i++)
		if (mr[i].start <= a && a < mr[i].end)
			return 1;
	return 0;
}

/*
 * What a hole held must never come back: the range may be reused by a later
 * mapping (the kernel places small mmaps there), but no readable page in it
 * may carry content keyed as the unmapped pages were.
 */
static size_t verify_holes(const struct wl_mem *m, struct wl_out *o)
{
	static struct maps_range mr[4096];
	size_t bad = 0, i;
	int h, n = 0;

	if (m->nh)
		n = readable_ranges(mr, 4096);
	if (n < 0) {
		out_add(o, "  /proc/self/maps: %s\n", strerror(errno));
		return 1;
	}
	for (h = 0; h < m->nh; h++) {
		for (i = 0; i < m->h[h].npages; i++) {
			const uint64_t *w = (const uint64_t *) (m->h[h].addr + i * WL_PAGE);

			if (!in_ranges(mr, n, (uintptr_t) w))
				continue;
			if (w[0] != (WL_MAGIC ^ w[2]) || w[2] < m->h[h].keybase ||
			    w[2] >= m->h[h].keybase + m->h[h].npages)
				continue;
			if (bad < WL_MAX_BAD_REPORTED)
				out_add(o, "  hole at %p: page %zu holds the unmapped content (key %llu)\n",
					(void *) m->h[h].addr, i, (unsigned long long) w[2]);
			bad++;
		}
	}
	return bad;
}

/* Check every page; returns the number of bad pages, fills a digest of the expected state. */
int mem_verify(struct wl_mem *m, struct wl_out *o, uint64_t *digest)
{
	uint64_t d = digest_add(m->seed, m->gen);
	size_t bad = 0;
	int i;

	for (i = 0; i < m->nr; i++)
		bad += verify_region(m, &m->r[i], o, bad, &d);
	bad += verify_holes(m, o);
	*digest = d;
	return bad > 0x7fffffff ? 0x7fffffff : (int) bad;
}

static struct wl_region *largest_region(struct wl_mem *m, size_t min_pages)
{
	struct wl_region *best = NULL;
	int i;

	for (i = 0; i < m->nr; i++)
		if (m->r[i].npages >= min_pages && (!best || m->r[i].npages > best->npages))
			best = &m->r[i];
	return best;
}

/* A hole left by munmap/mremap that fits npages, to map new content where old content was. */
static char *hole_fitting(const struct wl_mem *m, size_t npages)
{
	int i;

	for (i = m->nh - 1; i >= 0; i--)
		if (m->h[i].npages >= npages)
			return m->h[i].addr;
	return NULL;
}

/* New anonymous memory; placed in a hole when one fits, so that old and new content share addresses. */
int mem_mmap_new(struct wl_mem *m, uint32_t tag, size_t mib, struct wl_out *o)
{
	size_t npages = mib * (1024 * 1024 / WL_PAGE);
	char *hint = hole_fitting(m, npages), *addr = MAP_FAILED;

	if (hint)
		addr = mmap(hint, npages * WL_PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (addr == MAP_FAILED)
		addr = mmap(NULL, npages * WL_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED) {
		out_add(o, "mmap-new: mmap %zu MiB: %s\n", mib, strerror(errno));
		return -1;
	}
	if (!region_add(m, addr, npages, tag, "mmap-new")) {
		out_add(o, "mmap-new: too many regions\n");
		return -1;
	}
	out_add(o, "mmap-new %p %zu pages%s\n", (void *) addr, npages, addr == hint ? " (in a hole)" : "");
	return 0;
}

int mem_brk(struct wl_mem *m, uint32_t tag, size_t mib, struct wl_out *o)
{
	size_t npages = mib * (1024 * 1024 / WL_PAGE);
	char *cur = sbrk(0), *addr;

	/* Start the region on a page boundary of the break. */
	if ((uintptr_t) cur % WL_PAGE && sbrk((intptr_t) (WL_PAGE - (uintptr_t) cur % WL_PAGE)) == (void *) -1)
		goto err;
	addr = sbrk((intptr_t) (npages * WL_PAGE));
	if (addr == (void *) -1)
		goto err;
	if (!region_add(m, addr, npages, tag, "brk")) {
		out_add(o, "brk: too many regions\n");
		return -1;
	}
	out_add(o, "brk %p %zu pages\n", (void *) addr, npages);
	return 0;
err:
	out_add(o, "brk: sbrk %zu MiB: %s\n", mib, strerror(errno));
	return -1;
}

/*
 * Move the second half of the largest region to a new address and grow it
 * by a quarter; the grown part is new content. The old range becomes a hole.
 */
int mem_mremap(struct wl_mem *m, struct wl_out *o)
{
	struct wl_region *r = largest_region(m, 2), *moved, *ext;
	size_t half, tail, grow;
	char *old, *target, *p;

	if (!r || m->nr + 2 > WL_MAX_REGIONS) {
		out_add(o, "mremap: no region to move\n");
		return -1;
	}
	half = r->npages / 2;
	tail = r->npages - half;
	grow = tail / 4 ? tail / 4 : 1;
	old = r->addr + half * WL_PAGE;
	target = mmap(NULL, (tail + grow) * WL_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (target == MAP_FAILED)
		goto err;
	p = mremap(old, tail * WL_PAGE, (tail + grow) * WL_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	if (p == MAP_FAILED)
		goto err;
	moved = &m->r[m->nr++];
	*moved = *r;
	moved->addr = p;
	moved->npages = tail;
	moved->keybase = r->keybase + half;
	moved->ver = r->ver + half;
	moved->kind = "mremap-moved";
	r->npages = half;
	hole_add(m, old, tail, moved->keybase);
	ext = region_add(m, p + tail * WL_PAGE, grow, moved->tag, "mremap-grown");
	if (!ext) {
		out_add(o, "mremap: too many regions\n");
		return -1;
	}
	out_add(o, "mremap %p -> %p %zu pages, grown by %zu pages\n", (void *) old, (void *) p, tail, grow);
	return 0;
err:
	out_add(o, "mremap: %s\n", strerror(errno));
	return -1;
}

/* Unmap an eighth of the largest region, a quarter into it: the region splits. */
int mem_munmap(struct wl_mem *m, struct wl_out *o)
{
	struct wl_region *r = largest_region(m, 4), *after;
	size_t at, len;

	if (!r || m->nr + 1 > WL_MAX_REGIONS) {
		out_add(o, "munmap: no region to split\n");
		return -1;
	}
	at = r->npages / 4;
	len = r->npages / 8 ? r->npages / 8 : 1;
	if (munmap(r->addr + at * WL_PAGE, len * WL_PAGE)) {
		out_add(o, "munmap: %s\n", strerror(errno));
		return -1;
	}
	after = &m->r[m->nr++];
	*after = *r;
	after->addr = r->addr + (at + len) * WL_PAGE;
	after->npages = r->npages - at - len;
	after->keybase = r->keybase + at + len;
	after->ver = r->ver + at + len;
	r->npages = at;
	hole_add(m, r->addr + at * WL_PAGE, len, r->keybase + at);
	out_add(o, "munmap %p %zu pages\n", (void *) (r->addr + at * WL_PAGE), len);
	return 0;
}

/* MADV_DONTNEED a sixteenth of the largest region, from its middle: those pages read as zeroes. */
int mem_dontneed(struct wl_mem *m, struct wl_out *o)
{
	struct wl_region *r = largest_region(m, 2);
	size_t at, len, i;

	if (!r) {
		out_add(o, "dontneed: no region\n");
		return -1;
	}
	at = r->npages / 2;
	len = r->npages / 16 ? r->npages / 16 : 1;
	if (madvise(r->addr + at * WL_PAGE, len * WL_PAGE, MADV_DONTNEED)) {
		out_add(o, "dontneed: %s\n", strerror(errno));
		return -1;
	}
	for (i = at; i < at + len; i++)
		r->ver[i] |= WL_VER_ZERO;
	out_add(o, "dontneed %p %zu pages\n", (void *) (r->addr + at * WL_PAGE), len);
	return 0;
}

/*
 * mprotect-ro makes an eighth of the largest region read-only (from its
 * three-quarter mark), splitting its mapping; mprotect-rw makes it writable
 * again. No write command may run in between (it would fault).
 */
int mem_mprotect(struct wl_mem *m, int writable, struct wl_out *o)
{
	struct wl_region *r;

	if (!writable) {
		r = largest_region(m, 8);
		if (!r || m->ro_addr) {
			out_add(o, "mprotect-ro: %s\n", r ? "already read-only" : "no region");
			return -1;
		}
		m->ro_addr = r->addr + (r->npages * 3 / 4) * WL_PAGE;
		m->ro_len = (r->npages / 8) * WL_PAGE;
	} else if (!m->ro_addr) {
		out_add(o, "mprotect-rw: nothing is read-only\n");
		return -1;
	}
	if (mprotect(m->ro_addr, m->ro_len, writable ? PROT_READ | PROT_WRITE : PROT_READ)) {
		out_add(o, "mprotect: %s\n", strerror(errno));
		return -1;
	}
	out_add(o, "mprotect %p %zu pages %s\n", (void *) m->ro_addr, m->ro_len / WL_PAGE, writable ? "rw" : "ro");
	if (writable)
		m->ro_addr = NULL;
	return 0;
}

/*
 * Self-test of the verifier: "corrupt" flips one byte of a page, "stale"
 * records a write that never reached memory, as a restore that lost a
 * written page would. Both must make the next verify fail.
 */
int mem_damage(struct wl_mem *m, const char *how, struct wl_out *o)
{
	struct wl_region *r = largest_region(m, 1);
	size_t i;

	if (!r)
		return -1;
	i = r->npages / 3;
	if (!strcmp(how, "corrupt"))
		r->addr[i * WL_PAGE + 100] ^= 0x20;
	else
		r->ver[i] = next_ver(r->ver[i]);
	out_add(o, "%s page %zu of region %s@%p\n", how, i, r->kind, (void *) r->addr);
	return 0;
}

static size_t region_nonzero(const struct wl_region *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->npages; i++)
		n += !(r->ver[i] & WL_VER_ZERO);
	return n;
}

/* Pages that must hold data (not zeroes) after restore. */
size_t mem_nonzero_pages(const struct wl_mem *m)
{
	size_t n = 0;
	int i;

	for (i = 0; i < m->nr; i++)
		n += region_nonzero(&m->r[i]);
	return n;
}

void mem_info(const struct wl_mem *m, struct wl_out *o)
{
	int i;

	for (i = 0; i < m->nr; i++)
		out_add(o, "  region %s %p-%p pages=%zu nonzero=%zu\n", m->r[i].kind, (void *) m->r[i].addr,
			(void *) (m->r[i].addr + m->r[i].npages * WL_PAGE), m->r[i].npages, region_nonzero(&m->r[i]));
	for (i = 0; i < m->nh; i++)
		out_add(o, "  hole %p pages=%zu\n", (void *) m->h[i].addr, m->h[i].npages);
}
