/* zanshind — the link to the coordinator (zanshin-api, --coordinator):
 * one process that POSTs heartbeats (CPU and memory use, containers,
 * remnant inventory, Bundles held) every few seconds and whenever the
 * inventory changes, learns its peers' addresses from the answers
 * (STATE_DIR/peers.json: no --peer lists needed), runs the moves it is
 * ordered (one child each) and reports each outcome with its metrics.
 * At SIGTERM it reports `stopping` and keeps working for --drain-timeout
 * seconds, or until no container runs here. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "coord_orders.h"
#include "zanshin/container.h"
#include "zanshin/coord_client.h"
#include "zanshin/log.h"
#include "zanshin/remnant.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

#define COORD_MAX_MOVERS 8

static volatile sig_atomic_t stop_asked;
static unsigned long long cpu_prev_total, cpu_prev_idle;
static long long peers_version; /* of the peer list saved (0: none yet) */

static void on_term(int sig)
{
	stop_asked = 1;
}

static struct zs_coord_client client(struct agent *a)
{
	return (struct zs_coord_client){.url = a->coordinator,
					.name = a->coordinator_name,
					.ca = a->ca,
					.cert = a->cert,
					.key = a->key,
					.timeout_s = 20};
}

/* ---- load ---- */

static double cpu_load(void)
{
	cleanup_free char *s = NULL;
	cleanup_error zs_error_t e = NULL;
	unsigned long long v[10] = {0}, total = 0, idle, dt, di;
	double load = 0;

	if (read_file("/proc/stat", &s, NULL, &e) < 0 || sscanf(s, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
								&v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		return 0;
	for (int i = 0; i < 8; i++)
		total += v[i];
	idle = v[3] + v[4];
	dt = total - cpu_prev_total;
	di = idle - cpu_prev_idle;
	if (cpu_prev_total && dt > 0 && di <= dt)
		load = (double) (dt - di) / (double) dt;
	cpu_prev_total = total;
	cpu_prev_idle = idle;
	return load;
}

static void meminfo(long long *used, long long *total)
{
	cleanup_free char *s = NULL;
	cleanup_error zs_error_t e = NULL;
	const char *p;
	long long avail = 0;

	*used = 0;
	*total = 1;
	if (read_file("/proc/meminfo", &s, NULL, &e) < 0)
		return;
	if ((p = strstr(s, "MemTotal:")))
		*total = strtoll(p + 9, NULL, 10) * 1024;
	if ((p = strstr(s, "MemAvailable:")))
		avail = strtoll(p + 13, NULL, 10) * 1024;
	*used = *total > avail ? *total - avail : 0;
}

/* the memory cgroup (v1) of PID's usage, 0 when unknown */
static long long container_memory(pid_t pid)
{
	cleanup_free char *cg = NULL, *path = NULL, *val = NULL, *p = xasprintf("/proc/%d/cgroup", pid);
	cleanup_error zs_error_t e = NULL;
	char *line, *save = NULL;

	if (read_file(p, &cg, NULL, &e) < 0)
		return 0;
	for (line = strtok_r(cg, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c = strstr(line, ":memory:");
		if (c == NULL || strstr(c + 8, ".."))
			continue;
		path = xasprintf("/sys/fs/cgroup/memory%s/memory.usage_in_bytes", c + 8);
		if (read_file(path, &val, NULL, &e) < 0)
			return 0;
		return strtoll(val, NULL, 10);
	}
	return 0;
}

/* ---- inventory ---- */

/* the digest of the Bundle container ID runs from: a Bundle received
 * (STATE_DIR/bundles/DIGEST) or its own (the by-id record) */
static char *container_bundle_digest(struct agent *a, const char *id, const char *bundle)
{
	cleanup_free char *prefix = xasprintf("%s/bundles/", a->state_dir), *rec = NULL;
	cleanup_json zs_json *j = NULL;
	cleanup_error zs_error_t e = NULL;
	const char *d;

	if (bundle && str_has_prefix(bundle, prefix) && valid_name(bundle + strlen(prefix)))
		return xstrdup(bundle + strlen(prefix));
	rec = xasprintf("%s/bundles/by-id/%s.json", a->state_dir, id);
	if (access(rec, F_OK) < 0 || zs_json_parse_file(rec, "bundle record", &j, &e) < 0)
		return NULL;
	d = zs_json_string_value(zs_json_get(j, "digest"));
	return d ? xstrdup(d) : NULL;
}

static size_t inv_containers(struct agent *a, zs_jgen *g)
{
	char **ids = NULL;
	cleanup_error zs_error_t e = NULL;
	size_t running = 0;

	zs_jgen_key(g, "containers");
	zs_jgen_array_open(g);
	if (zs_status_list(a->root, &ids, &e) == 0)
		for (size_t i = 0; ids && ids[i]; i++) {
			cleanup_status struct zs_status *st = NULL;
			cleanup_error zs_error_t e2 = NULL;
			cleanup_free char *digest = NULL;
			const char *state;
			if (zs_status_load(a->root, ids[i], &st, &e2) < 0)
				continue;
			state = zs_container_status(st);
			running += strcmp(state, "running") == 0 || strcmp(state, "paused") == 0;
			digest = container_bundle_digest(a, ids[i], st->bundle);
			zs_jgen_map_open(g);
			zs_jgen_kv_string(g, "id", ids[i]);
			zs_jgen_kv_string(g, "state", state);
			zs_jgen_kv_int(g, "memory", strcmp(state, "running") == 0 ? container_memory(st->pid) : 0);
			if (digest)
				zs_jgen_kv_string(g, "bundle_digest", digest);
			zs_jgen_map_close(g);
		}
	zs_jgen_array_close(g);
	zs_free_string_array(ids);
	return running;
}

static bool listed(struct zs_remnant_gen **gens, size_t n, const char *image_id)
{
	for (size_t i = 0; image_id && i < n; i++)
		if (gens[i]->image_id && strcmp(gens[i]->image_id, image_id) == 0)
			return true;
	return false;
}

static void inv_generations(zs_jgen *g, const char *id, struct zs_remnant_gen **gens, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		struct zs_remnant_gen *gen = gens[k];
		if (gen->image_id == NULL || !valid_name(gen->image_id))
			continue;
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "container", id);
		zs_jgen_kv_string(g, "image_id", gen->image_id);
		/* a parent this node reports too (the coordinator refuses others) */
		if (gen->diff && listed(gens, n, gen->parent_image_id))
			zs_jgen_kv_string(g, "parent_id", gen->parent_image_id);
		zs_jgen_kv_int(g, "size", (long long) gen->bytes);
		zs_jgen_map_close(g);
	}
}

static void inv_remnants(struct agent *a, zs_jgen *g)
{
	struct zs_remnant *r = NULL;
	cleanup_error zs_error_t e = NULL;
	char **ids = NULL;
	size_t n = 0;

	zs_jgen_key(g, "remnants");
	zs_jgen_array_open(g);
	if (zs_remnant_open(a->remnant_root, &r, &e) == 0 && zs_remnant_containers(r, &ids, &n, &e) == 0)
		for (size_t i = 0; i < n; i++) {
			struct zs_remnant_gen **gens = NULL;
			size_t ng = 0;
			cleanup_error zs_error_t e2 = NULL;
			if (zs_remnant_list(r, ids[i], &gens, &ng, &e2) < 0)
				continue;
			inv_generations(g, ids[i], gens, ng);
			zs_remnant_gens_free(gens, ng);
		}
	zs_jgen_array_close(g);
	zs_free_string_array(ids);
	if (r)
		zs_remnant_close(r);
}

static void bundle_entry(zs_jgen *g, const char *container, const char *digest, const char *rootfs_digest)
{
	zs_jgen_map_open(g);
	if (container)
		zs_jgen_kv_string(g, "container", container);
	zs_jgen_kv_string(g, "digest", digest);
	if (rootfs_digest && *rootfs_digest)
		zs_jgen_kv_string(g, "rootfs_digest", rootfs_digest);
	zs_jgen_map_close(g);
}

/* Bundles held: containers' own (by-id records) and those received */
static void inv_bundles(struct agent *a, zs_jgen *g)
{
	cleanup_free char *bdir = xasprintf("%s/bundles", a->state_dir),
			  *rdir = xasprintf("%s/bundles/by-id", a->state_dir);
	cleanup_dir DIR *d = opendir(rdir), *b = opendir(bdir);
	struct dirent *de;

	zs_jgen_key(g, "bundles");
	zs_jgen_array_open(g);
	while (d && (de = readdir(d))) {
		cleanup_free char *p = xasprintf("%s/%s", rdir, de->d_name), *id = NULL;
		cleanup_json zs_json *j = NULL;
		cleanup_error zs_error_t e = NULL;
		const char *dg;
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0 ||
		    zs_json_parse_file(p, "bundle record", &j, &e) < 0)
			continue;
		id = xasprintf("%.*s", (int) (len - 5), de->d_name);
		dg = zs_json_string_value(zs_json_get(j, "digest"));
		if (dg && valid_name(dg))
			bundle_entry(g, id, dg, zs_json_string_value(zs_json_get(j, "rootfs_digest")));
	}
	while (b && (de = readdir(b))) {
		cleanup_free char *cfg = NULL, *rd = NULL, *rdp = NULL;
		cleanup_error zs_error_t e = NULL;
		if (de->d_name[0] == '.' || !valid_name(de->d_name) || strcmp(de->d_name, "by-id") == 0)
			continue;
		cfg = xasprintf("%s/%s/config.json", bdir, de->d_name);
		if (access(cfg, F_OK) < 0)
			continue;
		rdp = xasprintf("%s/%s/rootfs.digest", bdir, de->d_name);
		if (read_file(rdp, &rd, NULL, &e) == 0)
			rd[strcspn(rd, "\n")] = '\0';
		bundle_entry(g, NULL, de->d_name, rd);
	}
	zs_jgen_array_close(g);
}

