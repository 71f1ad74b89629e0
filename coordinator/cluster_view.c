/* zanshin-api — the cluster view for the scheduler and the policies (see
 * cluster_view.h): one consistent read of the database per decision. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_view.h"
#include "timetable.h"
#include "zanshin/utils.h"

static const char *cell(const struct db_result *r, size_t i, const char *col)
{
	const char *v = db_cell(r, i, col);

	return v ? v : "";
}

static char *cell_dup(const struct db_result *r, size_t i, const char *col)
{
	const char *v = db_cell(r, i, col);

	return v ? xstrdup(v) : NULL;
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cv_node *) a)->name, ((const struct cv_node *) b)->name);
}

struct cv_node *cv_find(const struct cluster_view *v, const char *name)
{
	struct cv_node key = {.name = (char *) name};

	if (name == NULL || v->nn == 0)
		return NULL;
	return bsearch(&key, v->n, v->nn, sizeof(*v->n), node_cmp);
}

static int container_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cv_container *) a)->id, ((const struct cv_container *) b)->id);
}

static struct cv_container *find_container(const struct cluster_view *v, const char *id)
{
	struct cv_container key = {.id = (char *) id};

	if (v->nc == 0)
		return NULL;
	return bsearch(&key, v->c, v->nc, sizeof(*v->c), container_cmp);
}

static int load_nodes(struct coord *co, struct cluster_view *v, zs_error_t *err)
{
	cleanup_dbres struct db_result *r = NULL;

	if (db_exec(co->db,
		    "SELECT name, room, state, draining, stopping, cpu, mem_used, mem_total FROM nodes ORDER BY name",
		    NULL, 0, &r, err) < 0)
		return -1;
	v->n = xzalloc((r->rows ? r->rows : 1) * sizeof(*v->n));
	for (size_t i = 0; i < r->rows; i++) {
		struct cv_node *n = &v->n[v->nn++];

		n->name = xstrdup(cell(r, i, "name"));
		n->room = cell_dup(r, i, "room");
		n->up = strcmp(cell(r, i, "state"), "up") == 0;
		n->draining = atoi(cell(r, i, "draining")) != 0;
		n->stopping = atoi(cell(r, i, "stopping")) != 0;
		n->cpu = atof(cell(r, i, "cpu"));
		n->mem_used = strtoull(cell(r, i, "mem_used"), NULL, 10);
		n->mem_total = strtoull(cell(r, i, "mem_total"), NULL, 10);
		n->class_start = n->class_end = ZS_POL_NONE;
	}
	qsort(v->n, v->nn, sizeof(*v->n), node_cmp); /* SQL collations may differ */
	return 0;
}

/* The class in progress or next (within max(24 h, lead)) of each node's
 * room; a node without a room is its own label. */
static int load_classes(struct coord *co, struct cluster_view *v, int64_t horizon, zs_error_t *err)
{
	cleanup_dbres struct db_result *r = NULL;
	cleanup_free char *from = xasprintf("%lld", (long long) v->now),
			  *to = xasprintf("%lld", (long long) (v->now + horizon));
	const char *p[] = {from, to};

	if (db_exec(co->db,
		    "SELECT room, summary, starts, ends FROM timetable_events WHERE ends > $1 AND starts < $2 "
		    "ORDER BY room, starts, ends",
		    p, 2, &r, err) < 0)
		return -1;
	for (size_t k = 0; k < v->nn; k++) {
		struct cv_node *n = &v->n[k];
		const char *label = n->room ? n->room : n->name;

		for (size_t i = 0; i < r->rows; i++) {
			if (strcmp(cell(r, i, "room"), label) != 0)
				continue;
			n->class_start = (int64_t) floor(atof(cell(r, i, "starts")));
			n->class_end = (int64_t) ceil(atof(cell(r, i, "ends")));
			n->class_summary = cell_dup(r, i, "summary");
			break;
		}
	}
	return 0;
}

