/* zanshin — the restore's timeout on CRIU (lib/criu_watchdog.c). */
#ifndef ZANSHIN_CRIU_WATCHDOG_H
#define ZANSHIN_CRIU_WATCHDOG_H
#include <stdbool.h>

/* After SECONDS (0: never) every process this one started (CRIU, what CRIU
 * forked, a hook) is stopped and killed with SIGKILL; a blocked libcriu
 * call then returns an error.  One watchdog at a time (SIGALRM). */
void zs_criu_watchdog_arm(unsigned seconds);
/* Cancel it; true if it fired. */
bool zs_criu_watchdog_disarm(void);
/* SIGKILL every child of ours (not the watchdog's: it is disarmed) and
 * reap them, waiting at most ~5 s: what a failed restore left. */
void zs_criu_kill_children(void);
/* The names of the yards in WORK_FD now, one per line between newlines
 * ("\n" for none): taken before CRIU starts, for the next call. */
char *zs_criu_yards(int work_fd);
/* Unmount and remove the yards in WORK_FD that were not there BEFORE and
 * that no process holds open (a CRIU that runs holds its own): those a
 * killed CRIU of ours left.  A concurrent restore's yard stays.  The
 * mounts removed. */
int zs_criu_yard_cleanup_new(int work_fd, const char *before);

#endif
