/* zanshin — the linux.resources object: parse (errors name the field) and
 * device-rule helpers. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "zanshin/utils.h"
#include "cgroup_internal.h"

struct zs_resources *zs_resources_new(void)
{
	struct zs_resources *r = xzalloc(sizeof(*r));

	r->memory_swappiness = -1;
	return r;
}

static void free_throttle(struct zs_throttle_device *t)
{
	free(t);
}

void zs_resources_free(struct zs_resources *r)
{
	if (r == NULL)
		return;
	free(r->cpuset_cpus);
	free(r->cpuset_mems);
	free(r->weight_devices);
	free_throttle(r->throttle_read_bps);
	free_throttle(r->throttle_write_bps);
	free_throttle(r->throttle_read_iops);
	free_throttle(r->throttle_write_iops);
	for (size_t i = 0; i < r->n_hugetlb; i++)
		free(r->hugetlb[i].pagesize);
	free(r->hugetlb);
	for (size_t i = 0; i < r->n_net_prio; i++)
		free(r->net_prio[i].name);
	free(r->net_prio);
	free(r->devices);
	for (size_t i = 0; i < r->n_unified; i++) {
		free(r->unified[i].key);
		free(r->unified[i].value);
	}
	free(r->unified);
	free(r);
}

void cleanup_resourcesp(struct zs_resources **r)
{
	zs_resources_free(*r);
}

void zs_resources_append_device(struct zs_resources *r, bool allow, char type, int64_t major, int64_t minor,
				const char *access)
{
	struct zs_device_rule *d;

	if (type == 'u') /* linux.devices' unbuffered char device */
		type = 'c';
	if (type == 'p') /* a fifo needs no device rule */
		return;
	r->devices = xrealloc(r->devices, (r->n_devices + 1) * sizeof(*r->devices));
	d = &r->devices[r->n_devices++];
	memset(d, 0, sizeof(*d));
	d->allow = allow;
	d->type = type;
	d->major = major;
	d->minor = minor;
	snprintf(d->access, sizeof(d->access), "%s", access ? access : "rwm");
}

void zs_resources_append_default_devices(struct zs_resources *r)
{
	static const struct {
		char type;
		int64_t major, minor;
		const char *access;
	} defs[] = {
	    {'c', -1, -1, "m"},	   {'b', -1, -1, "m"}, /* mknod of anything */
	    {'c', 1, 3, "rwm"},	   {'c', 1, 8, "rwm"}, /* null, random */
	    {'c', 1, 7, "rwm"},	   {'c', 5, 0, "rwm"}, /* full, tty */
	    {'c', 1, 5, "rwm"},	   {'c', 1, 9, "rwm"}, /* zero, urandom */
	    {'c', 136, -1, "rwm"}, {'c', 5, 2, "rwm"}, /* pts/N, ptmx */
	    {'c', 10, 200, "rwm"},		       /* net/tun */
	};

	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
		zs_resources_append_device(r, true, defs[i].type, defs[i].major, defs[i].minor, defs[i].access);
}

/* ---- parsing ----------------------------------------------------------- */

struct pctx {
	const char *file;
	const char *base; /* "linux.resources" or "" */
};

static char *fld(const struct pctx *c, const char *sub)
{
	if (c->base == NULL || *c->base == '\0')
		return xstrdup(sub);
	return xasprintf("%s.%s", c->base, sub);
}

static int get_i64(const struct pctx *c, const zs_json *obj, const char *key, const char *path, int64_t *out,
		   zs_error_t *err)
{
	cleanup_free char *f = fld(c, path);
	return zs_json_to_int64(zs_json_get(obj, key), c->file, f, 0, out, err);
}

static int get_u64(const struct pctx *c, const zs_json *obj, const char *key, const char *path, uint64_t *out,
		   zs_error_t *err)
{
	cleanup_free char *f = fld(c, path);
	return zs_json_to_uint64(zs_json_get(obj, key), c->file, f, 0, out, err);
}

static int get_u16(const struct pctx *c, const zs_json *obj, const char *key, const char *path, uint16_t *out,
		   zs_error_t *err)
{
	uint64_t v = *out;
	cleanup_free char *f = fld(c, path);

	if (zs_json_to_uint64(zs_json_get(obj, key), c->file, f, 0, &v, err) < 0)
		return -1;
	if (v > UINT16_MAX)
		return zs_make_error(err, EINVAL, "%s: %s: must be at most 65535", c->file, f);
	*out = (uint16_t) v;
	return 0;
}

