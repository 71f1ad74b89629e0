/* zanshin-api — the schema: numbered migrations, each applied once, in
 * its own transaction, at start (schema_version records which).  SQL in
 * the dialect both backends accept (db.h).  Times are seconds since the
 * epoch (DOUBLE PRECISION); booleans are 0/1 (BIGINT). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "zanshin/utils.h"

static const char *const migrations[] = {
    /* 1: the records of the cluster */
    "CREATE TABLE nodes ("
    "  name TEXT PRIMARY KEY,"
    "  address TEXT,"	     /* where peers reach its agent: HOST:PORT */
    "  state TEXT NOT NULL," /* up | down */
    "  draining BIGINT NOT NULL DEFAULT 0,"
    "  room TEXT,"
    "  cpu DOUBLE PRECISION NOT NULL DEFAULT 0," /* [0,1] */
    "  mem_used BIGINT NOT NULL DEFAULT 0,"
    "  mem_total BIGINT NOT NULL DEFAULT 0,"
    "  stopping BIGINT NOT NULL DEFAULT 0," /* its agent got SIGTERM */
    "  registered DOUBLE PRECISION NOT NULL,"
    "  last_seen DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE containers ("
    "  id TEXT PRIMARY KEY,"
    "  node TEXT REFERENCES nodes(name)," /* where it runs (NULL: nowhere known) */
    "  state TEXT,"
    "  memory BIGINT NOT NULL DEFAULT 0,"
    "  bundle_digest TEXT,"
    "  updated DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE remnants ("
    "  node TEXT NOT NULL REFERENCES nodes(name),"
    "  container TEXT NOT NULL,"
    "  image_id TEXT NOT NULL,"
    "  parent_id TEXT,"
    "  size BIGINT NOT NULL,"
    "  created DOUBLE PRECISION,"
    "  PRIMARY KEY (node, container, image_id));"
    "CREATE TABLE bundles ("
    "  node TEXT NOT NULL REFERENCES nodes(name),"
    "  container TEXT NOT NULL,"
    "  digest TEXT NOT NULL,"
    "  rootfs_digest TEXT,"
    "  PRIMARY KEY (node, container));"
    "CREATE TABLE moves ("
    "  id TEXT PRIMARY KEY,"
    "  container TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  state TEXT NOT NULL," /* pending | ordered | done | failed | rolled-back */
    "  reason TEXT NOT NULL,"
    "  error TEXT,"
    "  idem_key TEXT UNIQUE,"
    "  requested_by TEXT NOT NULL,"
    "  agent_move TEXT," /* the source agent's journal id */
    "  created DOUBLE PRECISION NOT NULL,"
    "  updated DOUBLE PRECISION NOT NULL,"
    "  diff BIGINT,"
    "  setup_s DOUBLE PRECISION, downtime_s DOUBLE PRECISION, total_s DOUBLE PRECISION,"
    "  bytes_pages BIGINT, bytes_bundle BIGINT, bytes_metadata BIGINT);"
    "CREATE INDEX moves_by_source ON moves(source, state);"
    "CREATE TABLE timetable_events ("
    "  id TEXT PRIMARY KEY,"
    "  room TEXT NOT NULL,"
    "  summary TEXT,"
    "  starts DOUBLE PRECISION NOT NULL,"
    "  ends DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE tokens ("
    "  id TEXT PRIMARY KEY,"
    "  hash TEXT NOT NULL UNIQUE," /* sha256 of the secret, hex */
    "  role TEXT NOT NULL,"	   /* admin | viewer */
    "  name TEXT,"
    "  created DOUBLE PRECISION NOT NULL);"
    "CREATE TABLE audit ("
    "  id TEXT PRIMARY KEY,"
    "  ts DOUBLE PRECISION NOT NULL,"
    "  who TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT,"
    "  detail TEXT);"
    "CREATE INDEX audit_by_ts ON audit(ts);",
    /* 2: the digest of a node's last inventory (unchanged: its rows are not rewritten) */
    "ALTER TABLE nodes ADD COLUMN inventory TEXT;",
    /* 3: counters; peers_version changes whenever a node's address or state does */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);"
    "INSERT INTO meta(key, value) VALUES ('peers_version', 1);",
    /* 4: placing a container reads its remnants and Bundles by container
     * (and Bundles by digest), and classes by room and time (api_place.c) */
    "CREATE INDEX remnants_by_container ON remnants(container, node);"
    "CREATE INDEX bundles_by_container ON bundles(container);"
    "CREATE INDEX bundles_by_digest ON bundles(digest);"
    "CREATE INDEX timetable_by_room ON timetable_events(room, starts);",
    /* 5: a node's containers are replaced at every changed heartbeat */
    "CREATE INDEX containers_by_node ON containers(node);",
    /* 6: a move's mode (stop-copy, pre-copy, post-copy: move_mode.c) and
     * what the agent reports of it: pre-copy rounds and their page bytes,
     * post-copy pages faulted from the source and when the last arrived */
    "ALTER TABLE moves ADD COLUMN mode TEXT NOT NULL DEFAULT 'stop-copy';"
    "ALTER TABLE moves ADD COLUMN precopy_rounds BIGINT;"
    "ALTER TABLE moves ADD COLUMN bytes_precopy BIGINT;"
    "ALTER TABLE moves ADD COLUMN faults BIGINT;"
    "ALTER TABLE moves ADD COLUMN last_page_s DOUBLE PRECISION;",
    /* 7: a node holds several Bundles of one container, and several
     * received for no container in particular (container ''): the key is
     * (node, container, digest), as the heartbeat's check says (with
     * (node, container) a node that had received two Bundles had its
     * heartbeats refused by the database) */
    "CREATE TABLE bundles_new ("
    "  node TEXT NOT NULL REFERENCES nodes(name),"
    "  container TEXT NOT NULL,"
    "  digest TEXT NOT NULL,"
    "  rootfs_digest TEXT,"
    "  PRIMARY KEY (node, container, digest));"
    "INSERT INTO bundles_new(node, container, digest, rootfs_digest) "
    "  SELECT node, container, digest, rootfs_digest FROM bundles;"
    "DROP TABLE bundles;"
    "ALTER TABLE bundles_new RENAME TO bundles;"
    "CREATE INDEX bundles_by_container ON bundles(container);"
    "CREATE INDEX bundles_by_digest ON bundles(digest);",
    /* 8: at most one open move per container (a local one aside), whichever
     * replica or leader orders it (docs/coordinator.md "Replicas") */
    "CREATE UNIQUE INDEX moves_one_open ON moves(container) WHERE state IN ('pending', 'ordered', 'running') "
    "AND reason <> 'local';",
};

