/* SPDX-License-Identifier: Apache-2.0
 * Kernel facts that lazy restore with exact tracking rests on
 * (docs/lazy-restore.md, criu-patches 0019), checked on the running kernel.
 * Prints TAP lines; exit status 1 when one fails.
 *
 * One userfaultfd with WP_ASYNC|WP_UNPOPULATED and CRIU's lazy-pages
 * events, a private anonymous range registered MISSING|WP, a server
 * thread that answers MISSING faults with UFFDIO_COPY_MODE_WP (the page
 * of the "image" is pattern(i)), PAGEMAP_SCAN as CRIU's wp-async backend
 * reads it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFDIO_COPY_MODE_WP
#define UFFDIO_COPY_MODE_WP ((__u64) 1 << 1)
#endif
struct page_region {
	uint64_t start, end, categories;
};
struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted, category_mask,
	    category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)

#define N 256
#define PS 4096UL

static int uffd, pm, failed, n_ok;
static char *mem;

static void pattern(char *p, unsigned long i)
{
	memset(p, 'a' + (int) (i % 26), PS);
}

static void check(int ok, const char *what, const char *detail)
{
	printf("%s %d - %s%s%s\n", ok ? "ok" : "not ok", ++n_ok, what, detail ? ": " : "", detail ? detail : "");
	if (!ok)
		failed = 1;
}

static void *server(void *arg)
{
	static char buf[PS] __attribute__((aligned(4096)));
	struct pollfd pfd = {.fd = uffd, .events = POLLIN};

	for (;;) {
		struct uffd_msg m;
		struct uffdio_copy c = {.src = (unsigned long) buf, .len = PS, .mode = UFFDIO_COPY_MODE_WP};

		if (poll(&pfd, 1, -1) < 0 || read(uffd, &m, sizeof(m)) != sizeof(m))
			continue;
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		c.dst = m.arg.pagefault.address & ~(PS - 1);
		pattern(buf, (c.dst - (unsigned long) mem) / PS);
		if (ioctl(uffd, UFFDIO_COPY, &c))
			perror("UFFDIO_COPY");
	}
	return arg;
}

/* Pages PAGEMAP_SCAN reports written in [mem, mem + N pages); ARM re-arms. */
static long scan(int arm, unsigned long anyof)
{
	struct page_region r[N];
	struct pm_scan_arg a = {.size = sizeof(a),
				.flags = arm ? PM_SCAN_WP_MATCHING : 0,
				.start = (unsigned long) mem,
				.end = (unsigned long) mem + N * PS,
				.vec = (unsigned long) r,
				.vec_len = N,
				.category_mask = PAGE_IS_WRITTEN,
				.category_anyof_mask = anyof,
				.return_mask = PAGE_IS_WRITTEN};
	long n = ioctl(pm, PAGEMAP_SCAN, &a), pages = 0, i;

	if (n < 0) {
		perror("PAGEMAP_SCAN");
		exit(1);
	}
	for (i = 0; i < n; i++)
		pages += (long) ((r[i].end - r[i].start) / PS);
	return pages;
}

static int vma_has_flag(const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char l[512], want[8];
	unsigned long s = 0, a, b;
	int found = 0;

	snprintf(want, sizeof(want), " %s", flag);
	while (f && fgets(l, sizeof(l), f)) {
		if (sscanf(l, "%lx-%lx ", &a, &b) == 2 && strchr(l, '-') < strchr(l, ' '))
			s = a;
		if (!strncmp(l, "VmFlags:", 8) && s == (unsigned long) mem && strstr(l, want))
			found = 1;
	}
	if (f)
		fclose(f);
	return found;
}

static void fill_and_write(void)
{
	static const int wr[] = {3, 17, 64, 100, 200, 255};
	char buf[64], want[PS];
	int bad = 0, i, k;
	long w;

	for (i = 0; i < 6; i++)
		mem[wr[i] * PS + 5] = 'Z'; /* the first touch of these pages is a write */
	for (i = 0; i < N; i++) {
		pattern(want, (unsigned long) i);
		for (k = 0; k < 6; k++)
			if (wr[k] == i)
				want[5] = 'Z';
		bad += memcmp(want, mem + i * PS, PS) != 0;
	}
	w = scan(0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED);
	snprintf(buf, sizeof(buf), "%d wrong pages, %ld written (want 0, 6)", bad, w);
	check(bad == 0 && w == 6, "256 pages filled by UFFDIO_COPY_MODE_WP, 6 first touched by a write", buf);
	scan(1, PAGE_IS_PRESENT | PAGE_IS_SWAPPED);
	mem[7 * PS] = 'Y';
	mem[8 * PS + 1] = 'Y';
	w = scan(0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED);
	snprintf(buf, sizeof(buf), "%ld written (want 2)", w);
	check(w == 2, "re-armed from the image state, 2 pages written", buf);
}

