/* zanshin-api — the coordinator (DESIGN.md "Cluster"): flags and config
 * file, the database, the HTTPS API, the thread that marks silent nodes
 * down, SIGTERM.  `zanshin-api token ...` manages people's tokens.
 * See zanshin-api(8) and docs/coordinator.md. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cluster_view.h"
#include "coord.h"
#include "move_mode.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define DEFAULT_DB "sqlite:/var/lib/zanshin-api/zanshin.db"

static void usage(FILE *f)
{
	fprintf(f, "Usage: zanshin-api --listen ADDR:PORT --cert FILE --key FILE --ca FILE [--db URL] [options]\n"
		   "       zanshin-api [--db URL] token create --role admin|viewer [--name NAME]\n"
		   "       zanshin-api [--db URL] token list | token revoke ID\n"
		   "\n"
		   "The zanshin coordinator: a REST/JSON API over HTTPS (/v1/...) that records the\n"
		   "cluster's nodes, containers, remnants and moves, and orders moves from the\n"
		   "node agents (zanshin-api(8), docs/coordinator.md).\n"
		   "\n"
		   "  --config FILE           read options from FILE (one `name value` a line; flags win)\n"
		   "  --listen ADDR:PORT      where to serve HTTPS (default 0.0.0.0:" COORD_DEFAULT_PORT ")\n"
		   "  --cert FILE --key FILE  the coordinator's certificate and key (PEM)\n"
		   "  --ca FILE               the cluster CA: node agents' certificates must be signed by it\n"
		   "  --db URL                sqlite:PATH (default " DEFAULT_DB ")\n"
		   "                          or postgresql://USER@HOST/DB?host=... (libpq URL)\n"
		   "  --admin-cn NAME         a client certificate with this CN is an admin, not a node\n"
		   "                          (repeatable)\n"
		   "  --node-timeout SECONDS  a node silent this long is down (default 15)\n"
		   "  --heartbeat SECONDS     the heartbeat interval agents are told to use (default 3)\n"
		   "  --weights K,L,M         scheduler weights of cost = k(C+M) - l(P+B) - mL (default 1,1,1)\n"
		   "  --lead SECONDS          evacuate a node this long before its class (default 900)\n"
		   "  --policies LIST         evacuate,drain,return-home or none (default evacuate,drain)\n"
		   "  --max-moves-per-node N  concurrent moves from or to one node (default 1)\n"
		   "  --max-moves N           concurrent moves in the cluster (default 4)\n"
		   "  --policy-interval S     seconds between policy rounds, 0 = off (default 5)\n"
		   "  --move-mode [WHO=]MODE  stop-copy, pre-copy or post-copy: the mode of moves ordered\n"
		   "                          without one, all of them or those of WHO = admin (people),\n"
		   "                          agent-stop, evacuate, drain, return-home (repeatable;\n"
		   "                          default stop-copy)\n"
		   "  --web-root DIR          the web page's files (default " ZS_WEB_ROOT ")\n"
		   "  --log FILE              log file (default stderr)\n"
		   "  --log-format text|json  (default text)\n"
		   "  --help                  this text\n");
}

enum { O_LISTEN = 256, O_CERT, O_KEY, O_CA, O_DB, O_LOG, O_LOGFMT, O_ADMIN, O_NODET, O_HB, O_POLICY, O_MODE, O_CONFIG };

static const struct option opts[] = {{"listen", 1, 0, O_LISTEN},
				     {"cert", 1, 0, O_CERT},
				     {"key", 1, 0, O_KEY},
				     {"ca", 1, 0, O_CA},
				     {"db", 1, 0, O_DB},
				     {"log", 1, 0, O_LOG},
				     {"log-format", 1, 0, O_LOGFMT},
				     {"admin-cn", 1, 0, O_ADMIN},
				     {"node-timeout", 1, 0, O_NODET},
				     {"heartbeat", 1, 0, O_HB},
				     {"weights", 1, 0, O_POLICY},
				     {"lead", 1, 0, O_POLICY},
				     {"policies", 1, 0, O_POLICY},
				     {"max-moves-per-node", 1, 0, O_POLICY},
				     {"max-moves", 1, 0, O_POLICY},
				     {"policy-interval", 1, 0, O_POLICY},
				     {"web-root", 1, 0, O_POLICY},
				     {"move-mode", 1, 0, O_MODE},
				     {"config", 1, 0, O_CONFIG},
				     {"help", 0, 0, 'h'},
				     {0, 0, 0, 0}};

static int seconds(const char *opt, const char *v, int *out, zs_error_t *err)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*v == '\0' || *end || n < 1 || n > 86400)
		return zs_make_error(err, -EINVAL, "--%s `%s`: seconds from 1 to 86400", opt, v);
	*out = (int) n;
	return 0;
}

static int set_opt(struct coord *co, int c, const char *name, const char *v, zs_error_t *err)
{
	char **slot = NULL;

	switch (c) {
	case O_LISTEN:
		slot = &co->listen;
		break;
	case O_CERT:
		slot = &co->cert;
		break;
	case O_KEY:
		slot = &co->key;
		break;
	case O_CA:
		slot = &co->ca;
		break;
	case O_DB:
		slot = &co->db_url;
		break;
	case O_LOG:
		slot = &co->log;
		break;
	case O_LOGFMT:
		slot = &co->log_format;
		break;
	case O_NODET:
		return seconds("node-timeout", v, &co->node_timeout, err);
	case O_HB:
		return seconds("heartbeat", v, &co->heartbeat_s, err);
	case O_POLICY:
		return coord_policy_opt(co->policy, name, v, err);
	case O_MODE:
		return move_mode_opt(co, v, err);
	case O_ADMIN:
		if (!valid_node_name(v))
			return zs_make_error(err, -EINVAL, "--admin-cn `%s`: not a valid certificate name", v);
		if (co->n_admin_cn >= COORD_MAX_ADMIN_CNS)
			return zs_make_error(err, -E2BIG, "--admin-cn: at most %d", COORD_MAX_ADMIN_CNS);
		co->admin_cn[co->n_admin_cn++] = xstrdup(v);
		return 0;
	default:
		return zs_make_error(err, -EINVAL, "unknown option");
	}
	free(*slot);
	*slot = xstrdup(v);
	return 0;
}

/* `name value` lines; # comments; the names of the long options */
static int read_config(struct coord *co, const char *path, zs_error_t *err)
{
	cleanup_free char *text = NULL;
	char *save = NULL, *line;
	int lineno = 0;

	if (read_file(path, &text, NULL, err) < 0)
		return zs_error_wrap(err, "--config");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *name = line + strspn(line, " \t"), *val;
		size_t i;
		lineno++;
		if (*name == '#' || *name == '\0')
			continue;
		val = name + strcspn(name, " \t");
		if (*val)
			*val++ = '\0';
		val += strspn(val, " \t");
		val[strcspn(val, "\r")] = '\0';
		for (i = 0; opts[i].name; i++)
			if (strcmp(opts[i].name, name) == 0 && opts[i].val >= O_LISTEN && opts[i].val < O_CONFIG)
				break;
		if (opts[i].name == NULL)
			return zs_make_error(err, -EINVAL, "%s: `%s`: unknown setting", path, name);
		if (set_opt(co, opts[i].val, name, val, err) < 0)
			return zs_error_wrap(err, "%s", path);
	}
	return 0;
}

