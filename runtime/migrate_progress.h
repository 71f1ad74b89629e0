/* zanshin migrate — printing the progress events the node agent streams. */
#ifndef ZANSHIN_RUNTIME_MIGRATE_PROGRESS_H
#define ZANSHIN_RUNTIME_MIGRATE_PROGRESS_H
#include <stdbool.h>

#include "zanshin/error.h"
#include "zanshin/json.h"

enum zs_progress_style { ZS_PROGRESS_NONE, ZS_PROGRESS_TTY, ZS_PROGRESS_JSON };

/* "tty", "json", "none"; NULL: tty when stderr is a terminal, else json. */
int zs_progress_style_parse(const char *s, enum zs_progress_style *out, zs_error_t *err);
/* One event (a "progress" frame) on stderr. */
void zs_progress_show(enum zs_progress_style st, const zs_json *ev);
/* The move ended: the tty line is finished with a newline. */
void zs_progress_end(enum zs_progress_style st);

#endif
