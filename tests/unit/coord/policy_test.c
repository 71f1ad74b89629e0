/* Unit tests for coordinator/policy.c (TAP): evacuation a lead time before a
 * class, drains by an admin and by a stopping agent, return home to remnant
 * holders, per-node and global concurrency limits, backoff and giving up
 * after failed moves, order of urgency, and each policy switched off. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "zanshin/utils.h"
#include "../check.h"

#define NOW 1000000LL
#define NONE ZS_POL_NONE

static struct zs_pol_node nd(const char *name)
{
	return (struct zs_pol_node){.name = name, .up = true, .class_start = NONE, .class_end = NONE};
}

static struct zs_pol_container ct(const char *id, const char *node)
{
	return (struct zs_pol_container){.id = id, .node = node};
}

static struct zs_pol_result decide(struct zs_pol_node *v, size_t nn, struct zs_pol_container *c, size_t nc, int64_t now,
				   const struct zs_pol_settings *s)
{
	struct zs_pol_result r;
	zs_error_t err = NULL;

	if (zs_policy_decide(v, nn, c, nc, now, s, &r, &err) < 0) {
		printf("# %s\n", zs_error_msg(err));
		zs_error_release(&err);
	}
	return r;
}

static bool has(const struct zs_pol_result *r, const char *c, const char *to, enum zs_pol_reason why)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->o[i].container, c) == 0 && r->o[i].reason == why &&
		    (to == NULL ? r->o[i].to == NULL : r->o[i].to && strcmp(r->o[i].to, to) == 0))
			return true;
	return false;
}

static void test_evacuate(void)
{
	struct zs_pol_settings s = ZS_POL_SETTINGS_DEFAULT;
	struct zs_pol_node v[2] = {nd("A"), nd("B")};
	struct zs_pol_container c[2] = {ct("c1", "A"), ct("c2", "B")};
	struct zs_pol_result r;

	s.global = 10;
	v[0].class_start = NOW + 16 * 60;
	v[0].class_end = NOW + 106 * 60;
	r = decide(v, 2, c, 2, NOW, &s);
	check(r.n == 0, "class in 16 min, lead 15 min: nothing yet");
	zs_pol_result_free(&r);
	r = decide(v, 2, c, 2, NOW + 60, &s);
	check(r.n == 1 && has(&r, "c1", NULL, ZS_POL_EVACUATE) && strcmp(r.o[0].from, "A") == 0,
	      "class in 15 min: c1 leaves A, the scheduler chooses where");
	check(r.n == 1 && strstr(r.o[0].why, "class starts on A in 900 s") != NULL, "the reason says when");
	zs_pol_result_free(&r);
	r = decide(v, 2, c, 2, NOW + 30 * 60, &s);
	check(r.n == 1 && strstr(r.o[0].why, "class is in progress on A"), "still evacuated while the class runs");
	zs_pol_result_free(&r);
	r = decide(v, 2, c, 2, NOW + 106 * 60, &s);
	check(r.n == 0, "after the class: nothing");
	zs_pol_result_free(&r);
	s.evacuate = false;
	r = decide(v, 2, c, 2, NOW + 60, &s);
	check(r.n == 0, "evacuation switched off: nothing");
	zs_pol_result_free(&r);
	s = (struct zs_pol_settings) ZS_POL_SETTINGS_DEFAULT;
	s.lead = 3600;
	r = decide(v, 2, c, 2, NOW, &s);
	check(r.n == 1, "lead time configurable (1 h)");
	zs_pol_result_free(&r);
	v[0].up = false;
	r = decide(v, 2, c, 2, NOW + 60, &s);
	check(r.n == 0, "a down node's containers cannot be ordered");
	zs_pol_result_free(&r);
}

static void test_drain(void)
{
	struct zs_pol_settings s = ZS_POL_SETTINGS_DEFAULT;
	struct zs_pol_node v[3] = {nd("A"), nd("B"), nd("C")};
	struct zs_pol_container c[3] = {ct("x", "A"), ct("y", "B"), ct("z", "C")};
	struct zs_pol_result r;

	v[0].draining = true;
	v[1].stopping = true;
	v[2].class_start = NOW + 60;
	v[2].class_end = NOW + 3600;
	s.global = 10;
	r = decide(v, 3, c, 3, NOW, &s);
	check(r.n == 3 && has(&r, "x", NULL, ZS_POL_DRAIN) && has(&r, "y", NULL, ZS_POL_AGENT_STOP) &&
		  has(&r, "z", NULL, ZS_POL_EVACUATE),
	      "admin drain, agent stopping and evacuation each order a move");
	check(r.n == 3 && strcmp(r.o[0].container, "y") == 0 && strcmp(r.o[1].container, "z") == 0 &&
		  strcmp(r.o[2].container, "x") == 0,
	      "urgency: stopping agent, then evacuation, then admin drain");
	zs_pol_result_free(&r);
	s.drain = false;
	r = decide(v, 3, c, 3, NOW, &s);
	check(r.n == 1 && has(&r, "z", NULL, ZS_POL_EVACUATE), "drain policy switched off: only evacuation");
	zs_pol_result_free(&r);
}

static void test_limits(void)
{
	struct zs_pol_settings s = ZS_POL_SETTINGS_DEFAULT; /* 1 per node, 4 in all */
	struct zs_pol_node v[6] = {nd("A"), nd("B"), nd("C"), nd("D"), nd("E"), nd("F")};
	struct zs_pol_container c[8] = {ct("a1", "A"), ct("a2", "A"), ct("b1", "B"), ct("c1", "C"),
					ct("d1", "D"), ct("e1", "E"), ct("f1", "F"), ct("f2", "F")};
	struct zs_pol_result r;
	size_t i;

	for (i = 0; i < 6; i++)
		v[i].draining = true;
	r = decide(v, 6, c, 8, NOW, &s);
	check(r.n == 4 && r.held_by_limits == 4, "global limit 4: four orders, four held back");
	check(r.n == 4 && strcmp(r.o[0].container, "a1") == 0 && strcmp(r.o[1].container, "b1") == 0 &&
		  strcmp(r.o[3].container, "d1") == 0,
	      "one per source node (a2 waits for a1), in container order");
	zs_pol_result_free(&r);
	v[1].moving = 1; /* B already has a move in flight */
	c[0].moving = true;
	r = decide(v, 6, c, 8, NOW, &s);
	check(r.n == 3 && !has(&r, "b1", NULL, ZS_POL_DRAIN) && !has(&r, "a1", NULL, ZS_POL_DRAIN),
	      "moves in flight count against both limits; a moving container is not ordered again");
	zs_pol_result_free(&r);
	s.per_node = 2;
	s.global = 100;
	v[1].moving = 0;
	c[0].moving = false;
	r = decide(v, 6, c, 8, NOW, &s);
	check(r.n == 8 && r.held_by_limits == 0, "limits raised: everything moves at once");
	zs_pol_result_free(&r);
}

