/* zanshin-api — move policies as pure decision functions.
 *
 * Given the cluster as the coordinator sees it, the time and the settings,
 * zs_policy_decide() says which containers must move now and why:
 *   - agent-stop:  the node's agent is stopping (a PC shutting down);
 *   - evacuate:    a class starts on the node within the lead time (or is
 *                  in progress);
 *   - drain:       an administrator drains the node;
 *   - return-home: optionally, a container goes back to a node holding its
 *                  remnants once that node is free (no class for a while).
 * Orders respect per-node and global limits of concurrent moves; a container
 * whose moves failed waits an exponential backoff, and is given up on after
 * max_retries (it stays where the agent's transaction left it).
 * The target is left to the scheduler (to = NULL) except for return-home.
 */
#ifndef ZANSHIN_COORD_POLICY_H
#define ZANSHIN_COORD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zanshin/error.h"

#define ZS_POL_NONE INT64_MAX /* no class ahead */

struct zs_pol_node {
	const char *name;
	bool up, draining, stopping;	/* draining: by an admin; stopping: its agent is going down */
	int64_t class_start, class_end; /* class in progress or the next one; ZS_POL_NONE: none */
	unsigned moving;		/* moves in flight from or to this node */
};

struct zs_pol_container {
	const char *id;
	const char *node;  /* where it runs */
	const char *home;  /* a node holding its remnants to go back to, or NULL */
	bool moving;	   /* a move is in flight */
	unsigned failures; /* failed moves in a row */
	int64_t last_failure;
};

struct zs_pol_settings {
	bool evacuate, drain, return_home;
	int64_t lead;		      /* evacuate this long before a class starts */
	int64_t home_margin;	      /* return home only if its next class is further than lead + margin */
	unsigned per_node;	      /* concurrent moves per node (source or target) */
	unsigned global;	      /* concurrent moves in the cluster */
	int64_t backoff, backoff_max; /* first wait after a failure, doubling, capped */
	unsigned max_retries;	      /* retries after the first failure; then the container is left alone */
};
#define ZS_POL_SETTINGS_DEFAULT                                                                                        \
	{                                                                                                              \
		.evacuate = true, .drain = true, .return_home = false, .lead = 15 * 60, .home_margin = 3600,           \
		.per_node = 1, .global = 4, .backoff = 30, .backoff_max = 15 * 60, .max_retries = 5                    \
	}

enum zs_pol_reason {
	ZS_POL_AGENT_STOP = 0,
	ZS_POL_EVACUATE,
	ZS_POL_DRAIN,
	ZS_POL_RETURN_HOME,
};

struct zs_pol_order {
	const char *container, *from, *to; /* point into the view; to NULL: the scheduler chooses */
	enum zs_pol_reason reason;
	char *why; /* a sentence for the move record */
};

struct zs_pol_result {
	struct zs_pol_order *o;
	size_t n;
	size_t held_by_limits; /* wanted to move, held back by concurrency limits */
	size_t in_backoff;     /* waiting after a failed move */
	size_t given_up;       /* failed more than max_retries times */
};

int zs_policy_decide(const struct zs_pol_node *nodes, size_t nn, const struct zs_pol_container *cs, size_t nc,
		     int64_t now, const struct zs_pol_settings *s, struct zs_pol_result *out, zs_error_t *err);
void zs_pol_result_free(struct zs_pol_result *r);

const char *zs_pol_reason_name(enum zs_pol_reason r); /* "evacuate", "drain", ... */

/* Seconds to wait after FAILURES failed moves (0 for none). */
int64_t zs_pol_backoff(const struct zs_pol_settings *s, unsigned failures);

int zs_pol_settings_check(const struct zs_pol_settings *s, zs_error_t *err);

#endif