static int get_obj(const struct pctx *c, const zs_json *parent, const char *key, zs_json **out, zs_error_t *err)
{
	cleanup_free char *f = fld(c, key);
	zs_json *v = zs_json_get(parent, key);

	if (zs_json_check_object(v, c->file, f, 0, err) < 0)
		return -1;
	*out = v;
	return 0;
}

static int parse_memory(const struct pctx *c, const zs_json *res, struct zs_resources *r, zs_error_t *err)
{
	zs_json *m;
	bool b = false;

	if (get_obj(c, res, "memory", &m, err) < 0)
		return -1;
	if (m == NULL)
		return 0;
	if (get_i64(c, m, "limit", "memory.limit", &r->memory_limit, err) < 0 ||
	    get_i64(c, m, "reservation", "memory.reservation", &r->memory_reservation, err) < 0 ||
	    get_i64(c, m, "swap", "memory.swap", &r->memory_swap, err) < 0 ||
	    get_i64(c, m, "kernel", "memory.kernel", &r->memory_kernel, err) < 0 ||
	    get_i64(c, m, "kernelTCP", "memory.kernelTCP", &r->memory_kernel_tcp, err) < 0)
		return -1;
	if (zs_json_get(m, "swappiness")) {
		uint64_t sw = 0;
		if (get_u64(c, m, "swappiness", "memory.swappiness", &sw, err) < 0)
			return -1;
		r->memory_swappiness = sw > INT64_MAX ? -1 : (int64_t) sw;
	}
	{
		cleanup_free char *f = fld(c, "memory.disableOOMKiller");
		if (zs_json_to_bool(zs_json_get(m, "disableOOMKiller"), c->file, f, 0, &b, err) < 0)
			return -1;
		r->oom_kill_disable = b;
	}
	return 0;
}

static int get_str(const struct pctx *c, const zs_json *obj, const char *key, const char *path, char **out,
		   zs_error_t *err)
{
	cleanup_free char *f = fld(c, path);
	char *s = NULL;

	if (zs_json_to_string(zs_json_get(obj, key), c->file, f, 0, &s, err) < 0)
		return -1;
	if (s) {
		free(*out);
		*out = s;
	}
	return 0;
}

static int parse_cpu_obj(const struct pctx *c, const zs_json *cpu, const char *name, struct zs_resources *r,
			 zs_error_t *err)
{
	cleanup_free char *p_sh = xasprintf("%s.shares", name), *p_q = xasprintf("%s.quota", name),
			  *p_p = xasprintf("%s.period", name), *p_rr = xasprintf("%s.realtimeRuntime", name),
			  *p_rp = xasprintf("%s.realtimePeriod", name), *p_c = xasprintf("%s.cpus", name),
			  *p_m = xasprintf("%s.mems", name), *p_i = xasprintf("%s.idle", name);

	if (get_u64(c, cpu, "shares", p_sh, &r->cpu_shares, err) < 0 ||
	    get_i64(c, cpu, "quota", p_q, &r->cpu_quota, err) < 0 ||
	    get_u64(c, cpu, "period", p_p, &r->cpu_period, err) < 0 ||
	    get_i64(c, cpu, "realtimeRuntime", p_rr, &r->cpu_rt_runtime, err) < 0 ||
	    get_u64(c, cpu, "realtimePeriod", p_rp, &r->cpu_rt_period, err) < 0 ||
	    get_str(c, cpu, "cpus", p_c, &r->cpuset_cpus, err) < 0 ||
	    get_str(c, cpu, "mems", p_m, &r->cpuset_mems, err) < 0)
		return -1;
	/* runc's update accepts Go's case-insensitive field names ("Cpus") */
	if (get_str(c, cpu, "Cpus", p_c, &r->cpuset_cpus, err) < 0 ||
	    get_str(c, cpu, "Mems", p_m, &r->cpuset_mems, err) < 0)
		return -1;
	if (zs_json_get(cpu, "idle")) {
		if (get_i64(c, cpu, "idle", p_i, &r->cpu_idle, err) < 0)
			return -1;
		r->cpu_idle_set = true;
	}
	return 0;
}

