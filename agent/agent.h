/* zanshind — the node agent: declarations shared by the files of agent/.
 * See docs/agent.md (protocol, journal states) and zanshind(8). */
#ifndef ZANSHIN_AGENT_H
#define ZANSHIN_AGENT_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "zanshin/error.h"
#include "zanshin/frame.h"
#include "zanshin/json.h"

#define AGENT_MAX_PEERS 64
struct move_req;
struct zs_remnant;
/* bounds on what a peer may send */
#define AGENT_MAX_FILES 4096
#define AGENT_MAX_FILE_SIZE (64ull << 30)
#define AGENT_MAX_BUNDLE_SIZE (16ull << 30)
#define AGENT_IO_TIMEOUT_S 60 /* default of --io-timeout */
#define AGENT_PEER_IDLE_S 30  /* a warm connection to a peer is kept so long */

struct agent_peer {
	char *name, *host, *port;
};

struct agent {
	char *node, *listen, *cert, *key, *ca;
	char *root, *remnant_root, *socket, *state_dir, *log, *log_format;
	char *runtime;	/* the zanshin binary */
	int io_timeout; /* seconds of silence before a peer is given up */
	bool insecure;	/* --insecure-loopback: plaintext (insecure.c) */
	/* --lazy-restore: a move's restore here is `zanshin restore --lazy` */
	bool lazy_restore;
	struct agent_peer peers[AGENT_MAX_PEERS];
	size_t n_peers;
	void *tls;		    /* gnutls_certificate_credentials_t */
	int stop_fd;		    /* children: readable once the agent is stopping (-1: none) */
	const struct move_req *req; /* the move this process runs (local_api.c) */
	/* coordinator.c: --coordinator URL, --coordinator-name, --room, --drain-timeout */
	char *coordinator, *coordinator_name, *room;
	int drain_timeout;
};

/* What a local client asked for a move, beyond container, node, mode and
 * compression (local_api.c parses it; move_source.c and precopy.c use it). */
struct move_req {
	const char *mode;	   /* "stop-copy" (default), "pre-copy", "post-copy" */
	double timeout_s;	   /* 0: none; else cancelled when exceeded before the commit */
	uint64_t precopy_goal;	   /* stop the rounds at a round of at most this many bytes... */
	unsigned precopy_goal_pct; /* ...or of at most this percent of the first round's (when not 0) */
	unsigned precopy_rounds;   /* at most this many pre-dump rounds */
	struct zs_conn *client;	   /* progress events go there (NULL: none) */
};

/* ---- tls.c ---- */
int tls_init(struct agent *a, zs_error_t *err);
/* Server side of an accepted socket: handshake, peer certificate checked
 * against the CA, c->peer = its node name (certificate CN). */
int tls_accept(struct agent *a, int fd, struct zs_conn *c, zs_error_t *err);
/* Connect to peer NAME; its certificate must be signed by the CA and name
 * NAME. */
int tls_connect(struct agent *a, const char *name, struct zs_conn *c, zs_error_t *err);
const struct agent_peer *agent_peer(struct agent *a, const char *name);
/* Socket timeouts for every connection (a dead peer is an error, not a hang). */
void conn_set_timeout(int fd, int seconds);
/* A TCP connection to peer P (its fd), with timeouts. */
int agent_tcp_connect(struct agent *a, const struct agent_peer *p, zs_error_t *err);

/* ---- insecure.c: --insecure-loopback (plaintext, for benchmarks) ---- */
/* Refused unless no other machine can reach this agent. */
int insecure_check(struct agent *a, zs_error_t *err);
int insecure_accept(struct agent *a, int fd, struct zs_conn *c, zs_error_t *err);
int insecure_connect(struct agent *a, const struct agent_peer *p, struct zs_conn *c, zs_error_t *err);

