/* zanshin — a checkpoint rewritten as a diff against another image that
 * holds many of its pages (lib/image_rebase.c): what a target that holds
 * an older generation of a container, but not its chain, lacks. */
#ifndef ZANSHIN_IMAGE_REBASE_H
#define ZANSHIN_IMAGE_REBASE_H
#include <stdint.h>

#include "zanshin/error.h"

/* 1 when the new parent holds the same PAGE at VADDR of PAGEMAP. */
typedef int (*zs_rebase_same_cb)(void *arg, const char *pagemap, uint64_t vaddr, const uint8_t *page);

struct zs_rebase_stats {
	uint64_t pages;	       /* pages written to OUT */
	uint64_t parent_pages; /* pages OUT takes from its new parent */
};

/* Write into OUT (created 0700, must not exist) LEAF (a full image or a
 * diff with its chain) as a diff against the image PARENT_IMAGE_ID: its
 * pages SAME says the parent holds become PE_PARENT runs, the others are
 * copied; its other files are copied, its inventory keeps its image_id
 * and names PARENT_IMAGE_ID; no `parent` link (the receiver makes it).
 * On error OUT is removed. */
int zs_image_rebase(const char *leaf, const char *out, const char *parent_image_id, zs_rebase_same_cb same, void *arg,
		    struct zs_rebase_stats *st, zs_error_t *err);

#endif