static int parse_cpu(const struct pctx *c, const zs_json *res, struct zs_resources *r, zs_error_t *err)
{
	static const char *const keys[] = {"cpu", "CPU"};

	for (size_t i = 0; i < 2; i++) {
		zs_json *cpu;
		if (get_obj(c, res, keys[i], &cpu, err) < 0)
			return -1;
		if (cpu && parse_cpu_obj(c, cpu, keys[i], r, err) < 0)
			return -1;
	}
	return 0;
}

static int parse_pids(const struct pctx *c, const zs_json *res, struct zs_resources *r, zs_error_t *err)
{
	zs_json *p;

	if (get_obj(c, res, "pids", &p, err) < 0)
		return -1;
	return p ? get_i64(c, p, "limit", "pids.limit", &r->pids_limit, err) : 0;
}

static int check_array(const struct pctx *c, const zs_json *v, const char *path, zs_error_t *err)
{
	cleanup_free char *f = fld(c, path);
	return zs_json_check_array(v, c->file, f, 0, err);
}

static int parse_majmin(const struct pctx *c, const zs_json *e, const char *path, int64_t *maj, int64_t *min,
			zs_error_t *err)
{
	cleanup_free char *pm = xasprintf("%s.major", path), *pn = xasprintf("%s.minor", path);
	cleanup_free char *fm = fld(c, pm), *fn = fld(c, pn);

	if (zs_json_to_int64(zs_json_get(e, "major"), c->file, fm, ZS_JSON_REQUIRED, maj, err) < 0 ||
	    zs_json_to_int64(zs_json_get(e, "minor"), c->file, fn, ZS_JSON_REQUIRED, min, err) < 0)
		return -1;
	return 0;
}

static int parse_throttle(const struct pctx *c, const zs_json *bio, const char *key, struct zs_throttle_device **out,
			  size_t *n, zs_error_t *err)
{
	cleanup_free char *path = xasprintf("blockIO.%s", key);
	zs_json *a = zs_json_get(bio, key);

	if (check_array(c, a, path, err) < 0)
		return -1;
	for (size_t i = 0; a && i < zs_json_array_len(a); i++) {
		zs_json *e = zs_json_array_at(a, i);
		cleanup_free char *ep = xasprintf("%s[%zu]", path, i), *rp = xasprintf("%s.rate", ep);
		struct zs_throttle_device t = {0};
		if (parse_majmin(c, e, ep, &t.major, &t.minor, err) < 0 || get_u64(c, e, "rate", rp, &t.rate, err) < 0)
			return -1;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = t;
	}
	return 0;
}

static int parse_blkio(const struct pctx *c, const zs_json *res, struct zs_resources *r, zs_error_t *err)
{
	zs_json *b, *wd;

	if (get_obj(c, res, "blockIO", &b, err) < 0)
		return -1;
	if (b == NULL)
		return 0;
	if (get_u16(c, b, "weight", "blockIO.weight", &r->blkio_weight, err) < 0 ||
	    get_u16(c, b, "leafWeight", "blockIO.leafWeight", &r->blkio_leaf_weight, err) < 0)
		return -1;
	wd = zs_json_get(b, "weightDevice");
	if (check_array(c, wd, "blockIO.weightDevice", err) < 0)
		return -1;
	for (size_t i = 0; wd && i < zs_json_array_len(wd); i++) {
		zs_json *e = zs_json_array_at(wd, i);
		cleanup_free char *ep = xasprintf("blockIO.weightDevice[%zu]", i);
		cleanup_free char *wp = xasprintf("%s.weight", ep), *lp = xasprintf("%s.leafWeight", ep);
		struct zs_weight_device d = {0};
		if (parse_majmin(c, e, ep, &d.major, &d.minor, err) < 0 ||
		    get_u16(c, e, "weight", wp, &d.weight, err) < 0 ||
		    get_u16(c, e, "leafWeight", lp, &d.leaf_weight, err) < 0)
			return -1;
		r->weight_devices = xrealloc(r->weight_devices, (r->n_weight_devices + 1) * sizeof(d));
		r->weight_devices[r->n_weight_devices++] = d;
	}
	if (parse_throttle(c, b, "throttleReadBpsDevice", &r->throttle_read_bps, &r->n_throttle_read_bps, err) < 0 ||
	    parse_throttle(c, b, "throttleWriteBpsDevice", &r->throttle_write_bps, &r->n_throttle_write_bps, err) < 0 ||
	    parse_throttle(c, b, "throttleReadIOPSDevice", &r->throttle_read_iops, &r->n_throttle_read_iops, err) < 0 ||
	    parse_throttle(c, b, "throttleWriteIOPSDevice", &r->throttle_write_iops, &r->n_throttle_write_iops, err) <
		0)
		return -1;
	return 0;
}