/* The inventory part of a heartbeat (what changes are detected on) */
static char *inventory(struct agent *a, size_t *running)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);

	zs_jgen_map_open(g);
	*running = inv_containers(a, g);
	inv_remnants(a, g);
	inv_bundles(a, g);
	zs_jgen_map_close(g);
	return zs_jgen_result(g, NULL);
}

static char *heartbeat_body(struct agent *a, const char *inv, bool stopping)
{
	long long used, total;
	cleanup_free char *head = NULL, *moves = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	double cpu = cpu_load();
	size_t len;

	meminfo(&used, &total);
	if (cpu < 0 || cpu > 1)
		cpu = cpu < 0 ? 0 : 1;
	head = xasprintf("{\"address\":\"%s\",%s%s%s\"cpu\":%.4f,\"mem_used\":%lld,\"mem_total\":%lld,\"stopping\":%s,"
			 "\"peers_version\":%lld,",
			 a->listen, a->room ? "\"room\":\"" : "", a->room ? a->room : "", a->room ? "\"," : "", cpu,
			 used, total, stopping ? "true" : "false", peers_version);
	zs_jgen_map_open(g);
	orders_json(a, g);
	zs_jgen_map_close(g);
	moves = zs_jgen_result(g, &len);
	/* inv and moves are objects: their members follow */
	return xasprintf("%s%.*s,%s", head, (int) strlen(inv + 1) - 1, inv + 1, moves + 1);
}

