# zs-workload: the process tree with known memory that the CRIU tests, the
# demo and the benchmarks checkpoint, restore and verify (tests/workload/).
WORKLOAD_SRCS := $(wildcard tests/workload/*.c)
WORKLOAD_HDRS := $(wildcard tests/workload/*.h)
WORKLOAD_CFLAGS := -O2 -g -Wall -Wextra -Werror -pthread

all: $(BUILD)/bin/zs-workload

$(BUILD)/bin/zs-workload: $(WORKLOAD_SRCS) $(WORKLOAD_HDRS) mk/workload.mk
	@mkdir -p $(dir $@)
	$(CC) $(WORKLOAD_CFLAGS) -o $@ $(WORKLOAD_SRCS)
