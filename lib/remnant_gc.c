/* zanshin — remnant store maintenance: merging a chain of diffs into one
 * full generation, and retention (gc) by age and total size. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remnant_internal.h"
#include "zanshin/criu_image.h"
#include "zanshin/json.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

/* A merge checks as much as a verify of the chain and of the result would,
 * in one SHA-256 pass over the image (issue 4: >= 1 GB/s on 2 cores, where
 * SHA-256 runs at ~1.35 GB/s per core):
 *   - the chain is verified against its manifests (zs_remnant_verify), but
 *     its pages files, the bulk, are hashed by the flatten itself, page by
 *     page on every core, from the same mapping it copies from (chain_check
 *     before the flatten checks all else; after it, each chain generation
 *     is verified again with those digests known);
 *   - the new generation's digests are computed as it is written: the
 *     small files through the copy, the pages files from the page digests
 *     of the sources (a sha256-4k digest is made of the digests of the
 *     4096-byte pages, zanshin/digest.h), so the manifest costs no pass;
 *     every file is fsync'ed, then the directory;
 *   - the verify before the chain is retired re-reads every file: the small
 *     ones are hashed again, the pages files were read back after fsync and
 *     compared byte for byte with the hashed sources (criu_image_flatten.c
 *     read_back: memcmp at memory speed); zs_image_check() checks the
 *     structure.
 * A chain generation with a version 1 manifest (plain SHA-256 per file) is
 * hashed again whole after the flatten: slower, as checked. */

struct merge_ctx {
	struct zs_remnant_gen **chain; /* chain[0] = the leaf, chain[k] its k-th ancestor */
	size_t n;
	const char *tmp;
};

static bool is_pages(const char *name)
{
	return str_has_prefix(name, "pages-") && strlen(name) > 4 && strcmp(name + strlen(name) - 4, ".img") == 0;
}

static bool same_dir(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int merge_digest(void *arg, const struct zs_flatten_digest *d, zs_error_t *err)
{
	struct merge_ctx *m = arg;

	if (!d->source) {
		zs_rem_known_add(m->tmp, d->name, d->digest, d->size, d->read_back);
		return 0;
	}
	/* a source read whole from level L: known for that generation, if
	 * the level is the generation we expect (else it is hashed again) */
	if (d->level < m->n && same_dir(d->dir, m->chain[d->level]->path))
		zs_rem_known_add(m->chain[d->level]->path, d->name, d->digest, d->size, true);
	return 0;
}

/* G's chain, leaf first, as zs_remnant_verify() walks it. */
static int chain_of(struct zs_remnant *r, const struct zs_remnant_gen *g, struct zs_remnant_gen **gens, size_t n,
		    struct merge_ctx *m, zs_error_t *err)
{
	struct zs_remnant_gen *cur = zs_rem_by_name(gens, n, g->name);

	if (cur == NULL)
		return zs_make_error(err, -ENOENT, "generation `%s` of `%s` is not in the store", g->name,
				     g->container);
	m->chain = xzalloc(sizeof(*m->chain) * (ZS_IMAGE_CHAIN_LIMIT + 1));
	while (cur) {
		if (m->n >= ZS_IMAGE_CHAIN_LIMIT)
			return zs_make_error(err, -ELOOP, "%s: chain longer than %d", g->path, ZS_IMAGE_CHAIN_LIMIT);
		m->chain[m->n++] = cur;
		if (cur->parent && zs_rem_by_name(gens, n, cur->parent) == NULL)
			return zs_make_error(err, -ENOENT, "%s: parent generation `%s` is missing", cur->path,
					     cur->parent);
		cur = cur->parent ? zs_rem_by_name(gens, n, cur->parent) : NULL;
	}
	return 0;
}

/* zs_remnant_verify() of the chain in two halves: FIRST, everything but
 * the pages files, which are only checked present with their size (the
 * flatten hashes them); then (!FIRST) the pages files alone, with the
 * flatten's digests known. */
static int chain_check(const struct merge_ctx *m, bool first, zs_error_t *err)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (first ? zs_rem_verify_dir_defer(m->chain[i]->path, is_pages, err) < 0
			  : zs_rem_verify_dir_deferred(m->chain[i]->path, is_pages, err) < 0)
			return -1;
		if (first && zs_image_check(m->chain[i]->path, err) < 0)
			return -1;
	}
	return 0;
}

