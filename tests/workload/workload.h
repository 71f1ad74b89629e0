/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zs-workload: a process tree whose memory content is known exactly, so a
 * checkpoint/restore test can check every page after restore.
 *
 * Every page of a tracked region holds pattern(seed, tag, key, version):
 * key is a logical page number, unique within the process and stable across
 * mremap/munmap splits; version is bumped each time the page is written. The
 * expected version of every page lives in a byte array next to the region
 * (bit 7 set: the page must read as zeroes, after MADV_DONTNEED).
 */
#ifndef ZS_WORKLOAD_H
#define ZS_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WL_PAGE 4096UL
/* -e WORDS: random 64-bit words per page after its header (default: all),
 * the same for every version of the page; the rest repeats a short
 * pattern of the page's key: compressible pages, and a rewrite changes
 * only the page's header (its version), as a page that changed little. */
extern unsigned wl_random_words;
#define WL_MAX_REGIONS 256
#define WL_MAX_HOLES 64
#define WL_MAX_PROCS 64
#define WL_VER_ZERO 0x80
#define WL_RESULT_MAX 65536

struct wl_region {
	char *addr;
	size_t npages;
	uint64_t keybase; /* key of the first page */
	uint32_t tag;	  /* index of the process that created the content */
	uint8_t *ver;	  /* expected version of each page */
	const char *kind; /* "main", "mmap-new", "brk", "mremap", ... */
};

struct wl_hole {
	char *addr;
	size_t npages;
	uint64_t keybase; /* key of the first page that was unmapped */
};

struct wl_mem {
	uint64_t seed;
	uint64_t next_key;
	uint64_t gen; /* write commands applied to this process */
	/* the current write command: page j = (start + j * step) % n */
	size_t plan_start, plan_step, plan_n;
	size_t cum[WL_MAX_REGIONS + 1]; /* pages before region i */
	int nr;
	int nh;
	struct wl_region r[WL_MAX_REGIONS];
	struct wl_hole h[WL_MAX_HOLES];
	char *ro_addr; /* range made read-only by "mprotect-ro" */
	size_t ro_len;
};

/* Result text of one command in one process. */
struct wl_out {
	size_t len;
	char buf[WL_RESULT_MAX];
};

void out_add(struct wl_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* mem.c */
int mem_init(struct wl_mem *m, uint64_t seed, uint32_t tag, size_t mib);
size_t mem_total_pages(const struct wl_mem *m);
size_t mem_nonzero_pages(const struct wl_mem *m);
void mem_write_range(struct wl_mem *m, size_t from, size_t to);
int mem_write_prepare(struct wl_mem *m, size_t k, struct wl_out *o);
int mem_verify(struct wl_mem *m, struct wl_out *o, uint64_t *digest);
int mem_mmap_new(struct wl_mem *m, uint32_t tag, size_t mib, struct wl_out *o);
int mem_brk(struct wl_mem *m, uint32_t tag, size_t mib, struct wl_out *o);
int mem_mremap(struct wl_mem *m, struct wl_out *o);
int mem_munmap(struct wl_mem *m, struct wl_out *o);
int mem_dontneed(struct wl_mem *m, struct wl_out *o);
int mem_mprotect(struct wl_mem *m, int writable, struct wl_out *o);
int mem_damage(struct wl_mem *m, const char *how, struct wl_out *o);
void mem_info(const struct wl_mem *m, struct wl_out *o);
uint64_t wl_mix64(uint64_t x);

#endif
