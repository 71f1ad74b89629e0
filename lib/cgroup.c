/* zanshin — cgroups: mode detection, paths, create/join, save/load.
 * Freezer, pids, kill and destroy are in cgroup_ops.c, resource files in
 * cgroup_v1.c and cgroup_v2.c, statistics in cgroup_stats.c. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "zanshin/utils.h"
#include "cgroup_internal.h"

#define CG_STATE_FORMAT "zanshin-cgroup"
#define CG_STATE_VERSION 1

/* ---- small file helpers ------------------------------------------------ */

int cg_write(const char *dir, const char *file, const char *value, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(value);
	ssize_t w;

	if (fd < 0)
		return zs_make_error(err, errno, "open `%s`", path);
	w = write(fd, value, len);
	if (w < 0)
		return zs_make_error(err, errno, "write `%s` to `%s`", value, path);
	if ((size_t) w != len)
		return zs_make_error(err, EIO, "short write of `%s` to `%s`", value, path);
	return 0;
}

int cg_writef(const char *dir, const char *file, zs_error_t *err, const char *fmt, ...)
{
	cleanup_free char *value = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&value, fmt, ap) < 0)
		abort();
	va_end(ap);
	return cg_write(dir, file, value, err);
}

int cg_read(const char *dir, const char *file, char **out, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	char *buf = NULL;
	size_t len = 0;
	int ret;

	ret = read_file(path, &buf, &len, err);
	if (ret < 0)
		return ret;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	*out = buf;
	return 0;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *out)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *s = NULL;
	char *end;

	if (cg_read(dir, file, &s, &e) < 0)
		return -zs_error_errno(e) ?: -EIO;
	if (strcmp(s, "max") == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	return 0;
}

bool cg_exists(const char *dir, const char *file)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	return access(path, F_OK) == 0;
}

/* ---- mode and mounts --------------------------------------------------- */

int zs_cgroup_get_mode(zs_error_t *err)
{
	struct statfs st;

	if (statfs(ZS_CGROUP_ROOT, &st) < 0)
		return zs_make_error(err, errno, "statfs `%s`", ZS_CGROUP_ROOT);
	if (st.f_type == CGROUP2_SUPER_MAGIC)
		return ZS_CGROUP_UNIFIED;
	if (statfs(ZS_CGROUP_ROOT "/unified", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
		return ZS_CGROUP_HYBRID;
	return ZS_CGROUP_LEGACY;
}

/* One line of /proc/self/cgroup: "N:controllers:/path". */
struct own_cg {
	char *controllers;
	char *path;
};

static void own_free(struct own_cg *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(o[i].controllers);
		free(o[i].path);
	}
	free(o);
}

static int read_own_cgroups(struct own_cg **out, size_t *n_out, zs_error_t *err)
{
	cleanup_file FILE *f = fopen("/proc/self/cgroup", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0, n = 0;
	struct own_cg *o = NULL;

	if (f == NULL)
		return zs_make_error(err, errno, "open `/proc/self/cgroup`");
	while (getline(&line, &cap, f) > 0) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		o = xrealloc(o, (n + 1) * sizeof(*o));
		o[n].controllers = xstrdup(c1 + 1);
		o[n].path = xstrdup(c2 + 1);
		n++;
	}
	*out = o;
	*n_out = n;
	return 0;
}

/* Is controller NAME in the comma-separated LIST? */
static bool list_has(const char *list, const char *name)
{
	size_t l = strlen(name);
	const char *p = list;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t) (comma - p) : strlen(p);
		if (len == l && strncmp(p, name, l) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

/* Our own path in the hierarchy of a mount with CONTROLLERS ("" = cgroup2),
 * from /proc/self/cgroup; a v1 hierarchy is found by its first controller. */
static const char *own_path_for(const struct own_cg *o, size_t n, const char *controllers)
{
	cleanup_free char *first = xstrdup(controllers);

	first[strcspn(first, ",")] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (*first == '\0' ? o[i].controllers[0] == '\0' : list_has(o[i].controllers, first))
			return o[i].path;
	}
	return NULL;
}

/* Is NAME a line of /proc/cgroups (given as KNOWN)? */
static bool is_known_subsys(const char *known, const char *name)
{
	size_t l = strlen(name);

	for (const char *p = known; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, l) == 0 && (p[l] == '\t' || p[l] == ' '))
			return true;
	return false;
}

