/* zanshin — an image is untrusted input (it may come from another node):
 * before root restores it, what every task would get back is checked
 * against what the bundle's config.json lets the container have.  The
 * rules (docs/security-images.md):
 *
 *  - capabilities (when process.capabilities is set): cap_bnd within
 *    bounding; with noNewPrivileges no exec can gain a capability, so
 *    cap_prm and cap_eff lie within permitted, cap_inh within inheritable
 *    and permitted (and bounding with CAP_SETPCAP), cap_amb within both;
 *    without it a setuid or file-capability exec reaches up to what the
 *    config gives at all (bounding, permitted, inheritable, ambient);
 *  - no_new_privs set on every thread when noNewPrivileges is;
 *  - seccomp: with linux.seccomp, every thread in filter mode, and the
 *    filter this node compiles from the profile in its chain (a task may
 *    add filters, never remove one); a thread CRIU dumped without filters
 *    because its leader installs them for all with TSYNC is its leader's;
 *  - uid/gid: with a user namespace, every id mapped by uid/gidMappings;
 *    without one, the config's user unless the config lets a task change
 *    it (CAP_SETUID/CAP_SETGID, or a setuid exec without noNewPrivileges);
 *  - user namespace: the mappings CRIU writes (userns-<id>.img) are
 *    config.json's uidMappings and gidMappings;
 *  - namespaces: the root task gets a namespace of its own of every kind
 *    config.json creates, and none the config does not ask for (those
 *    joined by path are CRIU's external ones: not checked; a time
 *    namespace CRIU makes itself at every restore).
 *
 * Errors name the image file, the field and the config field. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "zanshin/config.h"
#include "zanshin/criu_image.h"
#include "zanshin/seccomp.h"
#include "zanshin/utils.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

struct policy {
	const struct zs_config *cfg;
	const char *file; /* "config.json" */
	const char *dir;
	bool nnp, userns;
	uint64_t cap_bound[ZS_IMG_CAP_SETS]; /* what each image set may hold */
	const char *cap_why[ZS_IMG_CAP_SETS];
	void *bpf; /* the config's seccomp program, NULL if none */
	size_t bpf_len;
};

static const char *const set_names[ZS_IMG_CAP_SETS] = {"cap_inh", "cap_prm", "cap_eff", "cap_bnd", "cap_amb"};

static char *cap_name(int c)
{
	char *n = cap_to_name((cap_value_t) c), *r, *p;

	if (n == NULL)
		return xasprintf("capability %d", c);
	r = xstrdup(n);
	cap_free(n);
	for (p = r; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p -= 'a' - 'A';
	return r;
}

static bool has_cap(uint64_t mask, int c)
{
	return (mask >> c) & 1;
}

static void cap_bounds(struct policy *p)
{
	const uint64_t *c = p->cfg->process->caps;
	uint64_t any = c[ZS_CAP_BOUNDING] | c[ZS_CAP_PERMITTED] | c[ZS_CAP_INHERITABLE] | c[ZS_CAP_AMBIENT];
	uint64_t inh = c[ZS_CAP_INHERITABLE] | c[ZS_CAP_PERMITTED];
	int i;

	p->cap_bound[ZS_IMG_CAP_BND] = c[ZS_CAP_BOUNDING];
	p->cap_why[ZS_IMG_CAP_BND] = "process.capabilities.bounding";
	if (!p->nnp) {
		for (i = 0; i < ZS_IMG_CAP_SETS; i++)
			if (i != ZS_IMG_CAP_BND) {
				p->cap_bound[i] = any;
				p->cap_why[i] = "process.capabilities (any of its sets: without noNewPrivileges an "
						"exec reaches them)";
			}
		return;
	}
	if (has_cap(c[ZS_CAP_PERMITTED], CAP_SETPCAP))
		inh |= c[ZS_CAP_BOUNDING];
	p->cap_bound[ZS_IMG_CAP_PRM] = p->cap_bound[ZS_IMG_CAP_EFF] = c[ZS_CAP_PERMITTED];
	p->cap_why[ZS_IMG_CAP_PRM] = p->cap_why[ZS_IMG_CAP_EFF] = "process.capabilities.permitted";
	p->cap_bound[ZS_IMG_CAP_INH] = inh;
	p->cap_why[ZS_IMG_CAP_INH] = "process.capabilities.inheritable (or permitted)";
	p->cap_bound[ZS_IMG_CAP_AMB] = c[ZS_CAP_AMBIENT] | (inh & c[ZS_CAP_PERMITTED]);
	p->cap_why[ZS_IMG_CAP_AMB] = "process.capabilities.ambient (or both inheritable and permitted)";
}

static int check_caps(const struct policy *p, const struct zs_image_thread *t, zs_error_t *err)
{
	static const int order[] = {ZS_IMG_CAP_EFF, ZS_IMG_CAP_PRM, ZS_IMG_CAP_INH, ZS_IMG_CAP_BND, ZS_IMG_CAP_AMB};
	size_t i;
	int c;

	if (!p->cfg->process->caps_set)
		return 0; /* the container keeps every capability */
	if (t->creds.caps_high)
		return zs_make_error(err, -EPERM,
				     "%s/%s: thread_core.creds: a capability above 63, which %s cannot grant", p->dir,
				     t->file, p->file);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		uint64_t extra = t->creds.caps[order[i]] & ~p->cap_bound[order[i]];
		cleanup_free char *name = NULL;

		if (extra == 0)
			continue;
		for (c = 0; c < 64 && !has_cap(extra, c); c++)
			;
		name = cap_name(c);
		return zs_make_error(err, -EPERM, "%s/%s: thread_core.creds.%s has %s, which %s's %s does not grant",
				     p->dir, t->file, set_names[order[i]], name, p->file, p->cap_why[order[i]]);
	}
	return 0;
}

