/* zanshin-api — class timetables from iCalendar files (see timetable.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libical/ical.h>

#include "timetable.h"
#include "zanshin/utils.h"

#define TT_MAX_ITER 1000000 /* recurrence steps per event, against FREQ=SECONDLY */

struct tt_exdate {
	bool date_only; /* VALUE=DATE: the whole local day */
	int y, m, d;
	int64_t at;
};

struct tt_event {
	char *summary, *uid;
	struct icaltimetype dtstart; /* local time in zone */
	icaltimezone *zone;
	int64_t start, dur;
	bool recurring;
	struct icalrecurrencetype rrule;
	struct tt_exdate *ex;
	size_t n_ex;
};

struct zs_timetable {
	char *room;
	icalcomponent *cal; /* keeps the file's VTIMEZONEs alive */
	struct tt_event *ev;
	size_t n;
	struct zs_tt_class *cache; /* sorted by start, see zs_tt_cache() */
	size_t ncache;
	int64_t cfrom, cto, cmaxdur;
};

void zs_tt_free(zs_timetable *tt)
{
	size_t i;

	if (tt == NULL)
		return;
	for (i = 0; i < tt->n; i++) {
		free(tt->ev[i].summary);
		free(tt->ev[i].uid);
		free(tt->ev[i].ex);
	}
	free(tt->ev);
	free(tt->cache);
	if (tt->cal)
		icalcomponent_free(tt->cal);
	free(tt->room);
	free(tt);
}

void cleanup_ttp(zs_timetable **tt)
{
	zs_tt_free(*tt);
}

const char *zs_tt_room(const zs_timetable *tt)
{
	return tt->room;
}

size_t zs_tt_event_count(const zs_timetable *tt)
{
	return tt->n;
}

/* The text must open with BEGIN:VCALENDAR (after a BOM and blank lines):
 * libical's parser skips garbage and would accept almost anything. */
static bool looks_like_ical(const char *s)
{
	if (strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	s += strspn(s, " \t\r\n");
	return strncasecmp(s, "BEGIN:VCALENDAR", 15) == 0;
}

/* The first X-LIC-ERROR libical left in C or below, or NULL. */
static const char *first_parse_error(icalcomponent *c)
{
	icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY);
	icalcomponent *sub;

	if (p)
		return icalproperty_get_xlicerror(p);
	for (sub = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); sub;
	     sub = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT)) {
		const char *e = first_parse_error(sub);

		if (e)
			return e;
	}
	return NULL;
}

/* The zone of a date-time property: its TZID (a VTIMEZONE of the file, else
 * a system zone), UTC for "Z" times and floating ones. */
static int prop_zone(const zs_timetable *tt, icalproperty *p, struct icaltimetype t, icaltimezone **zone,
		     const char *what, zs_error_t *err)
{
	icalparameter *tzp = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
	const char *tzid;

	*zone = icaltimezone_get_utc_timezone();
	if (tzp == NULL || icaltime_is_utc(t))
		return 0;
	tzid = icalparameter_get_tzid(tzp);
	*zone = icalcomponent_get_timezone(tt->cal, tzid);
	if (*zone == NULL)
		*zone = icaltimezone_get_builtin_timezone(tzid);
	if (*zone == NULL)
		return zs_make_error(
		    err, -EINVAL, "%s: unknown TZID '%s' (no VTIMEZONE in the file, no such system zone)", what, tzid);
	return 0;
}

static int event_times(const zs_timetable *tt, icalcomponent *c, struct tt_event *e, const char *what, zs_error_t *err)
{
	icalproperty *ps = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY);
	icalproperty *pe = icalcomponent_get_first_property(c, ICAL_DTEND_PROPERTY);
	icalproperty *pd = icalcomponent_get_first_property(c, ICAL_DURATION_PROPERTY);
	icaltimezone *ze;
	struct icaltimetype te;
	int64_t end;

	if (ps == NULL)
		return zs_make_error(err, -EINVAL, "%s: no DTSTART", what);
	e->dtstart = icalproperty_get_dtstart(ps);
	if (icaltime_is_null_time(e->dtstart) || !icaltime_is_valid_time(e->dtstart))
		return zs_make_error(err, -EINVAL, "%s: DTSTART is not a valid date-time", what);
	if (prop_zone(tt, ps, e->dtstart, &e->zone, what, err) < 0)
		return -EINVAL;
	e->start = icaltime_as_timet_with_zone(e->dtstart, e->zone);
	if (pe) {
		te = icalproperty_get_dtend(pe);
		if (icaltime_is_null_time(te) || prop_zone(tt, pe, te, &ze, what, err) < 0)
			return zs_make_error(err, -EINVAL, "%s: DTEND is not a valid date-time", what);
		end = icaltime_as_timet_with_zone(te, ze);
	} else if (pd) {
		end = e->start + icaldurationtype_as_int(icalproperty_get_duration(pd));
	} else if (e->dtstart.is_date) {
		end = e->start + ZS_TT_DAY;
	} else {
		return zs_make_error(err, -EINVAL, "%s: neither DTEND nor DURATION (a class needs an end)", what);
	}
	if (end <= e->start)
		return zs_make_error(err, -EINVAL, "%s: ends before it starts", what);
	e->dur = end - e->start;
	return 0;
}

