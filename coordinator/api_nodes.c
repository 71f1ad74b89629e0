/* zanshin-api — nodes: the list, one node, drain/undrain, and the agents'
 * heartbeats (load, containers, remnant inventory), checked field by
 * field before anything is stored; nodes that fall silent are marked
 * down. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "zanshin/utils.h"

#define HB "heartbeat"
#define HB_MAX_ITEMS 100000

static void node_json(zs_jgen *g, const struct db_result *r, size_t i)
{
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "name", db_cell(r, i, "name"));
	zs_jgen_kv_string(g, "address", db_cell(r, i, "address"));
	zs_jgen_kv_string(g, "state", db_cell(r, i, "state"));
	zs_jgen_key(g, "draining");
	zs_jgen_bool(g, atoi(db_cell(r, i, "draining")) != 0);
	zs_jgen_key(g, "stopping");
	zs_jgen_bool(g, atoi(db_cell(r, i, "stopping")) != 0);
	zs_jgen_kv_string(g, "room", db_cell(r, i, "room"));
	zs_jgen_key(g, "cpu");
	zs_jgen_double(g, atof(db_cell(r, i, "cpu")), 3);
	zs_jgen_kv_int(g, "mem_used", atoll(db_cell(r, i, "mem_used")));
	zs_jgen_kv_int(g, "mem_total", atoll(db_cell(r, i, "mem_total")));
	zs_jgen_kv_int(g, "containers", atoll(db_cell(r, i, "n_containers")));
	zs_jgen_kv_int(g, "generations", atoll(db_cell(r, i, "n_generations")));
	zs_jgen_key(g, "last_seen");
	zs_jgen_double(g, atof(db_cell(r, i, "last_seen")), 3);
	zs_jgen_map_close(g);
}

#define NODE_SELECT                                                                                                    \
	"SELECT n.name, n.address, n.state, n.draining, n.stopping, n.room, n.cpu, n.mem_used, n.mem_total, "          \
	"n.last_seen, (SELECT COUNT(*) FROM containers c WHERE c.node = n.name) AS n_containers, "                     \
	"(SELECT COUNT(*) FROM remnants g WHERE g.node = n.name) AS n_generations FROM nodes n "

int api_nodes(struct req *r, struct reply *rep)
{
	cleanup_dbres struct db_result *res = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t err = NULL;

	if (db_exec(r->co->db, NODE_SELECT "ORDER BY n.name", NULL, 0, &res, &err) < 0)
		return reply_internal(rep, err);
	zs_jgen_map_open(g);
	zs_jgen_key(g, "nodes");
	zs_jgen_array_open(g);
	for (size_t i = 0; i < res->rows; i++)
		node_json(g, res, i);
	zs_jgen_array_close(g);
	zs_jgen_map_close(g);
	return reply_gen(rep, 200, g);
}

int api_node(struct req *r, struct reply *rep)
{
	const char *name = r->parts[1];
	const char *p[] = {name};
	cleanup_dbres struct db_result *res = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t err = NULL;

	if (!valid_node_name(name))
		return reply_error(rep, 400, "node `%s`: not a valid node name", name);
	if (db_exec(r->co->db, NODE_SELECT "WHERE n.name = $1", p, 1, &res, &err) < 0)
		return reply_internal(rep, err);
	if (res->rows == 0)
		return reply_error(rep, 404, "no node `%s`", name);
	node_json(g, res, 0);
	return reply_gen(rep, 200, g);
}

int api_drain(struct req *r, struct reply *rep)
{
	const char *name = r->parts[1];
	bool drain = strcmp(r->parts[2], "drain") == 0;
	const char *p[] = {name, drain ? "1" : "0"};
	cleanup_dbres struct db_result *res = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t err = NULL;
	bool ok;

	if (!valid_node_name(name))
		return reply_error(rep, 400, "node `%s`: not a valid node name", name);
	if (r->len > 0 && strspn(r->body, " \t\r\n{}") != r->len)
		return reply_error(rep, 400, "%s: takes no body (or {})", r->path);
	if (db_tx_begin(r->co->db, &err) < 0)
		return reply_internal(rep, err);
	ok = db_exec(r->co->db, "UPDATE nodes SET draining = $2 WHERE name = $1", p, 2, &res, &err) == 0;
	if (ok && res->changed == 1)
		ok = audit(r->co, &r->who, drain ? "node.drain" : "node.undrain", name, NULL, &err) == 0;
	if (db_tx_end(r->co->db, ok && res->changed == 1, &err) < 0 || !ok)
		return reply_internal(rep, err);
	if (res->changed != 1)
		return reply_error(rep, 404, "no node `%s`", name);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "node", name);
	zs_jgen_key(g, "draining");
	zs_jgen_bool(g, drain);
	zs_jgen_map_close(g);
	return reply_gen(rep, 200, g);
}

/* ---- heartbeats ---- */