/* Controllers of a v1 mount from its super options ("rw,cpu,cpuacct"). */
static char *v1_controllers(const char *known, const char *superopts)
{
	char *dup = xstrdup(superopts), *save = NULL, *tok;
	char *res = xstrdup("");

	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		/* named hierarchies: only systemd's, as runc (not e.g. CRIU's test ones) */
		if (str_has_prefix(tok, "name=") ? strcmp(tok, "name=systemd") != 0 : !is_known_subsys(known, tok))
			continue;
		char *n = xasprintf("%s%s%s", res, *res ? "," : "", tok);
		free(res);
		res = n;
	}
	free(dup);
	return res;
}

struct cg_mount {
	char *controllers; /* "" for cgroup2 */
	char *root;
	char *mountpoint;
};

static void mounts_free(struct cg_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].controllers);
		free(m[i].root);
		free(m[i].mountpoint);
	}
	free(m);
}

static bool mount_seen(struct cg_mount *m, size_t n, const char *controllers)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].controllers, controllers) == 0)
			return true;
	return false;
}

/* Parse one mountinfo line; returns true for a cgroup/cgroup2 mount. */
static bool parse_mountinfo_line(char *line, char **root, char **mnt, char **fstype, char **superopts)
{
	char *save = NULL, *tok, *fields[6] = {0};
	int i = 0;

	for (tok = strtok_r(line, " \n", &save); tok && i < 6; tok = strtok_r(NULL, " \n", &save))
		fields[i++] = tok;
	if (i < 6)
		return false;
	while (tok && strcmp(tok, "-") != 0)
		tok = strtok_r(NULL, " \n", &save);
	if (tok == NULL)
		return false;
	*fstype = strtok_r(NULL, " \n", &save);
	strtok_r(NULL, " \n", &save); /* source */
	*superopts = strtok_r(NULL, " \n", &save);
	*root = fields[3];
	*mnt = fields[4];
	return *fstype && *superopts && (strcmp(*fstype, "cgroup") == 0 || strcmp(*fstype, "cgroup2") == 0);
}

static int read_cg_mounts(struct cg_mount **out, size_t *n_out, zs_error_t *err)
{
	cleanup_file FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0, n = 0;
	struct cg_mount *m = NULL;
	char *root, *mnt, *fstype, *superopts;
	cleanup_free char *known = NULL;
	cleanup_error zs_error_t e = NULL;

	if (f == NULL)
		return zs_make_error(err, errno, "open `/proc/self/mountinfo`");
	if (read_file("/proc/cgroups", &known, NULL, &e) < 0)
		known = xstrdup("");
	while (getline(&line, &cap, f) > 0) {
		if (!parse_mountinfo_line(line, &root, &mnt, &fstype, &superopts))
			continue;
		char *ctrl = strcmp(fstype, "cgroup2") == 0 ? xstrdup("") : v1_controllers(known, superopts);
		/* only mounts below /sys/fs/cgroup; v1: the first mount of each hierarchy;
		 * cgroup2: all (filtered by mountpoint later) */
		if ((*ctrl == '\0' && strcmp(fstype, "cgroup") == 0) || (*ctrl && mount_seen(m, n, ctrl)) ||
		    (strcmp(mnt, ZS_CGROUP_ROOT) != 0 && !str_has_prefix(mnt, ZS_CGROUP_ROOT "/"))) {
			free(ctrl);
			continue;
		}
		m = xrealloc(m, (n + 1) * sizeof(*m));
		m[n].controllers = ctrl;
		m[n].root = xstrdup(root);
		m[n].mountpoint = xstrdup(mnt);
		n++;
	}
	*out = m;
	*n_out = n;
	return 0;
}

/* ---- paths ------------------------------------------------------------- */

/* Clean a cgroupsPath: collapse "//", drop "." and refuse "..". */
static int clean_inner(const char *in, char **out, zs_error_t *err)
{
	cleanup_free char *dup = xstrdup(in);
	char *save = NULL, *tok, *res = xstrdup(in[0] == '/' ? "/" : "");

	if (strchr(in, '\n'))
		return free(res), zs_make_error(err, EINVAL, "cgroupsPath `%s`: must not contain a newline", in);
	for (tok = strtok_r(dup, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			free(res);
			return zs_make_error(err, EINVAL, "cgroupsPath `%s`: must not contain `..`", in);
		}
		char *n = xasprintf("%s%s%s", res, (*res && res[strlen(res) - 1] != '/') ? "/" : "", tok);
		free(res);
		res = n;
	}
	*out = res;
	return 0;
}

