/* zanshin — runtime settings: a JSON file (default /etc/zanshin/zanshin.json,
 * ZANSHIN_CONFIG overrides; docs/man/zanshin.json.5.md).  A missing file gives
 * the defaults; a malformed one is an error naming the file and the field. */
#ifndef ZANSHIN_SETTINGS_H
#define ZANSHIN_SETTINGS_H
#include <stdbool.h>
#include <stdint.h>
#include "zanshin/error.h"

#define ZS_SETTINGS_DEFAULT_PATH "/etc/zanshin/zanshin.json"

struct zs_settings {
	bool track_mem;		  /* restore keeps tracking memory (default true) */
	uint64_t restore_timeout; /* seconds CRIU may take to restore, then it is killed (600; 0 = none) */
	struct {
		char root[4096];    /* store root when neither --remnant-root nor $ZANSHIN_REMNANT_ROOT ("": default) */
		unsigned max_chain; /* a longer chain is merged on commit (default 4) */
		uint64_t max_age;   /* seconds a generation is kept by gc (default 7 days) */
		uint64_t max_bytes; /* total size of the store kept by gc (default 10 GiB) */
		uint64_t keep_rootfs_max_bytes; /* larger rootfs are not kept (default 1 GiB) */
		uint64_t tmp_grace;		/* seconds before gc collects a .tmp-* (default 600) */
	} remnant;
};

void zs_settings_defaults(struct zs_settings *s);
/* The file read: PATH if not NULL, else $ZANSHIN_CONFIG, else the default. */
const char *zs_settings_path(const char *path);
/* Defaults, then the file (if it exists). */
int zs_settings_load(const char *path, struct zs_settings *s, zs_error_t *err);
/* Same, from JSON text; NAME is used in errors. */
int zs_settings_parse(const char *text, const char *name, struct zs_settings *s, zs_error_t *err);

#endif
