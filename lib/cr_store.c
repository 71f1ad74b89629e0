/* zanshin — checkpoint/restore and the remnant store: which generation a
 * checkpoint is a diff against, the flattened copy --image-path receives,
 * finding a diff's parent on this node by lineage id, keeping what was
 * restored as a remnant.  See docs/checkpoint-restore.md. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu_internal.h"
#include "zanshin/digest.h"
#include "zanshin/criu_image.h"
#include "zanshin/image_manifest.h"
#include "zanshin/log.h"
#include "zanshin/remnant.h"
#include "zanshin/cgroup.h"
#include "zanshin/container.h"
#include "zanshin/status.h"
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

/* ---- the flattened copy into --image-path --------------------------------
 * IMAGE_DIR ends up holding exactly the new image (plus CRIU's logs of this
 * run), never a mix with a previous checkpoint's files:
 *  - usually the image is flattened into a sibling directory on the same
 *    filesystem, CRIU's logs move into it, and renameat2(RENAME_EXCHANGE)
 *    swaps it with IMAGE_DIR in one step; the old contents are removed
 *    afterwards.  Any failure before the swap leaves IMAGE_DIR untouched.
 *  - IMAGE_DIR a mount point (it cannot be renamed): flattened into
 *    IMAGE_DIR/.zanshin-new-*, then the old entries are removed and the
 *    new ones moved up.  A failure while flattening leaves IMAGE_DIR as it
 *    was; one while moving leaves a partial directory — the store's
 *    generation, named in the error, is complete either way. */

static int fsync_dir(const char *dir, zs_error_t *err)
{
	cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return zs_make_error(err, errno, "fsync `%s`", dir);
	return 0;
}

bool zs_cr_is_mount_root(const char *dir)
{
	cleanup_free char *parent = xasprintf("%s/..", dir);
	struct statx sx;
	struct stat a, b;

	if (statx(AT_FDCWD, dir, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
	    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	return stat(dir, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

/* Move the entries of FROM for which KEEP is true (or, KEEP NULL, all but
 * SKIP) into TO. */
static int move_entries(const char *from, const char *to, bool (*keep)(const char *), const char *skip, zs_error_t *err)
{
	cleanup_dir DIR *d = opendir(from);
	struct dirent *de;

	if (d == NULL)
		return zs_make_error(err, errno, "open `%s`", from);
	while ((de = readdir(d))) {
		cleanup_free char *a = NULL, *b = NULL;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (skip && strcmp(de->d_name, skip) == 0) || (keep && !keep(de->d_name)))
			continue;
		a = xasprintf("%s/%s", from, de->d_name);
		b = xasprintf("%s/%s", to, de->d_name);
		if (rename(a, b) < 0)
			return zs_make_error(err, errno, "move `%s` to `%s`", a, b);
	}
	return 0;
}

/* Remove every entry of DIR but SKIP and CRIU's logs. */
static int clear_dir(const char *dir, const char *skip, zs_error_t *err)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return zs_make_error(err, errno, "open `%s`", dir);
	while ((de = readdir(d))) {
		cleanup_free char *p = NULL;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 || strcmp(de->d_name, skip) == 0 ||
		    zs_image_log_file(de->d_name))
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (rm_rf(p) < 0)
			return zs_make_error(err, errno, "remove `%s`", p);
	}
	return 0;
}

char *zs_cr_sibling(const char *dir, const char *what)
{
	cleanup_free char *copy = xstrdup(dir);
	char *slash;

	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = '\0';
	slash = strrchr(copy, '/');
	if (slash == NULL)
		return xasprintf(".%s.zanshin-%s-%d", copy, what, (int) getpid());
	*slash = '\0';
	return xasprintf("%s/.%s.zanshin-%s-%d", *copy ? copy : "", slash + 1, what, (int) getpid());
}

/* G verified and flattened into OUT, or (G NULL) LEAF flattened. */
static int flatten_into(struct zs_remnant *r, const struct zs_remnant_gen *g, const char *leaf, const char *out,
			zs_error_t *err)
{
	struct zs_flatten_stats st;
	int ret = g ? zs_remnant_export(r, g, out, err) : zs_image_flatten(leaf, out, &st, err);

	/* the copy a user carries away is verified where it is restored */
	return ret < 0 ? ret : zs_image_manifest_write(out, g ? g->container : NULL, err);
}

int zs_cr_swap_in(const char *tmp, const char *image_dir, zs_error_t *err)
{
	cleanup_free char *pdir = xstrdup(tmp);

	*strrchr(pdir, '/') = '\0';
	if (move_entries(image_dir, tmp, zs_image_log_file, NULL, err) < 0 || fsync_dir(tmp, err) < 0)
		return -1;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, image_dir, RENAME_EXCHANGE) < 0) {
		zs_make_error(err, errno, "swap `%s` with `%s`", tmp, image_dir);
		/* the logs go back where the user looks for them */
		move_entries(tmp, image_dir, zs_image_log_file, NULL, NULL);
		return -1;
	}
	rm_rf(tmp); /* the previous contents */
	return fsync_dir(*pdir ? pdir : "/", err);
}

