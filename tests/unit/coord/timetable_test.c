/* Unit tests for coordinator/timetable.c (TAP): iCalendar import with
 * libical — weekly RRULE with COUNT and UNTIL, EXDATE (date-time and whole
 * day), TZID from the system and from the file's VTIMEZONE across the end of
 * daylight saving time, DURATION, several rooms' files; files that are not
 * iCalendar; L_N at every point of its ramp. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timetable.h"
#include "zanshin/utils.h"
#include "../check.h"

static zs_timetable *parse(const char *text, const char *room, char **emsg)
{
	zs_timetable *tt = NULL;
	zs_error_t err = NULL;

	if (zs_tt_parse(text, strlen(text), "test.ics", room, &tt, &err) < 0) {
		if (emsg)
			*emsg = xstrdup(zs_error_msg(err));
		else
			printf("# parse: %s\n", zs_error_msg(err));
		zs_error_release(&err);
		return NULL;
	}
	return tt;
}

/* Mondays 10:00-11:30 Europe/Berlin from 2026-10-12 (Unix 1791792000),
 * 2026-10-26 is after the end of DST (09:00 UTC instead of 08:00). */
#define MON1 1791792000LL
#define MON2 1792396800LL
#define MON3 1793005200LL
#define MON4 1793610000LL
#define MON5 1794214800LL
#define WEEK (7 * 86400LL)

static const char weekly[] = "BEGIN:VCALENDAR\r\n"
			     "VERSION:2.0\r\n"
			     "PRODID:-//zanshin//test//EN\r\n"
			     "BEGIN:VEVENT\r\n"
			     "UID:os-lecture\r\n"
			     "SUMMARY:Operating systems\r\n"
			     "DTSTART;TZID=Europe/Berlin:20261012T100000\r\n"
			     "DTEND;TZID=Europe/Berlin:20261012T113000\r\n"
			     "RRULE:FREQ=WEEKLY;COUNT=4\r\n"
			     "EXDATE;TZID=Europe/Berlin:20261019T100000\r\n"
			     "END:VEVENT\r\n"
			     "END:VCALENDAR\r\n";

static void test_weekly_count_exdate_tz(void)
{
	cleanup_free struct zs_tt_class *v = NULL;
	zs_timetable *tt = parse(weekly, "room-101", NULL);
	size_t k;

	check(tt != NULL, "weekly RRULE with TZID, COUNT and EXDATE parses");
	if (tt == NULL)
		return;
	check(strcmp(zs_tt_room(tt), "room-101") == 0 && zs_tt_event_count(tt) == 1, "room and event count");
	k = zs_tt_classes(tt, MON1 - WEEK, MON5 + WEEK, &v);
	check(k == 3, "COUNT=4 minus one EXDATE gives 3 classes");
	check(k == 3 && v[0].start == MON1 && v[1].start == MON3 && v[2].start == MON4,
	      "occurrences in UTC follow Europe/Berlin across the end of DST, EXDATE skipped");
	check(k == 3 && v[0].end == MON1 + 5400 && v[2].end == MON4 + 5400, "each class lasts DTEND-DTSTART (90 min)");
	check(k == 3 && strcmp(v[0].summary, "Operating systems") == 0 && strcmp(v[0].uid, "os-lecture") == 0,
	      "summary and uid carried");
	free(v);
	v = NULL;
	k = zs_tt_classes(tt, MON3 + 3600, MON3 + 3601, &v);
	check(k == 1 && v[0].start == MON3, "a window inside a class finds it (overlap, not start)");
	free(v);
	v = NULL;
	k = zs_tt_classes(tt, MON3 + 5400, MON4, &v);
	check(k == 0, "end is exclusive: a window from the end up to the next start is empty");
	zs_tt_free(tt);
}

