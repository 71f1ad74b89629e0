/* zanshin — config.json model. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/capability.h>

#include "zanshin/config.h"
#include "zanshin/log.h"
#include "zanshin/utils.h"

#define F "config.json"

static const struct {
	const char *name;
	int type;
	const char *proc;
} ns_names[] = {
    {"pid", CLONE_NEWPID, "pid"},	   {"network", CLONE_NEWNET, "net"}, {"mount", CLONE_NEWNS, "mnt"},
    {"ipc", CLONE_NEWIPC, "ipc"},	   {"uts", CLONE_NEWUTS, "uts"},     {"user", CLONE_NEWUSER, "user"},
    {"cgroup", CLONE_NEWCGROUP, "cgroup"}, {"time", 0x00000080, "time"},     {NULL, 0, NULL},
};

int zs_namespace_type(const char *name)
{
	int i;

	for (i = 0; ns_names[i].name; i++)
		if (strcmp(ns_names[i].name, name) == 0)
			return ns_names[i].type;
	return 0;
}

const char *zs_namespace_proc_name(int type)
{
	int i;

	for (i = 0; ns_names[i].name; i++)
		if (ns_names[i].type == type)
			return ns_names[i].proc;
	return NULL;
}

int zs_validate_id(const char *id, zs_error_t *err)
{
	const char *p;

	if (id == NULL || *id == '\0')
		return zs_make_error(err, -EINVAL, "container id cannot be empty");
	if (strlen(id) > 1024)
		goto bad;
	if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		goto bad;
	for (p = id; *p; p++) {
		char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		    c == '+' || c == '-')
			continue;
		if (c == '.' && p != id)
			continue;
		goto bad;
	}
	return 0;
bad:
	return zs_make_error(err, -EINVAL, "invalid container id format: %s", id);
}

int zs_cap_from_name(const char *name)
{
	cap_value_t v;
	cleanup_free char *lower = NULL;
	char *p;

	if (strncasecmp(name, "CAP_", 4) != 0)
		return -1;
	lower = xstrdup(name);
	for (p = lower; *p; p++)
		*p = (*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p;
	if (cap_from_name(lower, &v) < 0)
		return -1;
	if (v < 0 || v > 63)
		return -1;
	return v;
}

int zs_signal_from_string(const char *s)
{
	char *end;
	long n;
	int i;

	if (s == NULL || *s == '\0')
		return -1;
	n = strtol(s, &end, 10);
	if (*end == '\0')
		return (n >= 0 && n < NSIG) ? (int) n : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 1; i < NSIG; i++) {
		const char *abbrev = sigabbrev_np(i);
		if (abbrev && strcasecmp(abbrev, s) == 0)
			return i;
	}
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		int base = (s[3] == 'I' || s[3] == 'i') ? SIGRTMIN : SIGRTMAX;
		int off = s[5] ? atoi(s + 5) : 0;
		int sig = base + off;
		return (sig >= SIGRTMIN && sig <= SIGRTMAX) ? sig : -1;
	}
	return -1;
}

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},
    {"defaults", false, 0},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME},
    {"loud", true, MS_SILENT},
    {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"noiversion", true, MS_I_VERSION},
    {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
    {NULL, false, 0},
};

static const struct {
	const char *name;
	unsigned long flag;
} prop_flags[] = {
    {"private", MS_PRIVATE},
    {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},
    {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE},
    {"runbindable", MS_UNBINDABLE | MS_REC},
    {NULL, 0},
};

static unsigned long propagation_from_name(const char *s)
{
	int i;

	for (i = 0; prop_flags[i].name; i++)
		if (strcmp(prop_flags[i].name, s) == 0)
			return prop_flags[i].flag;
	return 0;
}

/* Recursive mount attributes (mount_setattr(2) with AT_RECURSIVE). */
#define ZS_ATTR_RDONLY 0x1ULL
#define ZS_ATTR_NOSUID 0x2ULL
#define ZS_ATTR_NODEV 0x4ULL
#define ZS_ATTR_NOEXEC 0x8ULL
#define ZS_ATTR_NOATIME 0x10ULL
#define ZS_ATTR_STRICTATIME 0x20ULL
#define ZS_ATTR_NODIRATIME 0x80ULL
#define ZS_ATTR_NOSYMFOLLOW 0x200000ULL
#define ZS_ATTR__ATIME 0x70ULL