struct hb_container {
	char *id, *state, *bundle_digest;
	int64_t memory;
};
struct hb_gen {
	char *container, *image_id, *parent_id;
	int64_t size;
	double created;
};
struct hb_bundle {
	char *container, *digest, *rootfs_digest;
};
struct hb {
	char *address, *room;
	char *inventory;       /* sha256 of containers, remnants, bundles as sent */
	int64_t peers_version; /* of the peer list the agent holds (0: none) */
	double cpu;
	int64_t mem_used, mem_total;
	bool stopping;
	struct hb_container *c;
	size_t n_c;
	struct hb_gen *g;
	size_t n_g;
	struct hb_bundle *b;
	size_t n_b;
	struct hb_known known; /* moves_reconcile.c */
};

static void hb_free(struct hb *h)
{
	for (size_t i = 0; i < h->n_c; i++)
		free(h->c[i].id), free(h->c[i].state), free(h->c[i].bundle_digest);
	for (size_t i = 0; i < h->n_g; i++)
		free(h->g[i].container), free(h->g[i].image_id), free(h->g[i].parent_id);
	for (size_t i = 0; i < h->n_b; i++)
		free(h->b[i].container), free(h->b[i].digest), free(h->b[i].rootfs_digest);
	free(h->c), free(h->g), free(h->b), free(h->address), free(h->room), free(h->inventory);
	reconcile_free(&h->known);
}

static bool valid_digest(const char *s)
{
	return s && strlen(s) >= 8 && strlen(s) <= 128 && strspn(s, "0123456789abcdefABCDEF:sha256-k") == strlen(s);
}

static int check_id(const char *v, const char *field, size_t i, zs_error_t *err)
{
	if (!valid_container_id(v))
		return zs_make_error(err, -EINVAL, HB ": %s[%zu]: `%s` is not a valid container id", field, i, v);
	return 0;
}

static int parse_containers(const zs_json *arr, struct hb *h, zs_error_t *err)
{
	static const char *const keys[] = {"id", "state", "memory", "bundle_digest", NULL};
	size_t n = zs_json_array_len(arr);

	h->c = xzalloc((n + 1) * sizeof(*h->c));
	for (size_t i = 0; i < n; i++, h->n_c++) {
		zs_json *o = zs_json_array_at(arr, i);
		struct hb_container *c = &h->c[i];
		char f[64];
		snprintf(f, sizeof(f), "containers[%zu]", i);
		if (json_only_keys(o, f, keys, err) < 0 ||
		    zs_json_to_string(zs_json_get(o, "id"), HB, "containers[].id", ZS_JSON_REQUIRED, &c->id, err) < 0 ||
		    zs_json_to_string(zs_json_get(o, "state"), HB, "containers[].state", 0, &c->state, err) < 0 ||
		    zs_json_to_int64(zs_json_get(o, "memory"), HB, "containers[].memory", 0, &c->memory, err) < 0 ||
		    zs_json_to_string(zs_json_get(o, "bundle_digest"), HB, "containers[].bundle_digest", 0,
				      &c->bundle_digest, err) < 0 ||
		    check_id(c->id, "containers", i, err) < 0)
			return -1;
		if (c->memory < 0)
			return zs_make_error(err, -EINVAL, HB ": containers[%zu].memory: negative", i);
		if (c->state &&
		    (strlen(c->state) > 32 || strspn(c->state, "abcdefghijklmnopqrstuvwxyz-") != strlen(c->state)))
			return zs_make_error(err, -EINVAL, HB ": containers[%zu].state: not a container state", i);
		if (c->bundle_digest && !valid_digest(c->bundle_digest))
			return zs_make_error(err, -EINVAL, HB ": containers[%zu].bundle_digest: not a digest", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(h->c[j].id, c->id) == 0)
				return zs_make_error(err, -EINVAL, HB ": containers: `%s` twice", c->id);
	}
	return 0;
}

