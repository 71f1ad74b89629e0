/* zanshind — the generations a target lacks (agent/move_gens.c). */
#ifndef ZANSHIN_AGENT_MOVE_GENS_H
#define ZANSHIN_AGENT_MOVE_GENS_H
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "wire.h"
#include "zanshin/remnant.h"

#define AGENT_MAX_GENS 64 /* generations sent ahead of one image, at most */

struct gens_plan {
	struct zs_remnant_gen **gens; /* oldest first */
	size_t n;
	uint64_t bytes;
	char *pin; /* this process's pin of the baseline in the store */
};

/* The generations between the container's baseline BASE_ID (included) and
 * the newest one the target holds (TARGET_GENS), when this node's store
 * holds them all as diffs and they are smaller than a full image: 1 and
 * *P; else 0. */
int gens_plan(struct agent *a, const char *container, const char *base_id, char **target_gens, struct gens_plan *p);
void gens_plan_free(struct gens_plan *p);

/* What sending needs from the move (move_source.c). */
struct gens_ctx {
	void *s; /* the source's state, for EXPECT */
	struct zs_conn *c;
	struct wire_tx *tx;
	struct move *m;
	int (*cancelled)(const struct move *m, zs_error_t *err);
	int (*expect)(void *s, const char *type, zs_json **out, zs_error_t *err);
};
int gens_send(struct gens_ctx *x, const struct gens_plan *p, zs_error_t *err);

#endif
