/* zanshin-api — the mode of a move (see move_mode.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "move_mode.h"
#include "zanshin/utils.h"

/* slot 0: every move; then who ordered it */
static const char *const whos[COORD_MOVE_MODES] = {"", "admin", "agent-stop", "evacuate", "drain", "return-home"};

bool move_mode_valid(const char *mode)
{
	return mode &&
	       (strcmp(mode, "stop-copy") == 0 || strcmp(mode, "pre-copy") == 0 || strcmp(mode, "post-copy") == 0);
}

static int slot_of(const char *who, size_t len)
{
	for (int i = 1; i < COORD_MOVE_MODES; i++)
		if (strlen(whos[i]) == len && strncmp(whos[i], who, len) == 0)
			return i;
	return -1;
}

int move_mode_opt(struct coord *co, const char *value, zs_error_t *err)
{
	const char *eq = strchr(value, '='), *mode = eq ? eq + 1 : value;
	int slot = eq ? slot_of(value, (size_t) (eq - value)) : 0;

	if (slot < 0)
		return zs_make_error(
		    err, -EINVAL, "--move-mode `%s`: `%.*s` is not admin, agent-stop, evacuate, drain or return-home",
		    value, (int) (eq - value), value);
	if (!move_mode_valid(mode))
		return zs_make_error(err, -EINVAL, "--move-mode `%s`: the mode is stop-copy, pre-copy or post-copy",
				     value);
	free(co->move_mode[slot]);
	co->move_mode[slot] = xstrdup(mode);
	return 0;
}

const char *move_mode_for(const struct coord *co, const char *who)
{
	int slot = who ? slot_of(who, strlen(who)) : -1;

	if (slot > 0 && co->move_mode[slot])
		return co->move_mode[slot];
	return co->move_mode[0] ? co->move_mode[0] : "stop-copy";
}
