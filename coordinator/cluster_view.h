/* zanshin-api — the cluster as the scheduler and the policies see it,
 * loaded from the database (nodes, moves in flight, timetable, remnants),
 * and the settings of both (weights, lead time, policies, limits). */
#ifndef ZANSHIN_COORD_CLUSTER_VIEW_H
#define ZANSHIN_COORD_CLUSTER_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "coord.h"
#include "policy.h"
#include "sched.h"

#ifndef ZS_WEB_ROOT
#define ZS_WEB_ROOT "/usr/local/share/zanshin-api/web"
#endif

struct coord_policy {
	struct zs_sched_weights w;
	struct zs_pol_settings pol;
	int interval; /* seconds between policy rounds; 0: policies off */
	double last_round;
	char *web_root;		/* static files of the page at / */
	struct cv_cache *cache; /* the view GET /v1/place reads (cv_cached_get) */
};

struct cv_node {
	char *name, *room;
	bool up, draining, stopping;
	double cpu;
	uint64_t mem_used, mem_total;
	int64_t class_start, class_end; /* in progress or next within 24 h; ZS_POL_NONE: none */
	char *class_summary;
	unsigned moving;
};

struct cv_container {
	char *id, *node, *home;
	uint64_t memory;
	bool moving;
	unsigned failures;
	int64_t last_failure;
};

struct cluster_view {
	int64_t now;
	struct cv_node *n;
	size_t nn;
	struct cv_container *c;
	size_t nc;
};

/* The defaults (policy.h, sched.h), set before options are read. */
struct coord_policy *coord_policy_new(void);
/* `--weights K,L,M`, `--lead S`, `--policies LIST`, `--max-moves-per-node N`,
 * `--max-moves N`, `--policy-interval S`, `--web-root DIR` */
int coord_policy_opt(struct coord_policy *p, const char *name, const char *value, zs_error_t *err);

/* ALL: containers, failures and homes too (the policies); without, what
 * placing one container needs (nodes, classes, moves in flight). */
int cv_load(struct coord *co, int64_t now, bool all, struct cluster_view *v, zs_error_t *err);
void cv_free(struct cluster_view *v);
struct cv_node *cv_find(const struct cluster_view *v, const char *name);

/* The placement view (nodes, classes, moves in flight) at most
 * CV_CACHE_AGE seconds old, and never older than the last write of this
 * replica (cv_cache_invalidate), held until cv_cached_put(): GET
 * /v1/place answers from it instead of reading every node for every
 * request; readers share it and do not wait for each other or for a
 * reload.  Orders (moves_choose_target, the policy loop) read the
 * database. */
#define CV_CACHE_AGE 1.0
const struct cluster_view *cv_cached_get(struct coord *co, zs_error_t *err);
void cv_cached_put(struct coord *co, const struct cluster_view *v);
/* after a write other than a heartbeat (drain, timetable, moves) */
void cv_cache_invalidate(struct coord *co);

/* The scheduler's input for one container: nodes (parallel to v->n) and
 * what each holds of CONTAINER; *GENS_TOTAL its generations in all. */
int cv_sched_input(struct coord *co, const struct cluster_view *v, const char *container, struct zs_sched_node *nodes,
		   struct zs_sched_hold *holds, unsigned *gens_total, zs_error_t *err);

/* Choose a target for CONTAINER now leaving SOURCE (NULL: where it runs);
 * EX (optional) receives the explanation, NODES the node array it points
 * into (free both).  Returns the index in v->n or < 0. */
int cv_place(struct coord *co, const struct cluster_view *v, const char *container, const char *source,
	     struct zs_sched_node **nodes, struct zs_sched_explain *ex, zs_error_t *err);
/* the same; *WHERE (free it) receives the node CONTAINER runs on as the
 * database says (NULL: none, or an unknown container) */
int cv_place_where(struct coord *co, const struct cluster_view *v, const char *container, const char *source,
		   char **where, struct zs_sched_node **nodes, struct zs_sched_explain *ex, zs_error_t *err);

/* ---- policy_loop.c ---- */
void policy_round(struct coord *co);

/* ---- api_place.c, api_timetable.c, web.c ---- */
int api_place(struct req *r, struct reply *rep);
int api_timetable_get(struct req *r, struct reply *rep);
int api_timetable_put(struct req *r, struct reply *rep);
int api_timetable_delete(struct req *r, struct reply *rep);
/* GET of a path outside /v1/: the page's static files (1 if answered) */
int web_serve(struct coord *co, void *conn, const char *url, int *ret);

#endif
