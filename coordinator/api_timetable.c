/* zanshin-api — class timetables: PUT /v1/timetable/ROOM with an iCalendar
 * file as the body imports it for ROOM (a room or node label), replacing the
 * room's previous one in one transaction; GET /v1/timetable[/ROOM]
 * [?from=T&to=T] lists the classes (default: the next 7 days); DELETE
 * /v1/timetable/ROOM removes the room's classes.  The rules are expanded
 * for a year from the import (timetables are registered per semester) into
 * timetable_events, which the scheduler and policies read. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_view.h"
#include "timetable.h"
#include "zanshin/utils.h"

#define TT_IMPORT_SPAN (366 * ZS_TT_DAY)

static int store_classes(struct coord *co, const char *room, const struct zs_tt_class *v, size_t n, zs_error_t *err)
{
	const char *p[] = {room};

	if (db_exec(co->db, "DELETE FROM timetable_events WHERE room = $1", p, 1, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *id = xasprintf("%s/%s/%lld", room, v[i].uid, (long long) v[i].start),
				  *s = xasprintf("%lld", (long long) v[i].start),
				  *e = xasprintf("%lld", (long long) v[i].end);
		const char *q[] = {id, room, v[i].summary, s, e};

		if (db_exec(co->db,
			    "INSERT INTO timetable_events(id, room, summary, starts, ends) VALUES ($1, $2, $3, $4, $5) "
			    "ON CONFLICT (id) DO NOTHING",
			    q, 5, NULL, err) < 0)
			return -1;
	}
	return 0;
}

int api_timetable_put(struct req *r, struct reply *rep)
{
	const char *room = r->parts[1];
	cleanup_error zs_error_t err = NULL;
	cleanup_tt zs_timetable *tt = NULL;
	cleanup_free struct zs_tt_class *v = NULL;
	cleanup_free char *name = xasprintf("timetable for %s", room), *detail = NULL;
	int64_t now = (int64_t) coord_now();
	size_t n;
	bool ok;

	if (!valid_node_name(room))
		return reply_error(rep, 400, "room `%s`: not a valid room or node label", room);
	if (zs_tt_parse(r->body, r->len, name, room, &tt, &err) < 0)
		return reply_bad(rep, err);
	n = zs_tt_classes(tt, now - ZS_TT_DAY, now + TT_IMPORT_SPAN, &v);
	if (n >= ZS_TT_MAX_OCC)
		return reply_error(rep, 400, "%s: more than %d classes in a year: not a class timetable", name,
				   ZS_TT_MAX_OCC - 1);
	detail = xasprintf("%zu events, %zu classes in the next year", zs_tt_event_count(tt), n);
	if (db_tx_begin(r->co->db, &err) < 0)
		return reply_internal(rep, err);
	ok = store_classes(r->co, room, v, n, &err) == 0 &&
	     audit(r->co, &r->who, "timetable.import", room, detail, &err) == 0;
	if (db_tx_end(r->co->db, ok, &err) < 0 || !ok)
		return reply_internal(rep, err);
	{
		cleanup_jgen zs_jgen *g = zs_jgen_new(false);

		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "room", room);
		zs_jgen_kv_int(g, "events", (long long) zs_tt_event_count(tt));
		zs_jgen_kv_int(g, "classes", (long long) n);
		zs_jgen_map_close(g);
		return reply_gen(rep, 200, g);
	}
}

int api_timetable_delete(struct req *r, struct reply *rep)
{
	const char *room = r->parts[1], *p[] = {room};
	cleanup_error zs_error_t err = NULL;
	cleanup_dbres struct db_result *res = NULL;
	bool ok;

	if (!valid_node_name(room))
		return reply_error(rep, 400, "room `%s`: not a valid room or node label", room);
	if (db_tx_begin(r->co->db, &err) < 0)
		return reply_internal(rep, err);
	ok = db_exec(r->co->db, "DELETE FROM timetable_events WHERE room = $1", p, 1, &res, &err) == 0 &&
	     (res->changed == 0 || audit(r->co, &r->who, "timetable.delete", room, NULL, &err) == 0);
	if (db_tx_end(r->co->db, ok, &err) < 0 || !ok)
		return reply_internal(rep, err);
	if (res->changed == 0)
		return reply_error(rep, 404, "no timetable for room `%s`", room);
	{
		cleanup_jgen zs_jgen *g = zs_jgen_new(false);

		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "room", room);
		zs_jgen_kv_int(g, "deleted", res->changed);
		zs_jgen_map_close(g);
		return reply_gen(rep, 200, g);
	}
}

static int time_arg(struct req *r, const char *key, int64_t def, int64_t *out, struct reply *rep)
{
	const char *v = req_query(r, key);
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	*out = strtoll(v, &end, 10);
	if (*v == '\0' || *end || *out < 0)
		return reply_error(rep, 400, "%s `%s`: seconds since the epoch", key, v), -1;
	return 0;
}

int api_timetable_get(struct req *r, struct reply *rep)
{
	const char *room = r->n_parts > 1 ? r->parts[1] : req_query(r, "room");
	int64_t now = (int64_t) coord_now(), from, to;
	cleanup_error zs_error_t err = NULL;
	cleanup_dbres struct db_result *res = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *fs = NULL, *ts = NULL;

	if (room && !valid_node_name(room))
		return reply_error(rep, 400, "room `%s`: not a valid room or node label", room);
	if (time_arg(r, "from", now - 3600, &from, rep) < 0 || time_arg(r, "to", now + 7 * ZS_TT_DAY, &to, rep) < 0)
		return 0;
	fs = xasprintf("%lld", (long long) from);
	ts = xasprintf("%lld", (long long) to);
	{
		const char *p[] = {room, fs, ts};

		if (db_exec(
			r->co->db,
			"SELECT room, summary, starts, ends FROM timetable_events WHERE (CAST($1 AS TEXT) IS NULL OR "
			"room = $1) AND ends > $2 AND starts < $3 ORDER BY starts, room",
			p, 3, &res, &err) < 0)
			return reply_internal(rep, err);
	}
	zs_jgen_map_open(g);
	zs_jgen_kv_int(g, "from", from);
	zs_jgen_kv_int(g, "to", to);
	zs_jgen_key(g, "classes");
	zs_jgen_array_open(g);
	for (size_t i = 0; i < res->rows; i++) {
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "room", db_cell(res, i, "room"));
		zs_jgen_kv_string(g, "summary", db_cell(res, i, "summary"));
		zs_jgen_kv_int(g, "start", atoll(db_cell(res, i, "starts")));
		zs_jgen_kv_int(g, "end", atoll(db_cell(res, i, "ends")));
		zs_jgen_map_close(g);
	}
	zs_jgen_array_close(g);
	zs_jgen_map_close(g);
	return reply_gen(rep, 200, g);
}
