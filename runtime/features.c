/* zanshin features — what this runtime supports, in runc 1.1's JSON shape. */
#include <seccomp.h>
#include <stdio.h>
#include <sys/capability.h>

#include "cli.h"
#include "zanshin/json.h"
#include "zanshin/utils.h"

static const struct zs_optdef opts[] = {{NULL, 0, false, 0, NULL}};

static int none(int id, const char *v, void *d)
{
	return 0;
}

static void strings(zs_jgen *g, const char *key, const char *const *v)
{
	zs_jgen_key(g, key);
	zs_jgen_array_open(g);
	for (; *v; v++)
		zs_jgen_string(g, *v);
	zs_jgen_array_close(g);
}

static const char *const hooks[] = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop", NULL};
static const char *const mount_opts[] = {
    "async",	  "atime",	"bind",	  "defaults",	 "dev",		  "diratime", "dirsync",     "exec",
    "iversion",	  "lazytime",	"loud",	  "mand",	 "noatime",	  "nodev",    "nodiratime",  "noexec",
    "noiversion", "nolazytime", "nomand", "norelatime",	 "nostrictatime", "nosuid",   "private",     "rbind",
    "relatime",	  "remount",	"ro",	  "rprivate",	 "rshared",	  "rslave",   "runbindable", "rw",
    "shared",	  "silent",	"slave",  "strictatime", "suid",	  "sync",     "unbindable",  NULL};
static const char *const namespaces[] = {"cgroup", "ipc", "mount", "network", "pid", "user", "uts", NULL};
static const char *const actions[] = {"SCMP_ACT_ALLOW",	       "SCMP_ACT_ERRNO",       "SCMP_ACT_KILL",
				      "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
				      "SCMP_ACT_TRACE",	       "SCMP_ACT_TRAP",	       NULL};
static const char *const operators[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE",	     "SCMP_CMP_GT", "SCMP_CMP_LE",
					"SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", NULL};
static const char *const archs[] = {"SCMP_ARCH_AARCH64",
				    "SCMP_ARCH_ARM",
				    "SCMP_ARCH_MIPS",
				    "SCMP_ARCH_MIPS64",
				    "SCMP_ARCH_MIPS64N32",
				    "SCMP_ARCH_MIPSEL",
				    "SCMP_ARCH_MIPSEL64",
				    "SCMP_ARCH_MIPSEL64N32",
				    "SCMP_ARCH_PPC",
				    "SCMP_ARCH_PPC64",
				    "SCMP_ARCH_PPC64LE",
				    "SCMP_ARCH_S390",
				    "SCMP_ARCH_S390X",
				    "SCMP_ARCH_X32",
				    "SCMP_ARCH_X86",
				    "SCMP_ARCH_X86_64",
				    NULL};

static void capabilities(zs_jgen *g)
{
	int c;

	zs_jgen_key(g, "capabilities");
	zs_jgen_array_open(g);
	for (c = 0; c <= CAP_LAST_CAP; c++) {
		char *name = cap_to_name(c), *p;
		cleanup_free char *up = NULL;
		if (name == NULL)
			continue;
		up = xstrdup(name);
		cap_free(name);
		for (p = up; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p -= 32;
		if (up[0] >= '0' && up[0] <= '9')
			continue; /* unnamed */
		zs_jgen_string(g, up);
	}
	zs_jgen_array_close(g);
}

static void linux_part(zs_jgen *g)
{
	zs_jgen_key(g, "linux");
	zs_jgen_map_open(g);
	strings(g, "namespaces", namespaces);
	capabilities(g);
	zs_jgen_key(g, "cgroup");
	zs_jgen_map_open(g);
	zs_jgen_key(g, "v1");
	zs_jgen_bool(g, true);
	zs_jgen_key(g, "v2");
	zs_jgen_bool(g, true);
	zs_jgen_key(g, "systemd");
	zs_jgen_bool(g, false);
	zs_jgen_key(g, "systemdUser");
	zs_jgen_bool(g, false);
	zs_jgen_map_close(g);
	zs_jgen_key(g, "seccomp");
	zs_jgen_map_open(g);
	zs_jgen_key(g, "enabled");
	zs_jgen_bool(g, true);
	strings(g, "actions", actions);
	strings(g, "operators", operators);
	strings(g, "archs", archs);
	zs_jgen_map_close(g);
	/* supported by this runtime (applied where the host has the LSM,
	 * refused where not: lib/lsm.c), as runc reports it */
	zs_jgen_key(g, "apparmor");
	zs_jgen_map_open(g);
	zs_jgen_key(g, "enabled");
	zs_jgen_bool(g, true);
	zs_jgen_map_close(g);
	zs_jgen_key(g, "selinux");
	zs_jgen_map_open(g);
	zs_jgen_key(g, "enabled");
	zs_jgen_bool(g, true);
	zs_jgen_map_close(g);
	zs_jgen_map_close(g);
}

ZS_VERB(features)
{
	cleanup_jgen zs_jgen *gen = NULL;
	cleanup_free char *out = NULL, *ver = NULL;
	const struct scmp_version *sv;
	int first, ret;

	ret = zs_parse_opts("features", opts, argc, argv, none, NULL, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("features (runc features)", "", "show the enabled features", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("features", argc - first, 0, 0, err) < 0)
		return -1;
	sv = seccomp_version();
	ver = xasprintf("%u.%u.%u", sv->major, sv->minor, sv->micro);
	gen = zs_jgen_new(true);
	zs_jgen_map_open(gen);
	zs_jgen_kv_string(gen, "ociVersionMin", "1.0.0");
	zs_jgen_kv_string(gen, "ociVersionMax", "1.0.2-dev");
	strings(gen, "hooks", hooks);
	strings(gen, "mountOptions", mount_opts);
	linux_part(gen);
	zs_jgen_key(gen, "annotations");
	zs_jgen_map_open(gen);
	zs_jgen_kv_string(gen, "io.github.seccomp.libseccomp.version", ver);
	zs_jgen_kv_string(gen, "org.opencontainers.runc.checkpoint.enabled", "false");
	zs_jgen_kv_string(gen, "org.zanshin.version", "0.1.0");
	zs_jgen_map_close(gen);
	zs_jgen_map_close(gen);
	out = zs_jgen_result(gen, NULL);
	printf("%s\n", out);
	return 0;
}
