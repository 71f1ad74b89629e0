/* zanshind — the per-node migration agent (DESIGN.md "Cluster"): flags,
 * listeners, one child process per connection, SIGTERM.  See zanshind(8). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

static volatile sig_atomic_t got_term, got_chld;
static unsigned n_children;
static pid_t retry_pid, coord_pid;
static int stop_w = -1; /* closed when stopping: children's stop_fd reads EOF */
#define RETRY_S 10	/* in-doubt moves are asked about again this often */

static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_chld = 1;
	else
		got_term = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zanshind --node NAME --listen ADDR:PORT --cert FILE --key FILE --ca FILE [options]\n"
		"\n"
		"The zanshin node agent: moves this node's containers to other nodes and\n"
		"receives theirs, over mutual TLS 1.3 (docs/agent.md, zanshind(8)).\n"
		"\n"
		"  --node NAME             this node's name (its certificate's CN)\n"
		"  --listen ADDR:PORT      where peers connect (e.g. 0.0.0.0:7427, [::]:7427)\n"
		"  --cert FILE --key FILE  this node's certificate and key (PEM)\n"
		"  --ca FILE               the cluster CA (PEM): peers must be signed by it\n"
		"  --peer NAME=HOST:PORT   another node (repeatable)\n"
		"  --root DIR              runtime state (default /run/zanshin)\n"
		"  --remnant-root DIR      remnant store (default /var/lib/zanshin)\n"
		"  --socket PATH           local API, root only (default %s)\n"
		"  --state-dir DIR         journal, held Bundles (default /var/lib/zanshind)\n"
		"  --runtime PATH          the zanshin binary (default: next to zanshind)\n"
		"  --io-timeout SECONDS    give up a silent peer after SECONDS (default 60)\n"
		"  --insecure-loopback     plaintext, unauthenticated, between agents that no other\n"
		"                          machine can reach (benchmarks only; refused otherwise)\n"
		"  --lazy-restore          a container moved here runs before its memory is resident\n"
		"                          (a lazy restore: docs/lazy-restore.md)\n"
		"  --coordinator URL       report to zanshin-api at https://HOST:PORT, take its orders\n"
		"                          and its peers' addresses (docs/coordinator.md)\n"
		"  --coordinator-name NAME the name in the coordinator's certificate (default: URL's host)\n"
		"  --room ROOM             this node's room (its class timetable), told to the coordinator\n"
		"  --drain-timeout SECONDS at SIGTERM, keep moving containers away for up to SECONDS (0)\n"
		"  --log FILE              log file (default stderr)\n"
		"  --log-format text|json  log format (default text)\n"
		"  --help                  this text\n",
		ZS_AGENT_SOCKET);
}

static int split_hostport(const char *s, char **host, char **port, zs_error_t *err)
{
	const char *colon;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return zs_make_error(err, -EINVAL, "`%s`: expected [ADDR]:PORT", s);
		*host = xasprintf("%.*s", (int) (end - s - 1), s + 1);
		*port = xstrdup(end + 2);
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s)
			return zs_make_error(err, -EINVAL, "`%s`: expected HOST:PORT", s);
		*host = xasprintf("%.*s", (int) (colon - s), s);
		*port = xstrdup(colon + 1);
	}
	if (**port == '\0' || strspn(*port, "0123456789") != strlen(*port))
		return zs_make_error(err, -EINVAL, "`%s`: invalid port", s);
	return 0;
}

static int add_peer(struct agent *a, const char *arg, zs_error_t *err)
{
	const char *eq = strchr(arg, '=');
	struct agent_peer *p;

	if (a->n_peers >= AGENT_MAX_PEERS)
		return zs_make_error(err, -E2BIG, "--peer: at most %d peers", AGENT_MAX_PEERS);
	if (eq == NULL)
		return zs_make_error(err, -EINVAL, "--peer `%s`: expected NAME=HOST:PORT", arg);
	p = &a->peers[a->n_peers];
	p->name = xasprintf("%.*s", (int) (eq - arg), arg);
	if (!valid_name(p->name))
		return zs_make_error(err, -EINVAL, "--peer `%s`: invalid node name", arg);
	if (split_hostport(eq + 1, &p->host, &p->port, err) < 0)
		return zs_error_wrap(err, "--peer");
	a->n_peers++;
	return 0;
}

