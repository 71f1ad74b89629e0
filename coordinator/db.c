/* zanshin-api — the database interface (db.h): backend dispatch, the
 * connection's mutex, transactions, results. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "zanshin/utils.h"

struct db {
	const struct db_ops *ops;
	void **conn; /* n connections */
	bool *busy;
	unsigned n;
	pthread_mutex_t pool; /* busy[] */
	pthread_cond_t freed;
	pthread_mutex_t serial; /* db_tx_begin transactions, one at a time */
};

/* the calling thread's transaction: its db and connection */
static __thread struct db *tx_db;
static __thread unsigned tx_conn;
static __thread bool tx_serial;

static const struct db_ops *ops_for(const char *url, const char **rest)
{
	if (str_has_prefix(url, "sqlite:")) {
		*rest = url + strlen("sqlite:");
		return &db_sqlite_ops;
	}
	if (str_has_prefix(url, "postgresql://") || str_has_prefix(url, "postgres://")) {
		*rest = url;
		return &db_pg_ops;
	}
	return NULL;
}

static struct db *db_new(const struct db_ops *ops, unsigned n)
{
	struct db *d = xzalloc(sizeof(*d));

	d->ops = ops;
	d->conn = xzalloc(n * sizeof(*d->conn));
	d->busy = xzalloc(n * sizeof(*d->busy));
	pthread_mutex_init(&d->pool, NULL);
	pthread_cond_init(&d->freed, NULL);
	pthread_mutex_init(&d->serial, NULL);
	return d;
}

int db_open_pool(const char *url, unsigned n, struct db **out, zs_error_t *err)
{
	const char *rest = NULL;
	const struct db_ops *ops = ops_for(url, &rest);
	struct db *d;

	if (ops == NULL || *rest == '\0')
		return zs_make_error(err, -EINVAL, "--db `%s`: expected sqlite:PATH or postgresql://...", url);
	if (n == 0)
		n = 1;
	d = db_new(ops, n);
	if (ops->connect(rest, &d->conn[0], err) < 0) {
		db_close(d);
		return zs_error_wrap(err, "database");
	}
	d->n = 1;
	if (db_migrate(d, err) < 0) {
		db_close(d);
		return zs_error_wrap(err, "database schema");
	}
	for (; d->n < n; d->n++)
		if (ops->connect(rest, &d->conn[d->n], err) < 0) {
			db_close(d);
			return zs_error_wrap(err, "database (connection %u of %u)", d->n + 1, n);
		}
	*out = d;
	return 0;
}

int db_open(const char *url, struct db **out, zs_error_t *err)
{
	return db_open_pool(url, 1, out, err);
}

void db_close(struct db *d)
{
	if (d == NULL)
		return;
	for (unsigned i = 0; i < d->n; i++)
		d->ops->close(d->conn[i]);
	pthread_mutex_destroy(&d->pool);
	pthread_cond_destroy(&d->freed);
	pthread_mutex_destroy(&d->serial);
	free(d->conn);
	free(d->busy);
	free(d);
}

const char *db_kind(const struct db *d)
{
	return d->ops->kind;
}

static unsigned conn_take(struct db *d)
{
	unsigned i;

	pthread_mutex_lock(&d->pool);
	for (;;) {
		for (i = 0; i < d->n && d->busy[i]; i++)
			;
		if (i < d->n)
			break;
		pthread_cond_wait(&d->freed, &d->pool);
	}
	d->busy[i] = true;
	pthread_mutex_unlock(&d->pool);
	return i;
}

static void conn_give(struct db *d, unsigned i)
{
	pthread_mutex_lock(&d->pool);
	d->busy[i] = false;
	pthread_cond_signal(&d->freed);
	pthread_mutex_unlock(&d->pool);
}

static int exec_on(struct db *d, unsigned i, const char *sql, const char *const *params, size_t n,
		   struct db_result **res, zs_error_t *err)
{
	struct db_result *r = xzalloc(sizeof(*r));
	int ret = d->ops->exec(d->conn[i], sql, params, n, r, err);

	if (ret < 0 || res == NULL)
		db_result_free(r);
	else
		*res = r;
	return ret;
}

int db_exec(struct db *d, const char *sql, const char *const *params, size_t n, struct db_result **res, zs_error_t *err)
{
	unsigned i;
	int ret;

	if (tx_db == d) /* inside this thread's transaction */
		return exec_on(d, tx_conn, sql, params, n, res, err);
	i = conn_take(d);
	ret = exec_on(d, i, sql, params, n, res, err);
	conn_give(d, i);
	return ret;
}

int db_exec_write(struct db *d, const char *sql, const char *const *params, size_t n, struct db_result **res,
		  zs_error_t *err)
{
	bool serial = tx_db != d && strcmp(d->ops->kind, "sqlite") == 0;
	int ret;

	if (serial)
		pthread_mutex_lock(&d->serial);
	ret = db_exec(d, sql, params, n, res, err);
	if (serial)
		pthread_mutex_unlock(&d->serial);
	return ret;
}

static bool is_sqlite(const struct db *d)
{
	return strcmp(d->ops->kind, "sqlite") == 0;
}

