/* zanshin — runc-compatible OCI runtime: global flags and verb dispatch.
 * Each verb lives in its own file; all kernel work is in lib/. */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#ifndef ZANSHIN_VERSION
#define ZANSHIN_VERSION "0.1.0"
#endif
#ifndef ZANSHIN_COMMIT
#define ZANSHIN_COMMIT "unknown"
#endif

struct command {
	const char *name;
	int (*fn)(struct zs_global *, int, char **, zs_error_t *);
	const char *desc;
};

static const struct command commands[] = {
    {"checkpoint", zs_cmd_checkpoint, "checkpoint a running container"},
    {"cluster", zs_cmd_cluster,
     "the cluster as the coordinator (zanshin-api) sees it: nodes, containers, remnants, moves, move, drain"},
    {"create", zs_cmd_create, "create a container"},
    {"delete", zs_cmd_delete, "delete any resources held by the container often used with detached container"},
    {"events", zs_cmd_events,
     "display container events such as OOM notifications, cpu, memory, and IO usage statistics"},
    {"exec", zs_cmd_exec, "execute new process inside the container"},
    {"features", zs_cmd_features, "show the enabled features"},
    {"image", zs_cmd_image, "read, check and flatten CRIU image directories"},
    {"kill", zs_cmd_kill, "kill sends the specified signal (default: SIGTERM) to the container's init process"},
    {"list", zs_cmd_list, "lists containers started by runc with the given root"},
    {"migrate", zs_cmd_migrate, "move a running container to another node (through the node agent zanshind)"},
    {"move", zs_cmd_move, "cancel a move of the node agent: move cancel <move-id>"},
    {"moves", zs_cmd_moves, "list the node agent's moves with their state and metrics"},
    {"pause", zs_cmd_pause, "pause suspends all processes inside the container"},
    {"ps", zs_cmd_ps, "ps displays the processes running inside a container"},
    {"remnant", zs_cmd_remnant, "the per-node remnant store: list, show, verify, gc, merge checkpoint generations"},
    {"restore", zs_cmd_restore, "restore a container from a previous checkpoint"},
    {"resume", zs_cmd_resume, "resumes all processes that have been previously paused"},
    {"run", zs_cmd_run, "create and run a container"},
    {"spec", zs_cmd_spec, "create a new specification file"},
    {"start", zs_cmd_start, "executes the user defined process in a created container"},
    {"state", zs_cmd_state, "output the state of a container"},
    {"update", zs_cmd_update, "update container resource constraints"},
    {NULL, NULL, NULL},
};

enum { G_ROOT = 1, G_LOG, G_LOG_FORMAT, G_DEBUG, G_SYSTEMD, G_CRIU, G_ROOTLESS, G_VERSION, G_REMNANT_ROOT };

static const struct zs_optdef global_opts[] = {
    {"debug", 0, false, G_DEBUG, "enable debug logging"},
    {"log", 0, true, G_LOG, "set the log file to write logs to (default: stderr)"},
    {"log-format", 0, true, G_LOG_FORMAT, "set the log format ('text' (default), or 'json')"},
    {"root", 0, true, G_ROOT, "root directory for storage of container state (default: \"/run/zanshin\")"},
    {"criu", 0, true, G_CRIU, "path to the criu binary used for checkpoint and restore"},
    {"systemd-cgroup", 0, false, G_SYSTEMD, "enable systemd cgroup support (not supported)"},
    {"rootless", 0, true, G_ROOTLESS, "ignore cgroup permission errors ('true', 'false', or 'auto')"},
    {"remnant-root", 0, true, G_REMNANT_ROOT,
     "root directory of the remnant store (default: $ZANSHIN_REMNANT_ROOT or \"/var/lib/zanshin\")"},
    {"version", 'v', false, G_VERSION, "print the version"},
    {NULL, 0, false, 0, NULL},
};

static bool want_version;

static int global_cb(int id, const char *value, void *data)
{
	struct zs_global *g = data;

	switch (id) {
	case G_ROOT:
		g->root = value;
		break;
	case G_LOG:
		g->log = value;
		break;
	case G_LOG_FORMAT:
		g->log_format = value;
		break;
	case G_DEBUG:
		g->debug = zs_opt_bool(value);
		break;
	case G_SYSTEMD:
		g->systemd_cgroup = zs_opt_bool(value);
		break;
	case G_CRIU:
		g->criu = value;
		break;
	case G_ROOTLESS:
		g->rootless = value;
		break;
	case G_REMNANT_ROOT:
		g->remnant_root = value;
		break;
	case G_VERSION:
		want_version = true;
		break;
	}
	return 0;
}

