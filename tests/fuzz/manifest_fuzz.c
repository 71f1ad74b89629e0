/* libFuzzer target for a generation's records (lib/remnant_manifest.c):
 * manifest.json and lineage.json are what a peer or a damaged disk can
 * hand the store. The input's first byte picks the file it becomes
 * (manifest.json or lineage.json), the rest is its text; the other record
 * and two small files are valid, so both readers get past their first
 * checks. Then the store verifies the directory and reads its lineage. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/remnant_internal.h"
#include "zanshin/error.h"
#include "zanshin/remnant.h"

/* under $ZS_FUZZ_SCRATCH (tests/fuzz/run.sh: its own temporary directory,
 * removed whatever way the target ends), else /dev/shm; removed at exit */
static char dir[256];

static void put(const char *name, const void *data, size_t n)
{
	char p[320];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (n && write(fd, data, n) != (ssize_t) n))
		abort();
	close(fd);
}

static char good_manifest[4096], good_lineage[1024];

static void remove_dir(void)
{
	static const char *const names[] = {"core-1.img", "pages-1.img", "manifest.json", "lineage.json"};
	char p[320];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void setup(void)
{
	zs_error_t err = NULL;
	struct zs_remnant_gen g = {0};
	char p[320];
	FILE *f;
	size_t n;

	const char *base = getenv("ZS_FUZZ_SCRATCH");

	snprintf(dir, sizeof(dir), "%s/zs-manifest-fuzz.XXXXXX", base && *base ? base : "/dev/shm");
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(remove_dir);
	put("core-1.img", "core", 4);
	put("pages-1.img", "pages", 5);
	if (zs_rem_write_manifest(dir, "0123456789abcdef0123456789abcdef", &err) < 0)
		abort();
	g.name = "0001-0123456789ab";
	g.container = "c";
	g.image_id = "0123456789abcdef0123456789abcdef";
	if (zs_rem_write_lineage(dir, &g, NULL, &err) < 0)
		abort();
	snprintf(p, sizeof(p), "%s/manifest.json", dir);
	f = fopen(p, "re");
	n = fread(good_manifest, 1, sizeof(good_manifest) - 1, f);
	good_manifest[n] = 0;
	fclose(f);
	snprintf(p, sizeof(p), "%s/lineage.json", dir);
	f = fopen(p, "re");
	n = fread(good_lineage, 1, sizeof(good_lineage) - 1, f);
	good_lineage[n] = 0;
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct zs_remnant_gen *g = calloc(1, sizeof(*g));
	zs_error_t err = NULL;
	bool lineage;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (size < 1 || g == NULL) {
		free(g);
		return 0;
	}
	lineage = data[0] & 1;
	put("manifest.json", lineage ? good_manifest : (const char *) data + 1,
	    lineage ? strlen(good_manifest) : size - 1);
	put("lineage.json", lineage ? (const char *) data + 1 : good_lineage,
	    lineage ? size - 1 : strlen(good_lineage));
	zs_rem_verify_dir(dir, &err);
	zs_error_release(&err);
	zs_rem_read_lineage(dir, g, &err);
	zs_remnant_gen_free(g);
	zs_error_release(&err);
	return 0;
}
