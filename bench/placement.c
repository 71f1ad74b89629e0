/* Placement latency of the scheduler (coordinator/sched.c) on a simulated
 * campus: NODES PCs in rooms of 40, each room with a weekly iCalendar
 * timetable (5 classes a day, Monday to Friday, TZID Europe/Berlin, one
 * holiday EXDATE) parsed by coordinator/timetable.c; CONTAINERS containers,
 * each with 1-8 checkpoint generations spread over 1-3 nodes and its Bundle
 * on one.  Every container is placed once in each mode:
 *   place     the view is current (what the policy loop does per order):
 *             gather the container's holdings, score every node, choose;
 *   explain   the same with the full explanation sorted (the API's
 *             /v1/place?explain=1);
 *   refresh   the timetable state of every room recomputed first (L_N and
 *             class state from the iCalendar rules), then place.
 * Prints one JSON object: p50/p99/max per mode in microseconds.
 *   usage: placement NODES CONTAINERS */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched.h"
#include "timetable.h"
#include "zanshin/utils.h"

#define ROOM_SIZE 40
#define GiB (1024ULL * 1024 * 1024)

struct container {
	unsigned gens_total, n_holders;
	unsigned holder[3], gens[3];
	bool bundle[3];
	uint64_t mem;
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Five classes a day for one room, weekly over a semester. */
static char *room_ics(unsigned room)
{
	static const char *const days[] = {"MO", "TU", "WE", "TH", "FR"};
	static const int hours[] = {8, 10, 12, 14, 16};
	char *s = xstrdup("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//zanshin//bench//EN\r\n");
	unsigned d, h;

	for (d = 0; d < 5; d++)
		for (h = 0; h < 5; h++) {
			char *ev;

			if ((room + d + h) % 3 == 0) /* not every slot taken */
				continue;
			ev = xasprintf("%sBEGIN:VEVENT\r\nUID:r%u-%s-%d\r\nSUMMARY:Course %u\r\n"
				       "DTSTART;TZID=Europe/Berlin:202610%02uT%02d0000\r\n"
				       "DTEND;TZID=Europe/Berlin:202610%02uT%02d3000\r\n"
				       "RRULE:FREQ=WEEKLY;UNTIL=20270212T000000Z\r\n"
				       "EXDATE;TZID=Europe/Berlin:202612%02uT%02d0000\r\nEND:VEVENT\r\n",
				       s, room, days[d], hours[h], d * 5 + h, 12 + d, hours[h], 12 + d, hours[h] + 1,
				       21 + d, hours[h]);
			free(s);
			s = ev;
		}
	{
		char *all = xasprintf("%sEND:VCALENDAR\r\n", s);

		free(s);
		return all;
	}
}

static zs_timetable **make_rooms(unsigned rooms)
{
	zs_timetable **tt = xmalloc(rooms * sizeof(*tt));
	unsigned r;

	for (r = 0; r < rooms; r++) {
		cleanup_free char *ics = room_ics(r);
		cleanup_free char *name = xasprintf("room-%u", r);
		zs_error_t err = NULL;

		if (zs_tt_parse(ics, strlen(ics), name, name, &tt[r], &err) < 0) {
			fprintf(stderr, "placement: %s\n", zs_error_msg(err));
			exit(1);
		}
	}
	return tt;
}

static void refresh_rooms(zs_timetable **tt, unsigned rooms, int64_t now, struct zs_sched_node *nodes, unsigned nn)
{
	int64_t class_in[1024];
	double avail[1024];
	unsigned r, i;

	for (r = 0; r < rooms && r < 1024; r++) {
		struct zs_tt_class c;

		if (zs_tt_next(tt[r], now, ZS_TT_DAY, &c)) {
			class_in[r] = c.start <= now ? 0 : c.start - now;
			avail[r] = zs_tt_availability_at(now, c.start, c.end);
		} else {
			class_in[r] = INT64_MAX;
			avail[r] = 1.0;
		}
	}
	for (i = 0; i < nn; i++) {
		nodes[i].class_in = class_in[i / ROOM_SIZE];
		nodes[i].avail = avail[i / ROOM_SIZE];
	}
}

static void make_nodes(struct zs_sched_node *nodes, unsigned nn)
{
	unsigned i;

	for (i = 0; i < nn; i++) {
		nodes[i] = (struct zs_sched_node){.name = xasprintf("pc-%04u", i),
						  .up = next_rand() % 50 != 0,
						  .draining = next_rand() % 100 == 0,
						  .cpu = (double) (next_rand() % 1000) / 1000.0,
						  .mem_total = 16 * GiB,
						  .mem_used = next_rand() % (16 * GiB)};
	}
}

static void make_containers(struct container *cs, unsigned nc, unsigned nn)
{
	unsigned i, j;

	for (i = 0; i < nc; i++) {
		struct container *c = &cs[i];

		c->gens_total = 1 + next_rand() % 8;
		c->n_holders = 1 + next_rand() % 3;
		c->mem = (64 + next_rand() % 2048) * 1024 * 1024;
		for (j = 0; j < c->n_holders; j++) {
			c->holder[j] = next_rand() % nn;
			c->gens[j] = 1 + next_rand() % c->gens_total;
			c->bundle[j] = j == 0;
		}
	}
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

struct run {
	const char *mode;
	double *lat;
	unsigned placed, failed;
};

static void place_all(struct run *run, int mode, struct zs_sched_node *nodes, unsigned nn, struct container *cs,
		      unsigned nc, zs_timetable **tt, unsigned rooms, int64_t now)
{
	struct zs_sched_hold *holds = xmalloc(nn * sizeof(*holds));
	struct zs_sched_weights w = ZS_SCHED_WEIGHTS_DEFAULT;
	unsigned i, j;

	for (i = 0; i < nc; i++) {
		struct zs_sched_request req = {.container = "c",
					       .source = nodes[cs[i].holder[0]].name,
					       .mem_need = cs[i].mem,
					       .gens_total = cs[i].gens_total};
		struct zs_sched_explain ex = {0};
		zs_error_t err = NULL;
		double t0 = now_us();
		int r;

		if (mode == 2)
			refresh_rooms(tt, rooms, now + i * 60, nodes, nn);
		memset(holds, 0, nn * sizeof(*holds));
		for (j = 0; j < cs[i].n_holders; j++) {
			holds[cs[i].holder[j]].gens += cs[i].gens[j];
			holds[cs[i].holder[j]].bundle |= cs[i].bundle[j];
		}
		r = zs_sched_place(nodes, holds, nn, &req, &w, mode == 1 ? &ex : NULL, &err);
		run->lat[i] = now_us() - t0;
		if (r >= 0)
			run->placed++;
		else
			run->failed++;
		zs_sched_explain_free(&ex);
		zs_error_release(&err);
	}
	free(holds);
	qsort(run->lat, nc, sizeof(double), dbl_cmp);
}

int main(int argc, char **argv)
{
	unsigned nn = argc > 1 ? (unsigned) atoi(argv[1]) : 1000, nc = argc > 2 ? (unsigned) atoi(argv[2]) : 10000;
	unsigned rooms = (nn + ROOM_SIZE - 1) / ROOM_SIZE, m;
	struct zs_sched_node *nodes = xmalloc(nn * sizeof(*nodes));
	struct container *cs = xmalloc(nc * sizeof(*cs));
	struct run runs[3] = {{"place"}, {"explain"}, {"refresh"}};
	int64_t now = 1796634000; /* Monday 2026-12-07 09:00 UTC, during the morning classes */
	zs_timetable **tt;

	if (nn == 0 || nc == 0 || rooms > 1024) {
		fprintf(stderr, "usage: placement NODES(1..40960) CONTAINERS\n");
		return 2;
	}
	tt = make_rooms(rooms);
	make_nodes(nodes, nn);
	make_containers(cs, nc, nn);
	for (m = 0; m < rooms; m++) /* what the coordinator does on import and daily */
		zs_tt_cache(tt[m], now - ZS_TT_DAY, now + 30 * ZS_TT_DAY);
	refresh_rooms(tt, rooms, now, nodes, nn);
	printf("{\"nodes\": %u, \"containers\": %u, \"rooms\": %u, \"modes\": {", nn, nc, rooms);
	for (m = 0; m < 3; m++) {
		struct run *r = &runs[m];

		r->lat = xmalloc(nc * sizeof(double));
		place_all(r, m, nodes, nn, cs, nc, tt, rooms, now);
		printf("%s\"%s\": {\"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f, \"placed\": %u, "
		       "\"no_candidate\": %u}",
		       m ? ", " : "", r->mode, r->lat[nc / 2], r->lat[(size_t) (nc * 0.99)], r->lat[nc - 1], r->placed,
		       r->failed);
	}
	printf("}}\n");
	return 0;
}
