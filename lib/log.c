/* zanshin — logging: `time="..." level=error msg="..."` or
 * {"level":"error","msg":"...","time":"..."} lines, as runc's logrus does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zanshin/json.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

static int log_fd = 2;
static enum zs_log_format log_format = ZS_LOG_TEXT;
static bool log_debug;
static zs_log_sink_fn log_sink;
static void *log_sink_data;

int zs_log_init(const char *path, enum zs_log_format format, bool debug, zs_error_t *err)
{
	log_format = format;
	log_debug = debug;
	if (path == NULL || *path == '\0')
		return 0;
	log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		log_fd = 2;
		return zs_make_error(err, errno, "open log file `%s`", path);
	}
	return 0;
}

bool zs_log_debug_enabled(void)
{
	return log_debug;
}

static void now_rfc3339(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, len - n, ".%09ld", ts.tv_nsec);
	strftime(buf + n, len - n, "%z", &tm);
	/* +0000 -> +00:00 */
	n = strlen(buf);
	if (n >= 5 && n + 2 < len) {
		memmove(buf + n - 1, buf + n - 2, 3);
		buf[n - 2] = ':';
	}
}

void zs_log_redirect(zs_log_sink_fn fn, void *data)
{
	if (log_fd > 2)
		close(log_fd);
	log_fd = -1;
	log_sink = fn;
	log_sink_data = data;
}

/* Text: logrus's `time=... level=... msg="..."` for the first line; the
 * lines after it (a CRIU log excerpt) follow as they are, for a person to
 * read, each indented so that none can pass for a log line of its own. */
static char *text_line(const char *ts, const char *level, const char *msg)
{
	cleanup_jgen zs_jgen *g = zs_jgen_new(false);
	cleanup_free char *quoted = NULL, *head = NULL;
	const char *nl = strchr(msg, '\n'), *p;
	char *line;

	head = nl ? strndup(msg, nl - msg) : xstrdup(msg);
	if (head == NULL)
		abort();
	zs_jgen_string(g, head);
	quoted = zs_jgen_result(g, NULL);
	line = xasprintf("time=\"%s\" level=%s msg=%s\n", ts, level, quoted);
	for (p = nl; p; p = strchr(p + 1, '\n')) {
		const char *end = strchr(p + 1, '\n');
		int len = end ? (int) (end - p - 1) : (int) strlen(p + 1);
		char *t = xasprintf("%s%s%.*s\n", line, (p[1] == ' ' || p[1] == '\t') ? "" : "  ", len, p + 1);
		free(line);
		line = t;
	}
	return line;
}

static void emit(const char *level, const char *msg)
{
	char ts[64];
	cleanup_free char *line = NULL;

	if (log_fd < 0) {
		if (log_sink)
			log_sink(level, msg, log_sink_data);
		return;
	}
	now_rfc3339(ts, sizeof(ts));
	if (log_format == ZS_LOG_JSON) {
		cleanup_jgen zs_jgen *g = zs_jgen_new(false);
		zs_jgen_map_open(g);
		zs_jgen_kv_string(g, "level", level);
		zs_jgen_kv_string(g, "msg", msg);
		zs_jgen_kv_string(g, "time", ts);
		zs_jgen_map_close(g);
		line = zs_jgen_result(g, NULL);
		line = xrealloc(line, strlen(line) + 2);
		strcat(line, "\n");
	} else {
		line = text_line(ts, level, msg);
	}
	write_all(log_fd, line, strlen(line));
}

void zs_log(const char *level, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;

	if (strcmp(level, "debug") == 0 && !log_debug)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	emit(level, msg);
}

bool zs_log_error(const char *msg)
{
	emit("error", msg);
	return log_fd == 2;
}