static bool id_mapped(const struct zs_id_map *m, size_t n, uint32_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (id >= m[i].container_id && id - m[i].container_id < m[i].size)
			return true;
	return false;
}

static bool may_change(const struct policy *p, int cap)
{
	const struct zs_process *pr = p->cfg->process;

	return !p->nnp || !pr->caps_set || has_cap(pr->caps[ZS_CAP_PERMITTED], cap);
}

static const char *const id_names[8] = {"uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid"};

static int check_one_id(const struct policy *p, const struct zs_image_thread *t, const char *field, uint32_t id,
			bool is_gid, zs_error_t *err)
{
	const struct zs_config *cfg = p->cfg;
	const struct zs_process *pr = cfg->process;
	size_t i;

	if (p->userns) {
		if ((is_gid ? cfg->n_gid_maps : cfg->n_uid_maps) == 0)
			return 0; /* a namespace joined by path: its owner mapped it */
		if (id_mapped(is_gid ? cfg->gid_maps : cfg->uid_maps, is_gid ? cfg->n_gid_maps : cfg->n_uid_maps, id))
			return 0;
		return zs_make_error(err, -EPERM, "%s/%s: thread_core.creds.%s %" PRIu32 " is not mapped by %s's %s",
				     p->dir, t->file, field, id, p->file,
				     is_gid ? "linux.gidMappings" : "linux.uidMappings");
	}
	if (may_change(p, is_gid ? CAP_SETGID : CAP_SETUID))
		return 0;
	if (!is_gid && id == pr->uid)
		return 0;
	if (is_gid && id == pr->gid)
		return 0;
	for (i = 0; is_gid && i < pr->n_additional_gids; i++)
		if (id == pr->additional_gids[i])
			return 0;
	return zs_make_error(err, -EPERM,
			     "%s/%s: thread_core.creds.%s %" PRIu32
			     " is not %s's process.user, and the config lets no task change it (noNewPrivileges, "
			     "no %s)",
			     p->dir, t->file, field, id, p->file, is_gid ? "CAP_SETGID" : "CAP_SETUID");
}

static int check_ids(const struct policy *p, const struct zs_image_thread *t, zs_error_t *err)
{
	size_t i;

	for (i = 0; i < 8; i++)
		if (check_one_id(p, t, id_names[i], t->creds.ids[i], i % 2 == 1, err) < 0)
			return -1;
	for (i = 0; i < t->creds.n_groups; i++)
		if (check_one_id(p, t, "groups", t->creds.groups[i], true, err) < 0)
			return -1;
	return 0;
}

/* The config's filter among those the thread has (its chain in seccomp.img). */
static bool filter_in_chain(const struct policy *p, const struct zs_image_tasks *ts, const struct zs_image_thread *t)
{
	long idx = t->has_seccomp_filter ? (long) t->seccomp_filter : -1;
	size_t steps = 0;

	while (idx >= 0 && (size_t) idx < ts->n_filters && steps++ <= ts->n_filters) {
		const struct zs_image_filter *f = &ts->filters[idx];

		if (f->len == p->bpf_len && memcmp(f->bpf, p->bpf, p->bpf_len) == 0)
			return true;
		idx = f->prev;
	}
	return false;
}

/* The thread's task leader, NULL if not in the image. */
static const struct zs_image_thread *leader_of(const struct zs_image_tasks *ts, const struct zs_image_thread *t)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (ts->threads[i].tid == t->pid)
			return &ts->threads[i];
	return NULL;
}