static void print_help(void)
{
	const struct command *c;
	const struct zs_optdef *o;

	printf("NAME:\n   zanshin (runc - Open Container Initiative runtime, compatible) - remnant-based container "
	       "migration\n\nUSAGE:\n   zanshin [global options] command [command options] [arguments...]\n\n");
	printf("VERSION:\n   %s\n\nCOMMANDS:\n", ZANSHIN_VERSION);
	for (c = commands; c->name; c++)
		printf("   %-12s %s\n", c->name, c->desc);
	printf("   %-12s %s\n\nGLOBAL OPTIONS:\n", "help, h", "Shows a list of commands or help for one command");
	for (o = global_opts; o->name; o++)
		printf("   --%-20s %s\n", o->name, o->help);
	printf("   --%-20s %s\n", "help, -h", "show help");
}

static void print_version(void)
{
	const struct scmp_version *sv = seccomp_version();

	printf("zanshin version %s (runc version 1.1.5 compatible)\n", ZANSHIN_VERSION);
	printf("commit: %s\n", ZANSHIN_COMMIT);
	printf("spec: 1.0.2-dev\n");
	printf("libseccomp: %u.%u.%u\n", sv->major, sv->minor, sv->micro);
}

static const struct command *find_command(const char *name)
{
	const struct command *c;

	for (c = commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static int fail(zs_error_t err)
{
	cleanup_free char *text = zs_error_text(err);

	if (!zs_log_error(text))
		fprintf(stderr, "%s\n", text);
	return 1;
}

static int help_command(int argc, char **argv, zs_error_t *err)
{
	const struct command *c;
	char *hargv[] = {"--help", NULL};

	if (argc < 2) {
		print_help();
		return 0;
	}
	c = find_command(argv[1]);
	if (c == NULL)
		return zs_make_error(err, 0, "No help topic for '%s'", argv[1]);
	return c->fn(NULL, 1, hargv, err);
}

int main(int argc, char **argv)
{
	struct zs_global g = {
	    .root = "/run/zanshin", .log_format = "text", .remnant_root = getenv("ZANSHIN_REMNANT_ROOT")};
	cleanup_error zs_error_t err = NULL;
	const struct command *c;
	int first = 0, ret;
	enum zs_log_format fmt;

	ret = zs_parse_opts("", global_opts, argc - 1, argv + 1, global_cb, &g, &first, &err);
	first++;
	if (ret == ZS_CLI_HELP) {
		print_help();
		return 0;
	}
	if (ret < 0)
		return fail(err);
	if (want_version) {
		print_version();
		return 0;
	}
	fmt = strcmp(g.log_format, "json") == 0 ? ZS_LOG_JSON : ZS_LOG_TEXT;
	if (strcmp(g.log_format, "json") != 0 && strcmp(g.log_format, "text") != 0) {
		zs_make_error(&err, 0, "invalid log-format: %s", g.log_format);
		return fail(err);
	}
	if (zs_log_init(g.log, fmt, g.debug, &err) < 0)
		return fail(err);
	if (first >= argc) {
		print_help();
		return 0;
	}
	if (strcmp(argv[first], "help") == 0 || strcmp(argv[first], "h") == 0) {
		ret = help_command(argc - first, argv + first, &err);
		return ret < 0 ? fail(err) : ret;
	}
	c = find_command(argv[first]);
	if (c == NULL) {
		zs_make_error(&err, 0, "No help topic for '%s'", argv[first]);
		return fail(err);
	}
	if (g.systemd_cgroup) {
		zs_make_error(&err, EOPNOTSUPP, "--systemd-cgroup is not supported by zanshin (use cgroupfs)");
		return fail(err);
	}
	g.error_exit = 1;
	if ((strcmp(c->name, "create") == 0 || strcmp(c->name, "run") == 0 || strcmp(c->name, "exec") == 0) &&
	    zs_ensure_cloned_binary(argv, &err) < 0)
		return fail(err);
	zs_debug("zanshin %s", c->name);
	ret = c->fn(&g, argc - first - 1, argv + first + 1, &err);
	if (ret < 0) {
		fail(err);
		return g.error_exit;
	}
	return ret;
}
