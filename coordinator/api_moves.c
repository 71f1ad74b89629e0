/* zanshin-api — containers, remnants and moves.  A move ordered through
 * the API (`zanshin cluster move`) is `pending` until its source agent's
 * next heartbeat takes it (`ordered`, handed out once), then the agent
 * reports `running` and its outcome with the move's metrics (`done`,
 * `failed`, `rolled-back`).  An idempotency key makes a repeated order
 * the same move. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "move_mode.h"
#include "zanshin/utils.h"

#define MOVE_COLS                                                                                                      \
	"id, container, source, target, state, reason, error, idem_key, requested_by, agent_move, created, updated, "  \
	"diff, setup_s, downtime_s, total_s, bytes_pages, bytes_bundle, bytes_metadata, mode, precopy_rounds, "        \
	"bytes_precopy, faults, last_page_s"

static bool terminal(const char *state)
{
	return strcmp(state, "done") == 0 || strcmp(state, "failed") == 0 || strcmp(state, "rolled-back") == 0;
}

static void kv_num(zs_jgen *g, const char *k, const char *v, int decimals)
{
	zs_jgen_key(g, k);
	if (v == NULL)
		zs_jgen_null(g);
	else if (decimals < 0)
		zs_jgen_int(g, atoll(v));
	else
		zs_jgen_double(g, atof(v), decimals);
}

static void kv_str_or_null(zs_jgen *g, const char *k, const char *v)
{
	zs_jgen_key(g, k);
	if (v)
		zs_jgen_string(g, v);
	else
		zs_jgen_null(g);
}

static void move_json(zs_jgen *g, const struct db_result *r, size_t i)
{
	static const char *const strs[] = {"id",     "container",    "source", "target", "state",
					   "reason", "requested_by", "mode",   NULL};
	static const char *const bytes[] = {
	    "bytes_pages", "bytes_bundle", "bytes_metadata", "bytes_precopy", "precopy_rounds", "faults", NULL};
	static const char *const secs[] = {"setup_s", "downtime_s", "total_s", "last_page_s", NULL};
	const char *diff = db_cell(r, i, "diff");

	zs_jgen_map_open(g);
	for (size_t k = 0; strs[k]; k++)
		zs_jgen_kv_string(g, strs[k], db_cell(r, i, strs[k]));
	kv_str_or_null(g, "error", db_cell(r, i, "error"));
	kv_str_or_null(g, "idempotency_key", db_cell(r, i, "idem_key"));
	kv_str_or_null(g, "agent_move", db_cell(r, i, "agent_move"));
	kv_num(g, "created", db_cell(r, i, "created"), 3);
	kv_num(g, "updated", db_cell(r, i, "updated"), 3);
	zs_jgen_key(g, "diff");
	if (diff)
		zs_jgen_bool(g, atoi(diff) != 0);
	else
		zs_jgen_null(g);
	for (size_t k = 0; secs[k]; k++)
		kv_num(g, secs[k], db_cell(r, i, secs[k]), 3);
	for (size_t k = 0; bytes[k]; k++)
		kv_num(g, bytes[k], db_cell(r, i, bytes[k]), -1);
	zs_jgen_map_close(g);
}

int api_moves(struct req *r, struct reply *rep)
{
	const char *container = req_query(r, "container"), *state = req_query(r, "state");
	const char *p[] = {container, state};
	cleanup_dbres struct db_result *res = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t err = NULL;

	if (container && !valid_container_id(container))
		return reply_error(rep, 400, "container `%s`: not a valid container id", container);
	if (state && !valid_node_name(state))
		return reply_error(rep, 400, "state `%s`: not a move state", state);
	if (db_exec(r->co->db,
		    "SELECT " MOVE_COLS " FROM moves WHERE (CAST($1 AS TEXT) IS NULL OR container = $1) AND "
		    "(CAST($2 AS TEXT) IS NULL OR state = $2) ORDER BY created, id",
		    p, 2, &res, &err) < 0)
		return reply_internal(rep, err);
	zs_jgen_map_open(g);
	zs_jgen_key(g, "moves");
	zs_jgen_array_open(g);
	for (size_t i = 0; i < res->rows; i++)
		move_json(g, res, i);
	zs_jgen_array_close(g);
	zs_jgen_map_close(g);
	return reply_gen(rep, 200, g);
}

static int move_get(struct coord *co, const char *id, struct db_result **res, zs_error_t *err)
{
	const char *p[] = {id};

	return db_exec(co->db, "SELECT " MOVE_COLS " FROM moves WHERE id = $1", p, 1, res, err);
}

static int reply_move(struct coord *co, struct reply *rep, int status, const char *id)
{
	cleanup_dbres struct db_result *res = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t err = NULL;

	if (!valid_node_name(id))
		return reply_error(rep, 400, "move `%s`: not a valid move id", id);
	if (move_get(co, id, &res, &err) < 0)
		return reply_internal(rep, err);
	if (res->rows == 0)
		return reply_error(rep, 404, "no move `%s`", id);
	move_json(g, res, 0);
	return reply_gen(rep, status, g);
}

int api_move(struct req *r, struct reply *rep)
{
	return reply_move(r->co, rep, 200, r->parts[1]);
}

/* ---- ordering a move ---- */

