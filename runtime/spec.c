/* zanshin spec — write runc 1.1's default config.json (or --rootless). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "zanshin/utils.h"

enum { O_BUNDLE = 1, O_ROOTLESS };

static const struct zs_optdef opts[] = {
    {"bundle", 'b', true, O_BUNDLE, "path to the root of the bundle directory"},
    {"rootless", 0, false, O_ROOTLESS, "generate a configuration for a rootless container"},
    {NULL, 0, false, 0, NULL},
};

struct sopts {
	const char *bundle;
	bool rootless;
};

static int cb(int id, const char *v, void *p)
{
	struct sopts *s = p;

	if (id == O_BUNDLE)
		s->bundle = v;
	else
		s->rootless = zs_opt_bool(v);
	return 0;
}

static const char *spec_head =
    "{\n\t\"ociVersion\": \"1.0.2-dev\",\n\t\"process\": {\n\t\t\"terminal\": true,\n\t\t\"user\": {\n"
    "\t\t\t\"uid\": 0,\n\t\t\t\"gid\": 0\n\t\t},\n\t\t\"args\": [\n\t\t\t\"sh\"\n\t\t],\n\t\t\"env\": [\n"
    "\t\t\t\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n\t\t\t\"TERM=xterm\"\n"
    "\t\t],\n\t\t\"cwd\": \"/\",\n\t\t\"capabilities\": {\n"
    "\t\t\t\"bounding\": "
    "[\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t],\n"
    "\t\t\t\"effective\": "
    "[\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t],\n"
    "\t\t\t\"permitted\": "
    "[\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t],\n"
    "\t\t\t\"ambient\": "
    "[\n\t\t\t\t\"CAP_AUDIT_WRITE\",\n\t\t\t\t\"CAP_KILL\",\n\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n\t\t\t]\n"
    "\t\t},\n\t\t\"rlimits\": [\n\t\t\t{\n\t\t\t\t\"type\": \"RLIMIT_NOFILE\",\n\t\t\t\t\"hard\": 1024,\n"
    "\t\t\t\t\"soft\": 1024\n\t\t\t}\n\t\t],\n\t\t\"noNewPrivileges\": true\n\t},\n"
    "\t\"root\": {\n\t\t\"path\": \"rootfs\",\n\t\t\"readonly\": true\n\t},\n\t\"hostname\": \"runc\",\n"
    "\t\"mounts\": [\n"
    "\t\t{\n\t\t\t\"destination\": \"/proc\",\n\t\t\t\"type\": \"proc\",\n\t\t\t\"source\": \"proc\"\n\t\t},\n"
    "\t\t{\n\t\t\t\"destination\": \"/dev\",\n\t\t\t\"type\": \"tmpfs\",\n\t\t\t\"source\": \"tmpfs\",\n"
    "\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"strictatime\",\n\t\t\t\t\"mode=755\",\n"
    "\t\t\t\t\"size=65536k\"\n\t\t\t]\n\t\t},\n";

static const char *devpts_root =
    "\t\t{\n\t\t\t\"destination\": \"/dev/pts\",\n\t\t\t\"type\": \"devpts\",\n\t\t\t\"source\": \"devpts\",\n"
    "\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"newinstance\",\n"
    "\t\t\t\t\"ptmxmode=0666\",\n\t\t\t\t\"mode=0620\",\n\t\t\t\t\"gid=5\"\n\t\t\t]\n\t\t},\n";
static const char *devpts_rootless =
    "\t\t{\n\t\t\t\"destination\": \"/dev/pts\",\n\t\t\t\"type\": \"devpts\",\n\t\t\t\"source\": \"devpts\",\n"
    "\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"newinstance\",\n"
    "\t\t\t\t\"ptmxmode=0666\",\n\t\t\t\t\"mode=0620\"\n\t\t\t]\n\t\t},\n";

static const char *spec_mid =
    "\t\t{\n\t\t\t\"destination\": \"/dev/shm\",\n\t\t\t\"type\": \"tmpfs\",\n\t\t\t\"source\": \"shm\",\n"
    "\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"mode=1777\",\n"
    "\t\t\t\t\"size=65536k\"\n\t\t\t]\n\t\t},\n"
    "\t\t{\n\t\t\t\"destination\": \"/dev/mqueue\",\n\t\t\t\"type\": \"mqueue\",\n\t\t\t\"source\": \"mqueue\",\n"
    "\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\"\n\t\t\t]\n\t\t},\n";

static const char *sys_root =
    "\t\t{\n\t\t\t\"destination\": \"/sys\",\n\t\t\t\"type\": \"sysfs\",\n\t\t\t\"source\": \"sysfs\",\n"
    "\t\t\t\"options\": "
    "[\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"ro\"\n\t\t\t]\n\t\t},\n"
    "\t\t{\n\t\t\t\"destination\": \"/sys/fs/cgroup\",\n\t\t\t\"type\": \"cgroup\",\n\t\t\t\"source\": \"cgroup\",\n"
    "\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"relatime\",\n"
    "\t\t\t\t\"ro\"\n\t\t\t]\n\t\t}\n\t],\n";
static const char *sys_rootless =
    "\t\t{\n\t\t\t\"destination\": \"/sys\",\n\t\t\t\"type\": \"none\",\n\t\t\t\"source\": \"/sys\",\n"
    "\t\t\t\"options\": [\n\t\t\t\t\"rbind\",\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n"
    "\t\t\t\t\"ro\"\n\t\t\t]\n\t\t},\n"
    "\t\t{\n\t\t\t\"destination\": \"/sys/fs/cgroup\",\n\t\t\t\"type\": \"cgroup\",\n\t\t\t\"source\": \"cgroup\",\n"
    "\t\t\t\"options\": [\n\t\t\t\t\"nosuid\",\n\t\t\t\t\"noexec\",\n\t\t\t\t\"nodev\",\n\t\t\t\t\"relatime\",\n"
    "\t\t\t\t\"ro\"\n\t\t\t]\n\t\t}\n\t],\n";

static const char *linux_root =
    "\t\"linux\": {\n\t\t\"resources\": {\n\t\t\t\"devices\": [\n\t\t\t\t{\n"
    "\t\t\t\t\t\"allow\": false,\n\t\t\t\t\t\"access\": \"rwm\"\n\t\t\t\t}\n\t\t\t]\n\t\t},\n"
    "\t\t\"namespaces\": [\n\t\t\t{\n\t\t\t\t\"type\": \"pid\"\n\t\t\t},\n"
    "\t\t\t{\n\t\t\t\t\"type\": \"network\"\n\t\t\t},\n";

static const char *spec_tail =
    "\t\t\t{\n\t\t\t\t\"type\": \"ipc\"\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"type\": \"uts\"\n\t\t\t},\n"
    "\t\t\t{\n\t\t\t\t\"type\": \"mount\"\n\t\t\t}%s\n\t\t],\n"
    "\t\t\"maskedPaths\": [\n\t\t\t\"/proc/acpi\",\n\t\t\t\"/proc/asound\",\n\t\t\t\"/proc/kcore\",\n"
    "\t\t\t\"/proc/keys\",\n\t\t\t\"/proc/latency_stats\",\n\t\t\t\"/proc/timer_list\",\n"
    "\t\t\t\"/proc/timer_stats\",\n\t\t\t\"/proc/sched_debug\",\n\t\t\t\"/sys/firmware\",\n"
    "\t\t\t\"/proc/scsi\"\n\t\t],\n"
    "\t\t\"readonlyPaths\": [\n\t\t\t\"/proc/bus\",\n\t\t\t\"/proc/fs\",\n\t\t\t\"/proc/irq\",\n"
    "\t\t\t\"/proc/sys\",\n\t\t\t\"/proc/sysrq-trigger\"\n\t\t]\n\t}\n}";

static char *build_spec(bool rootless)
{
	cleanup_free char *lx = NULL, *tail = NULL;

	if (rootless) {
		lx = xasprintf("\t\"linux\": {\n\t\t\"uidMappings\": [\n\t\t\t{\n\t\t\t\t\"containerID\": 0,\n"
			       "\t\t\t\t\"hostID\": %u,\n\t\t\t\t\"size\": 1\n\t\t\t}\n\t\t],\n"
			       "\t\t\"gidMappings\": [\n\t\t\t{\n\t\t\t\t\"containerID\": 0,\n"
			       "\t\t\t\t\"hostID\": %u,\n\t\t\t\t\"size\": 1\n\t\t\t}\n\t\t],\n"
			       "\t\t\"namespaces\": [\n\t\t\t{\n\t\t\t\t\"type\": \"pid\"\n\t\t\t},\n",
			       (unsigned) getuid(), (unsigned) getgid());
		tail = xasprintf(spec_tail, ",\n\t\t\t{\n\t\t\t\t\"type\": \"user\"\n\t\t\t}");
	} else {
		lx = xstrdup(linux_root);
		tail = xasprintf(spec_tail, "");
	}
	return xasprintf("%s%s%s%s%s%s", spec_head, rootless ? devpts_rootless : devpts_root, spec_mid,
			 rootless ? sys_rootless : sys_root, lx, tail);
}

ZS_VERB(spec)
{
	struct sopts s = {0};
	cleanup_free char *path = NULL, *text = NULL;
	cleanup_close int fd = -1;
	int first, ret;

	ret = zs_parse_opts("spec", opts, argc, argv, cb, &s, &first, err);
	if (ret == ZS_CLI_HELP) {
		zs_print_usage("spec (runc spec)", "", "create a new specification file", opts);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (zs_check_args("spec", argc - first, 0, 0, err) < 0)
		return -1;
	path = s.bundle ? xasprintf("%s/config.json", s.bundle) : xstrdup("config.json");
	if (s.bundle && access(s.bundle, F_OK) < 0)
		return zs_make_error(err, errno, "bundle `%s`", s.bundle);
	if (access(path, F_OK) == 0)
		return zs_make_error(err, 0, "File %s exists. Remove it first", path);
	text = build_spec(s.rootless);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return zs_make_error(err, errno, "create `%s`", path);
	if (write_all(fd, text, strlen(text)) < 0)
		return zs_make_error(err, errno, "write `%s`", path);
	return 0;
}
