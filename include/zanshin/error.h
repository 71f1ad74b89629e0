/* zanshin — error model (crun-like).
 *
 * A fallible function returns a negative value and fills *err with an errno
 * and a message; callers may wrap it with context; only main prints.
 */
#ifndef ZANSHIN_ERROR_H
#define ZANSHIN_ERROR_H

#include <stdarg.h>

struct zs_error_s {
	int status; /* errno value, 0 if none */
	int quiet;  /* status is for callers only, not part of the text */
	char *msg;
};
typedef struct zs_error_s *zs_error_t;

/* Fill *err (if NULL) with a formatted message and errno_value.  If *err is
 * already set, the new message is discarded (first error wins).  Returns
 * -errno_value, or -1 if errno_value is 0.  A negative errno_value (-EINVAL)
 * sets the errno for callers but keeps strerror() out of the text: for
 * validation errors whose message says everything. */
int zs_make_error(zs_error_t *err, int errno_value, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int zs_make_verror(zs_error_t *err, int errno_value, const char *fmt, va_list ap);

/* Prefix "<context>: " to the message of *err.  Returns the same negative
 * value zs_make_error returned (-errno or -1). */
int zs_error_wrap(zs_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void zs_error_release(zs_error_t *err);
int zs_error_errno(zs_error_t err);
const char *zs_error_msg(zs_error_t err);

/* Full text: message, plus ": strerror(errno)" if errno is set.  The returned
 * string is owned by the caller. */
char *zs_error_text(zs_error_t err);

#define cleanup_error __attribute__((cleanup(zs_error_release)))

#endif
