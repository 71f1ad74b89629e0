/* zanshin — command-line plumbing shared by the verb files. */
#ifndef ZANSHIN_RUNTIME_CLI_H
#define ZANSHIN_RUNTIME_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "zanshin/error.h"

struct zs_global {
	const char *root;
	const char *log;
	const char *log_format;
	const char *criu;
	const char *rootless;
	const char *remnant_root; /* --remnant-root, $ZANSHIN_REMNANT_ROOT; NULL: /var/lib/zanshin */
	bool debug;
	int error_exit; /* exit code on error (runc exec uses 255) */
	bool systemd_cgroup;
};

struct zs_optdef {
	const char *name; /* long name, without dashes */
	char short_name;  /* 0 if none */
	bool has_arg;
	int id;
	const char *help;
};

#define ZS_CLI_HELP 1 /* returned by zs_parse_opts when --help was given */

/* Parse options (single- or double-dash long names, --name=value, bools as
 * --name or --name=true|false) until the first positional or "--".  Calls
 * cb for each option; *first_arg gets the index of the first positional. */
int zs_parse_opts(const char *verb, const struct zs_optdef *defs, int argc, char **argv,
		  int (*cb)(int id, const char *value, void *data), void *data, int *first_arg, zs_error_t *err);
void zs_print_usage(const char *verb, const char *args_usage, const char *desc, const struct zs_optdef *defs);
/* "--flag=false" support for boolean options. */
bool zs_opt_bool(const char *value);
/* Exact number of positional arguments check with runc's wording. */
int zs_check_args(const char *verb, int n, int min, int max, zs_error_t *err);

#define ZS_VERB(name) int zs_cmd_##name(struct zs_global *g, int argc, char **argv, zs_error_t *err)
ZS_VERB(create);
ZS_VERB(start);
ZS_VERB(run);
ZS_VERB(state);
ZS_VERB(list);
ZS_VERB(kill);
ZS_VERB(delete);
ZS_VERB(exec);
ZS_VERB(ps);
ZS_VERB(pause);
ZS_VERB(resume);
ZS_VERB(update);
ZS_VERB(events);
ZS_VERB(features);
ZS_VERB(spec);
ZS_VERB(checkpoint);
ZS_VERB(restore);
ZS_VERB(image);
ZS_VERB(remnant);
ZS_VERB(migrate);
ZS_VERB(moves);
ZS_VERB(move);
ZS_VERB(cluster);

/* Verbs exit with this when a verb's own --help was printed. */
#define ZS_EXIT_HELP 0

#endif
