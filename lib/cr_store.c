/* zanshin — checkpoint/restore and the remnant store: which generation a
 * checkpoint is a diff against, the flattened copy --image-path receives,
 * finding a diff's parent on this node by lineage id, keeping what was
 * restored as a remnant.  See docs/checkpoint-restore.md. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu_internal.h"
#include "zanshin/digest.h"
#include "zanshin/criu_image.h"
#include "zanshin/log.h"
#include "zanshin/remnant.h"
#include "zanshin/utils.h"

int zs_cr_store_open(const struct zs_cr_opts *o, struct zs_remnant **r, zs_error_t *err)
{
	*r = NULL;
	if (o->remnant_root && strcmp(o->remnant_root, "none") == 0)
		return 0; /* store disabled */
	return zs_remnant_open(o->remnant_root, r, err);
}

/* The generation the container's tracking baseline is stored as, if this
 * node still holds it (same container id: its parent link is ../NAME). */
int zs_cr_store_baseline(struct zs_remnant *r, const char *id, const char *image_id, struct zs_remnant_gen **g)
{
	cleanup_error zs_error_t e = NULL;
	int ret;

	*g = NULL;
	if (r == NULL || image_id == NULL)
		return 0;
	ret = zs_remnant_find(r, id, image_id, g, &e);
	if (ret < 0)
		zs_warn("remnant store: looking up image %s: %s", image_id, zs_error_msg(e));
	return ret > 0;
}

/* Move every entry of FROM into DIR (same filesystem), then remove FROM
 * and fsync DIR: how a flattened copy lands in a directory the caller
 * (containerd, Podman) may have created already. */
static int move_entries(const char *from, const char *dir, zs_error_t *err)
{
	cleanup_dir DIR *d = opendir(from);
	cleanup_close int dfd = -1;
	struct dirent *de;

	if (d == NULL)
		return zs_make_error(err, errno, "open `%s`", from);
	while ((de = readdir(d))) {
		cleanup_free char *a = NULL, *b = NULL;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		a = xasprintf("%s/%s", from, de->d_name);
		b = xasprintf("%s/%s", dir, de->d_name);
		if (rename(a, b) < 0)
			return zs_make_error(err, errno, "move `%s` to `%s`", a, b);
	}
	rmdir(from);
	dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd);
	return 0;
}

int zs_cr_store_export(struct zs_remnant *r, const struct zs_remnant_gen *g, const char *image_dir, zs_error_t *err)
{
	cleanup_free char *tmp = xasprintf("%s.zanshin-%d", image_dir, (int) getpid());
	int ret;

	rm_rf(tmp);
	ret = zs_remnant_export(r, g, tmp, err);
	if (ret == 0)
		ret = move_entries(tmp, image_dir, err);
	if (ret < 0) {
		rm_rf(tmp);
		return zs_error_wrap(
		    err,
		    "the checkpoint is generation %s of container %s in the remnant store, but writing "
		    "it to --image-path failed (zanshin remnant export can retry)",
		    g->name, g->container);
	}
	return 0;
}

/* Keep IMAGE_DIR (just written or restored from) as a generation; a store
 * problem is a warning, never a failed checkpoint/restore. */
/* The ancestors of IMAGE_DIR not stored yet, whose chain is complete here
 * (a diff restored or checkpointed against images this node only received):
 * they are kept first, oldest first, so that the diff has its parent. */
