/* A campus day, simulated with the coordinator's own timetable, policy and
 * scheduler code (coordinator/timetable.c, policy.c, sched.c): 40 PCs in 4
 * rooms, each room with its iCalendar timetable (5 class slots a day, 90
 * min, TZID Europe/Berlin), 100 containers, 07:00-21:00 in 1-minute steps.
 * Every minute the policies (evacuate 15 min before a class, return home
 * off) order moves and the scheduler chooses targets.  Bytes per move come
 * from a byte model whose coefficients bench/campus-day.sh measures with
 * real checkpoints of the memory workload (the flags below; without them
 * the old constants: image = memory, Bundle 64 MiB):
 *   - a zanshin full move sends its image, FULL_A * memory + FULL_B, plus
 *     its Bundle (BUNDLE bytes) when the target holds none;
 *   - a diff move (the target holds the generation the container was
 *     restored from, as in zanshin: a move back to where it came from)
 *     sends a diff image, DIFF_A * written + DIFF_B, where written is the
 *     bytes of pages written since it arrived: its write rate (5-30 % of
 *     its memory per hour) times the time, capped at its memory;
 *   - a runc + CRIU move sends its image, RUNC_A * memory + RUNC_B, and the
 *     Bundle every time.
 * Three runs: zanshin (k = l = m = 1), the same with l = 0 (a scheduler
 * that ignores remnants), and runc + CRIU (l = 0, every move full with the
 * Bundle).  Prints JSON.
 *   campus-day [--full A,B] [--diff A,B] [--runc A,B] [--bundle BYTES] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "sched.h"
#include "timetable.h"
#include "zanshin/utils.h"

#define ROOMS 4
#define PCS 40
#define CTS 100
#define MiB (1024ULL * 1024)

/* bytes = a * x + b (x: memory, or the bytes of pages written) */
struct lin {
	double a, b;
};
static struct lin m_full = {1, 0}, m_diff = {1, 0}, m_runc = {1, 0};
static double m_bundle = 64.0 * MiB;

static uint64_t lin_bytes(struct lin l, uint64_t x)
{
	double v = l.a * (double) x + l.b;

	return v < 0 ? 0 : (uint64_t) v;
}
#define DAY0 1796630400LL /* Monday 2026-12-07 07:00 UTC (08:00 Berlin) */

struct ct {
	int node, came_from; /* came_from: the node holding the generation it was restored from, -1 none */
	int64_t arrived;
	uint64_t mem;
	double rate; /* fraction of memory written per hour */
	bool bundle[PCS];
};

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

static zs_timetable *room_tt(int r)
{
	static const int hours[] = {9, 11, 13, 15, 17};
	char *s = xstrdup("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//zanshin//campus//EN\r\n");
	zs_timetable *tt = NULL;
	zs_error_t err = NULL;

	for (int h = 0; h < 5; h++) {
		char *e;

		if ((r + h) % 4 == 3) /* each room free in some slots */
			continue;
		e = xasprintf("%sBEGIN:VEVENT\r\nUID:r%d-%d\r\nSUMMARY:Course %d\r\nDTSTART;TZID=Europe/Berlin:"
			      "20261207T%02d0000\r\nDTEND;TZID=Europe/Berlin:20261207T%02d3000\r\n"
			      "RRULE:FREQ=WEEKLY;COUNT=14\r\nEND:VEVENT\r\n",
			      s, r, h, r * 5 + h, hours[h], hours[h] + 1);
		free(s);
		s = e;
	}
	{
		char *all = xasprintf("%sEND:VCALENDAR\r\n", s);

		if (zs_tt_parse(all, strlen(all), "campus", xasprintf("room-%d", r), &tt, &err) < 0) {
			fprintf(stderr, "campus-day: %s\n", zs_error_msg(err));
			exit(1);
		}
		free(all);
		free(s);
	}
	return tt;
}

struct result {
	unsigned moves, diffs;
	uint64_t bytes;
};

static uint64_t move_bytes(struct ct *c, int to, int64_t now, bool runc)
{
	uint64_t b;

	if (runc)
		return lin_bytes(m_runc, c->mem) + (uint64_t) m_bundle;
	if (c->came_from == to) {
		double h = (double) (now - c->arrived) / 3600.0;

		b = (uint64_t) (c->rate * h * (double) c->mem);
		return lin_bytes(m_diff, b < c->mem ? b : c->mem);
	}
	b = lin_bytes(m_full, c->mem);
	if (!c->bundle[to])
		b += (uint64_t) m_bundle;
	return b;
}

