/* zanshin-api — the PostgreSQL backend of db.h (`--db postgresql://...`,
 * libpq): every value travels as text.  A statement with parameters is
 * prepared once per connection (PQprepare, named zsN) and then only
 * executed: one round trip, no parsing or planning per request. */
#define _GNU_SOURCE
#include <errno.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "zanshin/utils.h"

static void pg_quiet(void *arg, const char *msg)
{
	(void) arg;
	(void) msg;
}

struct pg_conn {
	PGconn *c;
	struct db_stmts *stmts; /* SQL -> statement number + 1 */
	unsigned next;
};

static int pg_open(const char *url, void **conn, zs_error_t *err)
{
	PGconn *c = PQconnectdb(url);
	struct pg_conn *pc;

	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		/* the URL may hold a password: not in the message */
		int r =
		    zs_make_error(err, -EIO, "postgresql: cannot connect: %s", c ? PQerrorMessage(c) : "out of memory");
		PQfinish(c);
		return r;
	}
	PQsetNoticeProcessor(c, pg_quiet, NULL);
	pc = xzalloc(sizeof(*pc));
	pc->c = c;
	pc->stmts = db_stmts_new();
	*conn = pc;
	return 0;
}

static void pg_close(void *conn)
{
	struct pg_conn *pc = conn;

	db_stmts_free(pc->stmts, NULL); /* the server forgets them with the session */
	PQfinish(pc->c);
	free(pc);
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

static int pg_fail(PGconn *c, PGresult *pr, zs_error_t *err)
{
	const char *code = pr ? PQresultErrorField(pr, PG_DIAG_SQLSTATE) : NULL;
	int r = zs_make_error(err, code && strcmp(code, "23505") == 0 ? -EEXIST : -EIO, "postgresql: %s",
			      pr ? PQresultErrorMessage(pr) : PQerrorMessage(c));

	PQclear(pr);
	return r;
}

static bool pg_ok(PGresult *pr)
{
	ExecStatusType st = PQresultStatus(pr);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* the statement's name on this connection, prepared at its first use;
 * NULL with *ERR set when the server refused it */
static const char *pg_prepared(struct pg_conn *pc, const char *sql, size_t n, char name[static 16], zs_error_t *err)
{
	uintptr_t k = (uintptr_t) db_stmts_get(pc->stmts, sql);
	PGresult *pr;

	if (k == 0) {
		if (db_stmts_count(pc->stmts) >= 200) /* the cache is full: unnamed, as before */
			return "";
		k = ++pc->next;
		snprintf(name, 16, "zs%u", (unsigned) k);
		pr = PQprepare(pc->c, name, sql, (int) n, NULL);
		if (!pg_ok(pr)) {
			pg_fail(pc->c, pr, err);
			return NULL;
		}
		PQclear(pr);
		db_stmts_put(pc->stmts, sql, (void *) k);
	}
	snprintf(name, 16, "zs%u", (unsigned) k);
	return name;
}

static int pg_exec(void *conn, const char *sql, const char *const *params, size_t n, struct db_result *res,
		   zs_error_t *err)
{
	struct pg_conn *pc = conn;
	PGresult *pr;
	char buf[16];
	const char *name;

	if (n == 0) {
		pr = PQexec(pc->c, sql); /* may be several statements (migrations) */
	} else {
		name = pg_prepared(pc, sql, n, buf, err);
		if (name == NULL)
			return -1;
		if (*name)
			pr = PQexecPrepared(pc->c, name, (int) n, params, NULL, NULL, 0);
		else
			pr = PQexecParams(pc->c, sql, (int) n, NULL, params, NULL, NULL, 0);
	}
	if (!pg_ok(pr))
		return pg_fail(pc->c, pr, err);
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