/* ---- journal.c: one record per move, STATE_DIR/moves/ID.json ---- */
struct move {
	char *id, *container, *peer, *role; /* role: "source" | "target" */
	char *state, *error, *mode;
	char *image_id, *parent_image_id, *generation, *bundle_digest, *rootfs_digest;
	char *img_dir;	    /* source: the checkpoint; target: staging */
	char *restore_from; /* source: what a rollback restores */
	char *bundle;	    /* the bundle directory the container runs from */
	bool diff, bundle_sent, rootfs_reused;
	long long restore_pid;
	long long pid; /* source: the agent process running the move (cancel) */
	/* post-copy (postcopy.c): source: the lazy `zanshin checkpoint`,
	 * target: `criu lazy-pages`; remote faults, last page after running */
	long long helper_pid;
	uint64_t faults;
	double last_page_s;
	double started, setup_s, downtime_s, total_s;
	/* stop-copy phases (source): the checkpoint; checkpoint end → the
	 * target has every file, verified; the target's store commit */
	double checkpoint_s, transfer_s, commit_s;
	uint64_t bytes_pages, bytes_bundle, bytes_metadata;
	struct precopy_round *rounds; /* pre-copy (precopy.c) */
	size_t n_rounds;
	char *precopy_gens; /* target: generations of this move's rounds, "A,B" */
	/* compression (agent/wire.c): --compress asked, the levels used; file
	 * data raw and as sent, deltas' raw bytes, every byte both ways */
	char *compress, *compress_levels;
	bool warm; /* source: on a warm connection (agent/peer_pool.c) */
	uint64_t bytes_raw, bytes_data, bytes_delta, bytes_wire;
	uint64_t generations_sent;  /* source: generations the target lacked (move_gens.c) */
	uint64_t pages_from_target; /* source: pages of a rebased diff the target held (move_rebase.c) */
	char *order;		    /* source: the coordinator's order it runs (coord_orders.c), or NULL */
};
void move_free(struct move *m);
char *move_new_id(void);
int journal_init(struct agent *a, zs_error_t *err);
/* Write M (atomically, fsync); STATE is set first when not NULL. */
int journal_put(struct agent *a, struct move *m, const char *state, zs_error_t *err);
int journal_get(struct agent *a, const char *id, struct move *m, zs_error_t *err);
/* Under the record's lock: when its state is FROM, set it to TO (1),
 * else leave it (0, *NOW = the state it has). */
int journal_transition(struct agent *a, const char *id, const char *from, const char *to, char **now, zs_error_t *err);
/* Ids of every record, oldest first. */
int journal_list(struct agent *a, char ***ids, size_t *n, zs_error_t *err);
bool move_terminal(const char *state);
void move_to_json(const struct move *m, zs_jgen *g);
double now_s(void);

/* ---- runtime_exec.c: the zanshin runtime binary ---- */
/* Run `zanshin --root --remnant-root [--log LOG] ARGS...`; stdout and
 * stderr to LOG's directory/OUT; an error carries the tail of its output. */
int rt_run(struct agent *a, const char *log_dir, const char *what, char *const args[], zs_error_t *err);
/* Restore container ID detached from IMG with BUNDLE, its stdio on pipes
 * held by a small process that logs its output to STATE_DIR/logs/ID.log.
 * *PID (may be NULL) gets the restore's pid as soon as it runs. */
int rt_restore(struct agent *a, struct move *m, const char *id, const char *img, const char *bundle, const char *work,
	       zs_error_t *err);
char **rt_argv(struct agent *a, const char *log, char *const args[]);
/* Run ARGV (stdout and stderr to OUT), KEEP[i] as its fd 3 + i; its pid. */
pid_t spawn_fds(char **argv, const char *out, const int *keep, size_t n, zs_error_t *err);
char *rt_output_tail(const char *path);
/* rt_restore in two steps (post-copy pumps pages meanwhile): start it
 * (LAZY: --lazy-pages), then wait for it. */
int rt_restore_start(struct agent *a, struct move *m, const char *id, const char *img, const char *bundle,
		     const char *work, bool lazy, pid_t *pid, zs_error_t *err);