static int parse_remnants(const zs_json *arr, struct hb *h, zs_error_t *err)
{
	static const char *const keys[] = {"container", "image_id", "parent_id", "size", "created", NULL};
	size_t n = zs_json_array_len(arr);

	h->g = xzalloc((n + 1) * sizeof(*h->g));
	for (size_t i = 0; i < n; i++, h->n_g++) {
		zs_json *o = zs_json_array_at(arr, i);
		struct hb_gen *g = &h->g[i];
		char f[64];
		snprintf(f, sizeof(f), "remnants[%zu]", i);
		if (json_only_keys(o, f, keys, err) < 0 ||
		    zs_json_to_string(zs_json_get(o, "container"), HB, "remnants[].container", ZS_JSON_REQUIRED,
				      &g->container, err) < 0 ||
		    zs_json_to_string(zs_json_get(o, "image_id"), HB, "remnants[].image_id", ZS_JSON_REQUIRED,
				      &g->image_id, err) < 0 ||
		    zs_json_to_string(zs_json_get(o, "parent_id"), HB, "remnants[].parent_id", 0, &g->parent_id, err) <
			0 ||
		    zs_json_to_int64(zs_json_get(o, "size"), HB, "remnants[].size", ZS_JSON_REQUIRED, &g->size, err) <
			0 ||
		    zs_json_to_double(zs_json_get(o, "created"), HB, "remnants[].created", 0, &g->created, err) < 0 ||
		    check_id(g->container, "remnants", i, err) < 0)
			return -1;
		if (g->size < 0)
			return zs_make_error(err, -EINVAL, HB ": remnants[%zu].size: negative", i);
		if (!valid_node_name(g->image_id) || (g->parent_id && !valid_node_name(g->parent_id)))
			return zs_make_error(err, -EINVAL, HB ": remnants[%zu]: not a valid image id", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(h->g[j].container, g->container) == 0 && strcmp(h->g[j].image_id, g->image_id) == 0)
				return zs_make_error(err, -EINVAL, HB ": remnants: generation %s of %s twice",
						     g->image_id, g->container);
	}
	return 0;
}

/* a generation's parent must be one this node reports for that container */
static int check_lineage(const struct hb *h, zs_error_t *err)
{
	for (size_t i = 0; i < h->n_g; i++) {
		size_t j;
		if (h->g[i].parent_id == NULL)
			continue;
		for (j = 0; j < h->n_g; j++)
			if (strcmp(h->g[j].container, h->g[i].container) == 0 &&
			    strcmp(h->g[j].image_id, h->g[i].parent_id) == 0)
				break;
		if (j == h->n_g)
			return zs_make_error(err, -EINVAL,
					     HB ": remnants[%zu]: generation %s of %s has parent %s, which is not "
						"reported (unknown generation)",
					     i, h->g[i].image_id, h->g[i].container, h->g[i].parent_id);
	}
	return 0;
}