static char *join_paths(const char *a, const char *b, const char *c)
{
	char *r = xasprintf("%s/%s/%s", a, b ? b : "", c ? c : "");
	char *w = r;

	for (char *p = r; *p; p++) /* collapse "//" */
		if (!(*p == '/' && w > r && w[-1] == '/'))
			*w++ = *p;
	*w = '\0';
	if (w - r > 1 && w[-1] == '/')
		w[-1] = '\0';
	return r;
}

/* Own cgroup path relative to the mount root ROOT. */
static const char *strip_root(const char *own, const char *root)
{
	size_t l = strlen(root);

	if (strcmp(root, "/") == 0)
		return own;
	if (strncmp(own, root, l) == 0 && (own[l] == '/' || own[l] == '\0'))
		return own + l;
	return own;
}

static char *dir_of(const char *p)
{
	char *d = xstrdup(p), *s = strrchr(d, '/');

	if (s && s != d)
		*s = '\0';
	else if (s)
		s[1] = '\0';
	return d;
}

static void cg_add(struct zs_cgroup *cg, const char *controllers, char *path)
{
	cg->paths = xrealloc(cg->paths, (cg->n_paths + 1) * sizeof(*cg->paths));
	cg->paths[cg->n_paths].controllers = xstrdup(controllers);
	cg->paths[cg->n_paths].path = path;
	cg->n_paths++;
}

static int resolve_paths(struct zs_cgroup *cg, const char *inner, zs_error_t *err)
{
	struct cg_mount *m = NULL;
	struct own_cg *o = NULL;
	size_t nm = 0, no = 0;
	bool abs = inner[0] == '/', v2_done = false;
	int ret;

	ret = read_cg_mounts(&m, &nm, err);
	if (ret < 0)
		return ret;
	ret = read_own_cgroups(&o, &no, err);
	if (ret < 0) {
		mounts_free(m, nm);
		return ret;
	}
	for (size_t i = 0; i < nm; i++) {
		bool v2 = m[i].controllers[0] == '\0';
		if (cg->mode == ZS_CGROUP_UNIFIED && (!v2 || strcmp(m[i].mountpoint, ZS_CGROUP_ROOT) != 0))
			continue;
		if (cg->mode != ZS_CGROUP_UNIFIED && v2 &&
		    (cg->mode != ZS_CGROUP_HYBRID || strcmp(m[i].mountpoint, ZS_CGROUP_ROOT "/unified") != 0))
			continue;
		if (v2 && v2_done)
			continue;
		v2_done = v2_done || v2;
		if (abs) {
			cg_add(cg, m[i].controllers, join_paths(m[i].mountpoint, NULL, inner));
			continue;
		}
		const char *own = own_path_for(o, no, m[i].controllers);
		cleanup_free char *base = NULL;
		if (own == NULL)
			own = "/";
		base = xstrdup(strip_root(own, m[i].root));
		if (cg->mode == ZS_CGROUP_UNIFIED) { /* runc: the parent of our own cgroup */
			char *d = dir_of(base);
			free(base);
			base = d;
		}
		cg_add(cg, m[i].controllers, join_paths(m[i].mountpoint, base, inner));
	}
	own_free(o, no);
	mounts_free(m, nm);
	if (cg->n_paths == 0)
		return zs_make_error(err, ENOENT, "no cgroup hierarchy found under `%s`", ZS_CGROUP_ROOT);
	return 0;
}

const char *zs_cgroup_path(const struct zs_cgroup *cg, const char *controller)
{
	if (cg == NULL)
		return NULL;
	for (size_t i = 0; i < cg->n_paths; i++) {
		if (*controller == '\0' ? cg->paths[i].controllers[0] == '\0'
					: list_has(cg->paths[i].controllers, controller))
			return cg->paths[i].path;
	}
	if (cg->mode == ZS_CGROUP_UNIFIED && cg->n_paths == 1)
		return cg->paths[0].path; /* every controller lives in the one v2 directory */
	return NULL;
}

size_t zs_cgroup_count(const struct zs_cgroup *cg)
{
	return cg ? cg->n_paths : 0;
}