int rt_restore_wait(struct agent *a, pid_t pid, const char *id, const char *work, zs_error_t *err);
/* "running", "paused", ..., or NULL when ID does not exist. */
char *rt_status(struct agent *a, const char *id);

/* ---- bundle.c ---- */
/* The digests of the bundle container ID runs from (recorded, or computed
 * once, packing it into WORK, and recorded). */
int bundle_ident(struct agent *a, const char *id, const char *bundle, const char *rootfs, const char *work,
		 char **digest, char **rootfs_digest, zs_error_t *err);
/* The directory of a bundle with DIGEST held on this node, or NULL. */
char *bundle_find(struct agent *a, const char *digest);
/* A rootfs with ROOTFS_DIGEST held on this node, or NULL. */
char *rootfs_find(struct agent *a, const char *rootfs_digest);
/* Pack BUNDLE (config.json) and ROOTFS into WORK/config.json, WORK/rootfs.tar. */
int bundle_pack(const char *bundle, const char *rootfs, const char *work, zs_error_t *err);
/* WORK/config.json + WORK/rootfs.tar, or a held rootfs (REUSE), become
 * STATE_DIR/bundles/DIGEST once the digests check (atomically). */
int bundle_unpack(struct agent *a, const char *work, const char *digest, const char *rootfs_digest, bool reuse,
		  zs_error_t *err);
int bundle_record(struct agent *a, const char *id, const char *digest, const char *rootfs_digest, const char *path,
		  const char *rootfs, zs_error_t *err);
/* *ROOTFS_DIGEST from TAR (unless TAR is NULL: then it is given); *DIGEST
 * from CONFIG and it. */
int bundle_digests(const char *config, const char *tar, char **digest, char **rootfs_digest, zs_error_t *err);

/* ---- move_source.c / move_target.c / recover.c ---- */
int move_source(struct agent *a, const char *container, const char *to, const char *mode, struct move *m,
		zs_error_t *err);
void move_target(struct agent *a, struct zs_conn *c);
void recover(struct agent *a);
/* Ask again the targets of in-doubt moves (the main loop, now and then). */
void recover_in_doubt(struct agent *a);
bool journal_has_state(struct agent *a, const char *state);
/* source: ask the target what became of move M (1 runs, 0 never will) */
int source_ask(struct agent *a, struct move *m, int tries, zs_error_t *err);
/* source: restore the container here from its own checkpoint */
int source_rollback(struct agent *a, struct move *m, zs_error_t *err);
/* target: answer a status query for move ID (aborting it when it has not
 * reached its restore) */
char *target_status(struct agent *a, const char *id);

/* ---- postcopy.c: --mode post-copy (docs/agent.md "Post-copy") ---- */
struct pc_src {
	pid_t ckpt;	  /* the lazy `zanshin checkpoint` serving the pages */
	int ps;		  /* this agent's end of its page socket */
	pid_t init;	  /* the container's init */
	const char *work; /* the move's work directory */
};
/* source: dump all but the pages; CRIU then serves them on P->ps */
int pc_src_dump(struct agent *a, struct move *m, const char *work, const char *img, struct pc_src *p, zs_error_t *err);
/* source, image sent: commit, relay the pages.  1 done, 0 the target
 * never ran it (pc_src_rollback), < 0 it ran there and the transfer
 * broke (the container is killed, lost) */
int pc_src_commit(struct agent *a, struct move *m, struct zs_conn *c, struct pc_src *p, double t_freeze,
		  zs_error_t *err);
/* source: before the target ran it, CRIU resumes it here */
int pc_src_rollback(struct agent *a, struct move *m, struct pc_src *p, zs_error_t *err);
/* target, on commit: lazy daemon + lazy restore, relay the pages.  0 all
 * pages in (result and pages-done sent); -2 it never ran (the caller
 * answers the commit with an error); -3 it ran and the transfer broke:
 * killed, journaled `aborted` */
int pc_tgt_serve(struct agent *a, struct zs_conn *c, struct move *m, const char *img, const char *bundle,
		 const char *work, zs_error_t *err);
