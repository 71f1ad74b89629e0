/* zanshin — the container process's stdio as runc 1.1 leaves it: the
 * host's /dev/null replaced by the container's, stdio owned by the
 * process's user (lib/stdio.c); and what checkpoint/restore records and
 * hands back for it (lib/cr_stdio.c). */
#ifndef ZANSHIN_STDIO_H
#define ZANSHIN_STDIO_H

#include <stdbool.h>
#include <sys/types.h>

#include "zanshin/config.h"
#include "zanshin/error.h"

/* Inside the container (after pivot_root, or after joining the mount
 * namespace for exec), before the terminal is set up and before the user
 * is changed: fds 0-2 that are the null device (1:3) are reopened on the
 * container's /dev/null unless /dev is a bind mount (runc's
 * reOpenDevNull); then, unless TERMINAL, fds 0-2 not owned by UID and not
 * the null device are chowned to UID (runc's fixStdioPermissions).
 * REQUIRED: failing to open the container's /dev/null is an error (the
 * init in its own mount namespace); otherwise the host's stays. */
int zs_stdio_prepare(const struct zs_config *cfg, uid_t uid, bool terminal, bool required, zs_error_t *err);

/* Is the null device 1:3? */
bool zs_stdio_is_null_dev(dev_t rdev);

#endif
