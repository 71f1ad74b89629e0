/* zanshind — post-copy moves (`zanshin migrate --mode post-copy`).
 *
 * Source: `zanshin checkpoint --lazy-pages --page-server-fd 3` dumps all
 * but the memory pages, then CRIU serves those on one end of a socket
 * pair; the image (small) travels as in stop-copy.  After the commit the
 * move's TLS connection carries the page server's bytes both ways in
 * `ps` frames.  Target: `criu lazy-pages --ps-socket 3` on one end of a
 * socket pair of its own, `zanshin restore --lazy-pages`: the container
 * runs at once, its pages are faulted in (and fetched in the background)
 * from the source.  No port is opened for the pages, on either node.
 *
 * Once the target runs it, the source never resumes the container: a
 * broken page transfer then kills it on both nodes (post-copy cannot go
 * back).  Before that, CRIU resumes it on the source when its page
 * socket closes: that is the rollback.  See docs/agent.md "Post-copy". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "zanshin/checkpoint.h"
#include "zanshin/container.h"
#include "zanshin/log.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

#define PS_CHUNK (1u << 20)
/* 4-byte length + {"type":"ps","size":N} with N padded to 8 characters */
#define PS_HEAD (4 + 29)

static void put(struct agent *a, struct move *m, const char *state)
{
	cleanup_error zs_error_t e = NULL;

	if (journal_put(a, m, state, &e) < 0)
		zs_log("error", "%s", zs_error_msg(e));
}

static int pidfd_of(pid_t pid)
{
	return (int) syscall(SYS_pidfd_open, pid, 0);
}

static int wait_exit(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Wait up to MS for the byte a --status-fd writes when ready (1), or its
 * writer's end (0: the process failed), or nothing (-1). */
static int wait_ready(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;
	int r;

	while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
		; /* a cancel: seen after the dump */
	if (r <= 0)
		return -1;
	return read(fd, &c, 1) == 1 ? 1 : 0;
}

/* Remove the container ID on this node (`zanshin delete -f` kills what
 * is left of it). */
static void remove_container(struct agent *a, const char *id, const char *work)
{
	cleanup_error zs_error_t e = NULL;
	char *args[] = {"delete", "-f", (char *) id, NULL};

	if (rt_run(a, work, "delete-postcopy", args, &e) < 0)
		zs_log("warning", "%s", zs_error_msg(e));
}

/* SIGKILL the running container ID on this node at once, then remove
 * it: its memory is incomplete, or it must not run here any more. */
static void kill_container(struct agent *a, const char *id, const char *work)
{
	cleanup_error zs_error_t e = NULL;
	struct zs_status *st = NULL;

	if (zs_status_load(a->root, id, &st, &e) == 0) {
		if (strcmp(zs_container_status(st), "running") == 0 || strcmp(zs_container_status(st), "paused") == 0)
			kill(st->pid, SIGKILL);
		zs_status_free(st);
	}
	remove_container(a, id, work);
}

/* SIGKILL every process below PID (not PID): a lazy restore whose page
 * source is gone waits for a page that never comes, CRIU and the restored
 * tasks stuck in a fault until the daemon ends, and the daemon must not
 * end first (its userfaultfd gone, a fault would read a zero page). */
static void kill_below(pid_t pid)
{
	cleanup_free char *path = xasprintf("/proc/%d/task", (int) pid);
	cleanup_dir DIR *d = opendir(path);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		cleanup_free char *f = NULL, *line = NULL;
		cleanup_file FILE *fp = NULL;
		size_t cap = 0;
		if (e->d_name[0] == '.')
			continue;
		f = xasprintf("%s/%s/children", path, e->d_name);
		fp = fopen(f, "re");
		if (fp == NULL || getline(&line, &cap, fp) <= 0)
			continue;
		for (char *sp = NULL, *t = strtok_r(line, " \n", &sp); t; t = strtok_r(NULL, " \n", &sp)) {
			pid_t c = (pid_t) atoi(t);
			if (c <= 0)
				continue;
			kill(c, SIGSTOP); /* no new children meanwhile */
			kill_below(c);
			kill(c, SIGKILL);
		}
	}
}

