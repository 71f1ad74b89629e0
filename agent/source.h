/* zanshind — the source side of a move, shared by move_source.c (the
 * transaction) and precopy.c (its pre-copy rounds). */
#ifndef ZANSHIN_AGENT_SOURCE_H
#define ZANSHIN_AGENT_SOURCE_H
#include "agent.h"
#include "move_gens.h"
#include "move_rebase.h"
#include "wire.h"
#include "zanshin/status.h"

struct src {
	struct agent *a;
	struct move *m;
	struct zs_conn c;
	struct zs_status *st;
	char *work, *img;
	char *parent_rel; /* --parent-path of the final checkpoint (pre-copy: the last round) */
	bool target_bundle, target_rootfs;
	char **target_gens;
	double t_freeze, t_dumped, t_sent; /* the downtime's phases */
	const char *phase;		   /* for progress events */
	uint64_t sent, to_send;		   /* bytes of the image on its way */
	struct wire_tx tx;		   /* compression, deltas (wire.c) */
	struct gens_plan plan;		   /* generations the target lacks, sent first */
	struct rebase_map rb;		   /* digests of a generation the target holds */
	/* deltas go only where the target takes them: against a chain all
	 * sent in this move (OWN_IID: its newest generation, a pre-copy's
	 * last round), or to a peer this container moved to or from before
	 * (KNOWN: -1 not asked yet) */
	char *own_iid;
	int known;
};

void src_put(struct src *s, const char *state);
/* < 0 with an error once the move was cancelled or its --timeout passed. */
int src_cancelled(struct src *s, zs_error_t *err);
/* The image in DIR: manifest, then every file (through the wire layer:
 * compressed, deltas).  ROUND > 0: pre-dump round ROUND of a pre-copy,
 * sent as a generation to store (the target commits it at once); 0: the
 * checkpoint. */
int src_send_image(struct src *s, const char *dir, unsigned round, zs_error_t *err);
/* This node's generation a diff can be made against (held by the target
 * too), or NULL. */
char *src_diff_base(struct src *s);
/* BASE as a --parent-path relative to the image directory IMG. */
char *src_parent_path(const char *img, const char *base);

/* precopy.c: pre-dump rounds while the container runs, each sent as it
 * is made, until one is small; s->parent_rel names the last one. */
int precopy_run(struct src *s, zs_error_t *err);

#endif
