/* zanshin cluster place ID [--explain] [--from NODE]: where the coordinator's
 * scheduler would put a container, each node's terms of
 * cost = k(C+M) - l(P+B) - mL and why others are left out;
 * zanshin cluster timetable import FILE.ics --room R | show [ROOM] |
 * delete ROOM: the class timetable (iCalendar). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster_sched.h"
#include "zanshin/json.h"
#include "zanshin/utils.h"

static double num(const zs_json *o, const char *k)
{
	const zs_json *v = zs_json_get(o, k);
	zs_error_t e = NULL;
	double d = 0;

	if (v && zs_json_is_number(v) && zs_json_to_double(v, "answer", k, 0, &d, &e) < 0)
		d = 0;
	zs_error_release(&e);
	return d;
}

static const char *str(const zs_json *o, const char *k)
{
	const zs_json *v = zs_json_get(o, k);

	return v && zs_json_is_string(v) ? zs_json_string_value(v) : "-";
}

static void place_table(const zs_json *j, bool explain)
{
	const zs_json *w = zs_json_get(j, "weights"), *a = zs_json_get(j, "nodes");

	printf("container %s on %s -> %s\n", str(j, "container"), str(j, "source"), str(j, "target"));
	if (zs_json_get(j, "error") && zs_json_is_string(zs_json_get(j, "error")))
		printf("  %s\n", str(j, "error"));
	if (!explain || a == NULL)
		return;
	printf("cost = %g(C+M) - %g(P+B) - %gL; lead time %.0f s\n", num(w, "k"), num(w, "l"), num(w, "m"),
	       num(w, "lead_s"));
	printf("%-20s %6s %6s %6s %6s %6s %8s  %s\n", "NODE", "C", "M", "P", "B", "L", "COST", "");
	for (size_t i = 0; i < zs_json_array_len(a); i++) {
		const zs_json *e = zs_json_array_at(a, i);

		printf("%-20s %6.3f %6.3f %6.3f %6.0f %6.3f %8.4f  %s\n", str(e, "node"), num(e, "C"), num(e, "M"),
		       num(e, "P"), num(e, "B"), num(e, "L"), num(e, "cost"), str(e, "why"));
	}
}

int zs_cluster_place(const struct zs_coord_client *c, bool json, bool explain, const char *from, const char *id,
		     zs_error_t *err)
{
	cleanup_free char *path =
	    xasprintf("/v1/place/%s?explain=%d%s%s", id, explain ? 1 : 0, from ? "&from=" : "", from ? from : "");
	cleanup_free char *ans = NULL;
	cleanup_json zs_json *j = NULL;

	if (zs_coord_call(c, "GET", path, NULL, &ans, err) < 0)
		return zs_error_wrap(err, "place %s", id);
	if (json) {
		printf("%s\n", ans);
		return 0;
	}
	if (zs_json_parse_buf(ans, "coordinator answer", &j, err) < 0)
		return -1;
	place_table(j, explain);
	return zs_json_is_null(zs_json_get(j, "target"))
		   ? zs_make_error(err, -ENOENT, "place %s: %s", id, str(j, "error"))
		   : 0;
}

static void when(double t, char *buf, size_t len)
{
	time_t s = (time_t) t;
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
}

static void timetable_table(const zs_json *j)
{
	const zs_json *a = zs_json_get(j, "classes");

	printf("%-16s %-22s %-22s %s\n", "ROOM", "STARTS", "ENDS", "CLASS");
	for (size_t i = 0; a && i < zs_json_array_len(a); i++) {
		const zs_json *e = zs_json_array_at(a, i);
		char s[32], t[32];

		when(num(e, "start"), s, sizeof(s));
		when(num(e, "end"), t, sizeof(t));
		printf("%-16s %-22s %-22s %s\n", str(e, "room"), s, t, str(e, "summary"));
	}
}

static int tt_import(const struct zs_coord_client *c, bool json, const char *room, const char *file, zs_error_t *err)
{
	cleanup_free char *text = NULL, *ans = NULL, *path = NULL;
	cleanup_json zs_json *j = NULL;
	size_t len = 0;

	if (room == NULL)
		return zs_make_error(err, -EINVAL, "cluster timetable import: --room ROOM is required");
	if (read_file(file, &text, &len, err) < 0)
		return zs_error_wrap(err, "timetable import");
	if (strlen(text) != len)
		return zs_make_error(err, -EINVAL, "%s: not an iCalendar file (it contains NUL bytes)", file);
	path = xasprintf("/v1/timetable/%s", room);
	if (zs_coord_call(c, "PUT", path, text, &ans, err) < 0)
		return zs_error_wrap(err, "timetable import %s", file);
	if (json) {
		printf("%s\n", ans);
		return 0;
	}
	if (zs_json_parse_buf(ans, "coordinator answer", &j, err) < 0)
		return -1;
	printf("room %s: %.0f events, %.0f classes in the next year\n", str(j, "room"), num(j, "events"),
	       num(j, "classes"));
	return 0;
}

/* room names go into URLs */
static int check_room(const char *r, zs_error_t *err)
{
	size_t len = r ? strlen(r) : 1;

	if (r && (len == 0 || len > 128 || r[0] == '.' ||
		  strspn(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-") != len))
		return zs_make_error(err, -EINVAL, "cluster timetable: room `%s`: letters, digits, _ + . - only", r);
	return 0;
}

int zs_cluster_timetable(const struct zs_coord_client *c, bool json, const char *room, int nargs, char **args,
			 zs_error_t *err)
{
	cleanup_free char *ans = NULL, *path = NULL;
	cleanup_json zs_json *j = NULL;

	if (check_room(room, err) < 0 || (nargs == 2 && strcmp(args[0], "import") != 0 && check_room(args[1], err) < 0))
		return -1;
	if (nargs == 2 && strcmp(args[0], "import") == 0)
		return tt_import(c, json, room, args[1], err);
	if (nargs == 2 && strcmp(args[0], "delete") == 0) {
		path = xasprintf("/v1/timetable/%s", args[1]);
		if (zs_coord_call(c, "DELETE", path, NULL, &ans, err) < 0)
			return -1;
		printf(json ? "%s\n" : "room %s: timetable deleted\n", json ? ans : args[1]);
		return 0;
	}
	if (nargs >= 1 && nargs <= 2 && strcmp(args[0], "show") == 0) {
		const char *r = nargs == 2 ? args[1] : room;

		path = r ? xasprintf("/v1/timetable/%s", r) : xstrdup("/v1/timetable");
		if (zs_coord_call(c, "GET", path, NULL, &ans, err) < 0)
			return -1;
		if (json) {
			printf("%s\n", ans);
			return 0;
		}
		if (zs_json_parse_buf(ans, "coordinator answer", &j, err) < 0)
			return -1;
		timetable_table(j);
		return 0;
	}
	return zs_make_error(err, -EINVAL,
			     "cluster timetable: expected import FILE.ics --room ROOM | show [ROOM] | delete ROOM");
}
