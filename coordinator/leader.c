/* zanshin-api — which replica leads.  Every replica serves the API; one
 * leader runs the policies (policy.c asks coord_is_leader()).  With
 * PostgreSQL the leader is the replica holding a session advisory lock on
 * a connection of its own: when it dies, or its connection does, the
 * server releases the lock and another replica takes it within about a
 * second.  With SQLite (one file, one coordinator) the replica leads. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "coord.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define LEADER_LOCK_KEY "7427014" /* pg advisory lock: zanshin-api leadership */

static atomic_bool leading;
static pthread_t leader_thread;
static atomic_bool stop_leader;

bool coord_is_leader(struct coord *co)
{
	(void) co;
	return atomic_load(&leading);
}

static void became(struct coord *co, bool now)
{
	cleanup_error zs_error_t e = NULL;
	struct who me = {.role = WHO_ADMIN};

	atomic_store(&leading, now);
	snprintf(me.name, sizeof(me.name), "replica:%s", co->replica);
	zs_log("info", "replica %s %s", co->replica, now ? "leads" : "no longer leads");
	if (now && audit(co, &me, "leader.acquire", co->replica, NULL, &e) < 0)
		zs_log("warning", "audit: %s", zs_error_msg(e));
}

/* one round: try the lock when not leading, check the connection when
 * leading */
static void round_pg(struct coord *co, struct db **conn)
{
	cleanup_dbres struct db_result *r = NULL;
	cleanup_error zs_error_t e = NULL;

	if (*conn == NULL && db_open(co->db_url, conn, &e) < 0) {
		*conn = NULL;
		if (atomic_load(&leading))
			became(co, false);
		return;
	}
	if (!atomic_load(&leading)) {
		if (db_exec(*conn, "SELECT pg_try_advisory_lock(" LEADER_LOCK_KEY ") AS ok", NULL, 0, &r, &e) == 0 &&
		    r->rows == 1 && strcmp(db_cell(r, 0, "ok"), "t") == 0)
			became(co, true);
	} else if (db_exec(*conn, "SELECT 1 AS ok", NULL, 0, &r, &e) < 0) {
		became(co, false); /* the lock went with the connection */
	}
	if (e) {
		db_close(*conn);
		*conn = NULL;
	}
}

static void *leader_loop(void *arg)
{
	struct coord *co = arg;
	struct db *conn = NULL;

	while (!atomic_load(&stop_leader)) {
		round_pg(co, &conn);
		usleep(500000);
	}
	db_close(conn);
	return NULL;
}

int leader_start(struct coord *co, zs_error_t *err)
{
	char host[64] = "";

	gethostname(host, sizeof(host) - 1);
	co->replica = xasprintf("%s:%d", host, getpid());
	if (strcmp(db_kind(co->db), "postgresql") != 0) {
		became(co, true);
		return 0;
	}
	if (pthread_create(&leader_thread, NULL, leader_loop, co) != 0)
		return zs_make_error(err, EAGAIN, "leader election thread");
	co->leader_thread = true;
	return 0;
}

void leader_stop(struct coord *co)
{
	if (!co->leader_thread)
		return;
	atomic_store(&stop_leader, true);
	pthread_join(leader_thread, NULL);
	co->leader_thread = false;
}

int api_status(struct req *r, struct reply *rep)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t err = NULL;
	int v = db_schema_version(r->co->db, &err);

	if (v < 0)
		return reply_internal(rep, err);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "replica", r->co->replica);
	zs_jgen_key(g, "leader");
	zs_jgen_bool(g, coord_is_leader(r->co));
	zs_jgen_kv_string(g, "database", db_kind(r->co->db));
	zs_jgen_kv_int(g, "schema", v);
	zs_jgen_kv_string(g, "caller", r->who.name);
	zs_jgen_map_close(g);
	return reply_gen(rep, 200, g);
}
