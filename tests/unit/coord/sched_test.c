/* Unit tests for coordinator/sched.c (TAP): each term of
 * cost = k(C+M) - l(P+B) - mL, every exclusion with its reason, ties by
 * name, the explanation's order, and a worked example with the paper's
 * variables (seed 001, eq. 1 and 2, sign of mL fixed as in DESIGN.md). */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "zanshin/utils.h"
#include "../check.h"

static bool near(double a, double b)
{
	return fabs(a - b) < 1e-9;
}

#define GiB (1024ULL * 1024 * 1024)
#define NONE INT64_MAX

static struct zs_sched_node node(const char *name, double cpu, double mem, double avail)
{
	return (struct zs_sched_node){.name = name,
				      .up = true,
				      .cpu = cpu,
				      .mem_used = (uint64_t) (mem * 16 * GiB),
				      .mem_total = 16 * GiB,
				      .class_in = NONE,
				      .avail = avail};
}

static const struct zs_sched_weights W1 = ZS_SCHED_WEIGHTS_DEFAULT;

static void test_terms(void)
{
	struct zs_sched_node a = node("a", 0.25, 0.5, 0.75);
	struct zs_sched_hold h = {.gens = 3, .bundle = true};
	struct zs_sched_request req = {.container = "c", .mem_need = GiB, .gens_total = 4};
	struct zs_sched_weights w = {.k = 2, .l = 3, .m = 5, .lead = 900};
	struct zs_sched_entry e;

	zs_sched_cost(&a, NULL, &req, &w, &e);
	check(near(e.C, 0.25) && near(e.M, 0.5) && near(e.P, 0) && near(e.B, 0) && near(e.L, 0.75),
	      "terms: C from cpu, M = used/total, no holdings P = B = 0, L from the timetable");
	check(near(e.cost, 2 * 0.75 - 5 * 0.75), "cost = k(C+M) - mL without remnants");
	zs_sched_cost(&a, &h, &req, &w, &e);
	check(near(e.P, 0.75) && near(e.B, 1.0), "P = generations held / total (3/4), B = 1 with the Bundle");
	check(near(e.cost, 2 * 0.75 - 3 * 1.75 - 5 * 0.75), "cost = k(C+M) - l(P+B) - mL");
	w = (struct zs_sched_weights){.k = 1, .l = 0, .m = 0};
	check(near(zs_sched_cost(&a, &h, &req, &w, &e), 0.75), "l = m = 0: only load counts");
	w = (struct zs_sched_weights){.k = 0, .l = 1, .m = 0};
	check(near(zs_sched_cost(&a, &h, &req, &w, &e), -1.75), "k = m = 0: only remnants count");
	w = (struct zs_sched_weights){.k = 0, .l = 0, .m = 1};
	check(near(zs_sched_cost(&a, &h, &req, &w, &e), -0.75), "k = l = 0: only the timetable counts (-L)");
	a.cpu = 7;
	a.mem_used = 20 * GiB;
	a.avail = NAN;
	req.gens_total = 0;
	zs_sched_cost(&a, &h, &req, &W1, &e);
	check(near(e.C, 1) && near(e.M, 1) && near(e.L, 0) && near(e.P, 0), "terms clamped to [0,1], NaN as 0");
	a.mem_total = 0;
	zs_sched_cost(&a, NULL, &req, &W1, &e);
	check(near(e.M, 1), "unknown memory size counts as full");
}