static int load_containers(struct coord *co, struct cluster_view *v, zs_error_t *err)
{
	cleanup_dbres struct db_result *r = NULL;

	if (db_exec(co->db, "SELECT id, node, memory FROM containers WHERE node IS NOT NULL ORDER BY id", NULL, 0, &r,
		    err) < 0)
		return -1;
	v->c = xzalloc((r->rows ? r->rows : 1) * sizeof(*v->c));
	for (size_t i = 0; i < r->rows; i++) {
		struct cv_container *c = &v->c[v->nc++];

		c->id = xstrdup(cell(r, i, "id"));
		c->node = xstrdup(cell(r, i, "node"));
		c->memory = strtoull(cell(r, i, "memory"), NULL, 10);
	}
	qsort(v->c, v->nc, sizeof(*v->c), container_cmp);
	return 0;
}

/* Moves in flight: per node (source and target) and per container. */
static int load_active(struct coord *co, struct cluster_view *v, zs_error_t *err)
{
	cleanup_dbres struct db_result *r = NULL;

	if (db_exec(co->db,
		    "SELECT container, source, target FROM moves WHERE state IN ('pending', 'ordered', 'running')",
		    NULL, 0, &r, err) < 0)
		return -1;
	for (size_t i = 0; i < r->rows; i++) {
		struct cv_node *s = cv_find(v, cell(r, i, "source")), *t = cv_find(v, cell(r, i, "target"));
		struct cv_container *c = find_container(v, cell(r, i, "container"));

		if (s)
			s->moving++;
		if (t)
			t->moving++;
		if (c)
			c->moving = true;
	}
	return 0;
}

/* Failed moves in a row (newest first, until one that did not fail). */
static int load_failures(struct coord *co, struct cluster_view *v, zs_error_t *err)
{
	cleanup_dbres struct db_result *r = NULL;
	const char *last = "";
	bool streak = false;

	if (db_exec(co->db,
		    "SELECT container, state, updated FROM moves WHERE state NOT IN ('pending', 'ordered', 'running') "
		    "ORDER BY container, created DESC, id DESC",
		    NULL, 0, &r, err) < 0)
		return -1;
	for (size_t i = 0; i < r->rows; i++) {
		const char *st = cell(r, i, "state");
		struct cv_container *c;

		if (strcmp(last, cell(r, i, "container")) != 0) {
			last = cell(r, i, "container");
			streak = true;
		}
		if (strcmp(st, "failed") != 0 && strcmp(st, "rolled-back") != 0)
			streak = false;
		if (!streak || (c = find_container(v, last)) == NULL)
			continue;
		if (c->failures++ == 0)
			c->last_failure = (int64_t) atof(cell(r, i, "updated"));
	}
	return 0;
}

/* A container's home: the node other than its own holding most of its
 * generations (ties by name). */
static int load_homes(struct coord *co, struct cluster_view *v, zs_error_t *err)
{
	cleanup_dbres struct db_result *r = NULL;

	if (db_exec(co->db,
		    "SELECT container, node, COUNT(*) AS n FROM remnants GROUP BY container, node ORDER BY container, "
		    "n DESC, node",
		    NULL, 0, &r, err) < 0)
		return -1;
	for (size_t i = 0; i < r->rows; i++) {
		struct cv_container *c = find_container(v, cell(r, i, "container"));

		if (c && c->home == NULL && strcmp(c->node, cell(r, i, "node")) != 0)
			c->home = xstrdup(cell(r, i, "node"));
	}
	return 0;
}

int cv_load(struct coord *co, int64_t now, bool all, struct cluster_view *v, zs_error_t *err)
{
	int64_t lead = co->policy ? co->policy->pol.lead : 0, horizon = ZS_TT_DAY;

	memset(v, 0, sizeof(*v));
	v->now = now;
	if (lead + 60 > horizon)
		horizon = lead + 60;
	if (load_nodes(co, v, err) < 0 || load_classes(co, v, horizon, err) < 0 ||
	    (all && load_containers(co, v, err) < 0) || load_active(co, v, err) < 0 ||
	    (all && (load_failures(co, v, err) < 0 || load_homes(co, v, err) < 0))) {
		cv_free(v);
		return zs_error_wrap(err, "reading the cluster");
	}
	return 0;
}

