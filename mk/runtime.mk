# zanshin runtime: build/bin/zanshin and build/lib/libzanshin.a (lib/*.c).
# Included by the top-level Makefile.

ZS_CFLAGS := -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Werror=implicit-function-declaration -Iinclude -I$(BUILD)/include -MMD -MP
# libcriu is linked statically (build/lib/libcriu.a, our patched build): the
# create/run/exec path re-executes from a sealed memfd where $$ORIGIN rpaths
# cannot work, and a system libcriu must never be picked up instead.
ZS_LIBS := $(BUILD)/lib/libcriu.a -lprotobuf-c -lgnutls -lzstd -lyajl -lseccomp -lcap

ZS_LIB_SRCS := $(wildcard lib/*.c)
ZS_LIB_OBJS := $(patsubst lib/%.c,$(BUILD)/obj/lib/%.o,$(ZS_LIB_SRCS))
ZS_RT_SRCS := $(wildcard runtime/*.c)
ZS_RT_OBJS := $(patsubst runtime/%.c,$(BUILD)/obj/runtime/%.o,$(ZS_RT_SRCS))
ZS_UNIT_SRCS := $(wildcard tests/unit/*.c)
ZS_UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(ZS_UNIT_SRCS))

.PHONY: runtime runtime-unit
all: runtime runtime-unit
runtime: $(BUILD)/bin/zanshin
runtime-unit: $(ZS_UNIT_BINS)

$(BUILD)/obj/lib/%.o: lib/%.c | $(BUILD)/bin/criu
	@mkdir -p $(dir $@)
	$(CC) $(ZS_CFLAGS) $(CFLAGS) -c -o $@ $<

ZS_COMMIT := $(shell git -C $(TOP) rev-parse --short HEAD 2>/dev/null || echo unknown)
$(BUILD)/obj/runtime/main.o: CFLAGS += -DZANSHIN_COMMIT='"$(ZS_COMMIT)"'

$(BUILD)/obj/runtime/%.o: runtime/%.c | $(BUILD)/bin/criu
	@mkdir -p $(dir $@)
	$(CC) $(ZS_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/lib/libzanshin.a: $(ZS_LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/zanshin: $(ZS_RT_OBJS) $(BUILD)/lib/libzanshin.a $(BUILD)/bin/criu
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(ZS_RT_OBJS) $(BUILD)/lib/libzanshin.a $(ZS_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/lib/libzanshin.a $(BUILD)/bin/criu
	@mkdir -p $(dir $@)
	$(CC) $(ZS_CFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/lib/libzanshin.a $(ZS_LIBS)

-include $(ZS_LIB_OBJS:.o=.d) $(ZS_RT_OBJS:.o=.d)

.PHONY: install-runtime
install: install-runtime
install-runtime: $(BUILD)/bin/zanshin
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/zanshin
	install -m 0755 $(BUILD)/bin/zanshin $(DESTDIR)$(PREFIX)/bin/zanshin
	install -m 0644 docs/man/zanshin.8.md $(DESTDIR)$(PREFIX)/share/doc/zanshin/zanshin.8.md