static const char until_vtimezone[] = "BEGIN:VCALENDAR\n"
				      "VERSION:2.0\n"
				      "PRODID:-//zanshin//test//EN\n"
				      "BEGIN:VTIMEZONE\n"
				      "TZID:Campus Time\n"
				      "BEGIN:STANDARD\n"
				      "DTSTART:19700101T000000\n"
				      "TZOFFSETFROM:+0900\n"
				      "TZOFFSETTO:+0900\n"
				      "TZNAME:JST\n"
				      "END:STANDARD\n"
				      "END:VTIMEZONE\n"
				      "BEGIN:VEVENT\n"
				      "UID:net\n"
				      "SUMMARY:Networks\n"
				      "DTSTART;TZID=Campus Time:20261013T090000\n"
				      "DURATION:PT1H\n"
				      "RRULE:FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20261023T000000Z\n"
				      "EXDATE;VALUE=DATE:20261015\n"
				      "END:VEVENT\n"
				      "BEGIN:VEVENT\n"
				      "UID:once\n"
				      "DTSTART:20261014T050000Z\n"
				      "DTEND:20261014T060000Z\n"
				      "END:VEVENT\n"
				      "END:VCALENDAR\n";

static void test_until_vtimezone_duration(void)
{
	cleanup_free struct zs_tt_class *v = NULL;
	zs_timetable *tt = parse(until_vtimezone, "lab-2", NULL);
	/* 2026-10-13 09:00 +0900 = 00:00 UTC = 1791849600 */
	const long long tue = 1791849600LL, day = 86400;
	size_t k;

	check(tt != NULL, "VTIMEZONE of the file, DURATION, BYDAY, UNTIL, whole-day EXDATE parse");
	if (tt == NULL)
		return;
	k = zs_tt_classes(tt, 0, tue + 60 * day, &v);
	/* Tu 13, (Th 15 excluded), Tu 20, Th 22; plus the single event on 14th */
	check(k == 4, "UNTIL ends the rule; VALUE=DATE EXDATE removes that day; a single event too");
	check(k == 4 && v[0].start == tue && v[1].start == tue + day + 5 * 3600 && v[2].start == tue + 7 * day &&
		  v[3].start == tue + 9 * day,
	      "times in the file's own zone (+0900), sorted with the single event");
	check(k == 4 && v[0].end - v[0].start == 3600, "DURATION:PT1H gives one hour");
	zs_tt_free(tt);
}

static void test_next_and_availability(void)
{
	zs_timetable *tt = parse(weekly, "r", NULL);
	struct zs_tt_class c;
	const long long day = 86400;

	if (tt == NULL) {
		check(0, "parse for availability");
		return;
	}
	check(zs_tt_next(tt, MON1 - 3600, day, &c) && c.start == MON1, "next class one hour ahead");
	check(zs_tt_next(tt, MON1 + 60, day, &c) && c.start == MON1, "the class in progress is the next one");
	check(!zs_tt_next(tt, MON4 + 5400, 30 * day, &c), "after the last occurrence: none");
	check(zs_tt_availability(tt, MON1 - 2 * day) == 1.0, "L = 1 with no class in the next 24 h");
	check(zs_tt_availability(tt, MON1 - day) == 1.0, "L = 1 with the class exactly 24 h ahead");
	check(zs_tt_availability(tt, MON1 - day / 4) == 0.25, "L = 0.25 six hours before the class");
	check(zs_tt_availability(tt, MON1 - day / 2) == 0.5, "L = 0.5 twelve hours before the class");
	check(zs_tt_availability(tt, MON1) == 0.0, "L = 0 when the class starts");
	check(zs_tt_availability(tt, MON1 + 5399) == 0.0, "L = 0 while the class is in progress");
	check(zs_tt_availability(tt, MON1 + 5400) == 1.0, "L = 1 after the class, next one a week away (EXDATE)");
	check(zs_tt_availability(NULL, MON1) == 1.0, "no timetable: L = 1");
	check(zs_tt_availability_at(100, ZS_TT_NONE, 0) == 1.0 && zs_tt_availability_at(100, 50, 150) == 0.0 &&
		  zs_tt_availability_at(100, 50, 90) == 1.0,
	      "availability_at: none, in progress, finished");
	zs_tt_free(tt);
}

static void expect_error(const char *text, const char *room, const char *needle, const char *name)
{
	char *msg = NULL;
	zs_timetable *tt = parse(text, room, &msg);
	int ok = tt == NULL && msg && strstr(msg, needle) && strstr(msg, "test.ics");

	if (!ok)
		printf("# got: %s\n", msg ? msg : "(parsed)");
	check(ok, name);
	zs_tt_free(tt);
	free(msg);
}

