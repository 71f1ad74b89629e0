/* SPDX-License-Identifier: Apache-2.0
 * First-touch latency after a lazy restore (bench/lazy-restore.sh).
 *
 *   lazy-touch DIR MIB
 *
 * Fills MIB MiB (page i holds i), writes DIR/ready and waits for SIGUSR1.
 * It is then checkpointed and restored lazily by CRIU; on SIGUSR1 it reads
 * one byte of every page in a random order, timing each read, and writes
 * the latencies (ns, one a line) to DIR/lat and "pages=N bad=B ns=T" (T:
 * the whole pass) to DIR/done. A read that finds the page not yet filled
 * in is a userfaultfd MISSING fault served by `criu lazy-pages` from the
 * images, while its background prefetch runs. On the next SIGUSR1 (sent
 * once every page is in) the same pass again, into DIR/lat2 and DIR/done2:
 * the workload's throughput during the prefetch vs once resident. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PS 4096UL

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int put(const char *dir, const char *name, const char *text)
{
	char path[4096], tmp[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -1;
	fputs(text, f);
	if (fclose(f))
		return -1;
	return rename(tmp, path);
}

static void touch_all(const char *dir, volatile uint64_t *mem, size_t n, const char *sfx)
{
	/* mmap: the project's lint wants no bare malloc, and this needs no more */
	uint32_t *order = mmap(NULL, n * sizeof(*order), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t *lat = mmap(NULL, n * sizeof(*lat), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char path[4096], text[128];
	size_t i, bad = 0;
	uint64_t start;
	FILE *f;

	if (order == MAP_FAILED || lat == MAP_FAILED)
		exit(1);
	for (i = 0; i < n; i++)
		order[i] = (uint32_t) i;
	srandom(42);
	for (i = n - 1; i > 0; i--) {
		size_t j = (size_t) random() % (i + 1);
		uint32_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	start = now_ns();
	for (i = 0; i < n; i++) {
		uint64_t t0 = now_ns(), v;

		v = mem[order[i] * (PS / sizeof(uint64_t))];
		lat[i] = now_ns() - t0;
		bad += v != order[i];
	}
	start = now_ns() - start;
	snprintf(path, sizeof(path), "%s/lat%s", dir, sfx);
	f = fopen(path, "we");
	if (!f)
		exit(1);
	for (i = 0; i < n; i++)
		fprintf(f, "%llu\n", (unsigned long long) lat[i]);
	fclose(f);
	snprintf(text, sizeof(text), "pages=%zu bad=%zu ns=%llu\n", n, bad, (unsigned long long) start);
	snprintf(path, sizeof(path), "done%s", sfx);
	put(dir, path, text);
}

int main(int argc, char **argv)
{
	volatile uint64_t *mem;
	sigset_t set;
	size_t n, i;
	int sig;

	if (argc != 3)
		return fprintf(stderr, "usage: lazy-touch DIR MIB\n"), 2;
	n = (size_t) strtoul(argv[2], NULL, 10) * 256;
	mem = mmap(NULL, n * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return perror("mmap"), 1;
	for (i = 0; i < n; i++)
		mem[i * (PS / sizeof(uint64_t))] = i;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (put(argv[1], "ready", "1\n"))
		return perror("ready"), 1;
	if (sigwait(&set, &sig) == 0)
		touch_all(argv[1], mem, n, "");
	if (sigwait(&set, &sig) == 0)
		touch_all(argv[1], mem, n, "2");
	for (;;)
		pause();
}
