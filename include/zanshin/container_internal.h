/* zanshin — internal split of lib/container*.c and lib/terminal.c. */
#ifndef ZANSHIN_CONTAINER_INTERNAL_H
#define ZANSHIN_CONTAINER_INTERNAL_H

#include <sys/types.h>

#include "zanshin/error.h"
#include "zanshin/json.h"

char *zs_hook_state(const char *id, pid_t pid, const char *status, const char *bundle, const zs_json *annotations);
int zs_connect_console(const char *path, zs_error_t *err);
/* Wait for PID, forwarding signals; proxy TTY_MASTER (if >= 0) to stdio.
 * Returns the exit code (128+signal when killed). */
int zs_wait_forwarding(pid_t pid, int tty_master);
/* Copy stdin -> master and master -> stdout until the master hangs up. */
void zs_tty_proxy(int master);
/* Receive one fd sent with zs_send_fd. */
int zs_recv_fd(int sock, zs_error_t *err);

/* The bundle's config.json copied into the state directory. */
int zs_state_keep_config(const char *bundle, const char *state_dir, zs_error_t *err);
/* PATH (if not NULL) gets PID, atomically. */
int zs_write_pid_file(const char *path, pid_t pid, zs_error_t *err);
/* Now, UTC, RFC 3339 with nanoseconds (the state's "created"). */
char *zs_now_rfc3339(void);
#endif