static bool recursive_attr(struct zs_mount *m, const char *o)
{
	static const struct {
		const char *name;
		bool clear;
		unsigned long long attr;
	} t[] = {
	    {"rro", false, ZS_ATTR_RDONLY},
	    {"rrw", true, ZS_ATTR_RDONLY},
	    {"rnosuid", false, ZS_ATTR_NOSUID},
	    {"rsuid", true, ZS_ATTR_NOSUID},
	    {"rnodev", false, ZS_ATTR_NODEV},
	    {"rdev", true, ZS_ATTR_NODEV},
	    {"rnoexec", false, ZS_ATTR_NOEXEC},
	    {"rexec", true, ZS_ATTR_NOEXEC},
	    {"rnodiratime", false, ZS_ATTR_NODIRATIME},
	    {"rdiratime", true, ZS_ATTR_NODIRATIME},
	    {"rnosymfollow", false, ZS_ATTR_NOSYMFOLLOW},
	    {"rsymfollow", true, ZS_ATTR_NOSYMFOLLOW},
	    {NULL, false, 0},
	};
	int i;

	for (i = 0; t[i].name; i++) {
		if (strcmp(t[i].name, o) != 0)
			continue;
		if (t[i].clear) {
			m->attr_clr |= t[i].attr;
			m->attr_set &= ~t[i].attr;
		} else {
			m->attr_set |= t[i].attr;
			m->attr_clr &= ~t[i].attr;
		}
		return true;
	}
	if (strcmp(o, "rnoatime") == 0 || strcmp(o, "rrelatime") == 0 || strcmp(o, "rstrictatime") == 0 ||
	    strcmp(o, "ratime") == 0) {
		m->attr_clr |= ZS_ATTR__ATIME;
		m->attr_set &= ~ZS_ATTR__ATIME;
		if (strcmp(o, "rnoatime") == 0)
			m->attr_set |= ZS_ATTR_NOATIME;
		else if (strcmp(o, "rstrictatime") == 0)
			m->attr_set |= ZS_ATTR_STRICTATIME;
		return true;
	}
	return false;
}

void zs_mount_parse_options(struct zs_mount *m, char **options)
{
	size_t dlen = 0;
	char **o;
	int i;

	for (o = options; o && *o; o++) {
		unsigned long p;
		bool known = false;
		for (i = 0; mount_flags[i].name; i++) {
			if (strcmp(mount_flags[i].name, *o) != 0)
				continue;
			known = true;
			if (mount_flags[i].clear) {
				m->flags &= ~mount_flags[i].flag;
				m->clear_flags |= mount_flags[i].flag;
			} else {
				m->flags |= mount_flags[i].flag;
			}
		}
		if (known)
			continue;
		p = propagation_from_name(*o);
		if (p) {
			m->propagation = p;
			continue;
		}
		if (recursive_attr(m, *o))
			continue;
		/* runc-specific options we do not implement are not data. */
		if (strcmp(*o, "tmpcopyup") == 0 || str_has_prefix(*o, "idmap"))
			continue;
		m->data = xrealloc(m->data, dlen + strlen(*o) + 2);
		if (dlen)
			m->data[dlen++] = ',';
		strcpy(m->data + dlen, *o);
		dlen += strlen(*o);
	}
	m->bind = (m->flags & MS_BIND) != 0;
}