static void test_exclusions(void)
{
	struct zs_sched_node v[8];
	struct zs_sched_request req = {.container = "c1", .source = "src", .mem_need = 2 * GiB, .gens_total = 1};
	struct zs_sched_explain ex = {0};
	zs_error_t err = NULL;
	static const char *const expect[] = {"down",	   "draining", "source",   "in-class",
					     "class-soon", "busy",     "no-memory"};
	size_t i;
	int ok = 1, r;

	v[0] = node("n0-down", 0, 0, 1);
	v[0].up = false;
	v[1] = node("n1-drain", 0, 0, 1);
	v[1].draining = true;
	v[2] = node("src", 0, 0, 1);
	v[3] = node("n3-class", 0, 0, 0);
	v[3].class_in = 0;
	v[4] = node("n4-soon", 0, 0, 0.01);
	v[4].class_in = 600;
	v[5] = node("n5-busy", 0, 0, 1);
	v[5].busy = true;
	v[6] = node("n6-full", 0, 0.9, 1); /* 1.6 GiB free */
	v[7] = node("n7-ok", 0.9, 0.8, 0.2);
	for (i = 0; i < 7; i++)
		if (strcmp(zs_sched_why_name(zs_sched_exclusion(&v[i], &req, &W1)), expect[i]) != 0) {
			printf("# %s: %s\n", v[i].name, zs_sched_why_name(zs_sched_exclusion(&v[i], &req, &W1)));
			ok = 0;
		}
	check(ok, "each exclusion: down, draining, source, in class, class within lead time, busy, no memory");
	check(zs_sched_exclusion(&v[7], &req, &W1) == ZS_SCHED_CANDIDATE, "a loaded node with room is a candidate");
	v[4].class_in = 901;
	check(zs_sched_exclusion(&v[4], &req, &W1) == ZS_SCHED_CANDIDATE,
	      "a class just beyond the lead time no longer excludes");
	v[4].class_in = 600;
	r = zs_sched_place(v, NULL, 8, &req, &W1, &ex, &err);
	check(r == 7, "the only candidate is chosen, however loaded");
	check(ex.n == 8 && ex.candidates == 1 && ex.e[0].node == &v[7] && ex.e[0].why == ZS_SCHED_CANDIDATE,
	      "explain: chosen node first");
	check(ex.n == 8 && strcmp(ex.e[1].node->name, "n0-down") == 0 && strcmp(ex.e[7].node->name, "src") == 0,
	      "explain: excluded nodes follow by name");
	{
		cleanup_free char *t = zs_sched_why_text(&ex.e[4], &req, &W1); /* n4-soon */
		cleanup_free char *m = zs_sched_why_text(&ex.e[6], &req, &W1); /* n6-full */

		check(strstr(t, "class starts in 10 min (lead time 15 min)") != NULL, "explain text: class soon");
		check(strstr(m, "needs 2048 MiB, 1638 MiB free") != NULL, "explain text: memory");
	}
	zs_sched_explain_free(&ex);
	v[7].up = false;
	r = zs_sched_place(v, NULL, 8, &req, &W1, NULL, &err);
	check(r < 0 && err &&
		  strstr(zs_error_msg(err), "place c1: no candidate among 8 nodes (2 down, 1 draining, "
					    "1 source, 1 in-class, 1 class-soon, 1 busy, 1 no-memory)"),
	      "no candidate: the error counts every reason");
	if (err)
		printf("# %s\n", zs_error_msg(err));
	zs_error_release(&err);
	r = zs_sched_place(v, NULL, 0, &req, &W1, NULL, &err);
	check(r < 0 && strstr(zs_error_msg(err), "no candidate among 0 nodes") != NULL, "no nodes at all");
	zs_error_release(&err);
}

static void test_ties(void)
{
	struct zs_sched_node v[3] = {node("pc-c", 0.5, 0.5, 1), node("pc-a", 0.5, 0.5, 1), node("pc-b", 0.5, 0.5, 1)};
	struct zs_sched_request req = {.container = "c", .mem_need = GiB, .gens_total = 2};
	struct zs_sched_explain ex = {0};
	zs_error_t err = NULL;
	int r = zs_sched_place(v, NULL, 3, &req, &W1, &ex, &err);

	check(r == 1, "equal costs: the smallest name wins (pc-a)");
	check(ex.n == 3 && strcmp(ex.e[1].node->name, "pc-b") == 0 && strcmp(ex.e[2].node->name, "pc-c") == 0,
	      "equal costs listed by name");
	zs_sched_explain_free(&ex);
	/* 0.05 + 0.25 vs 0.3: equal within rounding, still a tie */
	v[0] = node("z", 0.05, 0.25, 1);
	v[1] = node("y", 0.3, 0.0, 1);
	v[2] = node("x", 0.3, 0.0, 0.999);
	r = zs_sched_place(v, NULL, 3, &req, &W1, NULL, &err);
	check(r == 1, "rounding differences are a tie too, decided by name");
}