int zs_cgroup_get(const struct zs_cgroup *cg, size_t i, const char **controllers, const char **dir, char **inner,
		  zs_error_t *err)
{
	const struct zs_cg_path *p;
	struct cg_mount *m = NULL;
	size_t nm = 0;
	int ret = -1;

	if (i >= cg->n_paths)
		return zs_make_error(err, EINVAL, "cgroup hierarchy index %zu out of range", i);
	p = &cg->paths[i];
	if (controllers)
		*controllers = p->controllers;
	if (dir)
		*dir = p->path;
	if (inner == NULL)
		return 0;
	if (read_cg_mounts(&m, &nm, err) < 0)
		return -1;
	for (size_t j = 0; j < nm && ret < 0; j++) {
		size_t l = strlen(m[j].mountpoint);
		if (strcmp(m[j].controllers, p->controllers) != 0 || strncmp(p->path, m[j].mountpoint, l) != 0 ||
		    (p->path[l] != '/' && p->path[l] != '\0'))
			continue;
		*inner = join_paths(strcmp(m[j].root, "/") == 0 ? "" : m[j].root, NULL, p->path + l);
		ret = 0;
	}
	mounts_free(m, nm);
	if (ret < 0)
		return zs_make_error(err, ENOENT, "no mounted cgroup hierarchy holds `%s`", p->path);
	return 0;
}

enum zs_cgroup_mode zs_cgroup_mode_of(const struct zs_cgroup *cg)
{
	return cg->mode;
}

bool zs_cgroup_was_populated(const struct zs_cgroup *cg)
{
	return cg->was_populated;
}

void zs_cgroup_free(struct zs_cgroup *cg)
{
	if (cg == NULL)
		return;
	for (size_t i = 0; i < cg->n_paths; i++) {
		free(cg->paths[i].controllers);
		free(cg->paths[i].path);
	}
	free(cg->paths);
	free(cg);
}

void cleanup_cgroupp(struct zs_cgroup **cg)
{
	zs_cgroup_free(*cg);
}

/* ---- creation ---------------------------------------------------------- */

/* Directories created by this call, deepest last, for rollback. */
struct created {
	char **dirs;
	size_t n;
};

static void created_rollback(struct created *c)
{
	for (size_t i = c->n; i > 0; i--)
		rmdir(c->dirs[i - 1]);
}

static void created_free(struct created *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->dirs[i]);
	free(c->dirs);
}

/* v1 cpuset: a new cgroup starts with empty cpus/mems; copy the parent's. */
static int cpuset_init(const char *dir, zs_error_t *err)
{
	cleanup_free char *parent = dir_of(dir);
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};

	for (size_t i = 0; i < 2; i++) {
		cleanup_free char *cur = NULL, *pv = NULL;
		if (cg_read(dir, files[i], &cur, err) < 0)
			return -1;
		if (*cur)
			continue;
		if (cg_read(parent, files[i], &pv, err) < 0 || cg_write(dir, files[i], pv, err) < 0)
			return -1;
	}
	return 0;
}

/* v1 cpuset: is DIR below the hierarchy root (its parent is a cpuset too)? */
static bool cpuset_below_root(const char *dir)
{
	cleanup_free char *parent = dir_of(dir);
	return cg_exists(parent, "cpuset.cpus");
}

/* mkdir -p DIR; records new directories.  For cpuset, every level below the
 * root gets the parent's cpus/mems if it has none, also levels that existed
 * already (a parent made by someone else with plain mkdir), as runc does. */
static int mkdir_cg(const char *dir, bool cpuset, struct created *c, zs_error_t *err)
{
	cleanup_free char *p = xstrdup(dir);

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char saved = *s;
		*s = '\0';
		if (mkdir(p, 0755) == 0) {
			c->dirs = xrealloc(c->dirs, (c->n + 1) * sizeof(char *));
			c->dirs[c->n++] = xstrdup(p);
		} else if (errno != EEXIST) {
			return zs_make_error(err, errno, "create cgroup `%s`", p);
		}
		if (cpuset && cpuset_below_root(p) && cpuset_init(p, err) < 0)
			return -1;
		*s = saved;
		if (saved == '\0')
			break;
	}
	return 0;
}

/* v2: enable every available controller in each ancestor of PATH, from the
 * root down to PATH's parent (best effort, as runc). */
static void v2_enable_in(const char *dir)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *ctrl = NULL;
	char *save = NULL;

	if (cg_read(dir, "cgroup.controllers", &ctrl, &e) < 0)
		return;
	for (char *t = strtok_r(ctrl, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		cleanup_error zs_error_t e2 = NULL;
		cg_writef(dir, "cgroup.subtree_control", &e2, "+%s", t);
	}
}

