/* zanshin-api — the policy loop: every --policy-interval seconds, read the
 * cluster, ask the policies (policy.c) which containers must move, choose
 * targets with the scheduler (sched.c) where the policy left it open, and
 * record each move as `pending` with its reason, requested by "policy";
 * the source agent takes it with its next heartbeat (api_moves.c).  Only
 * the leading replica runs it (leader.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_view.h"
#include "move_mode.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

static const struct who policy_who = {.role = WHO_ADMIN, .name = "policy"};

static int still_free(struct coord *co, const char *container, const char *node, zs_error_t *err)
{
	cleanup_dbres struct db_result *r = NULL;
	const char *p[] = {container, node};

	if (db_exec(co->db,
		    "SELECT (SELECT COUNT(*) FROM moves WHERE container = $1 AND state IN ('pending', 'ordered', "
		    "'running')) AS busy, (SELECT COUNT(*) FROM containers WHERE id = $1 AND node = $2) AS here",
		    p, 2, &r, err) < 0)
		return -1;
	return atoi(db_cell(r, 0, "busy")) == 0 && atoi(db_cell(r, 0, "here")) == 1;
}

static int insert_move(struct coord *co, const struct zs_pol_order *o, const char *to, zs_error_t *err)
{
	cleanup_free char *id = random_id("m"), *now = fmt_double(coord_now()),
			  *detail = xasprintf("%s %s -> %s: %s", o->container, o->from, to, o->why);
	const char *p[] = {id,	   o->container,    o->from, to,
			   o->why, policy_who.name, now,     move_mode_for(co, zs_pol_reason_name(o->reason))};
	int ok;

	if (db_tx_begin(co->db, err) < 0)
		return -1;
	ok = still_free(co, o->container, o->from, err);
	if (ok == 1)
		ok = db_exec(co->db,
			     "INSERT INTO moves(id, container, source, target, state, reason, requested_by, created, "
			     "updated, mode) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $7, $8)",
			     p, 8, NULL, err) == 0 &&
		     audit(co, &policy_who, "move.create", id, detail, err) == 0;
	if (db_tx_end(co->db, ok >= 0, err) < 0 || ok < 0)
		return -1;
	if (ok == 1)
		zs_log("info", "policy: move %s: %s", id, detail);
	return 0;
}

/* The target of one order: given (return home) or the scheduler's. */
static const char *order_target(struct coord *co, struct cluster_view *v, const struct zs_pol_order *o)
{
	cleanup_free struct zs_sched_node *nodes = NULL;
	cleanup_error zs_error_t err = NULL;
	int i;

	if (o->to)
		return o->to;
	i = cv_place(co, v, o->container, o->from, &nodes, NULL, &err);
	if (i < 0) {
		zs_log("info", "policy: %s must leave %s (%s) but: %s", o->container, o->from, o->why,
		       zs_error_msg(err));
		return NULL;
	}
	return v->n[i].name;
}

static void view_to_policy(const struct cluster_view *v, struct zs_pol_node *pn, struct zs_pol_container *pc)
{
	for (size_t i = 0; i < v->nn; i++)
		pn[i] = (struct zs_pol_node){.name = v->n[i].name,
					     .up = v->n[i].up,
					     .draining = v->n[i].draining,
					     .stopping = v->n[i].stopping,
					     .class_start = v->n[i].class_start,
					     .class_end = v->n[i].class_end,
					     .moving = v->n[i].moving};
	for (size_t i = 0; i < v->nc; i++)
		pc[i] = (struct zs_pol_container){.id = v->c[i].id,
						  .node = v->c[i].node,
						  .home = v->c[i].home,
						  .moving = v->c[i].moving,
						  .failures = v->c[i].failures,
						  .last_failure = v->c[i].last_failure};
}

static void run_orders(struct coord *co, struct cluster_view *v, const struct zs_pol_result *res)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct zs_pol_order *o = &res->o[i];
		const char *to = order_target(co, v, o);
		cleanup_error zs_error_t err = NULL;
		struct cv_node *t;

		if (to == NULL)
			continue;
		if (insert_move(co, o, to, &err) < 0) {
			zs_log("error", "policy: ordering %s -> %s: %s", o->container, to, zs_error_msg(err));
			continue;
		}
		cv_cache_invalidate(co);
		t = cv_find(v, to); /* this round's later choices see the move */
		if (t)
			t->moving++;
	}
}

void policy_round(struct coord *co)
{
	struct coord_policy *p = co->policy;
	cleanup_error zs_error_t err = NULL;
	cleanup_free struct zs_pol_node *pn = NULL;
	cleanup_free struct zs_pol_container *pc = NULL;
	struct zs_pol_result res = {0};
	struct cluster_view v;
	double now = coord_now();

	if (p == NULL || p->interval == 0 || now - p->last_round < p->interval)
		return;
	if (!coord_is_leader(co)) /* with PostgreSQL, one replica orders (leader.c) */
		return;
	p->last_round = now;
	if (cv_load(co, (int64_t) now, true, &v, &err) < 0) {
		zs_log("error", "policy: %s", zs_error_msg(err));
		return;
	}
	pn = xzalloc((v.nn ? v.nn : 1) * sizeof(*pn));
	pc = xzalloc((v.nc ? v.nc : 1) * sizeof(*pc));
	view_to_policy(&v, pn, pc);
	if (zs_policy_decide(pn, v.nn, pc, v.nc, (int64_t) now, &p->pol, &res, &err) < 0)
		zs_log("error", "policy: %s", zs_error_msg(err));
	else
		run_orders(co, &v, &res);
	zs_pol_result_free(&res);
	cv_free(&v);
}