struct order {
	char *container, *to, *reason, *key, *mode;
};

static int order_parse(const char *body, struct order *o, zs_error_t *err)
{
	static const char *const keys[] = {"container", "to", "reason", "idempotency_key", "mode", NULL};
	cleanup_json zs_json *j = NULL;

	if (zs_json_parse_buf(body, "move", &j, err) < 0 || json_only_keys(j, "move", keys, err) < 0 ||
	    zs_json_to_string(zs_json_get(j, "container"), "move", "container", ZS_JSON_REQUIRED, &o->container, err) <
		0 ||
	    zs_json_to_string(zs_json_get(j, "to"), "move", "to", 0, &o->to, err) < 0 ||
	    zs_json_to_string(zs_json_get(j, "reason"), "move", "reason", 0, &o->reason, err) < 0 ||
	    zs_json_to_string(zs_json_get(j, "idempotency_key"), "move", "idempotency_key", 0, &o->key, err) < 0 ||
	    zs_json_to_string(zs_json_get(j, "mode"), "move", "mode", 0, &o->mode, err) < 0)
		return -1;
	if (o->mode && !move_mode_valid(o->mode))
		return zs_make_error(err, -EINVAL, "move: mode: `%s` is not stop-copy, pre-copy or post-copy", o->mode);
	if (!valid_container_id(o->container))
		return zs_make_error(err, -EINVAL, "move: container: `%s` is not a valid container id", o->container);
	if (o->to && !valid_node_name(o->to))
		return zs_make_error(err, -EINVAL, "move: to: `%s` is not a valid node name", o->to);
	if (o->reason && !valid_node_name(o->reason))
		return zs_make_error(err, -EINVAL, "move: reason: `%s`: a word ([A-Za-z0-9._+-])", o->reason);
	if (o->key && !valid_node_name(o->key))
		return zs_make_error(err, -EINVAL, "move: idempotency_key: 1-128 of [A-Za-z0-9._+-]");
	return 0;
}

static void order_free(struct order *o)
{
	free(o->container), free(o->to), free(o->reason), free(o->key), free(o->mode);
}

/* the container's node, and checks of the target; -errno (EINVAL/ENOENT/
 * EBUSY) with the reason */
