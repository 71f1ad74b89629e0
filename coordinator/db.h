/* zanshin-api — the database layer: ONE interface, two backends
 * (db_sqlite.c: `sqlite:PATH`, WAL; db_pg.c: `postgresql://...`, libpq).
 *
 * SQL is written once, in the dialect both accept: `$1`, `$2`... as
 * parameters (numbered in order of first use), TEXT / BIGINT / DOUBLE
 * PRECISION columns, `INSERT ... ON CONFLICT ... DO UPDATE`.  Every value
 * goes in and comes out as text (NULL is NULL).  One connection per
 * struct db, used under its own mutex: callers may share it between
 * threads; db_tx_begin..db_tx_end hold the mutex for the whole
 * transaction. */
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
void db_close(struct db *d);
const char *db_kind(const struct db *d); /* "sqlite" | "postgresql" */
int db_schema_version(struct db *d, zs_error_t *err);

/* Run SQL with N text parameters; *RES (optional) gets the rows. */
int db_exec(struct db *d, const char *sql, const char *const *params, size_t n, struct db_result **res,
	    zs_error_t *err);
/* A transaction: the mutex is held from begin to end; end commits when
 * OK, else rolls back. */
int db_tx_begin(struct db *d, zs_error_t *err);
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
/* result building, for the backends */
void db_result_init(struct db_result *r, size_t cols);
void db_result_add_row(struct db_result *r, char **cells);

#endif
