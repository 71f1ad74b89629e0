/* zanshin — the sanitizers' defaults in a `make SANITIZE=...` build
 * (mk/sanitize.mk links this into zanshin and zanshind; docs/testing.md).
 *
 * Reports go to files under build/test-logs/sanitizers/ (san.PID), not to stderr: the runtime's stderr is often the
 * container's or a shim's, and a report must survive every suite, whoever reads the output.  tests/sanitize/report.sh
 * lists them after `make check`.
 *
 * detect_leaks=0: the runtime is a short-lived command that exits with its
 * allocations (runc and crun leave them too), and LeakSanitizer stops the
 * world with ptrace in an atexit handler: in the children that enter a
 * container (namespaces, seccomp, a root they pivoted into, no /proc of
 * ours) it fails or reports from a place where the log path does not
 * exist.  Leaks are checked in the unit tests instead (their own
 * binaries, ASAN_OPTIONS=detect_leaks=1). */
#ifndef ZS_SAN_LOG
#define ZS_SAN_LOG "/tmp"
#endif

#include <dlfcn.h>
#include <sanitizer/common_interface_defs.h>

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *__asan_default_options(void)
{
	return "detect_leaks=0:halt_on_error=1";
}

const char *__ubsan_default_options(void)
{
	return "print_stacktrace=1:halt_on_error=1";
}

/* log_path is a flag of each runtime: with gcc, ASan and UBSan are two
 * shared libraries with a copy of the common code each, and UBSan (a plugin
 * of ASan there) reads no log_path at all.  Each gets the report path here,
 * before main, through its own __sanitizer_set_report_path. */
static void set_path(const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
	void (*set)(const char *) = h ? (void (*)(const char *)) dlsym(h, "__sanitizer_set_report_path") : NULL;

	if (set)
		set(ZS_SAN_LOG "/san");
}

__attribute__((constructor)) static void report_path(void)
{
	__sanitizer_set_report_path(ZS_SAN_LOG "/san");
	set_path("libasan.so.8");
	set_path("libubsan.so.1");
}