static int parse_hugetlb(const struct pctx *c, const zs_json *res, struct zs_resources *r, zs_error_t *err)
{
	zs_json *a = zs_json_get(res, "hugepageLimits");

	if (check_array(c, a, "hugepageLimits", err) < 0)
		return -1;
	for (size_t i = 0; a && i < zs_json_array_len(a); i++) {
		zs_json *e = zs_json_array_at(a, i);
		cleanup_free char *ep = xasprintf("hugepageLimits[%zu]", i);
		cleanup_free char *pp = xasprintf("%s.pageSize", ep), *lp = xasprintf("%s.limit", ep);
		cleanup_free char *fp = fld(c, pp), *fl = fld(c, lp);
		struct zs_hugetlb_limit h = {0};
		if (zs_json_to_string(zs_json_get(e, "pageSize"), c->file, fp, ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY,
				      &h.pagesize, err) < 0)
			return -1;
		if (strchr(h.pagesize, '/') ||
		    zs_json_to_uint64(zs_json_get(e, "limit"), c->file, fl, ZS_JSON_REQUIRED, &h.limit, err) < 0) {
			free(h.pagesize);
			return *err ? -1 : zs_make_error(err, EINVAL, "%s: %s: invalid page size", c->file, fp);
		}
		r->hugetlb = xrealloc(r->hugetlb, (r->n_hugetlb + 1) * sizeof(h));
		r->hugetlb[r->n_hugetlb++] = h;
	}
	return 0;
}

static int parse_one_device(const struct pctx *c, const zs_json *e, size_t i, struct zs_resources *r, zs_error_t *err)
{
	cleanup_free char *ep = xasprintf("devices[%zu]", i);
	cleanup_free char *fa = NULL, *ft = NULL, *fal = NULL, *fmj = NULL, *fmn = NULL;
	cleanup_free char *type = NULL, *access = NULL;
	int64_t major = -1, minor = -1;
	bool allow = false;
	char perms[4];

	{
		cleanup_free char *p1 = xasprintf("%s.allow", ep), *p2 = xasprintf("%s.type", ep),
				  *p3 = xasprintf("%s.access", ep), *p4 = xasprintf("%s.major", ep),
				  *p5 = xasprintf("%s.minor", ep);
		fal = fld(c, p1);
		ft = fld(c, p2);
		fa = fld(c, p3);
		fmj = fld(c, p4);
		fmn = fld(c, p5);
	}
	if (zs_json_to_bool(zs_json_get(e, "allow"), c->file, fal, ZS_JSON_REQUIRED, &allow, err) < 0 ||
	    zs_json_to_string(zs_json_get(e, "type"), c->file, ft, 0, &type, err) < 0 ||
	    zs_json_to_string(zs_json_get(e, "access"), c->file, fa, 0, &access, err) < 0 ||
	    zs_json_to_int64(zs_json_get(e, "major"), c->file, fmj, 0, &major, err) < 0 ||
	    zs_json_to_int64(zs_json_get(e, "minor"), c->file, fmn, 0, &minor, err) < 0)
		return -1;
	if (type && *type && (strlen(type) != 1 || strchr("acb", type[0]) == NULL))
		return zs_make_error(err, EINVAL, "%s: %s: must be one of \"a\", \"c\", \"b\"", c->file, ft);
	if (access == NULL || *access == '\0')
		return zs_make_error(err, EINVAL, "%s: %s: cannot be empty", c->file, fa);
	/* as runc: only r, w and m count, other letters are ignored */
	snprintf(perms, sizeof(perms), "%s%s%s", strchr(access, 'r') ? "r" : "", strchr(access, 'w') ? "w" : "",
		 strchr(access, 'm') ? "m" : "");
	if (perms[0] == '\0')
		return zs_make_error(err, EINVAL, "%s: %s: must contain \"r\", \"w\" or \"m\"", c->file, fa);
	zs_resources_append_device(r, allow, type && *type ? type[0] : 'a', major, minor, perms);
	return 0;
}

