/* zanshin-api — the database interface (db.h): backend dispatch, the
 * connection's mutex, transactions, results. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "zanshin/utils.h"

struct db {
	const struct db_ops *ops;
	void *conn;
	pthread_mutex_t lock; /* recursive: db_exec inside a transaction */
};

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

int db_open(const char *url, struct db **out, zs_error_t *err)
{
	pthread_mutexattr_t at;
	const char *rest = NULL;
	const struct db_ops *ops = ops_for(url, &rest);
	struct db *d;

	if (ops == NULL || *rest == '\0')
		return zs_make_error(err, -EINVAL, "--db `%s`: expected sqlite:PATH or postgresql://...", url);
	d = xzalloc(sizeof(*d));
	d->ops = ops;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&d->lock, &at);
	pthread_mutexattr_destroy(&at);
	if (ops->connect(rest, &d->conn, err) < 0) {
		free(d);
		return zs_error_wrap(err, "database");
	}
	if (db_migrate(d, err) < 0) {
		db_close(d);
		return zs_error_wrap(err, "database schema");
	}
	*out = d;
	return 0;
}

void db_close(struct db *d)
{
	if (d == NULL)
		return;
	d->ops->close(d->conn);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

const char *db_kind(const struct db *d)
{
	return d->ops->kind;
}

int db_exec(struct db *d, const char *sql, const char *const *params, size_t n, struct db_result **res, zs_error_t *err)
{
	struct db_result *r = xzalloc(sizeof(*r));
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = d->ops->exec(d->conn, sql, params, n, r, err);
	pthread_mutex_unlock(&d->lock);
	if (ret < 0 || res == NULL)
		db_result_free(r);
	else
		*res = r;
	return ret;
}

int db_tx_begin(struct db *d, zs_error_t *err)
{
	pthread_mutex_lock(&d->lock);
	if (db_exec(d, "BEGIN", NULL, 0, NULL, err) < 0) {
		pthread_mutex_unlock(&d->lock);
		return -1;
	}
	return 0;
}

int db_tx_end(struct db *d, bool ok, zs_error_t *err)
{
	int r = db_exec(d, ok ? "COMMIT" : "ROLLBACK", NULL, 0, NULL, err);

	if (r < 0 && ok) {
		cleanup_error zs_error_t e2 = NULL;
		db_exec(d, "ROLLBACK", NULL, 0, NULL, &e2);
	}
	pthread_mutex_unlock(&d->lock);
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