void cv_free(struct cluster_view *v)
{
	for (size_t i = 0; i < v->nn; i++)
		free(v->n[i].name), free(v->n[i].room), free(v->n[i].class_summary);
	for (size_t i = 0; i < v->nc; i++)
		free(v->c[i].id), free(v->c[i].node), free(v->c[i].home);
	free(v->n);
	free(v->c);
	memset(v, 0, sizeof(*v));
}

static void sched_node(const struct coord *co, const struct cluster_view *v, const struct cv_node *n,
		       struct zs_sched_node *s)
{
	*s = (struct zs_sched_node){.name = n->name,
				    .up = n->up,
				    .draining = n->draining || n->stopping,
				    .busy = co->policy && n->moving >= co->policy->pol.per_node,
				    .cpu = n->cpu,
				    .mem_used = n->mem_used,
				    .mem_total = n->mem_total,
				    .class_in = INT64_MAX,
				    .avail = zs_tt_availability_at(v->now, n->class_start, n->class_end)};
	if (n->class_start != ZS_POL_NONE)
		s->class_in = n->class_start <= v->now ? 0 : n->class_start - v->now;
}

/* Everything placing CONTAINER needs from the database, in one statement
 * (one round trip on PostgreSQL): kind 'g' = generations held per node,
 * 't' = its generations in all, 'b' = nodes holding its Bundle (by
 * container or by digest), 'c' = where it runs and its memory. */
#define SCHED_INPUT_SQL                                                                                                \
	"SELECT 'g' AS k, node, COUNT(*) AS n FROM remnants WHERE container = $1 GROUP BY node "                       \
	"UNION ALL SELECT 't', NULL, COUNT(DISTINCT image_id) FROM remnants WHERE container = $1 "                     \
	"UNION ALL SELECT 'b', node, 1 FROM (SELECT node FROM bundles WHERE container = $1 UNION SELECT node FROM "    \
	"bundles WHERE digest = (SELECT bundle_digest FROM containers WHERE id = $1)) AS b "                           \
	"UNION ALL SELECT 'c', node, memory FROM containers WHERE id = $1"

struct sched_input {
	unsigned gens_total;
	bool found; /* the container is known */
	uint64_t memory;
	char *node; /* where it runs (NULL: nowhere) */
};

static void sched_input_row(const struct cluster_view *v, const struct db_result *r, size_t i,
			    struct zs_sched_hold *holds, struct sched_input *in)
{
	const char *k = cell(r, i, "k");
	struct cv_node *n = k[0] == 'g' || k[0] == 'b' ? cv_find(v, db_cell(r, i, "node")) : NULL;

	if (k[0] == 'g' && n)
		holds[n - v->n].gens = (unsigned) atoi(cell(r, i, "n"));
	else if (k[0] == 'b' && n)
		holds[n - v->n].bundle = true;
	else if (k[0] == 't')
		in->gens_total = (unsigned) atoi(cell(r, i, "n"));
	else if (k[0] == 'c') {
		in->found = true;
		in->memory = strtoull(cell(r, i, "n"), NULL, 10);
		free(in->node);
		in->node = cell_dup(r, i, "node");
	}
}

static int sched_input(struct coord *co, const struct cluster_view *v, const char *container,
		       struct zs_sched_node *nodes, struct zs_sched_hold *holds, struct sched_input *in,
		       zs_error_t *err)
{
	cleanup_dbres struct db_result *r = NULL;
	const char *p[] = {container};

	for (size_t i = 0; i < v->nn; i++) {
		sched_node(co, v, &v->n[i], &nodes[i]);
		holds[i] = (struct zs_sched_hold){0};
	}
	if (db_exec(co->db, SCHED_INPUT_SQL, p, 1, &r, err) < 0)
		return -1;
	for (size_t i = 0; i < r->rows; i++)
		sched_input_row(v, r, i, holds, in);
	return 0;
}