/* Flatten G's chain into a new temporary directory of ID. */
static int flatten_tmp(struct zs_remnant *r, const char *id, const struct zs_remnant_gen *g, struct merge_ctx *m,
		       char **tmp, zs_error_t *err)
{
	cleanup_free char *dir = zs_rem_gens_dir(r, id);
	cleanup_free char *t = xasprintf("%s/" ZS_TMP_PREFIX "merge-XXXXXX", dir);
	struct zs_flatten_stats st;

	if (mkdtemp(t) == NULL)
		return zs_make_error(err, errno, "mkdtemp `%s`", t);
	/* zs_image_flatten creates OUT itself; the name stays ours under the lock */
	if (rmdir(t) < 0)
		return zs_make_error(err, errno, "rmdir `%s`", t);
	m->tmp = t;
	if (zs_image_flatten_hashed(g->path, t, &st, merge_digest, m, err) < 0) {
		rm_rf(t);
		return zs_error_wrap(err, "merge `%s`", g->path);
	}
	*tmp = steal_pointer(&t);
	return 0;
}

/* Generations of G's chain that no generation outside it depends on. */
static void retire_chain(struct zs_remnant *r, const char *id, const struct zs_remnant_gen *g, const char *keep_name)
{
	struct zs_remnant_gen **gens = NULL, *c, *p;
	cleanup_error zs_error_t err = NULL;
	bool *in_chain, *needed = NULL;
	size_t n, i, j;

	if (zs_rem_list(r, id, &gens, &n, &err) < 0)
		return;
	/* a live container's baseline and its chain stay (the merged
	 * generation, full, is the baseline of the leaf's image id now) */
	if (zs_rem_pinned_marks(r, id, gens, n, &needed, &err) < 0) {
		zs_warn("merge: the old chain is kept: %s", zs_error_msg(err));
		zs_rem_gens_free(gens, n);
		return;
	}
	in_chain = xzalloc(n + 1);
	for (c = zs_rem_by_name(gens, n, g->name); c; c = zs_rem_by_name(gens, n, c->parent))
		for (i = 0; i < n; i++)
			if (gens[i] == c)
				in_chain[i] = true;
	for (i = 0; i < n; i++) {
		if (in_chain[i] || strcmp(gens[i]->name, keep_name) == 0)
			continue;
		/* a kept generation needs every ancestor */
		for (p = zs_rem_by_name(gens, n, gens[i]->parent); p; p = zs_rem_by_name(gens, n, p->parent))
			for (j = 0; j < n; j++)
				if (gens[j] == p)
					needed[j] = true;
	}
	/* leaf first: no diff is ever left without its parent */
	for (c = zs_rem_by_name(gens, n, g->name); c; c = zs_rem_by_name(gens, n, c->parent))
		for (i = 0; i < n; i++)
			if (gens[i] == c && !needed[i] && zs_rem_retire(r, id, c->name, &err) < 0)
				zs_error_release(&err);
	free(in_chain);
	free(needed);
	zs_rem_gens_free(gens, n);
}

static char *chain_names(const struct zs_remnant_gen *g, struct zs_remnant_gen **gens, size_t n)
{
	char *s = xstrdup(g->name), *t;
	const struct zs_remnant_gen *c = g;
	unsigned depth = 0;

	while (c->parent && (c = zs_rem_by_name(gens, n, c->parent)) && ++depth < ZS_IMAGE_CHAIN_LIMIT) {
		t = xasprintf("%s,%s", s, c->name);
		free(s);
		s = t;
	}
	return s;
}

