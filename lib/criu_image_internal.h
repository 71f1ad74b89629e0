/* zanshin — internals of the CRIU image reader (lib/criu_image*.c): the
 * protobuf wire codec, the image file layout (magic, u32-length-prefixed
 * entries) and the decoded pagemaps and inventory.  Not a public API; the
 * unit tests include it for the codec. */
#ifndef ZANSHIN_CRIU_IMAGE_INTERNAL_H
#define ZANSHIN_CRIU_IMAGE_INTERNAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "zanshin/error.h"

/* criu/include/magic.h, CRIU 4.2.1 */
#define ZS_CRTOOLS_IMAGES_V1_1 2
#define ZS_IMG_COMMON_MAGIC 0x54564319u
#define ZS_IMG_SERVICE_MAGIC 0x55105940u
#define ZS_INVENTORY_MAGIC 0x58313116u
#define ZS_PAGEMAP_MAGIC 0x56084025u

/* criu/include/pagemap.h */
#define ZS_PE_PARENT (1u << 0)
#define ZS_PE_LAZY (1u << 1)
#define ZS_PE_PRESENT (1u << 2)

#define ZS_IMG_PAGE_SIZE 4096ull
/* Images walked by a flatten, LEAF included. */
#define ZS_IMAGE_MAX_CHAIN 64

/* ---- protobuf wire format (proto2) ---- */
enum { ZS_PB_VARINT = 0, ZS_PB_I64 = 1, ZS_PB_LEN = 2, ZS_PB_I32 = 5 };

struct zs_pb_field {
	uint32_t num;
	uint32_t wire;
	uint64_t v;	     /* ZS_PB_VARINT, ZS_PB_I64, ZS_PB_I32 */
	const uint8_t *data; /* ZS_PB_LEN payload */
	size_t len;	     /* ZS_PB_LEN payload length */
	const uint8_t *raw;  /* the whole field, tag included */
	size_t raw_len;
};

/* 1 and *v on success, 0 on a truncated or over-long (> 10 bytes) varint. */
int zs_pb_get_varint(const uint8_t **pos, const uint8_t *end, uint64_t *v);
/* Next field of a message: 1 with *f filled, 0 at the end, -1 when
 * malformed (truncated, bad wire type, field number 0). */
int zs_pb_next(const uint8_t **pos, const uint8_t *end, struct zs_pb_field *f);

struct zs_buf {
	uint8_t *p;
	size_t len, cap;
};
void zs_buf_put(struct zs_buf *b, const void *data, size_t n);
void zs_buf_put_u32(struct zs_buf *b, uint32_t v); /* host order, as CRIU */
void zs_buf_free(struct zs_buf *b);
/* Encoded size of a varint; writes it. */
size_t zs_pb_varint_len(uint64_t v);
void zs_pb_put_varint(struct zs_buf *b, uint64_t v);
void zs_pb_put_uint_field(struct zs_buf *b, uint32_t num, uint64_t v);
void zs_pb_put_bytes_field(struct zs_buf *b, uint32_t num, const void *data, size_t n);

/* ---- image files ---- */

/* Iterate the u32-length-prefixed entries of an image body. */
struct zs_img_iter {
	const char *what; /* "DIR/name.img" for errors */
	const uint8_t *base, *pos, *end;
};
/* 1 with the entry's payload, 0 at a clean end, <0 (error) when truncated. */
int zs_img_next(struct zs_img_iter *it, const uint8_t **msg, size_t *len, zs_error_t *err);

struct zs_pm_entry {
	uint64_t vaddr;
	uint64_t nr_pages;
	uint64_t off; /* byte offset in pages-<id>.img when PE_PRESENT */
	uint32_t flags;
};

struct zs_pagemap {
	char *what; /* "DIR/pagemap-N.img" */
	uint32_t pages_id;
	struct zs_pm_entry *e;
	size_t n;
	uint64_t present_pages, parent_pages, lazy_pages;
};

/* Read and decode NAME in the directory DFD (DIR names it in errors).
 * Entries are checked sorted and non-overlapping. */
int zs_pagemap_read(int dfd, const char *dir, const char *name, struct zs_pagemap *pm, zs_error_t *err);
void zs_pagemap_free(struct zs_pagemap *pm);
/* Index of the entry holding VADDR, or -1. */
long zs_pagemap_find(const struct zs_pagemap *pm, uint64_t vaddr);

struct zs_inventory {
	uint32_t img_version;
	char *image_id, *parent_image_id;
	uint8_t *raw; /* the whole file */
	size_t raw_len;
	const uint8_t *msg; /* the InventoryEntry inside raw */
	size_t msg_len;
};
int zs_inventory_read(int dfd, const char *dir, struct zs_inventory *inv, zs_error_t *err);
void zs_inventory_free(struct zs_inventory *inv);

/* Largest image read whole, by kind: a crafted image (a huge file, or a
 * symlink to /dev/zero) is refused before anything is allocated.  The
 * limits are far above what CRIU writes (a 2 GiB process of scattered
 * pages has a pagemap of ~10 MiB); pages-*.img are never read whole. */
#define ZS_IMG_MAX_INVENTORY (1u << 20)
#define ZS_IMG_MAX_CORE (4u << 20)
#define ZS_IMG_MAX_PSTREE (16u << 20)
#define ZS_IMG_MAX_PAGEMAP (64u << 20)

struct stat;
/* Open NAME in DFD for reading: not through a symlink, without blocking
 * (a FIFO), and only a regular file; *ST (if not NULL) gets its fstat.
 * The fd, or -1 with an error naming DIR/NAME and never its content. */
int zs_img_open(int dfd, const char *dir, const char *name, struct stat *st, zs_error_t *err);
/* Read the whole regular file NAME of DFD (zs_img_open), at most MAX
 * bytes; *OUT is NUL-terminated (not counted in *LEN). */
int zs_img_slurp(int dfd, const char *dir, const char *name, size_t max, uint8_t **out, size_t *len, zs_error_t *err);
bool zs_img_is_pagemap(const char *name);
/* Sorted names of the regular entries of DFD matching pred (NULL: all but
 * "." and ".."); *n gets the count. */
int zs_img_list(int dfd, const char *dir, bool (*pred)(const char *), char ***names, size_t *n, zs_error_t *err);
void zs_img_list_free(char **names, size_t n);

#endif