/* A restore whose pages will never come: what runs below it is killed
 * until it ends, also what it starts later (a loaded node may not have
 * started CRIU yet when the transfer broke: killed once, its CRIU would
 * then wait for a page for ever).  Past 30 s the restore itself is
 * killed.  Returns once it ended (not reaped when it is our child). */
static void stop_restore(pid_t pid)
{
	for (int i = 0;; i++) {
		siginfo_t si = {0};
		kill_below(pid);
		if (i == 600)
			kill(pid, SIGKILL);
		if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD || kill(pid, 0) < 0)
				return; /* not ours (a restarted agent): gone */
		} else if (si.si_pid == pid) {
			return;
		}
		usleep(50000);
	}
}

/* ---- the pump: page server bytes <-> `ps` frames ---- */

enum { PUMP_FRAME = 1, PUMP_PID, PUMP_IDLE };

struct pump {
	struct zs_conn *c;
	int sk;	      /* this node's end of the page server's socket pair */
	int pidfd[2]; /* processes watched, -1 none */
	uint64_t sent, received;
	char *buf;
};

static int pump_from_peer(struct pump *p, const zs_json *h, zs_error_t *err)
{
	uint64_t size = 0, done = 0;

	if (zs_json_to_uint64(zs_json_get(h, "size"), "ps", "size", ZS_JSON_REQUIRED, &size, err) < 0)
		return -1;
	if (size == 0 || size > PS_CHUNK)
		return zs_make_error(err, -EPROTO, "ps: a chunk of %llu bytes", (unsigned long long) size);
	while (done < size) {
		size_t n = (size_t) (size - done);
		if (zs_conn_read(p->c, p->buf, n, err) < 0)
			return -1;
		if (p->sk >= 0 && write_all(p->sk, p->buf, n) < 0)
			return zs_make_error(err, errno, "page server socket");
		done += n;
	}
	p->received += size;
	return 0;
}

/* One `ps` frame, header and bytes in one write (one TLS record: no
 * small segment waiting for a delayed ACK). */
static int pump_to_peer(struct pump *p, zs_error_t *err)
{
	char *head = p->buf, js[64];
	ssize_t r = read(p->sk, p->buf + PS_HEAD, PS_CHUNK);
	int len;

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r <= 0) {
		/* the page server (or daemon) is done with it */
		close(p->sk);
		p->sk = -1;
		return 0;
	}
	len = snprintf(js, sizeof(js), "{\"type\":\"ps\",\"size\":%-8zd}", r);
	memcpy(head + 4, js, PS_HEAD - 4);
	head[0] = head[1] = 0;
	head[2] = (char) ((unsigned) len >> 8);
	head[3] = (char) (len & 0xff);
	/* the header is padded to PS_HEAD bytes: the data follows it */
	if (4 + len != PS_HEAD)
		return zs_make_error(err, -EINVAL, "ps header of %d bytes", len);
	if (zs_conn_write(p->c, p->buf, PS_HEAD + (size_t) r, err) < 0)
		return -1;
	p->sent += (uint64_t) r;
	return 0;
}

/* One step: page bytes are relayed inside; a control frame from the peer
 * (*H, *TYPE), a watched process that ended (*WHICH) or MS of silence is
 * returned.  < 0: the connection or the local socket broke. */
