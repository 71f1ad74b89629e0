/* zanshin-api — the SQLite backend of db.h (`--db sqlite:PATH`): one
 * file, WAL journal (readers on the pool's other connections do not wait
 * for a writer), foreign keys on, a busy timeout for the moments another
 * connection or process (`zanshin-api token create`) writes.  A single
 * statement is prepared once per connection and kept (db_stmts.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "zanshin/utils.h"

static int sq_fail(sqlite3 *s, const char *what, zs_error_t *err)
{
	return zs_make_error(err, -EIO, "sqlite: %s: %s", what, sqlite3_errmsg(s));
}

struct sq_conn {
	sqlite3 *s;
	struct db_stmts *stmts;
};

/* a connection is used by one thread at a time (db.c's pool) */
static int sq_open(const char *path, void **conn, zs_error_t *err)
{
	struct sq_conn *sc;
	sqlite3 *s = NULL;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
	char *msg = NULL;

	if (sqlite3_open_v2(path, &s, flags, NULL) != SQLITE_OK) {
		int r = zs_make_error(err, -EIO, "sqlite `%s`: %s", path, s ? sqlite3_errmsg(s) : "cannot open");
		sqlite3_close(s);
		return r;
	}
	sqlite3_busy_timeout(s, 5000);
	if (sqlite3_exec(s, "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL", NULL, NULL,
			 &msg) != SQLITE_OK) {
		int r = zs_make_error(err, -EIO, "sqlite `%s`: %s", path, msg ? msg : "pragma failed");
		sqlite3_free(msg);
		sqlite3_close(s);
		return r;
	}
	sc = xzalloc(sizeof(*sc));
	sc->s = s;
	sc->stmts = db_stmts_new();
	*conn = sc;
	return 0;
}

static void sq_finalize(void *stmt)
{
	sqlite3_finalize(stmt);
}

static void sq_close(void *conn)
{
	struct sq_conn *sc = conn;

	db_stmts_free(sc->stmts, sq_finalize);
	sqlite3_close(sc->s);
	free(sc);
}

/* $N parameters: SQLite numbers named parameters by first appearance;
 * bind each by its name so the order of use does not matter. */
static int sq_bind(sqlite3 *s, sqlite3_stmt *st, const char *const *params, size_t n, zs_error_t *err)
{
	for (size_t i = 0; i < n; i++) {
		char name[24];
		int idx;

		snprintf(name, sizeof(name), "$%zu", i + 1);
		idx = sqlite3_bind_parameter_index(st, name);
		if (idx == 0)
			continue;
		if (params[i] == NULL ? sqlite3_bind_null(st, idx)
				      : sqlite3_bind_text(st, idx, params[i], -1, SQLITE_TRANSIENT) != SQLITE_OK)
			return sq_fail(s, "bind", err);
	}
	return 0;
}

static void sq_row(sqlite3_stmt *st, struct db_result *res)
{
	char **cells = xzalloc(res->cols * sizeof(char *));

	for (size_t c = 0; c < res->cols; c++) {
		const unsigned char *t = sqlite3_column_text(st, (int) c);
		cells[c] = t ? xstrdup((const char *) t) : NULL;
	}
	db_result_add_row(res, cells);
	free(cells);
}

static void result_reset(struct db_result *res)
{
	for (size_t i = 0; i < res->rows * res->cols; i++)
		free(res->cells[i]);
	for (size_t c = 0; c < res->cols; c++)
		free(res->names[c]);
	free(res->cells);
	free(res->names);
	memset(res, 0, sizeof(*res));
}

/* one prepared statement: bind, step every row into RES, reset */
static int sq_run(sqlite3 *s, sqlite3_stmt *st, const char *const *params, size_t n, struct db_result *res,
		  zs_error_t *err)
{
	int rc;

	if (sq_bind(s, st, params, n, err) < 0) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return -1;
	}
	result_reset(res);
	db_result_init(res, (size_t) sqlite3_column_count(st));
	for (size_t c = 0; c < res->cols; c++)
		res->names[c] = xstrdup(sqlite3_column_name(st, (int) c));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		sq_row(st, res);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s, "step", err);
	res->changed = sqlite3_changes(s);
	return 0;
}

/* A statement seen before runs from the cache; a new one is prepared
 * and kept when it is the whole text (one statement). */
static int sq_exec_cached(struct sq_conn *sc, const char *sql, const char *const *params, size_t n,
			  struct db_result *res, bool *done, zs_error_t *err)
{
	sqlite3_stmt *st = db_stmts_get(sc->stmts, sql);
	const char *tail = NULL;

	*done = false;
	if (st == NULL) {
		if (sqlite3_prepare_v3(sc->s, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail) != SQLITE_OK)
			return sq_fail(sc->s, "prepare", err);
		if (st == NULL || tail[strspn(tail, " \t\r\n;")] != '\0' || !db_stmts_put(sc->stmts, sql, st)) {
			sqlite3_finalize(st);
			return 0; /* several statements, or the cache is full: the plain path */
		}
	}
	*done = true;
	return sq_run(sc->s, st, params, n, res, err);
}

static int sq_exec(void *conn, const char *sql, const char *const *params, size_t n, struct db_result *res,
		   zs_error_t *err)
{
	struct sq_conn *sc = conn;
	sqlite3 *s = sc->s;
	sqlite3_stmt *st = NULL;
	const char *tail = sql;
	bool done;

	if (sq_exec_cached(sc, sql, params, n, res, &done, err) < 0)
		return -1;
	if (done)
		return 0;
	/* several statements (migrations) run one after the other; the
	 * result is the last one's */
	while (tail && *tail) {
		int r;

		if (sqlite3_prepare_v2(s, tail, -1, &st, &tail) != SQLITE_OK)
			return sq_fail(s, "prepare", err);
		if (st == NULL)
			break;
		r = sq_run(s, st, params, n, res, err);
		sqlite3_finalize(st);
		if (r < 0)
			return -1;
	}
	return 0;
}

const struct db_ops db_sqlite_ops = {
    .kind = "sqlite",
    .connect = sq_open,
    .close = sq_close,
    .exec = sq_exec,
};
