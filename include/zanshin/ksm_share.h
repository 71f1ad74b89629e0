/* zanshin — `restore --ksm` (a prototype; docs/lazy-restore.md,
 * "Templates: memory"): the restored container's memory is made mergeable
 * by the kernel's KSM, so that containers restored from one template share
 * the pages none of them wrote. */
#ifndef ZANSHIN_KSM_SHARE_H
#define ZANSHIN_KSM_SHARE_H

#include <stdbool.h>

#include "zanshin/error.h"

/* Mark our own mm "merge any" (prctl PR_SET_MEMORY_MERGE, Linux >= 6.4;
 * inherited over fork and execve since 6.7): CRIU, forked from us, and
 * the tasks it restores inherit it, so every anonymous mapping they get is
 * a KSM candidate. Refused when the kernel has no KSM; *KSMD_RUNNING says
 * whether /sys/kernel/mm/ksm/run is 1 (nothing is merged until it is: an
 * administrator's choice, never changed here). */
int zs_ksm_share_prepare(bool *ksmd_running, zs_error_t *err);

#endif