static int order_check(struct coord *co, const struct order *o, char **source, zs_error_t *err)
{
	const char *p[] = {o->container, o->to};
	cleanup_dbres struct db_result *c = NULL, *t = NULL, *busy = NULL;

	if (db_exec(co->db,
		    "SELECT c.node, c.memory, n.state FROM containers c LEFT JOIN nodes n ON n.name = c.node WHERE "
		    "c.id = $1",
		    p, 1, &c, err) < 0)
		return -EIO;
	if (c->rows == 0 || db_cell(c, 0, "node") == NULL)
		return zs_make_error(err, -ENOENT, "container `%s` runs on no known node", o->container);
	if (strcmp(db_cell(c, 0, "state"), "up") != 0)
		return zs_make_error(err, -EBUSY, "container %s: its node %s is down", o->container,
				     db_cell(c, 0, "node"));
	if (db_exec(co->db, "SELECT state, draining, mem_total - mem_used AS free FROM nodes WHERE name = $1", p + 1, 1,
		    &t, err) < 0)
		return -EIO;
	if (t->rows == 0)
		return zs_make_error(err, -ENOENT, "no node `%s`", o->to);
	if (strcmp(o->to, db_cell(c, 0, "node")) == 0)
		return zs_make_error(err, -EINVAL, "container %s already runs on %s", o->container, o->to);
	if (strcmp(db_cell(t, 0, "state"), "up") != 0 || atoi(db_cell(t, 0, "draining")))
		return zs_make_error(err, -EBUSY, "node %s is %s", o->to,
				     strcmp(db_cell(t, 0, "state"), "up") != 0 ? "down" : "draining");
	if (atoll(db_cell(c, 0, "memory")) > atoll(db_cell(t, 0, "free")))
		return zs_make_error(err, -EBUSY, "node %s has %lld bytes of memory free, container %s uses %s", o->to,
				     atoll(db_cell(t, 0, "free")), o->container, db_cell(c, 0, "memory"));
	if (db_exec(co->db, "SELECT id FROM moves WHERE container = $1 AND state IN ('pending', 'ordered', 'running')",
		    p, 1, &busy, err) < 0)
		return -EIO;
	if (busy->rows > 0)
		return zs_make_error(err, -EBUSY, "container %s is already moving (move %s)", o->container,
				     db_cell(busy, 0, "id"));
	*source = xstrdup(db_cell(c, 0, "node"));
	return 0;
}

/* an order with a key already used: the same move, or a conflict */
static int order_replay(struct coord *co, const struct order *o, char **id, zs_error_t *err)
{
	const char *p[] = {o->key};
	cleanup_dbres struct db_result *res = NULL;

	if (o->key == NULL)
		return 0;
	if (db_exec(co->db, "SELECT id, container, target, mode FROM moves WHERE idem_key = $1", p, 1, &res, err) < 0)
		return -EIO;
	if (res->rows == 0)
		return 0;
	if (strcmp(db_cell(res, 0, "container"), o->container) != 0 ||
	    (o->to && strcmp(db_cell(res, 0, "target"), o->to) != 0) ||
	    (o->mode && strcmp(db_cell(res, 0, "mode"), o->mode) != 0))
		return zs_make_error(err, -EEXIST, "idempotency key `%s` was used for another move (%s)", o->key,
				     db_cell(res, 0, "id"));
	*id = xstrdup(db_cell(res, 0, "id"));
	return 1;
}

static int order_insert(struct coord *co, const struct who *who, const struct order *o, const char *source, char **id,
			zs_error_t *err)
{
	cleanup_free char *mid = random_id("m"), *now = fmt_double(coord_now()),
			  *detail = xasprintf("%s %s -> %s", o->container, source, o->to);
	const char *mode = o->mode ? o->mode : move_mode_for(co, "admin");
	const char *p[] = {mid,	   o->container, source, o->to, o->reason ? o->reason : "admin",
			   o->key, who->name,	 now,	 mode};

	if (db_exec(co->db,
		    "INSERT INTO moves(id, container, source, target, state, reason, idem_key, requested_by, created, "
		    "updated, mode) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $8, $9)",
		    p, 9, NULL, err) < 0 ||
	    audit(co, who, "move.create", mid, detail, err) < 0)
		return -1;
	*id = steal_pointer(&mid);
	return 0;
}

