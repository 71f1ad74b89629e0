/* zanshind — the records of the coordinator's orders (coord_orders.c). */
#ifndef ZANSHIND_COORD_ORDERS_H
#define ZANSHIND_COORD_ORDERS_H

#include <stdbool.h>
#include <sys/types.h>

#include "agent.h"

/* Record ORDER (moving CONTAINER to TO) before running it: written
 * atomically, so every later heartbeat lists it.  RUNNER: the process
 * running it (0: not started yet). */
int order_record(struct agent *a, const char *order, const char *container, const char *to, pid_t runner,
		 zs_error_t *err);
/* A record of ORDER is held (the order was taken already). */
bool order_held(struct agent *a, const char *order);
/* The order's outcome reached the coordinator: its record goes. */
void order_forget(struct agent *a, const char *order);
/* The heartbeat's "moves": every order held, with its journal state. */
void orders_json(struct agent *a, zs_jgen *g);
/* Orders whose runner is gone (it died, or the agent was restarted):
 * the outcome in the journal, or "failed" when the move never started,
 * reported with REPORT; the record goes once the coordinator answered. */
void orders_flush(struct agent *a,
		  int (*report)(struct agent *a, const char *order, const struct move *m, int ret, zs_error_t err));

#endif
