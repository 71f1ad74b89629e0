/* zanshin — zs_image_check(): what the headers of an image directory say,
 * before root gives it to CRIU.  The names and magics are CRIU 4.2.1's
 * (criu/image-desc.c, criu/include/magic.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu_image_internal.h"
#include "zanshin/criu_image.h"
#include "zanshin/utils.h"

#define RAW 0u

struct img_kind {
	const char *stem; /* "core-" matches core-<number>, "pstree" only pstree */
	uint32_t magic;	  /* RAW: no header */
	bool service;	  /* IMG_SERVICE_MAGIC head */
};

static const struct img_kind kinds[] = {
    {"fdinfo-", 0x56213732},
    {"pagemap-shmem-", 0x56084025},
    {"pagemap-", 0x56084025},
    {"reg-files", 0x50363636},
    {"ext-files", 0x59255641},
    {"ns-files", 0x61394011},
    {"eventfd", 0x44523722},
    {"eventpoll", 0x45023858},
    {"eventpoll-tfd", 0x44433746},
    {"signalfd", 0x57323820},
    {"inotify", 0x48424431},
    {"inotify-wd", 0x54562009},
    {"fanotify", 0x55096122},
    {"fanotify-mark", 0x56506035},
    {"core-", 0x55053847},
    {"ids-", 0x54432030},
    {"mm-", 0x57492820},
    {"vmas-", 0x54123737},
    {"pipes", 0x56513555},
    {"pipes-data", 0x56453709},
    {"fifo", 0x58364939},
    {"fifo-data", 0x59333054},
    {"pstree", 0x50273030},
    {"sigacts-", 0x55344201},
    {"unixsk", 0x54373943},
    {"inetsk", 0x56443851},
    {"packetsk", 0x60454618},
    {"netlinksk", 0x58005614},
    {"sk-queues", 0x56264026},
    {"itimers-", 0x57464056},
    {"posix-timers-", 0x52603957},
    {"creds-", 0x54023547},
    {"utsns-", 0x54473203},
    {"ipcns-var-", 0x53115007},
    {"ipcns-shm-", 0x46283044},
    {"ipcns-msg-", 0x55453737},
    {"ipcns-sem-", 0x59573019},
    {"fs-", 0x51403912},
    {"remap-fpath", 0x59133954},
    {"ghost-file-", 0x52583605},
    {"memfd", 0x48453499},
    {"tcp-stream-", 0x51465506},
    {"mountpoints-", 0x55563928},
    {"netdev-", 0x57373951},
    {"netns-", 0x55933752},
    {"ifaddr-", RAW},
    {"route-", RAW},
    {"route6-", RAW},
    {"rule-", RAW},
    {"iptables-", RAW},
    {"ip6tables-", RAW},
    {"nftables-", RAW},
    {"autofs-", 0x49353943},
    {"binfmt-misc-", 0x67343323},
    {"binfmt-misc", 0x67343323},
    {"tty", 0x59433025},
    {"tty-info", 0x59453036},
    {"tty-data", 0x59413026},
    {"filelocks", 0x54323616},
    {"rlimit-", 0x57113925},
    {"pages-", RAW},
    {"pages-shmem-", RAW},
    {"signal-s-", 0x59255647},
    {"signal-p-", 0x59255647},
    {"tunfile", 0x57143751},
    {"cgroup", 0x59383330},
    {"timerfd", 0x50493712},
    {"cpuinfo", 0x61404013},
    {"seccomp", 0x64413049},
    {"userns-", 0x55474906},
    {"netns-ct-", RAW},
    {"netns-exp-", RAW},
    {"files", 0x56303138},
    {"timens-", 0x43114433},
    {"pidns-", 0x61157326},
    {"bpfmap-file", 0x57506142},
    {"bpfmap-data", 0x64324033},
    {"apparmor", 0x59423047},
    {"pidfd", 0x54435556},
    {"stats-", 0x57093306, true},
    {"irmap-cache", 0x57004059, true},
};