static int pump_step(struct pump *p, int ms, zs_json **h, const char **type, int *which, zs_error_t *err)
{
	for (;;) {
		struct pollfd f[4] = {{.fd = p->c->fd, .events = POLLIN},
				      {.fd = p->sk, .events = POLLIN},
				      {.fd = p->pidfd[0], .events = POLLIN},
				      {.fd = p->pidfd[1], .events = POLLIN}};
		bool pending = p->c->tls && gnutls_record_check_pending(p->c->tls) > 0;
		int r = pending ? 1 : poll(f, 4, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return zs_make_error(err, errno, "poll");
		if (r == 0)
			return PUMP_IDLE;
		for (int i = 0; i < 2; i++)
			if (!pending && p->pidfd[i] >= 0 && (f[2 + i].revents & POLLIN)) {
				*which = i;
				return PUMP_PID;
			}
		if (!pending && p->sk >= 0 && (f[1].revents & (POLLIN | POLLHUP | POLLERR)) && pump_to_peer(p, err) < 0)
			return -1;
		if (pending || (f[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (zs_frame_recv(p->c, h, type, err) < 0)
				return -1;
			if (strcmp(*type, "ps") != 0)
				return PUMP_FRAME;
			r = pump_from_peer(p, *h, err);
			zs_json_free(*h);
			*h = NULL;
			if (r < 0)
				return -1;
		}
	}
}

static void pump_init(struct pump *p, struct zs_conn *c, int sk)
{
	int one = 1;

	/* small page requests must not wait for Nagle */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	p->c = c;
	p->sk = sk;
	p->pidfd[0] = p->pidfd[1] = -1;
	p->buf = xmalloc(PS_HEAD + PS_CHUNK);
}

/* Our end of a page socket, also held by the process serving it (so that
 * this agent's death does not end the transfer by itself): shut down for
 * every holder, then closed.  The page server sees the end. */
static void close_page_socket(int *fd)
{
	if (*fd < 0)
		return;
	shutdown(*fd, SHUT_RDWR);
	close(*fd);
	*fd = -1;
}

static void pump_free(struct pump *p)
{
	for (int i = 0; i < 2; i++)
		if (p->pidfd[i] >= 0)
			close(p->pidfd[i]);
	close_page_socket(&p->sk);
	free(p->buf);
	p->buf = NULL;
}

/* ---- source ---- */

int pc_src_dump(struct agent *a, struct move *m, const char *work, const char *img, struct pc_src *p, zs_error_t *err)
{
	cleanup_free char *out = xasprintf("%s/checkpoint.out", work);
	char *args[] = {"checkpoint", "--lazy-pages", "--page-server-fd", "3",		"--status-fd",
			"4",	      "--image-path", (char *) img,	  m->container, NULL};
	cleanup_free char **argv = rt_argv(a, NULL, args);
	int sv[2], st[2], keep[3], r;

	p->ps = p->ckpt = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return zs_make_error(err, errno, "socketpair");
	if (pipe2(st, O_CLOEXEC) < 0) {
		close(sv[0]);
		close(sv[1]);
		return zs_make_error(err, errno, "pipe");
	}
	keep[0] = sv[1];
	keep[1] = st[1];
	/* fd 5: our end, held by the checkpoint too: if this agent dies,
	 * CRIU keeps the container frozen until the restarted agent has
	 * made sure the target killed its copy (pc_recover_source) */
	keep[2] = sv[0];
	p->ckpt = spawn_fds(argv, out, keep, 3, err);
	close(sv[1]);
	close(st[1]);
	if (p->ckpt < 0) {
		close(sv[0]);
		close(st[0]);
		return -1;
	}
	p->ps = sv[0];
	m->helper_pid = p->ckpt;
	put(a, m, NULL);
	/* ready: everything but the pages dumped, the page server serving */
	r = wait_ready(st[0], 10 * a->io_timeout * 1000);
	close(st[0]);
	if (r == 1) {
		zs_log("info", "move %s: lazy dump of %s ready after %.3f s", m->id, m->container,
		       now_s() - m->started - m->setup_s);
		return 0;
	}
	close_page_socket(&p->ps);
	if (r < 0)
		kill(p->ckpt, SIGKILL);
	wait_exit(p->ckpt);
	p->ckpt = -1;
	{
		cleanup_free char *tail = rt_output_tail(out);
		return zs_make_error(err, -EIO, "zanshin checkpoint --lazy-pages of %s %s: %s", m->container,
				     r < 0 ? "did not get ready" : "failed", tail);
	}
}

/* Before the target ran it: close the page socket, CRIU resumes the
 * container here.  0: it runs here again. */
int pc_src_rollback(struct agent *a, struct move *m, struct pc_src *p, zs_error_t *err)
{
	cleanup_free char *st = NULL;

	close_page_socket(&p->ps);
	if (p->ckpt > 0)
		wait_exit(p->ckpt);
	p->ckpt = -1;
	st = rt_status(a, m->container);
	if (st && strcmp(st, "running") == 0) {
		put(a, m, "rolled-back");
		return 0;
	}
	put(a, m, "failed");
	return zs_make_error(err, -EIO, "container %s does not run on node %s after the failed post-copy move (%s)",
			     m->container, a->node, st ? st : "gone");
}

struct src_pc {
	struct agent *a;
	struct move *m;
	struct pc_src *p;
	struct pump pump;
	bool ran, pages_done, ckpt_done;
	int ckpt_rc;
};

/* A control frame from the target. 1: the move is over (see s->ran). */
static int src_frame(struct src_pc *s, const zs_json *h, const char *type, double t_freeze, zs_error_t *err)
{
	if (strcmp(type, "result") == 0) {
		bool ok = false;
		const char *msg = zs_json_string_value(zs_json_get(h, "error"));
		zs_json_to_bool(zs_json_get(h, "ok"), "result", "ok", 0, &ok, err);
		zs_error_release(err);
		if (!ok)
			return zs_make_error(err, -EIO, "node %s: %s", s->m->peer, msg ? msg : "restore failed");
		s->ran = true;
		s->m->downtime_s = now_s() - t_freeze;
		put(s->a, s->m, "post-copy");
		return 0;
	}
	if (strcmp(type, "pages-done") == 0) {
		int64_t us = 0;
		zs_json_to_uint64(zs_json_get(h, "faults"), "pages-done", "faults", 0, &s->m->faults, err);
		zs_json_to_int64(zs_json_get(h, "last_page_us"), "pages-done", "last_page_us", 0, &us, err);
		zs_error_release(err);
		s->m->last_page_s = (double) us / 1e6;
		s->pages_done = true;
		return s->ckpt_done ? 1 : 0;
	}
	if (strcmp(type, "error") == 0) {
		const char *msg = zs_json_string_value(zs_json_get(h, "error"));
		return zs_make_error(err, -EIO, "node %s: %s", s->m->peer, msg ? msg : "error");
	}
	return zs_make_error(err, -EPROTO, "node %s: unexpected `%s` during post-copy", s->m->peer, type);
}

/* The lazy checkpoint ended: 1 over, 0 go on, < 0 failed. */
static int src_ckpt_exit(struct src_pc *s, zs_error_t *err)
{
	s->ckpt_rc = wait_exit(s->p->ckpt);
	s->p->ckpt = -1;
	s->ckpt_done = true;
	close(s->pump.pidfd[0]);
	s->pump.pidfd[0] = -1;
	if (s->ckpt_rc != 0 && s->pages_done) {
		/* the target has it all and runs it; whatever CRIU did with
		 * the container here afterwards, it must not run here */
		zs_log("warning", "move %s: the page server of %s exited %d after the last page", s->m->id,
		       s->m->container, s->ckpt_rc);
		kill_container(s->a, s->m->container, s->p->work);
		return 1;
	}
	if (s->ckpt_rc != 0)
		return zs_make_error(err, -EIO, "the page server of %s on node %s failed (exit %d)", s->m->container,
				     s->a->node, s->ckpt_rc);
	return s->pages_done ? 1 : 0;
}

static int src_loop(struct src_pc *s, double t_freeze, zs_error_t *err)
{
	int io = s->a->io_timeout * 1000;

	for (;;) {
		cleanup_json zs_json *h = NULL;
		const char *type = NULL;
		int which = 0, r;
		r = pump_step(&s->pump, s->ran ? io : 10 * io, &h, &type, &which, err);
		if (r < 0 && s->pages_done && !s->ckpt_done) {
			/* the target has every page and hung up: CRIU ends */
			zs_error_release(err);
			r = PUMP_PID;
		}
		if (r < 0)
			return -1;
		if (r == PUMP_IDLE)
			return zs_make_error(err, -ETIMEDOUT, "node %s silent for %d s during post-copy", s->m->peer,
					     (s->ran ? 1 : 10) * s->a->io_timeout);
		if (r == PUMP_PID)
			r = src_ckpt_exit(s, err);
		else
			r = src_frame(s, h, type, t_freeze, err);
		if (r != 0)
			return r;
	}
}

/* After the image was sent: commit, then relay pages until the target
 * has them all.  1: it runs there with all of them; 0: it never ran
 * there (the caller rolls back); < 0: it ran there and the transfer
 * broke: it is killed here (and there), *ERR says so. */
int pc_src_commit(struct agent *a, struct move *m, struct zs_conn *c, struct pc_src *p, double t_freeze,
		  zs_error_t *err)
{
	struct src_pc s = {.a = a, .m = m, .p = p};
	int r;

	pump_init(&s.pump, c, p->ps);
	p->ps = -1; /* the pump owns it */
	s.pump.pidfd[0] = pidfd_of(p->ckpt);
	zs_log("info", "move %s: image sent, commit", m->id);
	put(a, m, "commit-sent");
	if (zs_frame_send(c, "{\"type\":\"commit\"}", 17, err) < 0)
		r = -1;
	else
		r = src_loop(&s, t_freeze, err);
	m->bytes_pages += s.pump.sent;
	if (r == 1) {
		pump_free(&s.pump);
		return 1;
	}
	if (!s.ran && !s.ckpt_done) {
		/* did the target start it?  It aborts a move not restoring yet */
		cleanup_error zs_error_t e = NULL;
		zs_log("warning", "move %s: %s; asking node %s", m->id, zs_error_msg(*err), m->peer);
		if (source_ask(a, m, 3, &e) == 0) {
			p->ps = s.pump.sk; /* closed by the rollback: CRIU resumes it */
			s.pump.sk = -1;
			pump_free(&s.pump);
			return 0;
		}
	}
	/* it ran (or may run) there: it must not run here again; killed
	 * before CRIU can resume it when its socket closes (then removed,
	 * once the checkpoint released the container's lock) */
	if (p->init > 0)
		kill(p->init, SIGKILL);
	pump_free(&s.pump);
	if (p->ckpt > 0)
		wait_exit(p->ckpt);
	p->ckpt = -1;
	remove_container(a, m->container, p->work);
	return zs_error_wrap(err,
			     "post-copy of %s to %s broke after %s restored it: the pages it lacked are gone, the "
			     "container is lost (killed on both nodes; post-copy cannot go back once the target runs)",
			     m->container, m->peer, m->peer);
}

/* ---- target ---- */

struct tgt_pc {
	struct agent *a;
	struct zs_conn *c;
	struct move *m;
	const char *img, *bundle, *work;
	struct pump pump;
	pid_t lazy, restore;
	bool restored, lazy_ok, lazy_done;
	double t_run;
};

/* `criu lazy-pages` on IMG: the pages come through fd 3 (its end of the
 * pair); fd 5 holds our end too, so the daemon never sees the pages stop
 * if this agent dies: the container then waits for its pages (it never
 * reads a page that did not arrive) until the restarted agent kills it. */
static int start_lazy(struct tgt_pc *t, int sk_daemon, int sk_ours, zs_error_t *err)
{
	cleanup_free char *criu = NULL, *out = xasprintf("%s/lazy-pages.out", t->work);
	cleanup_free char *log = xasprintf("%s/lazy-pages.log", t->work);
	int st[2], keep[3], r;

	if (zs_criu_binary(NULL, &criu, err) < 0)
		return -1;
	{
		char *argv[] = {criu,
				"lazy-pages",
				"--page-server",
				"--ps-socket",
				"3",
				"--status-fd",
				"4",
				"-D",
				(char *) t->img,
				"-W",
				(char *) t->work,
				"-o",
				log,
				"-v4",
				NULL};
		if (pipe2(st, O_CLOEXEC) < 0)
			return zs_make_error(err, errno, "pipe");
		keep[0] = sk_daemon;
		keep[1] = st[1];
		keep[2] = sk_ours;
		t->lazy = spawn_fds(argv, out, keep, 3, err);
	}
	close(st[1]);
	if (t->lazy < 0) {
		close(st[0]);
		return -1;
	}
	t->m->helper_pid = t->lazy;
	put(t->a, t->m, NULL);
	r = wait_ready(st[0], t->a->io_timeout * 1000);
	close(st[0]);
	if (r == 1) {
		zs_log("info", "move %s: criu lazy-pages ready", t->m->id);
		return 0;
	}
	kill(t->lazy, SIGKILL);
	wait_exit(t->lazy);
	t->lazy = -1;
	{
		cleanup_free char *tail = rt_output_tail(log);
		return zs_make_error(err, -EIO, "criu lazy-pages for %s did not start: %s", t->m->container, tail);
	}
}

/* "#PF at ADDR" lines of the daemon's log: faults served from the source */
static uint64_t count_faults(const char *work)
{
	cleanup_free char *log = xasprintf("%s/lazy-pages.log", work), *line = NULL;
	cleanup_file FILE *f = fopen(log, "re");
	size_t cap = 0;
	uint64_t n = 0;

	while (f && getline(&line, &cap, f) > 0)
		if (strstr(line, "#PF at "))
			n++;
	return n;
}

static void stop_lazy(struct tgt_pc *t)
{
	if (t->lazy > 0) {
		kill(t->lazy, SIGKILL);
		wait_exit(t->lazy);
	}
	t->lazy = -1;
}

static int tgt_restored(struct tgt_pc *t, zs_error_t *err)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	int r = rt_restore_wait(t->a, t->restore, t->m->container, t->work, err);

	t->restore = -1;
	close(t->pump.pidfd[0]);
	t->pump.pidfd[0] = -1;
	if (r < 0)
		return -1;
	t->restored = true;
	t->t_run = now_s();
	zs_log("info", "move %s: %s restored lazily", t->m->id, t->m->container);
	put(t->a, t->m, "post-copy");
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "result");
	zs_jgen_key(g, "ok");
	zs_jgen_bool(g, true);
	zs_jgen_map_close(g);
	if (zs_frame_send_gen(t->c, g, err) < 0)
		return -1;
	return t->lazy_done ? 1 : 0;
}

static int tgt_lazy_exit(struct tgt_pc *t, zs_error_t *err)
{
	int rc = wait_exit(t->lazy);

	t->lazy = -1;
	close(t->pump.pidfd[1]);
	t->pump.pidfd[1] = -1;
	if (rc != 0) {
		cleanup_free char *log = xasprintf("%s/lazy-pages.log", t->work), *tail = rt_output_tail(log);
		return zs_make_error(err, -EIO, "criu lazy-pages failed (exit %d): %s", rc, tail);
	}
	t->lazy_done = true;
	t->m->last_page_s = now_s() - (t->restored ? t->t_run : t->m->started);
	return t->restored ? 1 : 0;
}

static int tgt_loop(struct tgt_pc *t, zs_error_t *err)
{
	for (;;) {
		cleanup_json zs_json *h = NULL;
		const char *type = NULL;
		/* once it runs, pages flow all the time (faults, background) */
		int secs = (t->restored ? 1 : 10) * t->a->io_timeout;
		int which = 0, r = pump_step(&t->pump, secs * 1000, &h, &type, &which, err);
		if (r < 0)
			return -1;
		if (r == PUMP_IDLE)
			return zs_make_error(err, -ETIMEDOUT, "no page from node %s for %d s", t->m->peer, secs);
		if (r == PUMP_FRAME) {
			const char *msg = zs_json_string_value(zs_json_get(h, "error"));
			return zs_make_error(err, -EIO, "node %s: %s", t->m->peer,
					     strcmp(type, "error") == 0 && msg ? msg : "unexpected message");
		}
		r = which == 0 ? tgt_restored(t, err) : tgt_lazy_exit(t, err);
		if (r != 0)
			return r;
	}
}

static void send_pages_done(struct tgt_pc *t)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_error zs_error_t e = NULL;

	t->m->faults = count_faults(t->work);
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "type", "pages-done");
	zs_jgen_key(g, "faults");
	zs_jgen_uint(g, t->m->faults);
	zs_jgen_kv_int(g, "last_page_us", (long long) (t->m->last_page_s * 1e6));
	zs_jgen_map_close(g);
	if (zs_frame_send_gen(t->c, g, &e) < 0)
		zs_log("warning", "move %s: %s", t->m->id, zs_error_msg(e));
}