enum {
	O_NODE = 256,
	O_LISTEN,
	O_CERT,
	O_KEY,
	O_CA,
	O_PEER,
	O_ROOT,
	O_RROOT,
	O_SOCKET,
	O_STATE,
	O_LOG,
	O_LOGFMT,
	O_RT,
	O_COORD,
	O_COORDNAME,
	O_ROOM,
	O_IOT,
	O_DRAIN,
	O_INSECURE,
	O_LAZYREST
};

static int parse_args(struct agent *a, int argc, char **argv, zs_error_t *err)
{
	static const struct option opts[] = {{"node", 1, 0, O_NODE},
					     {"listen", 1, 0, O_LISTEN},
					     {"cert", 1, 0, O_CERT},
					     {"key", 1, 0, O_KEY},
					     {"ca", 1, 0, O_CA},
					     {"peer", 1, 0, O_PEER},
					     {"root", 1, 0, O_ROOT},
					     {"remnant-root", 1, 0, O_RROOT},
					     {"socket", 1, 0, O_SOCKET},
					     {"state-dir", 1, 0, O_STATE},
					     {"log", 1, 0, O_LOG},
					     {"log-format", 1, 0, O_LOGFMT},
					     {"runtime", 1, 0, O_RT},
					     {"io-timeout", 1, 0, O_IOT},
					     {"coordinator", 1, 0, O_COORD},
					     {"coordinator-name", 1, 0, O_COORDNAME},
					     {"room", 1, 0, O_ROOM},
					     {"drain-timeout", 1, 0, O_DRAIN},
					     {"insecure-loopback", 0, 0, O_INSECURE},
					     {"lazy-restore", 0, 0, O_LAZYREST},
					     {"help", 0, 0, 'h'},
					     {0, 0, 0, 0}};
	char **slots[] = {[O_NODE - O_NODE] = &a->node,
			  [O_LISTEN - O_NODE] = &a->listen,
			  [O_CERT - O_NODE] = &a->cert,
			  [O_KEY - O_NODE] = &a->key,
			  [O_CA - O_NODE] = &a->ca,
			  [O_PEER - O_NODE] = NULL,
			  [O_ROOT - O_NODE] = &a->root,
			  [O_RROOT - O_NODE] = &a->remnant_root,
			  [O_SOCKET - O_NODE] = &a->socket,
			  [O_STATE - O_NODE] = &a->state_dir,
			  [O_LOG - O_NODE] = &a->log,
			  [O_LOGFMT - O_NODE] = &a->log_format,
			  [O_RT - O_NODE] = &a->runtime,
			  [O_COORD - O_NODE] = &a->coordinator,
			  [O_COORDNAME - O_NODE] = &a->coordinator_name,
			  [O_ROOM - O_NODE] = &a->room};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == O_IOT) {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || v < 1 || v > 3600)
				return zs_make_error(err, -EINVAL, "--io-timeout `%s`: seconds from 1 to 3600", optarg);
			a->io_timeout = (int) v;
			continue;
		}
		if (c == O_INSECURE) {
			a->insecure = true;
			continue;
		}
		if (c == O_LAZYREST) {
			a->lazy_restore = true;
			continue;
		}
		if (c == O_DRAIN) {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || v < 0 || v > 86400)
				return zs_make_error(err, -EINVAL, "--drain-timeout `%s`: seconds from 0 to 86400",
						     optarg);
			a->drain_timeout = (int) v;
			continue;
		}
		if (c == O_PEER) {
			if (add_peer(a, optarg, err) < 0)
				return -1;
			continue;
		}
		if (c < O_NODE || c > O_ROOM)
			return zs_make_error(err, -EINVAL, "unknown or incomplete option `%s` (see --help)",
					     argv[optind - 1]);
		free(*slots[c - O_NODE]);
		*slots[c - O_NODE] = xstrdup(optarg);
	}
	if (optind < argc)
		return zs_make_error(err, -EINVAL, "unexpected argument `%s` (see --help)", argv[optind]);
	if (a->node == NULL || !valid_name(a->node))
		return zs_make_error(err, -EINVAL, "--node NAME is required (letters, digits, . _ + -)");
	if (a->listen == NULL)
		return zs_make_error(err, -EINVAL, "--listen ADDR:PORT is required");
	if (a->coordinator && !str_has_prefix(a->coordinator, "https://"))
		return zs_make_error(err, -EINVAL, "--coordinator `%s`: expected https://HOST:PORT", a->coordinator);
	if ((a->coordinator_name && !valid_name(a->coordinator_name)) || (a->room && !valid_name(a->room)))
		return zs_make_error(err, -EINVAL, "--coordinator-name, --room: letters, digits, . _ + -");
	if (a->log_format && strcmp(a->log_format, "text") != 0 && strcmp(a->log_format, "json") != 0)
		return zs_make_error(err, -EINVAL, "--log-format must be text or json");
	return 0;
}