static void test_backoff(void)
{
	struct zs_pol_settings s = ZS_POL_SETTINGS_DEFAULT; /* 30 s doubling to 15 min, 5 retries */
	struct zs_pol_node v[1] = {nd("A")};
	struct zs_pol_container c[1] = {ct("c", "A")};
	struct zs_pol_result r;

	v[0].draining = true;
	check(zs_pol_backoff(&s, 0) == 0 && zs_pol_backoff(&s, 1) == 30 && zs_pol_backoff(&s, 2) == 60 &&
		  zs_pol_backoff(&s, 3) == 120 && zs_pol_backoff(&s, 10) == 900 && zs_pol_backoff(&s, 99) == 900,
	      "backoff 30 s, doubling, capped at 15 min");
	c[0].failures = 2;
	c[0].last_failure = NOW - 59;
	r = decide(v, 1, c, 1, NOW, &s);
	check(r.n == 0 && r.in_backoff == 1, "second failure 59 s ago: waits (60 s)");
	zs_pol_result_free(&r);
	r = decide(v, 1, c, 1, NOW + 1, &s);
	check(r.n == 1 && r.in_backoff == 0, "after 60 s: retried");
	zs_pol_result_free(&r);
	c[0].failures = 6;
	r = decide(v, 1, c, 1, NOW + 100000, &s);
	check(r.n == 0 && r.given_up == 1, "after 1 + 5 retries: given up, left where it is");
	zs_pol_result_free(&r);
}

