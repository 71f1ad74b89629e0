/* zanshind — the local API: a Unix socket (mode 0600, root only, checked
 * with SO_PEERCRED) for the zanshin CLI: "migrate" and "moves". */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "zanshin/log.h"
#include "zanshin/remnant.h"
#include "zanshin/utils.h"

int local_listen(struct agent *a, zs_error_t *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	cleanup_free char *dir = xstrdup(a->socket);
	char *slash = strrchr(dir, '/');
	int fd;

	if (strlen(a->socket) >= sizeof(sa.sun_path))
		return zs_make_error(err, -ENAMETOOLONG, "--socket `%s` is too long", a->socket);
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir, 0700, err) < 0)
			return zs_error_wrap(err, "--socket");
	}
	strcpy(sa.sun_path, a->socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return zs_make_error(err, errno, "socket");
	unlink(a->socket);
	/* created 0600 from the start: no window where others may connect */
	{
		mode_t old = umask(0177);
		int r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
		int e = errno;
		umask(old);
		if (r < 0) {
			close(fd);
			return zs_make_error(err, e, "--socket: bind `%s`", a->socket);
		}
	}
	if (chmod(a->socket, 0600) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		return zs_make_error(err, e, "--socket `%s`", a->socket);
	}
	return fd;
}

static void reply_move(struct zs_conn *c, const struct move *m, int ret, zs_error_t err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *text = ret < 0 ? zs_error_text(err) : NULL;

	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "result");
	zs_jgen_key(g, "ok");
	zs_jgen_bool(g, ret == 0);
	if (text)
		zs_jgen_kv_string(g, "error", text);
	if (m->id) {
		zs_jgen_key(g, "move");
		move_to_json(m, g);
	}
	zs_jgen_map_close(g);
	zs_frame_send_gen(c, g, &e);
}

/* After a move that ended: the source's checkpoint stays only in its
 * store (the store's background keeping is waited for first). */
static void source_cleanup(struct agent *a, const struct move *m)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *work = NULL;
	struct zs_remnant *r = NULL;

	if (m->id == NULL || !move_terminal(m->state))
		return;
	if (zs_remnant_open(a->remnant_root, &r, &e) == 0) {
		zs_remnant_settle(r);
		zs_remnant_close(r);
	}
	work = xasprintf("%s/work/%s", a->state_dir, m->id);
	rm_rf(work);
}

/* The options of a migrate request: mode, timeout, pre-copy's goal and
 * rounds (the CLI's flags, checked again here). */
static int parse_req(const zs_json *q, struct move_req *rq, zs_error_t *err)
{
	const char *mode = zs_json_string_value(zs_json_get(q, "mode"));
	const char *goal = zs_json_string_value(zs_json_get(q, "precopy_goal"));
	uint64_t timeout = 0, rounds = 5;

	rq->mode = mode ? mode : "stop-copy";
	if (strcmp(rq->mode, "stop-copy") != 0 && strcmp(rq->mode, "pre-copy") != 0 &&
	    strcmp(rq->mode, "post-copy") != 0)
		return zs_make_error(err, -EOPNOTSUPP, "--mode %s: not implemented (stop-copy, pre-copy, post-copy)",
				     rq->mode);
	if (zs_json_to_uint64(zs_json_get(q, "timeout"), "migrate", "timeout", 0, &timeout, err) < 0 ||
	    zs_json_to_uint64(zs_json_get(q, "precopy_rounds"), "migrate", "precopy_rounds", 0, &rounds, err) < 0)
		return -1;
	if (timeout > 7 * 24 * 3600)
		return zs_make_error(err, -EINVAL, "--timeout: at most a week");
	if (rounds < 1 || rounds > AGENT_MAX_PRECOPY_ROUNDS)
		return zs_make_error(err, -EINVAL, "--precopy-rounds: from 1 to %d", AGENT_MAX_PRECOPY_ROUNDS);
	rq->timeout_s = (double) timeout;
	rq->precopy_rounds = (unsigned) rounds;
	rq->precopy_goal_pct = 5;
	if (goal && precopy_parse_goal(goal, rq, err) < 0)
		return zs_error_wrap(err, "--precopy-goal");
	return 0;
}

static void run_migrate(struct agent *a, struct zs_conn *c, const zs_json *q)
{
	cleanup_error zs_error_t err = NULL;
	struct move m = {0};
	struct move_req rq = {.client = c};
	const char *id = zs_json_string_value(zs_json_get(q, "container"));
	const char *to = zs_json_string_value(zs_json_get(q, "to"));
	const char *compress = zs_json_string_value(zs_json_get(q, "compress"));
	int ret;

	if (compress)
		m.compress = xstrdup(compress);
	if (id == NULL) {
		ret = zs_make_error(&err, -EINVAL, "migrate: no container id");
	} else if (parse_req(q, &rq, &err) < 0) {
		ret = -1;
	} else {
		a->req = &rq;
		move_progress_reset();
		ret = move_source(a, id, to, rq.mode, &m, &err);
		a->req = NULL;
	}
	reply_move(c, &m, ret, err);
	coord_report_local(a, &m, ret, err);
	zs_conn_close(c);
	source_cleanup(a, &m);
	move_free(&m);
}

