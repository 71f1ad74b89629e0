/* zanshin — the parent's pages of a diff image's pages file: the base a
 * changed page travels as a delta against (XOR with it, then zstd:
 * include/zanshin/zcompress.h).
 *
 * A pages-<id>.img of a diff image DIR holds the PE_PRESENT pages of the
 * pagemap-*.img whose head names <id>, in pagemap order.  The parent page
 * of the page at virtual address V is the page at V in DIR's `parent`
 * chain: the same-named pagemap of DIR/parent, walked up while its entry
 * is PE_PARENT (as CRIU's read_parent_page, and lib/criu_image_flatten.c).
 * Two nodes that hold a generation with the same image id hold the same
 * memory, however their chains are laid out, so the source (its checkpoint
 * and its store) and the target (the temporary generation, whose `parent`
 * link names its own generation) compute the same base. */
#ifndef ZANSHIN_PAGE_DELTA_H
#define ZANSHIN_PAGE_DELTA_H
#include <stddef.h>
#include <stdint.h>

#include "zanshin/error.h"

struct zs_page_base;

/* The base of PAGES_NAME (pages-<id>.img) of the image DIR: 1 and *OUT,
 * 0 when there is none (no `parent`, no pagemap naming that pages file),
 * or an error (a pagemap that does not decode). */
int zs_page_base_open(const char *dir, const char *pages_name, struct zs_page_base **out, zs_error_t *err);
/* Fill BASE[0..LEN) with the parent's pages of the bytes at OFF..OFF+LEN of
 * the pages file (OFF and LEN multiples of 4096); a page without a parent
 * page is zeros.  *WITH_PARENT: how many had one. */
int zs_page_base_read(struct zs_page_base *b, uint64_t off, size_t len, uint8_t *base, size_t *with_parent,
		      zs_error_t *err);
void zs_page_base_close(struct zs_page_base *b);

/* The pages of the image DIR itself through its chain, for its pagemap
 * PAGEMAP (pagemap-*.img): zs_page_base_page() gives the page at a
 * virtual address (1), or says there is none (0). */
int zs_page_base_open_self(const char *dir, const char *pagemap, struct zs_page_base **out, zs_error_t *err);
int zs_page_base_page(struct zs_page_base *b, uint64_t vaddr, uint8_t *page, zs_error_t *err);

/* Every page the image DIR restores (through its chain), pagemap by
 * pagemap (sorted names), by address: CB(ARG, PAGEMAP, VADDR, PAGE); a
 * return < 0 stops (with *ERR set). */
typedef int (*zs_page_each_cb)(void *arg, const char *pagemap, uint64_t vaddr, const uint8_t *page, zs_error_t *err);
int zs_page_each(const char *dir, zs_page_each_cb cb, void *arg, zs_error_t *err);

#endif
