/* zanshin-api — the destination scheduler (see sched.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "zanshin/utils.h"

#define COST_EPS 1e-9 /* costs this close are a tie, decided by name */

static double unit(double v)
{
	if (!(v > 0.0)) /* also NaN */
		return 0.0;
	return v > 1.0 ? 1.0 : v;
}

static double mem_use(const struct zs_sched_node *n)
{
	if (n->mem_total == 0)
		return 1.0; /* nothing known: as if full */
	return unit((double) n->mem_used / (double) n->mem_total);
}

double zs_sched_cost(const struct zs_sched_node *node, const struct zs_sched_hold *hold,
		     const struct zs_sched_request *req, const struct zs_sched_weights *w, struct zs_sched_entry *e)
{
	e->node = node;
	e->C = unit(node->cpu);
	e->M = mem_use(node);
	e->P = 0.0;
	e->B = 0.0;
	if (hold) {
		if (req->gens_total > 0)
			e->P = unit((double) hold->gens / (double) req->gens_total);
		e->B = hold->bundle ? 1.0 : 0.0;
	}
	e->L = unit(node->avail);
	e->cost = w->k * (e->C + e->M) - w->l * (e->P + e->B) - w->m * e->L;
	return e->cost;
}

enum zs_sched_why zs_sched_exclusion(const struct zs_sched_node *node, const struct zs_sched_request *req,
				     const struct zs_sched_weights *w)
{
	if (!node->up)
		return ZS_SCHED_DOWN;
	if (node->draining)
		return ZS_SCHED_DRAINING;
	if (req->source && strcmp(req->source, node->name) == 0)
		return ZS_SCHED_SOURCE;
	if (node->class_in <= 0)
		return ZS_SCHED_IN_CLASS;
	if (node->class_in <= w->lead)
		return ZS_SCHED_CLASS_SOON;
	if (node->busy)
		return ZS_SCHED_BUSY;
	if (node->mem_total < node->mem_used || node->mem_total - node->mem_used < req->mem_need)
		return ZS_SCHED_NO_MEMORY;
	return ZS_SCHED_CANDIDATE;
}

static const char *const why_names[] = {
    [ZS_SCHED_CANDIDATE] = "candidate", [ZS_SCHED_DOWN] = "down",	    [ZS_SCHED_DRAINING] = "draining",
    [ZS_SCHED_SOURCE] = "source",	[ZS_SCHED_IN_CLASS] = "in-class",   [ZS_SCHED_CLASS_SOON] = "class-soon",
    [ZS_SCHED_BUSY] = "busy",		[ZS_SCHED_NO_MEMORY] = "no-memory",
};

const char *zs_sched_why_name(enum zs_sched_why why)
{
	if ((size_t) why >= sizeof(why_names) / sizeof(why_names[0]))
		return "unknown";
	return why_names[why];
}

char *zs_sched_why_text(const struct zs_sched_entry *e, const struct zs_sched_request *req,
			const struct zs_sched_weights *w)
{
	const struct zs_sched_node *n = e->node;
	uint64_t mib = 1024 * 1024;

	switch (e->why) {
	case ZS_SCHED_CANDIDATE:
		return xasprintf("candidate: cost %.4f", e->cost);
	case ZS_SCHED_DOWN:
		return xstrdup("node is down (missed heartbeats)");
	case ZS_SCHED_DRAINING:
		return xstrdup("node is draining");
	case ZS_SCHED_SOURCE:
		return xstrdup("node is the source of the move");
	case ZS_SCHED_IN_CLASS:
		return xstrdup("a class is in progress");
	case ZS_SCHED_CLASS_SOON:
		return xasprintf("class starts in %lld min (lead time %lld min)", (long long) (n->class_in + 59) / 60,
				 (long long) w->lead / 60);
	case ZS_SCHED_BUSY:
		return xstrdup("node is at its limit of concurrent moves");
	case ZS_SCHED_NO_MEMORY:
		return xasprintf(
		    "needs %llu MiB, %llu MiB free", (unsigned long long) (req->mem_need / mib),
		    (unsigned long long) (n->mem_total > n->mem_used ? (n->mem_total - n->mem_used) / mib : 0));
	}
	return xstrdup("unknown");
}

