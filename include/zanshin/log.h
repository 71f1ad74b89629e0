/* zanshin — log output as runc writes it (logrus text or JSON lines). */
#ifndef ZANSHIN_LOG_H
#define ZANSHIN_LOG_H

#include <stdbool.h>

#include "zanshin/error.h"

enum zs_log_format { ZS_LOG_TEXT, ZS_LOG_JSON };

/* path NULL or "" = stderr.  Returns < 0 on error. */
int zs_log_init(const char *path, enum zs_log_format format, bool debug, zs_error_t *err);
void zs_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define zs_debug(...) zs_log("debug", __VA_ARGS__)
#define zs_warn(...) zs_log("warning", __VA_ARGS__)
#define zs_info(...) zs_log("info", __VA_ARGS__)
/* Log an error line; returns whether the log goes to stderr already. */
bool zs_log_error(const char *msg);
bool zs_log_debug_enabled(void);
/* From now on log lines go to FN(level, msg, DATA) instead of the log file,
 * which is closed here (stderr is left open); FN NULL drops them.  For the
 * processes that enter the container: they must not hold the host's log. */
typedef void (*zs_log_sink_fn)(const char *level, const char *msg, void *data);
void zs_log_redirect(zs_log_sink_fn fn, void *data);

#endif