/* The transfer broke: the container (once restored) is killed before the
 * daemon that holds its missing pages' userfaultfd ends. */
static int tgt_broken(struct tgt_pc *t, zs_error_t *err)
{
	cleanup_error zs_error_t e = NULL;

	if (t->restore > 0) {
		/* still restoring: its pages will never come (the daemon is
		 * kept until the restored tasks are gone) */
		stop_restore(t->restore);
		rt_restore_wait(t->a, t->restore, t->m->container, t->work, &e);
		t->restore = -1;
	}
	if (!t->restored && t->lazy_done)
		return -2; /* nothing ran */
	kill_container(t->a, t->m->container, t->work);
	stop_lazy(t);
	if (!t->restored)
		return -2;
	free(t->m->error);
	t->m->error = xasprintf("post-copy from %s broke after the restore (%s): container %s killed on node %s, "
				"its memory was incomplete",
				t->m->peer, zs_error_msg(*err), t->m->container, t->a->node);
	put(t->a, t->m, "aborted");
	return -3;
}

int pc_tgt_serve(struct agent *a, struct zs_conn *c, struct move *m, const char *img, const char *bundle,
		 const char *work, zs_error_t *err)
{
	struct tgt_pc t = {
	    .a = a, .c = c, .m = m, .img = img, .bundle = bundle, .work = work, .lazy = -1, .restore = -1};
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return zs_make_error(err, errno, "socketpair"), -2;
	r = start_lazy(&t, sv[1], sv[0], err);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return -2;
	}
	pump_init(&t.pump, c, sv[0]);
	if (rt_restore_start(a, m, m->container, img, bundle, work, true, &t.restore, err) < 0) {
		pump_free(&t.pump);
		stop_lazy(&t);
		return -2;
	}
	t.pump.pidfd[0] = pidfd_of(t.restore);
	t.pump.pidfd[1] = pidfd_of(t.lazy);
	r = tgt_loop(&t, err);
	m->bytes_pages += t.pump.received;
	if (r == 1) {
		send_pages_done(&t);
		pump_free(&t.pump);
		return 0;
	}
	r = tgt_broken(&t, err);
	pump_free(&t.pump);
	return r;
}

