/* zanshin-api — move policies (see policy.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "zanshin/utils.h"

static const char *const reason_names[] = {
    [ZS_POL_AGENT_STOP] = "agent-stop",
    [ZS_POL_EVACUATE] = "evacuate",
    [ZS_POL_DRAIN] = "drain",
    [ZS_POL_RETURN_HOME] = "return-home",
};

const char *zs_pol_reason_name(enum zs_pol_reason r)
{
	if ((size_t) r >= sizeof(reason_names) / sizeof(reason_names[0]))
		return "unknown";
	return reason_names[r];
}

int64_t zs_pol_backoff(const struct zs_pol_settings *s, unsigned failures)
{
	int64_t w = s->backoff;
	unsigned i;

	if (failures == 0)
		return 0;
	for (i = 1; i < failures && w < s->backoff_max; i++)
		w *= 2;
	return w < s->backoff_max ? w : s->backoff_max;
}

int zs_pol_settings_check(const struct zs_pol_settings *s, zs_error_t *err)
{
	if (s->lead < 0)
		return zs_make_error(err, -EINVAL, "policy lead time: must be >= 0 seconds");
	if (s->home_margin < 0)
		return zs_make_error(err, -EINVAL, "policy return-home margin: must be >= 0 seconds");
	if (s->per_node == 0 || s->global == 0)
		return zs_make_error(err, -EINVAL,
				     "policy limits: concurrent moves per node and in total must be >= 1");
	if (s->backoff <= 0 || s->backoff_max < s->backoff)
		return zs_make_error(err, -EINVAL, "policy backoff: must be > 0 and at most the maximum backoff");
	return 0;
}

/* Nodes sorted by name for lookups (1,000 nodes, 10,000 containers). */
static int node_ptr_cmp(const void *a, const void *b)
{
	const struct zs_pol_node *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int node_key_cmp(const void *key, const void *b)
{
	const struct zs_pol_node *const *y = b;

	return strcmp(key, (*y)->name);
}

struct view {
	const struct zs_pol_node **byname;
	size_t nn;
	unsigned *moving; /* per node, parallel to byname */
	unsigned global;
};

static ssize_t find(const struct view *v, const char *name)
{
	const struct zs_pol_node **p;

	if (name == NULL)
		return -1;
	p = bsearch(name, v->byname, v->nn, sizeof(*v->byname), node_key_cmp);
	return p ? p - v->byname : -1;
}

static bool class_near(const struct zs_pol_node *n, int64_t now, int64_t lead)
{
	return n->class_start != ZS_POL_NONE && now >= n->class_start - lead && now < n->class_end;
}

/* A node a container may go back to: up, not drained, no class for a while. */
static bool home_free(const struct zs_pol_node *h, int64_t now, const struct zs_pol_settings *s)
{
	if (!h->up || h->draining || h->stopping)
		return false;
	if (h->class_start == ZS_POL_NONE)
		return true;
	if (h->class_start <= now && now < h->class_end)
		return false;
	return h->class_start <= now || h->class_start - now > s->lead + s->home_margin;
}

struct want {
	const struct zs_pol_container *c;
	const struct zs_pol_node *from, *to;
	enum zs_pol_reason reason;
	int64_t urgency; /* smaller first, within a reason */
};

static bool need_move(const struct view *v, const struct zs_pol_container *c, int64_t now,
		      const struct zs_pol_settings *s, struct want *w)
{
	ssize_t i = find(v, c->node), h;
	const struct zs_pol_node *n;

	if (i < 0 || !v->byname[i]->up)
		return false; /* unknown or down: no agent to order */
	n = v->byname[i];
	*w = (struct want){.c = c, .from = n, .urgency = 0};
	if (s->drain && n->stopping)
		w->reason = ZS_POL_AGENT_STOP;
	else if (s->evacuate && class_near(n, now, s->lead)) {
		w->reason = ZS_POL_EVACUATE;
		w->urgency = n->class_start;
	} else if (s->drain && n->draining)
		w->reason = ZS_POL_DRAIN;
	else if (s->return_home && c->home && strcmp(c->home, c->node) != 0 && (h = find(v, c->home)) >= 0 &&
		 home_free(v->byname[h], now, s)) {
		w->reason = ZS_POL_RETURN_HOME;
		w->to = v->byname[h];
	} else
		return false;
	return true;
}

static int want_cmp(const void *a, const void *b)
{
	const struct want *x = a, *y = b;

	if (x->reason != y->reason)
		return x->reason < y->reason ? -1 : 1;
	if (x->urgency != y->urgency)
		return x->urgency < y->urgency ? -1 : 1;
	return strcmp(x->c->id, y->c->id);
}

static char *why_text(const struct want *w, int64_t now)
{
	const struct zs_pol_node *n = w->from;

	switch (w->reason) {
	case ZS_POL_AGENT_STOP:
		return xasprintf("agent-stop: the agent on %s is stopping", n->name);
	case ZS_POL_EVACUATE:
		if (n->class_start <= now)
			return xasprintf("evacuate: a class is in progress on %s", n->name);
		return xasprintf("evacuate: a class starts on %s in %lld s", n->name,
				 (long long) (n->class_start - now));
	case ZS_POL_DRAIN:
		return xasprintf("drain: %s is drained by an administrator", n->name);
	case ZS_POL_RETURN_HOME:
		return xasprintf("return-home: %s holds its remnants and is free", w->to->name);
	}
	return xstrdup("unknown");
}

static bool within_limits(struct view *v, const struct zs_pol_settings *s, const struct want *w)
{
	ssize_t f = find(v, w->from->name), t = w->to ? find(v, w->to->name) : -1;

	if (v->global >= s->global || v->moving[f] >= s->per_node)
		return false;
	if (t >= 0 && v->moving[t] >= s->per_node)
		return false;
	v->global++;
	v->moving[f]++;
	if (t >= 0)
		v->moving[t]++;
	return true;
}

static void emit(struct zs_pol_result *out, const struct want *w, int64_t now)
{
	struct zs_pol_order *o;

	out->o = xrealloc(out->o, (out->n + 1) * sizeof(*out->o));
	o = &out->o[out->n++];
	o->container = w->c->id;
	o->from = w->from->name;
	o->to = w->to ? w->to->name : NULL;
	o->reason = w->reason;
	o->why = why_text(w, now);
}

static void view_init(struct view *v, const struct zs_pol_node *nodes, size_t nn, const struct zs_pol_container *cs,
		      size_t nc)
{
	size_t i;

	v->nn = nn;
	v->byname = xmalloc((nn ? nn : 1) * sizeof(*v->byname));
	v->moving = xmalloc((nn ? nn : 1) * sizeof(*v->moving));
	for (i = 0; i < nn; i++)
		v->byname[i] = &nodes[i];
	qsort(v->byname, nn, sizeof(*v->byname), node_ptr_cmp);
	for (i = 0; i < nn; i++)
		v->moving[i] = v->byname[i]->moving;
	v->global = 0;
	for (i = 0; i < nc; i++)
		v->global += cs[i].moving;
}

static int check_view(const struct view *v, zs_error_t *err)
{
	size_t i;

	for (i = 0; i < v->nn; i++)
		if (v->byname[i]->name == NULL || (i > 0 && strcmp(v->byname[i - 1]->name, v->byname[i]->name) == 0))
			return zs_make_error(err, -EINVAL, "policy: node %s listed twice or without a name",
					     v->byname[i]->name ? v->byname[i]->name : "(null)");
	return 0;
}

int zs_policy_decide(const struct zs_pol_node *nodes, size_t nn, const struct zs_pol_container *cs, size_t nc,
		     int64_t now, const struct zs_pol_settings *s, struct zs_pol_result *out, zs_error_t *err)
{
	struct view v;
	cleanup_free struct want *ws = xmalloc((nc ? nc : 1) * sizeof(*ws));
	size_t i, k = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	view_init(&v, nodes, nn, cs, nc);
	ret = check_view(&v, err);
	for (i = 0; ret == 0 && i < nc; i++) {
		if (cs[i].moving || !need_move(&v, &cs[i], now, s, &ws[k]))
			continue;
		if (cs[i].failures > s->max_retries)
			out->given_up++;
		else if (cs[i].failures && now < cs[i].last_failure + zs_pol_backoff(s, cs[i].failures))
			out->in_backoff++;
		else
			k++;
	}
	if (ret == 0)
		qsort(ws, k, sizeof(*ws), want_cmp);
	for (i = 0; ret == 0 && i < k; i++) {
		if (within_limits(&v, s, &ws[i]))
			emit(out, &ws[i], now);
		else
			out->held_by_limits++;
	}
	free(v.byname);
	free(v.moving);
	return ret;
}

void zs_pol_result_free(struct zs_pol_result *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->o[i].why);
	free(r->o);
	memset(r, 0, sizeof(*r));
}
