/* zanshin — checkpoint and restore of a container through libcriu (our
 * patched CRIU as the service binary), with runc 1.1's options and
 * behaviour, plus memory tracking from restore and diff checkpoints. */
#ifndef ZANSHIN_CHECKPOINT_H
#define ZANSHIN_CHECKPOINT_H
#include <stdbool.h>
#include "zanshin/error.h"

/* Options checkpoint and restore share (runc's names). */
struct zs_cr_opts {
	const char *root;	  /* --root (container state) */
	const char *remnant_root; /* remnant store; NULL = default */
	const char *criu;	  /* --criu; NULL = ours next to the binary */
	const char *id;
	const char *image_path;		 /* NULL = ./checkpoint */
	const char *work_path;		 /* NULL = the image path */
	const char *manage_cgroups_mode; /* soft|full|strict|ignore, NULL = default */
	const char *empty_ns;		 /* "network" or NULL */
	bool tcp_established, ext_unix_sk, shell_job, file_locks, auto_dedup, lazy_pages;
};

struct zs_checkpoint_opts {
	struct zs_cr_opts c;
	const char *parent_path; /* relative to the image path, as runc */
	const char *page_server; /* ADDRESS:PORT */
	int status_fd;		 /* -1 = none */
	int page_server_fd;	 /* -1 = none: a connected socket a lazy dump serves its pages on */
	bool leave_running, pre_dump, track_mem;
	char **stats_out; /* non-NULL: gets the --print-stats JSON object (caller frees) */
};

struct zs_restore_opts {
	struct zs_cr_opts c;
	const char *bundle; /* NULL = cwd, else the stored Bundle */
	const char *console_socket, *pid_file, *lsm_profile, *lsm_mount_context;
	bool detach, no_subreaper, no_pivot;
	bool lazy;     /* --lazy: memory filled on first touch by our fault server */
	bool ksm;      /* --ksm: memory mergeable by KSM (lib/ksm_share.c) */
	int track_mem; /* -1 = the runtime setting (default on), 0 = off, 1 = on */
	long timeout;  /* seconds CRIU may take: -1 = restore_timeout of zanshin.json, 0 = none */
};

int zs_container_checkpoint(const struct zs_checkpoint_opts *o, zs_error_t *err);
/* Without O->detach, waits for the restored container like run and puts its
 * exit code in *EXIT_STATUS. */
int zs_container_restore(const struct zs_restore_opts *o, int *exit_status, zs_error_t *err);

/* The CRIU binary the runtime uses: CRIU (--criu) if given, else the one
 * installed with zanshin (bin/criu next to us in a build tree,
 * ../libexec/zanshin/criu when installed).  Caller frees. */
int zs_criu_binary(const char *criu, char **out, zs_error_t *err);

/* The memory tracking backend CRIU runs for the restored PID ("wp-async",
 * "soft-dirty"), NULL when it tracks nothing for it.  Caller frees. */
#include <sys/types.h>
char *zs_track_backend(pid_t pid);

#endif
