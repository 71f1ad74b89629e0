# make SANITIZE=address,undefined (any -fsanitize= list): the runtime
# (build/bin/zanshin), zanshind, libzanshin.a and the unit and cgroup/seccomp
# test programs built with the sanitizers; CRIU, libcriu, zs-criu-rpc and the
# test workload are not.  `make check SANITIZE=...` runs SAN_SUITES (the
# suites that exercise those binaries; SUITES=... picks others) and then
# tests/sanitize/report.sh, which fails on any report.  docs/testing.md.
# Objects built with other flags are rebuilt (the stamp names the list).
SANITIZE ?=
san_comma := ,
SAN_STAMP := $(BUILD)/obj/.sanitize-$(if $(SANITIZE),$(subst $(san_comma),-,$(SANITIZE)),none)
SAN_LOG := $(BUILD)/test-logs/sanitizers
SAN_DEFAULTS := $(BUILD)/obj/sanitize_defaults.o
SAN_SUITES := unit/ runtime/run.sh security/run.sh cr/cli.sh cr/bad-input.sh cr/bundle.sh cr/scripting.sh \
	cr/image-verify.sh cr/store-live.sh criu/remnant.sh agent/move.sh

ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
CFLAGS += $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS) $(SAN_DEFAULTS)
CHECK_SUITES := $(or $(SUITES),$(SAN_SUITES))
# ASan/UBSan make the runtime 2-3 times slower
export TIMEOUT_SCALE ?= 3
CHECK_AFTER := tests/sanitize/report.sh "$(SAN_LOG)"
$(BUILD)/bin/zanshin $(BUILD)/bin/zanshind: $(SAN_DEFAULTS)
else
CHECK_SUITES := $(SUITES)
CHECK_AFTER := true
endif

$(SAN_DEFAULTS): tests/sanitize/defaults.c $(SAN_STAMP)
	@mkdir -p $(dir $@) $(SAN_LOG)
	$(CC) -O2 -g -Wall -DZS_SAN_LOG='"$(SAN_LOG)"' -c -o $@ $<

$(SAN_STAMP):
	@mkdir -p $(dir $@)
	@rm -f $(BUILD)/obj/.sanitize-*
	@touch $@

$(ZS_LIB_OBJS) $(ZS_RT_OBJS) $(ZS_AGENT_OBJS) $(ZS_UNIT_BINS) $(R2_TEST_BINS): $(SAN_STAMP)
