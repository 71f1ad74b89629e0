/* zanshin — options shared by create and run (runc 1.1's set). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "create_opts.h"

enum { O_BUNDLE = 1, O_CONSOLE, O_PIDFILE, O_NOPIVOT, O_NOKEYRING, O_PRESERVE, O_DETACH, O_KEEP, O_IGNORE };

static const struct zs_optdef opts[] = {
    {"bundle", 'b', true, O_BUNDLE, "path to the root of the bundle directory, defaults to the current directory"},
    {"console-socket", 0, true, O_CONSOLE, "path to an AF_UNIX socket which will receive the pty master fd"},
    {"pid-file", 0, true, O_PIDFILE, "specify the file to write the process id to"},
    {"no-pivot", 0, false, O_NOPIVOT, "do not use pivot root to jail process inside rootfs"},
    {"no-new-keyring", 0, false, O_NOKEYRING, "do not create a new session keyring for the container"},
    {"preserve-fds", 0, true, O_PRESERVE, "pass N additional file descriptors to the container"},
    {"detach", 'd', false, O_DETACH, "detach from the container's process (run only)"},
    {"no-subreaper", 0, false, O_IGNORE, "disable the use of the subreaper (ignored)"},
    {"keep", 0, false, O_KEEP, "do not delete the container after it exits (run only)"},
    {NULL, 0, false, 0, NULL},
};

struct data {
	struct zs_create_opts *o;
	zs_error_t *err;
};

static int cb(int id, const char *v, void *p)
{
	struct data *d = p;
	char *end;

	switch (id) {
	case O_BUNDLE:
		d->o->bundle = v;
		break;
	case O_CONSOLE:
		d->o->console_socket = v;
		break;
	case O_PIDFILE:
		d->o->pid_file = v;
		break;
	case O_NOPIVOT:
		d->o->no_pivot = zs_opt_bool(v);
		break;
	case O_NOKEYRING:
		d->o->no_new_keyring = zs_opt_bool(v);
		break;
	case O_KEEP:
		d->o->keep = zs_opt_bool(v);
		break;
	case O_DETACH:
		d->o->detach = zs_opt_bool(v);
		break;
	case O_PRESERVE:
		d->o->preserve_fds = strtol(v, &end, 10);
		if (*end || d->o->preserve_fds < 0)
			return zs_make_error(d->err, -EINVAL, "invalid value \"%s\" for flag -preserve-fds", v);
		break;
	}
	return 0;
}

int zs_parse_create_opts(const char *verb, int argc, char **argv, struct zs_create_opts *o, int *first, zs_error_t *err)
{
	struct data d = {o, err};
	const char *lfds = getenv("LISTEN_FDS");
	int ret;

	ret = zs_parse_opts(verb, opts, argc, argv, cb, &d, first, err);
	if (ret == 0 && lfds)
		o->preserve_fds += atoi(lfds);
	return ret;
}

void zs_print_create_usage(const char *verb, const char *desc)
{
	zs_print_usage(verb, "<container-id>", desc, opts);
}