/* Flatten, finish verifying the chain with the flatten's digests of its
 * pages, commit (manifest from the known digests, verify, image check). */
static int merge_into(struct zs_remnant *r, const char *id, const struct zs_remnant_gen *g, struct merge_ctx *mc,
		      const char *from, struct zs_remnant_gen **m, zs_error_t *err)
{
	cleanup_free char *tmp = NULL;

	if (flatten_tmp(r, id, g, mc, &tmp, err) < 0)
		return -1;
	if (chain_check(mc, false, err) < 0) {
		rm_rf(tmp);
		return zs_error_wrap(err, "merge");
	}
	if (zs_rem_commit_locked(r, id, tmp, from, m, err) < 0) {
		rm_rf(tmp);
		return zs_error_wrap(err, "merge `%s`", g->path);
	}
	return 0;
}

int zs_rem_merge_locked(struct zs_remnant *r, const char *id, const struct zs_remnant_gen *g,
			struct zs_remnant_gen **out, zs_error_t *err)
{
	struct zs_remnant_gen **gens = NULL, *m = NULL;
	struct merge_ctx mc = {0};
	cleanup_free char *from = NULL;
	size_t n;
	int ret;

	if (!g->diff) {
		if (out)
			*out = NULL;
		return zs_make_error(err, -EINVAL, "%s: already a full generation, nothing to merge", g->path);
	}
	if (zs_rem_list(r, id, &gens, &n, err) < 0)
		return -1;
	ret = chain_of(r, g, gens, n, &mc, err);
	if (ret == 0 && chain_check(&mc, true, err) < 0)
		ret = -1;
	if (ret < 0)
		zs_error_wrap(err, "merge");
	else
		from = chain_names(g, gens, n);
	if (ret == 0)
		ret = merge_into(r, id, g, &mc, from, &m, err);
	zs_rem_known_clear();
	free(mc.chain);
	zs_rem_gens_free(gens, n);
	if (ret < 0)
		return -1;
	/* the new generation is in place and verified: retire the old chain */
	retire_chain(r, id, g, m->name);
	if (out)
		*out = m;
	else
		zs_remnant_gen_free(m);
	return 0;
}

int zs_remnant_merge(struct zs_remnant *r, const char *id, const struct zs_remnant_gen *gen,
		     struct zs_remnant_gen **newgen, zs_error_t *err)
{
	cleanup_close int lock = -1;

	if (zs_rem_lock(r, id, &lock, err) < 0)
		return -1;
	return zs_rem_merge_locked(r, id, gen, newgen, err);
}

/* ---- gc ---- */

struct gc_ctx {
	struct zs_remnant *r;
	const struct zs_remnant_gc_opts *o;
	struct zs_remnant_gc_item *items;
	size_t n_items;
	/* every container's generations */
	char **ids;
	size_t n_ids;
	struct zs_remnant_gen ***gens;
	size_t *n_gens;
	bool **gone;
	bool **pinned; /* a live container's baseline or in its chain */
};

void zs_remnant_gc_items_free(struct zs_remnant_gc_item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(items[i].container);
		free(items[i].name);
		free(items[i].reason);
	}
	free(items);
}

static void add_item(struct gc_ctx *c, const char *id, const char *name, uint64_t bytes, char *reason)
{
	struct zs_remnant_gc_item *it;

	c->items = xrealloc(c->items, sizeof(*c->items) * (c->n_items + 1));
	it = &c->items[c->n_items++];
	it->container = xstrdup(id);
	it->name = xstrdup(name);
	it->bytes = bytes;
	it->reason = reason;
}

