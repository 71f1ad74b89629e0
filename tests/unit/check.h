/* TAP for the C unit tests: check() prints "ok N - name" or "not ok N -
 * name" (the lines tests/unit/run.sh collects), check_skip() a skipped
 * test, and check_done() the plan "1..N" and main's exit status: 1 when
 * any check failed. */
#ifndef ZS_TESTS_UNIT_CHECK_H
#define ZS_TESTS_UNIT_CHECK_H

#include <stdio.h>

static int check_n, check_failed;

static inline void check(int ok, const char *name)
{
	check_n++;
	if (!ok)
		check_failed++;
	printf("%sok %d - %s\n", ok ? "" : "not ", check_n, name);
}

static inline void check_skip(const char *why)
{
	printf("ok %d - # SKIP %s\n", ++check_n, why);
}

static inline int check_done(void)
{
	printf("1..%d\n", check_n);
	return check_failed ? 1 : 0;
}

#endif