static int parse_mounts(struct zs_config *c, const zs_json *arr, zs_error_t *err)
{
	size_t i, n = zs_json_array_len(arr);
	int ret;

	ret = zs_json_check_array(arr, F, "mounts", 0, err);
	if (ret < 0)
		return ret;
	c->mounts = xzalloc(sizeof(*c->mounts) * (n + 1));
	c->n_mounts = n;
	for (i = 0; i < n; i++) {
		const zs_json *m = zs_json_array_at(arr, i);
		struct zs_mount *mm = &c->mounts[i];
		char **opts = NULL;
		char field[64];

		snprintf(field, sizeof(field), "mounts[%zu]", i);
		ret = zs_json_check_object(m, F, field, ZS_JSON_REQUIRED, err);
		if (ret < 0)
			return ret;
		snprintf(field, sizeof(field), "mounts[%zu].destination", i);
		ret = zs_json_to_string(zs_json_get(m, "destination"), F, field, ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY,
					&mm->destination, err);
		if (ret < 0)
			return ret;
		if (mm->destination[0] != '/')
			return zs_make_error(err, -EINVAL, "%s: %s: must be an absolute path", F, field);
		snprintf(field, sizeof(field), "mounts[%zu].source", i);
		ret = zs_json_to_string(zs_json_get(m, "source"), F, field, 0, &mm->source, err);
		if (ret < 0)
			return ret;
		snprintf(field, sizeof(field), "mounts[%zu].type", i);
		ret = zs_json_to_string(zs_json_get(m, "type"), F, field, 0, &mm->type, err);
		if (ret < 0)
			return ret;
		snprintf(field, sizeof(field), "mounts[%zu].options", i);
		ret = zs_json_to_string_array(zs_json_get(m, "options"), F, field, 0, &opts, NULL, err);
		if (ret < 0)
			return ret;
		zs_mount_parse_options(mm, opts);
		zs_free_string_array(opts);
		if (mm->type && strcmp(mm->type, "bind") == 0)
			mm->bind = true;
		if (mm->bind)
			mm->flags |= MS_BIND;
		if (mm->type == NULL && !mm->bind)
			mm->type = xstrdup("none");
	}
	return 0;
}

static int parse_caps(struct zs_process *p, const zs_json *caps, const char *file, const char *field, zs_error_t *err)
{
	static const char *sets[ZS_CAP_SETS] = {"effective", "permitted", "inheritable", "bounding", "ambient"};
	int s, ret;

	ret = zs_json_check_object(caps, file, field, 0, err);
	if (ret < 0 || caps == NULL)
		return ret;
	p->caps_set = true;
	for (s = 0; s < ZS_CAP_SETS; s++) {
		char **names = NULL, **n;
		cleanup_free char *f = xasprintf("%s.%s", field, sets[s]);
		ret = zs_json_to_string_array(zs_json_get(caps, sets[s]), file, f, 0, &names, NULL, err);
		if (ret < 0)
			return ret;
		for (n = names; n && *n; n++) {
			int cap = zs_cap_from_name(*n);
			if (cap < 0) {
				zs_warn("ignoring unknown or unavailable capability \"%s\"", *n);
				continue;
			}
			p->caps[s] |= 1ULL << cap;
		}
		zs_free_string_array(names);
	}
	return 0;
}

static const struct {
	const char *name;
	int res;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
    {NULL, 0},
};

static int parse_rlimits(struct zs_process *p, const zs_json *arr, const char *file, const char *field, zs_error_t *err)
{
	size_t i, n = zs_json_array_len(arr);
	int ret, k;

	ret = zs_json_check_array(arr, file, field, 0, err);
	if (ret < 0)
		return ret;
	p->rlimits = xzalloc(sizeof(*p->rlimits) * (n + 1));
	for (i = 0; i < n; i++) {
		const zs_json *r = zs_json_array_at(arr, i);
		const char *type = zs_json_string_value(zs_json_get(r, "type"));
		cleanup_free char *f = xasprintf("%s[%zu]", field, i);
		struct zs_rlimit *rl = &p->rlimits[p->n_rlimits];

		if (type == NULL)
			return zs_make_error(err, -EINVAL, "%s: %s.type: must be a string", file, f);
		for (k = 0; rlimit_names[k].name; k++)
			if (strcmp(rlimit_names[k].name, type) == 0)
				break;
		if (rlimit_names[k].name == NULL)
			return zs_make_error(err, -EINVAL, "%s: %s.type: unknown rlimit \"%s\"", file, f, type);
		rl->resource = rlimit_names[k].res;
		ret = zs_json_to_uint64(zs_json_get(r, "soft"), file, f, ZS_JSON_REQUIRED, &rl->soft, err);
		if (ret < 0)
			return ret;
		ret = zs_json_to_uint64(zs_json_get(r, "hard"), file, f, ZS_JSON_REQUIRED, &rl->hard, err);
		if (ret < 0)
			return ret;
		p->n_rlimits++;
	}
	return 0;
}