static void defaults(struct agent *a)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (a->io_timeout == 0)
		a->io_timeout = AGENT_IO_TIMEOUT_S;
	if (a->root == NULL)
		a->root = xstrdup("/run/zanshin");
	if (a->remnant_root == NULL)
		a->remnant_root = xstrdup("/var/lib/zanshin");
	if (a->socket == NULL)
		a->socket = xstrdup(ZS_AGENT_SOCKET);
	if (a->state_dir == NULL)
		a->state_dir = xstrdup("/var/lib/zanshind");
	if (a->runtime == NULL) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			*strrchr(exe, '/') = '\0';
			a->runtime = xasprintf("%s/zanshin", exe);
		} else {
			a->runtime = xstrdup("/usr/local/sbin/zanshin");
		}
	}
}

static int tcp_listen(struct agent *a, zs_error_t *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
	cleanup_free char *host = NULL, *port = NULL;
	int fd, one = 1, r;

	if (split_hostport(a->listen, &host, &port, err) < 0)
		return zs_error_wrap(err, "--listen");
	r = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (r != 0)
		return zs_make_error(err, -EINVAL, "--listen `%s`: %s", a->listen, gai_strerror(r));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		freeaddrinfo(res);
		if (fd >= 0)
			close(fd);
		return zs_make_error(err, e, "--listen `%s`", a->listen);
	}
	freeaddrinfo(res);
	return fd;
}

static void reap(void)
{
	int status;

	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (n_children)
			n_children--;
		if (pid == retry_pid)
			retry_pid = 0;
		if (pid == coord_pid)
			coord_pid = 0;
	}
}

/* A worker child: without the listening sockets, the daemon's signal
 * handling or its signal mask. */
