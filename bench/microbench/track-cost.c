// SPDX-License-Identifier: Apache-2.0
/*
 * track-cost: what memory tracking with the wp-async backend costs the
 * tracked process (issue 5 item 4). Maps MIB MiB of private anonymous
 * memory, registers it with userfaultfd (UFFD_FEATURE_WP_ASYNC |
 * UFFD_FEATURE_WP_UNPOPULATED, UFFDIO_REGISTER_MODE_WP) and arms tracking
 * with PAGEMAP_SCAN (PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, category
 * PAGE_IS_WRITTEN), as the patched CRIU does at restore. Measures, REPS
 * times each:
 *
 *   present_write_ns   a write to an already-present, untracked page
 *   populate_write_ns  first write to a never-touched, untracked page (a
 *                      page fault that allocates; for context)
 *   tracked_write_ns   first write to a present page after arming (the
 *                      write-protect fault the kernel resolves by itself)
 *   scan_rearm_all_ms_per_gib   PAGEMAP_SCAN + re-arm, every page written
 *   scan_rearm_1pct_ms_per_gib  the same with 1% of the pages written
 *   scan_rearm_none_ms_per_gib  the same with nothing written
 *   random_mops_{untracked,tracked}   random 8-byte writes (Mops/s), memory
 *                      present; tracking armed just before the run
 *   passes_gibps_{untracked,tracked}  stress --vm-keep style passes (one
 *                      byte per page, PASSES passes), GiB/s of memory walked
 *
 * Every line of output is "NAME VALUE"; the bench script records them.
 * Tracking is checked: the scan must report exactly the pages written.
 *
 * usage: track-cost [-m MIB] [-r REPS] [-p PASSES] [-H] [-t]
 *   -H  leave transparent huge pages on (default: MADV_NOHUGEPAGE, 4 KiB faults)
 *   -t  only the tracked first writes, REPS times (re-armed in between):
 *       the phase to profile with perf
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Linux 6.7+ definitions; Debian 12's headers (6.1) lack them. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFDIO_REGISTER_MODE_WP
#define UFFDIO_REGISTER_MODE_WP ((uint64_t) 1 << 1)
#endif

struct zs_page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

struct zs_pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define ZS_PAGEMAP_SCAN _IOWR('f', 16, struct zs_pm_scan_arg)
#define ZS_PM_SCAN_WP_MATCHING (1 << 0)
#define ZS_PM_SCAN_CHECK_WPASYNC (1 << 1)
#define ZS_PAGE_IS_WRITTEN (1 << 1)

#define PAGE 4096UL
#define VEC_LEN 4096

static int pagemap_fd = -1;
static struct zs_page_region vec[VEC_LEN];

static void die(const char *what)
{
	fprintf(stderr, "track-cost: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *map_region(size_t len, int thp)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (!thp && madvise(p, len, MADV_NOHUGEPAGE))
		die("madvise(MADV_NOHUGEPAGE)");
	return p;
}

/* touch: one byte per page; the volatile store keeps every write. */
static double touch(char *p, size_t len, char v)
{
	double t0 = now();

	for (size_t off = 0; off < len; off += PAGE)
		((volatile char *) p)[off] = v;
	return now() - t0;
}

static int uffd_register(char *p, size_t len)
{
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
	struct uffdio_register reg = {.range = {.start = (uintptr_t) p, .len = len}, .mode = UFFDIO_REGISTER_MODE_WP};
	int fd = (int) syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		die("userfaultfd");
	if (ioctl(fd, UFFDIO_API, &api))
		die("UFFDIO_API (WP_ASYNC | WP_UNPOPULATED)");
	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER (MODE_WP)");
	return fd;
}

/*
 * scan_rearm: report the pages written since the last arming and
 * write-protect them again, as a diff dump does. Returns the page count.
 */
static uint64_t scan_rearm(char *p, size_t len)
{
	struct zs_pm_scan_arg a;
	uint64_t start = (uintptr_t) p, end = start + len, pages = 0;

	while (start < end) {
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.flags = ZS_PM_SCAN_WP_MATCHING | ZS_PM_SCAN_CHECK_WPASYNC;
		a.start = start;
		a.end = end;
		a.vec = (uintptr_t) vec;
		a.vec_len = VEC_LEN;
		a.category_mask = ZS_PAGE_IS_WRITTEN;
		a.return_mask = ZS_PAGE_IS_WRITTEN;
		long n = ioctl(pagemap_fd, ZS_PAGEMAP_SCAN, &a);
		if (n < 0)
			die("PAGEMAP_SCAN");
		for (long i = 0; i < n; i++)
			pages += (vec[i].end - vec[i].start) / PAGE;
		if (a.walk_end <= start)
			break;
		start = a.walk_end;
	}
	return pages;
}