int api_move_create(struct req *r, struct reply *rep)
{
	struct order o = {0};
	cleanup_error zs_error_t err = NULL;
	cleanup_free char *source = NULL, *id = NULL;
	int ret = -1, status = 201;

	if (order_parse(r->body, &o, &err) < 0)
		goto bad;
	if (db_tx_begin(r->co->db, &err) < 0)
		goto internal;
	ret = order_replay(r->co, &o, &id, &err);
	if (ret == 1)
		status = 200;
	if (ret == 0 && o.to == NULL) {
		cleanup_dbres struct db_result *c = NULL;
		const char *p[] = {o.container};
		ret = db_exec(r->co->db, "SELECT node FROM containers WHERE id = $1", p, 1, &c, &err);
		if (ret == 0)
			ret = moves_choose_target(r->co, o.container, c->rows ? db_cell(c, 0, "node") : NULL, &o.to,
						  &err);
	}
	if (ret == 0)
		ret = order_check(r->co, &o, &source, &err);
	if (ret == 0)
		ret = order_insert(r->co, &r->who, &o, source, &id, &err);
	if (db_tx_end(r->co->db, ret >= 0, &err) < 0)
		goto internal;
	if (ret == -EIO)
		goto internal;
	if (ret < 0)
		goto bad;
	order_free(&o);
	return reply_move(r->co, rep, status, id);
bad:
	order_free(&o);
	if (zs_error_errno(err) == ENOSYS)
		return reply_error(rep, 400, "%s", zs_error_msg(err));
	return reply_bad(rep, err);
internal:
	order_free(&o);
	return reply_internal(rep, err);
}

int moves_take_orders(struct coord *co, const char *node, zs_jgen *g, zs_error_t *err)
{
	cleanup_dbres struct db_result *res = NULL;
	cleanup_free char *now = fmt_double(coord_now());
	const char *p[] = {node, now};

	if (db_exec(
		co->db,
		"UPDATE moves SET state = 'ordered', updated = $2 WHERE source = $1 AND state = 'pending' RETURNING "
		"id, container, target, mode, (SELECT address FROM nodes WHERE name = moves.target) AS address",
		p, 2, &res, err) < 0)
		return -1;
	for (size_t i = 0; i < res->rows; i++) {
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "move", db_cell(res, i, "id"));
		zs_jgen_kv_string(g, "container", db_cell(res, i, "container"));
		zs_jgen_kv_string(g, "to", db_cell(res, i, "target"));
		zs_jgen_kv_string(g, "address", db_cell(res, i, "address"));
		zs_jgen_kv_string(g, "mode", db_cell(res, i, "mode"));
		zs_jgen_map_close(g);
	}
	return 0;
}

/* ---- an agent reports a move it was ordered ---- */

struct report {
	char *state, *error, *agent_move;
	char *container, *to; /* a move the agent made on its own (`zanshin migrate`) */
	bool diff, has_diff;
	double setup_s, downtime_s, total_s;
	int64_t bytes[3];
	/* the mode the agent ran and its metrics (NULL when not reported) */
	char *mode, *rounds, *bytes_precopy, *faults, *last_page_s;
};

static char *opt_int(const zs_json *j, const char *key, zs_error_t *err)
{
	int64_t v = 0;

	if (zs_json_get(j, key) == NULL || zs_json_to_int64(zs_json_get(j, key), "report", key, 0, &v, err) < 0)
		return NULL;
	if (v < 0) {
		zs_make_error(err, -EINVAL, "report: %s: negative", key);
		return NULL;
	}
	return xasprintf("%lld", (long long) v);
}