static void v2_enable_controllers(const char *path)
{
	cleanup_free char *p = xstrdup(path);
	char *s = p + strlen(ZS_CGROUP_ROOT);

	while (s && *s == '/') {
		*s = '\0';
		v2_enable_in(p);
		*s = '/';
		s = strchr(s + 1, '/');
	}
}

static bool procs_nonempty(const char *dir)
{
	cleanup_error zs_error_t e = NULL;
	cleanup_free char *s = NULL;

	return cg_read(dir, "cgroup.procs", &s, &e) == 0 && s[0] != '\0';
}

static int check_not_frozen(const struct zs_cgroup *cg, zs_error_t *err)
{
	int r = zs_cgroup_is_frozen(cg, err);

	if (r < 0)
		return r;
	if (r > 0)
		return zs_make_error(err, EBUSY, "container's cgroup unexpectedly frozen");
	return 0;
}

static int default_inner(const char *id, const char *cgroups_path, char **inner, zs_error_t *err)
{
	if (cgroups_path == NULL || *cgroups_path == '\0') {
		if (id == NULL || *id == '\0' || strchr(id, '/'))
			return zs_make_error(err, EINVAL, "invalid container id for a cgroup name");
		*inner = xstrdup(id);
		return 0;
	}
	if (cgroups_path[0] != '/' && strchr(cgroups_path, ':'))
		return zs_make_error(err, EINVAL,
				     "cgroupsPath `%s`: systemd cgroup driver (slice:prefix:name) not supported",
				     cgroups_path);
	return clean_inner(cgroups_path, inner, err);
}

/* Write PID to DIR/cgroup.procs; the message is runc's ("adding pid ...:
 * no such file or directory"), which runc's tests match. */
static int add_pid(const char *dir, pid_t pid, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("%s/cgroup.procs", dir);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	char buf[24];
	int len = snprintf(buf, sizeof(buf), "%d", (int) pid), e;
	cleanup_free char *why = NULL;

	if (fd >= 0 && write(fd, buf, (size_t) len) == len)
		return 0;
	e = errno;
	why = xstrdup(strerror(e));
	why[0] = (char) tolower((unsigned char) why[0]);
	return zs_make_error(err, e, "error adding pid %d to cgroups: %s %s: %s", (int) pid, fd < 0 ? "open" : "write",
			     path, why);
}

static int join_all(const struct zs_cgroup *cg, pid_t pid, zs_error_t *err)
{
	for (size_t i = 0; i < cg->n_paths; i++)
		if (add_pid(cg->paths[i].path, pid, err) < 0)
			return -1;
	return 0;
}

/* Move PID back to the parent of each path so that rollback can rmdir. */
static void unjoin(const struct zs_cgroup *cg, pid_t pid)
{
	for (size_t i = 0; i < cg->n_paths; i++) {
		cleanup_free char *parent = dir_of(cg->paths[i].path);
		cleanup_error zs_error_t e = NULL;
		cg_writef(parent, "cgroup.procs", &e, "%d", (int) pid);
	}
}

static int apply_resources(const struct zs_cgroup *cg, const struct zs_resources *r, bool update, zs_error_t *err)
{
	if (r == NULL)
		return 0;
	if (cg->mode == ZS_CGROUP_UNIFIED)
		return cg_v2_apply(cg->paths[0].path, r, update, err);
	if (r->n_unified > 0)
		return zs_make_error(
		    err, EINVAL, "invalid configuration: linux.resources.unified needs cgroup v2 (this host runs v1)");
	return cg_v1_apply(cg, r, update, err);
}

static int create_dirs(struct zs_cgroup *cg, struct created *c, zs_error_t *err)
{
	for (size_t i = 0; i < cg->n_paths; i++) {
		bool cpuset = cg->mode != ZS_CGROUP_UNIFIED && list_has(cg->paths[i].controllers, "cpuset");
		if (mkdir_cg(cg->paths[i].path, cpuset, c, err) < 0)
			return -1;
		if (cg->mode == ZS_CGROUP_UNIFIED)
			v2_enable_controllers(cg->paths[i].path);
		if (procs_nonempty(cg->paths[i].path))
			cg->was_populated = true;
	}
	return 0;
}

