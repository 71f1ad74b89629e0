# Fuzz targets (libFuzzer, clang): `make fuzz` builds build/fuzz/*;
# tests/fuzz/run.sh runs each for a few seconds from a seed corpus made of
# a real CRIU image.  Only the sources a target needs are compiled in, with
# ASan and UBSan.

FUZZ_CC ?= clang
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Iinclude -I$(BUILD)/include
FUZZ_IMAGE_SRCS := lib/criu_image.c lib/criu_image_pb.c lib/criu_image_check.c lib/criu_image_tasks.c \
	lib/utils.c lib/error.c

.PHONY: fuzz
fuzz: $(BUILD)/fuzz/criu_image_fuzz

$(BUILD)/fuzz/criu_image_fuzz: tests/fuzz/criu_image_fuzz.c $(FUZZ_IMAGE_SRCS) $(wildcard lib/*.h include/zanshin/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/criu_image_fuzz.c $(FUZZ_IMAGE_SRCS)