/* mode, precopy_rounds, bytes_precopy, faults, last_page_s */
static int report_parse_mode(const zs_json *j, struct report *rp, zs_error_t *err)
{
	double last = 0;

	if (zs_json_to_string(zs_json_get(j, "mode"), "report", "mode", 0, &rp->mode, err) < 0)
		return -1;
	if (rp->mode && !move_mode_valid(rp->mode))
		return zs_make_error(err, -EINVAL, "report: mode: `%s` is not stop-copy, pre-copy or post-copy",
				     rp->mode);
	rp->rounds = opt_int(j, "precopy_rounds", err);
	if (*err == NULL)
		rp->bytes_precopy = opt_int(j, "bytes_precopy", err);
	if (*err == NULL)
		rp->faults = opt_int(j, "faults", err);
	if (*err)
		return -1;
	if (zs_json_get(j, "last_page_s") == NULL)
		return 0;
	if (zs_json_to_double(zs_json_get(j, "last_page_s"), "report", "last_page_s", 0, &last, err) < 0)
		return -1;
	if (last < 0)
		return zs_make_error(err, -EINVAL, "report: last_page_s: negative");
	rp->last_page_s = fmt_double(last);
	return 0;
}

static void report_free(struct report *rp)
{
	free(rp->state), free(rp->error), free(rp->agent_move), free(rp->container), free(rp->to);
	free(rp->mode), free(rp->rounds), free(rp->bytes_precopy), free(rp->faults), free(rp->last_page_s);
}

static int report_parse(const char *body, struct report *rp, zs_error_t *err)
{
	static const char *const keys[] = {
	    "state",   "error",		 "agent_move",	  "diff",	    "setup_s",	   "downtime_s",
	    "total_s", "bytes_pages",	 "bytes_bundle",  "bytes_metadata", "container",   "to",
	    "mode",    "precopy_rounds", "bytes_precopy", "faults",	    "last_page_s", NULL};
	static const char *const states[] = {"running", "done", "failed", "rolled-back", NULL};
	cleanup_json zs_json *j = NULL;
	size_t k;

	if (zs_json_parse_buf(body, "report", &j, err) < 0 || json_only_keys(j, "report", keys, err) < 0 ||
	    zs_json_to_string(zs_json_get(j, "state"), "report", "state", ZS_JSON_REQUIRED, &rp->state, err) < 0 ||
	    zs_json_to_string(zs_json_get(j, "error"), "report", "error", 0, &rp->error, err) < 0 ||
	    zs_json_to_string(zs_json_get(j, "agent_move"), "report", "agent_move", 0, &rp->agent_move, err) < 0 ||
	    zs_json_to_bool(zs_json_get(j, "diff"), "report", "diff", 0, &rp->diff, err) < 0 ||
	    zs_json_to_double(zs_json_get(j, "setup_s"), "report", "setup_s", 0, &rp->setup_s, err) < 0 ||
	    zs_json_to_double(zs_json_get(j, "downtime_s"), "report", "downtime_s", 0, &rp->downtime_s, err) < 0 ||
	    zs_json_to_double(zs_json_get(j, "total_s"), "report", "total_s", 0, &rp->total_s, err) < 0 ||
	    zs_json_to_int64(zs_json_get(j, "bytes_pages"), "report", "bytes_pages", 0, &rp->bytes[0], err) < 0 ||
	    zs_json_to_int64(zs_json_get(j, "bytes_bundle"), "report", "bytes_bundle", 0, &rp->bytes[1], err) < 0 ||
	    zs_json_to_int64(zs_json_get(j, "bytes_metadata"), "report", "bytes_metadata", 0, &rp->bytes[2], err) < 0)
		return -1;
	if (zs_json_to_string(zs_json_get(j, "container"), "report", "container", 0, &rp->container, err) < 0 ||
	    zs_json_to_string(zs_json_get(j, "to"), "report", "to", 0, &rp->to, err) < 0)
		return -1;
	if ((rp->container && !valid_container_id(rp->container)) || (rp->to && !valid_node_name(rp->to)))
		return zs_make_error(err, -EINVAL, "report: container, to: not a valid container id, node name");
	if (report_parse_mode(j, rp, err) < 0)
		return -1;
	rp->has_diff = zs_json_get(j, "diff") != NULL;
	for (k = 0; states[k] && strcmp(states[k], rp->state) != 0; k++)
		;
	if (states[k] == NULL)
		return zs_make_error(err, -EINVAL, "report: state: `%s` is not running, done, failed or rolled-back",
				     rp->state);
	if (rp->setup_s < 0 || rp->downtime_s < 0 || rp->total_s < 0 || rp->bytes[0] < 0 || rp->bytes[1] < 0 ||
	    rp->bytes[2] < 0)
		return zs_make_error(err, -EINVAL, "report: negative time or byte count");
	if (rp->agent_move && !valid_node_name(rp->agent_move))
		return zs_make_error(err, -EINVAL, "report: agent_move: not a valid move id");
	if (rp->error && strlen(rp->error) > 4096)
		rp->error[4096] = '\0';
	return 0;
}