/* STEM (the name without .img) is of this kind: the exact name, or the
 * prefix followed by an id (hex digits, a '-' for old signed ids; stats-
 * takes a word: stats-dump, stats-restore). */
static bool kind_matches(const struct img_kind *k, const char *stem)
{
	size_t n = strlen(k->stem);
	const char *p;

	if (k->stem[n - 1] != '-')
		return strcmp(stem, k->stem) == 0;
	if (strncmp(stem, k->stem, n) != 0 || stem[n] == '\0')
		return false;
	if (k->service)
		return true;
	for (p = stem + n; *p; p++)
		if (!isxdigit((unsigned char) *p) && !(p == stem + n && *p == '-'))
			return false;
	return true;
}

static const struct img_kind *find_kind(const char *stem)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kind_matches(&kinds[i], stem))
			return &kinds[i];
	return NULL;
}

static bool known_magic(uint32_t m)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].magic != RAW && kinds[i].magic == m)
			return true;
	return false;
}

static int read_head(int dfd, const char *dir, const char *name, uint32_t head[2], size_t *got, zs_error_t *err)
{
	cleanup_close int fd = zs_img_open(dfd, dir, name, NULL, err);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, head, 2 * sizeof(uint32_t), 0);
	if (n < 0)
		return zs_make_error(err, errno, "%s/%s: read", dir, name);
	*got = n;
	return 0;
}

static int check_magic(int dfd, const char *dir, const char *name, zs_error_t *err)
{
	cleanup_free char *stem = xstrdup(name);
	const struct img_kind *k;
	uint32_t head[2] = {0, 0};
	uint32_t want_head;
	size_t got = 0;

	stem[strlen(stem) - 4] = '\0';
	/* tmpfs contents: tmpfs-<id>.tar.gz.img, tmpfs-dev-<id>.tar.gz.img
	 * (CRIU's FS_TMPFS/FS_TMPFS_DEV: raw gzip'ed tarballs) */
	if (strlen(stem) > 7 && strcmp(stem + strlen(stem) - 7, ".tar.gz") == 0)
		return 0;
	k = find_kind(stem);
	if (k && k->magic == RAW)
		return 0;
	if (read_head(dfd, dir, name, head, &got, err) < 0)
		return -1;
	if (got < sizeof(head))
		return zs_make_error(err, -EINVAL, "%s/%s: truncated header (%zu bytes, a CRIU image has 8)", dir, name,
				     got);
	want_head = k && k->service ? ZS_IMG_SERVICE_MAGIC : ZS_IMG_COMMON_MAGIC;
	/* what the file holds is never printed: it may not be an image */
	if (head[0] != want_head && !(k == NULL && head[0] == ZS_IMG_SERVICE_MAGIC))
		return zs_make_error(err, -EINVAL, "%s/%s: bad magic (not a CRIU image)", dir, name);
	if (k && head[1] != k->magic)
		return zs_make_error(err, -EINVAL, "%s/%s: bad magic (not a CRIU %.*s image)", dir, name,
				     (int) strcspn(k->stem, "-"), k->stem);
	if (!k && !known_magic(head[1]))
		return zs_make_error(err, -EINVAL, "%s/%s: unknown magic (not a CRIU 4.2.1 image)", dir, name);
	return 0;
}