static int parse_bundles(const zs_json *arr, struct hb *h, zs_error_t *err)
{
	static const char *const keys[] = {"container", "digest", "rootfs_digest", NULL};
	size_t n = zs_json_array_len(arr);

	h->b = xzalloc((n + 1) * sizeof(*h->b));
	for (size_t i = 0; i < n; i++, h->n_b++) {
		zs_json *o = zs_json_array_at(arr, i);
		struct hb_bundle *b = &h->b[i];
		char f[64];
		snprintf(f, sizeof(f), "bundles[%zu]", i);
		if (json_only_keys(o, f, keys, err) < 0 ||
		    zs_json_to_string(zs_json_get(o, "container"), HB, "bundles[].container", 0, &b->container, err) <
			0 ||
		    zs_json_to_string(zs_json_get(o, "digest"), HB, "bundles[].digest", ZS_JSON_REQUIRED, &b->digest,
				      err) < 0 ||
		    zs_json_to_string(zs_json_get(o, "rootfs_digest"), HB, "bundles[].rootfs_digest", 0,
				      &b->rootfs_digest, err) < 0 ||
		    (b->container && check_id(b->container, "bundles", i, err) < 0))
			return -1;
		if (b->container == NULL)
			b->container = xstrdup("");
		if (!valid_digest(b->digest) || (b->rootfs_digest && !valid_digest(b->rootfs_digest)))
			return zs_make_error(err, -EINVAL, HB ": bundles[%zu]: not a digest", i);
		for (size_t j = 0; j < i; j++)
			if (strcmp(h->b[j].container, b->container) == 0 && strcmp(h->b[j].digest, b->digest) == 0)
				return zs_make_error(err, -EINVAL, HB ": bundles: %s of `%s` twice", b->digest,
						     b->container);
	}
	return 0;
}

static int parse_array(const zs_json *o, const char *key, int (*fn)(const zs_json *, struct hb *, zs_error_t *),
		       struct hb *h, zs_error_t *err)
{
	zs_json *a = zs_json_get(o, key);

	if (a == NULL)
		return 0;
	if (zs_json_check_array(a, HB, key, 0, err) < 0)
		return -1;
	if (zs_json_array_len(a) > HB_MAX_ITEMS)
		return zs_make_error(err, -E2BIG, HB ": %s: more than %d entries", key, HB_MAX_ITEMS);
	return fn(a, h, err);
}

/* what the inventory rows are made of, to skip rewriting them unchanged */
static char *inventory_digest(const zs_json *o)
{
	static const char *const keys[] = {"containers", "remnants", "bundles"};
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *text = NULL;

	zs_jgen_array_open(g);
	for (size_t i = 0; i < 3; i++) {
		if (zs_json_get(o, keys[i]))
			zs_jgen_value(g, zs_json_get(o, keys[i]));
		else
			zs_jgen_null(g);
	}
	zs_jgen_array_close(g);
	text = zs_jgen_result(g, NULL);
	return sha256_hex(text);
}