static void keep_ancestors(struct zs_remnant *r, const char *id, const char *image_dir)
{
	char *chain[64];
	size_t n = 0, i;
	cleanup_free char *cur = xasprintf("%s/parent", image_dir);

	if (!zs_cr_chain_complete(image_dir))
		return;
	while (n < 64) {
		cleanup_error zs_error_t e = NULL;
		struct zs_image_info info = {0};
		struct zs_remnant_gen *g = NULL;
		char real[PATH_MAX];
		bool stored, full;
		if (realpath(cur, real) == NULL || zs_image_info(real, &info, &e) < 0 || info.image_id == NULL) {
			zs_image_info_free(&info);
			break;
		}
		stored = zs_remnant_find(r, id, info.image_id, &g, &e) > 0;
		full = info.parent_image_id == NULL;
		zs_remnant_gen_free(g);
		zs_image_info_free(&info);
		if (stored)
			break;
		chain[n++] = xstrdup(real);
		if (full)
			break;
		free(cur);
		cur = xasprintf("%s/parent", real);
	}
	for (i = n; i > 0; i--) {
		cleanup_error zs_error_t e = NULL;
		if (zs_remnant_import(r, id, chain[i - 1], NULL, &e) < 0)
			zs_debug("remnant store: ancestor %s not kept: %s", chain[i - 1], zs_error_msg(e));
		free(chain[i - 1]);
	}
}

void zs_cr_store_keep(struct zs_remnant *r, const char *id, const char *image_dir, char **gen_name)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_remnant_gen *g = NULL;

	if (r == NULL)
		return;
	keep_ancestors(r, id, image_dir);
	if (zs_remnant_import(r, id, image_dir, &g, &e) < 0) {
		/* a diff against a pre-dump or a parent this node never had is
		 * expected not to be kept: not worth a warning on the
		 * container's stderr (restore shares it) */
		if (zs_error_errno(e) == ENOENT)
			zs_debug("remnant store: %s not kept: %s", image_dir, zs_error_msg(e));
		else
			zs_warn("remnant store: %s not kept: %s", image_dir, zs_error_msg(e));
		return;
	}
	zs_debug("remnant store: %s kept as generation %s", image_dir, g->name);
	if (gen_name)
		*gen_name = xstrdup(g->name);
	zs_remnant_gen_free(g);
}

void zs_cr_store_bundle(struct zs_remnant *r, const char *id, const char *bundle, const char *rootfs)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *have = NULL;

	if (r == NULL || zs_remnant_bundle(r, id, &have, &e) != 0)
		return;
	if (zs_remnant_save_bundle(r, id, bundle, rootfs, &e) < 0)
		zs_warn("remnant store: bundle of %s not kept: %s", id, zs_error_msg(e));
}

/* Does DIR's chain of `parent` links lead, image by image, to a full
 * image, each parent being the image its child names? */
bool zs_cr_chain_complete(const char *dir)
{
	cleanup_free char *cur = xstrdup(dir);
	int depth;

	for (depth = 0; depth < 64; depth++) {
		cleanup_error zs_error_t e = NULL;
		struct zs_image_info info = {0}, pinfo = {0};
		char *next;
		bool ok;
		if (zs_image_info(cur, &info, &e) < 0)
			return false;
		if (info.parent_image_id == NULL) {
			zs_image_info_free(&info);
			return true;
		}
		next = xasprintf("%s/parent", cur);
		ok = zs_image_info(next, &pinfo, &e) == 0 && pinfo.image_id &&
		     strcmp(pinfo.image_id, info.parent_image_id) == 0;
		zs_image_info_free(&info);
		zs_image_info_free(&pinfo);
		free(cur);
		cur = next;
		if (!ok)
			return false;
	}
	return false;
}

