/* zanshin-api — the database layer: ONE interface, two backends
 * (db_sqlite.c: `sqlite:PATH`, WAL; db_pg.c: `postgresql://...`, libpq).
 *
 * SQL is written once, in the dialect both accept: `$1`, `$2`... as
 * parameters (numbered in order of first use), TEXT / BIGINT / DOUBLE
 * PRECISION columns, `INSERT ... ON CONFLICT ... DO UPDATE`.  Every value
 * goes in and comes out as text (NULL is NULL).
 *
 * A struct db is a pool of connections shared by threads: db_exec takes
 * a free connection for one statement; a transaction (db_tx_begin..
 * db_tx_end) binds one connection to the calling thread, and every
 * db_exec of that thread on that db in between runs on it.  Transactions
 * begun with db_tx_begin run one at a time in this process (as with one
 * connection); db_tx_begin_concurrent ones (a node's heartbeat, which
 * touches only that node's rows) run beside them and each other on
 * PostgreSQL, and one at a time on SQLite, whose writers serialize
 * anyway.  Each connection keeps its prepared statements (db_stmts.c). */
#ifndef ZANSHIN_COORD_DB_H
#define ZANSHIN_COORD_DB_H
#include <stdbool.h>
#include <stddef.h>

#include "zanshin/error.h"

struct db;

struct db_result {
	size_t rows, cols;
	char **names;	   /* cols */
	char **cells;	   /* rows * cols, row-major; NULL for SQL NULL */
	long long changed; /* rows changed by INSERT/UPDATE/DELETE */
};

/* URL: `sqlite:PATH` or `postgresql://...` / `postgres://...`.  Opens,
 * then applies the schema's pending migrations (db_schema.c). */
int db_open(const char *url, struct db **out, zs_error_t *err);
/* the same with N connections (N >= 1; the schema is migrated on the
 * first before the others open) */
int db_open_pool(const char *url, unsigned n, struct db **out, zs_error_t *err);
void db_close(struct db *d);
const char *db_kind(const struct db *d); /* "sqlite" | "postgresql" */
int db_schema_version(struct db *d, zs_error_t *err);

/* Run SQL with N text parameters; *RES (optional) gets the rows. */
int db_exec(struct db *d, const char *sql, const char *const *params, size_t n, struct db_result **res,
	    zs_error_t *err);
/* One statement that writes, outside a transaction: on SQLite under the
 * process's write lock (its writers serialize anyway, and waiting on a
 * mutex beats SQLite's sleeping busy handler); on PostgreSQL on any
 * connection, beside other writes. */
int db_exec_write(struct db *d, const char *sql, const char *const *params, size_t n, struct db_result **res,
		  zs_error_t *err);
/* SQLite: copying the WAL into the database (and its fsync) leaves the
 * writers' path: no connection of D checkpoints on its own any more, the
 * caller runs db_checkpoint() every second or so (a PASSIVE checkpoint:
 * it waits for no reader or writer).  PostgreSQL: nothing to do. */
int db_checkpoint_by_caller(struct db *d, zs_error_t *err);
int db_checkpoint(struct db *d, zs_error_t *err);
/* An INSERT of ROWS rows in few statements: HEAD (`INSERT INTO t(a, b)`)
 * VALUES (...), (...) TAIL (`ON CONFLICT ...` or ""); PARAMS holds ROWS
 * rows of COLS values.  Rows go in chunks of 64, 8 and 1: three shapes of
 * statement, each prepared once per connection. */
int db_insert_rows(struct db *d, const char *head, const char *tail, size_t cols, const char *const *params,
		   size_t rows, zs_error_t *err);
/* A transaction: the mutex is held from begin to end; end commits when
 * OK, else rolls back. */
int db_tx_begin(struct db *d, zs_error_t *err);
int db_tx_begin_concurrent(struct db *d, zs_error_t *err);
int db_tx_end(struct db *d, bool ok, zs_error_t *err);

const char *db_cell(const struct db_result *r, size_t row, const char *col);
void db_result_free(struct db_result *r);
void cleanup_db_resultp(struct db_result **r);
#define cleanup_dbres __attribute__((cleanup(cleanup_db_resultp)))

/* ---- backends (db.c dispatches) ---- */
struct db_ops {
	const char *kind;
	int (*connect)(const char *url, void **conn, zs_error_t *err);
	void (*close)(void *conn);
	int (*exec)(void *conn, const char *sql, const char *const *params, size_t n, struct db_result *res,
		    zs_error_t *err);
};
extern const struct db_ops db_sqlite_ops, db_pg_ops;
/* the schema's migrations, applied in order at open (db_schema.c) */
int db_migrate(struct db *d, zs_error_t *err);
/* prepared statements of one connection, for the backends (db_stmts.c):
 * SQL text -> the backend's handle; put fails when the cache is full */
struct db_stmts *db_stmts_new(void);
void *db_stmts_get(struct db_stmts *c, const char *sql);
bool db_stmts_put(struct db_stmts *c, const char *sql, void *stmt);
size_t db_stmts_count(const struct db_stmts *c);
void db_stmts_free(struct db_stmts *c, void (*drop)(void *stmt));
/* result building, for the backends */
void db_result_init(struct db_result *r, size_t cols);
void db_result_add_row(struct db_result *r, char **cells);

#endif