/* A move made on the node's own (`zanshin migrate`), reported under an id
 * of the agent's (local-MOVE): recorded `running`, then updated as any
 * report. */
static int local_move(struct coord *co, const struct who *who, const char *id, const struct report *rp, zs_error_t *err)
{
	cleanup_free char *now = fmt_double(coord_now()), *detail = NULL;
	const char *p[] = {id, rp->container, who->name, rp->to, now, rp->mode ? rp->mode : "stop-copy"};

	if (!str_has_prefix(id, "local-"))
		return zs_make_error(err, -ENOENT, "no move `%s` (a move of the node's own is reported as local-ID)",
				     id);
	if (strcmp(rp->to, who->name) == 0)
		return zs_make_error(err, -EINVAL, "report: to: the move's source %s itself", who->name);
	detail = xasprintf("%s %s -> %s", rp->container, who->name, rp->to);
	if (db_exec(
		co->db,
		"INSERT INTO moves(id, container, source, target, state, reason, requested_by, created, updated, mode) "
		"VALUES ($1, $2, $3, $4, 'running', 'local', $3, $5, $5, $6)",
		p, 6, NULL, err) < 0 ||
	    audit(co, who, "move.local", id, detail, err) < 0)
		return -EIO;
	return 0;
}

static int report_store(struct coord *co, const struct who *who, const char *id, const struct report *rp,
			zs_error_t *err)
{
	cleanup_dbres struct db_result *m = NULL;
	cleanup_free char *now = fmt_double(coord_now()), *su = fmt_double(rp->setup_s),
			  *dt = fmt_double(rp->downtime_s), *tt = fmt_double(rp->total_s),
			  *b0 = xasprintf("%lld", (long long) rp->bytes[0]),
			  *b1 = xasprintf("%lld", (long long) rp->bytes[1]),
			  *b2 = xasprintf("%lld", (long long) rp->bytes[2]);
	const char *p[] = {id,
			   rp->state,
			   rp->error,
			   rp->agent_move,
			   now,
			   rp->has_diff ? (rp->diff ? "1" : "0") : NULL,
			   su,
			   dt,
			   tt,
			   b0,
			   b1,
			   b2,
			   rp->mode,
			   rp->rounds,
			   rp->bytes_precopy,
			   rp->faults,
			   rp->last_page_s};
	const char *state;

	if (move_get(co, id, &m, err) < 0)
		return -EIO;
	if (m->rows == 0 && rp->container && rp->to) {
		int r = local_move(co, who, id, rp, err);
		if (r < 0)
			return r;
		db_result_free(m);
		m = NULL;
		if (move_get(co, id, &m, err) < 0)
			return -EIO;
	}
	if (m->rows == 0)
		return zs_make_error(err, -ENOENT, "no move `%s`", id);
	if (strcmp(db_cell(m, 0, "source"), who->name) != 0)
		return zs_make_error(err, -EACCES, "move %s was ordered from node %s, not %s", id,
				     db_cell(m, 0, "source"), who->name);
	state = db_cell(m, 0, "state");
	if ((terminal(state) && !(moves_reopenable(state, db_cell(m, 0, "error")) && terminal(rp->state))) ||
	    strcmp(state, "pending") == 0)
		return zs_make_error(err, -EBUSY, "move %s is %s: no report expected", id, state);
	if (db_exec(co->db,
		    "UPDATE moves SET state = $2, error = $3, agent_move = COALESCE($4, agent_move), updated = $5, "
		    "diff = $6, setup_s = $7, downtime_s = $8, total_s = $9, bytes_pages = $10, bytes_bundle = $11, "
		    "bytes_metadata = $12, mode = COALESCE($13, mode), precopy_rounds = COALESCE($14, precopy_rounds), "
		    "bytes_precopy = COALESCE($15, bytes_precopy), faults = COALESCE($16, faults), "
		    "last_page_s = COALESCE(CAST($17 AS DOUBLE PRECISION), last_page_s) WHERE id = $1",
		    p, 17, NULL, err) < 0)
		return -EIO;
	if (strcmp(rp->state, "done") == 0) {
		/* the container runs on the target now, whether or not a
		 * heartbeat (the source's, without it) removed its row
		 * meanwhile: the target's heartbeats keep it (api_nodes.c,
		 * MOVED_GRACE_S) */
		const char *q[] = {db_cell(m, 0, "container"), db_cell(m, 0, "target"), now};
		if (db_exec(co->db,
			    "INSERT INTO containers(id, node, state, updated) VALUES ($1, $2, 'running', "
			    "CAST($3 AS DOUBLE PRECISION)) ON CONFLICT (id) DO UPDATE SET node = excluded.node, "
			    "state = excluded.state, updated = excluded.updated",
			    q, 3, NULL, err) < 0)
			return -EIO;
	}
	if (terminal(rp->state) && audit(co, who, "move.report", id, rp->state, err) < 0)
		return -EIO;
	return 0;
}