/* ---- recovery (an agent killed during a post-copy move) ---- */

bool is_postcopy(const struct move *m)
{
	return m->mode && strcmp(m->mode, "post-copy") == 0;
}

static void wait_gone(long long pid)
{
	for (int i = 0; pid > 0 && i < 600 && kill((pid_t) pid, 0) == 0; i++)
		usleep(100000);
}

static void set_error(struct move *m, char *msg)
{
	free(m->error);
	m->error = msg;
}

/* The lazy checkpoint still holds our end of its page socket (its fd 5):
 * CRIU waits, the container frozen.  Once the target says it does not
 * run it (aborted: it killed its copy when its pages stopped; unknown),
 * shut that socket down: CRIU sees the end and resumes the container
 * here.  0 done, -1 the target did not say (in-doubt: asked again). */
static int release_frozen(struct agent *a, struct move *m)
{
	cleanup_error zs_error_t e = NULL;
	int pfd, fd, r;

	if (m->helper_pid <= 0 || kill((pid_t) m->helper_pid, 0) < 0)
		return 0;
	r = source_ask(a, m, 3, &e);
	if (r == 1) {
		wait_gone(m->helper_pid); /* it had every page: CRIU ends */
		return 0;
	}
	if (r < 0) {
		zs_log("warning", "move %s: %s; %s stays frozen here", m->id, zs_error_msg(e), m->container);
		return -1;
	}
	pfd = pidfd_of((pid_t) m->helper_pid);
	fd = pfd < 0 ? -1 : (int) syscall(SYS_pidfd_getfd, pfd, 5, 0);
	if (fd >= 0) {
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
			shutdown(fd, SHUT_RDWR);
		close(fd);
	}
	if (pfd >= 0)
		close(pfd);
	wait_gone(m->helper_pid);
	return 0;
}

