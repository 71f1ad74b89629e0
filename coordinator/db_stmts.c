/* zanshin-api — a connection's prepared statements (db.h, "statement
 * cache"): SQL text -> the backend's prepared statement, so a statement
 * is parsed and planned once per connection, not once per request.  A
 * fixed table with open addressing; when it is full, statements are
 * simply not cached (they still run). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "zanshin/utils.h"

#define DB_STMTS_SLOTS 512u /* a power of two; the coordinator has ~100 statements */

struct db_stmt_slot {
	char *sql;
	void *stmt;
};

struct db_stmts {
	struct db_stmt_slot slot[DB_STMTS_SLOTS];
	size_t used;
};

static uint32_t sql_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 16777619u;
	return h;
}

struct db_stmts *db_stmts_new(void)
{
	return xzalloc(sizeof(struct db_stmts));
}

static struct db_stmt_slot *find_slot(struct db_stmts *c, const char *sql)
{
	uint32_t i = sql_hash(sql) & (DB_STMTS_SLOTS - 1);

	for (;; i = (i + 1) & (DB_STMTS_SLOTS - 1))
		if (c->slot[i].sql == NULL || strcmp(c->slot[i].sql, sql) == 0)
			return &c->slot[i];
}

void *db_stmts_get(struct db_stmts *c, const char *sql)
{
	return find_slot(c, sql)->stmt;
}

bool db_stmts_put(struct db_stmts *c, const char *sql, void *stmt)
{
	struct db_stmt_slot *s;

	if (c->used >= DB_STMTS_SLOTS / 2) /* keep probes short and a free slot always there */
		return false;
	s = find_slot(c, sql);
	if (s->sql)
		return false;
	s->sql = xstrdup(sql);
	s->stmt = stmt;
	c->used++;
	return true;
}

size_t db_stmts_count(const struct db_stmts *c)
{
	return c->used;
}

void db_stmts_free(struct db_stmts *c, void (*drop)(void *stmt))
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < DB_STMTS_SLOTS; i++) {
		if (c->slot[i].sql && drop)
			drop(c->slot[i].stmt);
		free(c->slot[i].sql);
	}
	free(c);
}
