/* zanshind — pre-copy moves (`zanshin migrate --mode pre-copy`).
 *
 * Source: while the container runs, `zanshin checkpoint --pre-dump` rounds
 * (CRIU tracks the pages written since the previous round; the first one
 * is a diff against the container's baseline when the target holds it),
 * each sent to the target as soon as it is written, until a round is small
 * (--precopy-goal: bytes, or a percent of the first round), stops shrinking,
 * or --precopy-rounds were made.  The frozen checkpoint that follows is a
 * diff against the last round: only what changed since.
 *
 * Target: each round arrives like an image (every file checked against its
 * manifest) and is committed at once as a generation of the store, so the
 * next round and the checkpoint link to it as their parent; a move that is
 * aborted before its checkpoint was committed removes them again.  A
 * chain this long is merged after the restore, not during the downtime. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "source.h"
#include "zanshin/log.h"
#include "zanshin/remnant.h"
#include "zanshin/settings.h"
#include "zanshin/utils.h"

void precopy_rounds_to_json(const struct move *m, zs_jgen *g)
{
	size_t i;

	if (m->n_rounds == 0)
		return;
	zs_jgen_key(g, "precopy_rounds");
	zs_jgen_array_open(g);
	for (i = 0; i < m->n_rounds; i++) {
		zs_jgen_map_open(g);
		zs_jgen_key(g, "bytes");
		zs_jgen_uint(g, m->rounds[i].bytes);
		zs_jgen_kv_int(g, "us", (long long) (m->rounds[i].s * 1e6));
		zs_jgen_map_close(g);
	}
	zs_jgen_array_close(g);
}

int precopy_rounds_from_json(const zs_json *j, struct move *m, zs_error_t *err)
{
	const zs_json *v = zs_json_get(j, "precopy_rounds");
	size_t i, n;

	if (v == NULL)
		return 0;
	n = zs_json_array_len(v);
	if (!zs_json_is_array(v) || n > AGENT_MAX_PRECOPY_ROUNDS)
		return zs_make_error(err, -EINVAL, "journal: precopy_rounds: an array of at most %d rounds",
				     AGENT_MAX_PRECOPY_ROUNDS);
	m->rounds = xzalloc(sizeof(*m->rounds) * (n + 1));
	m->n_rounds = n;
	for (i = 0; i < n; i++) {
		const zs_json *r = zs_json_array_at(v, i);
		int64_t us = 0;
		if (zs_json_to_uint64(zs_json_get(r, "bytes"), "journal", "precopy_rounds[].bytes", 0,
				      &m->rounds[i].bytes, err) < 0 ||
		    zs_json_to_int64(zs_json_get(r, "us"), "journal", "precopy_rounds[].us", 0, &us, err) < 0)
			return -1;
		m->rounds[i].s = (double) us / 1e6;
	}
	return 0;
}

/* SIZE with an optional K, M or G (binary), or N% (1..100). */
int precopy_parse_goal(const char *s, struct move_req *rq, zs_error_t *err)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s ? s : "", &end, 10);
	if (s == NULL || *s == '\0' || *s == '-' || errno || end == s)
		goto bad;
	if (strcmp(end, "%") == 0) {
		if (v < 1 || v > 100)
			goto bad;
		rq->precopy_goal_pct = (unsigned) v;
		rq->precopy_goal = 0;
		return 0;
	}
	if (*end && (end[1] != '\0' || strchr("KMG", *end) == NULL))
		goto bad;
	if (v > (1ull << 40))
		goto bad;
	rq->precopy_goal = *end == 'G' ? v << 30 : *end == 'M' ? v << 20 : *end == 'K' ? v << 10 : v;
	rq->precopy_goal_pct = 0;
	return 0;
bad:
	return zs_make_error(err, -EINVAL, "precopy goal `%s`: expected bytes (with K, M or G) or a percent (5%%)",
			     s ? s : "");
}

/* ---- source ---- */

bool is_precopy(const struct move *m)
{
	return m->mode && strcmp(m->mode, "pre-copy") == 0;
}

/* Bytes of the pages (pages-*.img) in DIR. */
static uint64_t pages_bytes(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t n = 0;

	while (d && (de = readdir(d))) {
		cleanup_free char *p = NULL;
		struct stat st;
		if (!str_has_prefix(de->d_name, "pages-"))
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
			n += (uint64_t) st.st_size;
	}
	return n;
}

static bool goal_reached(const struct move_req *rq, const struct move *m)
{
	uint64_t last = m->rounds[m->n_rounds - 1].bytes, first = m->rounds[0].bytes;

	if (rq->precopy_goal_pct)
		return m->n_rounds > 1 && last * 100 <= first * rq->precopy_goal_pct;
	return last <= rq->precopy_goal;
}

/* No use in another round: this one did not shrink (the container writes
 * faster than the rounds go). */
static bool stalled(const struct move *m)
{
	return m->n_rounds > 1 && m->rounds[m->n_rounds - 1].bytes >= m->rounds[m->n_rounds - 2].bytes;
}

/* Pre-dump round K into WORK/rK: a diff against round K-1, the first
 * against the baseline both nodes hold (or whole). */
