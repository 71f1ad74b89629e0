/* zanshin — a finished dump whose runtime was killed before keeping it.
 *
 * An automatic diff is dumped by CRIU into a temporary generation
 * (.tmp-dump-*) of the store, then committed by the runtime. CRIU kills the
 * container's processes only after its post-dump notification has been
 * answered, and sends that notification once every image is written and
 * flushed. The runtime answers it after writing a mark into the temporary
 * generation (its pid, start time and the boot id). If the runtime is
 * killed after that, the container is gone and the temporary generation is
 * its only state: the store commits it (gc finds it) instead of removing
 * it as a leftover, when the runtime that wrote the mark is dead and the
 * machine has not rebooted since (the files were never fsynced: after a
 * power cut they may be torn, and such a dump is kept, never committed,
 * for a person to look at). Without the mark, CRIU had not finished: it
 * resumed the container when the runtime died (its notification went
 * unanswered), and the leftover is removed as before. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "remnant_internal.h"
#include "zanshin/config.h"
#include "zanshin/criu_image.h"
#include "zanshin/json.h"
#include "zanshin/log.h"
#include "zanshin/remnant.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

#define MARK ZS_DUMP_MARK
#define MARK_FORMAT "zanshin-dump-mark"

static char *boot_id(void)
{
	char buf[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (f == NULL)
		return xstrdup("");
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return xstrdup(buf);
}

int zs_remnant_dump_mark(const char *tmp_dir, const char *container, zs_error_t *err)
{
	cleanup_jgen zs_jgen *j = zs_jgen_new(true);
	cleanup_free char *boot = boot_id(), *text = NULL, *path = NULL;
	pid_t self = getpid();

	zs_jgen_map_open(j);
	zs_jgen_kv_string(j, "format", MARK_FORMAT);
	zs_jgen_kv_string(j, "boot_id", boot);
	if (container)
		zs_jgen_kv_string(j, "container", container);
	zs_jgen_kv_int(j, "pid", self);
	zs_jgen_key(j, "start_time");
	zs_jgen_uint(j, zs_proc_start_time(self, NULL));
	zs_jgen_map_close(j);
	text = zs_jgen_result(j, NULL);
	path = xasprintf("%s/" MARK, tmp_dir);
	return write_file_atomic(path, text, strlen(text), 0600, err);
}

void zs_remnant_dump_unmark(const char *tmp_dir)
{
	cleanup_free char *path = xasprintf("%s/" MARK, tmp_dir);

	unlink(path);
}

int zs_remnant_dump_orphaned(const char *tmp, char **container)
{
	cleanup_free char *path = xasprintf("%s/" MARK, tmp), *boot = boot_id();
	cleanup_error zs_error_t e = NULL;
	cleanup_json zs_json *j = NULL;
	cleanup_free char *fmt = NULL, *mboot = NULL;
	int64_t pid = 0;
	uint64_t start = 0;
	char state = 0;

	if (access(path, F_OK) < 0)
		return 0;
	if (zs_json_parse_file(path, path, &j, &e) < 0 ||
	    zs_json_to_string(zs_json_get(j, "format"), path, "format", ZS_JSON_REQUIRED, &fmt, &e) < 0 ||
	    zs_json_to_string(zs_json_get(j, "boot_id"), path, "boot_id", ZS_JSON_REQUIRED, &mboot, &e) < 0 ||
	    zs_json_to_int64(zs_json_get(j, "pid"), path, "pid", ZS_JSON_REQUIRED, &pid, &e) < 0 ||
	    zs_json_to_uint64(zs_json_get(j, "start_time"), path, "start_time", ZS_JSON_REQUIRED, &start, &e) < 0) {
		zs_warn("remnant store: `%s` is kept, not committed: its mark is unreadable: %s", tmp, zs_error_msg(e));
		return -1;
	}
	if (strcmp(fmt, MARK_FORMAT) != 0 || strcmp(mboot, boot) != 0 || boot[0] == '\0') {
		zs_warn("remnant store: `%s` holds a dump finished before this machine rebooted: kept, not committed "
			"(its files were not synced; check it with `zanshin image check` and keep it with "
			"`zanshin remnant import`)",
			tmp);
		return -1;
	}
	if (pid > 0 && zs_proc_start_time((pid_t) pid, &state) == start && state != 'Z' && state != 'X')
		return 0;
	if (container) {
		char *c = NULL;
		cleanup_error zs_error_t ce = NULL;
		if (zs_json_to_string(zs_json_get(j, "container"), path, "container", 0, &c, &ce) == 0 && c &&
		    zs_validate_id(c, &ce) == 0)
			*container = c;
		else
			free(c);
	}
	return 1;
}

int zs_rem_recover_dump(struct zs_remnant *r, const char *id, const char *tmp, bool *keep, zs_error_t *err)
{
	struct zs_remnant_gen *g = NULL;
	cleanup_error zs_error_t e = NULL;
	int st = zs_remnant_dump_orphaned(tmp, NULL);

	*keep = st != 0;
	if (st <= 0)
		return 0;
	if (zs_rem_commit_locked(r, id, tmp, NULL, &g, &e) < 0) {
		/* the mark stays: a later gc tries again, nothing is removed */
		zs_warn("remnant store: cannot keep the finished dump `%s` of `%s` (its runtime was killed): %s", tmp,
			id, zs_error_msg(e));
		return 0;
	}
	zs_remnant_dump_unmark(g->path);
	zs_warn("remnant store: kept generation %s of `%s`: a finished checkpoint its runtime was killed before "
		"keeping (the container's newest state; restore it with `zanshin remnant export %s %s DIR`)",
		g->name, id, id, g->name);
	zs_remnant_gen_free(g);
	*keep = true;
	return 0;
}
