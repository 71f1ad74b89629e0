/* zanshind — the records of the coordinator's orders: one file per order
 * taken, STATE_DIR/orders/ORDER.json ("zanshind-order" v1: the order,
 * container, target, the link process that took it and the process
 * running it), written atomically before the order runs and removed once
 * its outcome reached the coordinator.  Every heartbeat lists them
 * ("moves"), which is how the coordinator knows an order arrived (and
 * hands out again one that did not: coordinator/moves_reconcile.c); an
 * order held is never run a second time.  The move's journal record
 * carries the order's id (journal.c), so after a crash or a restart the
 * outcome recovered from the journal (recover.c) is reported here. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord_orders.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define ORDER_FORMAT "zanshind-order"

static char *orders_dir(struct agent *a)
{
	return xasprintf("%s/orders", a->state_dir);
}

static char *order_path(struct agent *a, const char *order)
{
	return xasprintf("%s/orders/%s.json", a->state_dir, order);
}

int order_record(struct agent *a, const char *order, const char *container, const char *to, pid_t runner,
		 zs_error_t *err)
{
	cleanup_free char *d = orders_dir(a), *p = NULL, *text = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	size_t len;

	if (!valid_name(order))
		return zs_make_error(err, -EINVAL, "order `%s`: not a valid id", order);
	if (mkdir_p(d, 0700, err) < 0)
		return zs_error_wrap(err, "orders directory");
	p = order_path(a, order);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "format", ORDER_FORMAT);
	zs_jgen_kv_int(g, "version", 1);
	zs_jgen_kv_string(g, "order", order);
	zs_jgen_kv_string(g, "container", container);
	zs_jgen_kv_string(g, "to", to);
	zs_jgen_kv_int(g, "link_pid", getpid());
	zs_jgen_kv_int(g, "runner_pid", runner);
	zs_jgen_map_close(g);
	text = zs_jgen_result(g, &len);
	if (write_file_atomic(p, text, len, 0600, err) < 0)
		return zs_error_wrap(err, "record of order %s", order);
	return 0;
}

bool order_held(struct agent *a, const char *order)
{
	cleanup_free char *p = order_path(a, order);

	return access(p, F_OK) == 0;
}

void order_forget(struct agent *a, const char *order)
{
	cleanup_free char *p = order_path(a, order);

	if (unlink(p) < 0 && errno != ENOENT)
		zs_log("warning", "order %s: cannot remove %s: %s", order, p, strerror(errno));
}

/* the ids of the orders held (sorted: directory order is not) */
static char **held(struct agent *a, size_t *n)
{
	cleanup_free char *d = orders_dir(a);
	cleanup_dir DIR *dir = opendir(d);
	struct dirent *de;
	char **v = NULL;

	*n = 0;
	while (dir && (de = readdir(dir))) {
		size_t l = strlen(de->d_name);
		cleanup_free char *id = NULL;
		if (l < 6 || de->d_name[0] == '.' || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		id = xasprintf("%.*s", (int) (l - 5), de->d_name);
		if (!valid_name(id))
			continue;
		v = xrealloc(v, (*n + 2) * sizeof(*v));
		v[(*n)++] = steal_pointer(&id);
		v[*n] = NULL;
	}
	return v;
}

void orders_json(struct agent *a, zs_jgen *g)
{
	size_t n;
	char **ids = held(a, &n);

	zs_jgen_key(g, "moves");
	zs_jgen_array_open(g);
	for (size_t i = 0; i < n; i++) {
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "move", ids[i]);
		zs_jgen_map_close(g);
	}
	zs_jgen_array_close(g);
	zs_free_string_array(ids);
}

static bool alive(long long pid)
{
	return pid > 0 && (kill((pid_t) pid, 0) == 0 || errno == EPERM);
}

/* the record's runner (or, before it started, the link that took it) runs */
static bool order_running(struct agent *a, const char *order)
{
	cleanup_free char *p = order_path(a, order);
	cleanup_json zs_json *j = NULL;
	cleanup_error zs_error_t e = NULL;
	const char *f;
	int64_t runner = 0, link = 0;

	if (zs_json_parse_file(p, "order record", &j, &e) < 0)
		return false;
	f = zs_json_string_value(zs_json_get(j, "format"));
	if (f == NULL || strcmp(f, ORDER_FORMAT) != 0 ||
	    zs_json_to_int64(zs_json_get(j, "runner_pid"), p, "runner_pid", 0, &runner, &e) < 0 ||
	    zs_json_to_int64(zs_json_get(j, "link_pid"), p, "link_pid", 0, &link, &e) < 0)
		return false;
	if (runner > 0)
		return alive(runner);
	return link != getpid() && alive(link);
}

/* the journal's source record of ORDER, 1 when found */
static int journal_of(struct agent *a, const char *order, struct move *out)
{
	cleanup_error zs_error_t e = NULL;
	char **ids = NULL;
	size_t n = 0;
	int found = 0;

	if (journal_list(a, &ids, &n, &e) < 0)
		return 0;
	for (size_t i = n; i-- > 0 && !found;) { /* newest first */
		struct move m;
		zs_error_release(&e);
		if (journal_get(a, ids[i], &m, &e) < 0)
			continue;
		if (m.order && strcmp(m.order, order) == 0 && strcmp(m.role, "source") == 0) {
			*out = m;
			found = 1;
		} else
			move_free(&m);
	}
	zs_free_string_array(ids);
	return found;
}

static bool source_finished(const struct move *m)
{
	return strcmp(m->state, "done") == 0 || strcmp(m->state, "failed") == 0 || strcmp(m->state, "rolled-back") == 0;
}

static void flush_one(struct agent *a, const char *order,
		      int (*report)(struct agent *, const char *, const struct move *, int, zs_error_t))
{
	struct move m = {0};
	cleanup_error zs_error_t e = NULL;
	int r;

	if (journal_of(a, order, &m) == 1) {
		if (!source_finished(&m)) { /* in doubt: recover.c settles it first */
			move_free(&m);
			return;
		}
		if (strcmp(m.state, "done") != 0)
			zs_make_error(&e, -EIO, "%s",
				      m.error
					  ? m.error
					  : "the agent was restarted during the move: the container runs here again");
		r = report(a, order, &m, strcmp(m.state, "done") == 0 ? 0 : -1, e);
	} else {
		m.state = xstrdup("failed");
		zs_make_error(&e, -ECANCELED, "the agent stopped before the move started (no journal record)");
		r = report(a, order, &m, -1, e);
	}
	zs_log("info", "order %s: outcome %s %s", order, m.state,
	       r == 0  ? "reported"
	       : r > 0 ? "already known to the coordinator"
		       : "not reported yet");
	if (r >= 0)
		order_forget(a, order);
	move_free(&m);
}

void orders_flush(struct agent *a,
		  int (*report)(struct agent *a, const char *order, const struct move *m, int ret, zs_error_t err))
{
	size_t n;
	char **ids = held(a, &n);

	for (size_t i = 0; i < n; i++)
		if (!order_running(a, ids[i]))
			flush_one(a, ids[i], report);
	zs_free_string_array(ids);
}