/* The paper's variables: 4 generations of C in total (N = 4); node A holds
 * 3 of them and the Bundle, is half loaded and has a class in 12 h; node B
 * is idle, holds nothing, no class; node C holds 1 generation, no Bundle,
 * lightly loaded, class in 18 h.  k = l = m = 1:
 *   A: (0.4+0.6) - (0.75+1) - 0.5  = -1.25
 *   B: (0.0+0.1) - (0+0)    - 1    = -0.9
 *   C: (0.2+0.2) - (0.25+0) - 0.75 = -0.6
 * A wins (remnants outweigh its load).  With l = 0 (remnants ignored)
 * B wins: -0.9 vs A -0.5 vs C -0.35.  With the paper's +mL sign A would
 * score 0.75 + ... (not tested: DESIGN.md fixes the sign). */
static void test_paper_example(void)
{
	struct zs_sched_node v[3] = {node("A", 0.4, 0.6, 0.5), node("B", 0.0, 0.1, 1.0), node("C", 0.2, 0.2, 0.75)};
	struct zs_sched_hold h[3] = {{.gens = 3, .bundle = true}, {0}, {.gens = 1}};
	struct zs_sched_request req = {.container = "web", .source = "D", .mem_need = GiB, .gens_total = 4};
	struct zs_sched_weights w = {.k = 1, .l = 1, .m = 1, .lead = 900};
	struct zs_sched_explain ex = {0};
	zs_error_t err = NULL;
	int r;

	v[0].class_in = 12 * 3600;
	v[2].class_in = 18 * 3600;
	r = zs_sched_place(v, h, 3, &req, &w, &ex, &err);
	check(r == 0, "paper example: A (3 of 4 generations and the Bundle) wins");
	check(ex.n == 3 && near(ex.e[0].cost, -1.25) && near(ex.e[1].cost, -0.9) && near(ex.e[2].cost, -0.6),
	      "paper example: costs -1.25 (A), -0.9 (B), -0.6 (C)");
	zs_sched_explain_free(&ex);
	w.l = 0;
	r = zs_sched_place(v, h, 3, &req, &w, &ex, &err);
	check(r == 1 && near(ex.e[0].cost, -0.9) && near(ex.e[1].cost, -0.35) && near(ex.e[2].cost, 0.5),
	      "paper example with l = 0: the idle node B wins");
	zs_sched_explain_free(&ex);
	w.l = 1;
	w.m = 0;
	w.k = 3;
	r = zs_sched_place(v, h, 3, &req, &w, NULL, &err);
	/* A: 3 - 1.75 = 1.25; B: 0.3; C: 1.2 - 0.25 = 0.95 */
	check(r == 1, "paper example with k = 3, m = 0: load outweighs remnants, B wins");
	zs_error_release(&err);
}

static void test_weights_check(void)
{
	struct zs_sched_weights w = W1;
	zs_error_t err = NULL;

	check(zs_sched_weights_check(&w, &err) == 0, "default weights are valid");
	w.l = -1;
	check(zs_sched_weights_check(&w, &err) < 0 && strstr(zs_error_msg(err), "weight l"), "negative l refused");
	zs_error_release(&err);
	w.l = INFINITY;
	check(zs_sched_weights_check(&w, &err) < 0, "infinite weight refused");
	zs_error_release(&err);
	w = W1;
	w.lead = -5;
	check(zs_sched_weights_check(&w, &err) < 0 && strstr(zs_error_msg(err), "lead"), "negative lead refused");
	zs_error_release(&err);
}

int main(void)
{
	test_terms();
	test_exclusions();
	test_ties();
	test_paper_example();
	test_weights_check();
	return check_done();
}
