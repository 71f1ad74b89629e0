/* zanshin — options shared by create and run. */
#ifndef ZANSHIN_RUNTIME_CREATE_OPTS_H
#define ZANSHIN_RUNTIME_CREATE_OPTS_H

#include "zanshin/container.h"

int zs_parse_create_opts(const char *verb, int argc, char **argv, struct zs_create_opts *o, int *first,
			 zs_error_t *err);
void zs_print_create_usage(const char *verb, const char *desc);

#endif
