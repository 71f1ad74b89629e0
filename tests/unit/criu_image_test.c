/* Unit tests for lib/criu_image_pb.c (the protobuf varint / field codec),
 * the image entry framing and the careful open of lib/criu_image.c, and
 * the checks of lib/criu_image_policy.c on a synthetic image (TAP). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/criu_image_internal.h"
#include "zanshin/config.h"
#include "zanshin/criu_image.h"
#include "zanshin/utils.h"

#include "check.h"

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

/* ---- opening image files ---- */

static char tmpdir[] = "/tmp/zs-criu-image-test.XXXXXX";

static void put_file(const char *name, const void *data, size_t n)
{
	cleanup_free char *p = xasprintf("%s/%s", tmpdir, name);
	cleanup_close int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, data, n) != (ssize_t) n)
		abort();
}

static bool open_refused(int dfd, const char *name, const char *want)
{
	cleanup_error zs_error_t err = NULL;
	int fd = zs_img_open(dfd, tmpdir, name, NULL, &err);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	return err && strstr(zs_error_msg(err), want) != NULL;
}

static void test_open(void)
{
	cleanup_close int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_error zs_error_t err = NULL;
	cleanup_free char *fifo = xasprintf("%s/fifo.img", tmpdir), *link = xasprintf("%s/zero.img", tmpdir);
	cleanup_free char *sub = xasprintf("%s/dir.img", tmpdir);
	cleanup_free uint8_t *buf = NULL;
	size_t len = 0;

	put_file("small.img", "abcd", 4);
	if (mkfifo(fifo, 0600) < 0 || symlink("/dev/zero", link) < 0 || mkdir(sub, 0700) < 0)
		abort();
	check(open_refused(dfd, "fifo.img", "fifo.img: not a regular file"), "open: a FIFO is refused, not waited on");
	check(open_refused(dfd, "zero.img", "zero.img: is a symlink"), "open: a symlink (to /dev/zero) is refused");
	check(open_refused(dfd, "dir.img", "dir.img: not a regular file"), "open: a directory is refused");
	check(zs_img_slurp(dfd, tmpdir, "small.img", 4, &buf, &len, &err) == 0 && len == 4 && buf[4] == '\0',
	      "slurp: a file of exactly the limit is read whole, NUL-terminated");
	check(zs_img_slurp(dfd, tmpdir, "small.img", 3, &buf, &len, &err) < 0 && err &&
		  strstr(zs_error_msg(err), "4 bytes, more than the 3") && !strstr(zs_error_msg(err), "abcd"),
	      "slurp: a file over the limit is refused by its size, its content not printed");
}

static void test_magic_not_printed(void)
{
	cleanup_close int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_error zs_error_t err = NULL;
	struct zs_inventory inv;

	put_file("inventory.img", "root:x:0:0:secret\n", 18);
	check(zs_inventory_read(dfd, tmpdir, &inv, &err) < 0 && err &&
		  strstr(zs_error_msg(err), "bad magic (not a CRIU inventory image)") &&
		  !strstr(zs_error_msg(err), "0x") && !strstr(zs_error_msg(err), "root"),
	      "inventory: a bad magic is named, the bytes are not printed");
}

/* ---- the policy on a synthetic image ---- */

#define CORE_MAGIC 0x55053847u
#define PSTREE_MAGIC 0x50273030u
#define IDS_MAGIC 0x54432030u

static void put_image(const char *name, uint32_t magic, const struct zs_buf *msg)
{
	struct zs_buf b = {0};

	if (magic != ZS_INVENTORY_MAGIC)
		zs_buf_put_u32(&b, ZS_IMG_COMMON_MAGIC);
	zs_buf_put_u32(&b, magic);
	zs_buf_put_u32(&b, (uint32_t) msg->len);
	zs_buf_put(&b, msg->p, msg->len);
	put_file(name, b.p, b.len);
	zs_buf_free(&b);
}

/* task_kobj_ids_entry: the namespaces pid, net, ipc, uts, mnt (5-9) are
 * BASE + field, user, cgroup, time (10-12) the host's (100 + field) */
