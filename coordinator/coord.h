/* zanshin-api — the coordinator (DESIGN.md "Cluster"): declarations
 * shared by the files of coordinator/.  See docs/coordinator.md and
 * zanshin-api(8). */
#ifndef ZANSHIN_COORD_H
#define ZANSHIN_COORD_H
#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "zanshin/error.h"
#include "zanshin/json.h"

#define COORD_MAX_BODY (4u << 20) /* a request body (a heartbeat of a big node fits) */
#define COORD_MAX_ADMIN_CNS 32
#define COORD_THREADS 4u /* HTTP worker threads */
/* database connections: one per HTTP thread, the policy loop, the sweeper */
#define COORD_DB_CONNECTIONS (COORD_THREADS + 2u)
#define COORD_MAX_CONNECTIONS 8192u
#define COORD_DEFAULT_PORT "7430"
#define COORD_MOVE_MODES 6 /* move_mode.c: every move, admin and the four policies */

struct coord_policy;

struct coord {
	char *listen, *cert, *key, *ca, *db_url, *log, *log_format;
	char *admin_cn[COORD_MAX_ADMIN_CNS]; /* certificate CNs that are admins, not nodes */
	size_t n_admin_cn;
	int node_timeout; /* seconds without a heartbeat: the node is down */
	int heartbeat_s;  /* what agents are told to use */
	struct db *db;
	void *mhd;     /* struct MHD_Daemon */
	char *replica; /* HOST:PID, this replica's name */
	bool leader_thread;
	struct coord_policy *policy;	   /* scheduler and policy settings (cluster_view.h) */
	char *move_mode[COORD_MOVE_MODES]; /* --move-mode: every move, then per orderer (move_mode.c) */
};

enum who_role { WHO_NONE, WHO_NODE, WHO_VIEWER, WHO_ADMIN };
struct who {
	enum who_role role;
	char name[192]; /* node name, "token:ID (NAME)", "cert:CN" */
};

struct req {
	struct coord *co;
	void *conn; /* struct MHD_Connection */
	const char *method, *path;
	const char *body;
	size_t len;
	struct who who;
	char *const *parts; /* path split on '/', after "v1" */
	size_t n_parts;
};

struct reply {
	int status;
	char *body; /* JSON */
};

/* ---- http.c ---- */
int http_start(struct coord *co, zs_error_t *err);
void http_stop(struct coord *co);
const char *req_query(struct req *r, const char *key);
/* {"error": TEXT} with STATUS; returns 0 (the request was answered) */
int reply_error(struct reply *rep, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int reply_gen(struct reply *rep, int status, zs_jgen *g);
/* a zs_error_t that came from a request's input: 400 with its text */
int reply_bad(struct reply *rep, zs_error_t err);
/* a failure of ours (database): 500, logged */
int reply_internal(struct reply *rep, zs_error_t err);

/* ---- auth.c ---- */
/* Who sent the request: a verified client certificate (node or admin
 * CN) or a bearer token.  < 0 with *STATUS and *ERR when it is refused. */
int auth_identify(struct coord *co, void *conn, struct who *who, int *status, zs_error_t *err);
/* `zanshin-api token create|list|revoke` */
int token_main(struct coord *co, int argc, char **argv, zs_error_t *err);
char *random_id(const char *prefix);
char *sha256_hex(const char *s); /* lower-case hex */

/* ---- audit.c ---- */
/* record a write (inside the caller's transaction when there is one) */
int audit(struct coord *co, const struct who *who, const char *action, const char *target, const char *detail,
	  zs_error_t *err);
int api_audit(struct req *r, struct reply *rep);

/* ---- api_nodes.c ---- */
int api_nodes(struct req *r, struct reply *rep);
int api_node(struct req *r, struct reply *rep);
int api_drain(struct req *r, struct reply *rep); /* POST nodes/N/drain | undrain */
int api_heartbeat(struct req *r, struct reply *rep);
/* nodes silent for --node-timeout are marked down (monitor thread) */
int nodes_mark_down(struct coord *co, zs_error_t *err);

/* ---- api_moves.c ---- */
int api_containers(struct req *r, struct reply *rep);
int api_remnants(struct req *r, struct reply *rep);
int api_moves(struct req *r, struct reply *rep);
int api_move(struct req *r, struct reply *rep);
int api_move_create(struct req *r, struct reply *rep);
int api_move_report(struct req *r, struct reply *rep);
/* the orders for NODE, handed out once (state pending -> ordered) */
int moves_take_orders(struct coord *co, const char *node, zs_jgen *g, zs_error_t *err);
/* The target of a move ordered without one.  The scheduler (sched.c,
 * engineer h6) replaces this; until then an error says so. */
int moves_choose_target(struct coord *co, const char *container, const char *source, char **target, zs_error_t *err);

/* ---- moves_reconcile.c: what the agents know of the orders handed out ---- */
/* the error of an order whose node went down before its agent took it */
#define UNACKED_ERROR "not acknowledged: the source node went down before its agent took the order"
struct hb_known {
	char **ids; /* the orders the agent holds a record of */
	size_t n;
	bool present; /* the heartbeat listed them (older agents do not) */
};
int reconcile_parse(const zs_json *arr, struct hb_known *k, zs_error_t *err);
void reconcile_free(struct hb_known *k);
/* in the heartbeat's transaction, before the orders are taken */
int moves_reconcile(struct coord *co, const char *node, const struct hb_known *k, const char *now, zs_error_t *err);
/* NODE went down: its orders never acknowledged fail (reopenable) */
int moves_fail_unacked(struct coord *co, const char *node, zs_error_t *err);
/* a failed move whose agent's report is still accepted */
bool moves_reopenable(const char *state, const char *error);

/* ---- leader.c ---- */
int leader_start(struct coord *co, zs_error_t *err);
void leader_stop(struct coord *co);
/* Does this replica lead (run the policies)?  Always with SQLite. */
bool coord_is_leader(struct coord *co);
int api_status(struct req *r, struct reply *rep); /* GET /v1/status */

/* ---- util ---- */
double coord_now(void);
char *fmt_double(double v);
bool valid_node_name(const char *s);
bool valid_container_id(const char *s);
/* JSON object KEYS only; an unknown key is an error naming it */
int json_only_keys(const zs_json *obj, const char *what, const char *const *keys, zs_error_t *err);

#endif