static int gc_tmp_in(struct gc_ctx *c, const char *id, const char *dir, zs_error_t *err)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;

	if (d == NULL)
		return errno == ENOENT ? 0 : zs_make_error(err, errno, "open `%s`", dir);
	while ((de = readdir(d))) {
		cleanup_free char *p = NULL;
		if (!str_has_prefix(de->d_name, ZS_TMP_PREFIX))
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (str_has_prefix(de->d_name, ZS_TMP_PREFIX "dump-") && !c->o->dry_run && strcmp(id, "-") != 0) {
			bool keep = false;
			if (zs_rem_recover_dump(c->r, id, p, &keep, err) < 0)
				return -1;
			if (keep)
				continue;
		}
		if (lstat(p, &st) < 0 || (uint64_t) (c->o->now - st.st_mtime) < c->r->settings.remnant.tmp_grace ||
		    st.st_mtime > c->o->now)
			continue;
		add_item(c, id, de->d_name, 0, xstrdup("leftover temporary directory"));
		if (!c->o->dry_run && rm_rf(p) < 0)
			return zs_make_error(err, errno, "remove `%s`", p);
	}
	return 0;
}

/* ROOT/containers/.tmp-*: a whole remnant `remnant rm` renamed away and
 * was interrupted before it was deleted. */
static int gc_tmp_top(struct gc_ctx *c, zs_error_t *err)
{
	cleanup_free char *dir = xasprintf("%s/containers", zs_remnant_root(c->r));

	return gc_tmp_in(c, "-", dir, err);
}

/* Generation I of container K may go: not the newest, not an ancestor of
 * the newest, and no remaining generation has it as parent. */
static bool removable(struct gc_ctx *c, size_t k, size_t i)
{
	struct zs_remnant_gen **g = c->gens[k], *p;
	size_t n = c->n_gens[k], j, newest = n;

	for (j = n; j > 0; j--)
		if (!c->gone[k][j - 1]) {
			newest = j - 1;
			break;
		}
	if (i == newest || c->gone[k][i] || c->pinned[k][i])
		return false;
	for (p = zs_rem_by_name(g, n, g[newest]->parent); p; p = zs_rem_by_name(g, n, p->parent))
		if (p == g[i])
			return false;
	for (j = 0; j < n; j++)
		if (!c->gone[k][j] && g[j]->parent && strcmp(g[j]->parent, g[i]->name) == 0)
			return false;
	return true;
}

/* A diff whose image id is also stored as a full generation. */
static bool redundant(struct gc_ctx *c, size_t k, size_t i)
{
	struct zs_remnant_gen **g = c->gens[k];
	size_t j;

	for (j = 0; g[i]->diff && j < c->n_gens[k]; j++)
		if (!c->gone[k][j] && !g[j]->diff && strcmp(g[j]->image_id, g[i]->image_id) == 0)
			return true;
	return false;
}

static int remove_gen(struct gc_ctx *c, size_t k, size_t i, char *reason, zs_error_t *err)
{
	struct zs_remnant_gen *g = c->gens[k][i];

	c->gone[k][i] = true;
	add_item(c, g->container, g->name, g->bytes, reason);
	if (c->o->dry_run)
		return 0;
	return zs_rem_retire(c->r, g->container, g->name, err);
}

/* The least useful removable generation (redundant first, then oldest). */
static bool pick(struct gc_ctx *c, bool by_age, size_t *bk, size_t *bi)
{
	time_t limit = c->o->now - (time_t) c->r->settings.remnant.max_age;
	bool found = false, best_red = false;
	time_t best_t = 0;
	size_t k, i;

	for (k = 0; k < c->n_ids; k++)
		for (i = 0; i < c->n_gens[k]; i++) {
			time_t t = zs_rem_created(c->gens[k][i]);
			bool red;
			if (!removable(c, k, i) || (by_age && t > limit))
				continue;
			red = redundant(c, k, i);
			if (!found || (red && !best_red) || (red == best_red && t < best_t)) {
				found = true;
				best_red = red;
				best_t = t;
				*bk = k;
				*bi = i;
			}
		}
	return found;
}

