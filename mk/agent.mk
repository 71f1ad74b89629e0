# zanshind, the node agent: build/bin/zanshind (agent/*.c), linked with
# libzanshin.a.  Included by the top-level Makefile after mk/runtime.mk.

ZS_AGENT_SRCS := $(wildcard agent/*.c)
ZS_AGENT_OBJS := $(patsubst agent/%.c,$(BUILD)/obj/agent/%.o,$(ZS_AGENT_SRCS))

.PHONY: agent
all: agent
agent: $(BUILD)/bin/zanshind

$(BUILD)/obj/agent/%.o: agent/%.c | $(BUILD)/bin/criu
	@mkdir -p $(dir $@)
	$(CC) $(ZS_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/bin/zanshind: $(ZS_AGENT_OBJS) $(BUILD)/lib/libzanshin.a $(BUILD)/bin/criu
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(ZS_AGENT_OBJS) $(BUILD)/lib/libzanshin.a $(ZS_LIBS)

-include $(ZS_AGENT_OBJS:.o=.d)

.PHONY: install-agent
install: install-agent
install-agent: $(BUILD)/bin/zanshind
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(BUILD)/bin/zanshind $(DESTDIR)$(PREFIX)/sbin/zanshind
	install -m 0644 agent/zanshind.service $(DESTDIR)$(PREFIX)/lib/systemd/system/zanshind.service