int db_checkpoint_by_caller(struct db *d, zs_error_t *err)
{
	unsigned *held;
	int ret = 0;

	if (!is_sqlite(d))
		return 0;
	held = xzalloc(d->n * sizeof(*held));
	for (unsigned k = 0; k < d->n; k++) /* every connection, each once */
		held[k] = conn_take(d);
	for (unsigned k = 0; k < d->n && ret == 0; k++)
		ret = exec_on(d, held[k], "PRAGMA wal_autocheckpoint = 0", NULL, 0, NULL, err);
	for (unsigned k = 0; k < d->n; k++)
		conn_give(d, held[k]);
	free(held);
	return ret;
}

int db_checkpoint(struct db *d, zs_error_t *err)
{
	if (!is_sqlite(d))
		return 0;
	return db_exec(d, "PRAGMA wal_checkpoint(PASSIVE)", NULL, 0, NULL, err);
}

/* HEAD VALUES ($1, .., $COLS), .. ROWS times .. TAIL */
static char *rows_sql(const char *head, const char *tail, size_t cols, size_t rows)
{
	size_t cap = strlen(head) + strlen(tail) + rows * cols * 8 + rows * 4 + 16, len = 0;
	char *sql = xmalloc(cap);

	len += (size_t) snprintf(sql + len, cap - len, "%s VALUES ", head);
	for (size_t r = 0; r < rows; r++) {
		len += (size_t) snprintf(sql + len, cap - len, "%s(", r ? ", " : "");
		for (size_t c = 0; c < cols; c++)
			len += (size_t) snprintf(sql + len, cap - len, "%s$%zu", c ? ", " : "", r * cols + c + 1);
		len += (size_t) snprintf(sql + len, cap - len, ")");
	}
	snprintf(sql + len, cap - len, " %s", tail);
	return sql;
}

int db_insert_rows(struct db *d, const char *head, const char *tail, size_t cols, const char *const *params,
		   size_t rows, zs_error_t *err)
{
	static const size_t chunks[] = {64, 8, 1}; /* three shapes of statement, each prepared once */
	size_t done = 0;

	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		cleanup_free char *sql = NULL;

		if (rows - done < chunks[k])
			continue;
		sql = rows_sql(head, tail, cols, chunks[k]);
		for (; rows - done >= chunks[k]; done += chunks[k])
			if (db_exec(d, sql, params + done * cols, chunks[k] * cols, NULL, err) < 0)
				return -1;
	}
	return 0;
}

static int tx_begin(struct db *d, bool serial, zs_error_t *err)
{
	/* SQLite: take the write lock at BEGIN, so a transaction never has to
	 * upgrade a read snapshot another connection has made stale */
	const char *sql = strcmp(d->ops->kind, "sqlite") == 0 ? "BEGIN IMMEDIATE" : "BEGIN";

	if (tx_db != NULL)
		return zs_make_error(err, -EDEADLK, "database: a transaction inside a transaction");
	if (serial)
		pthread_mutex_lock(&d->serial);
	tx_conn = conn_take(d);
	if (exec_on(d, tx_conn, sql, NULL, 0, NULL, err) < 0) {
		conn_give(d, tx_conn);
		if (serial)
			pthread_mutex_unlock(&d->serial);
		return -1;
	}
	tx_db = d;
	tx_serial = serial;
	return 0;
}

int db_tx_begin(struct db *d, zs_error_t *err)
{
	return tx_begin(d, true, err);
}

int db_tx_begin_concurrent(struct db *d, zs_error_t *err)
{
	return tx_begin(d, strcmp(d->ops->kind, "sqlite") == 0, err);
}

int db_tx_end(struct db *d, bool ok, zs_error_t *err)
{
	int r;

	if (tx_db != d)
		return zs_make_error(err, -EINVAL, "database: no transaction to end");
	r = exec_on(d, tx_conn, ok ? "COMMIT" : "ROLLBACK", NULL, 0, NULL, err);
	if (r < 0 && ok) {
		cleanup_error zs_error_t e2 = NULL;
		exec_on(d, tx_conn, "ROLLBACK", NULL, 0, NULL, &e2);
	}
	tx_db = NULL;
	conn_give(d, tx_conn);
	if (tx_serial)
		pthread_mutex_unlock(&d->serial);
	return r;
}

int db_schema_version(struct db *d, zs_error_t *err)
{
	cleanup_dbres struct db_result *r = NULL;
	const char *v;

	if (db_exec(d, "SELECT MAX(version) AS v FROM schema_version", NULL, 0, &r, err) < 0)
		return -1;
	v = r->rows ? db_cell(r, 0, "v") : NULL;
	return v ? atoi(v) : 0;
}

void db_result_init(struct db_result *r, size_t cols)
{
	r->cols = cols;
	r->names = xzalloc((cols + 1) * sizeof(char *));
}

void db_result_add_row(struct db_result *r, char **cells)
{
	r->cells = xrealloc(r->cells, (r->rows + 1) * r->cols * sizeof(char *));
	memcpy(r->cells + r->rows * r->cols, cells, r->cols * sizeof(char *));
	r->rows++;
}

const char *db_cell(const struct db_result *r, size_t row, const char *col)
{
	for (size_t c = 0; c < r->cols; c++)
		if (strcmp(r->names[c], col) == 0)
			return row < r->rows ? r->cells[row * r->cols + c] : NULL;
	return NULL;
}

void db_result_free(struct db_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->rows * r->cols; i++)
		free(r->cells[i]);
	for (size_t c = 0; c < r->cols; c++)
		free(r->names ? r->names[c] : NULL);
	free(r->cells);
	free(r->names);
	free(r);
}

void cleanup_db_resultp(struct db_result **r)
{
	db_result_free(*r);
}