static int event_exdates(const zs_timetable *tt, icalcomponent *c, struct tt_event *e, const char *what,
			 zs_error_t *err)
{
	icalproperty *p;

	for (p = icalcomponent_get_first_property(c, ICAL_EXDATE_PROPERTY); p;
	     p = icalcomponent_get_next_property(c, ICAL_EXDATE_PROPERTY)) {
		struct icaltimetype t = icalproperty_get_exdate(p);
		struct tt_exdate *x;
		icaltimezone *z;

		if (icaltime_is_null_time(t) || !icaltime_is_valid_time(t))
			return zs_make_error(err, -EINVAL, "%s: EXDATE is not a valid date or date-time", what);
		if (prop_zone(tt, p, t, &z, what, err) < 0)
			return -EINVAL;
		e->ex = xrealloc(e->ex, (e->n_ex + 1) * sizeof(*e->ex));
		x = &e->ex[e->n_ex++];
		x->date_only = t.is_date;
		x->y = t.year;
		x->m = t.month;
		x->d = t.day;
		x->at = icaltime_as_timet_with_zone(t, z);
	}
	return 0;
}

static int event_rule(icalcomponent *c, struct tt_event *e, const char *what, zs_error_t *err)
{
	icalproperty *p = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY);

	if (icalcomponent_get_first_property(c, ICAL_RDATE_PROPERTY))
		return zs_make_error(err, -EINVAL, "%s: RDATE is not supported (use RRULE and EXDATE)", what);
	if (p == NULL)
		return 0;
	if (icalcomponent_get_next_property(c, ICAL_RRULE_PROPERTY))
		return zs_make_error(err, -EINVAL, "%s: more than one RRULE", what);
	e->rrule = icalproperty_get_rrule(p);
	if (e->rrule.freq == ICAL_NO_RECURRENCE)
		return zs_make_error(err, -EINVAL, "%s: RRULE has no valid FREQ", what);
	e->recurring = true;
	return 0;
}

static int parse_event(zs_timetable *tt, icalcomponent *c, size_t idx, const char *name, zs_error_t *err)
{
	const char *uid = icalcomponent_get_uid(c), *sum = icalcomponent_get_summary(c);
	cleanup_free char *what =
	    xasprintf("%s: VEVENT %zu%s%s%s", name, idx + 1, uid ? " (UID " : "", uid ? uid : "", uid ? ")" : "");
	struct tt_event *e;

	tt->ev = xrealloc(tt->ev, (tt->n + 1) * sizeof(*tt->ev));
	e = &tt->ev[tt->n++];
	memset(e, 0, sizeof(*e));
	e->uid = xstrdup(uid ? uid : "");
	e->summary = xstrdup(sum ? sum : "");
	if (event_times(tt, c, e, what, err) < 0 || event_rule(c, e, what, err) < 0 ||
	    event_exdates(tt, c, e, what, err) < 0)
		return -EINVAL;
	return 0;
}

static int parse_calendar(zs_timetable *tt, const char *name, zs_error_t *err)
{
	icalcomponent *c;
	const char *perr;
	size_t idx = 0;

	if (icalcomponent_isa(tt->cal) != ICAL_VCALENDAR_COMPONENT)
		return zs_make_error(err, -EINVAL, "%s: not an iCalendar file (no VCALENDAR)", name);
	perr = first_parse_error(tt->cal);
	if (perr)
		return zs_make_error(err, -EINVAL, "%s: not valid iCalendar: %s", name, perr);
	for (c = icalcomponent_get_first_component(tt->cal, ICAL_VEVENT_COMPONENT); c;
	     c = icalcomponent_get_next_component(tt->cal, ICAL_VEVENT_COMPONENT))
		if (parse_event(tt, c, idx++, name, err) < 0)
			return -EINVAL;
	return 0;
}

int zs_tt_parse(const char *text, size_t len, const char *name, const char *room, zs_timetable **out, zs_error_t *err)
{
	cleanup_tt zs_timetable *tt = NULL;
	cleanup_free char *buf = xmalloc(len + 1);

	if (room == NULL || *room == '\0')
		return zs_make_error(err, -EINVAL, "%s: a timetable needs a room or node label", name);
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (strlen(buf) != len)
		return zs_make_error(err, -EINVAL, "%s: not an iCalendar file (it contains NUL bytes)", name);
	if (!looks_like_ical(buf))
		return zs_make_error(err, -EINVAL, "%s: not an iCalendar file (it must begin with BEGIN:VCALENDAR)",
				     name);
	tt = xmalloc(sizeof(*tt));
	memset(tt, 0, sizeof(*tt));
	tt->room = xstrdup(room);
	icalerror_set_errors_are_fatal(0);
	tt->cal = icalparser_parse_string(buf);
	if (tt->cal == NULL)
		return zs_make_error(err, -EINVAL, "%s: not an iCalendar file (libical could not parse it)", name);
	if (parse_calendar(tt, name, err) < 0)
		return -EINVAL;
	*out = tt;
	tt = NULL;
	return 0;
}

