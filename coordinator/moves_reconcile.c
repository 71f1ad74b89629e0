/* zanshin-api — reconciling the moves handed out with what the agents
 * know.  Every heartbeat of an agent lists the orders it holds a record
 * of (its `moves`: taken, running, or finished and not yet reported);
 * an agent writes that record before its next heartbeat, and its
 * heartbeats go one at a time, so within the transaction of a heartbeat:
 *   - an `ordered` move it lists was taken: `running` (acknowledged);
 *   - an `ordered` move it does not list never reached it (the answer
 *     carrying it was lost: a replica died, a connection broke): back to
 *     `pending`, handed out again in this very answer;
 *   - a `running` move it does not list is one its agent lost every
 *     record of: `failed`, with that error.
 * An order still `ordered` when its node goes down (never acknowledged)
 * fails with an error saying so; the agent's report, when it comes back,
 * is still accepted (moves_reopenable), so no outcome is lost.  An order
 * is never handed out while its agent holds a record of it, and an agent
 * never runs an order it already holds: no move runs twice. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define LOST_ERROR "the agent on the source node holds no record of this move (its state was lost)"
#define HB "heartbeat"

static const struct who coordinator_who = {.role = WHO_ADMIN, .name = "coordinator"};

bool moves_reopenable(const char *state, const char *error)
{
	return state && error && strcmp(state, "failed") == 0 && strcmp(error, UNACKED_ERROR) == 0;
}

void reconcile_free(struct hb_known *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->ids[i]);
	free(k->ids);
	memset(k, 0, sizeof(*k));
}

/* "moves": [{"move": ID, "state": S, "agent_move": A}] */
int reconcile_parse(const zs_json *arr, struct hb_known *k, zs_error_t *err)
{
	static const char *const keys[] = {"move", "state", "agent_move", NULL};
	size_t n = zs_json_array_len(arr);

	if (!zs_json_is_array(arr))
		return zs_make_error(err, -EINVAL, HB ": moves: not an array");
	k->present = true;
	k->ids = xzalloc((n + 1) * sizeof(*k->ids));
	for (size_t i = 0; i < n; i++) {
		zs_json *o = zs_json_array_at(arr, i);
		cleanup_free char *state = NULL, *am = NULL;
		char f[64];
		snprintf(f, sizeof(f), HB ": moves[%zu]", i);
		if (json_only_keys(o, f, keys, err) < 0 ||
		    zs_json_to_string(zs_json_get(o, "move"), f, "move", ZS_JSON_REQUIRED, &k->ids[k->n], err) < 0)
			return -1;
		k->n++;
		if (zs_json_to_string(zs_json_get(o, "state"), f, "state", 0, &state, err) < 0 ||
		    zs_json_to_string(zs_json_get(o, "agent_move"), f, "agent_move", 0, &am, err) < 0)
			return -1;
		if (!valid_node_name(k->ids[i]) || (state && !valid_node_name(state)) || (am && !valid_node_name(am)))
			return zs_make_error(err, -EINVAL, "%s: move, state, agent_move: not valid ids", f);
	}
	return 0;
}

static bool listed(const struct hb_known *k, const char *id)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->ids[i], id) == 0)
			return true;
	return false;
}

static int set_state(struct coord *co, const char *id, const char *from, const char *to, const char *error,
		     const char *now, zs_error_t *err)
{
	const char *p[] = {id, from, to, error, now};

	return db_exec(co->db, "UPDATE moves SET state = $3, error = $4, updated = $5 WHERE id = $1 AND state = $2", p,
		       5, NULL, err);
}

/* an order failed because its node went down, taken after all: running
 * again, unless another move of the container opened meanwhile */
static int revive(struct coord *co, const char *node, const char *id, const char *now, zs_error_t *err)
{
	const char *p[] = {id, node, now, UNACKED_ERROR};

	return db_exec(co->db,
		       "UPDATE moves SET state = 'running', error = NULL, updated = $3 WHERE id = $1 AND source = $2 "
		       "AND state = 'failed' AND error = $4 AND NOT EXISTS (SELECT 1 FROM moves o WHERE o.container = "
		       "moves.container AND o.id <> moves.id AND o.state IN ('pending', 'ordered', 'running') AND "
		       "o.reason <> 'local')",
		       p, 4, NULL, err);
}

static int one(struct coord *co, const char *node, const struct db_result *m, size_t i, const struct hb_known *k,
	       const char *now, zs_error_t *err)
{
	const char *id = db_cell(m, i, "id"), *state = db_cell(m, i, "state");
	bool known = listed(k, id);

	if (strcmp(state, "ordered") == 0 && known)
		return set_state(co, id, "ordered", "running", NULL, now, err);
	if (strcmp(state, "ordered") == 0) {
		zs_log("info", "move %s: %s never took the order: handed out again", id, node);
		if (set_state(co, id, "ordered", "pending", NULL, now, err) < 0)
			return -1;
		return audit(co, &coordinator_who, "move.requeue", id, "the agent holds no record of the order", err);
	}
	if (strcmp(state, "running") == 0 && !known) {
		zs_log("warning", "move %s: %s", id, LOST_ERROR);
		if (set_state(co, id, "running", "failed", LOST_ERROR, now, err) < 0)
			return -1;
		return audit(co, &coordinator_who, "move.lost", id, LOST_ERROR, err);
	}
	if (strcmp(state, "failed") == 0 && known)
		return revive(co, node, id, now, err);
	return 0;
}

int moves_reconcile(struct coord *co, const char *node, const struct hb_known *k, const char *now, zs_error_t *err)
{
	cleanup_dbres struct db_result *m = NULL;
	const char *p[] = {node, UNACKED_ERROR};

	if (!k->present)
		return 0; /* an agent that lists nothing (an older one): its reports only */
	if (db_exec(co->db,
		    "SELECT id, state FROM moves WHERE source = $1 AND reason <> 'local' AND (state IN ('ordered', "
		    "'running') OR (state = 'failed' AND error = $2)) ORDER BY id",
		    p, 2, &m, err) < 0)
		return -1;
	for (size_t i = 0; i < m->rows; i++)
		if (one(co, node, m, i, k, now, err) < 0)
			return -1;
	return 0;
}

/* called where a node is marked down, in that transaction */
int moves_fail_unacked(struct coord *co, const char *node, zs_error_t *err)
{
	cleanup_free char *now = fmt_double(coord_now());
	const char *p[] = {node, now, UNACKED_ERROR};

	return db_exec(co->db,
		       "UPDATE moves SET state = 'failed', error = $3, updated = $2 WHERE source = $1 AND state = "
		       "'ordered' AND reason <> 'local'",
		       p, 3, NULL, err);
}
