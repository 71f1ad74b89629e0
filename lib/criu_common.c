/* zanshin — libcriu plumbing shared by checkpoint and restore. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criu_internal.h"
#include "zanshin/json.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

static bool executable(const char *p)
{
	return access(p, X_OK) == 0;
}

int zs_criu_binary(const char *criu, char **out, zs_error_t *err)
{
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (criu && *criu) {
		*out = xstrdup(criu);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return zs_make_error(err, errno, "readlink /proc/self/exe");
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL || self[0] != '/')
		return zs_make_error(err, ENOENT, "cannot locate zanshin's CRIU from `%s`: pass --criu PATH", self);
	*slash = '\0';
	{
		char *a = xasprintf("%s/criu", self);
		char *b = xasprintf("%s/../libexec/zanshin/criu", self);
		if (executable(a)) {
			free(b);
			*out = a;
			return 0;
		}
		free(a);
		if (executable(b)) {
			*out = b;
			return 0;
		}
		free(b);
	}
	return zs_make_error(err, ENOENT,
			     "zanshin's CRIU is not installed next to `%s` (bin/criu or ../libexec/zanshin/criu): "
			     "pass --criu PATH",
			     self);
}

void cleanup_criu_optsp(criu_opts **c)
{
	if (*c)
		criu_local_free_opts(*c);
}

int zs_criu_opts_new(const struct zs_cr_opts *o, criu_opts **out, zs_error_t *err)
{
	cleanup_free char *bin = NULL;
	criu_opts *c = NULL;

	if (zs_criu_binary(o->criu, &bin, err) < 0)
		return -1;
	if (criu_local_init_opts(&c) < 0)
		return zs_make_error(err, ENOMEM, "libcriu: init options");
	if (criu_local_set_service_binary(c, bin) < 0) {
		criu_local_free_opts(c);
		return zs_make_error(err, ENOMEM, "libcriu: service binary");
	}
	criu_local_set_log_level(c, 4);
	*out = c;
	return 0;
}

/* ---- the network lock --------------------------------------------------- */

#define NFT_LOCK_CACHE "/run/zanshin/criu-nftables-lock"

/* "BOOT_ID DEV:INO:MTIME" of the criu binary BIN, or NULL. */
static char *nft_lock_key(const char *bin)
{
	char boot[64] = "";
	struct stat st;
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (f == NULL)
		return NULL;
	if (fgets(boot, sizeof(boot), f) == NULL)
		boot[0] = '\0';
	fclose(f);
	boot[strcspn(boot, "\n")] = '\0';
	if (boot[0] == '\0' || stat(bin, &st) < 0)
		return NULL;
	return xasprintf("%s %llu:%llu:%lld", boot, (unsigned long long) st.st_dev, (unsigned long long) st.st_ino,
			 (long long) st.st_mtime);
}