static bool excluded(const struct tt_event *e, struct icaltimetype local, int64_t at)
{
	size_t i;

	for (i = 0; i < e->n_ex; i++) {
		const struct tt_exdate *x = &e->ex[i];

		if (x->date_only ? (x->y == local.year && x->m == local.month && x->d == local.day) : x->at == at)
			return true;
	}
	return false;
}

struct occ_list {
	struct zs_tt_class *v;
	size_t n, cap;
};

static bool occ_add(struct occ_list *l, const struct tt_event *e, int64_t start)
{
	if (l->n >= ZS_TT_MAX_OCC)
		return false;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] =
	    (struct zs_tt_class){.start = start, .end = start + e->dur, .summary = e->summary, .uid = e->uid};
	return true;
}

static void event_expand(const struct tt_event *e, int64_t from, int64_t to, struct occ_list *l)
{
	icalrecur_iterator *it;
	struct icaltimetype t;
	long steps = 0;

	if (!e->recurring) {
		if (e->start < to && e->start + e->dur > from && !excluded(e, e->dtstart, e->start))
			occ_add(l, e, e->start);
		return;
	}
	it = icalrecur_iterator_new(e->rrule, e->dtstart);
	if (it == NULL)
		return;
	for (t = icalrecur_iterator_next(it); !icaltime_is_null_time(t) && steps < TT_MAX_ITER;
	     t = icalrecur_iterator_next(it), steps++) {
		int64_t at = icaltime_as_timet_with_zone(t, e->zone);

		if (at >= to)
			break;
		if (at + e->dur > from && !excluded(e, t, at) && !occ_add(l, e, at))
			break;
	}
	icalrecur_iterator_free(it);
}

static int occ_cmp(const void *a, const void *b)
{
	const struct zs_tt_class *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return strcmp(x->uid, y->uid);
}

size_t zs_tt_classes(const zs_timetable *tt, int64_t from, int64_t to, struct zs_tt_class **out)
{
	struct occ_list l = {0};
	size_t i;

	for (i = 0; tt && i < tt->n; i++)
		event_expand(&tt->ev[i], from, to, &l);
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), occ_cmp);
	*out = l.v;
	return l.n;
}

void zs_tt_cache(zs_timetable *tt, int64_t from, int64_t to)
{
	size_t i;

	free(tt->cache);
	tt->cache = NULL;
	tt->ncache = zs_tt_classes(tt, from, to, &tt->cache);
	tt->cfrom = from;
	tt->cto = to;
	tt->cmaxdur = 0;
	for (i = 0; i < tt->ncache; i++)
		if (tt->cache[i].end - tt->cache[i].start > tt->cmaxdur)
			tt->cmaxdur = tt->cache[i].end - tt->cache[i].start;
	if (tt->ncache >= ZS_TT_MAX_OCC)
		tt->cto = tt->cache[tt->ncache - 1].start; /* cut short: trust it only up to there */
}

/* From the cache: the first class with end > now, start < now + horizon. */
static bool cached_next(const zs_timetable *tt, int64_t now, int64_t horizon, struct zs_tt_class *c)
{
	size_t lo = 0, hi = tt->ncache, i;
	int64_t from = now - tt->cmaxdur;

	while (lo < hi) { /* first start > now - longest class */
		size_t mid = lo + (hi - lo) / 2;

		if (tt->cache[mid].start <= from)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < tt->ncache && tt->cache[i].start < now + horizon; i++)
		if (tt->cache[i].end > now) {
			*c = tt->cache[i];
			return true;
		}
	return false;
}

bool zs_tt_next(const zs_timetable *tt, int64_t now, int64_t horizon, struct zs_tt_class *c)
{
	cleanup_free struct zs_tt_class *v = NULL;
	size_t n;

	if (tt && tt->cache && now >= tt->cfrom && now + horizon <= tt->cto)
		return cached_next(tt, now, horizon, c);
	n = zs_tt_classes(tt, now, now + horizon, &v);

	if (n == 0)
		return false;
	*c = v[0];
	return true;
}

double zs_tt_availability_at(int64_t now, int64_t next_start, int64_t next_end)
{
	if (next_start == ZS_TT_NONE)
		return 1.0;
	if (next_start <= now)
		return now < next_end ? 0.0 : 1.0;
	if (next_start - now >= ZS_TT_DAY)
		return 1.0;
	return (double) (next_start - now) / (double) ZS_TT_DAY;
}

double zs_tt_availability(const zs_timetable *tt, int64_t now)
{
	struct zs_tt_class c;

	if (tt == NULL || !zs_tt_next(tt, now, ZS_TT_DAY, &c))
		return 1.0;
	return zs_tt_availability_at(now, c.start, c.end);
}
