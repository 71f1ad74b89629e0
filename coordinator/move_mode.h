/* zanshin-api — the mode of a move: stop-copy (the default), pre-copy or
 * post-copy (the agent's `migrate --mode`, docs/agent.md).  An order names
 * one (API field `mode`, `zanshin cluster move --mode`) or gets the
 * setting for who ordered it: `--move-mode MODE` for every move,
 * `--move-mode POLICY=MODE` for one policy's moves or `admin=MODE` for
 * people's orders. */
#ifndef ZANSHIN_COORD_MOVE_MODE_H
#define ZANSHIN_COORD_MOVE_MODE_H

#include <stdbool.h>

#include "coord.h"

bool move_mode_valid(const char *mode);
/* `--move-mode MODE` or `--move-mode WHO=MODE` */
int move_mode_opt(struct coord *co, const char *value, zs_error_t *err);
/* The mode of a move ordered by WHO ("admin", "evacuate", "drain",
 * "agent-stop", "return-home") that named none. */
const char *move_mode_for(const struct coord *co, const char *who);

#endif