/* CRIU dumps the threads that share their leader's filters without any
 * (criu/seccomp.c try_use_tsync): the leader installs its chain with
 * SECCOMP_FILTER_FLAG_TSYNC, which gives it to every thread. */
static bool synced_by_leader(const struct zs_image_tasks *ts, const struct zs_image_thread *t)
{
	const struct zs_image_thread *l = leader_of(ts, t);

	if (t->tid == t->pid || t->has_seccomp_mode || l == NULL || !l->has_seccomp_mode || l->seccomp_mode != 2 ||
	    !l->has_seccomp_filter || l->seccomp_filter >= ts->n_filters)
		return false;
	return (ts->filters[l->seccomp_filter].flags & 1) != 0;
}

static int check_seccomp(const struct policy *p, const struct zs_image_tasks *ts, const struct zs_image_thread *t,
			 zs_error_t *err)
{
	if (p->bpf == NULL)
		return 0;
	if (synced_by_leader(ts, t))
		t = leader_of(ts, t);
	if (!t->has_seccomp_mode || t->seccomp_mode != 2)
		return zs_make_error(
		    err, -EPERM, "%s/%s: thread_core.seccomp_mode is %s, and %s's linux.seccomp asks for a filter",
		    p->dir, t->file, !t->has_seccomp_mode || t->seccomp_mode == 0 ? "disabled" : "strict", p->file);
	if (!filter_in_chain(p, ts, t))
		return zs_make_error(err, -EPERM,
				     "%s/%s: thread_core.seccomp_filter: seccomp.img has not the filter of %s's "
				     "linux.seccomp in this thread's chain",
				     p->dir, t->file, p->file);
	return 0;
}

static int check_thread(const struct policy *p, const struct zs_image_tasks *ts, const struct zs_image_thread *t,
			zs_error_t *err)
{
	if (!t->has_creds)
		return zs_make_error(err, -EPERM,
				     "%s/%s: thread_core.creds: missing (the image must say what it runs as)", p->dir,
				     t->file);
	if (p->nnp && !t->creds.no_new_privs)
		return zs_make_error(
		    err, -EPERM,
		    "%s/%s: thread_core.creds.no_new_privs is not set, and %s's process.noNewPrivileges "
		    "is true",
		    p->dir, t->file, p->file);
	if (check_caps(p, t, err) < 0 || check_ids(p, t, err) < 0)
		return -1;
	return check_seccomp(p, ts, t, err);
}

static const struct {
	int type, idx;
	const char *field, *name;
} ns_kinds[] = {
    {CLONE_NEWPID, ZS_IMG_NS_PID, "pid_ns_id", "pid"},
    {CLONE_NEWNET, ZS_IMG_NS_NET, "net_ns_id", "network"},
    {CLONE_NEWIPC, ZS_IMG_NS_IPC, "ipc_ns_id", "ipc"},
    {CLONE_NEWUTS, ZS_IMG_NS_UTS, "uts_ns_id", "uts"},
    {CLONE_NEWNS, ZS_IMG_NS_MNT, "mnt_ns_id", "mount"},
    {CLONE_NEWUSER, ZS_IMG_NS_USER, "user_ns_id", "user"},
    {CLONE_NEWCGROUP, ZS_IMG_NS_CGROUP, "cgroup_ns_id", "cgroup"},
    {CLONE_NEWTIME, ZS_IMG_NS_TIME, "time_ns_id", "time"},
};

/* The root task (pstree's first) gets a new namespace of a kind when its
 * id differs from the dumping CRIU's (criu/pstree.c get_clone_mask). */
static int check_namespaces(const struct policy *p, const struct zs_image_tasks *ts, zs_error_t *err)
{
	const struct zs_image_thread *root = &ts->threads[0];
	size_t i;

	if (!root->ns.present || !ts->root_ids.present)
		return zs_make_error(err, -EPERM, "%s/%s: missing (which namespaces the container gets)", p->dir,
				     root->ns.present ? "inventory.img: root_ids" : "ids-*.img or core-*.img ids");
	for (i = 0; i < sizeof(ns_kinds) / sizeof(ns_kinds[0]); i++) {
		const struct zs_namespace *ns = zs_config_namespace(p->cfg, ns_kinds[i].type);
		unsigned bit = 1u << ns_kinds[i].idx;
		bool img_new, both = (root->ns.has & bit) && (ts->root_ids.has & bit);

		if (ns && ns->path && *ns->path)
			continue; /* joined: CRIU's external namespace */
		img_new = both && root->ns.id[ns_kinds[i].idx] != ts->root_ids.id[ns_kinds[i].idx];
		if (ns && !img_new)
			return zs_make_error(err, -EPERM,
					     "%s/%s%s: the task would share the host's %s namespace, and %s's "
					     "linux.namespaces creates one",
					     p->dir, root->ns_file, ns_kinds[i].field, ns_kinds[i].name, p->file);
		/* CRIU gives a restored tree a time namespace of its own (the
		 * clocks' offsets): harmless, and every restored image has one */
		if (!ns && img_new && ns_kinds[i].type != CLONE_NEWTIME)
			return zs_make_error(err, -EPERM,
					     "%s/%s%s: the task would get a %s namespace of its own, which %s's "
					     "linux.namespaces does not create",
					     p->dir, root->ns_file, ns_kinds[i].field, ns_kinds[i].name, p->file);
	}
	return 0;
}

