/* Unit tests for lib/criu_image_pb.c (the protobuf varint / field codec)
 * and the image entry framing of lib/criu_image.c (TAP). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/criu_image_internal.h"
#include "zanshin/utils.h"

static int n, failed;

static void check(int ok, const char *name)
{
	n++;
	if (!ok)
		failed++;
	printf("%sok %d - %s\n", ok ? "" : "not ", n, name);
}

static int roundtrip(uint64_t v)
{
	struct zs_buf b = {0};
	const uint8_t *p;
	uint64_t got = 0;
	int ok;

	zs_pb_put_varint(&b, v);
	p = b.p;
	ok = b.len == zs_pb_varint_len(v) && zs_pb_get_varint(&p, b.p + b.len, &got) == 1 && got == v &&
	     p == b.p + b.len;
	zs_buf_free(&b);
	return ok;
}

static void test_varints(void)
{
	static const uint64_t vals[] = {0,	   1, 127, 128, 300, 16383, 16384, 0xffffffffull, 0x7fffffffffffffffull,
					UINT64_MAX};
	const uint8_t known[] = {0xac, 0x02}; /* 300, the protobuf docs' example */
	const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	const uint8_t *p;
	uint64_t v = 0;
	size_t i;
	int ok = 1;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		ok &= roundtrip(vals[i]);
	check(ok, "varint: encode/decode round trip, 0 .. UINT64_MAX");
	check(zs_pb_varint_len(UINT64_MAX) == 10 && zs_pb_varint_len(127) == 1 && zs_pb_varint_len(128) == 2,
	      "varint: encoded lengths");
	p = known;
	check(zs_pb_get_varint(&p, known + 2, &v) == 1 && v == 300, "varint: 0xac 0x02 is 300");
	p = known;
	check(zs_pb_get_varint(&p, known + 1, &v) == 0 && p == known, "varint: truncated is refused, nothing consumed");
	p = eleven;
	check(zs_pb_get_varint(&p, eleven + sizeof(eleven), &v) == 0, "varint: more than 10 bytes is refused");
}

static void test_fields(void)
{
	struct zs_buf b = {0};
	struct zs_pb_field f;
	const uint8_t *p, *end;
	const uint8_t bad_wire[] = {0x0b}; /* field 1, wire type 3 (group) */
	const uint8_t zero_field[] = {0x00, 0x01};
	const uint8_t short_len[] = {0x12, 0x05, 'a', 'b'};
	int r, ok;

	zs_pb_put_uint_field(&b, 1, 0x7f1234567000ull);
	zs_pb_put_bytes_field(&b, 15, "abc", 3);
	zs_pb_put_uint_field(&b, 16, 5);
	p = b.p, end = b.p + b.len;
	ok = zs_pb_next(&p, end, &f) == 1 && f.num == 1 && f.wire == ZS_PB_VARINT && f.v == 0x7f1234567000ull;
	ok &= zs_pb_next(&p, end, &f) == 1 && f.num == 15 && f.wire == ZS_PB_LEN && f.len == 3 &&
	      memcmp(f.data, "abc", 3) == 0 && f.raw_len == 5;
	ok &= zs_pb_next(&p, end, &f) == 1 && f.num == 16 && f.v == 5;
	r = zs_pb_next(&p, end, &f);
	check(ok && r == 0, "fields: varint, bytes, varint read back, then the end");
	zs_buf_free(&b);

	p = bad_wire;
	check(zs_pb_next(&p, bad_wire + 1, &f) < 0, "fields: wire type 3 (group) is malformed");
	p = zero_field;
	check(zs_pb_next(&p, zero_field + 2, &f) < 0, "fields: field number 0 is malformed");
	p = short_len;
	check(zs_pb_next(&p, short_len + 4, &f) < 0, "fields: a length past the end is malformed");
}

static void test_entries(void)
{
	cleanup_error zs_error_t err = NULL;
	struct zs_buf b = {0};
	struct zs_img_iter it;
	const uint8_t *m;
	size_t len;
	int r1, r2, r3;

	zs_buf_put_u32(&b, 3);
	zs_buf_put(&b, "\x08\x02\x10", 3);
	zs_buf_put_u32(&b, 0);
	it = (struct zs_img_iter){"t.img", b.p, b.p, b.p + b.len};
	r1 = zs_img_next(&it, &m, &len, &err);
	r2 = zs_img_next(&it, &m, &len, &err);
	r3 = zs_img_next(&it, &m, &len, &err);
	check(r1 == 1 && r2 == 1 && len == 0 && r3 == 0, "entries: two entries (one empty) then a clean end");
	zs_buf_put_u32(&b, 9);
	zs_buf_put(&b, "xy", 2);
	it = (struct zs_img_iter){"t.img", b.p, b.p, b.p + b.len};
	zs_img_next(&it, &m, &len, &err);
	zs_img_next(&it, &m, &len, &err);
	check(zs_img_next(&it, &m, &len, &err) < 0 && err && strstr(zs_error_msg(err), "t.img: truncated entry"),
	      "entries: a truncated entry is an error naming the file");
	zs_buf_free(&b);
}

int main(void)
{
	test_varints();
	test_fields();
	test_entries();
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
