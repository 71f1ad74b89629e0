/* Unit tests for the coordinator's database layer (coordinator/db.c,
 * db_stmts.c, db_sqlite.c) on a real SQLite file, TAP: a pool of
 * connections, prepared statements reused with other parameters, a
 * transaction bound to its thread (its writes invisible to the others
 * until COMMIT, none after ROLLBACK, no transaction inside one), and
 * writers on several threads losing no update. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "zanshin/utils.h"

#define THREADS 4
#define WRITES 150

static int n, failed;
static struct db *d;

static void check(int ok, const char *name)
{
	n++;
	if (!ok)
		failed++;
	printf("%sok %d - %s\n", ok ? "" : "not ", n, name);
}

/* the value of meta KEY, -1 when absent, -2 on an error */
static long long meta(const char *key)
{
	cleanup_dbres struct db_result *r = NULL;
	cleanup_error zs_error_t err = NULL;
	const char *p[] = {key};

	if (db_exec(d, "SELECT value FROM meta WHERE key = $1", p, 1, &r, &err) < 0)
		return -2;
	return r->rows ? atoll(db_cell(r, 0, "value")) : -1;
}

static int meta_set(const char *key, const char *value)
{
	cleanup_error zs_error_t err = NULL;
	const char *p[] = {key, value};

	return db_exec(d, "INSERT INTO meta(key, value) VALUES ($1, $2)", p, 2, NULL, &err);
}

struct seen {
	long long value;
};

static void *read_other_thread(void *arg)
{
	((struct seen *) arg)->value = meta("tx");
	return NULL;
}

static long long from_other_thread(void)
{
	struct seen s = {-3};
	pthread_t t;

	pthread_create(&t, NULL, read_other_thread, &s);
	pthread_join(t, NULL);
	return s.value;
}

static void test_transactions(void)
{
	cleanup_error zs_error_t err = NULL, e2 = NULL;

	check(db_tx_begin(d, &err) == 0 && meta_set("tx", "7") == 0, "a transaction begins and writes");
	check(meta("tx") == 7, "the transaction's own thread sees its write");
	check(from_other_thread() == -1, "another thread does not see it before COMMIT (and does not wait)");
	check(db_tx_begin(d, &e2) < 0 && zs_error_errno(e2) == EDEADLK, "no transaction inside a transaction");
	check(db_tx_end(d, true, &err) == 0 && from_other_thread() == 7, "after COMMIT every thread sees it");
	check(db_tx_begin_concurrent(d, &err) == 0 && meta_set("rolled", "1") == 0 && db_tx_end(d, false, &err) == 0 &&
		  meta("rolled") == -1,
	      "nothing of a rolled back transaction stays");
	check(meta_set("tx", "8") < 0, "a duplicate key is refused");
}

