/* zanshin cluster place | timetable (runtime/cluster_sched.c): the
 * scheduler's choice with its explanation, and the class timetable. */
#ifndef ZANSHIN_RUNTIME_CLUSTER_SCHED_H
#define ZANSHIN_RUNTIME_CLUSTER_SCHED_H

#include <stdbool.h>

#include "zanshin/coord_client.h"
#include "zanshin/error.h"

int zs_cluster_place(const struct zs_coord_client *c, bool json, bool explain, const char *from, const char *id,
		     zs_error_t *err);
/* timetable import FILE --room R | show [ROOM] | delete ROOM */
int zs_cluster_timetable(const struct zs_coord_client *c, bool json, const char *room, int nargs, char **args,
			 zs_error_t *err);

#endif