static void check(uint64_t got, uint64_t want, const char *when)
{
	if (got != want) {
		fprintf(stderr, "track-cost: %s: the scan reported %llu written pages, %llu were written\n", when,
			(unsigned long long) got, (unsigned long long) want);
		exit(1);
	}
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static double random_writes(char *p, size_t len, uint64_t ops)
{
	uint64_t s = 88172645463325252ULL;
	size_t words = len / 8;
	double t0 = now();

	for (uint64_t i = 0; i < ops; i++)
		((volatile uint64_t *) p)[rnd(&s) % words] += i;
	return ops / (now() - t0) / 1e6;
}

static double passes(char *p, size_t len, int n)
{
	double t = 0;

	for (int i = 0; i < n; i++)
		t += touch(p, len, (char) ('A' + i));
	return (double) len * n / t / (1024.0 * 1024 * 1024);
}

static void one_rep(size_t len, int thp, int npasses)
{
	size_t npages = len / PAGE;
	double gib = (double) len / (1024.0 * 1024 * 1024);
	char *p = map_region(len, thp);
	int uffd;

	printf("populate_write_ns %.3f\n", touch(p, len, 1) / npages * 1e9);
	printf("present_write_ns %.3f\n", touch(p, len, 2) / npages * 1e9);
	printf("random_mops_untracked %.3f\n", random_writes(p, len, npages * 64));
	printf("passes_gibps_untracked %.3f\n", passes(p, len, npasses));

	uffd = uffd_register(p, len);
	scan_rearm(p, len); /* first arming: every present page counts as written */
	check(scan_rearm(p, len), 0, "armed, nothing written");
	printf("tracked_write_ns %.3f\n", touch(p, len, 3) / npages * 1e9);

	double t0 = now();
	uint64_t n = scan_rearm(p, len);
	printf("scan_rearm_all_ms_per_gib %.3f\n", (now() - t0) * 1e3 / gib);
	check(n, npages, "every page written");
	for (size_t off = 0; off < len; off += 100 * PAGE)
		p[off] = 4;
	t0 = now();
	n = scan_rearm(p, len);
	printf("scan_rearm_1pct_ms_per_gib %.3f\n", (now() - t0) * 1e3 / gib);
	check(n, (npages + 99) / 100, "1% written");
	t0 = now();
	n = scan_rearm(p, len);
	printf("scan_rearm_none_ms_per_gib %.3f\n", (now() - t0) * 1e3 / gib);
	check(n, 0, "nothing written");

	printf("random_mops_tracked %.3f\n", random_writes(p, len, npages * 64));
	scan_rearm(p, len);
	printf("passes_gibps_tracked %.3f\n", passes(p, len, npasses));
	check(scan_rearm(p, len), npages, "after the passes");
	close(uffd);
	munmap(p, len);
}

static void tracked_only(size_t len, int thp, int reps)
{
	size_t npages = len / PAGE;
	char *p = map_region(len, thp);

	touch(p, len, 1);
	uffd_register(p, len);
	scan_rearm(p, len);
	for (int r = 0; r < reps; r++) {
		printf("tracked_write_ns %.3f\n", touch(p, len, (char) r) / npages * 1e9);
		check(scan_rearm(p, len), npages, "tracked writes");
	}
}

int main(int argc, char **argv)
{
	size_t mib = 256;
	int reps = 5, thp = 0, npasses = 8, only_tracked = 0, c;

	while ((c = getopt(argc, argv, "m:r:p:Ht")) != -1) {
		switch (c) {
		case 'm':
			mib = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'p':
			npasses = atoi(optarg);
			break;
		case 'H':
			thp = 1;
			break;
		case 't':
			only_tracked = 1;
			break;
		default:
			fprintf(stderr, "usage: track-cost [-m MIB] [-r REPS] [-p PASSES] [-H] [-t]\n");
			return 2;
		}
	}
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap_fd < 0)
		die("open /proc/self/pagemap");
	if (only_tracked) {
		tracked_only(mib << 20, thp, reps);
		return 0;
	}
	for (int r = 0; r < reps; r++) {
		one_rep(mib << 20, thp, npasses);
		fflush(stdout);
	}
	return 0;
}
