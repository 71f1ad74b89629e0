/* zanshin — the protobuf wire format (proto2) as CRIU images use it: just
 * enough to walk the fields of a message and to write the few messages we
 * rewrite.  Unknown fields are carried as their raw bytes. */
#include <stdlib.h>
#include <string.h>

#include "criu_image_internal.h"
#include "zanshin/utils.h"

int zs_pb_get_varint(const uint8_t **pos, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pos;
	uint64_t r = 0;
	unsigned shift;

	for (shift = 0; shift < 64 && p < end; shift += 7) {
		uint8_t b = *p++;

		r |= (uint64_t) (b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			*pos = p;
			return 1;
		}
	}
	return 0;
}

static int pb_skip(const uint8_t **pos, const uint8_t *end, size_t n)
{
	if ((size_t) (end - *pos) < n)
		return -1;
	*pos += n;
	return 0;
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		v |= (uint64_t) p[i] << (8 * i);
	return v;
}

int zs_pb_next(const uint8_t **pos, const uint8_t *end, struct zs_pb_field *f)
{
	const uint8_t *p = *pos;
	uint64_t tag, n;

	if (p >= end)
		return 0;
	memset(f, 0, sizeof(*f));
	f->raw = p;
	if (!zs_pb_get_varint(&p, end, &tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
		return -1;
	f->num = tag >> 3;
	f->wire = tag & 7;
	switch (f->wire) {
	case ZS_PB_VARINT:
		if (!zs_pb_get_varint(&p, end, &f->v))
			return -1;
		break;
	case ZS_PB_I64:
	case ZS_PB_I32:
		n = f->wire == ZS_PB_I64 ? 8 : 4;
		if ((size_t) (end - p) < n)
			return -1;
		f->v = get_le(p, n);
		p += n;
		break;
	case ZS_PB_LEN:
		if (!zs_pb_get_varint(&p, end, &n) || n > (uint64_t) (end - p))
			return -1;
		f->data = p;
		f->len = n;
		if (pb_skip(&p, end, n) < 0)
			return -1;
		break;
	default: /* groups (3, 4) are not used by CRIU's protos */
		return -1;
	}
	f->raw_len = p - f->raw;
	*pos = p;
	return 1;
}

void zs_buf_put(struct zs_buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = b->cap ? b->cap : 256;
		while (b->len + n > b->cap)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

void zs_buf_put_u32(struct zs_buf *b, uint32_t v)
{
	zs_buf_put(b, &v, sizeof(v));
}

void zs_buf_free(struct zs_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

size_t zs_pb_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void zs_pb_put_varint(struct zs_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t) v;
	zs_buf_put(b, tmp, n);
}

void zs_pb_put_uint_field(struct zs_buf *b, uint32_t num, uint64_t v)
{
	zs_pb_put_varint(b, (uint64_t) num << 3 | ZS_PB_VARINT);
	zs_pb_put_varint(b, v);
}

void zs_pb_put_bytes_field(struct zs_buf *b, uint32_t num, const void *data, size_t n)
{
	zs_pb_put_varint(b, (uint64_t) num << 3 | ZS_PB_LEN);
	zs_pb_put_varint(b, n);
	zs_buf_put(b, data, n);
}