/* ---- peers ---- */

static char *peers_path(struct agent *a)
{
	return xasprintf("%s/peers.json", a->state_dir);
}

static void save_peers(struct agent *a, const zs_json *peers)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *p = peers_path(a), *s = NULL;
	cleanup_error zs_error_t e = NULL;
	size_t len;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "format", "zanshind-peers");
	zs_jgen_kv_int(g, "version", 1);
	zs_jgen_key(g, "peers");
	zs_jgen_value(g, peers);
	zs_jgen_map_close(g);
	s = zs_jgen_result(g, &len);
	if (write_file_atomic(p, s, len, 0600, &e) < 0)
		zs_log("warning", "coordinator: cannot save the peers: %s", zs_error_msg(e));
}

static const struct agent_peer *add_peer_address(struct agent *a, const char *name, const char *addr)
{
	struct agent_peer *p;
	const char *colon = addr ? strrchr(addr, ':') : NULL;

	if (a->n_peers >= AGENT_MAX_PEERS || !valid_name(name) || colon == NULL || colon == addr)
		return NULL;
	p = &a->peers[a->n_peers++];
	p->name = xstrdup(name);
	if (addr[0] == '[' && colon[-1] == ']')
		p->host = xasprintf("%.*s", (int) (colon - addr - 2), addr + 1);
	else
		p->host = xasprintf("%.*s", (int) (colon - addr), addr);
	p->port = xstrdup(colon + 1);
	return p;
}