/* NAME is PREFIX followed by the pid of a process that is gone. */
static bool sibling_of_dead(const char *name, const char *prefix)
{
	char *end;
	long pid;

	if (strncmp(name, prefix, strlen(prefix)) != 0)
		return false;
	pid = strtol(name + strlen(prefix), &end, 10);
	return *end == '\0' && pid > 0 && kill((pid_t) pid, 0) < 0 && errno == ESRCH;
}

void zs_cr_settle_siblings(const char *image_dir)
{
	cleanup_free char *real = realpath(image_dir, NULL), *pdir = NULL, *prefix = NULL, *new_prefix = NULL;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	char *slash;

	if (real == NULL || (slash = strrchr(real, '/')) == NULL)
		return;
	*slash = '\0';
	pdir = xstrdup(real);
	*slash = '/';
	prefix = xasprintf(".%s.zanshin-dump-", slash + 1);
	new_prefix = xasprintf(".%s.zanshin-new-", slash + 1);
	d = opendir(*pdir ? pdir : "/");
	while (d && (de = readdir(d))) {
		cleanup_free char *p = NULL, *id = NULL;
		cleanup_error zs_error_t e = NULL;
		int st;
		if (sibling_of_dead(de->d_name, new_prefix)) {
			/* a copy being written or swapped when its runtime
			 * was killed: its source (the store's generation, a
			 * dump) or the swapped-in image is the state */
			p = xasprintf("%s/%s", pdir, de->d_name);
			rm_rf(p);
			continue;
		}
		if (!sibling_of_dead(de->d_name, prefix))
			continue; /* not ours, or its checkpoint still runs */
		p = xasprintf("%s/%s", pdir, de->d_name);
		st = zs_remnant_dump_orphaned(p, &id);
		if (st < 0)
			continue; /* warned: kept for a person */
		if (st == 0) {
			rm_rf(p); /* CRIU had not finished: the container ran on */
			continue;
		}
		if (zs_image_manifest_write(p, id, &e) < 0 || zs_cr_swap_in(p, real, &e) < 0) {
			zs_warn(
			    "`%s`: a finished checkpoint its runtime was killed before completing is kept there: %s", p,
			    zs_error_msg(e));
			continue;
		}
		zs_remnant_dump_unmark(real);
		zs_warn("`%s`: completed a checkpoint whose runtime was killed after CRIU had finished it (the "
			"container's newest state)",
			real);
	}
}

static int export_swap(struct zs_remnant *r, const struct zs_remnant_gen *g, const char *leaf, const char *image_dir,
		       zs_error_t *err)
{
	cleanup_free char *tmp = zs_cr_sibling(image_dir, "new");

	rm_rf(tmp);
	if (flatten_into(r, g, leaf, tmp, err) < 0 || zs_cr_swap_in(tmp, image_dir, err) < 0) {
		rm_rf(tmp);
		return -1;
	}
	return 0;
}