int zs_cgroup_create(const char *id, const char *cgroups_path, const struct zs_resources *res, pid_t pid,
		     struct zs_cgroup **out, zs_error_t *err)
{
	cleanup_cgroup struct zs_cgroup *cg = xzalloc(sizeof(*cg));
	cleanup_free char *inner = NULL;
	struct created c = {0};
	int ret;

	ret = zs_cgroup_get_mode(err);
	if (ret < 0)
		return ret;
	cg->mode = ret;
	ret = default_inner(id, cgroups_path, &inner, err);
	if (ret < 0)
		return ret;
	ret = resolve_paths(cg, inner, err);
	if (ret < 0)
		return ret;
	ret = create_dirs(cg, &c, err);
	if (ret == 0)
		ret = check_not_frozen(cg, err);
	if (ret == 0)
		ret = apply_resources(cg, res, false, err);
	if (ret == 0 && pid > 0) {
		ret = join_all(cg, pid, err);
		if (ret < 0)
			unjoin(cg, pid);
	}
	if (ret < 0) {
		created_rollback(&c);
		created_free(&c);
		return zs_error_wrap(err, "cgroup `%s`", inner);
	}
	created_free(&c);
	*out = steal_pointer(&cg);
	return 0;
}

/* v2: the first sub-cgroup of DIR (depth first) that holds processes. */
static char *v2_populated_child(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		char *sub = xasprintf("%s/%s", dir, de->d_name), *deeper;
		if (procs_nonempty(sub))
			return sub;
		deeper = v2_populated_child(sub);
		free(sub);
		if (deeper)
			return deeper;
	}
	return NULL;
}

int zs_cgroup_enter(const struct zs_cgroup *cg, pid_t pid, zs_error_t *err)
{
	cleanup_free char *sub = NULL;
	int ret = join_all(cg, pid, err);

	if (ret >= 0 || cg->mode != ZS_CGROUP_UNIFIED || zs_error_errno(*err) != EBUSY)
		return ret;
	/* The container enabled domain controllers below its cgroup, which now
	 * may not hold processes itself: join where its processes live, as runc
	 * falls back to the init's cgroup. */
	sub = v2_populated_child(cg->paths[0].path);
	if (sub == NULL)
		return ret;
	zs_error_release(err);
	return cg_writef(sub, "cgroup.procs", err, "%d", (int) pid);
}

/* BASE joined with ADD ("foo", "/", "a/b"), refusing anything that is not
 * BASE or below it. */
static int sub_path(const char *base, const char *add, char **out, zs_error_t *err)
{
	cleanup_free char *dup = xstrdup(add);
	char *save = NULL, *tok, *res = xstrdup("");

	for (tok = strtok_r(dup, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			char *slash = strrchr(res, '/');
			if (slash == NULL) {
				free(res);
				return zs_make_error(err, EINVAL, "%s is not a sub cgroup path", add);
			}
			*slash = '\0';
			continue;
		}
		char *n = xasprintf("%s/%s", res, tok);
		free(res);
		res = n;
	}
	*out = xasprintf("%s%s", base, res);
	free(res);
	return 0;
}