static int hb_parse(const char *body, struct hb *h, zs_error_t *err)
{
	static const char *const keys[] = {"address",	"room",		 "cpu",	       "mem_used",
					   "mem_total", "stopping",	 "containers", "remnants",
					   "bundles",	"peers_version", "moves",      NULL};
	cleanup_json zs_json *o = NULL;

	if (zs_json_parse_buf(body, HB, &o, err) < 0 || json_only_keys(o, HB, keys, err) < 0 ||
	    zs_json_to_string(zs_json_get(o, "address"), HB, "address", ZS_JSON_REQUIRED, &h->address, err) < 0 ||
	    zs_json_to_string(zs_json_get(o, "room"), HB, "room", 0, &h->room, err) < 0 ||
	    zs_json_to_double(zs_json_get(o, "cpu"), HB, "cpu", ZS_JSON_REQUIRED, &h->cpu, err) < 0 ||
	    zs_json_to_int64(zs_json_get(o, "mem_used"), HB, "mem_used", ZS_JSON_REQUIRED, &h->mem_used, err) < 0 ||
	    zs_json_to_int64(zs_json_get(o, "mem_total"), HB, "mem_total", ZS_JSON_REQUIRED, &h->mem_total, err) < 0 ||
	    zs_json_to_bool(zs_json_get(o, "stopping"), HB, "stopping", 0, &h->stopping, err) < 0 ||
	    zs_json_to_int64(zs_json_get(o, "peers_version"), HB, "peers_version", 0, &h->peers_version, err) < 0 ||
	    parse_array(o, "containers", parse_containers, h, err) < 0 ||
	    parse_array(o, "remnants", parse_remnants, h, err) < 0 ||
	    parse_array(o, "bundles", parse_bundles, h, err) < 0 || check_lineage(h, err) < 0 ||
	    (zs_json_get(o, "moves") && reconcile_parse(zs_json_get(o, "moves"), &h->known, err) < 0))
		return -1;
	if (h->cpu < 0 || h->cpu > 1)
		return zs_make_error(err, -EINVAL, HB ": cpu: %g is not a load between 0 and 1", h->cpu);
	if (h->mem_total <= 0 || h->mem_used < 0 || h->mem_used > h->mem_total)
		return zs_make_error(err, -EINVAL, HB ": mem_used %lld / mem_total %lld: not a memory use",
				     (long long) h->mem_used, (long long) h->mem_total);
	if (strlen(h->address) > 300 || strpbrk(h->address, " /\"\\") || strchr(h->address, ':') == NULL)
		return zs_make_error(err, -EINVAL, HB ": address: `%s` is not HOST:PORT", h->address);
	if (h->room && !valid_node_name(h->room))
		return zs_make_error(err, -EINVAL, HB ": room: `%s` is not a valid room name", h->room);
	h->inventory = inventory_digest(o);
	return 0;
}

/* the peer list agents hold is stale: a node came, went or moved */
static int peers_changed(struct coord *co, zs_error_t *err)
{
	return db_exec(co->db, "UPDATE meta SET value = value + 1 WHERE key = 'peers_version'", NULL, 0, NULL, err);
}

static int hb_store_node(struct coord *co, const char *node, const struct hb *h, const char *now, bool *fresh,
			 bool *same, zs_error_t *err)
{
	cleanup_free char *cpu = fmt_double(h->cpu), *mu = xasprintf("%lld", (long long) h->mem_used),
			  *mt = xasprintf("%lld", (long long) h->mem_total);
	const char *p[] = {node, h->address, h->room, cpu, mu, mt, h->stopping ? "1" : "0", now, h->inventory};
	cleanup_dbres struct db_result *prev = NULL;
	const char *inv;

	if (db_exec(co->db, "SELECT state, inventory, address FROM nodes WHERE name = $1", p, 1, &prev, err) < 0)
		return -1;
	*fresh = prev->rows == 0 || strcmp(db_cell(prev, 0, "state"), "up") != 0;
	inv = prev->rows ? db_cell(prev, 0, "inventory") : NULL;
	*same = !*fresh && inv && strcmp(inv, h->inventory) == 0;
	if ((*fresh || strcmp(db_cell(prev, 0, "address"), h->address) != 0) && peers_changed(co, err) < 0)
		return -1;
	return db_exec(
	    co->db,
	    "INSERT INTO nodes(name, address, state, room, cpu, mem_used, mem_total, stopping, registered, "
	    "last_seen, inventory) VALUES ($1, $2, 'up', $3, $4, $5, $6, $7, $8, $8, $9) ON CONFLICT (name) DO "
	    "UPDATE SET address = excluded.address, state = 'up', room = COALESCE(excluded.room, nodes.room), "
	    "cpu = excluded.cpu, mem_used = excluded.mem_used, mem_total = excluded.mem_total, "
	    "stopping = excluded.stopping, last_seen = excluded.last_seen, inventory = excluded.inventory",
	    p, 9, NULL, err);
}

/* a heartbeat's rows as parameters of db_insert_rows: COLS per row, the
 * texts they point to kept in OWN */
struct hb_rows {
	const char **p;
	char **own;
	size_t n, n_own;
};

