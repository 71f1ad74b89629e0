/* zanshin-api — the PostgreSQL backend of db.h (`--db postgresql://...`,
 * libpq): every value travels as text. */
#define _GNU_SOURCE
#include <errno.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "zanshin/utils.h"

static void pg_quiet(void *arg, const char *msg)
{
	(void) arg;
	(void) msg;
}

static int pg_open(const char *url, void **conn, zs_error_t *err)
{
	PGconn *c = PQconnectdb(url);

	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		/* the URL may hold a password: not in the message */
		int r =
		    zs_make_error(err, -EIO, "postgresql: cannot connect: %s", c ? PQerrorMessage(c) : "out of memory");
		PQfinish(c);
		return r;
	}
	PQsetNoticeProcessor(c, pg_quiet, NULL);
	*conn = c;
	return 0;
}

static void pg_close(void *conn)
{
	PQfinish(conn);
}

static void pg_fill(PGresult *pr, struct db_result *res)
{
	size_t cols = (size_t) PQnfields(pr), rows = (size_t) PQntuples(pr);
	char **cells = xzalloc((cols + 1) * sizeof(char *));
	const char *ch = PQcmdTuples(pr);

	db_result_init(res, cols);
	for (size_t c = 0; c < cols; c++)
		res->names[c] = xstrdup(PQfname(pr, (int) c));
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < cols; c++)
			cells[c] = PQgetisnull(pr, (int) r, (int) c) ? NULL : xstrdup(PQgetvalue(pr, (int) r, (int) c));
		db_result_add_row(res, cells);
	}
	free(cells);
	res->changed = ch && *ch ? atoll(ch) : 0;
}

static int pg_exec(void *conn, const char *sql, const char *const *params, size_t n, struct db_result *res,
		   zs_error_t *err)
{
	PGconn *c = conn;
	PGresult *pr;
	ExecStatusType st;

	if (n == 0)
		pr = PQexec(c, sql); /* may be several statements (migrations) */
	else
		pr = PQexecParams(c, sql, (int) n, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(pr);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *code = PQresultErrorField(pr, PG_DIAG_SQLSTATE);
		int r = zs_make_error(err, code && strcmp(code, "23505") == 0 ? -EEXIST : -EIO, "postgresql: %s",
				      pr ? PQresultErrorMessage(pr) : PQerrorMessage(c));
		PQclear(pr);
		return r;
	}
	pg_fill(pr, res);
	PQclear(pr);
	return 0;
}

const struct db_ops db_pg_ops = {
    .kind = "postgresql",
    .connect = pg_open,
    .close = pg_close,
    .exec = pg_exec,
};