const struct agent_peer *coord_peer(struct agent *a, const char *name)
{
	cleanup_free char *p = NULL;
	cleanup_json zs_json *j = NULL;
	cleanup_error zs_error_t e = NULL;
	zs_json *arr;

	if (a->coordinator == NULL)
		return NULL;
	p = peers_path(a);
	if (access(p, F_OK) < 0 || zs_json_parse_file(p, "peers", &j, &e) < 0)
		return NULL;
	arr = zs_json_get(j, "peers");
	for (size_t i = 0; i < zs_json_array_len(arr); i++) {
		zs_json *o = zs_json_array_at(arr, i);
		const char *n = zs_json_string_value(zs_json_get(o, "name"));
		if (n && strcmp(n, name) == 0)
			return add_peer_address(a, n, zs_json_string_value(zs_json_get(o, "address")));
	}
	return NULL;
}

/* ---- orders ---- */

static int report_as(struct agent *a, const char *order, const struct move *m, int ret, zs_error_t err, bool local,
		     int tries);

/* 0: delivered, 1: refused by the coordinator (it knows better), -1: unreachable */
static int report(struct agent *a, const char *order, const struct move *m, int ret, zs_error_t err)
{
	return report_as(a, order, m, ret, err, false, 10);
}

/* from the link's loop (orders_flush): one try, the next round retries */
static int report_once(struct agent *a, const char *order, const struct move *m, int ret, zs_error_t err)
{
	return report_as(a, order, m, ret, err, false, 1);
}

void coord_report_local(struct agent *a, const struct move *m, int ret, zs_error_t err)
{
	cleanup_free char *id = NULL;

	if (a->coordinator == NULL || m->id == NULL || !valid_name(m->id))
		return;
	id = xasprintf("local-%s", m->id);
	report_as(a, id, m, ret, err, true, 10);
}

/* the mode the move ran in and what only that mode has */
static void report_mode(const struct move *m, zs_jgen *g)
{
	uint64_t pre = 0;

	if (m->mode == NULL)
		return;
	zs_jgen_kv_string(g, "mode", m->mode);
	if (is_precopy(m)) {
		for (size_t i = 0; i < m->n_rounds; i++)
			pre += m->rounds[i].bytes;
		zs_jgen_kv_int(g, "precopy_rounds", (long long) m->n_rounds);
		zs_jgen_kv_int(g, "bytes_precopy", (long long) pre);
	}
	if (is_postcopy(m)) {
		zs_jgen_kv_int(g, "faults", (long long) m->faults);
		zs_jgen_key(g, "last_page_s");
		zs_jgen_double(g, m->last_page_s, 4);
	}
}

static void report_metrics(zs_jgen *g, const struct move *m)
{
	zs_jgen_kv_string(g, "agent_move", m->id);
	zs_jgen_key(g, "diff");
	zs_jgen_bool(g, m->diff);
	zs_jgen_key(g, "setup_s");
	zs_jgen_double(g, m->setup_s, 4);
	zs_jgen_key(g, "downtime_s");
	zs_jgen_double(g, m->downtime_s, 4);
	zs_jgen_key(g, "total_s");
	zs_jgen_double(g, m->total_s, 4);
	zs_jgen_kv_int(g, "bytes_pages", (long long) m->bytes_pages);
	zs_jgen_kv_int(g, "bytes_bundle", (long long) m->bytes_bundle);
	zs_jgen_kv_int(g, "bytes_metadata", (long long) m->bytes_metadata);
	report_mode(m, g);
}