/* UFFDIO_ZEROPAGE refuses a pte holding a uffd-wp marker; UFFDIO_COPY takes it. */
static void zero_over_marker(void)
{
	static char zero[PS] __attribute__((aligned(4096)));
	char *z = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_register reg = {.range = {(unsigned long) z, PS},
				      .mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP};
	struct uffdio_zeropage zp = {.range = {(unsigned long) z, PS}};
	struct uffdio_copy c = {
	    .dst = (unsigned long) z, .src = (unsigned long) zero, .len = PS, .mode = UFFDIO_COPY_MODE_WP};
	struct pm_scan_arg a = {.size = sizeof(a),
				.flags = PM_SCAN_WP_MATCHING,
				.start = (unsigned long) z,
				.end = (unsigned long) z + PS,
				.category_mask = PAGE_IS_WRITTEN,
				.return_mask = PAGE_IS_WRITTEN};
	int zr, ze, cr;

	if (ioctl(uffd, UFFDIO_REGISTER, &reg) || ioctl(pm, PAGEMAP_SCAN, &a) < 0) {
		check(0, "uffd-wp marker on an empty pte", strerror(errno));
		return;
	}
	zr = ioctl(uffd, UFFDIO_ZEROPAGE, &zp);
	ze = errno;
	cr = ioctl(uffd, UFFDIO_COPY, &c);
	check(zr < 0 && ze == EEXIST && cr == 0,
	      "over a uffd-wp marker UFFDIO_ZEROPAGE fails with EEXIST, UFFDIO_COPY_MODE_WP succeeds",
	      zr == 0 ? "ZEROPAGE succeeded" : (cr ? "COPY failed" : NULL));
}

/* MISSING cannot be dropped without losing the uffd-wp bits. */
static void missing_stays(void)
{
	struct uffdio_register wp = {.range = {(unsigned long) mem, N * PS}, .mode = UFFDIO_REGISTER_MODE_WP};
	struct uffdio_range r = {(unsigned long) mem, N * PS};
	char buf[64];
	long w;

	scan(1, PAGE_IS_PRESENT | PAGE_IS_SWAPPED);
	check(ioctl(uffd, UFFDIO_REGISTER, &wp) == 0 && vma_has_flag("um"),
	      "UFFDIO_REGISTER WP-only over MISSING|WP succeeds and leaves MISSING (VmFlags um)", NULL);
	if (ioctl(uffd, UFFDIO_UNREGISTER, &r) || ioctl(uffd, UFFDIO_REGISTER, &wp)) {
		check(0, "UFFDIO_UNREGISTER then WP-only", strerror(errno));
		return;
	}
	w = scan(0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED);
	snprintf(buf, sizeof(buf), "%ld of %d written", w, N);
	check(w == N, "UFFDIO_UNREGISTER clears the uffd-wp bits: every page reads as written", buf);
}

int main(void)
{
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
					     UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
					     UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP};
	struct uffdio_register reg;
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	uffd = (int) syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) != 0)
		check(0, "UFFDIO_API with WP_ASYNC|WP_UNPOPULATED and EVENT_FORK|REMAP|REMOVE|UNMAP", strerror(errno));
	else
		check(1, "UFFDIO_API with WP_ASYNC|WP_UNPOPULATED and EVENT_FORK|REMAP|REMOVE|UNMAP", NULL);
	if (failed)
		return 1;
	mem = mmap(NULL, N * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reg = (struct uffdio_register){.range = {(unsigned long) mem, N * PS},
				       .mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP};
	check(ioctl(uffd, UFFDIO_REGISTER, &reg) == 0, "UFFDIO_REGISTER MISSING|WP on a private anonymous range", NULL);
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (failed || pm < 0)
		return 1;
	scan(1, PAGE_IS_PRESENT | PAGE_IS_SWAPPED); /* armed as CRIU's restore arms: nothing present yet */
	pthread_create(&t, NULL, server, NULL);
	fill_and_write();
	zero_over_marker();
	missing_stays();
	printf("1..%d\n", n_ok);
	return failed;
}