static int parse_devices(const struct pctx *c, const zs_json *res, struct zs_resources *r, zs_error_t *err)
{
	zs_json *a = zs_json_get(res, "devices");

	if (check_array(c, a, "devices", err) < 0)
		return -1;
	for (size_t i = 0; a && i < zs_json_array_len(a); i++)
		if (parse_one_device(c, zs_json_array_at(a, i), i, r, err) < 0)
			return -1;
	return 0;
}

static int parse_network(const struct pctx *c, const zs_json *res, struct zs_resources *r, zs_error_t *err)
{
	zs_json *n, *prio;
	uint64_t cls = 0;

	if (get_obj(c, res, "network", &n, err) < 0)
		return -1;
	if (n == NULL)
		return 0;
	if (zs_json_get(n, "classID")) {
		if (get_u64(c, n, "classID", "network.classID", &cls, err) < 0)
			return -1;
		r->net_class_id_set = true;
		r->net_class_id = (uint32_t) cls;
	}
	prio = zs_json_get(n, "priorities");
	if (check_array(c, prio, "network.priorities", err) < 0)
		return -1;
	for (size_t i = 0; prio && i < zs_json_array_len(prio); i++) {
		zs_json *e = zs_json_array_at(prio, i);
		cleanup_free char *ep = xasprintf("network.priorities[%zu]", i);
		cleanup_free char *np = xasprintf("%s.name", ep), *pp = xasprintf("%s.priority", ep);
		cleanup_free char *fn = fld(c, np);
		struct zs_net_prio p = {0};
		uint64_t v = 0;
		if (zs_json_to_string(zs_json_get(e, "name"), c->file, fn, ZS_JSON_REQUIRED | ZS_JSON_NONEMPTY, &p.name,
				      err) < 0)
			return -1;
		if (get_u64(c, e, "priority", pp, &v, err) < 0) {
			free(p.name);
			return -1;
		}
		p.priority = (uint32_t) v;
		r->net_prio = xrealloc(r->net_prio, (r->n_net_prio + 1) * sizeof(p));
		r->net_prio[r->n_net_prio++] = p;
	}
	return 0;
}

static int parse_unified(const struct pctx *c, const zs_json *res, struct zs_resources *r, zs_error_t *err)
{
	zs_json *u;

	if (get_obj(c, res, "unified", &u, err) < 0)
		return -1;
	for (size_t i = 0; u && i < zs_json_object_len(u); i++) {
		const char *k = zs_json_object_key(u, i);
		const char *v = zs_json_string_value(zs_json_object_value(u, i));
		cleanup_free char *f = NULL;
		if (v == NULL || strchr(k, '/') || k[0] == '\0' || k[0] == '.') {
			cleanup_free char *p = xasprintf("unified.%s", k);
			f = fld(c, p);
			return zs_make_error(err, EINVAL, "%s: %s: %s", c->file, f,
					     v == NULL ? "must be a string" : "invalid cgroup file name");
		}
		r->unified = xrealloc(r->unified, (r->n_unified + 1) * sizeof(*r->unified));
		r->unified[r->n_unified].key = xstrdup(k);
		r->unified[r->n_unified].value = xstrdup(v);
		r->n_unified++;
	}
	return 0;
}

int zs_cgroup_resources_parse(const zs_json *resources, const char *file, const char *field, struct zs_resources **out,
			      zs_error_t *err)
{
	cleanup_resources struct zs_resources *r = zs_resources_new();
	struct pctx c = {file ? file : "config.json", field};

	if (resources != NULL && !zs_json_is_object(resources))
		return zs_make_error(err, EINVAL, "%s: %s: must be an object", c.file,
				     field && *field ? field : "resources");
	if (resources != NULL &&
	    (parse_memory(&c, resources, r, err) < 0 || parse_cpu(&c, resources, r, err) < 0 ||
	     parse_pids(&c, resources, r, err) < 0 || parse_blkio(&c, resources, r, err) < 0 ||
	     parse_hugetlb(&c, resources, r, err) < 0 || parse_devices(&c, resources, r, err) < 0 ||
	     parse_network(&c, resources, r, err) < 0 || parse_unified(&c, resources, r, err) < 0))
		return -1;
	*out = steal_pointer(&r);
	return 0;
}
