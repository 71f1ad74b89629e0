/* zanshin-api — GET /v1/place/ID[?explain=1][&from=NODE]: where the
 * scheduler would put a container now, every node's terms of
 * cost = k(C+M) - l(P+B) - mL and why the others were left out; and the
 * target of a move ordered without one (moves_choose_target). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_view.h"
#include "zanshin/utils.h"

int moves_choose_target(struct coord *co, const char *container, const char *source, char **target, zs_error_t *err)
{
	cleanup_free struct zs_sched_node *nodes = NULL;
	struct cluster_view v;
	int i;

	if (cv_load(co, (int64_t) coord_now(), false, &v, err) < 0)
		return -EIO;
	i = cv_place(co, &v, container, source, &nodes, NULL, err);
	if (i >= 0)
		*target = xstrdup(v.n[i].name);
	cv_free(&v);
	if (i == -EIO)
		return -EIO;
	if (i < 0) { /* a conflict with the cluster's state (409), not a missing thing */
		cleanup_free char *m = xstrdup(zs_error_msg(*err));

		zs_error_release(err);
		return zs_make_error(err, -EBUSY, "%s", m);
	}
	return 0;
}

static void weights_json(zs_jgen *g, const struct zs_sched_weights *w)
{
	zs_jgen_key(g, "weights");
	zs_jgen_map_open(g);
	zs_jgen_key(g, "k");
	zs_jgen_double(g, w->k, 3);
	zs_jgen_key(g, "l");
	zs_jgen_double(g, w->l, 3);
	zs_jgen_key(g, "m");
	zs_jgen_double(g, w->m, 3);
	zs_jgen_kv_int(g, "lead_s", w->lead);
	zs_jgen_map_close(g);
}

static void entry_json(zs_jgen *g, const struct zs_sched_entry *e, const struct zs_sched_request *req,
		       const struct zs_sched_weights *w)
{
	static const char *const terms[] = {"C", "M", "P", "B", "L", "cost"};
	const double vals[] = {e->C, e->M, e->P, e->B, e->L, e->cost};
	cleanup_free char *why = zs_sched_why_text(e, req, w);

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "node", e->node->name);
	zs_jgen_key(g, "candidate");
	zs_jgen_bool(g, e->why == ZS_SCHED_CANDIDATE);
	zs_jgen_kv_string(g, "reason", zs_sched_why_name(e->why));
	zs_jgen_kv_string(g, "why", why);
	for (size_t k = 0; k < sizeof(terms) / sizeof(terms[0]); k++) {
		zs_jgen_key(g, terms[k]);
		zs_jgen_double(g, vals[k], 4);
	}
	zs_jgen_map_close(g);
}

static int place_reply(struct reply *rep, const char *id, const char *source, const struct cluster_view *v, int i,
		       const struct zs_sched_explain *ex, bool explain, zs_error_t err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	struct zs_sched_request req = {.container = id, .source = source};

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "container", id);
	zs_jgen_key(g, "source");
	if (source)
		zs_jgen_string(g, source);
	else
		zs_jgen_null(g);
	zs_jgen_key(g, "target");
	if (i >= 0)
		zs_jgen_string(g, v->n[i].name);
	else
		zs_jgen_null(g);
	if (i < 0)
		zs_jgen_kv_string(g, "error", zs_error_msg(err));
	weights_json(g, &ex->w);
	zs_jgen_kv_int(g, "candidates", (long long) ex->candidates);
	if (explain) {
		zs_jgen_key(g, "nodes");
		zs_jgen_array_open(g);
		for (size_t k = 0; k < ex->n; k++)
			entry_json(g, &ex->e[k], &req, &ex->w);
		zs_jgen_array_close(g);
	}
	zs_jgen_map_close(g);
	return reply_gen(rep, 200, g);
}

int api_place(struct req *r, struct reply *rep)
{
	const char *id = r->parts[1], *from = req_query(r, "from"), *ex_q = req_query(r, "explain");
	cleanup_free struct zs_sched_node *nodes = NULL;
	cleanup_free char *where = NULL;
	cleanup_error zs_error_t err = NULL;
	struct zs_sched_explain ex = {0};
	const struct cluster_view *v;
	int i, ret;

	if (!valid_container_id(id))
		return reply_error(rep, 400, "container `%s`: not a valid container id", id);
	if (from && !valid_node_name(from))
		return reply_error(rep, 400, "from `%s`: not a valid node name", from);
	v = cv_cached_get(r->co, &err);
	if (v == NULL)
		return reply_internal(rep, err);
	i = cv_place_where(r->co, v, id, from, &where, &nodes, &ex, &err);
	if (i == -EIO) {
		cv_cached_put(r->co, v);
		zs_sched_explain_free(&ex);
		return reply_internal(rep, err);
	}
	ret = place_reply(rep, id, from ? from : where, v, i, &ex, ex_q && strcmp(ex_q, "0") != 0, err);
	cv_cached_put(r->co, v);
	zs_sched_explain_free(&ex);
	return ret;
}