static void rows_init(struct hb_rows *r, size_t values)
{
	r->p = xzalloc((values + 1) * sizeof(*r->p));
	r->own = xzalloc((values + 1) * sizeof(*r->own));
	r->n = r->n_own = 0;
}

static void rows_add(struct hb_rows *r, const char *v)
{
	r->p[r->n++] = v;
}

static void rows_add_own(struct hb_rows *r, char *v)
{
	r->own[r->n_own++] = v;
	rows_add(r, v);
}

static void rows_free(struct hb_rows *r)
{
	for (size_t i = 0; i < r->n_own; i++)
		free(r->own[i]);
	free(r->p);
	free(r->own);
}

static int store_containers(struct coord *co, const char *node, const struct hb *h, const char *now, zs_error_t *err)
{
	struct hb_rows r;
	int ret;

	rows_init(&r, h->n_c * 6);
	for (size_t i = 0; i < h->n_c; i++) {
		rows_add(&r, h->c[i].id), rows_add(&r, node), rows_add(&r, h->c[i].state);
		rows_add_own(&r, xasprintf("%lld", (long long) h->c[i].memory));
		rows_add(&r, h->c[i].bundle_digest), rows_add(&r, now);
	}
	ret = db_insert_rows(
	    co->db, "INSERT INTO containers(id, node, state, memory, bundle_digest, updated)",
	    "ON CONFLICT (id) DO UPDATE SET node = excluded.node, state = excluded.state, "
	    "memory = excluded.memory, bundle_digest = excluded.bundle_digest, updated = excluded.updated",
	    6, r.p, h->n_c, err);
	rows_free(&r);
	return ret;
}

static int store_remnants(struct coord *co, const char *node, const struct hb *h, zs_error_t *err)
{
	struct hb_rows r;
	int ret;

	rows_init(&r, h->n_g * 6);
	for (size_t i = 0; i < h->n_g; i++) {
		rows_add(&r, node), rows_add(&r, h->g[i].container), rows_add(&r, h->g[i].image_id);
		rows_add(&r, h->g[i].parent_id);
		rows_add_own(&r, xasprintf("%lld", (long long) h->g[i].size));
		if (h->g[i].created > 0)
			rows_add_own(&r, fmt_double(h->g[i].created));
		else
			rows_add(&r, NULL);
	}
	ret = db_insert_rows(co->db, "INSERT INTO remnants(node, container, image_id, parent_id, size, created)", "", 6,
			     r.p, h->n_g, err);
	rows_free(&r);
	return ret;
}

static int store_bundles(struct coord *co, const char *node, const struct hb *h, zs_error_t *err)
{
	struct hb_rows r;
	int ret;

	rows_init(&r, h->n_b * 4);
	for (size_t i = 0; i < h->n_b; i++) {
		rows_add(&r, node), rows_add(&r, h->b[i].container), rows_add(&r, h->b[i].digest);
		rows_add(&r, h->b[i].rootfs_digest);
	}
	ret = db_insert_rows(co->db, "INSERT INTO bundles(node, container, digest, rootfs_digest)", "", 4, r.p, h->n_b,
			     err);
	rows_free(&r);
	return ret;
}

/* A container a move to this node reported done less than this long ago
 * stays on it even when the node's heartbeat does not list it: the agent
 * may have taken that heartbeat's inventory before the restore ended (the
 * container's location would be lost for a beat, and a move ordered then
 * refused). */
#define MOVED_GRACE_S 15.0

/* a changed inventory replaces the node's rows: a few statements, not
 * one per row (each a round trip on PostgreSQL) */