static int report_as(struct agent *a, const char *order, const struct move *m, int ret, zs_error_t err, bool local,
		     int tries)
{
	struct zs_coord_client c = client(a);
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *path = xasprintf("/v1/moves/%s/report", order), *body = NULL, *text = NULL;
	const char *st =
	    m->state && (strcmp(m->state, "done") == 0 || strcmp(m->state, "rolled-back") == 0) ? m->state : "failed";

	if (ret == 0)
		st = "done";
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "state", st);
	if (local) {
		zs_jgen_kv_string(g, "container", m->container);
		zs_jgen_kv_string(g, "to", m->peer);
	}
	if (ret < 0) {
		text = zs_error_text(err);
		zs_jgen_kv_string(g, "error", text);
	}
	if (m->id)
		report_metrics(g, m);
	zs_jgen_map_close(g);
	body = zs_jgen_result(g, NULL);
	for (int i = 0; i < tries; i++) {
		cleanup_free char *ans = NULL;
		cleanup_error zs_error_t e = NULL;
		long status = 0;
		if (zs_coord_request(&c, "POST", path, body, &status, &ans, &e) == 0 && status >= 200 && status < 300)
			return 0;
		zs_log("warning", "move %s: cannot report to the coordinator: %s", order,
		       e ? zs_error_msg(e) : (ans && *ans ? ans : "no answer"));
		if (status >= 400 && status < 500)
			return 1; /* refused: retrying changes nothing */
		if (i + 1 < tries)
			sleep(2);
	}
	return -1;
}

static void report_running(struct agent *a, const char *order)
{
	struct zs_coord_client c = client(a);
	cleanup_free char *path = xasprintf("/v1/moves/%s/report", order), *ans = NULL;
	cleanup_error zs_error_t e = NULL;

	if (zs_coord_call(&c, "POST", path, "{\"state\":\"running\"}", &ans, &e) < 0)
		zs_log("warning", "move %s: cannot report it running: %s", order, zs_error_msg(e));
}

static void run_order(struct agent *a, const char *order, const char *container, const char *to, const char *address,
		      const char *mode)
{
	struct move m = {0};
	cleanup_error zs_error_t err = NULL, e = NULL;
	cleanup_free char *work = NULL;
	int ret;

	if (agent_peer(a, to) == NULL)
		add_peer_address(a, to, address);
	zs_log("info", "coordinator: move %s: %s to %s (%s)", order, container, to, mode ? mode : "stop-copy");
	if (order_record(a, order, container, to, getpid(), &e) < 0)
		zs_log("warning", "%s", zs_error_msg(e));
	report_running(a, order);
	m.order = xstrdup(order);			     /* the journal knows which order it ran */
	ret = move_source(a, container, to, mode, &m, &err); /* the order's mode; none: stop-copy */
	if (report(a, order, &m, ret, err) >= 0)
		order_forget(a, order);
	if (m.id && move_terminal(m.state)) {
		work = xasprintf("%s/work/%s", a->state_dir, m.id);
		rm_rf(work);
	}
	move_free(&m);
}

/* ORDER is recorded before it runs (so the next heartbeat lists it); an
 * order already held is not run again */