static void test_return_home(void)
{
	struct zs_pol_settings s = ZS_POL_SETTINGS_DEFAULT;
	struct zs_pol_node v[3] = {nd("home"), nd("away"), nd("other")};
	struct zs_pol_container c[2] = {ct("c", "away"), ct("d", "home")};
	struct zs_pol_result r;

	c[0].home = "home";
	c[1].home = "home";
	r = decide(v, 3, c, 2, NOW, &s);
	check(r.n == 0, "return home is off by default");
	zs_pol_result_free(&r);
	s.return_home = true;
	r = decide(v, 3, c, 2, NOW, &s);
	check(r.n == 1 && has(&r, "c", "home", ZS_POL_RETURN_HOME) && strstr(r.o[0].why, "home holds its remnants"),
	      "switched on: c goes back to the node with its remnants (target given); d is home already");
	zs_pol_result_free(&r);
	v[0].class_start = NOW + 3600;
	v[0].class_end = NOW + 7200;
	r = decide(v, 3, c, 2, NOW, &s);
	check(r.n == 0, "home has a class within lead + margin: no return");
	zs_pol_result_free(&r);
	v[0].class_start = NOW + 3600 + 900 + 1;
	r = decide(v, 3, c, 2, NOW, &s);
	check(r.n == 1 && has(&r, "c", "home", ZS_POL_RETURN_HOME), "next class beyond lead + margin: returns");
	zs_pol_result_free(&r);
	v[0].class_start = NOW - 60;
	v[0].class_end = NOW - 1;
	r = decide(v, 3, c, 2, NOW, &s);
	check(r.n == 1 && has(&r, "c", "home", ZS_POL_RETURN_HOME), "class on home just ended: returns");
	zs_pol_result_free(&r);
	v[0].class_end = NOW + 60;
	r = decide(v, 3, c, 2, NOW, &s);
	check(!has(&r, "c", "home", ZS_POL_RETURN_HOME), "class on home in progress: stays away");
	zs_pol_result_free(&r);
	v[0].class_start = NONE;
	v[0].moving = 1;
	r = decide(v, 3, c, 2, NOW, &s);
	check(r.n == 0 && r.held_by_limits == 1, "the target's concurrency limit holds a return back");
	zs_pol_result_free(&r);
	v[0].moving = 0;
	v[0].draining = true;
	r = decide(v, 3, c, 2, NOW, &s);
	check(!has(&r, "c", "home", ZS_POL_RETURN_HOME), "a drained home is not free");
	zs_pol_result_free(&r);
}

static void test_bad_view(void)
{
	struct zs_pol_settings s = ZS_POL_SETTINGS_DEFAULT;
	struct zs_pol_node v[2] = {nd("A"), nd("A")};
	struct zs_pol_container c[1] = {ct("c", "A")};
	struct zs_pol_result r;
	zs_error_t err = NULL;

	check(zs_policy_decide(v, 2, c, 1, NOW, &s, &r, &err) < 0 && strstr(zs_error_msg(err), "node A listed twice"),
	      "a node listed twice is refused");
	zs_error_release(&err);
	s.per_node = 0;
	check(zs_pol_settings_check(&s, &err) < 0 && strstr(zs_error_msg(err), "concurrent"), "limit 0 refused");
	zs_error_release(&err);
	s = (struct zs_pol_settings) ZS_POL_SETTINGS_DEFAULT;
	check(zs_pol_settings_check(&s, &err) == 0, "defaults are valid");
	c[0].node = "nowhere";
	v[1].name = "B";
	v[0].draining = true;
	r = decide(v, 2, c, 1, NOW, &s);
	check(r.n == 0, "a container on an unknown node is not ordered");
	zs_pol_result_free(&r);
}

int main(void)
{
	test_evacuate();
	test_drain();
	test_limits();
	test_backoff();
	test_return_home();
	test_bad_view();
	return check_done();
}
