/* zanshin — the container's init and exec'd processes: everything that
 * happens inside the new namespaces before execve. */
#ifndef ZANSHIN_LINUX_H
#define ZANSHIN_LINUX_H

#include <stdbool.h>
#include <sys/types.h>

#include "zanshin/config.h"
#include "zanshin/error.h"

struct zs_seccomp;

/* Messages on the parent<->child socket. */
enum zs_sync_type {
	ZS_SYNC_GO = 1,	    /* parent -> child: maps and cgroup are ready */
	ZS_SYNC_HOOKS,	    /* child -> parent: run prestart/createRuntime now */
	ZS_SYNC_HOOKS_DONE, /* parent -> child; err_no = the init's host pid */
	ZS_SYNC_CREATED,    /* child -> parent: waiting on the exec fifo */
	ZS_SYNC_ERROR,	    /* child -> parent: message + errno */
};

struct zs_sync_msg {
	int type;
	int err_no;
	char msg[4000];
};

int zs_sync_send(int fd, int type, int err_no, const char *msg);
/* Receive one message; EOF is returned as 0 with m->type = 0. */
int zs_sync_recv(int fd, struct zs_sync_msg *m, zs_error_t *err);

/* What the init child needs (set up by lib/container.c before clone). */
struct zs_init_args {
	const struct zs_config *config;
	const struct zs_process *process;
	const struct zs_seccomp *seccomp;
	const char *rootfs; /* absolute host path */
	const char *id;
	const char *bundle;
	const char *state_json; /* for createContainer/startContainer hooks */
	int sync_fd;
	int fifo_fd;	/* O_PATH of exec.fifo, -1 for exec */
	int console_fd; /* connected console socket or -1 */
	int preserve_fds;
	bool no_pivot;
	bool no_new_keyring;
	bool is_exec;		  /* exec: namespaces joined, no rootfs work */
	int ns_join_pid;	  /* exec: pid of the container init */
	int clone_flags;	  /* namespaces created by clone (init) */
	const int *mount_src_fds; /* per config mount: O_PATH fd of a bind source or -1 */
	bool seccomp_loaded;	  /* internal */
	bool cwd_done;		  /* internal: chdir succeeded while privileged */
};

/* Child side; never returns (exits with 1 after reporting an error). */
__attribute__((noreturn)) void zs_linux_init(struct zs_init_args *a);
/* Exec'd process after the caller joined the namespaces; never returns. */
void zs_linux_exec(struct zs_init_args *a);

/* Run the hooks of one kind; STATE is the state JSON written to stdin. */
int zs_run_hooks(const struct zs_hook *hooks, size_t n, const char *kind, const char *state, zs_error_t *err);

/* Send the pty master FD over the connected unix socket SOCK (runc's way). */
int zs_send_fd(int sock, int fd, const char *name, zs_error_t *err);

#endif