int api_move_report(struct req *r, struct reply *rep)
{
	struct report rp = {0};
	cleanup_error zs_error_t err = NULL;
	const char *id = r->parts[1];
	int ret;

	if (!valid_node_name(id))
		return reply_error(rep, 400, "move `%s`: not a valid move id", id);
	ret = report_parse(r->body, &rp, &err);
	if (ret == 0) {
		if (db_tx_begin(r->co->db, &err) < 0)
			ret = -EIO;
		else {
			ret = report_store(r->co, &r->who, id, &rp, &err);
			if (db_tx_end(r->co->db, ret == 0, &err) < 0)
				ret = -EIO;
		}
	}
	report_free(&rp);
	if (ret == -EIO)
		return reply_internal(rep, err);
	if (ret < 0)
		return reply_bad(rep, err);
	return reply_move(r->co, rep, 200, id);
}

/* ---- containers and remnants ---- */

static void holders_json(zs_jgen *g, const struct db_result *h, const char *id)
{
	zs_jgen_key(g, "remnants");
	zs_jgen_array_open(g);
	for (size_t i = 0; i < h->rows; i++) {
		if (strcmp(db_cell(h, i, "container"), id) != 0)
			continue;
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "node", db_cell(h, i, "node"));
		zs_jgen_kv_int(g, "generations", atoll(db_cell(h, i, "n")));
		zs_jgen_kv_int(g, "bytes", atoll(db_cell(h, i, "bytes")));
		zs_jgen_key(g, "bundle");
		zs_jgen_bool(g, atoi(db_cell(h, i, "bundle")) != 0);
		zs_jgen_map_close(g);
	}
	zs_jgen_array_close(g);
}