int cv_sched_input(struct coord *co, const struct cluster_view *v, const char *container, struct zs_sched_node *nodes,
		   struct zs_sched_hold *holds, unsigned *gens_total, zs_error_t *err)
{
	struct sched_input in = {0};
	int r = sched_input(co, v, container, nodes, holds, &in, err);

	free(in.node);
	*gens_total = in.gens_total;
	return r;
}

int cv_place_where(struct coord *co, const struct cluster_view *v, const char *container, const char *source,
		   char **where, struct zs_sched_node **nodes, struct zs_sched_explain *ex, zs_error_t *err)
{
	struct cv_container *c = find_container(v, container);
	cleanup_free struct zs_sched_hold *holds = xzalloc((v->nn ? v->nn : 1) * sizeof(*holds));
	struct zs_sched_request req = {.container = container, .source = source};
	struct zs_sched_weights w = ZS_SCHED_WEIGHTS_DEFAULT;
	struct sched_input in = {0};
	int i;

	if (co->policy)
		w = co->policy->w;
	*nodes = xzalloc((v->nn ? v->nn : 1) * sizeof(**nodes));
	if (sched_input(co, v, container, *nodes, holds, &in, err) < 0) {
		free(in.node);
		return -EIO;
	}
	req.gens_total = in.gens_total;
	if (c) { /* the policies' view: as it was read with the rest */
		req.mem_need = c->memory;
		if (req.source == NULL)
			req.source = c->node;
	} else if (in.found) {
		req.mem_need = in.memory;
		if (req.source == NULL)
			req.source = in.node;
	}
	i = zs_sched_place(*nodes, holds, v->nn, &req, &w, ex, err);
	if (where)
		*where = in.found ? steal_pointer(&in.node) : NULL;
	free(in.node);
	return i;
}

int cv_place(struct coord *co, const struct cluster_view *v, const char *container, const char *source,
	     struct zs_sched_node **nodes, struct zs_sched_explain *ex, zs_error_t *err)
{
	return cv_place_where(co, v, container, source, NULL, nodes, ex, err);
}

/* ---- the cached placement view ---- */

/* One view, shared by the requests that read it (REFS: the cache's own
 * reference while it is current, and one per reader); a reload does not
 * block readers of the previous view, and readers do not block each
 * other. */
struct cv_snap {
	struct cluster_view v; /* first: a reader's pointer is the snap's */
	double at;
	unsigned refs;
};

struct cv_cache {
	pthread_mutex_t lock;
	struct cv_snap *cur;
	unsigned long gen; /* +1 at every invalidation */
};

static void snap_put_locked(struct cv_snap *s)
{
	if (s && --s->refs == 0) {
		cv_free(&s->v);
		free(s);
	}
}

static struct cv_snap *snap_current(struct cv_cache *c, double now, unsigned long *gen)
{
	struct cv_snap *s = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->cur && now - c->cur->at < CV_CACHE_AGE && now >= c->cur->at) {
		s = c->cur;
		s->refs++;
	}
	*gen = c->gen;
	pthread_mutex_unlock(&c->lock);
	return s;
}

const struct cluster_view *cv_cached_get(struct coord *co, zs_error_t *err)
{
	struct cv_cache *c = co->policy->cache;
	double now = coord_now();
	unsigned long gen;
	struct cv_snap *s = snap_current(c, now, &gen);

	if (s)
		return &s->v;
	s = xzalloc(sizeof(*s));
	if (cv_load(co, (int64_t) now, false, &s->v, err) < 0) {
		free(s);
		return NULL;
	}
	s->at = now;
	s->refs = 1;
	pthread_mutex_lock(&c->lock);
	if (c->gen == gen) { /* no write since the read began: the view is current */
		snap_put_locked(c->cur);
		c->cur = s;
		s->refs++;
	}
	pthread_mutex_unlock(&c->lock);
	return &s->v;
}

