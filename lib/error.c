/* zanshin — error model. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zanshin/error.h"
#include "zanshin/utils.h"

static int ret_for(int errno_value)
{
	if (errno_value < 0)
		errno_value = -errno_value;
	return errno_value > 0 ? -errno_value : -1;
}

int zs_make_verror(zs_error_t *err, int errno_value, const char *fmt, va_list ap)
{
	char *msg;

	if (err == NULL)
		return ret_for(errno_value);
	if (*err != NULL)
		return ret_for(errno_value);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	*err = xzalloc(sizeof(**err));
	if (errno_value < 0) {
		errno_value = -errno_value;
		(*err)->quiet = 1;
	}
	(*err)->status = errno_value;
	(*err)->msg = msg;
	return ret_for(errno_value);
}

int zs_make_error(zs_error_t *err, int errno_value, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = zs_make_verror(err, errno_value, fmt, ap);
	va_end(ap);
	return ret;
}

int zs_error_wrap(zs_error_t *err, const char *fmt, ...)
{
	char *ctx, *msg;
	va_list ap;

	if (err == NULL || *err == NULL)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		abort();
	va_end(ap);
	msg = xasprintf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = msg;
	return ret_for((*err)->status);
}

void zs_error_release(zs_error_t *err)
{
	if (err == NULL || *err == NULL)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}

int zs_error_errno(zs_error_t err)
{
	return err ? err->status : 0;
}

const char *zs_error_msg(zs_error_t err)
{
	return err ? err->msg : "";
}

char *zs_error_text(zs_error_t err)
{
	if (err == NULL)
		return xstrdup("unknown error");
	if (err->status > 0 && !err->quiet)
		return xasprintf("%s: %s", err->msg, strerror(err->status));
	return xstrdup(err->msg);
}