static int export_in_place(struct zs_remnant *r, const struct zs_remnant_gen *g, const char *leaf,
			   const char *image_dir, zs_error_t *err)
{
	cleanup_free char *name = xasprintf(".zanshin-new-%d", (int) getpid());
	cleanup_free char *tmp = xasprintf("%s/%s", image_dir, name);

	rm_rf(tmp);
	if (flatten_into(r, g, leaf, tmp, err) < 0) {
		rm_rf(tmp);
		return -1;
	}
	if (clear_dir(image_dir, name, err) < 0 || move_entries(tmp, image_dir, NULL, NULL, err) < 0)
		return -1;
	rmdir(tmp);
	return fsync_dir(image_dir, err);
}

char *zs_cr_store_export_hint(struct zs_remnant *r, const struct zs_remnant_gen *g)
{
	bool dflt = strcmp(zs_remnant_root(r), ZS_REMNANT_DEFAULT_ROOT) == 0;
	cleanup_free char *root = dflt ? xstrdup("") : xasprintf("--remnant-root %s ", zs_remnant_root(r));

	return xasprintf("the newest state is complete in the remnant store as generation %s of container %s "
			 "(%s); write it out with `zanshin %sremnant export %s %s NEW-DIR` and restore from NEW-DIR",
			 g->name, g->container, g->path, root, g->container, g->name);
}

/* ERR's text with its errno spelled out (as main would print it). */
char *zs_cr_error_text(zs_error_t e)
{
	if (e == NULL)
		return xstrdup("");
	if (e->status && !e->quiet)
		return xasprintf("%s: %s", e->msg, strerror(e->status));
	return xstrdup(e->msg);
}

int zs_cr_store_export(struct zs_remnant *r, const struct zs_remnant_gen *g, const char *image_dir, zs_error_t *err)
{
	cleanup_free char *hint = NULL, *cause = NULL;
	/* a symlinked --image-path: its target is replaced, the link stays */
	cleanup_free char *real = realpath(image_dir, NULL);
	const char *dir = real ? real : image_dir;
	int ret, e;

	ret = zs_cr_is_mount_root(dir) ? export_in_place(r, g, NULL, dir, err) : export_swap(r, g, NULL, dir, err);
	if (ret == 0)
		return 0;
	hint = zs_cr_store_export_hint(r, g);
	cause = zs_cr_error_text(*err);
	e = zs_error_errno(*err);
	zs_error_release(err);
	return zs_make_error(err, e ? -e : -EIO, "writing the checkpoint to --image-path `%s` failed: %s; %s",
			     image_dir, cause, hint);
}