static int parse_user(struct zs_process *p, const zs_json *user, const char *file, const char *field, zs_error_t *err)
{
	cleanup_free char *f = NULL;
	int64_t v = 0;
	size_t i, n;
	const zs_json *gids;
	int ret;

	ret = zs_json_check_object(user, file, field, 0, err);
	if (ret < 0 || user == NULL)
		return ret;
	f = xasprintf("%s.uid", field);
	ret = zs_json_to_int64(zs_json_get(user, "uid"), file, f, 0, &v, err);
	if (ret < 0)
		return ret;
	p->uid = v;
	v = 0;
	free(f);
	f = xasprintf("%s.gid", field);
	ret = zs_json_to_int64(zs_json_get(user, "gid"), file, f, 0, &v, err);
	if (ret < 0)
		return ret;
	p->gid = v;
	if (zs_json_get(user, "umask")) {
		free(f);
		f = xasprintf("%s.umask", field);
		v = 0;
		ret = zs_json_to_int64(zs_json_get(user, "umask"), file, f, 0, &v, err);
		if (ret < 0)
			return ret;
		p->umask_set = true;
		p->umask = v;
	}
	gids = zs_json_get(user, "additionalGids");
	free(f);
	f = xasprintf("%s.additionalGids", field);
	ret = zs_json_check_array(gids, file, f, 0, err);
	if (ret < 0)
		return ret;
	n = zs_json_array_len(gids);
	p->additional_gids = xzalloc(sizeof(gid_t) * (n + 1));
	for (i = 0; i < n; i++) {
		ret = zs_json_to_int64(zs_json_array_at(gids, i), file, f, ZS_JSON_REQUIRED, &v, err);
		if (ret < 0)
			return ret;
		p->additional_gids[i] = v;
	}
	p->n_additional_gids = n;
	return 0;
}