static int entry_cmp(const void *a, const void *b)
{
	const struct zs_sched_entry *x = a, *y = b;

	if ((x->why == ZS_SCHED_CANDIDATE) != (y->why == ZS_SCHED_CANDIDATE))
		return x->why == ZS_SCHED_CANDIDATE ? -1 : 1;
	if (x->why == ZS_SCHED_CANDIDATE && fabs(x->cost - y->cost) > COST_EPS)
		return x->cost < y->cost ? -1 : 1;
	return strcmp(x->node->name, y->node->name);
}

/* Better of two candidates: lower cost, then smaller name. */
static bool better(const struct zs_sched_entry *x, const struct zs_sched_entry *y)
{
	if (fabs(x->cost - y->cost) > COST_EPS)
		return x->cost < y->cost;
	return strcmp(x->node->name, y->node->name) < 0;
}

static int no_candidate(const struct zs_sched_node *nodes, size_t n, const struct zs_sched_request *req,
			const struct zs_sched_weights *w, zs_error_t *err)
{
	size_t count[ZS_SCHED_NO_MEMORY + 1] = {0}, i;
	char buf[512];
	size_t off = 0;

	for (i = 0; i < n; i++)
		count[zs_sched_exclusion(&nodes[i], req, w)]++;
	buf[0] = '\0';
	for (i = 1; i <= ZS_SCHED_NO_MEMORY; i++)
		if (count[i] && off < sizeof(buf))
			off += snprintf(buf + off, sizeof(buf) - off, "%s%zu %s", off ? ", " : "", count[i],
					zs_sched_why_name(i));
	return zs_make_error(err, -ENOENT, "place %s: no candidate among %zu nodes%s%s%s", req->container, n,
			     off ? " (" : "", buf, off ? ")" : "");
}

int zs_sched_place(const struct zs_sched_node *nodes, const struct zs_sched_hold *holds, size_t n,
		   const struct zs_sched_request *req, const struct zs_sched_weights *w, struct zs_sched_explain *ex,
		   zs_error_t *err)
{
	struct zs_sched_entry best = {0}, cur;
	int chosen = -1;
	size_t i, cands = 0;

	if (ex) {
		ex->w = *w;
		ex->n = n;
		ex->e = xmalloc((n ? n : 1) * sizeof(*ex->e));
	}
	for (i = 0; i < n; i++) {
		cur.why = zs_sched_exclusion(&nodes[i], req, w);
		zs_sched_cost(&nodes[i], holds ? &holds[i] : NULL, req, w, &cur);
		if (ex)
			ex->e[i] = cur;
		if (cur.why != ZS_SCHED_CANDIDATE)
			continue;
		cands++;
		if (chosen < 0 || better(&cur, &best)) {
			best = cur;
			chosen = (int) i;
		}
	}
	if (ex) {
		ex->candidates = cands;
		qsort(ex->e, n, sizeof(*ex->e), entry_cmp);
	}
	if (chosen < 0)
		return no_candidate(nodes, n, req, w, err);
	return chosen;
}

void zs_sched_explain_free(struct zs_sched_explain *ex)
{
	free(ex->e);
	ex->e = NULL;
	ex->n = 0;
}

int zs_sched_weights_check(const struct zs_sched_weights *w, zs_error_t *err)
{
	if (!isfinite(w->k) || w->k < 0)
		return zs_make_error(err, -EINVAL, "scheduler weight k: must be a finite number >= 0");
	if (!isfinite(w->l) || w->l < 0)
		return zs_make_error(err, -EINVAL, "scheduler weight l: must be a finite number >= 0");
	if (!isfinite(w->m) || w->m < 0)
		return zs_make_error(err, -EINVAL, "scheduler weight m: must be a finite number >= 0");
	if (w->lead < 0)
		return zs_make_error(err, -EINVAL, "scheduler lead time: must be >= 0 seconds");
	return 0;
}