static int parse_args(struct coord *co, int argc, char **argv, zs_error_t *err)
{
	int c, idx = 0;

	opterr = 0;
	for (int i = 1; i < argc - 1; i++) /* the file first: flags override it */
		if (strcmp(argv[i], "--config") == 0 && read_config(co, argv[i + 1], err) < 0)
			return -1;
	while ((c = getopt_long(argc, argv, "+h", opts, &idx)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == O_CONFIG)
			continue;
		if (c < O_LISTEN || c > O_CONFIG)
			return zs_make_error(err, -EINVAL, "unknown or incomplete option `%s` (see --help)",
					     argv[optind - 1]);
		if (set_opt(co, c, opts[idx].name, optarg, err) < 0)
			return -1;
	}
	if (co->log_format && strcmp(co->log_format, "text") != 0 && strcmp(co->log_format, "json") != 0)
		return zs_make_error(err, -EINVAL, "--log-format must be text or json");
	if (co->db_url == NULL)
		co->db_url = xstrdup(DEFAULT_DB);
	if (co->listen == NULL)
		co->listen = xstrdup("0.0.0.0:" COORD_DEFAULT_PORT);
	if (co->node_timeout == 0)
		co->node_timeout = 15;
	if (co->heartbeat_s == 0)
		co->heartbeat_s = 3;
	return 0;
}

/* one descriptor per agent's connection: the soft limit up to the hard one */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int serve(struct coord *co, zs_error_t *err)
{
	sigset_t set;
	int sig = 0;
	struct timespec tick = {.tv_sec = 1};

	if (co->cert == NULL || co->key == NULL || co->ca == NULL)
		return zs_make_error(err, -EINVAL, "--cert, --key and --ca are required (HTTPS, node certificates)");
	raise_nofile();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL); /* MHD's threads inherit the mask */
	if (db_checkpoint_by_caller(co->db, err) < 0 || leader_start(co, err) < 0 || http_start(co, err) < 0)
		return -1;
	zs_log("info", "zanshin-api serving https://%s/v1/ (database %s)", co->listen, db_kind(co->db));
	while (sig != SIGTERM && sig != SIGINT) {
		cleanup_error zs_error_t e = NULL;
		sig = sigtimedwait(&set, NULL, &tick);
		if (nodes_mark_down(co, &e) < 0)
			zs_log("error", "marking silent nodes down: %s", zs_error_msg(e));
		zs_error_release(&e);
		if (db_checkpoint(co->db, &e) < 0) /* SQLite: off the requests' path */
			zs_log("warning", "database checkpoint: %s", zs_error_msg(e));
		policy_round(co); /* cluster_view.h: evacuate, drain, return home */
	}
	zs_log("info", "zanshin-api: signal %d, stopping", sig);
	http_stop(co);
	leader_stop(co);
	return 0;
}

int main(int argc, char **argv)
{
	struct coord co = {0};
	cleanup_error zs_error_t err = NULL;
	int r;

	signal(SIGPIPE, SIG_IGN);
	co.policy = coord_policy_new();
	if (parse_args(&co, argc, argv, &err) < 0)
		goto fail;
	if (zs_log_init(co.log, co.log_format && strcmp(co.log_format, "json") == 0 ? ZS_LOG_JSON : ZS_LOG_TEXT, false,
			&err) < 0 ||
	    db_open_pool(co.db_url, optind < argc ? 1 : COORD_DB_CONNECTIONS, &co.db, &err) < 0)
		goto fail;
	if (optind < argc && strcmp(argv[optind], "token") == 0)
		r = token_main(&co, argc - optind, argv + optind, &err);
	else if (optind < argc)
		r = zs_make_error(&err, -EINVAL, "unexpected argument `%s` (see --help)", argv[optind]);
	else
		r = serve(&co, &err);
	db_close(co.db);
	if (r < 0)
		goto fail;
	return 0;
fail : {
	cleanup_free char *text = zs_error_text(err);
	fprintf(stderr, "zanshin-api: %s\n", text);
	return 1;
}
}