/* pages-<id>.img holds exactly the PE_PRESENT pages of its pagemap. */
static int check_pages_size(int dfd, const char *dir, const char *name, zs_error_t *err)
{
	struct zs_pagemap pm;
	char pages[64];
	struct stat st;
	uint64_t want;
	int ret = 0;

	if (zs_pagemap_read(dfd, dir, name, &pm, err) < 0)
		return -1;
	snprintf(pages, sizeof(pages), "pages-%" PRIu32 ".img", pm.pages_id);
	want = pm.present_pages * ZS_IMG_PAGE_SIZE;
	if (fstatat(dfd, pages, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT && want > 0)
			ret = zs_make_error(err, -ENOENT, "%s/%s: missing, but %s references %" PRIu64 " pages in it",
					    dir, pages, name, pm.present_pages);
		else if (errno != ENOENT)
			ret = zs_make_error(err, errno, "%s/%s (pages of %s)", dir, pages, name);
	} else if (!S_ISREG(st.st_mode)) {
		ret = zs_make_error(err, -EINVAL, "%s/%s: not a regular file (an image file must be one)", dir, pages);
	} else if ((uint64_t) st.st_size != want) {
		ret = zs_make_error(err, -EINVAL,
				    "%s/%s: %" PRIu64 " bytes, %s has %" PRIu64 " pages (%" PRIu64 " bytes): %s", dir,
				    pages, (uint64_t) st.st_size, name, pm.present_pages, want,
				    (uint64_t) st.st_size < want ? "truncated" : "trailing data");
	}
	zs_pagemap_free(&pm);
	return ret;
}

static bool is_img(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".img") == 0;
}

/* The inventory's version; *PARENT_ID (if not NULL) gets its parent_image_id
 * and *ID its image_id. */
static int check_inventory(int dfd, const char *dir, bool parent, char **id, char **parent_id, zs_error_t *err)
{
	struct zs_inventory inv;
	uint32_t v;

	if (zs_inventory_read(dfd, dir, &inv, err) < 0)
		return -1;
	v = inv.img_version;
	*id = steal_pointer(&inv.image_id);
	*parent_id = steal_pointer(&inv.parent_image_id);
	zs_inventory_free(&inv);
	/* a pre-dump (only ever a parent) writes an inventory without a version */
	if (v != ZS_CRTOOLS_IMAGES_V1_1 && !(parent && v == 0))
		return zs_make_error(err, -EINVAL,
				     "%s/inventory.img: unknown CRIU version: img_version %" PRIu32
				     " (CRIU 4.2.1 writes %d)",
				     dir, v, ZS_CRTOOLS_IMAGES_V1_1);
	return 0;
}

/* Nothing in an image directory that CRIU would open may be other than a
 * regular file: a FIFO blocks it, a device or a symlink reads what it
 * points to.  `parent` is the one symlink (to the parent image);
 * directories are left alone (CRIU opens none by name), and so is the
 * socket the lazy-pages daemon listens on (`lazy-pages.socket`: a restore
 * with --lazy-pages connects to it; a socket cannot be opened as a file). */