/* A migrate: run here, or by the process holding a warm connection to
 * the target (agent/peer_pool.c), which then answers the client. */
static void do_migrate(struct agent *a, struct zs_conn *c, const zs_json *q)
{
	cleanup_error zs_error_t err = NULL;
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *req = NULL;
	const char *keys[] = {"container", "to", "compress", "mode", "precopy_goal"};
	const char *nums[] = {"timeout", "precopy_rounds"};
	struct move_req rq = {0};
	size_t len = 0;

	if (parse_req(q, &rq, &err) < 0) { /* refused here, not by the holder of a warm connection */
		struct move m = {0};
		reply_move(c, &m, -1, err);
		zs_conn_close(c);
		return;
	}
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "migrate");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = zs_json_string_value(zs_json_get(q, keys[i]));
		if (v)
			zs_jgen_kv_string(g, keys[i], v);
	}
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		cleanup_error zs_error_t e = NULL;
		uint64_t v = 0;
		if (zs_json_get(q, nums[i]) &&
		    zs_json_to_uint64(zs_json_get(q, nums[i]), "migrate", nums[i], 0, &v, &e) == 0) {
			zs_jgen_key(g, nums[i]);
			zs_jgen_uint(g, v);
		}
	}
	zs_jgen_map_close(g);
	req = zs_jgen_result(g, &len);
	if (peer_pool_handoff(a, zs_json_string_value(zs_json_get(q, "to")), c->fd, req) == 1) {
		zs_conn_close(c);
		return;
	}
	run_migrate(a, c, q);
	/* the connection this move leaves (if clean) serves the next ones */
	peer_pool_serve(a, run_migrate);
}

static void do_moves(struct agent *a, struct zs_conn *c)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t e = NULL;
	char **ids = NULL;
	size_t n = 0, i;

	journal_list(a, &ids, &n, &e);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "moves");
	zs_jgen_kv_string(g, "node", a->node);
	zs_jgen_key(g, "moves");
	zs_jgen_array_open(g);
	for (i = 0; i < n; i++) {
		struct move m;
		cleanup_error zs_error_t ge = NULL;
		if (journal_get(a, ids[i], &m, &ge) < 0)
			continue;
		move_to_json(&m, g);
		move_free(&m);
	}
	zs_jgen_array_close(g);
	zs_jgen_map_close(g);
	zs_free_string_array(ids);
	zs_frame_send_gen(c, g, &e);
}

int move_cancel(struct agent *a, const char *id, struct move *m, zs_error_t *err)
{
	int i;

	if (journal_get(a, id ? id : "", m, err) < 0)
		return -1;
	if (strcmp(m->role, "source") != 0)
		return zs_make_error(err, -EINVAL, "move %s was started by node %s: cancel it there", id, m->peer);
	if (move_terminal(m->state))
		return zs_make_error(err, -EALREADY, "move %s has already ended (%s)", id, m->state);
	if (strcmp(m->state, "commit-sent") == 0 || strcmp(m->state, "in-doubt") == 0 ||
	    strcmp(m->state, "post-copy") == 0)
		return zs_make_error(err, -EBUSY, "move %s is committed on node %s: too late to cancel", id, m->peer);
	if (m->pid <= 1 || kill((pid_t) m->pid, SIGUSR1) < 0)
		return zs_make_error(err, -ESRCH, "move %s: its process is gone (the agent restarted?)", id);
	for (i = 0; i < 10 * 60 * a->io_timeout && !move_terminal(m->state); i++) {
		usleep(100000);
		move_free(m);
		if (journal_get(a, id, m, err) < 0)
			return -1;
	}
	if (strcmp(m->state, "done") == 0)
		return zs_make_error(err, -EALREADY, "move %s completed before it could be cancelled", id);
	return 0;
}

static void do_cancel(struct agent *a, struct zs_conn *c, const zs_json *q)
{
	cleanup_error zs_error_t err = NULL;
	struct move m = {0};
	int ret = move_cancel(a, zs_json_string_value(zs_json_get(q, "move")), &m, &err);

	reply_move(c, &m, ret, err);
	move_free(&m);
}

void local_serve(struct agent *a, int fd)
{
	struct zs_conn c = {.fd = fd, .peer = xstrdup("local client")};
	cleanup_error zs_error_t err = NULL;
	cleanup_json zs_json *q = NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	const char *type = NULL;

	conn_set_timeout(fd, AGENT_IO_TIMEOUT_S);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
		zs_frame_send_error(&c, "permission denied: only root may use the agent", &err);
		zs_conn_close(&c);
		return;
	}
	if (zs_frame_recv(&c, &q, &type, &err) < 0) {
		zs_log("warning", "local API: %s", zs_error_msg(err));
		zs_conn_close(&c);
		return;
	}
	if (strcmp(type, "migrate") == 0)
		do_migrate(a, &c, q);
	else if (strcmp(type, "moves") == 0)
		do_moves(a, &c);
	else if (strcmp(type, "cancel") == 0)
		do_cancel(a, &c, q);
	else
		zs_frame_send_error(&c, "unknown request (migrate, moves, cancel)", &err);
	zs_conn_close(&c);
}
