/* zanshin — removing a container's remnant, or one generation of it, on
 * request (`zanshin remnant rm`, include/zanshin/remnant.h).  What a live
 * container needs (a pin's baseline and its chain, lib/remnant_pin.c) goes
 * only with --force, and the caller is told what that costs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remnant_internal.h"
#include "zanshin/config.h"
#include "zanshin/utils.h"

struct rm_ctx {
	struct zs_remnant *r;
	const char *id;
	const struct zs_remnant_rm_opts *o;
	struct zs_remnant_gen **gens;
	size_t n;
	bool *pinned; /* needed by a live container */
	bool *doomed; /* to be removed */
};

static char *mb(uint64_t bytes)
{
	return xasprintf("%.1f MB", bytes / 1e6);
}

/* What a full checkpoint of the container would write, about: the full
 * generation at the root of a pinned chain (the largest, if several). */
static uint64_t full_size(const struct rm_ctx *c)
{
	uint64_t best = 0;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->pinned[i] && !c->gens[i]->diff && c->gens[i]->bytes > best)
			best = c->gens[i]->bytes;
	return best;
}

static char *pinned_names(const struct rm_ctx *c)
{
	char *s = xstrdup("");
	size_t i;

	for (i = 0; i < c->n; i++) {
		char *t;
		if (!c->pinned[i] || !c->doomed[i])
			continue;
		t = xasprintf("%s%s%s", s, *s ? ", " : "", c->gens[i]->name);
		free(s);
		s = t;
	}
	return s;
}

static bool hits_pin(const struct rm_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->pinned[i] && c->doomed[i])
			return true;
	return false;
}

static char *cost(const struct rm_ctx *c)
{
	cleanup_free char *size = mb(full_size(c));

	return xasprintf("the next checkpoint of %s will be full, about %s, instead of a diff", c->id, size);
}

/* Refuse to remove a live baseline unless forced; the message says what
 * forcing costs. */
static int check_pins(const struct rm_ctx *c, zs_error_t *err)
{
	cleanup_free char *names = NULL, *what = NULL;

	if (!hits_pin(c) || c->o->force)
		return 0;
	names = pinned_names(c);
	what = cost(c);
	return zs_make_error(err, -EBUSY,
			     "remnant of `%s`: generation(s) %s are the tracking baseline of a live container "
			     "(or its chain); not removed. With --force: %s",
			     c->id, names, what);
}

/* Is generation G in the chain of I (G itself excluded)? */
static bool depends_on(const struct rm_ctx *c, size_t i, size_t g)
{
	bool *m = xzalloc(c->n + 1);
	bool ret;

	zs_rem_mark_chain(c->gens, c->n, i, m);
	ret = i != g && m[g];
	free(m);
	return ret;
}

static int mark_generation(struct rm_ctx *c, size_t g, zs_error_t *err)
{
	cleanup_free char *deps = xstrdup("");
	size_t i, nd = 0;

	c->doomed[g] = true;
	for (i = 0; i < c->n; i++) {
		char *t;
		if (!depends_on(c, i, g))
			continue;
		c->doomed[i] = true;
		t = xasprintf("%s%s%s", deps, nd++ ? ", " : "", c->gens[i]->name);
		free(deps);
		deps = t;
	}
	if (nd && !c->o->dependents)
		return zs_make_error(err, -EBUSY,
				     "remnant of `%s`: generation %s is the parent of %s; not removed "
				     "(--dependents removes them too)",
				     c->id, c->gens[g]->name, deps);
	return 0;
}

/* Newest first: a diff is never left without its parent. */
static int remove_marked(struct rm_ctx *c, char **report, zs_error_t *err)
{
	char *s = xstrdup("");
	uint64_t bytes = 0;
	size_t i;

	for (i = c->n; i > 0; i--) {
		char *t;
		if (!c->doomed[i - 1])
			continue;
		if (zs_rem_retire(c->r, c->id, c->gens[i - 1]->name, err) < 0) {
			free(s);
			return zs_error_wrap(err, "remnant of `%s`", c->id);
		}
		bytes += c->gens[i - 1]->bytes;
		t = xasprintf("%s%s%s", s, *s ? ", " : "", c->gens[i - 1]->name);
		free(s);
		s = t;
	}
	if (report) {
		cleanup_free char *size = mb(bytes);
		*report = xasprintf("%s: removed generation(s) %s (%s)", c->id, s, size);
	}
	free(s);
	return 0;
}

/* The whole directory: renamed out of sight first (gone at once), then
 * deleted. */
static int remove_all(struct rm_ctx *c, char **report, zs_error_t *err)
{
	cleanup_free char *dir = zs_rem_container_dir(c->r, c->id);
	cleanup_free char *parent = xasprintf("%s/containers", zs_remnant_root(c->r));
	cleanup_free char *to = xasprintf("%s/" ZS_TMP_PREFIX "rm-%s-%d", parent, c->id, (int) getpid());
	uint64_t bytes = 0;
	size_t i;

	for (i = 0; i < c->n; i++)
		bytes += c->gens[i]->bytes;
	if (rename(dir, to) < 0)
		return zs_make_error(err, errno, "rename `%s` to `%s`", dir, to);
	if (zs_rem_fsync_path(parent, err) < 0)
		return -1;
	if (rm_rf(to) < 0)
		return zs_make_error(err, errno, "remove `%s`", to);
	if (report) {
		cleanup_free char *size = mb(bytes);
		*report = xasprintf("%s: removed the whole remnant (%zu generation(s), %s, and its bundle)", c->id,
				    c->n, size);
	}
	return 0;
}

static int rm_locked(struct rm_ctx *c, const char *gen, char **report, zs_error_t *err)
{
	size_t i, g;
	int ret;

	if (zs_rem_list(c->r, c->id, &c->gens, &c->n, err) < 0 ||
	    zs_rem_pinned_marks(c->r, c->id, c->gens, c->n, &c->pinned, err) < 0)
		return -1;
	c->doomed = xzalloc(c->n + 1);
	if (gen == NULL)
		for (i = 0; i < c->n; i++)
			c->doomed[i] = true;
	else if (zs_rem_pick(c->gens, c->n, c->id, gen, &g, err) < 0 || mark_generation(c, g, err) < 0)
		return -1;
	if (check_pins(c, err) < 0)
		return -1;
	ret = gen ? remove_marked(c, report, err) : remove_all(c, report, err);
	if (ret == 0 && report && hits_pin(c)) {
		cleanup_free char *what = cost(c);
		char *t = xasprintf("%s; forced: %s", *report, what);
		free(*report);
		*report = t;
	}
	return ret;
}

int zs_remnant_rm(struct zs_remnant *r, const char *id, const char *gen, const struct zs_remnant_rm_opts *o,
		  char **report, zs_error_t *err)
{
	struct zs_remnant_rm_opts def = {0};
	cleanup_free char *dir = NULL;
	struct rm_ctx c = {.r = r, .id = id, .o = o ? o : &def};
	cleanup_close int lock = -1;
	struct stat st;
	int ret;

	if (zs_validate_id(id, err) < 0)
		return -1;
	dir = zs_rem_container_dir(r, id);
	if (stat(dir, &st) < 0)
		return zs_make_error(err, errno == ENOENT ? -ENOENT : errno, "container `%s`: no remnant in `%s`", id,
				     zs_remnant_root(r));
	if (zs_rem_lock(r, id, &lock, err) < 0)
		return -1;
	ret = rm_locked(&c, gen, report, err);
	zs_rem_gens_free(c.gens, c.n);
	free(c.pinned);
	free(c.doomed);
	return ret;
}
