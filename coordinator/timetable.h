/* zanshin-api — class timetables (iCalendar, RFC 5545, parsed with libical).
 *
 * One zs_timetable holds the classes of one room (or node label), imported
 * from one iCalendar file: VEVENTs with DTSTART and DTEND (or DURATION),
 * recurring by RRULE (weekly, ended by UNTIL or COUNT, or open-ended),
 * EXDATE for holidays, times in UTC, floating (taken as UTC) or with a TZID
 * that names a VTIMEZONE of the file or a system zone (Europe/Berlin).
 *
 * Pure: no I/O, no database.  Times are Unix seconds (UTC).
 */
#ifndef ZANSHIN_COORD_TIMETABLE_H
#define ZANSHIN_COORD_TIMETABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zanshin/error.h"

#define ZS_TT_DAY ((int64_t) 24 * 3600)
#define ZS_TT_NONE INT64_MAX /* no class ahead */

typedef struct zs_timetable zs_timetable;

/* One occurrence of a class. */
struct zs_tt_class {
	int64_t start, end;  /* [start, end) */
	const char *summary; /* owned by the timetable; "" when none */
	const char *uid;     /* owned by the timetable; "" when none */
};

/* Parse TEXT (LEN bytes, need not be NUL-terminated) as the timetable of
 * ROOM.  NAME names the input in errors (a file name).  Anything that is not
 * an iCalendar VCALENDAR, a VEVENT without DTSTART or with an end not after
 * its start, an unknown TZID or a syntax error libical reports is refused
 * with a message naming it. */
int zs_tt_parse(const char *text, size_t len, const char *name, const char *room, zs_timetable **out, zs_error_t *err);
void zs_tt_free(zs_timetable *tt);
void cleanup_ttp(zs_timetable **tt);
#define cleanup_tt __attribute__((cleanup(cleanup_ttp)))

const char *zs_tt_room(const zs_timetable *tt);
size_t zs_tt_event_count(const zs_timetable *tt); /* VEVENTs, not occurrences */

/* Every class overlapping [from, to), sorted by start (then end).  *out is
 * allocated (free() it); returns the count.  Open-ended rules are cut at TO;
 * at most ZS_TT_MAX_OCC occurrences are returned. */
#define ZS_TT_MAX_OCC 100000
size_t zs_tt_classes(const zs_timetable *tt, int64_t from, int64_t to, struct zs_tt_class **out);

/* Expand the classes of [from, to) once and keep them: zs_tt_next() and
 * zs_tt_availability() then answer from them (a binary search) for any NOW
 * and horizon inside that window, instead of walking the rules again.  The
 * coordinator calls it when it loads a timetable and once a day. */
void zs_tt_cache(zs_timetable *tt, int64_t from, int64_t to);

/* The class in progress at NOW, else the next one to start: returns true and
 * fills *c, or false when none starts within HORIZON seconds after NOW. */
bool zs_tt_next(const zs_timetable *tt, int64_t now, int64_t horizon, struct zs_tt_class *c);

/* L_N of DESIGN.md: 1 when no class starts in the next 24 h, 0 while a class
 * is in progress, linear in between (a class in 6 h gives 0.25).  TT may be
 * NULL (no timetable: 1). */
double zs_tt_availability(const zs_timetable *tt, int64_t now);

/* The same from a class already looked up (NEXT_START = ZS_TT_NONE: none). */
double zs_tt_availability_at(int64_t now, int64_t next_start, int64_t next_end);

#endif