/* 75 rows = one chunk of 64, one of 8, three single rows */
static void test_insert_rows(void)
{
	cleanup_dbres struct db_result *r = NULL;
	cleanup_error zs_error_t err = NULL;
	const char *p[75 * 2];
	char keys[75][16], vals[75][16];

	for (int i = 0; i < 75; i++) {
		snprintf(keys[i], sizeof(keys[i]), "row%02d", i);
		snprintf(vals[i], sizeof(vals[i]), "%d", 1000 + i);
		p[2 * i] = keys[i];
		p[2 * i + 1] = vals[i];
	}
	check(db_insert_rows(d, "INSERT INTO meta(key, value)", "", 2, p, 75, &err) == 0, "75 rows inserted in chunks");
	check(db_exec(d, "SELECT COUNT(*) AS n, SUM(value) AS s FROM meta WHERE key LIKE 'row%'", NULL, 0, &r, &err) ==
		      0 &&
		  atoi(db_cell(r, 0, "n")) == 75 && atoll(db_cell(r, 0, "s")) == 75 * 1000 + 74 * 75 / 2,
	      "every row there, each with its own values");
	check(meta("row00") == 1000 && meta("row63") == 1063 && meta("row64") == 1064 && meta("row74") == 1074,
	      "rows at the chunks' edges");
	check(db_insert_rows(d, "INSERT INTO meta(key, value)",
			     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", 2, p, 1, &err) == 0 &&
		  db_insert_rows(d, "INSERT INTO meta(key, value)", "", 2, p, 1, &err) < 0,
	      "the TAIL is used (an upsert), a duplicate without it refused");
}

/* the WAL is copied back by the caller's checkpoints only */
static void test_checkpoint(void)
{
	cleanup_dbres struct db_result *a = NULL, *c = NULL;
	cleanup_error zs_error_t err = NULL;

	check(db_checkpoint_by_caller(d, &err) == 0 &&
		  db_exec(d, "PRAGMA wal_autocheckpoint", NULL, 0, &a, &err) == 0 && a->rows == 1 &&
		  atoi(a->cells[0]) == 0,
	      "checkpoints by the caller: no connection checkpoints on its own");
	check(meta_set("ckpt", "1") == 0 && db_checkpoint(d, &err) == 0 &&
		  db_exec(d, "PRAGMA wal_checkpoint(PASSIVE)", NULL, 0, &c, &err) == 0 && c->rows == 1 &&
		  strcmp(db_cell(c, 0, "busy"), "0") == 0 &&
		  strcmp(db_cell(c, 0, "log"), db_cell(c, 0, "checkpointed")) == 0,
	      "db_checkpoint copies the whole WAL back");
}

static void *writer(void *arg)
{
	for (int i = 0; i < WRITES; i++) {
		cleanup_error zs_error_t err = NULL;
		if (i % 3 == 0) { /* a transaction now and then, beside the single writes */
			if (db_tx_begin_concurrent(d, &err) < 0 ||
			    db_exec(d, "UPDATE meta SET value = value + 1 WHERE key = 'count'", NULL, 0, NULL, &err) <
				0 ||
			    db_tx_end(d, true, &err) < 0)
				return (void *) 1;
		} else if (db_exec_write(d, "UPDATE meta SET value = value + $1 WHERE key = 'count'",
					 (const char *const[]){"1"}, 1, NULL, &err) < 0)
			return (void *) 1;
		if (meta("count") < 1) /* readers between the writes */
			return (void *) 1;
	}
	return NULL;
}

static void test_writers(void)
{
	pthread_t t[THREADS];
	void *ret;
	int bad = 0;

	check(meta_set("count", "0") == 0, "a counter");
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, writer, NULL);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], &ret);
		bad += ret != NULL;
	}
	check(bad == 0, "writers and readers on 4 threads: no error");
	check(meta("count") == THREADS * WRITES, "no update lost");
}

static void test_statements(void)
{
	cleanup_dbres struct db_result *r = NULL, *m = NULL;
	cleanup_error zs_error_t err = NULL;

	for (int i = 0; i < 50; i++) {
		char k[16], v[16];
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "%d", i * 3);
		if (meta_set(k, v) < 0)
			break;
	}
	check(meta("k0") == 0 && meta("k17") == 51 && meta("k49") == 147 && meta("k50") == -1,
	      "one prepared statement, fifty parameters: each answer its own");
	check(db_exec(d, "SELECT COUNT(*) AS n FROM meta WHERE key LIKE 'k%'", NULL, 0, &r, &err) == 0 &&
		  atoi(db_cell(r, 0, "n")) == 50,
	      "a statement without parameters");
	check(db_exec(d, "UPDATE meta SET value = 1 WHERE key = 'k1'; SELECT value FROM meta WHERE key = 'k1'", NULL, 0,
		      &m, &err) == 0 &&
		  m->rows == 1 && atoi(db_cell(m, 0, "value")) == 1,
	      "several statements in one text run in order (the last one's rows)");
}

int main(void)
{
	char dir[] = "/tmp/zs-db-pool-test.XXXXXX";
	cleanup_free char *url = NULL, *file = NULL;
	cleanup_error zs_error_t err = NULL;

	if (mkdtemp(dir) == NULL) {
		printf("not ok 1 - mkdtemp\n");
		return 1;
	}
	file = xasprintf("%s/db", dir);
	url = xasprintf("sqlite:%s", file);
	check(db_open_pool(url, 3, &d, &err) == 0, "a pool of 3 connections on a new SQLite file (migrated)");
	if (d) {
		test_transactions();
		test_statements();
		test_insert_rows();
		test_checkpoint();
		test_writers();
		db_close(d);
	}
	for (const char *s = ""; s; s = *s ? NULL : "-wal") {
		cleanup_free char *f = xasprintf("%s%s", file, s);
		unlink(f);
	}
	{
		cleanup_free char *shm = xasprintf("%s-shm", file);
		unlink(shm);
	}
	rmdir(dir);
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