int zs_cr_store_export_dir(struct zs_remnant *r, const char *leaf, const char *image_dir, zs_error_t *err)
{
	cleanup_free char *real = realpath(image_dir, NULL);
	const char *dir = real ? real : image_dir;
	int ret =
	    zs_cr_is_mount_root(dir) ? export_in_place(r, NULL, leaf, dir, err) : export_swap(r, NULL, leaf, dir, err);

	return ret < 0 ? zs_error_wrap(err, "writing `%s` to --image-path `%s`", leaf, image_dir) : 0;
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

void zs_cr_store_keep(struct zs_remnant *r, const char *id, const char *image_dir, char **gen_name, char **image_id)
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
	if (image_id)
		*image_id = xstrdup(g->image_id);
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

int zs_cr_store_resolve(struct zs_remnant *r, const char *id, const char *image_dir, const char *image_id,
			const char *parent_id, char **use_dir, char **gen_name, zs_error_t *err)
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
	if (ret == 0 && image_id && (ret = zs_remnant_find(r, id, image_id, &g, err)) > 0) {
		/* the parent is gone, but the store holds this very image: a
		 * restore of it before (perhaps one that failed) imported it, and
		 * the automatic merge past max_chain made it a full generation
		 * and retired the chain */
		ret = zs_remnant_verify(r, g, err);
		if (ret == 0) {
			*use_dir = xstrdup(g->path);
			*gen_name = xstrdup(g->name);
			zs_debug("restore: image %s found in the remnant store as %s", image_id, g->name);
		}
		zs_remnant_gen_free(g);
		return ret < 0 ? zs_error_wrap(err, "remnant store") : 0;
	}
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

/* The image directory the store copies from in the background is locked
 * shared (taken before the fork, so that no command can come in between)
 * until the copy is done; a checkpoint about to write into that directory
 * takes it exclusively first: it waits for the copy of this directory
 * only, not for every keeping job of the store. */
int zs_cr_image_dir_lock(const char *dir, bool exclusive)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

/* Store work that can wait (keeping what was just written or restored,
 * the Bundle, retention) runs in a detached, nice'd process, so that
 * checkpoint and restore return as soon as the container's part is done
 * (hashing a 1 GiB image for its manifest takes ~0.8 s).  It holds a
 * shared lock on ROOT/.keeping: a checkpoint that wants its baseline from
 * the store, and the `remnant` verbs, wait for it (zs_remnant_settle).
 * ZANSHIN_STORE_SYNC=1 does the work inline. */
/* The container (still there, still restored from IMAGE_ID, its state not
 * locked by a command that is writing it) records GEN as its generation. */
static void record_generation(const char *root, const char *id, const char *gen, const char *image_id)
{
	cleanup_free char *dir = zs_status_dir(root, id);
	cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_error zs_error_t e = NULL;
	struct zs_status *st = NULL;
	struct zs_cgroup *cg = NULL;

	/* never wait: a checkpoint holding the lock waits for us */
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
		return;
	if (zs_container_load(root, id, &st, &cg, &e) < 0)
		return;
	/* a --pre-dump or --leave-running checkpoint may have moved the
	 * baseline since: GEN is no longer what the container tracks from */
	if (st->generation == NULL && st->image_id && strcmp(st->image_id, image_id) == 0) {
		st->generation = xstrdup(gen);
		if (zs_status_write(root, st, st->annotations, cg, &e) < 0)
			zs_debug("state of %s: %s", id, zs_error_msg(e));
	}
	zs_status_free(st);
	zs_cgroup_free(cg);
}

static void keep_job(struct zs_remnant *r, const struct zs_cr_keep *k)
{
	cleanup_free char *gen = NULL, *image_id = NULL;

	if (k->image_dir)
		zs_cr_store_keep(r, k->id, k->image_dir, &gen, &image_id);
	if (gen && k->state_root)
		record_generation(k->state_root, k->id, gen, image_id);
	if (k->bundle)
		zs_cr_store_bundle(r, k->id, k->bundle, k->rootfs);
	if (k->gc)
		zs_cr_store_gc(r);
}

void zs_cr_store_later(struct zs_remnant *r, const struct zs_cr_keep *k)
{
	cleanup_error zs_error_t e = NULL;
	const char *sync = getenv("ZANSHIN_STORE_SYNC");
	int lock, dirlock, devnull;
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
	dirlock = k->image_dir ? zs_cr_image_dir_lock(k->image_dir, false) : -1;
	pid = fork();
	if (pid < 0) {
		close(lock);
		if (dirlock >= 0)
			close(dirlock);
		keep_job(r, k);
		return;
	}
	if (pid > 0) {
		close(lock); /* the child's copies keep the locks */
		if (dirlock >= 0)
			close(dirlock);
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
	if (dup2(lock, 3) == 3 && (dirlock < 0 || dup2(dirlock, 4) == 4))
		syscall(SYS_close_range, dirlock < 0 ? 4 : 5, ~0U, 0);
	setpriority(PRIO_PROCESS, 0, 10);
	/* one core for hashing: the other stays with the containers */
	zs_digest_set_max_threads(1);
	keep_job(r, k);
	_exit(0);
}