/* Apply one --cgroup argument to DIRS (one per hierarchy). */
static int apply_sub_arg(const struct zs_cgroup *cg, const char *arg, size_t nargs, char **dirs, zs_error_t *err)
{
	cleanup_free char *dup = xstrdup(arg), *ctrls = NULL;
	char *colon = strchr(dup, ':'), *save = NULL;
	const char *add = dup;

	if (colon && strchr(colon + 1, ':'))
		return zs_make_error(err, EINVAL, "invalid --cgroup argument: %s", arg);
	if (colon == NULL) {
		if (nargs != 1)
			return zs_make_error(err, EINVAL,
					     "invalid --cgroup argument: %s (missing <controller>: prefix)", arg);
		for (size_t i = 0; i < cg->n_paths; i++) {
			free(dirs[i]);
			if (sub_path(cg->paths[i].path, add, &dirs[i], err) < 0)
				return (dirs[i] = NULL), -1;
		}
		return 0;
	}
	*colon = '\0';
	add = colon + 1;
	ctrls = xstrdup(dup);
	for (char *c = strtok_r(ctrls, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		size_t i;
		for (i = 0; i < cg->n_paths; i++)
			if (*cg->paths[i].controllers && list_has(cg->paths[i].controllers, c))
				break;
		if (i == cg->n_paths)
			return zs_make_error(err, EINVAL, "unknown controller %s in SubCgroupPaths", c);
		free(dirs[i]);
		if (sub_path(cg->paths[i].path, add, &dirs[i], err) < 0)
			return (dirs[i] = NULL), -1;
	}
	return 0;
}

int zs_cgroup_enter_sub(const struct zs_cgroup *cg, pid_t pid, char *const *args, size_t nargs, zs_error_t *err)
{
	char **dirs;
	int ret = 0;

	if (nargs == 0)
		return zs_cgroup_enter(cg, pid, err);
	dirs = xzalloc(cg->n_paths * sizeof(char *) + 1);
	for (size_t i = 0; i < nargs && ret == 0; i++)
		ret = apply_sub_arg(cg, args[i], nargs, dirs, err);
	for (size_t i = 0; i < cg->n_paths && ret == 0; i++)
		ret = add_pid(dirs[i] ? dirs[i] : cg->paths[i].path, pid, err);
	for (size_t i = 0; i < cg->n_paths; i++)
		free(dirs[i]);
	free(dirs);
	return ret;
}

int zs_cgroup_update(const struct zs_cgroup *cg, const struct zs_resources *res, zs_error_t *err)
{
	int ret = apply_resources(cg, res, true, err);

	return ret < 0 ? zs_error_wrap(err, "update cgroup") : 0;
}

/* ---- save / load ------------------------------------------------------- */

static const char *mode_name(enum zs_cgroup_mode m)
{
	return m == ZS_CGROUP_UNIFIED ? "v2" : m == ZS_CGROUP_HYBRID ? "hybrid" : "v1";
}

void zs_cgroup_save(const struct zs_cgroup *cg, zs_jgen *g)
{
	zs_jgen_map_open(g);
	zs_jgen_kv_string(g, "format", CG_STATE_FORMAT);
	zs_jgen_kv_int(g, "version", CG_STATE_VERSION);
	zs_jgen_kv_string(g, "mode", mode_name(cg->mode));
	zs_jgen_key(g, "paths");
	zs_jgen_map_open(g);
	for (size_t i = 0; i < cg->n_paths; i++)
		zs_jgen_kv_string(g, cg->paths[i].controllers, cg->paths[i].path);
	zs_jgen_map_close(g);
	zs_jgen_map_close(g);
}

int zs_cgroup_load(const zs_json *v, struct zs_cgroup **out, zs_error_t *err)
{
	cleanup_cgroup struct zs_cgroup *cg = xzalloc(sizeof(*cg));
	const char *fmt = zs_json_string_value(zs_json_get(v, "format"));
	const char *mode = zs_json_string_value(zs_json_get(v, "mode"));
	zs_json *paths = zs_json_get(v, "paths");
	int64_t version = 0;

	if (fmt == NULL || strcmp(fmt, CG_STATE_FORMAT) != 0)
		return zs_make_error(err, EINVAL, "cgroup state: format is not `%s`", CG_STATE_FORMAT);
	if (zs_json_to_int64(zs_json_get(v, "version"), "state", "cgroup.version", ZS_JSON_REQUIRED, &version, err) < 0)
		return -1;
	if (version != CG_STATE_VERSION)
		return zs_make_error(err, EINVAL, "cgroup state: unsupported version %lld", (long long) version);
	if (mode == NULL || !zs_json_is_object(paths))
		return zs_make_error(err, EINVAL, "cgroup state: `mode` and `paths` are required");
	cg->mode = strcmp(mode, "v2") == 0	 ? ZS_CGROUP_UNIFIED
		   : strcmp(mode, "hybrid") == 0 ? ZS_CGROUP_HYBRID
						 : ZS_CGROUP_LEGACY;
	for (size_t i = 0; i < zs_json_object_len(paths); i++) {
		const char *p = zs_json_string_value(zs_json_object_value(paths, i));
		/* a state file must not make delete rmdir or kill outside the cgroup tree */
		if (p == NULL || !str_has_prefix(p, ZS_CGROUP_ROOT "/") || strstr(p, "/../") ||
		    (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0))
			return zs_make_error(err, EINVAL, "cgroup state: paths.%s: must be a path under %s",
					     zs_json_object_key(paths, i), ZS_CGROUP_ROOT);
		cg_add(cg, zs_json_object_key(paths, i), xstrdup(p));
	}
	*out = steal_pointer(&cg);
	return 0;
}