static int parse_process_fields(struct zs_process *p, const zs_json *v, const char *file, const char *field,
				zs_error_t *err)
{
	cleanup_free char *f = NULL;
	const zs_json *cs;
	int64_t n;
	int ret;

#define FIELD(name) (free(f), f = xasprintf("%s%s%s", field, *field ? "." : "", name))
	ret = zs_json_to_bool(zs_json_get(v, "terminal"), file, FIELD("terminal"), 0, &p->terminal, err);
	if (ret < 0)
		return ret;
	cs = zs_json_get(v, "consoleSize");
	if (cs) {
		uint64_t h = 0, w = 0;
		ret = zs_json_to_uint64(zs_json_get(cs, "height"), file, FIELD("consoleSize.height"), 0, &h, err);
		if (ret < 0)
			return ret;
		ret = zs_json_to_uint64(zs_json_get(cs, "width"), file, FIELD("consoleSize.width"), 0, &w, err);
		if (ret < 0)
			return ret;
		p->console_height = h;
		p->console_width = w;
	}
	ret = parse_user(p, zs_json_get(v, "user"), file, FIELD("user"), err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_string_array(zs_json_get(v, "args"), file, FIELD("args"), ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY,
				      &p->args, NULL, err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_string_array(zs_json_get(v, "env"), file, FIELD("env"), 0, &p->env, NULL, err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_string(zs_json_get(v, "cwd"), file, FIELD("cwd"), ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY, &p->cwd,
				err);
	if (ret < 0)
		return ret;
	if (p->cwd[0] != '/')
		return zs_make_error(err, -EINVAL, "%s: %s: must be an absolute path", file, f);
	ret = parse_caps(p, zs_json_get(v, "capabilities"), file, FIELD("capabilities"), err);
	if (ret < 0)
		return ret;
	ret = parse_rlimits(p, zs_json_get(v, "rlimits"), file, FIELD("rlimits"), err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_bool(zs_json_get(v, "noNewPrivileges"), file, FIELD("noNewPrivileges"), 0,
			      &p->no_new_privileges, err);
	if (ret < 0)
		return ret;
	if (zs_json_get(v, "oomScoreAdj")) {
		n = 0;
		ret = zs_json_to_int64(zs_json_get(v, "oomScoreAdj"), file, FIELD("oomScoreAdj"), 0, &n, err);
		if (ret < 0)
			return ret;
		if (n < -1000 || n > 1000)
			return zs_make_error(err, -EINVAL, "%s: %s: must be between -1000 and 1000", file, f);
		p->oom_score_adj_set = true;
		p->oom_score_adj = n;
	}
	ret = zs_json_to_string(zs_json_get(v, "apparmorProfile"), file, FIELD("apparmorProfile"), 0,
				&p->apparmor_profile, err);
	if (ret < 0)
		return ret;
	return zs_json_to_string(zs_json_get(v, "selinuxLabel"), file, FIELD("selinuxLabel"), 0, &p->selinux_label,
				 err);
#undef FIELD
}

int zs_process_parse(const zs_json *v, const char *file, const char *field, struct zs_process **out, zs_error_t *err)
{
	struct zs_process *p;
	int ret;

	ret = zs_json_check_object(v, file, *field ? field : "process", ZS_JSON_REQUIRED, err);
	if (ret < 0)
		return ret;
	p = xzalloc(sizeof(*p));
	ret = parse_process_fields(p, v, file, field, err);
	if (ret < 0) {
		zs_process_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void zs_process_free(struct zs_process *p)
{
	if (p == NULL)
		return;
	free(p->additional_gids);
	zs_free_string_array(p->args);
	zs_free_string_array(p->env);
	free(p->cwd);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	free(p);
}

static int parse_hook_list(struct zs_config *c, int kind, const zs_json *arr, const char *field, zs_error_t *err)
{
	size_t i, n = zs_json_array_len(arr);
	int ret;

	ret = zs_json_check_array(arr, F, field, 0, err);
	if (ret < 0)
		return ret;
	c->hooks[kind] = xzalloc(sizeof(struct zs_hook) * (n + 1));
	c->n_hooks[kind] = n;
	for (i = 0; i < n; i++) {
		const zs_json *h = zs_json_array_at(arr, i);
		struct zs_hook *hk = &c->hooks[kind][i];
		cleanup_free char *f = xasprintf("%s[%zu]", field, i);
		cleanup_free char *fp = xasprintf("%s.path", f);
		cleanup_free char *fa = xasprintf("%s.args", f);
		cleanup_free char *fe = xasprintf("%s.env", f);
		cleanup_free char *ft = xasprintf("%s.timeout", f);
		int64_t t = 0;

		ret = zs_json_check_object(h, F, f, ZS_JSON_REQUIRED, err);
		if (ret < 0)
			return ret;
		ret = zs_json_to_string(zs_json_get(h, "path"), F, fp, ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY, &hk->path,
					err);
		if (ret < 0)
			return ret;
		ret = zs_json_to_string_array(zs_json_get(h, "args"), F, fa, 0, &hk->args, NULL, err);
		if (ret < 0)
			return ret;
		ret = zs_json_to_string_array(zs_json_get(h, "env"), F, fe, 0, &hk->env, NULL, err);
		if (ret < 0)
			return ret;
		ret = zs_json_to_int64(zs_json_get(h, "timeout"), F, ft, 0, &t, err);
		if (ret < 0)
			return ret;
		if (zs_json_get(h, "timeout") && t <= 0)
			return zs_make_error(err, -EINVAL, "%s: %s: must be positive", F, ft);
		hk->timeout = t;
	}
	return 0;
}

static int parse_hooks(struct zs_config *c, const zs_json *hooks, zs_error_t *err)
{
	static const char *names[ZS_HOOK_KINDS] = {"prestart",	     "createRuntime", "createContainer",
						   "startContainer", "poststart",     "poststop"};
	int k, ret;

	ret = zs_json_check_object(hooks, F, "hooks", 0, err);
	if (ret < 0)
		return ret;
	for (k = 0; k < ZS_HOOK_KINDS; k++) {
		cleanup_free char *f = xasprintf("hooks.%s", names[k]);
		ret = parse_hook_list(c, k, zs_json_get(hooks, names[k]), f, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_idmaps(const zs_json *arr, const char *field, struct zs_id_map **out, size_t *n_out, zs_error_t *err)
{
	size_t i, n = zs_json_array_len(arr);
	int ret;

	ret = zs_json_check_array(arr, F, field, 0, err);
	if (ret < 0)
		return ret;
	*out = xzalloc(sizeof(**out) * (n + 1));
	*n_out = n;
	for (i = 0; i < n; i++) {
		const zs_json *m = zs_json_array_at(arr, i);
		cleanup_free char *f = xasprintf("%s[%zu]", field, i);
		uint64_t cid = 0, hid = 0, size = 0;
		ret = zs_json_to_uint64(zs_json_get(m, "containerID"), F, f, ZS_JSON_REQUIRED, &cid, err);
		if (ret == 0)
			ret = zs_json_to_uint64(zs_json_get(m, "hostID"), F, f, ZS_JSON_REQUIRED, &hid, err);
		if (ret == 0)
			ret = zs_json_to_uint64(zs_json_get(m, "size"), F, f, ZS_JSON_REQUIRED, &size, err);
		if (ret < 0)
			return ret;
		(*out)[i] = (struct zs_id_map){cid, hid, size};
	}
	return 0;
}

static int parse_namespaces(struct zs_config *c, const zs_json *arr, zs_error_t *err)
{
	size_t i, j, n = zs_json_array_len(arr);
	int ret;

	ret = zs_json_check_array(arr, F, "linux.namespaces", 0, err);
	if (ret < 0)
		return ret;
	c->namespaces = xzalloc(sizeof(*c->namespaces) * (n + 1));
	for (i = 0; i < n; i++) {
		const zs_json *ns = zs_json_array_at(arr, i);
		cleanup_free char *f = xasprintf("linux.namespaces[%zu]", i);
		cleanup_free char *type = NULL;
		struct zs_namespace *z = &c->namespaces[c->n_namespaces];

		ret = zs_json_to_string(zs_json_get(ns, "type"), F, f, ZS_JSON_REQUIRED, &type, err);
		if (ret < 0)
			return ret;
		z->type = zs_namespace_type(type);
		if (z->type == 0)
			return zs_make_error(err, -EINVAL, "%s: %s.type: unknown namespace \"%s\"", F, f, type);
		for (j = 0; j < c->n_namespaces; j++)
			if (c->namespaces[j].type == z->type)
				return zs_make_error(err, -EINVAL, "%s: %s: duplicate namespace \"%s\"", F, f, type);
		ret = zs_json_to_string(zs_json_get(ns, "path"), F, f, 0, &z->path, err);
		if (ret < 0)
			return ret;
		c->n_namespaces++;
	}
	return 0;
}

static int parse_devices(struct zs_config *c, const zs_json *arr, zs_error_t *err)
{
	size_t i, n = zs_json_array_len(arr);
	int ret;

	ret = zs_json_check_array(arr, F, "linux.devices", 0, err);
	if (ret < 0)
		return ret;
	c->devices = xzalloc(sizeof(*c->devices) * (n + 1));
	c->n_devices = n;
	for (i = 0; i < n; i++) {
		const zs_json *d = zs_json_array_at(arr, i);
		struct zs_device *dv = &c->devices[i];
		cleanup_free char *f = xasprintf("linux.devices[%zu]", i);
		cleanup_free char *type = NULL;
		uint64_t u = 0;

		ret = zs_json_to_string(zs_json_get(d, "path"), F, f, ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY, &dv->path,
					err);
		if (ret == 0)
			ret = zs_json_to_string(zs_json_get(d, "type"), F, f, ZS_JSON_REQUIRED, &type, err);
		if (ret < 0)
			return ret;
		if (strlen(type) != 1 || strchr("cbup", type[0]) == NULL)
			return zs_make_error(err, -EINVAL, "%s: %s.type: must be one of c, b, u, p", F, f);
		dv->type = type[0] == 'u' ? 'c' : type[0];
		ret = zs_json_to_int64(zs_json_get(d, "major"), F, f, dv->type != 'p' ? ZS_JSON_REQUIRED : 0,
				       &dv->major, err);
		if (ret == 0)
			ret = zs_json_to_int64(zs_json_get(d, "minor"), F, f, dv->type != 'p' ? ZS_JSON_REQUIRED : 0,
					       &dv->minor, err);
		if (ret < 0)
			return ret;
		if (zs_json_get(d, "fileMode")) {
			ret = zs_json_to_uint64(zs_json_get(d, "fileMode"), F, f, 0, &u, err);
			dv->mode_set = true;
			dv->mode = u;
		}
		if (ret == 0 && zs_json_get(d, "uid")) {
			ret = zs_json_to_uint64(zs_json_get(d, "uid"), F, f, 0, &u, err);
			dv->uid_set = true;
			dv->uid = u;
		}
		if (ret == 0 && zs_json_get(d, "gid")) {
			ret = zs_json_to_uint64(zs_json_get(d, "gid"), F, f, 0, &u, err);
			dv->gid_set = true;
			dv->gid = u;
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_linux_misc(struct zs_config *c, const zs_json *lx, zs_error_t *err)
{
	cleanup_free char *prop = NULL;
	const zs_json *sysctl, *pers;
	size_t i;
	int ret;

	ret = zs_json_to_string(zs_json_get(lx, "cgroupsPath"), F, "linux.cgroupsPath", 0, &c->cgroups_path, err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_string(zs_json_get(lx, "rootfsPropagation"), F, "linux.rootfsPropagation", 0, &prop, err);
	if (ret < 0)
		return ret;
	if (prop && *prop) {
		c->rootfs_propagation = propagation_from_name(prop);
		if (c->rootfs_propagation == 0)
			return zs_make_error(err, -EINVAL, "%s: linux.rootfsPropagation: unknown propagation \"%s\"", F,
					     prop);
	}
	ret = zs_json_to_string_array(zs_json_get(lx, "maskedPaths"), F, "linux.maskedPaths", 0, &c->masked_paths, NULL,
				      err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_string_array(zs_json_get(lx, "readonlyPaths"), F, "linux.readonlyPaths", 0, &c->readonly_paths,
				      NULL, err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_string(zs_json_get(lx, "mountLabel"), F, "linux.mountLabel", 0, &c->mount_label, err);
	if (ret < 0)
		return ret;
	sysctl = zs_json_get(lx, "sysctl");
	ret = zs_json_check_object(sysctl, F, "linux.sysctl", 0, err);
	if (ret < 0)
		return ret;
	c->n_sysctl = zs_json_object_len(sysctl);
	c->sysctl = xzalloc(sizeof(*c->sysctl) * (c->n_sysctl + 1));
	for (i = 0; i < c->n_sysctl; i++) {
		const char *k = zs_json_object_key(sysctl, i);
		cleanup_free char *f = xasprintf("linux.sysctl.%s", k);
		c->sysctl[i].key = xstrdup(k);
		ret = zs_json_to_string(zs_json_object_value(sysctl, i), F, f, ZS_JSON_REQUIRED, &c->sysctl[i].value,
					err);
		if (ret < 0)
			return ret;
	}
	pers = zs_json_get(lx, "personality");
	if (pers) {
		const char *dom = zs_json_string_value(zs_json_get(pers, "domain"));
		if (dom == NULL || (strcmp(dom, "LINUX") != 0 && strcmp(dom, "LINUX32") != 0))
			return zs_make_error(err, -EINVAL, "%s: linux.personality.domain: must be LINUX or LINUX32", F);
		c->personality_set = true;
		c->personality = strcmp(dom, "LINUX32") == 0 ? PER_LINUX32 : PER_LINUX;
	}
	c->resources = zs_json_get(lx, "resources");
	c->seccomp = zs_json_get(lx, "seccomp");
	return 0;
}

static int parse_linux(struct zs_config *c, const zs_json *lx, zs_error_t *err)
{
	int ret;

	ret = zs_json_check_object(lx, F, "linux", 0, err);
	if (ret < 0 || lx == NULL)
		return ret;
	ret = parse_namespaces(c, zs_json_get(lx, "namespaces"), err);
	if (ret < 0)
		return ret;
	ret = parse_idmaps(zs_json_get(lx, "uidMappings"), "linux.uidMappings", &c->uid_maps, &c->n_uid_maps, err);
	if (ret < 0)
		return ret;
	ret = parse_idmaps(zs_json_get(lx, "gidMappings"), "linux.gidMappings", &c->gid_maps, &c->n_gid_maps, err);
	if (ret < 0)
		return ret;
	ret = parse_devices(c, zs_json_get(lx, "devices"), err);
	if (ret < 0)
		return ret;
	return parse_linux_misc(c, lx, err);
}

static int parse_config(struct zs_config *c, const zs_json *j, zs_error_t *err)
{
	const zs_json *root;
	int ret;

	ret = zs_json_check_object(j, F, "(top level)", ZS_JSON_REQUIRED, err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_string(zs_json_get(j, "ociVersion"), F, "ociVersion", 0, &c->oci_version, err);
	if (ret < 0)
		return ret;
	root = zs_json_get(j, "root");
	ret = zs_json_check_object(root, F, "root", ZS_JSON_REQUIRED, err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_string(zs_json_get(root, "path"), F, "root.path", ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY,
				&c->root_path, err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_bool(zs_json_get(root, "readonly"), F, "root.readonly", 0, &c->root_readonly, err);
	if (ret < 0)
		return ret;
	ret = zs_json_to_string(zs_json_get(j, "hostname"), F, "hostname", 0, &c->hostname, err);
	if (ret == 0)
		ret = zs_json_to_string(zs_json_get(j, "domainname"), F, "domainname", 0, &c->domainname, err);
	if (ret < 0)
		return ret;
	if (zs_json_get(j, "process")) {
		ret = zs_process_parse(zs_json_get(j, "process"), F, "process", &c->process, err);
		if (ret < 0)
			return ret;
	}
	ret = parse_mounts(c, zs_json_get(j, "mounts"), err);
	if (ret < 0)
		return ret;
	ret = parse_hooks(c, zs_json_get(j, "hooks"), err);
	if (ret < 0)
		return ret;
	c->annotations = zs_json_get(j, "annotations");
	ret = zs_json_check_object(c->annotations, F, "annotations", 0, err);
	if (ret < 0)
		return ret;
	return parse_linux(c, zs_json_get(j, "linux"), err);
}

int zs_config_parse(const char *buf, const char *name, struct zs_config **out, zs_error_t *err)
{
	struct zs_config *c = xzalloc(sizeof(*c));
	int ret;

	ret = zs_json_parse_buf(buf, name, &c->json, err);
	if (ret == 0)
		ret = parse_config(c, c->json, err);
	if (ret < 0) {
		zs_config_free(c);
		return ret;
	}
	*out = c;
	return 0;
}

int zs_config_load(const char *path, const char *name, struct zs_config **out, zs_error_t *err)
{
	cleanup_free char *buf = NULL;
	int ret;

	ret = read_file(path, &buf, NULL, err);
	if (ret < 0)
		return ret;
	return zs_config_parse(buf, name, out, err);
}

void zs_config_free(struct zs_config *c)
{
	size_t i;
	int k;

	if (c == NULL)
		return;
	for (i = 0; i < c->n_mounts; i++) {
		free(c->mounts[i].destination);
		free(c->mounts[i].source);
		free(c->mounts[i].type);
		free(c->mounts[i].data);
	}
	free(c->mounts);
	zs_process_free(c->process);
	for (k = 0; k < ZS_HOOK_KINDS; k++) {
		for (i = 0; i < c->n_hooks[k]; i++) {
			free(c->hooks[k][i].path);
			zs_free_string_array(c->hooks[k][i].args);
			zs_free_string_array(c->hooks[k][i].env);
		}
		free(c->hooks[k]);
	}
	for (i = 0; i < c->n_namespaces; i++)
		free(c->namespaces[i].path);
	free(c->namespaces);
	free(c->uid_maps);
	free(c->gid_maps);
	for (i = 0; i < c->n_devices; i++)
		free(c->devices[i].path);
	free(c->devices);
	for (i = 0; i < c->n_sysctl; i++) {
		free(c->sysctl[i].key);
		free(c->sysctl[i].value);
	}
	free(c->sysctl);
	zs_free_string_array(c->masked_paths);
	zs_free_string_array(c->readonly_paths);
	free(c->oci_version);
	free(c->root_path);
	free(c->hostname);
	free(c->domainname);
	free(c->cgroups_path);
	free(c->mount_label);
	zs_json_free(c->json);
	free(c);
}

void cleanup_configp(struct zs_config **c)
{
	zs_config_free(*c);
}

const struct zs_namespace *zs_config_namespace(const struct zs_config *c, int type)
{
	size_t i;

	for (i = 0; i < c->n_namespaces; i++)
		if (c->namespaces[i].type == type)
			return &c->namespaces[i];
	return NULL;
}
