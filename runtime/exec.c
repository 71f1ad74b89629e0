/* zanshin exec — run a new process inside a running container. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "zanshin/container.h"
#include "zanshin/utils.h"

enum {
	O_PROCESS = 1,
	O_CONSOLE,
	O_PIDFILE,
	O_DETACH,
	O_TTY,
	O_CWD,
	O_ENV,
	O_USER,
	O_CAP,
	O_PRESERVE,
	O_NNP,
	O_GID,
	O_PAUSED,
	O_CGROUP,
	O_IGNORE,
	O_LABEL,
	O_APPARMOR
};

static const struct zs_optdef opts[] = {
    {"console-socket", 0, true, O_CONSOLE, "path to an AF_UNIX socket which will receive the pty master fd"},
    {"cwd", 0, true, O_CWD, "current working directory in the container"},
    {"env", 'e', true, O_ENV, "set environment variables"},
    {"tty", 't', false, O_TTY, "allocate a pseudo-TTY"},
    {"user", 'u', true, O_USER, "UID (format: <uid>[:<gid>])"},
    {"additional-gids", 'g', true, O_GID, "additional gids"},
    {"process", 'p', true, O_PROCESS, "path to the process.json"},
    {"detach", 'd', false, O_DETACH, "detach from the container's process"},
    {"pid-file", 0, true, O_PIDFILE, "specify the file to write the process id to"},
    {"process-label", 0, true, O_LABEL, "set the asm process label for the process commonly used with selinux"},
    {"apparmor", 0, true, O_APPARMOR, "set the apparmor profile for the process"},
    {"no-new-privs", 0, false, O_NNP, "set the no new privileges value for the process"},
    {"cap", 'c', true, O_CAP, "add a capability to the bounding set for the process"},
    {"preserve-fds", 0, true, O_PRESERVE, "pass N additional file descriptors to the container"},
    {"cgroup", 0, true, O_CGROUP, "run the process in an (existing) sub-cgroup(s): [CONTROLLER[,...]:]PATH"},
    {"ignore-paused", 0, false, O_PAUSED, "allow exec in a paused container"},
    {NULL, 0, false, 0, NULL},
};

static char **push(char **v, const char *s)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	v = xrealloc(v, sizeof(char *) * (n + 2));
	v[n] = (char *) s;
	v[n + 1] = NULL;
	return v;
}

struct data {
	struct zs_exec_opts *o;
	zs_error_t *err;
};

static int cb(int id, const char *v, void *p)
{
	struct data *d = p;
	struct zs_exec_opts *o = d->o;
	char *end;

	switch (id) {
	case O_PROCESS:
		o->process_file = v;
		break;
	case O_CONSOLE:
		o->console_socket = v;
		break;
	case O_PIDFILE:
		o->pid_file = v;
		break;
	case O_LABEL:
		o->process_label = v;
		break;
	case O_APPARMOR:
		o->apparmor = v;
		break;
	case O_DETACH:
		o->detach = zs_opt_bool(v);
		break;
	case O_TTY:
		o->tty = zs_opt_bool(v);
		o->tty_set = true;
		break;
	case O_CWD:
		o->cwd = v;
		break;
	case O_ENV:
		o->env = push(o->env, v);
		break;
	case O_USER:
		o->user = v;
		break;
	case O_CAP:
		o->caps = push(o->caps, v);
		break;
	case O_CGROUP:
		o->cgroups = push(o->cgroups, v);
		break;
	case O_PAUSED:
		o->ignore_paused = zs_opt_bool(v);
		break;
	case O_NNP:
		o->no_new_privs = zs_opt_bool(v);
		break;
	case O_GID:
		o->additional_gids = xrealloc(o->additional_gids, sizeof(gid_t) * (o->n_additional_gids + 1));
		o->additional_gids[o->n_additional_gids++] = strtoul(v, &end, 10);
		if (*end)
			return zs_make_error(d->err, -EINVAL, "invalid additional gid \"%s\"", v);
		break;
	case O_PRESERVE:
		o->preserve_fds = strtol(v, &end, 10);
		if (*end || o->preserve_fds < 0)
			return zs_make_error(d->err, -EINVAL, "invalid value \"%s\" for flag -preserve-fds", v);
		break;
	}
	return 0;
}

ZS_VERB(exec)
{
	struct zs_exec_opts o = {0};
	struct data d = {&o, err};
	int first, ret, status = 0;

	ret = zs_parse_opts("exec", opts, argc, argv, cb, &d, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("exec (runc exec)",
			       "<container-id> <command> [command options]  || -p process.json <container-id>",
			       "execute new process inside the container", opts);
		return 0;
	}
	if (ret == 0 && argc - first < 1)
		ret = zs_make_error(err, -EINVAL, "\"exec\" requires a minimum of 1 argument(s)");
	if (ret == 0 && o.process_file == NULL && argc - first < 2)
		ret = zs_make_error(err, -EINVAL, "exec: process args cannot be empty (give a command or --process)");
	if (ret == 0) {
		o.root = g->root;
		o.id = argv[first];
		o.args = argc - first > 1 ? argv + first + 1 : NULL;
		g->error_exit = 255;
		ret = zs_container_exec(&o, &status, err);
		if (ret < 0)
			zs_error_wrap(err, "exec failed");
	}
	free(o.env);
	free(o.caps);
	free(o.cgroups);
	free(o.additional_gids);
	return ret < 0 ? ret : status;
}