static int predump(struct src *s, unsigned k, const char *dir, zs_error_t *err)
{
	cleanup_free char *base = k == 1 ? src_diff_base(s) : NULL, *rel = NULL, *what = NULL;
	char *args[] = {"checkpoint", "--pre-dump", "--image-path", (char *) dir, NULL, NULL, s->m->container, NULL};

	if (k > 1)
		rel = xasprintf("../r%u", k - 1);
	else if (base)
		rel = src_parent_path(dir, base);
	if (rel) {
		args[4] = "--parent-path";
		args[5] = rel;
	} else {
		args[4] = s->m->container;
	}
	what = xasprintf("pre-dump-%u", k);
	return rt_run(s->a, s->work, what, args, err);
}

static void add_round(struct move *m, uint64_t bytes, double secs)
{
	m->rounds = xrealloc(m->rounds, sizeof(*m->rounds) * (m->n_rounds + 1));
	m->rounds[m->n_rounds].bytes = bytes;
	m->rounds[m->n_rounds].s = secs;
	m->n_rounds++;
}

static int one_round(struct src *s, unsigned k, zs_error_t *err)
{
	cleanup_free char *dir = xasprintf("%s/r%u", s->work, k);
	double t0 = now_s();
	uint64_t bytes;

	if (src_cancelled(s, err) < 0)
		return -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return zs_make_error(err, errno, "mkdir `%s`", dir);
	if (predump(s, k, dir, err) < 0)
		return zs_error_wrap(err, "pre-copy round %u of %s", k, s->m->container);
	bytes = pages_bytes(dir);
	if (src_send_image(s, dir, k, err) < 0)
		return zs_error_wrap(err, "sending pre-copy round %u to %s", k, s->m->peer);
	add_round(s->m, bytes, now_s() - t0);
	free(s->parent_rel);
	s->parent_rel = xasprintf("../r%u", k);
	src_put(s, NULL); /* the round in the journal */
	return 0;
}

int precopy_run(struct src *s, zs_error_t *err)
{
	const struct move_req *rq = s->a->req;
	unsigned max = rq && rq->precopy_rounds ? rq->precopy_rounds : 5, k;
	static char phase[32];

	src_put(s, "pre-copy");
	for (k = 1; k <= max; k++) {
		snprintf(phase, sizeof(phase), "pre-copy round %u", k);
		s->phase = phase;
		if (one_round(s, k, err) < 0)
			return -1;
		zs_log("info", "move %s: pre-copy round %u: %llu bytes of pages in %.2f s", s->m->id, k,
		       (unsigned long long) s->m->rounds[k - 1].bytes, s->m->rounds[k - 1].s);
		if ((rq && goal_reached(rq, s->m)) || stalled(s->m))
			break;
	}
	return 0;
}

/* ---- target ---- */

int precopy_commit_round(struct agent *a, struct move *m, struct zs_remnant *store, const char *tmp, char **name,
			 zs_error_t *err)
{
	struct zs_remnant_gen *g = NULL;
	char *list;

	if (zs_remnant_gen_commit(store, m->container, tmp, &g, err) < 0)
		return zs_error_wrap(err, "committing pre-copy round of %s to the store of node %s", m->container,
				     a->node);
	*name = xstrdup(g->name);
	list = m->precopy_gens ? xasprintf("%s,%s", m->precopy_gens, g->name) : xstrdup(g->name);
	free(m->precopy_gens);
	m->precopy_gens = list;
	zs_remnant_gen_free(g);
	return journal_put(a, m, NULL, err);
}

void precopy_drop_rounds(struct agent *a, struct move *m, struct zs_remnant *store)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *first = NULL;
	struct zs_remnant *own = NULL;
	struct zs_remnant_rm_opts o = {.dependents = true};
	char *comma;

	if (m->precopy_gens == NULL || *m->precopy_gens == '\0')
		return;
	first = xstrdup(m->precopy_gens);
	comma = strchr(first, ',');
	if (comma)
		*comma = '\0';
	if (store == NULL && zs_remnant_open(a->remnant_root, &own, &e) < 0) {
		zs_log("warning", "move %s: its pre-copy rounds stay in the store: %s", m->id, zs_error_msg(e));
		return;
	}
	/* the first round and every generation that depends on it: the
	 * other rounds (the checkpoint was never committed) */
	if (zs_remnant_rm(store ? store : own, m->container, first, &o, NULL, &e) < 0 && zs_error_errno(e) != ENOENT)
		zs_log("warning", "move %s: removing its pre-copy rounds: %s", m->id, zs_error_msg(e));
	else {
		free(m->precopy_gens);
		m->precopy_gens = NULL;
	}
	zs_remnant_close(own);
}

/* The checkpoint of a pre-copy ends a chain one generation per round
 * longer: committed without the store's automatic merge (which would copy
 * the whole memory while the container is down)... */
unsigned precopy_hold_merge(struct zs_remnant *store)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_settings st;
	unsigned max;

	if (zs_settings_load(NULL, &st, &e) < 0)
		return 0;
	max = st.remnant.max_chain;
	st.remnant.max_chain = 64;
	zs_remnant_set_settings(store, &st);
	return max;
}

/* ...and merged once the container runs (MAX: the store's max_chain). */
void precopy_merge(struct agent *a, struct move *m, struct zs_remnant *store, unsigned max)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_remnant_gen *g = NULL, *merged = NULL;

	if (max == 0 || m->generation == NULL || zs_remnant_get(store, m->container, m->generation, &g, &e) < 0)
		return;
	if (g->chain_len > max && zs_remnant_merge(store, m->container, g, &merged, &e) < 0)
		zs_log("warning", "move %s: merging the chain of %s on node %s: %s", m->id, g->name, a->node,
		       zs_error_msg(e));
	zs_remnant_gen_free(merged);
	zs_remnant_gen_free(g);
}
