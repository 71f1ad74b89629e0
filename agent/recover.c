/* zanshind — finishing or rolling back, at start, the moves an agent that
 * was killed left in its journal (docs/agent.md "Journal"). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "agent.h"
#include "zanshin/log.h"
#include "zanshin/remnant.h"
#include "zanshin/status.h"
#include "zanshin/utils.h"

/* A runtime command the dead agent started may still run: wait for it. */
static void wait_pid_gone(long long pid)
{
	int i;

	for (i = 0; pid > 0 && i < 1200 && kill((pid_t) pid, 0) == 0; i++)
		usleep(100000);
}

static void recover_target(struct agent *a, struct move *m)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *st = NULL;

	/* a temporary generation left (killed before or during its commit:
	 * once committed, it has been renamed and this removes nothing) */
	if (m->img_dir && strstr(m->img_dir, "/.tmp-")) {
		struct zs_remnant *r = NULL;
		if (zs_remnant_open(a->remnant_root, &r, &e) == 0) {
			zs_remnant_gen_abort(r, m->img_dir);
			zs_remnant_close(r);
		}
		zs_error_release(&e);
	}
	if (strcmp(m->state, "restoring") == 0) {
		wait_pid_gone(m->restore_pid);
		st = rt_status(a, m->container);
		journal_put(a, m, st && strcmp(st, "running") == 0 ? "running" : "aborted", &e);
		return;
	}
	/* receiving, received: the source rolls back (it never got a result) */
	precopy_drop_rounds(a, m, NULL);
	free(m->error);
	m->error = xstrdup("the agent was restarted before the restore");
	journal_put(a, m, "aborted", &e);
}

/* A runtime command on the container the dead agent started (its
 * `checkpoint` holds the container's lock until CRIU is done) may still
 * run: wait for it, or the container would be judged running while that
 * dump is about to end it. */
static void wait_runtime_done(struct agent *a, const char *id)
{
	cleanup_free char *dir = zs_status_dir(a->root, id);
	cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int i;

	/* a dump ends in seconds; 10 minutes at most, then judge anyway */
	for (i = 0; fd >= 0 && i < 6000 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK; i++)
		usleep(100000);
	if (i == 6000)
		zs_log("warning", "container %s: still locked by a runtime command after 10 minutes", id);
}

static void recover_source(struct agent *a, struct move *m, int tries)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *st = NULL;
	int r;

	wait_runtime_done(a, m->container);
	st = rt_status(a, m->container);
	wait_pid_gone(m->restore_pid);
	if (strcmp(m->state, "negotiating") == 0 || strcmp(m->state, "bundle") == 0 ||
	    strcmp(m->state, "pre-copy") == 0 ||
	    (strcmp(m->state, "checkpointing") == 0 && st && strcmp(st, "running") == 0)) {
		free(m->error);
		m->error = xstrdup("the agent was restarted before the checkpoint");
		journal_put(a, m, "failed", &e);
		return;
	}
	r = 0;
	if (strcmp(m->state, "commit-sent") == 0 || strcmp(m->state, "in-doubt") == 0) {
		r = source_ask(a, m, tries, &e);
		if (r < 0) {
			zs_log("warning", "move %s: %s (retried at the next start)", m->id, zs_error_msg(e));
			journal_put(a, m, "in-doubt", &e);
			return;
		}
	}
	if (r == 1) {
		journal_put(a, m, "done", &e);
		return;
	}
	if (source_rollback(a, m, &e) < 0)
		zs_log("error", "move %s: %s", m->id, zs_error_msg(e));
}

void recover(struct agent *a)
{
	cleanup_error zs_error_t e = NULL;
	char **ids = NULL;
	size_t n = 0, i;

	if (journal_list(a, &ids, &n, &e) < 0) {
		zs_log("error", "journal: %s", zs_error_msg(e));
		return;
	}
	for (i = 0; i < n; i++) {
		struct move m;
		zs_error_release(&e);
		if (journal_get(a, ids[i], &m, &e) < 0) {
			zs_log("warning", "journal: %s", zs_error_msg(e));
			continue;
		}
		if (!move_terminal(m.state)) {
			zs_log("info", "move %s (%s of %s) was %s: recovering", m.id, m.role, m.container, m.state);
			if (is_postcopy(&m) && strcmp(m.role, "target") == 0)
				pc_recover_target(a, &m);
			else if (is_postcopy(&m))
				pc_recover_source(a, &m);
			else if (strcmp(m.role, "target") == 0)
				recover_target(a, &m);
			else
				recover_source(a, &m, 15);
			zs_log("info", "move %s: %s", m.id, m.state);
		}
		move_free(&m);
	}
	zs_free_string_array(ids);
}

bool journal_has_state(struct agent *a, const char *state)
{
	cleanup_error zs_error_t e = NULL;
	char **ids = NULL;
	size_t n = 0, i;
	bool found = false;

	if (journal_list(a, &ids, &n, &e) < 0)
		return false;
	for (i = 0; i < n && !found; i++) {
		struct move m;
		zs_error_release(&e);
		if (journal_get(a, ids[i], &m, &e) < 0)
			continue;
		found = strcmp(m.state, state) == 0;
		move_free(&m);
	}
	zs_free_string_array(ids);
	return found;
}

void recover_in_doubt(struct agent *a)
{
	cleanup_error zs_error_t e = NULL;
	char **ids = NULL;
	size_t n = 0, i;

	if (journal_list(a, &ids, &n, &e) < 0)
		return;
	for (i = 0; i < n; i++) {
		struct move m;
		zs_error_release(&e);
		if (journal_get(a, ids[i], &m, &e) < 0)
			continue;
		if (strcmp(m.role, "source") == 0 && strcmp(m.state, "in-doubt") == 0) {
			if (is_postcopy(&m))
				pc_recover_source(a, &m);
			else
				recover_source(a, &m, 1);
			if (strcmp(m.state, "in-doubt") != 0)
				zs_log("info", "move %s: %s", m.id, m.state);
		}
		move_free(&m);
	}
	zs_free_string_array(ids);
}
