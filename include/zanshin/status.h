/* zanshin — container state store under --root: ROOT/ID/state.json (format
 * "zanshin-state" version 1), written atomically, directories 0700. */
#ifndef ZANSHIN_STATUS_H
#define ZANSHIN_STATUS_H

#include <stdbool.h>
#include <sys/types.h>

#include "zanshin/error.h"
#include "zanshin/json.h"

#define ZS_STATE_FORMAT "zanshin-state"
#define ZS_STATE_VERSION 1

struct zs_status {
	char *id;
	char *dir; /* ROOT/ID */
	pid_t pid;
	unsigned long long start_time; /* /proc/PID/stat field 22 */
	char *bundle;
	char *rootfs;
	char *created; /* RFC 3339 */
	char *owner;
	bool has_cgroup;
	char *image_id;	  /* restored from this image (lineage id), NULL if not restored */
	char *generation; /* remnant generation restored from, NULL if none */
	bool tracking;	  /* memory tracked since the restore */
	zs_json *json;	  /* the whole state document */
	const zs_json *annotations;
	const zs_json *cgroup;
};

char *zs_status_dir(const char *root, const char *id);
/* Create ROOT (0700) and ROOT/ID (0700); EEXIST -> "already exists". */
int zs_status_create_dir(const char *root, const char *id, zs_error_t *err);
/* Exclusive lock of the container's directory (fd to close to unlock). */
int zs_status_lock(const char *root, const char *id, zs_error_t *err);
struct zs_cgroup;
int zs_status_write(const char *root, const struct zs_status *st, const zs_json *annotations,
		    const struct zs_cgroup *cg, zs_error_t *err);
int zs_status_load(const char *root, const char *id, struct zs_status **out, zs_error_t *err);
void zs_status_free(struct zs_status *st);
void cleanup_statusp(struct zs_status **st);
#define cleanup_status __attribute__((cleanup(cleanup_statusp)))
int zs_status_delete(const char *root, const char *id, zs_error_t *err);
/* IDs of every container under ROOT (NULL-terminated, sorted). */
int zs_status_list(const char *root, char ***ids, zs_error_t *err);

/* Is the process of ST alive (same start time, not a zombie)? */
bool zs_status_pid_alive(const struct zs_status *st);
unsigned long long zs_proc_start_time(pid_t pid, char *state_out);

/* A checkpoint holding the container frozen (lib/status_hold.c): set by
 * the checkpoint itself, valid while its process lives. */
int zs_status_hold_set(const char *root, const char *id, const char *why, zs_error_t *err);
void zs_status_hold_clear(const char *root, const char *id);
/* "WHAT (pid N)" of a live hold of another process (to free), or NULL. */
char *zs_status_hold(const struct zs_status *st);
/* -EBUSY with a message naming ACTION ("signalled", ...) while held. */
int zs_status_check_hold(const struct zs_status *st, const char *action, zs_error_t *err);
/* Path of the exec fifo of a created container. */
char *zs_status_fifo_path(const char *root, const char *id);

#endif