static void put_ids(struct zs_buf *b, uint32_t base, bool userns)
{
	uint32_t f;

	for (f = 1; f <= 4; f++)
		zs_pb_put_uint_field(b, f, 1);
	for (f = 5; f <= 12; f++)
		zs_pb_put_uint_field(b, f, (f <= 9 || (f == 10 && userns) ? base : 100) + f);
}

/* userns-210.img: uid and gid 0 -> HOST, 65536 ids */
static void put_userns(uint32_t host)
{
	struct zs_buf e = {0}, u = {0};
	int i;

	zs_pb_put_uint_field(&e, 1, 0);
	zs_pb_put_uint_field(&e, 2, host);
	zs_pb_put_uint_field(&e, 3, 65536);
	for (i = 1; i <= 2; i++)
		zs_pb_put_bytes_field(&u, i, e.p, e.len);
	put_image("userns-210.img", 0x55474906u, &u);
	zs_buf_free(&e), zs_buf_free(&u);
}

struct fake {
	uint32_t uid;
	uint64_t eff, bnd;
	bool nnp, host_net;
	bool userns;	   /* the image's root task has a user namespace */
	uint32_t map_host; /* its mapping: 0 -> map_host */
};

/* inventory, pstree (one task, pid 1), ids-1.img and core-1.img */
static void write_image(const struct fake *fk)
{
	struct zs_buf inv = {0}, ids = {0}, pst = {0}, core = {0}, tc = {0}, thc = {0}, cr = {0}, root = {0};
	uint32_t f;

	put_ids(&root, 100, false);
	zs_pb_put_uint_field(&inv, 1, 2);
	zs_pb_put_bytes_field(&inv, 3, root.p, root.len);
	put_image("inventory.img", ZS_INVENTORY_MAGIC, &inv);
	put_ids(&ids, 200, fk->userns);
	if (fk->userns)
		put_userns(fk->map_host);
	if (fk->host_net)
		zs_pb_put_uint_field(&ids, 6, 106); /* the last one read wins: the host's */
	put_image("ids-1.img", IDS_MAGIC, &ids);
	zs_pb_put_uint_field(&pst, 1, 1);
	put_image("pstree.img", PSTREE_MAGIC, &pst);
	for (f = 1; f <= 8; f++)
		zs_pb_put_uint_field(&cr, f, f == 1 || f == 3 ? fk->uid : 0);
	zs_pb_put_uint_field(&cr, 10, (uint32_t) fk->eff); /* cap_prm */
	zs_pb_put_uint_field(&cr, 10, (uint32_t) (fk->eff >> 32));
	zs_pb_put_uint_field(&cr, 11, (uint32_t) fk->eff); /* cap_eff */
	zs_pb_put_uint_field(&cr, 11, (uint32_t) (fk->eff >> 32));
	zs_pb_put_uint_field(&cr, 12, (uint32_t) fk->bnd); /* cap_bnd */
	zs_pb_put_uint_field(&cr, 12, (uint32_t) (fk->bnd >> 32));
	zs_pb_put_uint_field(&cr, 13, 0);
	if (fk->nnp)
		zs_pb_put_uint_field(&cr, 18, 1);
	zs_pb_put_bytes_field(&thc, 10, cr.p, cr.len);
	zs_pb_put_uint_field(&tc, 1, 1);
	zs_pb_put_uint_field(&core, 1, 1);
	zs_pb_put_bytes_field(&core, 3, tc.p, tc.len);
	zs_pb_put_bytes_field(&core, 5, thc.p, thc.len);
	put_image("core-1.img", CORE_MAGIC, &core);
	zs_buf_free(&inv), zs_buf_free(&ids), zs_buf_free(&pst), zs_buf_free(&core);
	zs_buf_free(&tc), zs_buf_free(&thc), zs_buf_free(&cr), zs_buf_free(&root);
}

