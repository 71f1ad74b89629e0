/* zanshin — the per-node remnant store (include/zanshin/remnant.h,
 * DESIGN.md "Remnant store"): generations of checkpoint images, each
 * written atomically with a manifest and lineage metadata. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "remnant_internal.h"
#include "zanshin/config.h"
#include "zanshin/criu_image.h"
#include "zanshin/json.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

void zs_remnant_gen_free(struct zs_remnant_gen *g)
{
	if (g == NULL)
		return;
	free(g->container);
	free(g->name);
	free(g->path);
	free(g->image_id);
	free(g->parent_image_id);
	free(g->parent);
	free(g->created);
	free(g->node);
	free(g);
}

void zs_rem_gens_free(struct zs_remnant_gen **gens, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		zs_remnant_gen_free(gens[i]);
	free(gens);
}

int zs_rem_fsync_path(const char *path, zs_error_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	if (fsync(fd) < 0)
		return zs_make_error(err, errno, "fsync `%s`", path);
	return 0;
}

/* ROOT: --remnant-root or $ZANSHIN_REMNANT_ROOT (the caller's), else
 * zanshin.json's remnant.root, else the default. */
int zs_remnant_open(const char *root, struct zs_remnant **out, zs_error_t *err)
{
	struct zs_remnant *r = xzalloc(sizeof(*r));
	cleanup_free char *cdir = NULL;

	if (zs_settings_load(NULL, &r->settings, err) < 0) {
		zs_remnant_close(r);
		return -1;
	}
	if ((root == NULL || *root == '\0') && r->settings.remnant.root[0])
		root = r->settings.remnant.root;
	if (root == NULL || *root == '\0')
		root = ZS_REMNANT_DEFAULT_ROOT;
	r->root = xstrdup(root);
	if (root[0] != '/') {
		zs_remnant_close(r);
		return zs_make_error(err, -EINVAL, "remnant root `%s`: must be an absolute path", root);
	}
	cdir = xasprintf("%s/containers", r->root);
	if (mkdir_p(cdir, 0700, err) < 0) {
		zs_error_wrap(err, "remnant store `%s`", r->root);
		zs_remnant_close(r);
		return -1;
	}
	*out = r;
	return 0;
}

void zs_remnant_close(struct zs_remnant *r)
{
	if (r == NULL)
		return;
	free(r->root);
	free(r);
}

void zs_remnant_set_settings(struct zs_remnant *r, const struct zs_settings *s)
{
	r->settings = *s;
}

const char *zs_remnant_root(struct zs_remnant *r)
{
	return r->root;
}

char *zs_rem_container_dir(struct zs_remnant *r, const char *id)
{
	return xasprintf("%s/containers/%s", r->root, id);
}

char *zs_rem_gens_dir(struct zs_remnant *r, const char *id)
{
	return xasprintf("%s/containers/%s/generations", r->root, id);
}

int zs_rem_lock(struct zs_remnant *r, const char *id, int *fd, zs_error_t *err)
{
	cleanup_free char *dir = zs_rem_gens_dir(r, id);
	cleanup_free char *path = NULL;
	int lfd;

	if (zs_validate_id(id, err) < 0)
		return -1;
	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	path = xasprintf("%s/containers/%s/.lock", r->root, id);
	lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	if (flock(lfd, LOCK_EX) < 0) {
		int e = errno;
		close(lfd);
		return zs_make_error(err, e, "lock `%s`", path);
	}
	*fd = lfd;
	return 0;
}

unsigned zs_rem_seq(const char *name)
{
	return (unsigned) strtoul(name, NULL, 10);
}

