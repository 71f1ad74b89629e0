/* Unit tests for coordinator/move_mode.c (TAP): the mode of a move ordered
 * without one — the default, `--move-mode MODE` for every move,
 * `--move-mode WHO=MODE` for people's orders and each policy's, the most
 * specific winning — and the settings refused, which change nothing. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "move_mode.h"
#include "zanshin/utils.h"
#include "../check.h"

static bool is(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool opt_ok(struct coord *co, const char *v)
{
	zs_error_t err = NULL;
	int r = move_mode_opt(co, v, &err);

	zs_error_release(&err);
	return r == 0;
}

static bool opt_refused(struct coord *co, const char *v, const char *want)
{
	zs_error_t err = NULL;
	int r = move_mode_opt(co, v, &err);
	bool ok = r < 0 && err && strstr(zs_error_msg(err), want) != NULL;

	zs_error_release(&err);
	return ok;
}

int main(void)
{
	struct coord co = {0};

	check(move_mode_valid("stop-copy") && move_mode_valid("pre-copy") && move_mode_valid("post-copy"),
	      "the three modes are valid");
	check(!move_mode_valid("warp") && !move_mode_valid("") && !move_mode_valid(NULL) &&
		  !move_mode_valid("pre-copy "),
	      "others are not");
	check(is(move_mode_for(&co, "admin"), "stop-copy") && is(move_mode_for(&co, "evacuate"), "stop-copy") &&
		  is(move_mode_for(&co, NULL), "stop-copy"),
	      "nothing set: stop-copy for everyone");
	check(opt_ok(&co, "pre-copy") && is(move_mode_for(&co, "drain"), "pre-copy") &&
		  is(move_mode_for(&co, "admin"), "pre-copy"),
	      "--move-mode pre-copy: every move");
	check(opt_ok(&co, "drain=post-copy") && is(move_mode_for(&co, "drain"), "post-copy") &&
		  is(move_mode_for(&co, "agent-stop"), "pre-copy") && is(move_mode_for(&co, "admin"), "pre-copy"),
	      "--move-mode drain=post-copy: the drain policy's, the others keep the default");
	check(opt_ok(&co, "stop-copy") && is(move_mode_for(&co, "drain"), "post-copy") &&
		  is(move_mode_for(&co, "evacuate"), "stop-copy"),
	      "the default set after a policy's: the policy's still wins");
	check(opt_ok(&co, "admin=pre-copy") && opt_ok(&co, "agent-stop=post-copy") &&
		  opt_ok(&co, "evacuate=pre-copy") && opt_ok(&co, "return-home=post-copy") &&
		  is(move_mode_for(&co, "admin"), "pre-copy") && is(move_mode_for(&co, "agent-stop"), "post-copy") &&
		  is(move_mode_for(&co, "evacuate"), "pre-copy") && is(move_mode_for(&co, "return-home"), "post-copy"),
	      "each orderer's own setting");
	check(is(move_mode_for(&co, "local"), "stop-copy") && is(move_mode_for(&co, ""), "stop-copy"),
	      "an orderer without a setting gets the default");
	check(opt_refused(&co, "warp", "the mode is stop-copy, pre-copy or post-copy") &&
		  opt_refused(&co, "drain=warp", "the mode is") && opt_refused(&co, "drain=", "the mode is") &&
		  opt_refused(&co, "nobody=pre-copy", "`nobody` is not admin") &&
		  opt_refused(&co, "=pre-copy", "`` is not admin"),
	      "bad settings refused, named");
	check(is(move_mode_for(&co, "drain"), "post-copy") && is(move_mode_for(&co, "local"), "stop-copy"),
	      "refused settings changed nothing");
	for (int i = 0; i < COORD_MOVE_MODES; i++)
		free(co.move_mode[i]);
	return check_done();
}
