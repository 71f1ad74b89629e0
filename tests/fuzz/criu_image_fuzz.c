/* libFuzzer target for the CRIU image readers (lib/criu_image*.c): the
 * input's first byte picks the file it becomes (inventory.img, core-1.img,
 * pstree.img, ids-1.img, pagemap-1.img or seccomp.img), the rest is its
 * content; the other files are small valid ones, so every reader gets past
 * the files it needs first.  Each input then goes through what root runs
 * on an untrusted image before CRIU: zs_image_check(), zs_image_info() and
 * zs_image_tasks_read().  Built with clang -fsanitize=fuzzer,address,
 * undefined by `make fuzz` (mk/fuzz.mk); tests/fuzz/run.sh runs it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/criu_image_internal.h"
#include "zanshin/criu_image.h"
#include "zanshin/utils.h"

/* under $ZS_FUZZ_SCRATCH (tests/fuzz/run.sh: its own temporary directory,
 * removed whatever way the target ends), else /dev/shm; removed at exit */
static char dir[256];

static const char *const names[] = {"inventory.img", "core-1.img",    "pstree.img",
				    "ids-1.img",     "pagemap-1.img", "seccomp.img"};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static void put(const char *name, const void *data, size_t n)
{
	char path[320];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (n && write(fd, data, n) != (ssize_t) n))
		abort();
	close(fd);
}

static void put_image(const char *name, uint32_t magic, const struct zs_buf *msg)
{
	struct zs_buf b = {0};

	if (magic != ZS_INVENTORY_MAGIC)
		zs_buf_put_u32(&b, ZS_IMG_COMMON_MAGIC);
	zs_buf_put_u32(&b, magic);
	zs_buf_put_u32(&b, (uint32_t) msg->len);
	zs_buf_put(&b, msg->p, msg->len);
	put(name, b.p, b.len);
	zs_buf_free(&b);
}

static void put_ids(struct zs_buf *b)
{
	uint32_t f;

	for (f = 1; f <= 12; f++)
		zs_pb_put_uint_field(b, f, f);
}

/* A small valid image: one task (pid 1), its core with creds, no pages. */
static void valid_image(void)
{
	struct zs_buf inv = {0}, ids = {0}, pst = {0}, core = {0}, thc = {0}, cr = {0}, pm = {0}, sec = {0};
	uint32_t f;

	put_ids(&ids);
	zs_pb_put_uint_field(&inv, 1, ZS_CRTOOLS_IMAGES_V1_1);
	zs_pb_put_bytes_field(&inv, 3, ids.p, ids.len);
	put_image("inventory.img", ZS_INVENTORY_MAGIC, &inv);
	put_image("ids-1.img", 0x54432030u, &ids);
	zs_pb_put_uint_field(&pst, 1, 1);
	put_image("pstree.img", 0x50273030u, &pst);
	for (f = 1; f <= 8; f++)
		zs_pb_put_uint_field(&cr, f, 0);
	zs_pb_put_bytes_field(&thc, 10, cr.p, cr.len);
	zs_pb_put_uint_field(&core, 1, 1);
	zs_pb_put_bytes_field(&core, 5, thc.p, thc.len);
	put_image("core-1.img", 0x55053847u, &core);
	zs_pb_put_uint_field(&pm, 1, 1);
	put_image("pagemap-1.img", ZS_PAGEMAP_MAGIC, &pm);
	put("pages-1.img", "", 0);
	put_image("seccomp.img", 0x64413049u, &sec);
	zs_buf_free(&inv), zs_buf_free(&ids), zs_buf_free(&pst), zs_buf_free(&core);
	zs_buf_free(&thc), zs_buf_free(&cr), zs_buf_free(&pm), zs_buf_free(&sec);
}

static void remove_dir(void)
{
	size_t i;
	char path[320];

	for (i = 0; i < N_NAMES; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/pages-1.img", dir);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = getenv("ZS_FUZZ_SCRATCH");

	(void) argc, (void) argv;
	snprintf(dir, sizeof(dir), "%s/zs-image-fuzz.XXXXXX", base && *base ? base : "/dev/shm");
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(remove_dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zs_image_info info;
	struct zs_image_tasks ts;
	zs_error_t err = NULL;

	if (size < 1)
		return 0;
	valid_image();
	put(names[data[0] % N_NAMES], data + 1, size - 1);
	if (zs_image_check(dir, &err) < 0)
		zs_error_release(&err);
	if (zs_image_info(dir, &info, &err) == 0)
		zs_image_info_free(&info);
	else
		zs_error_release(&err);
	if (zs_image_tasks_read(-1, dir, &ts, &err) == 0)
		zs_image_tasks_free(&ts);
	else
		zs_error_release(&err);
	return 0;
}