static int hb_store_inventory(struct coord *co, const char *node, const struct hb *h, const char *now, zs_error_t *err)
{
	cleanup_free char *since = fmt_double(atof(now) - MOVED_GRACE_S);
	const char *pn[] = {node}, *pc[] = {node, since};

	if (db_exec(
		co->db,
		"DELETE FROM containers WHERE node = $1 AND id NOT IN (SELECT container FROM moves WHERE target = $1 "
		"AND state = 'done' AND updated > CAST($2 AS DOUBLE PRECISION))",
		pc, 2, NULL, err) < 0 ||
	    db_exec(co->db, "DELETE FROM remnants WHERE node = $1", pn, 1, NULL, err) < 0 ||
	    db_exec(co->db, "DELETE FROM bundles WHERE node = $1", pn, 1, NULL, err) < 0)
		return -1;
	return store_containers(co, node, h, now, err) < 0 || store_remnants(co, node, h, err) < 0 ||
		       store_bundles(co, node, h, err) < 0
		   ? -1
		   : 0;
}

/* the peers, unless the agent holds this version (CUR) of the list already */
static int peers_list_json(struct coord *co, const char *self, int64_t have, long long cur, zs_jgen *g, zs_error_t *err)
{
	cleanup_dbres struct db_result *res = NULL;
	const char *p[] = {self};

	zs_jgen_kv_int(g, "peers_version", cur);
	if (have == cur)
		return 0;
	zs_jgen_key(g, "peers");
	zs_jgen_array_open(g);
	if (db_exec(co->db, "SELECT name, address FROM nodes WHERE name <> $1 AND state = 'up' ORDER BY name", p, 1,
		    &res, err) < 0)
		return -1;
	if (res)
		for (size_t i = 0; i < res->rows; i++) {
			zs_jgen_map_open(g);
			zs_jgen_kv_string(g, "name", db_cell(res, i, "name"));
			zs_jgen_kv_string(g, "address", db_cell(res, i, "address"));
			zs_jgen_map_close(g);
		}
	zs_jgen_array_close(g);
	return 0;
}

static int peers_json(struct coord *co, const char *self, int64_t have, zs_jgen *g, zs_error_t *err)
{
	cleanup_dbres struct db_result *v = NULL;

	if (db_exec(co->db, "SELECT value FROM meta WHERE key = 'peers_version'", NULL, 0, &v, err) < 0)
		return -1;
	return peers_list_json(co, self, have, v->rows ? atoll(db_cell(v, 0, "value")) : 0, g, err);
}

/* The common heartbeat: the node is up, at the same address, with the
 * inventory it reported last, and no order waits for it.  One statement
 * (one round trip, no transaction) records its load and answers the
 * peer list's version; *DONE false: the full path below, in a
 * transaction. */
static int hb_fast(struct coord *co, const char *node, const struct hb *h, const char *now, zs_jgen *g, bool *done,
		   zs_error_t *err)
{
	cleanup_free char *cpu = fmt_double(h->cpu), *mu = xasprintf("%lld", (long long) h->mem_used),
			  *mt = xasprintf("%lld", (long long) h->mem_total);
	const char *p[] = {node, h->address,   h->room,	     cpu, mu, mt, h->stopping ? "1" : "0",
			   now,	 h->inventory, UNACKED_ERROR};
	cleanup_dbres struct db_result *res = NULL;

	*done = false;
	/* not when an order waits, or moves_reconcile() has something to
	 * compare: orders the agent lists, or moves of this node open or
	 * failed unacknowledged */
	if (h->known.n > 0)
		return 0;
	if (db_exec_write(
		co->db,
		"UPDATE nodes SET room = COALESCE($3, room), cpu = $4, mem_used = $5, mem_total = $6, "
		"stopping = $7, last_seen = $8 WHERE name = $1 AND state = 'up' AND address = $2 AND "
		"inventory = $9 AND NOT EXISTS (SELECT 1 FROM moves WHERE source = $1 AND reason <> 'local' AND "
		"(state IN ('pending', 'ordered', 'running') OR (state = 'failed' AND error = $10))) "
		"RETURNING (SELECT value FROM meta WHERE key = 'peers_version') AS peers_version",
		p, 10, &res, err) < 0)
		return -1;
	if (res->rows != 1)
		return 0;
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "node", node);
	zs_jgen_kv_int(g, "heartbeat_s", co->heartbeat_s);
	if (peers_list_json(co, node, h->peers_version, atoll(db_cell(res, 0, "peers_version")), g, err) < 0)
		return -1;
	zs_jgen_key(g, "orders");
	zs_jgen_array_open(g);
	zs_jgen_array_close(g);
	zs_jgen_map_close(g);
	*done = true;
	return 0;
}