static void test_bad_input(void)
{
	zs_timetable *tt = NULL;
	zs_error_t err = NULL;

	expect_error("{\"nodes\": []}\n", "r", "not an iCalendar file", "JSON is not iCalendar");
	expect_error("", "r", "not an iCalendar file", "an empty file is not iCalendar");
	expect_error("hello\nBEGIN:VCALENDAR\nEND:VCALENDAR\n", "r", "not an iCalendar file",
		     "garbage before BEGIN:VCALENDAR");
	expect_error("BEGIN:VCARD\nFN:x\nEND:VCARD\n", "r", "not an iCalendar file", "a vCard is not iCalendar");
	expect_error("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTEND:20261012T100000Z\nEND:VEVENT\nEND:VCALENDAR\n", "r",
		     "no DTSTART", "VEVENT without DTSTART named");
	expect_error("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:b\nDTSTART:20261012T100000Z\nDTEND:20261012T090000Z\n"
		     "END:VEVENT\nEND:VCALENDAR\n",
		     "r", "ends before it starts", "DTEND before DTSTART");
	expect_error("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:c\nDTSTART:20261012T100000Z\nEND:VEVENT\nEND:VCALENDAR\n", "r",
		     "neither DTEND nor DURATION", "a class without an end");
	expect_error("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:d\nDTSTART;TZID=Mars/Olympus:20261012T100000\n"
		     "DTEND;TZID=Mars/Olympus:20261012T110000\nEND:VEVENT\nEND:VCALENDAR\n",
		     "r", "unknown TZID 'Mars/Olympus'", "unknown TZID named");
	expect_error("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:e\nDTSTART:20261012T100000Z\nDTEND:20261012T110000Z\n"
		     "RRULE:FREQ=FORTNIGHTLY\nEND:VEVENT\nEND:VCALENDAR\n",
		     "r", "FREQ=FORTNIGHTLY", "a bad RRULE is refused, the value named");
	expect_error(weekly, "", "room", "a timetable needs a room");
	check(zs_tt_parse("BEGIN:VCALENDAR\n\0x", 18, "test.ics", "r", &tt, &err) < 0 && tt == NULL,
	      "NUL bytes refused");
	zs_error_release(&err);
}

static void test_open_ended(void)
{
	cleanup_free struct zs_tt_class *v = NULL;
	zs_timetable *tt = parse("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:f\nDTSTART:20261012T080000Z\n"
				 "DTEND:20261012T090000Z\nRRULE:FREQ=WEEKLY\nEND:VEVENT\nEND:VCALENDAR\n",
				 "r", NULL);
	size_t k;

	if (tt == NULL) {
		check(0, "open-ended rule parses");
		return;
	}
	k = zs_tt_classes(tt, MON1 + 52 * WEEK, MON1 + 54 * WEEK, &v);
	check(k == 2 && v[0].start == MON1 + 52 * WEEK, "an open-ended weekly rule is cut at the window (a year on)");
	zs_tt_free(tt);
}

/* The cache answers exactly as walking the rules, every 7 minutes over
 * five weeks, inside and outside its window. */
static void test_cache(void)
{
	zs_timetable *a = parse(until_vtimezone, "x", NULL), *b = parse(until_vtimezone, "x", NULL);
	const int64_t t0 = 1791849600LL - 7 * 86400, t1 = t0 + 35 * 86400;
	int64_t t;
	int same = 1, hits = 0;

	if (a == NULL || b == NULL) {
		check(0, "parse for cache");
		return;
	}
	zs_tt_cache(b, t0 + 86400, t1 - 7 * 86400);
	for (t = t0; t < t1; t += 7 * 60) {
		struct zs_tt_class x, y;
		bool fx = zs_tt_next(a, t, ZS_TT_DAY, &x), fy = zs_tt_next(b, t, ZS_TT_DAY, &y);

		if (fx != fy || (fx && (x.start != y.start || x.end != y.end)) ||
		    zs_tt_availability(a, t) != zs_tt_availability(b, t)) {
			printf("# differs at %lld\n", (long long) t);
			same = 0;
			break;
		}
		hits += fx;
	}
	check(same && hits > 0, "cached lookups equal the rule walk (in and out of the cached window)");
	zs_tt_free(a);
	zs_tt_free(b);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	test_weekly_count_exdate_tz();
	test_until_vtimezone_duration();
	test_next_and_availability();
	test_bad_input();
	test_open_ended();
	test_cache();
	return check_done();
}