int api_containers(struct req *r, struct reply *rep)
{
	cleanup_dbres struct db_result *c = NULL, *h = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t err = NULL;

	if (db_exec(r->co->db,
		    "SELECT id, node, state, memory, bundle_digest FROM containers UNION SELECT DISTINCT container, "
		    "NULL, NULL, 0, NULL FROM remnants WHERE container NOT IN (SELECT id FROM containers) ORDER BY 1",
		    NULL, 0, &c, &err) < 0 ||
	    db_exec(r->co->db,
		    "SELECT g.container, g.node, COUNT(*) AS n, SUM(g.size) AS bytes, (SELECT COUNT(*) FROM bundles b "
		    "WHERE b.node = g.node AND (b.container = g.container OR b.digest = (SELECT c.bundle_digest FROM "
		    "containers c WHERE c.id = g.container))) AS bundle FROM remnants g GROUP BY "
		    "g.container, g.node ORDER BY g.container, g.node",
		    NULL, 0, &h, &err) < 0)
		return reply_internal(rep, err);
	zs_jgen_map_open(g);
	zs_jgen_key(g, "containers");
	zs_jgen_array_open(g);
	for (size_t i = 0; i < c->rows; i++) {
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "id", db_cell(c, i, "id"));
		kv_str_or_null(g, "node", db_cell(c, i, "node"));
		kv_str_or_null(g, "state", db_cell(c, i, "state"));
		kv_num(g, "memory", db_cell(c, i, "memory"), -1);
		kv_str_or_null(g, "bundle_digest", db_cell(c, i, "bundle_digest"));
		holders_json(g, h, db_cell(c, i, "id"));
		zs_jgen_map_close(g);
	}
	zs_jgen_array_close(g);
	zs_jgen_map_close(g);
	return reply_gen(rep, 200, g);
}

int api_remnants(struct req *r, struct reply *rep)
{
	const char *id = r->n_parts > 1 ? r->parts[1] : req_query(r, "container");
	const char *p[] = {id};
	cleanup_dbres struct db_result *res = NULL, *b = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t err = NULL;

	if (id && !valid_container_id(id))
		return reply_error(rep, 400, "container `%s`: not a valid container id", id);
	if (db_exec(r->co->db,
		    "SELECT node, container, image_id, parent_id, size, created FROM remnants WHERE (CAST($1 AS TEXT) "
		    "IS NULL OR "
		    "container = $1) ORDER BY container, node, created, image_id",
		    p, 1, &res, &err) < 0 ||
	    db_exec(r->co->db,
		    "SELECT node, container, digest, rootfs_digest FROM bundles WHERE (CAST($1 AS TEXT) IS NULL OR "
		    "container = $1 "
		    "OR digest = (SELECT c.bundle_digest FROM containers c WHERE c.id = $1)) ORDER BY container, node",
		    p, 1, &b, &err) < 0)
		return reply_internal(rep, err);
	if (id && res->rows == 0 && b->rows == 0)
		return reply_error(rep, 404, "no remnant of container `%s` on any node", id);
	zs_jgen_map_open(g);
	zs_jgen_key(g, "generations");
	zs_jgen_array_open(g);
	for (size_t i = 0; i < res->rows; i++) {
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "node", db_cell(res, i, "node"));
		zs_jgen_kv_string(g, "container", db_cell(res, i, "container"));
		zs_jgen_kv_string(g, "image_id", db_cell(res, i, "image_id"));
		kv_str_or_null(g, "parent_id", db_cell(res, i, "parent_id"));
		kv_num(g, "size", db_cell(res, i, "size"), -1);
		kv_num(g, "created", db_cell(res, i, "created"), 3);
		zs_jgen_map_close(g);
	}
	zs_jgen_array_close(g);
	zs_jgen_key(g, "bundles");
	zs_jgen_array_open(g);
	for (size_t i = 0; i < b->rows; i++) {
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "node", db_cell(b, i, "node"));
		zs_jgen_kv_string(g, "container", db_cell(b, i, "container"));
		zs_jgen_kv_string(g, "digest", db_cell(b, i, "digest"));
		kv_str_or_null(g, "rootfs_digest", db_cell(b, i, "rootfs_digest"));
		zs_jgen_map_close(g);
	}
	zs_jgen_array_close(g);
	zs_jgen_map_close(g);
	return reply_gen(rep, 200, g);
}