static int hb_full(struct req *r, const struct hb *h, const char *now, zs_jgen *g, zs_error_t *err)
{
	const char *node = r->who.name;
	bool fresh = false, same = false, ok;

	/* a node's heartbeat writes that node's rows: beside other nodes' */
	if (db_tx_begin_concurrent(r->co->db, err) < 0)
		return -1;
	ok = hb_store_node(r->co, node, h, now, &fresh, &same, err) == 0 &&
	     (same || hb_store_inventory(r->co, node, h, now, err) == 0) &&
	     (!fresh || audit(r->co, &r->who, "node.up", node, h->address, err) == 0);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "node", node);
	zs_jgen_kv_int(g, "heartbeat_s", r->co->heartbeat_s);
	if (ok) {
		ok = peers_json(r->co, node, h->peers_version, g, err) == 0;
		zs_jgen_key(g, "orders");
		zs_jgen_array_open(g);
		ok = ok && moves_reconcile(r->co, node, &h->known, now, err) == 0 &&
		     moves_take_orders(r->co, node, g, err) == 0;
		zs_jgen_array_close(g);
	}
	zs_jgen_map_close(g);
	return db_tx_end(r->co->db, ok, err) < 0 || !ok ? -1 : 0;
}

int api_heartbeat(struct req *r, struct reply *rep)
{
	struct hb h = {0};
	cleanup_error zs_error_t err = NULL;
	cleanup_free char *now = fmt_double(coord_now());
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	bool done = false;
	int ret;

	if (hb_parse(r->body, &h, &err) < 0) {
		hb_free(&h);
		return reply_bad(rep, err);
	}
	ret = hb_fast(r->co, r->who.name, &h, now, g, &done, &err);
	if (ret == 0 && !done) {
		zs_jgen_free(g);
		g = zs_jgen_new(false);
		ret = hb_full(r, &h, now, g, &err);
	}
	hb_free(&h);
	if (ret < 0)
		return reply_internal(rep, err);
	return reply_gen(rep, 200, g);
}

/* Orders a node that went down never took fail (they would block the
 * container's next move); taken ones wait for the agent's report. */
static int fail_untaken(struct coord *co, const char *node, zs_error_t *err)
{
	cleanup_free char *now = fmt_double(coord_now());
	const char *p[] = {node, now};

	return db_exec(
	    co->db,
	    "UPDATE moves SET state = 'failed', error = 'the source node went down before taking the order', "
	    "updated = $2 WHERE source = $1 AND state = 'pending'",
	    p, 2, NULL, err);
}

int nodes_mark_down(struct coord *co, zs_error_t *err)
{
	cleanup_free char *limit = fmt_double(coord_now() - co->node_timeout);
	const char *p[] = {limit};
	struct who me = {.role = WHO_ADMIN, .name = "coordinator"};
	cleanup_dbres struct db_result *res = NULL;
	bool ok;

	if (db_tx_begin(co->db, err) < 0)
		return -1;
	ok = db_exec(co->db, "UPDATE nodes SET state = 'down' WHERE state = 'up' AND last_seen < $1 RETURNING name", p,
		     1, &res, err) == 0;
	if (ok && res->rows > 0)
		ok = peers_changed(co, err) == 0;
	for (size_t i = 0; ok && i < res->rows; i++)
		ok = audit(co, &me, "node.down", db_cell(res, i, "name"), "missed heartbeats", err) == 0 &&
		     fail_untaken(co, db_cell(res, i, "name"), err) == 0 &&
		     moves_fail_unacked(co, db_cell(res, i, "name"), err) == 0;
	return db_tx_end(co->db, ok, err) < 0 || !ok ? -1 : 0;
}