/* `criu check --feature network_lock_nftables`: 1 yes, 0 no. */
static int nft_lock_probe(const char *bin)
{
	int status, fd;
	pid_t pid = fork();

	if (pid < 0)
		return 0;
	if (pid == 0) {
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		syscall(SYS_close_range, 3U, ~0U, 0U);
		execl(bin, bin, "check", "--feature", "network_lock_nftables", (char *) NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * CRIU locks the container's network while it dumps, and the restore
 * unlocks it by the method the dump recorded in the image. CRIU's default,
 * iptables, runs iptables-restore and ip6tables-restore processes: ~60 ms
 * of a checkpoint's and of a restore's critical path here (three pairs and
 * a shell at restore); nftables does the same in CRIU's own process
 * (libnftables). So a checkpoint locks with nftables where this CRIU and
 * kernel can (asked once per boot and CRIU binary; the answer kept in
 * NFT_LOCK_CACHE), else as CRIU would. A restore needs the same there.
 */
void zs_criu_network_lock(criu_opts *c, const struct zs_cr_opts *o)
{
	cleanup_free char *bin = NULL, *key = NULL, *cached = NULL, *line = NULL;
	cleanup_error zs_error_t e = NULL;
	size_t len = 0;
	int ok;

	if (zs_criu_binary(o->criu, &bin, &e) < 0 || (key = nft_lock_key(bin)) == NULL)
		return;
	if (read_file(NFT_LOCK_CACHE, &cached, &len, &e) == 0 && len > 2 && strncmp(cached, key, strlen(key)) == 0 &&
	    cached[strlen(key)] == ' ')
		ok = cached[strlen(key) + 1] == '1';
	else {
		ok = nft_lock_probe(bin);
		line = xasprintf("%s %d\n", key, ok);
		zs_error_release(&e);
		if (mkdir_p("/run/zanshin", 0700, &e) < 0 ||
		    write_file_replace(NFT_LOCK_CACHE, line, strlen(line), 0600, &e) < 0)
			zs_debug("network lock: %s", zs_error_msg(e));
	}
	if (ok)
		criu_local_set_network_lock(c, CRIU_NETWORK_LOCK_NFTABLES);
	zs_debug("checkpoint: CRIU locks the network with %s", ok ? "nftables" : "its default (iptables)");
}

/* As runc (checkpoint.go setEmptyNsMask): the network namespace is always
 * "empty" for CRIU, on checkpoint and on restore. The runtime does not
 * manage network devices and their configuration: a namespace of its own is
 * created empty at restore and set up again by whoever set it up (CNI,
 * hooks); one given by path is external. --empty-ns network is accepted
 * and changes nothing. */
int zs_empty_ns_flags(const char *s, int *flags, zs_error_t *err)
{
	*flags = CLONE_NEWNET;
	if (s == NULL || *s == '\0' || strcmp(s, "network") == 0)
		return 0;
	return zs_make_error(err, -EINVAL, "--empty-ns: namespace \"%s\" is not supported (only \"network\")", s);
}

static int cg_mode(const char *s, enum criu_cg_mode *m, zs_error_t *err)
{
	static const struct {
		const char *name;
		enum criu_cg_mode mode;
	} modes[] = {{"soft", CRIU_CG_MODE_SOFT},
		     {"full", CRIU_CG_MODE_FULL},
		     {"strict", CRIU_CG_MODE_STRICT},
		     {"ignore", CRIU_CG_MODE_IGNORE}};
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(s, modes[i].name) == 0) {
			*m = modes[i].mode;
			return 0;
		}
	return zs_make_error(err, -EINVAL, "invalid manage cgroups mode: \"%s\" (soft, full, strict or ignore)", s);
}

char *zs_cr_image_path(const struct zs_cr_opts *o)
{
	char cwd[PATH_MAX];

	if (o->image_path && o->image_path[0] == '/')
		return xstrdup(o->image_path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		strcpy(cwd, ".");
	return xasprintf("%s/%s", cwd, o->image_path && *o->image_path ? o->image_path : "checkpoint");
}

char *zs_cr_work_path(const struct zs_cr_opts *o)
{
	char cwd[PATH_MAX];

	if (o->work_path == NULL || *o->work_path == '\0')
		return zs_cr_image_path(o);
	if (o->work_path[0] == '/')
		return xstrdup(o->work_path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		strcpy(cwd, ".");
	return xasprintf("%s/%s", cwd, o->work_path);
}

int zs_criu_common(criu_opts *c, const struct zs_cr_opts *o, const struct zs_config *cfg, const char *image_dir,
		   int *work_fd, zs_error_t *err)
{
	const zs_json *conf = cfg->annotations ? zs_json_get(cfg->annotations, "org.criu.config") : NULL;
	int ns = 0;

	/* as runc: the annotation names a config file ("" = none), else
	 * /etc/criu/runc.conf is read when it exists */
	if (conf == NULL)
		criu_local_set_config_file(c, "/etc/criu/runc.conf");
	else if (zs_json_string_value(conf) == NULL)
		return zs_make_error(err, -EINVAL, "config.json: annotations.org.criu.config: must be a string");
	else if (*zs_json_string_value(conf))
		criu_local_set_config_file(c, zs_json_string_value(conf));
	if (o->manage_cgroups_mode && *o->manage_cgroups_mode) {
		enum criu_cg_mode m = CRIU_CG_MODE_DEFAULT;
		if (cg_mode(o->manage_cgroups_mode, &m, err) < 0)
			return -1;
		criu_local_set_manage_cgroups_mode(c, m);
	}
	criu_local_set_manage_cgroups(c, true);
	if (zs_empty_ns_flags(o->empty_ns, &ns, err) < 0)
		return -1;
	criu_local_set_empty_ns(c, ns);
	criu_local_set_tcp_established(c, o->tcp_established);
	criu_local_set_ext_unix_sk(c, o->ext_unix_sk);
	criu_local_set_shell_job(c, o->shell_job);
	criu_local_set_file_locks(c, o->file_locks);
	criu_local_set_auto_dedup(c, o->auto_dedup);
	criu_local_set_lazy_pages(c, o->lazy_pages);
	criu_local_set_orphan_pts_master(c, true);
	*work_fd = -1;
	if (o->work_path && *o->work_path) {
		cleanup_free char *w = zs_cr_work_path(o);
		if (mkdir(w, 0700) < 0 && errno != EEXIST)
			return zs_make_error(err, errno, "--work-path: mkdir `%s`", w);
		*work_fd = open(w, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		if (*work_fd < 0)
			return zs_make_error(err, errno, "--work-path: open `%s`", w);
		criu_local_set_work_dir_fd(c, *work_fd);
	}
	(void) image_dir;
	return 0;
}

char *zs_rootfs_resolve(const char *rootfs, const char *dest)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	cleanup_close int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -1;
	char link[64], real[PATH_MAX], rroot[PATH_MAX];
	ssize_t n;
	size_t rl;

	if (root < 0 || realpath(rootfs, rroot) == NULL)
		return xstrdup(dest);
	fd = syscall(SYS_openat2, root, dest, &how, sizeof(how));
	if (fd < 0)
		return xstrdup(dest);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof(real) - 1);
	if (n < 0)
		return xstrdup(dest);
	real[n] = '\0';
	rl = strlen(rroot);
	if (strncmp(real, rroot, rl) != 0 || (real[rl] != '/' && real[rl] != '\0'))
		return xstrdup(dest);
	return xstrdup(real[rl] ? real + rl : "/");
}

static int add_map(criu_opts *c, const char *key, const char *val, zs_error_t *err)
{
	if (criu_local_add_ext_mount(c, key, val) < 0)
		return zs_make_error(err, ENOMEM, "libcriu: external mount `%s`", key);
	return 0;
}

/* cgroup v1 hierarchies bound under DEST without a cgroup namespace (see
 * mount_cgroup_v1 in lib/linux_mounts.c): one external mount each; on
 * restore the source is our current cgroup (we joined the container's). */
static int cgroup_v1_maps(criu_opts *c, const char *dest, bool restore, zs_error_t *err)
{
	cleanup_file FILE *f = fopen("/proc/self/cgroup", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;

	if (f == NULL)
		return zs_make_error(err, errno, "open /proc/self/cgroup");
	while (getline(&line, &cap, f) > 0) {
		char *ctrl = strchr(line, ':'), *path;
		const char *name;
		cleanup_free char *host = NULL, *key = NULL, *src = NULL;
		if (ctrl == NULL || (path = strchr(++ctrl, ':')) == NULL)
			continue;
		*path++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		name = *ctrl ? ctrl : "unified";
		if (str_has_prefix(name, "name="))
			name += 5;
		host = xasprintf("/sys/fs/cgroup/%s", name);
		if (access(host, F_OK) < 0)
			continue;
		key = xasprintf("%s/%s", strcmp(dest, "/") == 0 ? "" : dest, name);
		src = xasprintf("%s%s", host, path);
		if (add_map(c, key, restore ? src : key, err) < 0)
			return -1;
	}
	return 0;
}

static bool has_ns(const struct zs_config *cfg, int type)
{
	return zs_config_namespace(cfg, type) != NULL;
}

static const char *const default_devices[] = {"/dev/null", "/dev/zero",	   "/dev/full",
					      "/dev/tty",  "/dev/urandom", "/dev/random"};

int zs_criu_mount_maps(criu_opts *c, const struct zs_config *cfg, const char *rootfs, const char *bundle, pid_t pid,
		       bool restore, zs_error_t *err)
{
	size_t i;

	for (i = 0; i < cfg->n_mounts; i++) {
		const struct zs_mount *m = &cfg->mounts[i];
		cleanup_free char *dest = zs_rootfs_resolve(rootfs, m->destination), *src = NULL;
		if (m->bind && m->source) {
			src = m->source[0] == '/' ? xstrdup(m->source) : xasprintf("%s/%s", bundle, m->source);
			if (add_map(c, dest, restore ? src : dest, err) < 0)
				return -1;
		} else if (m->type && strcmp(m->type, "cgroup") == 0 && !has_ns(cfg, CLONE_NEWCGROUP) &&
			   access("/sys/fs/cgroup/cgroup.controllers", F_OK) < 0) {
			if (cgroup_v1_maps(c, dest, restore, err) < 0)
				return -1;
		}
	}
	/* masked files are /dev/null bound over them */
	if (cfg->masked_paths && cfg->masked_paths[0]) {
		if (restore) {
			if (add_map(c, "/dev/null", "/dev/null", err) < 0)
				return -1;
		} else {
			char **p;
			for (p = cfg->masked_paths; *p; p++) {
				cleanup_free char *in = xasprintf("/proc/%d/root%s", (int) pid, *p);
				struct stat st;
				if (stat(in, &st) < 0 || S_ISDIR(st.st_mode))
					continue;
				if (add_map(c, *p, "/dev/null", err) < 0)
					return -1;
			}
		}
	}
	for (i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++)
		if (add_map(c, default_devices[i], default_devices[i], err) < 0)
			return -1;
	for (i = 0; i < cfg->n_devices; i++)
		if (add_map(c, cfg->devices[i].path, cfg->devices[i].path, err) < 0)
			return -1;
	return 0;
}

/* The lines of LOG that say "Error" (CRIU's own words), for the message a
 * person reads first, one per line: the decisive one first (CRIU's first
 * `Error (...)`, what the rest follows from; a refused diff's line naming
 * both image ids when there is one), then the last few others.  Lines that
 * say nothing about the failure are left out: "Can't setup RLIMIT_NOFILE
 * for self" (a sandbox's hard limit, MACHINE.md). */
#define LOG_LINES 4
static bool noise(const char *line)
{
	return strstr(line, "Error") == NULL || strstr(line, "Can't setup RLIMIT_NOFILE for self") != NULL;
}

/* CRIU's hint names its own option; zanshin has no such option: a
 * checkpoint without --parent-path is the way to a full image. */
static char *rewrite_hint(const char *line)
{
	static const char hint[] = "(use --track-mem-fallback=full to dump it in full)";
	const char *p = strstr(line, hint);

	if (p == NULL)
		return xstrdup(line);
	return xasprintf("%.*s(checkpoint without --parent-path for a full image)%s", (int) (p - line), line,
			 p + sizeof(hint) - 1);
}

static char *append_line(char *out, const char *line)
{
	cleanup_free char *l = rewrite_hint(line);
	char *t = xasprintf("%s\n  %s", out, l);

	free(out);
	return t;
}

static char *log_errors(const char *dir, const char *log)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, log);
	cleanup_file FILE *f = fopen(path, "re");
	cleanup_free char *line = NULL, *first = NULL;
	char *last[LOG_LINES] = {NULL}, *out;
	size_t cap = 0, n = 0, i;

	if (f == NULL)
		return xstrdup("");
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (noise(line))
			continue;
		if (first == NULL) {
			first = xstrdup(line);
			continue;
		}
		free(last[n % LOG_LINES]);
		last[n % LOG_LINES] = xstrdup(line);
		if (strstr(line, "tracking baseline") && !strstr(first, "tracking baseline")) {
			/* the refused diff decides: it goes first */
			char *t = first;
			first = last[n % LOG_LINES];
			last[n % LOG_LINES] = t;
		}
		n++;
	}
	out = first ? append_line(xstrdup(""), first) : xstrdup("");
	for (i = n > LOG_LINES - 1 ? n - (LOG_LINES - 1) : 0; i < n; i++)
		out = append_line(out, last[i % LOG_LINES]);
	for (i = 0; i < LOG_LINES; i++)
		free(last[i]);
	return out;
}

int zs_criu_error(zs_error_t *err, int ret, const char *what, const char *work_dir, const char *log)
{
	cleanup_free char *errs = log_errors(work_dir, log);

	if (ret == -EBADE || ret == -EBADMSG)
		return zs_make_error(err, -EIO, "criu %s failed (log file: %s/%s)%s", what, work_dir, log, errs);
	return zs_make_error(err, ret < 0 ? -ret : EIO, "criu %s failed (log file: %s/%s)%s", what, work_dir, log,
			     errs);
}