static int migrate_locked(struct db *d, zs_error_t *err);

static int apply(struct db *d, int version, const char *sql, zs_error_t *err)
{
	char v[16];
	const char *p[] = {v};
	bool ok;

	snprintf(v, sizeof(v), "%d", version);
	if (db_tx_begin(d, err) < 0)
		return -1;
	ok = db_exec(d, sql, NULL, 0, NULL, err) == 0 &&
	     db_exec(d, "INSERT INTO schema_version(version) VALUES ($1)", p, 1, NULL, err) == 0;
	if (db_tx_end(d, ok, err) < 0 || !ok)
		return zs_error_wrap(err, "migration %d", version);
	return 0;
}

/* Replicas starting together on one PostgreSQL migrate one at a time. */
static int schema_lock(struct db *d, bool lock, zs_error_t *err)
{
	if (strcmp(db_kind(d), "postgresql") != 0)
		return 0;
	return db_exec(d, lock ? "SELECT pg_advisory_lock(7427013)" : "SELECT pg_advisory_unlock(7427013)", NULL, 0,
		       NULL, err);
}

int db_migrate(struct db *d, zs_error_t *err)
{
	cleanup_error zs_error_t e2 = NULL;
	int r;

	if (schema_lock(d, true, err) < 0)
		return -1;
	r = migrate_locked(d, err);
	schema_lock(d, false, &e2); /* the session's end releases it anyway */
	return r;
}

static int migrate_locked(struct db *d, zs_error_t *err)
{
	int have, n = (int) (sizeof(migrations) / sizeof(migrations[0]));

	if (db_exec(d, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY)", NULL, 0, NULL, err) <
	    0)
		return -1;
	have = db_schema_version(d, err);
	if (have < 0)
		return -1;
	if (have > n)
		return zs_make_error(err, -EPROTO,
				     "the database has schema version %d, newer than this zanshin-api knows (%d)", have,
				     n);
	for (int v = have + 1; v <= n; v++)
		if (apply(d, v, migrations[v - 1], err) < 0)
			return -1;
	return 0;
}