time_t zs_rem_created(const struct zs_remnant_gen *g)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (g->created == NULL || sscanf(g->created, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
					 &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static bool is_gen_name(const char *name)
{
	const char *p = name;

	while (*p >= '0' && *p <= '9')
		p++;
	return p != name && *p == '-' && strchr(name, '/') == NULL;
}

/* Lineage of generation NAME, without its chain length. */
static int load_one(struct zs_remnant *r, const char *id, const char *name, struct zs_remnant_gen **out,
		    zs_error_t *err)
{
	struct zs_remnant_gen *g = xzalloc(sizeof(*g));
	cleanup_free char *dir = zs_rem_gens_dir(r, id);

	g->container = xstrdup(id);
	g->name = xstrdup(name);
	g->path = xasprintf("%s/%s", dir, name);
	g->chain_len = 1;
	if (zs_rem_read_lineage(g->path, g, err) < 0) {
		zs_remnant_gen_free(g);
		return -1;
	}
	*out = g;
	return 0;
}

static int cmp_gen(const void *a, const void *b)
{
	const struct zs_remnant_gen *x = *(struct zs_remnant_gen *const *) a;
	const struct zs_remnant_gen *y = *(struct zs_remnant_gen *const *) b;
	unsigned sx = zs_rem_seq(x->name), sy = zs_rem_seq(y->name);

	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct zs_remnant_gen *zs_rem_by_name(struct zs_remnant_gen **gens, size_t n, const char *name)
{
	size_t i;

	for (i = 0; name && i < n; i++)
		if (strcmp(gens[i]->name, name) == 0)
			return gens[i];
	return NULL;
}

static void chain_lengths(struct zs_remnant_gen **gens, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct zs_remnant_gen *p = gens[i];
		unsigned len = 1;
		while (p->parent && len <= ZS_IMAGE_CHAIN_LIMIT && (p = zs_rem_by_name(gens, n, p->parent)))
			len++;
		gens[i]->chain_len = len;
	}
}

int zs_rem_list(struct zs_remnant *r, const char *id, struct zs_remnant_gen ***out, size_t *nout, zs_error_t *err)
{
	cleanup_free char *dir = NULL;
	cleanup_dir DIR *d = NULL;
	struct zs_remnant_gen **gens = NULL;
	struct dirent *de;
	size_t n = 0;

	if (zs_validate_id(id, err) < 0)
		return -1;
	dir = zs_rem_gens_dir(r, id);
	d = opendir(dir);
	if (d == NULL && errno != ENOENT)
		return zs_make_error(err, errno, "open `%s`", dir);
	while (d && (de = readdir(d))) {
		struct zs_remnant_gen *g;
		if (!is_gen_name(de->d_name))
			continue;
		if (load_one(r, id, de->d_name, &g, err) < 0) {
			/* retired (renamed away, lib/remnant.c zs_rem_retire) by a
			 * gc or merge between readdir() and here: readers take no
			 * lock, a generation that is gone is simply not listed */
			if (abs(zs_error_errno(*err)) == ENOENT &&
			    faccessat(dirfd(d), de->d_name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
				zs_error_release(err);
				continue;
			}
			zs_rem_gens_free(gens, n);
			return -1;
		}
		gens = xrealloc(gens, sizeof(*gens) * (n + 1));
		gens[n++] = g;
	}
	if (n)
		qsort(gens, n, sizeof(*gens), cmp_gen);
	chain_lengths(gens, n);
	*out = gens;
	*nout = n;
	return 0;
}

int zs_remnant_list(struct zs_remnant *r, const char *id, struct zs_remnant_gen ***gens, size_t *n, zs_error_t *err)
{
	return zs_rem_list(r, id, gens, n, err);
}

void zs_remnant_gens_free(struct zs_remnant_gen **gens, size_t n)
{
	zs_rem_gens_free(gens, n);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

int zs_remnant_containers(struct zs_remnant *r, char ***out, size_t *nout, zs_error_t *err)
{
	cleanup_free char *dir = xasprintf("%s/containers", r->root);
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;
	char **ids = xzalloc(sizeof(char *));
	size_t n = 0;

	if (d == NULL) {
		free(ids);
		return zs_make_error(err, errno, "open `%s`", dir);
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || zs_validate_id(de->d_name, NULL) < 0)
			continue;
		ids = xrealloc(ids, sizeof(char *) * (n + 2));
		ids[n++] = xstrdup(de->d_name);
		ids[n] = NULL;
	}
	if (n)
		qsort(ids, n, sizeof(char *), cmp_str);
	*out = ids;
	if (nout)
		*nout = n;
	return 0;
}

static struct zs_remnant_gen *gen_dup(const struct zs_remnant_gen *s)
{
	struct zs_remnant_gen *g = xzalloc(sizeof(*g));

	*g = *s;
	g->container = xstrdup(s->container);
	g->name = xstrdup(s->name);
	g->path = xstrdup(s->path);
	g->image_id = xstrdup(s->image_id);
	g->parent_image_id = s->parent_image_id ? xstrdup(s->parent_image_id) : NULL;
	g->parent = s->parent ? xstrdup(s->parent) : NULL;
	g->created = s->created ? xstrdup(s->created) : NULL;
	g->node = s->node ? xstrdup(s->node) : NULL;
	return g;
}

/* The hex part of a generation name (NNNN-HEX), as `remnant list` shows it. */
static const char *name_hex(const char *name)
{
	const char *dash = strchr(name, '-');

	return dash ? dash + 1 : name;
}

static bool prefix_of(const struct zs_remnant_gen *g, const char *which)
{
	return str_has_prefix(g->name, which) || str_has_prefix(name_hex(g->name), which) ||
	       str_has_prefix(g->image_id, which);
}

/* Among the generations matching MATCH, those of one image id resolve like
 * that image id (the full generation, else the newest); else ambiguous. */
static int pick_matching(struct zs_remnant_gen **gens, size_t n, const char *id, const char *which, bool *match,
			 size_t *out, zs_error_t *err)
{
	cleanup_free char *names = xstrdup("");
	const char *img = NULL;
	bool one_image = true;
	ssize_t best;
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		char *t;
		if (!match[i])
			continue;
		if (img && strcmp(img, gens[i]->image_id) != 0)
			one_image = false;
		img = gens[i]->image_id;
		t = xasprintf("%s%s%s (image %.12s)", names, k++ ? ", " : "", gens[i]->name, gens[i]->image_id);
		free(names);
		names = t;
	}
	if (k == 0)
		return zs_make_error(err, -ENOENT, "container `%s`: no generation `%s` in the remnant store", id,
				     which);
	if (!one_image)
		return zs_make_error(err, -EINVAL, "container `%s`: `%s` is ambiguous: %s", id, which, names);
	best = zs_rem_baseline_index(gens, n, img);
	*out = (size_t) best;
	return 0;
}

int zs_rem_pick(struct zs_remnant_gen **gens, size_t n, const char *id, const char *which, size_t *out, zs_error_t *err)
{
	bool *match;
	size_t i;
	int ret;

	if (which && *which == '\0')
		return zs_make_error(err, -EINVAL, "container `%s`: an empty generation name", id);
	if (which == NULL) {
		if (n == 0)
			return zs_make_error(err, -ENOENT, "container `%s`: no generation in the remnant store", id);
		*out = n - 1;
		return 0;
	}
	for (i = 0; i < n; i++)
		if (strcmp(gens[i]->name, which) == 0) {
			*out = i;
			return 0;
		}
	match = xzalloc(n + 1);
	for (i = 0; i < n; i++)
		match[i] = strcmp(gens[i]->image_id, which) == 0;
	if (n && memchr(match, true, n) == NULL)
		for (i = 0; i < n; i++)
			match[i] = prefix_of(gens[i], which);
	ret = pick_matching(gens, n, id, which, match, out, err);
	free(match);
	return ret;
}

int zs_remnant_get(struct zs_remnant *r, const char *id, const char *which, struct zs_remnant_gen **out,
		   zs_error_t *err)
{
	struct zs_remnant_gen **gens = NULL;
	size_t n, i;

	if (zs_rem_list(r, id, &gens, &n, err) < 0)
		return -1;
	if (n == 0 && !zs_remnant_exists(r, id)) {
		zs_rem_gens_free(gens, n);
		return zs_make_error(err, -ENOENT, "container `%s`: no remnant in `%s`", id, r->root);
	}
	if (zs_rem_pick(gens, n, id, which, &i, err) < 0) {
		zs_rem_gens_free(gens, n);
		return -1;
	}
	*out = gen_dup(gens[i]);
	zs_rem_gens_free(gens, n);
	return 0;
}

bool zs_remnant_exists(struct zs_remnant *r, const char *id)
{
	cleanup_free char *dir = NULL;
	struct stat st;

	if (zs_validate_id(id, NULL) < 0)
		return false;
	dir = zs_rem_container_dir(r, id);
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static int find_in(struct zs_remnant *r, const char *id, const char *image_id, struct zs_remnant_gen **out,
		   zs_error_t *err)
{
	struct zs_remnant_gen **gens = NULL, *best = NULL;
	size_t n, i;

	if (zs_rem_list(r, id, &gens, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(gens[i]->image_id, image_id) != 0)
			continue;
		/* prefer a full generation, then the newest */
		if (best == NULL || (best->diff && !gens[i]->diff) || best->diff == gens[i]->diff)
			best = gens[i];
	}
	if (best)
		*out = gen_dup(best);
	zs_rem_gens_free(gens, n);
	return best != NULL;
}

int zs_remnant_find(struct zs_remnant *r, const char *id, const char *image_id, struct zs_remnant_gen **gen,
		    zs_error_t *err)
{
	char **ids = NULL;
	size_t n, i;
	int ret = 0;

	if (id)
		return find_in(r, id, image_id, gen, err);
	if (zs_remnant_containers(r, &ids, &n, err) < 0)
		return -1;
	for (i = 0; i < n && ret == 0; i++)
		ret = find_in(r, ids[i], image_id, gen, err);
	zs_free_string_array(ids);
	return ret;
}

int zs_remnant_gen_begin(struct zs_remnant *r, const char *id, char **tmp_dir, zs_error_t *err)
{
	cleanup_free char *dir = NULL, *tmpl = NULL;

	if (zs_validate_id(id, err) < 0)
		return -1;
	dir = zs_rem_gens_dir(r, id);
	/* an abort may remove an empty directory between the two: again */
	for (int i = 0;; i++) {
		if (mkdir_p(dir, 0700, err) < 0)
			return -1;
		free(tmpl);
		tmpl = xasprintf("%s/" ZS_TMP_PREFIX "dump-XXXXXX", dir);
		if (mkdtemp(tmpl) != NULL)
			break;
		if (errno != ENOENT || i == 4)
			return zs_make_error(err, errno, "mkdtemp `%s`", tmpl);
	}
	*tmp_dir = steal_pointer(&tmpl);
	return 0;
}

void zs_remnant_gen_known(const char *tmp_dir, const char *name, const uint8_t digest[32], uint64_t size)
{
	zs_rem_known_add(tmp_dir, name, digest, size, false);
}

/* TMP must be a .tmp-* directly in ID's generations/. */
static int check_tmp(struct zs_remnant *r, const char *id, const char *tmp, zs_error_t *err)
{
	cleanup_free char *dir = zs_rem_gens_dir(r, id);
	cleanup_free char *rdir = realpath(dir, NULL), *rtmp = realpath(tmp, NULL);
	size_t l;

	if (rdir == NULL || rtmp == NULL)
		return zs_make_error(err, errno, "`%s`", rtmp ? dir : tmp);
	l = strlen(rdir);
	if (strncmp(rtmp, rdir, l) != 0 || rtmp[l] != '/' || !str_has_prefix(rtmp + l + 1, ZS_TMP_PREFIX) ||
	    strchr(rtmp + l + 1, '/'))
		return zs_make_error(
		    err, -EINVAL, "`%s` is not a temporary directory of container `%s` (see `remnant begin`)", tmp, id);
	return 0;
}

/* GENS (ROOT/containers/ID/generations) lost its last entry: it goes, and
 * so does the container's directory when nothing else is in it (a
 * refused move into a store that never held the container leaves no
 * trace).  rmdir() removes only what is empty: a generation, a Bundle or
 * a lock kept elsewhere in it keeps it. */
static void drop_empty_container(struct zs_remnant *r, const char *gens)
{
	cleanup_free char *cdir = xstrdup(gens), *parent = xasprintf("%s/containers", r->root);
	char *slash = strrchr(cdir, '/');
	cleanup_error zs_error_t e = NULL;

	if (slash == NULL || strcmp(slash + 1, "generations") != 0)
		return;
	*slash = '\0';
	slash = strrchr(cdir, '/');
	if (slash == NULL || (size_t) (slash - cdir) != strlen(parent) || strncmp(cdir, parent, strlen(parent)) != 0)
		return;
	if (rmdir(gens) == 0 && rmdir(cdir) == 0)
		zs_rem_fsync_path(parent, &e);
}

void zs_remnant_gen_abort(struct zs_remnant *r, const char *tmp_dir)
{
	const char *base = tmp_dir ? strrchr(tmp_dir, '/') : NULL;

	if (base && str_has_prefix(base + 1, ZS_TMP_PREFIX) && str_has_prefix(tmp_dir, r->root)) {
		cleanup_free char *gens = xasprintf("%.*s", (int) (base - tmp_dir), tmp_dir);
		rm_rf(tmp_dir);
		drop_empty_container(r, gens);
	}
}

char *zs_rem_now(void)
{
	time_t t = time(NULL);
	struct tm tm;
	char buf[64];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

static char *hostname(void)
{
	char buf[HOST_NAME_MAX + 1] = "";

	gethostname(buf, sizeof(buf) - 1);
	return xstrdup(buf);
}

/* The generation LINK (relative to TMP) points at, among those with IMAGE_ID. */
static struct zs_remnant_gen *link_target(const char *tmp, const char *link, struct zs_remnant_gen **gens, size_t n,
					  const char *image_id)
{
	cleanup_free char *p = link[0] == '/' ? xstrdup(link) : xasprintf("%s/%s", tmp, link);
	struct stat st, gs;
	size_t i;

	if (stat(p, &st) < 0)
		return NULL;
	for (i = 0; i < n; i++)
		if (strcmp(gens[i]->image_id, image_id) == 0 && stat(gens[i]->path, &gs) == 0 &&
		    gs.st_dev == st.st_dev && gs.st_ino == st.st_ino)
			return gens[i];
	return NULL;
}

/* Does LINK (relative to TMP) name nothing at all? */
static bool link_dangles(const char *tmp, const char *link)
{
	cleanup_free char *p = link[0] == '/' ? xstrdup(link) : xasprintf("%s/%s", tmp, link);
	struct stat st;

	return stat(p, &st) < 0 && errno == ENOENT;
}

static int set_parent(const char *tmp, struct zs_image_info *info, struct zs_remnant_gen **gens, size_t n,
		      struct zs_remnant_gen *g, zs_error_t *err)
{
	struct zs_remnant_gen *p;
	cleanup_free char *want = NULL, *lpath = xasprintf("%s/parent", tmp);
	size_t i;

	if (info->parent_image_id == NULL) {
		if (info->parent_link)
			return zs_make_error(err, -EINVAL, "%s: a `parent` link but no parent image id", tmp);
		return 0;
	}
	if (info->parent_link == NULL)
		return zs_make_error(err, -EINVAL, "%s: a diff (parent image id %s) without a `parent` link", tmp,
				     info->parent_image_id);
	p = link_target(tmp, info->parent_link, gens, n, info->parent_image_id);
	if (p == NULL && link_dangles(tmp, info->parent_link)) {
		/* the generation named was retired meanwhile (a merge while
		 * this diff was dumped against it): the one with the same
		 * image id, the same memory, is the parent */
		ssize_t b = zs_rem_baseline_index(gens, n, info->parent_image_id);
		p = b >= 0 ? gens[b] : NULL;
	}
	if (p == NULL) {
		for (i = 0; i < n; i++)
			if (strcmp(gens[i]->image_id, info->parent_image_id) == 0)
				break;
		return zs_make_error(err, i < n ? -EINVAL : -ENOENT,
				     "%s: parent link `%s` does not point at a stored generation with image id %s", tmp,
				     info->parent_link, info->parent_image_id);
	}
	want = xasprintf("../%s", p->name);
	if (strcmp(want, info->parent_link) != 0 && (unlink(lpath) < 0 || symlink(want, lpath) < 0))
		return zs_make_error(err, errno, "rewrite `%s`", lpath);
	g->parent = xstrdup(p->name);
	g->parent_image_id = xstrdup(info->parent_image_id);
	g->diff = true;
	g->chain_len = p->chain_len + 1;
	return 0;
}

static unsigned next_seq(struct zs_remnant_gen **gens, size_t n)
{
	return n ? zs_rem_seq(gens[n - 1]->name) + 1 : 1;
}

static char *gen_name(unsigned seq, const char *image_id)
{
	char hex[13];
	size_t i = 0;
	const char *p;

	for (p = image_id; *p && i < 12; p++)
		if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F'))
			hex[i++] = *p;
	hex[i] = '\0';
	return xasprintf("%04u-%s", seq, i ? hex : "noid");
}

static int publish(const char *tmp, struct zs_remnant_gen *g, const char *merged_from, zs_error_t *err)
{
	cleanup_free char *gdir = xstrdup(g->path);

	*strrchr(gdir, '/') = '\0';
	if (zs_rem_write_lineage(tmp, g, merged_from, err) < 0 || zs_rem_write_manifest(tmp, g->image_id, err) < 0)
		return -1;
	/* a merged generation replaces others: check it as written first */
	if (merged_from && (zs_rem_verify_dir(tmp, err) < 0 || zs_image_check(tmp, err) < 0))
		return -1;
	if (zs_rem_fsync_path(tmp, err) < 0)
		return -1;
	if (rename(tmp, g->path) < 0)
		return zs_make_error(err, errno, "rename `%s` to `%s`", tmp, g->path);
	return zs_rem_fsync_path(gdir, err);
}

int zs_rem_commit_locked(struct zs_remnant *r, const char *id, const char *tmp, const char *merged_from,
			 struct zs_remnant_gen **out, zs_error_t *err)
{
	struct zs_image_info info = {0};
	struct zs_remnant_gen **gens = NULL, *g = NULL;
	cleanup_free char *dir = zs_rem_gens_dir(r, id);
	size_t n = 0, i;
	int ret = -1;

	if (check_tmp(r, id, tmp, err) < 0 || zs_image_info(tmp, &info, err) < 0)
		return -1;
	if (info.image_id == NULL || *info.image_id == '\0') {
		zs_make_error(err, -EINVAL, "%s: the image has no image id (dumped by a stock CRIU?)", tmp);
		goto out;
	}
	if (zs_rem_list(r, id, &gens, &n, err) < 0)
		goto out;
	for (i = 0; i < n && merged_from == NULL; i++)
		if (strcmp(gens[i]->image_id, info.image_id) == 0) {
			zs_make_error(err, -EEXIST, "%s: image id %s is already stored as generation %s", tmp,
				      info.image_id, gens[i]->name);
			goto out;
		}
	g = xzalloc(sizeof(*g));
	g->container = xstrdup(id);
	g->image_id = xstrdup(info.image_id);
	g->chain_len = 1;
	if (set_parent(tmp, &info, gens, n, g, err) < 0)
		goto out;
	g->name = gen_name(next_seq(gens, n), info.image_id);
	g->path = xasprintf("%s/%s", dir, g->name);
	g->created = zs_rem_now();
	g->node = hostname();
	g->pages = info.pages;
	g->bytes = info.bytes;
	if (publish(tmp, g, merged_from, err) < 0)
		goto out;
	*out = steal_pointer(&g);
	ret = 0;
out:
	zs_remnant_gen_free(g);
	zs_rem_gens_free(gens, n);
	zs_image_info_free(&info);
	return ret;
}

/* A pre-dump (a pre-copy round) is not merged: a full image of it could
 * not be restored; the checkpoint made on top of it is. */
static bool is_pre_dump(const char *dir)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_image_info info = {0};
	bool pre = zs_image_info(dir, &info, &e) == 0 && info.img_version == 0;

	zs_image_info_free(&info);
	return pre;
}

int zs_remnant_gen_commit(struct zs_remnant *r, const char *id, const char *tmp_dir, struct zs_remnant_gen **gen,
			  zs_error_t *err)
{
	cleanup_close int lock = -1;
	struct zs_remnant_gen *g = NULL, *m = NULL;
	cleanup_error zs_error_t merr = NULL;

	if (zs_rem_lock(r, id, &lock, err) < 0)
		return -1;
	if (zs_rem_commit_locked(r, id, tmp_dir, NULL, &g, err) < 0)
		return -1;
	if (g->chain_len > r->settings.remnant.max_chain && !is_pre_dump(g->path)) {
		if (zs_rem_merge_locked(r, id, g, &m, &merr) < 0) {
			/* the generation is stored; the chain stays as it is */
			zs_warn("%s: automatic merge (chain %u > max_chain %u) failed: %s", g->path, g->chain_len,
				r->settings.remnant.max_chain, zs_error_msg(merr));
		} else {
			zs_remnant_gen_free(g);
			g = m;
		}
	}
	if (gen)
		*gen = g;
	else
		zs_remnant_gen_free(g);
	return 0;
}

int zs_rem_retire(struct zs_remnant *r, const char *id, const char *name, zs_error_t *err)
{
	cleanup_free char *dir = zs_rem_gens_dir(r, id);
	cleanup_free char *from = xasprintf("%s/%s", dir, name);
	cleanup_free char *to = xasprintf("%s/" ZS_TMP_PREFIX "retired-%s", dir, name);

	if (rename(from, to) < 0)
		return zs_make_error(err, errno, "rename `%s` to `%s`", from, to);
	if (zs_rem_fsync_path(dir, err) < 0)
		return -1;
	if (rm_rf(to) < 0)
		return zs_make_error(err, errno, "remove `%s`", to);
	return 0;
}

static bool defer_all(const char *name)
{
	return true;
}

static int verify_chain(struct zs_remnant *r, const struct zs_remnant_gen *g, bool hash, zs_error_t *err)
{
	struct zs_remnant_gen **gens = NULL, *cur;
	size_t n;
	unsigned depth = 0;
	int ret = 0;

	if (zs_rem_list(r, g->container, &gens, &n, err) < 0)
		return -1;
	cur = zs_rem_by_name(gens, n, g->name);
	if (cur == NULL)
		ret = zs_make_error(err, -ENOENT, "generation `%s` of `%s` is not in the store", g->name, g->container);
	while (ret == 0 && cur) {
		ret = hash ? zs_rem_verify_dir(cur->path, err) : zs_rem_verify_dir_defer(cur->path, defer_all, err);
		if (ret == 0 && hash)
			ret = zs_image_check_stored(cur->path, err);
		if (ret == 0 && cur->parent && zs_rem_by_name(gens, n, cur->parent) == NULL)
			ret = zs_make_error(err, -ENOENT, "%s: parent generation `%s` is missing", cur->path,
					    cur->parent);
		if (ret == 0 && ++depth > ZS_IMAGE_CHAIN_LIMIT)
			ret = zs_make_error(err, -ELOOP, "%s: chain longer than %d", g->path, ZS_IMAGE_CHAIN_LIMIT);
		cur = cur->parent ? zs_rem_by_name(gens, n, cur->parent) : NULL;
	}
	zs_rem_gens_free(gens, n);
	return ret;
}

int zs_remnant_verify(struct zs_remnant *r, const struct zs_remnant_gen *g, zs_error_t *err)
{
	return verify_chain(r, g, true, err);
}

int zs_remnant_check(struct zs_remnant *r, const struct zs_remnant_gen *g, zs_error_t *err)
{
	return verify_chain(r, g, false, err);
}

int zs_remnant_export(struct zs_remnant *r, const struct zs_remnant_gen *g, const char *out_dir, zs_error_t *err)
{
	struct zs_flatten_stats st;

	if (zs_remnant_verify(r, g, err) < 0)
		return -1;
	return zs_image_flatten(g->path, out_dir, &st, err);
}

/* ---- background keeping (lib/cr_store.c) ---------------------------------
 * Work a checkpoint/restore leaves to a detached process holds ROOT/.keeping
 * with a shared flock until done; zs_remnant_settle() takes it exclusively,
 * i.e. waits until every such process has finished. */
int zs_remnant_keeping_fd(struct zs_remnant *r, bool exclusive, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/.keeping", r->root);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return zs_make_error(err, e, "lock `%s`", path);
		}
	return fd;
}

void zs_remnant_settle(struct zs_remnant *r)
{
	cleanup_error zs_error_t e = NULL;
	int fd = r ? zs_remnant_keeping_fd(r, true, &e) : -1;

	if (fd >= 0)
		close(fd);
}