static int check_entry_types(int dfd, const char *dir, zs_error_t *err)
{
	char **names = NULL;
	size_t n = 0, i;
	struct stat st;
	int ret = 0;

	if (zs_img_list(dfd, dir, NULL, &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n && ret == 0; i++) {
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			ret = zs_make_error(err, errno, "%s/%s", dir, names[i]);
		else if (S_ISLNK(st.st_mode) && strcmp(names[i], "parent") != 0)
			ret = zs_make_error(err, -EINVAL, "%s/%s: is a symlink (only `parent` may be one)", dir,
					    names[i]);
		else if (S_ISSOCK(st.st_mode) && strcmp(names[i], "lazy-pages.socket") == 0)
			continue; /* `criu lazy-pages -D DIR` listens there; restore connects */
		else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
			ret = zs_make_error(err, -EINVAL, "%s/%s: not a regular file (a FIFO, socket or device)", dir,
					    names[i]);
	}
	zs_img_list_free(names, n);
	return ret;
}

/* One directory of the chain: what its headers say. */
static int check_one(int dfd, const char *dir, bool parent, char **id, char **parent_id, zs_error_t *err)
{
	char **names = NULL;
	size_t n = 0, i;
	int ret = 0;

	if (check_entry_types(dfd, dir, err) < 0 || check_inventory(dfd, dir, parent, id, parent_id, err) < 0)
		return -1;
	if (zs_img_list(dfd, dir, is_img, &names, &n, err) < 0)
		return -1;
	for (i = 0; i < n && ret == 0; i++) {
		if (strcmp(names[i], "inventory.img") == 0)
			continue;
		ret = check_magic(dfd, dir, names[i], err);
		if (ret == 0 && zs_img_is_pagemap(names[i]))
			ret = check_pages_size(dfd, dir, names[i], err);
	}
	zs_img_list_free(names, n);
	return ret;
}

/* The parent of the directory DFD (named DIR): 1 and *PFD, 0 when there is
 * none, or an error. */
static int open_parent(int dfd, const char *dir, bool dangling_ok, int *pfd, zs_error_t *err)
{
	char target[4096];
	ssize_t len = readlinkat(dfd, "parent", target, sizeof(target) - 1);

	if (len < 0 && errno == ENOENT)
		return 0;
	if (len < 0)
		return zs_make_error(err, errno, "%s/parent: not a symlink to the parent image", dir);
	*pfd = openat(dfd, "parent", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*pfd < 0 && errno == ENOENT && dangling_ok)
		return 0;
	if (*pfd < 0)
		return zs_make_error(err, errno, "%s/parent: missing parent image", dir);
	return 1;
}

static bool seen_dir(const struct stat *seen, unsigned n, int fd)
{
	struct stat st;
	unsigned i;

	if (fstat(fd, &st) < 0)
		return true;
	for (i = 0; i < n; i++)
		if (seen[i].st_dev == st.st_dev && seen[i].st_ino == st.st_ino)
			return true;
	return false;
}

static int check_lineage(const char *dir, const char *id, const char *want, zs_error_t *err)
{
	if (want == NULL || (id && strcmp(id, want) == 0))
		return 0;
	return zs_make_error(err, -EINVAL,
			     "%s: image id %s is not the parent_image_id %s of its child: a parent from "
			     "another lineage",
			     dir, id ? id : "(none)", want);
}

static int check_chain(int at, const char *dir, bool dangling_ok, bool predump_ok, zs_error_t *err)
{
	cleanup_close int dfd = at >= 0 ? fcntl(at, F_DUPFD_CLOEXEC, 3) : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *name = xstrdup(dir), *want = NULL;
	struct stat seen[ZS_IMAGE_MAX_CHAIN];
	unsigned depth;

	if (dfd < 0)
		return zs_make_error(err, errno, "%s", dir);
	for (depth = 0;; depth++) {
		cleanup_free char *id = NULL, *parent_id = NULL;
		int pfd = -1, r;

		if (depth >= ZS_IMAGE_MAX_CHAIN || seen_dir(seen, depth, dfd))
			return zs_make_error(err, -ELOOP, "%s: a loop in the parent chain, or deeper than %d images",
					     name, ZS_IMAGE_MAX_CHAIN);
		fstat(dfd, &seen[depth]);
		if (check_one(dfd, name, depth > 0 || predump_ok, &id, &parent_id, err) < 0 ||
		    check_lineage(name, id, want, err) < 0)
			return -1;
		r = open_parent(dfd, name, dangling_ok, &pfd, err);
		if (r <= 0)
			return r;
		close(dfd);
		dfd = pfd;
		free(want);
		want = steal_pointer(&parent_id);
		{
			char *up = xasprintf("%s/parent", name);
			free(name);
			name = up;
		}
	}
}

int zs_image_check_at(int at, const char *dir, bool dangling_ok, zs_error_t *err)
{
	return check_chain(at, dir, dangling_ok, false, err);
}

int zs_image_check(const char *dir, zs_error_t *err)
{
	return zs_image_check_at(-1, dir, false, err);
}

int zs_image_check_stored(const char *dir, zs_error_t *err)
{
	return check_chain(-1, dir, false, true, err);
}
