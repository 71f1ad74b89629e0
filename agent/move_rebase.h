/* zanshind — a diff flattened against what the target holds
 * (agent/move_rebase.c). */
#ifndef ZANSHIN_AGENT_MOVE_REBASE_H
#define ZANSHIN_AGENT_MOVE_REBASE_H
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "zanshin/remnant.h"

/* The digests of the pages of a generation the target holds. */
struct rebase_map {
	char *image_id;
	struct {
		char *name;	 /* pagemap-*.img */
		uint64_t off, n; /* its records in DATA */
	} * pm;
	size_t n;
	uint8_t *data;
	uint64_t pages;
};
void rebase_map_free(struct rebase_map *m);

/* Whether this node moved CONTAINER to or from PEER before (its journal):
 * only such a peer rebuilds pages from deltas against this node's (a
 * legitimate source holds the delta's parent generation, which one of the
 * two nodes made and sent to the other). */
bool peer_knows(struct agent *a, const char *peer, const char *container);
/* Target: answer `digests` {image_id} for CONTAINER. */
int rebase_answer(struct agent *a, struct zs_conn *c, struct zs_remnant *store, const char *container, const zs_json *h,
		  zs_error_t *err);
/* Source: ask the target for the digests of its generation IMAGE_ID. */
int rebase_prepare(struct agent *a, struct zs_conn *c, const char *image_id, struct rebase_map *m, zs_error_t *err);
/* Source: IMG rewritten (in WORK/img-rebased) as a diff against M's
 * generation, when at most half its pages differ: that directory, and
 * *KEPT the pages the target holds; else NULL (with *ERR only on error). */
char *rebase_apply(const char *img, const char *work, const struct rebase_map *m, uint64_t *kept, zs_error_t *err);

#endif