/* The move process died with its end of the page socket: CRIU either
 * finished (the target had every page: it killed the container here) or
 * waits until release_frozen() lets it resume the container here. */
void pc_recover_source(struct agent *a, struct move *m)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *st = NULL;
	const char *was = m->state;

	if (release_frozen(a, m) < 0) {
		if (strcmp(m->state, "in-doubt") != 0) {
			set_error(m, xasprintf("the agent died during the post-copy move (%s); node %s did not say "
					       "whether it still runs %s, which stays frozen here",
					       was, m->peer, m->container));
			put(a, m, "in-doubt");
		}
		return;
	}
	st = rt_status(a, m->container);
	if (st && strcmp(st, "running") == 0) {
		set_error(m, xasprintf("the agent died during the post-copy move (%s): CRIU resumed %s here when its "
				       "page socket was shut down, once node %s said it did not run it (%s)",
				       was, m->container, m->peer,
				       strcmp(was, "post-copy") == 0 ? "it killed its copy, whose pages were incomplete"
								     : "it never ran it"));
		put(a, m, strcmp(was, "negotiating") == 0 || strcmp(was, "bundle") == 0 ? "failed" : "rolled-back");
		return;
	}
	if (source_ask(a, m, 3, &e) == 1) {
		put(a, m, "done");
		return;
	}
	set_error(m, xasprintf("the agent died during the post-copy move (%s), and %s runs neither here nor on "
			       "node %s: lost (its pages were only in the memory of the lazy checkpoint here, which "
			       "ended without resuming it: a lazy dump writes no pages to disk, so there is nothing "
			       "to roll back to)",
			       was, m->container, m->peer));
	put(a, m, "failed");
}