/* A zombie (task_state TASK_DEAD) is restored only to exit at once
 * (criu/cr-restore.c restore_one_zombie): it never runs, and its
 * credentials (a dead task has no seccomp filter left) do not matter. */
static bool zombie(const struct zs_image_tasks *ts, const struct zs_image_thread *t)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (ts->threads[i].tid == t->pid)
			return ts->threads[i].task_state == 2 && t->tid == t->pid;
	return false;
}

/* The mappings CRIU writes for the container's user namespace must be
 * the config's, extent for extent (in any order). */
static bool same_maps(const struct zs_image_extent *e, size_t n, const struct zs_id_map *m, size_t nm)
{
	size_t i, j;

	if (n != nm)
		return false;
	for (i = 0; i < n; i++) {
		for (j = 0; j < nm; j++)
			if (e[i].first == m[j].container_id && e[i].lower_first == m[j].host_id &&
			    e[i].count == m[j].size)
				break;
		if (j == nm)
			return false;
	}
	return true;
}

static int check_userns_maps(const struct policy *p, const struct zs_image_tasks *ts, zs_error_t *err)
{
	const struct zs_namespace *ns = zs_config_namespace(p->cfg, CLONE_NEWUSER);
	const struct zs_config *c = p->cfg;

	if (ns == NULL || (ns->path && *ns->path))
		return 0;
	if (!ts->has_userns)
		return zs_make_error(err, -EPERM, "%s/%s: missing: the mappings of the container's user namespace",
				     p->dir, ts->userns_file[0] ? ts->userns_file : "userns-*.img");
	if (!same_maps(ts->uid_map, ts->n_uid_map, c->uid_maps, c->n_uid_maps))
		return zs_make_error(err, -EPERM, "%s/%s: uid_map is not %s's linux.uidMappings", p->dir,
				     ts->userns_file, p->file);
	if (!same_maps(ts->gid_map, ts->n_gid_map, c->gid_maps, c->n_gid_maps))
		return zs_make_error(err, -EPERM, "%s/%s: gid_map is not %s's linux.gidMappings", p->dir,
				     ts->userns_file, p->file);
	return 0;
}

static int compile_seccomp(struct policy *p, zs_error_t *err)
{
	cleanup_seccomp struct zs_seccomp *sc = NULL;
	size_t n = 0;

	if (p->cfg->seccomp == NULL)
		return 0;
	if (zs_seccomp_parse(p->cfg->seccomp, p->file, "linux.seccomp", &sc, err) < 0)
		return -1;
	if (sc == NULL)
		return 0;
	if (zs_seccomp_compile(sc, &p->bpf, &n, NULL, err) < 0)
		return -1;
	p->bpf_len = n * 8; /* struct sock_filter */
	return 0;
}

int zs_image_check_config(int at, const char *dir, const struct zs_config *cfg, const char *file, zs_error_t *err)
{
	struct policy p = {.cfg = cfg, .file = file, .dir = dir};
	struct zs_image_tasks ts;
	size_t i;
	int ret;

	if (cfg->process == NULL)
		return zs_make_error(err, -EINVAL, "%s: process: missing", file);
	p.nnp = cfg->process->no_new_privileges;
	p.userns = zs_config_namespace(cfg, CLONE_NEWUSER) != NULL;
	cap_bounds(&p);
	if (zs_image_tasks_read(at, dir, &ts, err) < 0)
		return -1;
	ret = compile_seccomp(&p, err);
	if (ret == 0)
		ret = check_namespaces(&p, &ts, err);
	if (ret == 0)
		ret = check_userns_maps(&p, &ts, err);
	for (i = 0; ret == 0 && i < ts.n; i++)
		if (!zombie(&ts, &ts.threads[i]))
			ret = check_thread(&p, &ts, &ts.threads[i], err);
	free(p.bpf);
	zs_image_tasks_free(&ts);
	return ret;
}
