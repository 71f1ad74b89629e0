# Fuzz targets (libFuzzer, clang): `make fuzz` builds build/fuzz/*;
# tests/fuzz/run.sh runs each for a few seconds from a seed corpus (a real
# CRIU image; configs and records the runtime writes).  The library is
# compiled once more with ASan and UBSan into build/fuzz/obj; each target
# links what it uses from it.
#   criu_image_fuzz  CRIU image readers (image check/info/tasks)
#   config_fuzz      OCI config.json (lib/config.c)
#   settings_fuzz    zanshin.json (lib/settings.c)
#   manifest_fuzz    a generation's manifest.json and lineage.json
#   agent_request_fuzz  what a peer sends a move's target (frames; offer,
#                    bundle, image, file headers: agent/peer_request.c)

FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer $(FUZZ_SAN) -Iinclude -I$(BUILD)/include
FUZZ_OBJ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN) -Iinclude -I$(BUILD)/include
FUZZ_LIB_SRCS := $(wildcard lib/*.c)
FUZZ_LIB_OBJS := $(patsubst lib/%.c,$(BUILD)/fuzz/obj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_TARGETS := criu_image config settings manifest agent_request
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/%_fuzz,$(FUZZ_TARGETS))

.PHONY: fuzz
fuzz: $(FUZZ_BINS)

$(BUILD)/fuzz/obj/%.o: lib/%.c $(wildcard lib/*.h include/zanshin/*.h) | $(BUILD)/lib/libcriu.a
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_OBJ_CFLAGS) -c -o $@ $<

$(BUILD)/fuzz/libzanshin-fuzz.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/fuzz/%_fuzz: tests/fuzz/%_fuzz.c $(BUILD)/fuzz/libzanshin-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(BUILD)/fuzz/libzanshin-fuzz.a $(BUILD)/lib/libcriu.a \
		-lprotobuf-c -lgnutls -lyajl -lseccomp -lcap

# the agent's request checks: agent/peer_request.c with the target
$(BUILD)/fuzz/agent_request_fuzz: tests/fuzz/agent_request_fuzz.c agent/peer_request.c agent/peer_request.h \
		agent/agent.h $(BUILD)/fuzz/libzanshin-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iagent -o $@ tests/fuzz/agent_request_fuzz.c agent/peer_request.c \
		$(BUILD)/fuzz/libzanshin-fuzz.a $(BUILD)/lib/libcriu.a -lprotobuf-c -lgnutls -lyajl -lseccomp -lcap