static uint64_t total_bytes(struct gc_ctx *c)
{
	uint64_t sum = 0;
	size_t k, i;

	for (k = 0; k < c->n_ids; k++)
		for (i = 0; i < c->n_gens[k]; i++)
			if (!c->gone[k][i])
				sum += c->gens[k][i]->bytes;
	return sum;
}

static int gc_retention(struct gc_ctx *c, zs_error_t *err)
{
	uint64_t total;
	size_t k, i;

	while (pick(c, true, &k, &i))
		if (remove_gen(
			c, k, i,
			xasprintf("older than max_age (%llu s)", (unsigned long long) c->r->settings.remnant.max_age),
			err) < 0)
			return -1;
	while ((total = total_bytes(c)) > c->r->settings.remnant.max_bytes && pick(c, false, &k, &i))
		if (remove_gen(c, k, i,
			       xasprintf("store holds %llu bytes, more than max_bytes (%llu)",
					 (unsigned long long) total,
					 (unsigned long long) c->r->settings.remnant.max_bytes),
			       err) < 0)
			return -1;
	return 0;
}

static int gc_load(struct gc_ctx *c, int *locks, zs_error_t *err)
{
	size_t k;

	c->gens = xzalloc(sizeof(*c->gens) * (c->n_ids + 1));
	c->n_gens = xzalloc(sizeof(*c->n_gens) * (c->n_ids + 1));
	c->gone = xzalloc(sizeof(*c->gone) * (c->n_ids + 1));
	c->pinned = xzalloc(sizeof(*c->pinned) * (c->n_ids + 1));
	for (k = 0; k < c->n_ids; k++) {
		cleanup_free char *gdir = zs_rem_gens_dir(c->r, c->ids[k]);
		cleanup_free char *cdir = zs_rem_container_dir(c->r, c->ids[k]);
		if (zs_rem_lock(c->r, c->ids[k], &locks[k], err) < 0)
			return -1;
		if (gc_tmp_in(c, c->ids[k], gdir, err) < 0 || gc_tmp_in(c, c->ids[k], cdir, err) < 0)
			return -1;
		if (zs_rem_list(c->r, c->ids[k], &c->gens[k], &c->n_gens[k], err) < 0)
			return -1;
		c->gone[k] = xzalloc(c->n_gens[k] + 1);
		if (zs_rem_pinned_marks(c->r, c->ids[k], c->gens[k], c->n_gens[k], &c->pinned[k], err) < 0)
			return -1;
	}
	return 0;
}

int zs_remnant_gc(struct zs_remnant *r, const struct zs_remnant_gc_opts *o, struct zs_remnant_gc_item **items,
		  size_t *n_items, zs_error_t *err)
{
	struct zs_remnant_gc_opts def = {0};
	struct gc_ctx c = {.r = r};
	int *locks, ret;
	size_t k;

	if (o == NULL)
		o = &def;
	def = *o;
	if (def.now == 0)
		def.now = time(NULL);
	c.o = &def;
	if (zs_remnant_containers(r, &c.ids, &c.n_ids, err) < 0)
		return -1;
	locks = xzalloc(sizeof(int) * (c.n_ids + 1));
	for (k = 0; k < c.n_ids; k++)
		locks[k] = -1;
	ret = gc_load(&c, locks, err);
	if (ret == 0)
		ret = gc_tmp_top(&c, err);
	if (ret == 0)
		ret = gc_retention(&c, err);
	for (k = 0; k < c.n_ids; k++) {
		if (locks[k] >= 0)
			close(locks[k]);
		if (c.gens)
			zs_rem_gens_free(c.gens[k], c.n_gens[k]);
		if (c.gone)
			free(c.gone[k]);
		if (c.pinned)
			free(c.pinned[k]);
	}
	free(locks);
	free(c.gens);
	free(c.n_gens);
	free(c.gone);
	free(c.pinned);
	zs_free_string_array(c.ids);
	if (ret < 0) {
		zs_remnant_gc_items_free(c.items, c.n_items);
		return ret;
	}
	*items = c.items;
	*n_items = c.n_items;
	return 0;
}