static const char *cfg_json =
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
    "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0},\"noNewPrivileges\":true,"
    "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\"],\"effective\":[\"CAP_KILL\"],"
    "\"permitted\":[\"CAP_KILL\"]}},"
    "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"mount\"},"
    "{\"type\":\"ipc\"},{\"type\":\"uts\"}]}}";

static const char *cfg_userns_json =
    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
    "\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0},\"noNewPrivileges\":true},"
    "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"mount\"},"
    "{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"user\"}],"
    "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
    "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]}}";

static const char *cur_cfg;

static void unlink_userns(void)
{
	cleanup_free char *p = xasprintf("%s/userns-210.img", tmpdir);

	unlink(p);
}

/* 0 if the policy accepts FK, else whether the error has WANT */
static int policy(const struct fake *fk, const char *want)
{
	cleanup_config struct zs_config *cfg = NULL;
	cleanup_error zs_error_t err = NULL;
	int r;

	write_image(fk);
	if (zs_config_parse(cur_cfg ? cur_cfg : cfg_json, "config.json", &cfg, &err) < 0) {
		printf("# config: %s\n", zs_error_msg(err));
		return -2;
	}
	r = zs_image_check_config(-1, tmpdir, cfg, "config.json", &err);
	if (r == 0)
		return 0;
	if (want && !strstr(zs_error_msg(err), want))
		printf("# %s\n", zs_error_msg(err));
	return want && strstr(zs_error_msg(err), want) ? 1 : -1;
}

static void test_policy(void)
{
	const uint64_t kill = 1ull << 5, chown = 1ull << 0, sys_admin = 1ull << 21;
	struct fake ok = {.uid = 0, .eff = kill, .bnd = kill | chown, .nnp = true};
	struct fake f;

	check(policy(&ok, NULL) == 0, "policy: what the config gives is accepted");
	f = ok, f.eff = kill | sys_admin;
	check(policy(&f, "core-1.img: thread_core.creds.cap_eff has CAP_SYS_ADMIN, which config.json's "
			 "process.capabilities.permitted does not grant") == 1,
	      "policy: CAP_SYS_ADMIN in cap_eff is refused, naming the field and the config set");
	f = ok, f.bnd = ~0ull >> 23;
	check(policy(&f, "thread_core.creds.cap_bnd has CAP_DAC_OVERRIDE") == 1,
	      "policy: a bounding set wider than the config's is refused");
	f = ok, f.nnp = false;
	check(policy(&f, "thread_core.creds.no_new_privs is not set") == 1,
	      "policy: no_new_privs cleared is refused when the config sets it");
	f = ok, f.uid = 1000;
	check(policy(&f, "thread_core.creds.uid 1000 is not config.json's process.user") == 1,
	      "policy: another uid is refused when no task may change it");
	f = ok, f.host_net = true;
	check(policy(&f, "ids-1.img: net_ns_id: the task would share the host's network namespace") == 1,
	      "policy: the host's network namespace is refused when the config creates one");
	f = ok, f.userns = true, f.map_host = 100000;
	check(policy(&f, "ids-1.img: user_ns_id: the task would get a user namespace of its own") == 1,
	      "policy: a user namespace the config does not create is refused");
	cur_cfg = cfg_userns_json;
	check(policy(&f, NULL) == 0, "policy: with a user namespace, the config's mappings are accepted");
	f.map_host = 0;
	check(policy(&f, "userns-210.img: uid_map is not config.json's linux.uidMappings") == 1,
	      "policy: a user namespace mapping the host's root is refused");
	f = ok;
	check(policy(&f, "ids-1.img: user_ns_id: the task would share the host's user namespace") == 1,
	      "policy: no user namespace when the config creates one is refused");
	cur_cfg = NULL;
	unlink_userns();
}

int main(void)
{
	cleanup_free char *rm = NULL;

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	test_varints();
	test_fields();
	test_entries();
	test_open();
	test_magic_not_printed();
	test_policy();
	rm = xasprintf("rm -rf '%s'", tmpdir);
	if (system(rm) != 0)
		printf("# could not remove %s\n", tmpdir);
	return check_done();
}