void cv_cached_put(struct coord *co, const struct cluster_view *v)
{
	struct cv_cache *c = co->policy->cache;

	pthread_mutex_lock(&c->lock);
	snap_put_locked((struct cv_snap *) v);
	pthread_mutex_unlock(&c->lock);
}

void cv_cache_invalidate(struct coord *co)
{
	struct cv_cache *c = co->policy ? co->policy->cache : NULL;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	snap_put_locked(c->cur);
	c->cur = NULL;
	c->gen++;
	pthread_mutex_unlock(&c->lock);
}

/* ---- settings ---- */

struct coord_policy *coord_policy_new(void)
{
	struct coord_policy *p = xzalloc(sizeof(*p));

	p->w = (struct zs_sched_weights) ZS_SCHED_WEIGHTS_DEFAULT;
	p->pol = (struct zs_pol_settings) ZS_POL_SETTINGS_DEFAULT;
	p->interval = 5;
	p->cache = xzalloc(sizeof(*p->cache));
	pthread_mutex_init(&p->cache->lock, NULL);
	return p;
}

static int num(const char *opt, const char *v, long lo, long hi, long *out, zs_error_t *err)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*v == '\0' || *end || n < lo || n > hi)
		return zs_make_error(err, -EINVAL, "--%s `%s`: a whole number from %ld to %ld", opt, v, lo, hi);
	*out = n;
	return 0;
}

static int weights(struct coord_policy *p, const char *v, zs_error_t *err)
{
	struct zs_sched_weights w = p->w;
	char *end;

	w.k = strtod(v, &end);
	if (*end == ',')
		w.l = strtod(end + 1, &end);
	if (*end == ',')
		w.m = strtod(end + 1, &end);
	if (*end)
		return zs_make_error(err, -EINVAL, "--weights `%s`: K,L,M: three numbers >= 0", v);
	if (zs_sched_weights_check(&w, err) < 0)
		return zs_error_wrap(err, "--weights `%s`", v);
	p->w = w;
	return 0;
}

static int policies(struct coord_policy *p, const char *v, zs_error_t *err)
{
	cleanup_free char *list = xstrdup(v);
	char *save = NULL, *w;

	p->pol.evacuate = p->pol.drain = p->pol.return_home = false;
	for (w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, "evacuate") == 0)
			p->pol.evacuate = true;
		else if (strcmp(w, "drain") == 0)
			p->pol.drain = true;
		else if (strcmp(w, "return-home") == 0)
			p->pol.return_home = true;
		else if (strcmp(w, "none") != 0)
			return zs_make_error(err, -EINVAL, "--policies: `%s`: not evacuate, drain, return-home or none",
					     w);
	}
	return 0;
}

int coord_policy_opt(struct coord_policy *p, const char *name, const char *value, zs_error_t *err)
{
	long n;

	if (strcmp(name, "weights") == 0)
		return weights(p, value, err);
	if (strcmp(name, "policies") == 0)
		return policies(p, value, err);
	if (strcmp(name, "web-root") == 0) {
		free(p->web_root);
		p->web_root = xstrdup(value);
		return 0;
	}
	if (strcmp(name, "lead") == 0 && num(name, value, 0, 7 * 86400, &n, err) == 0)
		p->w.lead = p->pol.lead = n;
	else if (strcmp(name, "max-moves-per-node") == 0 && num(name, value, 1, 1000, &n, err) == 0)
		p->pol.per_node = (unsigned) n;
	else if (strcmp(name, "max-moves") == 0 && num(name, value, 1, 100000, &n, err) == 0)
		p->pol.global = (unsigned) n;
	else if (strcmp(name, "policy-interval") == 0 && num(name, value, 0, 3600, &n, err) == 0)
		p->interval = (int) n;
	else if (*err == NULL)
		return zs_make_error(err, -EINVAL, "--%s: unknown setting", name);
	return *err ? -EINVAL : 0;
}
