# Tests of the cgroup and seccomp library (lib/cgroup*.c, lib/seccomp.c):
# C programs under tests/unit/{cgroup,seccomp}/, run by tests/unit/cgroup.sh
# and tests/unit/seccomp.sh.  Flags and libraries come from mk/runtime.mk.

R2_TEST_SRCS := $(wildcard tests/unit/cgroup/*.c tests/unit/seccomp/*.c)
R2_TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/r2/%,$(R2_TEST_SRCS))

.PHONY: cgroup-tests
all: cgroup-tests
cgroup-tests: $(R2_TEST_BINS)

$(BUILD)/tests/r2/%: tests/unit/%.c $(BUILD)/lib/libzanshin.a
	@mkdir -p $(dir $@)
	$(CC) $(ZS_CFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/lib/libzanshin.a $(ZS_LIBS)
