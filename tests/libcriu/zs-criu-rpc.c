// SPDX-License-Identifier: Apache-2.0
/*
 * zs-criu-rpc: dump and restore through libcriu (criu swrk), the way the
 * runtime drives CRIU, to prove the RPC side of memory tracking.
 *
 *   zs-criu-rpc CRIU check-track
 *   zs-criu-rpc CRIU dump PID DIR [--parent REL] [--track-mem] [--leave-running]
 *                                 [--fallback-full]
 *   zs-criu-rpc CRIU restore DIR [--track-mem]
 *
 * Exit status 0 on success; the CRIU log is DIR/rpc.log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criu/criu.h>

static int usage(void)
{
	fprintf(stderr, "usage: zs-criu-rpc CRIU check-track | dump PID DIR [--parent REL] [--track-mem] "
			"[--leave-running] | restore DIR [--track-mem]\n");
	return 2;
}

static int setup(const char *criu, const char *dir)
{
	int fd;

	if (criu_init_opts() < 0) {
		fprintf(stderr, "criu_init_opts failed\n");
		return -1;
	}
	if (criu_set_service_binary(criu) < 0)
		return -1;
	if (!dir)
		return 0;
	fd = open(dir, O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	criu_set_images_dir_fd(fd);
	criu_set_log_level(4);
	criu_set_log_file("rpc.log");
	return 0;
}

int main(int argc, char **argv)
{
	bool track = false, leave = false;
	const char *parent = NULL;
	int i, ret;

	if (argc < 3)
		return usage();

	if (!strcmp(argv[2], "check-track")) {
		if (setup(argv[1], NULL))
			return 1;
		struct criu_feature_check f = {.mem_track = true};
		ret = criu_feature_check(&f, sizeof(f));
		if (ret < 0) {
			fprintf(stderr, "criu_feature_check: %d\n", ret);
			return 1;
		}
		printf("mem_track=%d\n", f.mem_track);
		return f.mem_track ? 0 : 1;
	}

	if (!strcmp(argv[2], "dump") && argc >= 5) {
		if (setup(argv[1], argv[4]))
			return 1;
		for (i = 5; i < argc; i++) {
			if (!strcmp(argv[i], "--parent") && i + 1 < argc)
				parent = argv[++i];
			else if (!strcmp(argv[i], "--track-mem"))
				track = true;
			else if (!strcmp(argv[i], "--leave-running"))
				leave = true;
			else
				return usage();
		}
		criu_set_pid(atoi(argv[3]));
		criu_set_track_mem(track);
		criu_set_leave_running(leave);
		if (parent && criu_set_parent_images(parent) < 0)
			return 1;
		ret = criu_dump();
		if (ret < 0) {
			fprintf(stderr, "criu_dump: %d (see %s/rpc.log)\n", ret, argv[4]);
			return 1;
		}
		return 0;
	}

	if (!strcmp(argv[2], "restore") && argc >= 4) {
		if (setup(argv[1], argv[3]))
			return 1;
		for (i = 4; i < argc; i++) {
			if (!strcmp(argv[i], "--track-mem"))
				track = true;
			else
				return usage();
		}
		criu_set_track_mem(track);
		ret = criu_restore();
		if (ret < 0) {
			fprintf(stderr, "criu_restore: %d (see %s/rpc.log)\n", ret, argv[3]);
			return 1;
		}
		printf("%d\n", ret);
		return 0;
	}
	return usage();
}