/* Is PID (from the journal of a dead agent) still the runtime restoring
 * ID?  Its arguments say so; a recycled pid is left alone. */
static bool is_restore_of(pid_t pid, const char *id)
{
	cleanup_free char *path = NULL, *buf = NULL;
	cleanup_error zs_error_t e = NULL;
	bool restore = false, cid = false;
	size_t len = 0;

	if (pid <= 0)
		return false;
	path = xasprintf("/proc/%d/cmdline", (int) pid);
	if (read_file(path, &buf, &len, &e) < 0)
		return false;
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1) {
		restore |= strcmp(buf + i, "restore") == 0;
		cid |= strcmp(buf + i, id) == 0;
	}
	return restore && cid;
}

/* Our relay died: the daemon (which holds our end too) waits for pages
 * that will never come.  The container is killed before the daemon. */
void pc_recover_target(struct agent *a, struct move *m)
{
	cleanup_free char *work = xasprintf("%s/work/%s", a->state_dir, m->id);
	cleanup_free char *img = xasprintf("%s/img", work);

	if (strcmp(m->state, "restoring") == 0 || strcmp(m->state, "post-copy") == 0) {
		if (is_restore_of((pid_t) m->restore_pid, m->container))
			stop_restore((pid_t) m->restore_pid);
		kill_container(a, m->container, work);
		if (m->helper_pid > 0)
			kill((pid_t) m->helper_pid, SIGKILL);
		set_error(m, xasprintf("the agent died during the post-copy move (%s): the pages still on node %s "
				       "cannot come; container %s killed here",
				       m->state, m->peer, m->container));
	} else {
		set_error(m, xstrdup("the agent was restarted before the restore"));
	}
	rm_rf(img);
	put(a, m, "aborted");
}
