/* zanshin — container lifecycle: create/start/run, state, kill, delete,
 * exec, and access to a container's cgroup for pause/resume/update/events. */
#ifndef ZANSHIN_CONTAINER_H
#define ZANSHIN_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "zanshin/error.h"
#include "zanshin/json.h"

struct zs_cgroup;
struct zs_status;

struct zs_create_opts {
	const char *root;
	const char *id;
	const char *bundle;	    /* NULL = cwd */
	const char *console_socket; /* NULL = none */
	const char *pid_file;
	bool no_pivot;
	bool no_new_keyring;
	bool detach; /* run only */
	bool keep;   /* run: keep the stopped container */
	int preserve_fds;
};

/* create; with START also start (run), and unless O->detach wait for the
 * container and delete it; *exit_status gets its exit code. */
int zs_container_create(const struct zs_create_opts *o, bool start, int *exit_status, zs_error_t *err);
int zs_container_start(const char *root, const char *id, zs_error_t *err);

/* "created", "running", "paused", "stopped". */
const char *zs_container_status(const struct zs_status *st);
/* runc's state JSON shape (pretty). */
int zs_container_state_json(const char *root, const char *id, char **out, zs_error_t *err);
/* Write runc's state fields of ST into G (an object, open by the caller). */
void zs_container_state_fields(zs_jgen *g, const struct zs_status *st, const char *status, bool with_annotations);

int zs_container_kill(const char *root, const char *id, int sig, bool all, zs_error_t *err);
int zs_container_delete(const char *root, const char *id, bool force, zs_error_t *err);

struct zs_exec_opts {
	const char *root;
	const char *id;
	const char *process_file; /* --process */
	const char *console_socket;
	const char *pid_file;
	const char *cwd;
	const char *apparmor;	   /* --apparmor: overrides process.apparmorProfile */
	const char *process_label; /* --process-label: overrides process.selinuxLabel */
	const char *user;	   /* uid[:gid] */
	char **env;		   /* appended */
	char **caps;		   /* added */
	gid_t *additional_gids;
	size_t n_additional_gids;
	char **args;
	char **cgroups; /* --cgroup [CONTROLLERS:]PATH, sub-cgroups to join */
	bool detach;
	bool tty;
	bool tty_set;
	bool no_new_privs;
	bool ignore_paused;
	int preserve_fds;
};
int zs_container_exec(const struct zs_exec_opts *o, int *exit_status, zs_error_t *err);

/* Load the state and cgroup of a container (for pause/resume/update/...). */
int zs_container_load(const char *root, const char *id, struct zs_status **st, struct zs_cgroup **cg, zs_error_t *err);
int zs_container_pause(const char *root, const char *id, zs_error_t *err);
int zs_container_resume(const char *root, const char *id, zs_error_t *err);

#endif