int zs_cr_store_resolve(struct zs_remnant *r, const char *id, const char *image_dir, const char *parent_id,
			char **use_dir, char **gen_name, zs_error_t *err)
{
	struct zs_remnant_gen *base = NULL, *g = NULL;
	int ret;

	*use_dir = NULL;
	if (parent_id == NULL || zs_cr_chain_complete(image_dir))
		return 0;
	if (r == NULL)
		return zs_make_error(
		    err, -ENOENT,
		    "%s is a diff against image %s, which is not at its `parent` link, and the remnant "
		    "store is disabled",
		    image_dir, parent_id);
	ret = zs_remnant_find(r, id, parent_id, &base, err);
	if (ret == 0)
		return zs_make_error(err, -ENOENT,
				     "%s is a diff against image %s, which is neither at its `parent` link nor in the "
				     "remnant store of this node (%s) for container %s",
				     image_dir, parent_id, zs_remnant_root(r), id);
	if (ret < 0)
		return ret;
	ret = zs_remnant_verify(r, base, err);
	if (ret == 0)
		ret = zs_remnant_import(r, id, image_dir, &g, err);
	if (ret == 0) {
		*use_dir = xstrdup(g->path);
		*gen_name = xstrdup(g->name);
		zs_debug("restore: parent %s found in the remnant store as %s", parent_id, base->name);
	}
	zs_remnant_gen_free(base);
	zs_remnant_gen_free(g);
	return ret < 0 ? zs_error_wrap(err, "remnant store") : 0;
}

/* Retention after every checkpoint (zanshin.json: remnant.max_age,
 * remnant.max_bytes); problems are warnings. */
void zs_cr_store_gc(struct zs_remnant *r)
{
	struct zs_remnant_gc_opts o = {0};
	struct zs_remnant_gc_item *items = NULL;
	cleanup_error zs_error_t e = NULL;
	size_t n = 0, i;

	if (r == NULL)
		return;
	if (zs_remnant_gc(r, &o, &items, &n, &e) < 0) {
		zs_warn("remnant store: gc: %s", zs_error_msg(e));
		return;
	}
	for (i = 0; i < n; i++)
		zs_debug("remnant store: removed %s/%s (%s)", items[i].container, items[i].name, items[i].reason);
	zs_remnant_gc_items_free(items, n);
}

/* Store work that can wait (keeping what was just written or restored,
 * the Bundle, retention) runs in a detached, nice'd process, so that
 * checkpoint and restore return as soon as the container's part is done
 * (hashing a 1 GiB image for its manifest takes ~0.8 s).  It holds a
 * shared lock on ROOT/.keeping: a checkpoint that wants its baseline from
 * the store, and the `remnant` verbs, wait for it (zs_remnant_settle).
 * ZANSHIN_STORE_SYNC=1 does the work inline. */
static void keep_job(struct zs_remnant *r, const struct zs_cr_keep *k)
{
	if (k->image_dir)
		zs_cr_store_keep(r, k->id, k->image_dir, NULL);
	if (k->bundle)
		zs_cr_store_bundle(r, k->id, k->bundle, k->rootfs);
	if (k->gc)
		zs_cr_store_gc(r);
}

void zs_cr_store_later(struct zs_remnant *r, const struct zs_cr_keep *k)
{
	cleanup_error zs_error_t e = NULL;
	const char *sync = getenv("ZANSHIN_STORE_SYNC");
	int lock, devnull;
	pid_t pid;

	if (r == NULL)
		return;
	if (sync && strcmp(sync, "1") == 0) {
		keep_job(r, k);
		return;
	}
	lock = zs_remnant_keeping_fd(r, false, &e);
	if (lock < 0) {
		zs_warn("remnant store: %s", zs_error_msg(e));
		return;
	}
	pid = fork();
	if (pid < 0) {
		close(lock);
		keep_job(r, k);
		return;
	}
	if (pid > 0) {
		close(lock); /* the child's copy keeps the lock */
		waitpid(pid, NULL, 0);
		return;
	}
	/* child: detach from the caller's session, stdio and fds (the
	 * container's state lock above all), then do the work in a grandchild */
	setsid();
	if (fork() != 0)
		_exit(0);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
	}
	if (dup2(lock, 3) == 3)
		syscall(SYS_close_range, 4, ~0U, 0);
	setpriority(PRIO_PROCESS, 0, 10);
	/* one core for hashing: the other stays with the containers */
	zs_digest_set_max_threads(1);
	keep_job(r, k);
	_exit(0);
}
