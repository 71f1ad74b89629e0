/* zanshin-api — the destination scheduler (DESIGN.md, "Data flow").
 *
 *     cost(N) = k·(C_N + M_N) − l·(P_N + B_N) − m·L_N
 *
 * C_N, M_N: CPU and memory use of N in [0,1]; P_N: generations of the
 * container held on N / its generations in total; B_N: 1 if N holds its
 * Bundle; L_N: 1 with no class in the next 24 h, 0 in class (timetable.h).
 * Lowest cost wins, ties by node name.  Candidates are the nodes that are
 * up, not draining, not in class (nor starting one within the lead time),
 * not the source, not at their concurrent-move limit, with free memory for
 * the container; every other node is listed with the reason it was left out.
 *
 * Pure: the caller gathers the view (database, heartbeats, timetable).
 */
#ifndef ZANSHIN_COORD_SCHED_H
#define ZANSHIN_COORD_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zanshin/error.h"

struct zs_sched_weights {
	double k, l, m;
	int64_t lead; /* seconds: a class starting this soon excludes the node */
};
#define ZS_SCHED_WEIGHTS_DEFAULT                                                                                       \
	{                                                                                                              \
		.k = 1.0, .l = 1.0, .m = 1.0, .lead = 15 * 60                                                          \
	}

/* One node as the coordinator sees it. */
struct zs_sched_node {
	const char *name;
	bool up, draining, busy; /* busy: at its limit of concurrent moves */
	double cpu;		 /* 0..1 */
	uint64_t mem_used, mem_total;
	int64_t class_in; /* seconds until its next class starts; 0 = in class; INT64_MAX = none */
	double avail;	  /* L_N, from the timetable */
};

/* What node N holds of the container (parallel to the nodes array). */
struct zs_sched_hold {
	unsigned gens; /* generations of the container held on N */
	bool bundle;
};

struct zs_sched_request {
	const char *container;
	const char *source; /* NULL: a new placement */
	uint64_t mem_need;  /* bytes the container needs on the target */
	unsigned gens_total;
};

enum zs_sched_why {
	ZS_SCHED_CANDIDATE = 0,
	ZS_SCHED_DOWN,
	ZS_SCHED_DRAINING,
	ZS_SCHED_SOURCE,
	ZS_SCHED_IN_CLASS,
	ZS_SCHED_CLASS_SOON,
	ZS_SCHED_BUSY,
	ZS_SCHED_NO_MEMORY,
};

struct zs_sched_entry {
	const struct zs_sched_node *node;
	enum zs_sched_why why;
	double C, M, P, B, L, cost; /* the terms (also for excluded nodes) */
};

/* Every node: candidates by cost then name (the chosen one first), then the
 * excluded ones by name. */
struct zs_sched_explain {
	struct zs_sched_weights w;
	struct zs_sched_entry *e;
	size_t n, candidates;
};

/* Choose a target among NODES (N of them; HOLDS parallel, or NULL when no
 * node holds anything).  Returns the index of the chosen node, or < 0 with
 * *err saying how many nodes were left out and why.  EX (may be NULL)
 * receives the explanation; release it with zs_sched_explain_free(). */
int zs_sched_place(const struct zs_sched_node *nodes, const struct zs_sched_hold *holds, size_t n,
		   const struct zs_sched_request *req, const struct zs_sched_weights *w, struct zs_sched_explain *ex,
		   zs_error_t *err);
void zs_sched_explain_free(struct zs_sched_explain *ex);

/* The cost of one node, terms filled into *e (why is not touched). */
double zs_sched_cost(const struct zs_sched_node *node, const struct zs_sched_hold *hold,
		     const struct zs_sched_request *req, const struct zs_sched_weights *w, struct zs_sched_entry *e);

/* Why a node is not a candidate (ZS_SCHED_CANDIDATE if it is one). */
enum zs_sched_why zs_sched_exclusion(const struct zs_sched_node *node, const struct zs_sched_request *req,
				     const struct zs_sched_weights *w);

/* "down", "draining", ... "candidate"; and a sentence for explain output
 * (allocated: "class starts in 7 min (lead time 15 min)"). */
const char *zs_sched_why_name(enum zs_sched_why why);
char *zs_sched_why_text(const struct zs_sched_entry *e, const struct zs_sched_request *req,
			const struct zs_sched_weights *w);

/* Check weights given by an administrator (finite, >= 0; lead >= 0). */
int zs_sched_weights_check(const struct zs_sched_weights *w, zs_error_t *err);

#endif
