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
	ZS_SYNC_LOG,	    /* child -> parent: a log line; err_no = level (0 error .. 3 debug) */
};

struct zs_sync_msg {
	int type;
	int err_no;
	char msg[4000];
};

/* lib/sync_msg.c.  The child's side is untrusted: it runs in the container. */
int zs_sync_send(int fd, int type, int err_no, const char *msg);
/* Receive one message; EOF is returned as 0 with m->type = 0.  A packet of
 * the wrong size, an unknown type or a number out of range for its type is
 * an error; m->msg is always NUL-terminated and printable (see below). */
int zs_sync_recv(int fd, struct zs_sync_msg *m, zs_error_t *err);
/* Same, for the parent: ZS_SYNC_LOG messages are written to our log on the
 * way, the first other message (or EOF) is returned. */
int zs_sync_recv_reply(int fd, struct zs_sync_msg *m, zs_error_t *err);
/* Check one raw packet of LEN bytes and decode it into M. */
int zs_sync_decode(const void *buf, size_t len, struct zs_sync_msg *m, zs_error_t *err);
/* Copy at most SRC_LEN bytes of SRC (up to a NUL) into DST, printable ASCII
 * as is and every other byte (and backslash) as \xNN; cut to fit DST_SIZE,
 * always NUL-terminated. */
void zs_sanitize_text(char *dst, size_t dst_size, const char *src, size_t src_len);
/* Child side: close the log file and send log lines to the parent over
 * *SYNC_FD instead (a process in the container never holds the host's log). */
void zs_sync_log_to_parent(int *sync_fd);

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
	bool sealed;		  /* internal: fds CLOEXEC and filter loaded for execve */
	bool cwd_done;		  /* internal: chdir succeeded while privileged */
};

/* Child side; never returns (exits with 1 after reporting an error). */
__attribute__((noreturn)) void zs_linux_init(struct zs_init_args *a);
/* Exec'd process after the caller joined the namespaces; never returns. */
void zs_linux_exec(struct zs_init_args *a);
/* First call in every child that enters the container: non-dumpable,
 * host log closed, fds beyond the preserved ones CLOEXEC (exits on error,
 * reported on the sync socket). */
void zs_linux_guard(struct zs_init_args *a);
/* PR_SET_DUMPABLE 0 for the calling process (and the children it forks). */
int zs_make_undumpable(zs_error_t *err);
/* The parent sets process.oomScoreAdj of its child PID (before GO). */
int zs_set_oom_score_adj(pid_t pid, const struct zs_process *p, zs_error_t *err);

/* Run the hooks of one kind; STATE is the state JSON written to stdin. */
int zs_run_hooks(const struct zs_hook *hooks, size_t n, const char *kind, const char *state, zs_error_t *err);

/* Send the pty master FD over the connected unix socket SOCK (runc's way). */
int zs_send_fd(int sock, int fd, const char *name, zs_error_t *err);

#endif