static void child_setup(int lfd, int ufd)
{
	sigset_t none;

	close(lfd);
	close(ufd);
	if (stop_w >= 0)
		close(stop_w);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* One child per connection: a move runs to its end (or its rollback) even
 * when the agent is asked to stop; SIGTERM only stops new work. */
static void serve(struct agent *a, int lfd, int ufd, int cfd, bool local)
{
	pid_t pid = fork();

	if (pid < 0) {
		zs_log("error", "fork: %s", strerror(errno));
		close(cfd);
		return;
	}
	if (pid > 0) {
		n_children++;
		close(cfd);
		return;
	}
	child_setup(lfd, ufd);
	if (local) {
		local_serve(a, cfd);
	} else {
		struct zs_conn c;
		cleanup_error zs_error_t e = NULL;
		if (tls_accept(a, cfd, &c, &e) < 0)
			zs_log("warning", "refused a connection: %s", zs_error_msg(e));
		else
			move_target(a, &c);
		zs_conn_close(&c);
	}
	_exit(0);
}

/* In-doubt moves (a source that lost its target's answer): asked again in
 * a child, one at a time. */
static void retry_in_doubt(struct agent *a, int lfd, int ufd)
{
	static time_t last;
	time_t now = time(NULL);
	pid_t pid;

	if (retry_pid > 0 || now - last < RETRY_S)
		return;
	last = now;
	if (!journal_has_state(a, "in-doubt"))
		return;
	pid = fork();
	if (pid < 0)
		return;
	if (pid > 0) {
		retry_pid = pid;
		n_children++;
		return;
	}
	child_setup(lfd, ufd);
	recover_in_doubt(a);
	_exit(0);
}

/* The coordinator link runs in a process of its own, started again
 * (at most every RETRY_S seconds) when it ends before SIGTERM. */
static void coord_link(struct agent *a, int lfd, int ufd)
{
	static time_t last;
	time_t now = time(NULL);
	pid_t pid;

	if (a->coordinator == NULL || coord_pid > 0 || (last && now - last < RETRY_S))
		return;
	last = now;
	pid = fork();
	if (pid < 0)
		return;
	if (pid > 0) {
		coord_pid = pid;
		n_children++;
		return;
	}
	child_setup(lfd, ufd);
	coord_run(a);
	_exit(0);
}

static int loop(struct agent *a, int lfd, int ufd)
{
	const struct timespec tick = {.tv_sec = a->coordinator ? 1 : RETRY_S};
	sigset_t block, empty;
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&empty);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	{
		int sp[2];
		if (pipe2(sp, O_CLOEXEC) == 0) {
			a->stop_fd = sp[0];
			stop_w = sp[1];
		}
	}
	while (!got_term) {
		struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = ufd, .events = POLLIN}};
		int r = ppoll(p, 2, &tick, &empty);
		if (got_chld) {
			got_chld = 0;
			reap();
		}
		retry_in_doubt(a, lfd, ufd);
		coord_link(a, lfd, ufd);
		if (r <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			int cfd;
			if (!(p[i].revents & POLLIN))
				continue;
			cfd = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd >= 0)
				serve(a, lfd, ufd, cfd, i == 1);
		}
	}
	if (coord_pid > 0)
		kill(coord_pid, SIGTERM); /* it reports `stopping`, see --drain-timeout */
	zs_log("info", "SIGTERM: no new work; waiting for %u connection(s) to finish", n_children);
	if (stop_w >= 0)
		close(stop_w); /* idle warm connections let go */
	stop_w = -1;
	close(lfd);
	close(ufd);
	unlink(a->socket);
	while (n_children > 0) {
		if (wait(NULL) < 0 && errno == ECHILD)
			break;
		n_children--;
	}
	zs_log("info", "node agent %s stopped", a->node);
	return 0;
}

int main(int argc, char **argv)
{
	struct agent a = {.stop_fd = -1};
	cleanup_error zs_error_t err = NULL;
	int lfd, ufd;

	signal(SIGPIPE, SIG_IGN);
	if (parse_args(&a, argc, argv, &err) < 0)
		goto fail;
	defaults(&a);
	if (zs_log_init(a.log, a.log_format && strcmp(a.log_format, "json") == 0 ? ZS_LOG_JSON : ZS_LOG_TEXT, false,
			&err) < 0 ||
	    tls_init(&a, &err) < 0 || journal_init(&a, &err) < 0)
		goto fail;
	if (access(a.runtime, X_OK) < 0) {
		zs_make_error(&err, errno, "runtime `%s` (--runtime)", a.runtime);
		goto fail;
	}
	lfd = tcp_listen(&a, &err);
	if (lfd < 0)
		goto fail;
	recover(&a);
	ufd = local_listen(&a, &err);
	if (ufd < 0)
		goto fail;
	zs_log("info", "node agent %s listening on %s, local API %s", a.node, a.listen, a.socket);
	return loop(&a, lfd, ufd);
fail : {
	cleanup_free char *text = zs_error_text(err);
	fprintf(stderr, "zanshind: %s\n", text);
	if (a.log)
		zs_log("error", "%s", text);
	return 1;
}
}