static void take_order(struct agent *a, const zs_json *o, unsigned *movers)
{
	const char *id = zs_json_string_value(zs_json_get(o, "move"));
	const char *c = zs_json_string_value(zs_json_get(o, "container"));
	const char *to = zs_json_string_value(zs_json_get(o, "to"));
	const char *addr = zs_json_string_value(zs_json_get(o, "address"));
	const char *mode = zs_json_string_value(zs_json_get(o, "mode"));
	cleanup_error zs_error_t e = NULL;
	pid_t pid;

	if (id == NULL || c == NULL || to == NULL || !valid_name(id))
		return;
	if (order_held(a, id)) {
		zs_log("warning", "coordinator: move %s handed out again: already taken, not run twice", id);
		return;
	}
	if (order_record(a, id, c, to, 0, &e) < 0) {
		zs_log("error", "coordinator: move %s not taken: %s", id, zs_error_msg(e));
		return;
	}
	pid = fork();
	if (pid == 0) {
		signal(SIGTERM, SIG_IGN);
		run_order(a, id, c, to, addr, mode);
		_exit(0);
	}
	if (pid > 0)
		(*movers)++;
	else
		order_forget(a, id);
}

static void take_orders(struct agent *a, const zs_json *orders, unsigned *movers)
{
	for (size_t i = 0; i < zs_json_array_len(orders); i++)
		take_order(a, zs_json_array_at(orders, i), movers);
}

/* POST one heartbeat; its answer: interval, peers, orders */
static int beat(struct agent *a, const char *body, int *interval, unsigned *movers, zs_error_t *err)
{
	struct zs_coord_client c = client(a);
	cleanup_free char *ans = NULL;
	cleanup_json zs_json *j = NULL;
	int64_t hb = 0;

	if (zs_coord_call(&c, "POST", "/v1/heartbeat", body, &ans, err) < 0)
		return -1;
	if (zs_json_parse_buf(ans, "heartbeat answer", &j, err) < 0)
		return -1;
	if (zs_json_to_int64(zs_json_get(j, "heartbeat_s"), "heartbeat answer", "heartbeat_s", 0, &hb, err) == 0 &&
	    hb >= 1 && hb <= 3600)
		*interval = (int) hb;
	if (zs_json_is_array(zs_json_get(j, "peers"))) {
		int64_t v = 0;
		save_peers(a, zs_json_get(j, "peers"));
		if (zs_json_to_int64(zs_json_get(j, "peers_version"), "heartbeat answer", "peers_version", 0, &v,
				     err) == 0)
			peers_version = v;
	}
	if (!stop_asked || a->drain_timeout > 0)
		take_orders(a, zs_json_get(j, "orders"), movers);
	return 0;
}

static void reap_movers(unsigned *movers)
{
	while (*movers > 0 && waitpid(-1, NULL, WNOHANG) > 0)
		(*movers)--;
}

void coord_run(struct agent *a)
{
	struct sigaction sa = {.sa_handler = on_term};
	cleanup_free char *last = NULL;
	int interval = 3;
	time_t sent = 0, stop_at = 0;
	unsigned movers = 0;
	bool warned = false, said_stopping = false;

	sigaction(SIGTERM, &sa, NULL);
	cpu_load();
	for (;;) {
		size_t running = 0;
		cleanup_free char *inv = inventory(a, &running), *body = NULL;
		cleanup_error zs_error_t e = NULL;
		time_t now = time(NULL);
		bool stopping = stop_asked;

		reap_movers(&movers);
		orders_flush(a, report_once);
		if (stopping && stop_at == 0)
			stop_at = now + a->drain_timeout;
		if (last == NULL || strcmp(inv, last) != 0 || now - sent >= interval || (stopping && !said_stopping)) {
			said_stopping = stopping; /* tried at least once */
			body = heartbeat_body(a, inv, stopping);
			if (beat(a, body, &interval, &movers, &e) < 0) {
				if (!warned)
					zs_log("warning", "coordinator: %s", zs_error_msg(e));
				warned = true;
			} else {
				if (warned)
					zs_log("info", "coordinator %s: reachable again", a->coordinator);
				warned = false;
				free(last);
				last = steal_pointer(&inv);
				sent = now;
			}
		}
		if (said_stopping && ((running == 0 && movers == 0) || now >= stop_at))
			break;
		sleep(1);
	}
	while (movers > 0 && wait(NULL) > 0)
		movers--;
	zs_log("info", "coordinator link of node %s stopped", a->node);
}