static void run(const struct zs_sched_weights *w, bool runc, zs_timetable **tt, struct ct *cs0, struct result *res)
{
	struct ct cs[CTS];
	char names[PCS][16];
	struct zs_pol_settings ps = ZS_POL_SETTINGS_DEFAULT;

	memcpy(cs, cs0, sizeof(cs));
	ps.per_node = 100;
	ps.global = 1000;
	memset(res, 0, sizeof(*res));
	for (int i = 0; i < PCS; i++)
		snprintf(names[i], sizeof(names[i]), "pc%02d", i);
	for (int64_t now = DAY0; now < DAY0 + 14 * 3600; now += 60) {
		struct zs_pol_node pn[PCS];
		struct zs_pol_container pc[CTS];
		struct zs_sched_node sn[PCS];
		struct zs_pol_result pr;
		char ids[CTS][8];
		zs_error_t err = NULL;
		unsigned load[PCS] = {0};

		for (int k = 0; k < CTS; k++)
			load[cs[k].node]++;
		for (int i = 0; i < PCS; i++) {
			struct zs_tt_class c;
			bool has = zs_tt_next(tt[i / (PCS / ROOMS)], now, ZS_TT_DAY, &c);

			pn[i] = (struct zs_pol_node){.name = names[i],
						     .up = true,
						     .class_start = has ? c.start : ZS_POL_NONE,
						     .class_end = has ? c.end : ZS_POL_NONE};
			sn[i] = (struct zs_sched_node){.name = names[i],
						       .up = true,
						       .cpu = load[i] / 8.0,
						       .mem_total = 16384 * MiB,
						       .mem_used = 2048 * MiB + load[i] * 1024 * MiB,
						       .class_in = !has		    ? INT64_MAX
								   : c.start <= now ? 0
										    : c.start - now,
						       .avail = has ? zs_tt_availability_at(now, c.start, c.end) : 1.0};
		}
		for (int k = 0; k < CTS; k++) {
			snprintf(ids[k], sizeof(ids[k]), "c%02d", k);
			pc[k] = (struct zs_pol_container){.id = ids[k], .node = names[cs[k].node]};
		}
		if (zs_policy_decide(pn, PCS, pc, CTS, now, &ps, &pr, &err) < 0)
			exit(1);
		for (size_t o = 0; o < pr.n; o++) {
			int k = atoi(pr.o[o].container + 1), to;
			struct zs_sched_hold h[PCS] = {0};
			struct zs_sched_request req = {
			    .container = ids[k], .source = names[cs[k].node], .mem_need = cs[k].mem, .gens_total = 1};

			if (cs[k].came_from >= 0)
				h[cs[k].came_from].gens = 1;
			for (int i = 0; i < PCS; i++)
				h[i].bundle = cs[k].bundle[i];
			to = zs_sched_place(sn, h, PCS, &req, w, NULL, &err);
			if (to < 0) {
				zs_error_release(&err);
				continue;
			}
			res->bytes += move_bytes(&cs[k], to, now, runc);
			res->diffs += !runc && cs[k].came_from == to;
			res->moves++;
			cs[k].came_from = cs[k].node;
			cs[k].node = to;
			cs[k].arrived = now;
			cs[k].bundle[to] = true;
			sn[to].mem_used += cs[k].mem;
			sn[to].cpu += 1 / 8.0;
		}
		zs_pol_result_free(&pr);
	}
}

static void parse_lin(const char *opt, const char *v, struct lin *l)
{
	char *end;

	l->a = strtod(v, &end);
	if (*end == ',')
		l->b = strtod(end + 1, &end);
	if (*end || l->a < 0) {
		fprintf(stderr, "campus-day: %s `%s`: A,B (bytes = A * x + B, A >= 0)\n", opt, v);
		exit(2);
	}
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (v == NULL) {
			fprintf(stderr, "campus-day: %s: a value is missing\n", argv[i]);
			exit(2);
		}
		if (strcmp(argv[i], "--full") == 0)
			parse_lin(argv[i], v, &m_full);
		else if (strcmp(argv[i], "--diff") == 0)
			parse_lin(argv[i], v, &m_diff);
		else if (strcmp(argv[i], "--runc") == 0)
			parse_lin(argv[i], v, &m_runc);
		else if (strcmp(argv[i], "--bundle") == 0) {
			m_bundle = strtod(v, &end);
			if (*end || m_bundle < 0) {
				fprintf(stderr, "campus-day: --bundle `%s`: bytes\n", v);
				exit(2);
			}
		} else {
			fprintf(stderr, "campus-day: unknown option `%s`\n", argv[i]);
			exit(2);
		}
		i++;
	}
}

int main(int argc, char **argv)
{
	zs_timetable *tt[ROOMS];
	struct ct cs[CTS];
	struct zs_sched_weights z = ZS_SCHED_WEIGHTS_DEFAULT, l0 = z;
	struct result a, b, c;

	parse_args(argc, argv);
	setenv("TZ", "UTC", 1);
	for (int r = 0; r < ROOMS; r++) {
		tt[r] = room_tt(r);
		zs_tt_cache(tt[r], DAY0 - ZS_TT_DAY, DAY0 + 2 * ZS_TT_DAY);
	}
	for (int k = 0; k < CTS; k++) {
		memset(&cs[k], 0, sizeof(cs[k]));
		cs[k].node = (int) (rnd() % PCS);
		cs[k].came_from = -1;
		cs[k].arrived = DAY0;
		cs[k].mem = (128 + rnd() % 897) * MiB;
		cs[k].rate = 0.05 + (double) (rnd() % 26) / 100.0;
		cs[k].bundle[cs[k].node] = true;
	}
	l0.l = 0;
	run(&z, false, tt, cs, &a);
	run(&l0, false, tt, cs, &b);
	run(&l0, true, tt, cs, &c);
	printf("{\"pcs\": %d, \"rooms\": %d, \"containers\": %d, \"hours\": 14, \"model\": {\"full\": [%.6g, %.6g], "
	       "\"diff\": [%.6g, %.6g], \"runc\": [%.6g, %.6g], \"bundle\": %.0f}, \"runs\": {"
	       "\"zanshin\": {\"moves\": %u, \"diff_moves\": %u, \"bytes\": %llu}, "
	       "\"zanshin_l0\": {\"moves\": %u, \"diff_moves\": %u, \"bytes\": %llu}, "
	       "\"runc_criu\": {\"moves\": %u, \"bytes\": %llu}}}\n",
	       PCS, ROOMS, CTS, m_full.a, m_full.b, m_diff.a, m_diff.b, m_runc.a, m_runc.b, m_bundle, a.moves, a.diffs,
	       (unsigned long long) a.bytes, b.moves, b.diffs, (unsigned long long) b.bytes, c.moves,
	       (unsigned long long) c.bytes);
	return 0;
}
