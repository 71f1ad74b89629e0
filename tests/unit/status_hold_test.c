/* Unit tests for lib/status_hold.c (TAP): a checkpoint's hold on a
 * container (a post-copy's lazy dump keeps it frozen on the source) holds
 * only while the process that wrote it lives, with its start time; a file
 * of another format or version, another process's start time or a dead
 * writer holds nothing; a live hold refuses an action with a message that
 * names the container, the checkpoint and the action. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zanshin/status.h"
#include "zanshin/utils.h"

#include "check.h"

static void put(const char *path, const char *text)
{
	zs_error_t e = NULL;

	if (write_file_replace(path, text, strlen(text), 0600, &e) < 0) {
		fprintf(stderr, "%s\n", zs_error_msg(e));
		exit(1);
	}
}

/* A child that sets the hold, says so on READY and waits on GO. */
static pid_t holder(const char *root, const char *id, int *go_w)
{
	int ready[2], go[2];
	char c;
	pid_t pid;

	if (pipe(ready) < 0 || pipe(go) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		zs_error_t e = NULL;
		close(ready[0]);
		close(go[1]);
		if (zs_status_hold_set(root, id, "checkpoint --lazy-pages", &e) < 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		(void) !read(go[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1)
		exit(1);
	close(ready[0]);
	*go_w = go[1];
	return pid;
}

int main(void)
{
	char tmpl[] = "/tmp/zs-hold-test.XXXXXX";
	char *root = mkdtemp(tmpl), *dir, *path, *hold, *bad;
	struct zs_status st = {0};
	zs_error_t e = NULL;
	int go = -1, r;
	pid_t pid;

	if (root == NULL)
		return 1;
	dir = xasprintf("%s/c1", root);
	path = xasprintf("%s/checkpoint-hold.json", dir);
	mkdir(dir, 0700);
	st.id = "c1";
	st.dir = dir;

	check(zs_status_hold(&st) == NULL, "no file: no hold");
	check(zs_status_check_hold(&st, "signalled", &e) == 0, "no hold: nothing refused");

	pid = holder(root, "c1", &go);
	hold = zs_status_hold(&st);
	{
		char *want = xasprintf("checkpoint --lazy-pages (pid %d)", (int) pid);
		check(hold && strcmp(hold, want) == 0, "a live checkpoint's hold names it and its pid");
		free(want);
	}
	r = zs_status_check_hold(&st, "signalled", &e);
	check(r == -EBUSY && e && zs_error_errno(e) == EBUSY && strstr(zs_error_msg(e), "container c1 is frozen by") &&
		  strstr(zs_error_msg(e), "not signalled"),
	      "a live hold refuses the action and says why (EBUSY)");
	zs_error_release(&e);
	free(hold);

	close(go);
	waitpid(pid, NULL, 0);
	check(zs_status_hold(&st) == NULL, "its writer gone: no hold (a killed checkpoint holds nothing)");

	bad = xasprintf("{\"format\":\"zanshin-checkpoint-hold\",\"version\":1,\"pid\":1,\"start_time\":%llu,"
			"\"what\":\"x\"}",
			zs_proc_start_time(1, NULL) + 12345);
	put(path, bad);
	check(zs_status_hold(&st) == NULL, "a live pid with another start time (a recycled pid): no hold");
	free(bad);
	bad = xasprintf("{\"format\":\"zanshin-checkpoint-hold\",\"version\":2,\"pid\":1,\"start_time\":%llu,"
			"\"what\":\"x\"}",
			zs_proc_start_time(1, NULL));
	put(path, bad);
	check(zs_status_hold(&st) == NULL, "an unknown version: no hold");
	free(bad);
	bad = xasprintf("{\"format\":\"zanshin-state\",\"version\":1,\"pid\":1,\"start_time\":%llu,\"what\":\"x\"}",
			zs_proc_start_time(1, NULL));
	put(path, bad);
	check(zs_status_hold(&st) == NULL, "another format: no hold");
	free(bad);
	put(path, "{not json");
	check(zs_status_hold(&st) == NULL, "malformed: no hold");

	check(zs_status_hold_set(root, "c1", "checkpoint --lazy-pages", &e) == 0 && zs_status_hold(&st) == NULL,
	      "the checkpoint's own hold does not stop the checkpoint itself");
	zs_status_hold_clear(root, "c1");
	check(access(path, F_OK) < 0 && errno == ENOENT, "cleared: the file is gone");

	rm_rf(root);
	free(dir);
	free(path);
	return check_done();
}
