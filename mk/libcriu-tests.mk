# Test helper that drives CRIU through our libcriu (tests/libcriu/).
all: $(BUILD)/bin/zs-criu-rpc
$(BUILD)/bin/zs-criu-rpc: tests/libcriu/zs-criu-rpc.c $(BUILD)/bin/criu
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -I$(BUILD)/include -o $@ $< -L$(BUILD)/lib -Wl,-rpath,$(BUILD)/lib -lcriu