/* recovery of a post-copy move an agent killed left unfinished */
void pc_recover_source(struct agent *a, struct move *m);
void pc_recover_target(struct agent *a, struct move *m);
bool is_postcopy(const struct move *m);

/* ---- local_api.c ---- */
int local_listen(struct agent *a, zs_error_t *err);
void local_serve(struct agent *a, int fd);
/* Ask the process running move M to cancel it (before its commit). */
int move_cancel(struct agent *a, const char *id, struct move *m, zs_error_t *err);

/* ---- precopy.c ---- */
#define AGENT_MAX_PRECOPY_ROUNDS 32
bool is_precopy(const struct move *m);
struct precopy_round {
	uint64_t bytes; /* page bytes of the round's pre-dump */
	double s;	/* seconds: pre-dump and its transfer */
};
void precopy_rounds_to_json(const struct move *m, zs_jgen *g);
int precopy_rounds_from_json(const zs_json *j, struct move *m, zs_error_t *err);
/* Parse --precopy-goal: SIZE[K|M|G] bytes or N% of the first round. */
int precopy_parse_goal(const char *s, struct move_req *rq, zs_error_t *err);
/* target: a pre-dump round received (TMP complete) becomes a generation
 * of the store, noted in the journal; *NAME gets its name. */
int precopy_commit_round(struct agent *a, struct move *m, struct zs_remnant *store, const char *tmp, char **name,
			 zs_error_t *err);
/* target: remove the generations of an aborted move's rounds. */
void precopy_drop_rounds(struct agent *a, struct move *m, struct zs_remnant *store);
/* target: commit the checkpoint of a pre-copy without the store's merge
 * (returns the store's max_chain), merge after the restore. */
unsigned precopy_hold_merge(struct zs_remnant *store);
void precopy_merge(struct agent *a, struct move *m, struct zs_remnant *store, unsigned max);

/* ---- progress.c: events to the local client of a move ---- */
/* PHASE; DONE of TOTAL bytes (0/0 when it has no size); rate-limited
 * unless FORCE. */
void move_progress(struct agent *a, const struct move *m, const char *phase, uint64_t done, uint64_t total, bool force);
/* A new move (with a new client) in this process: events go out again. */
void move_progress_reset(void);
/* ---- peer_pool.c: a warm connection per node pair ---- */
/* A connection to peer NAME: the one this process holds (checked with a
 * ping; *WARM), else a new one. */
int peer_conn_get(struct agent *a, const char *name, struct zs_conn *c, bool *warm, zs_error_t *err);
/* After a move: keep C for the next move to NAME when CLEAN, else close. */
void peer_conn_put(struct zs_conn *c, const char *name, bool clean);
/* Hand REQUEST (a migrate to TO) and CLIENT_FD to the process holding a
 * warm connection to TO: 1 when it took them. */
int peer_pool_handoff(struct agent *a, const char *to, int client_fd, const char *request);
/* Hold the warm connection this process has (if any) until it idles out,
 * running with RUN the moves handed to it. */
void peer_pool_serve(struct agent *a, void (*run)(struct agent *a, struct zs_conn *c, const zs_json *q));
/* Target: wait up to SECONDS for the next request on C: 1, or 0 (idle,
 * closed, or the agent stops). */
int peer_wait_next(struct agent *a, struct zs_conn *c, int seconds);
/* ---- coordinator.c ---- */
/* The coordinator link's process: heartbeats, orders, reports; returns
 * after SIGTERM (see --drain-timeout). */
void coord_run(struct agent *a);
/* A peer the coordinator told this node about (STATE_DIR/peers.json). */
const struct agent_peer *coord_peer(struct agent *a, const char *name);
/* Report a move made with `zanshin migrate` (not ordered) to the coordinator. */
void coord_report_local(struct agent *a, const struct move *m, int ret, zs_error_t err);

/* ---- files ---- */
bool valid_name(const char *s); /* a plain file or id: [A-Za-z0-9._+-]{1,128}, not . or .. */

#endif
