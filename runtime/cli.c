/* zanshin — option parsing in urfave/cli's manner (what runc accepts). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "zanshin/utils.h"

bool zs_opt_bool(const char *value)
{
	return value == NULL || strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
}

static const struct zs_optdef *find_long(const struct zs_optdef *defs, const char *name, size_t len)
{
	for (; defs && defs->name; defs++)
		if (strlen(defs->name) == len && strncmp(defs->name, name, len) == 0)
			return defs;
	return NULL;
}

static const struct zs_optdef *find_short(const struct zs_optdef *defs, char c)
{
	for (; defs && defs->name; defs++)
		if (defs->short_name && defs->short_name == c)
			return defs;
	return NULL;
}

static int parse_one(const char *verb, const struct zs_optdef *defs, int argc, char **argv, int *i,
		     int (*cb)(int, const char *, void *), void *data, zs_error_t *err)
{
	const char *arg = argv[*i], *name = arg + 1, *eq;
	const struct zs_optdef *d;
	const char *value = NULL;
	size_t len;

	if (*name == '-')
		name++;
	eq = strchr(name, '=');
	len = eq ? (size_t) (eq - name) : strlen(name);
	if (strcmp(name, "help") == 0 || strcmp(name, "h") == 0)
		return ZS_CLI_HELP;
	d = find_long(defs, name, len);
	if (d == NULL && len == 1)
		d = find_short(defs, name[0]);
	if (d == NULL)
		return zs_make_error(err, 0, "flag provided but not defined: -%.*s", (int) len, name);
	if (d->has_arg) {
		if (eq)
			value = eq + 1;
		else if (*i + 1 < argc)
			value = argv[++*i];
		else
			return zs_make_error(err, 0, "flag needs an argument: -%s", d->name);
	} else if (eq) {
		value = eq + 1;
	}
	return cb(d->id, value, data);
}

/* urfave/cli v1 (runc) moves flags given after positional arguments in
 * front of them, except for verbs whose arguments are a command line. */
static bool reorders(const char *verb)
{
	return *verb && strcmp(verb, "exec") != 0 && strcmp(verb, "ps") != 0;
}

static int parse_reordered(const char *verb, const struct zs_optdef *defs, int argc, char **argv,
			   int (*cb)(int, const char *, void *), void *data, int *first_arg, zs_error_t *err)
{
	char **pos = xzalloc(sizeof(char *) * (argc + 1));
	int i, np = 0, nf = 0, ret;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++)
				pos[np++] = argv[i];
			break;
		}
		if (a[0] != '-' || a[1] == '\0') {
			pos[np++] = argv[i];
			continue;
		}
		{
			int start = i;
			ret = parse_one(verb, defs, argc, argv, &i, cb, data, err);
			if (ret != 0) {
				free(pos);
				return ret;
			}
			/* keep the flag (and its value) at the front */
			for (; start <= i; start++)
				argv[nf++] = argv[start];
		}
	}
	/* positionals at the end: callers count them as argc - first */
	memcpy(argv + argc - np, pos, sizeof(char *) * np);
	free(pos);
	*first_arg = argc - np;
	return 0;
}

int zs_parse_opts(const char *verb, const struct zs_optdef *defs, int argc, char **argv,
		  int (*cb)(int id, const char *value, void *data), void *data, int *first_arg, zs_error_t *err)
{
	int i, ret;

	if (reorders(verb))
		return parse_reordered(verb, defs, argc, argv, cb, data, first_arg, err);

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		ret = parse_one(verb, defs, argc, argv, &i, cb, data, err);
		if (ret != 0)
			return ret;
	}
	*first_arg = i;
	return 0;
}

void zs_print_usage(const char *verb, const char *args_usage, const char *desc, const struct zs_optdef *defs)
{
	printf("NAME:\n   zanshin %s - %s\n\nUSAGE:\n   zanshin %s [command options] %s\n\nOPTIONS:\n", verb, desc,
	       verb, args_usage ? args_usage : "");
	for (; defs && defs->name; defs++) {
		char flag[96];
		if (defs->short_name)
			snprintf(flag, sizeof(flag), "--%s value, -%c%s", defs->name, defs->short_name,
				 defs->has_arg ? " value" : "");
		else
			snprintf(flag, sizeof(flag), "--%s%s", defs->name, defs->has_arg ? " value" : "");
		if (defs->short_name && !defs->has_arg)
			snprintf(flag, sizeof(flag), "--%s, -%c", defs->name, defs->short_name);
		printf("   %-36s %s\n", flag, defs->help ? defs->help : "");
	}
	printf("   %-36s %s\n", "--help, -h", "show help");
}

int zs_check_args(const char *verb, int n, int min, int max, zs_error_t *err)
{
	if (n < min) {
		if (min == 1 && max == 1)
			return zs_make_error(err, 0, "\"%s\" requires exactly %d argument(s)", verb, min);
		return zs_make_error(err, 0, "\"%s\" requires a minimum of %d argument(s)", verb, min);
	}
	if (max >= 0 && n > max) {
		if (min == max)
			return zs_make_error(err, 0, "\"%s\" requires exactly %d argument(s)", verb, min);
		return zs_make_error(err, 0, "\"%s\" requires a maximum of %d argument(s)", verb, max);
	}
	return 0;
}
