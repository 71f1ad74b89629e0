# zanshin-api, the coordinator: build/bin/zanshin-api (coordinator/*.c),
# linked with libzanshin.a, libmicrohttpd, gnutls, libsqlite3 and libpq.
# The agent (heartbeats) and the runtime (`zanshin cluster`) speak to it
# with libcurl.  Included by the top-level Makefile after mk/runtime.mk.

ZS_COORD_SRCS := $(wildcard coordinator/*.c)
ZS_COORD_OBJS := $(patsubst coordinator/%.c,$(BUILD)/obj/coordinator/%.o,$(ZS_COORD_SRCS))
ZS_COORD_CFLAGS := -I/usr/include/postgresql
ZS_COORD_LIBS := -lmicrohttpd -lsqlite3 -lpq -lgnutls -lcurl -lpthread

.PHONY: coordinator
all: coordinator
coordinator: $(BUILD)/bin/zanshin-api

$(BUILD)/obj/coordinator/%.o: coordinator/%.c | $(BUILD)/bin/criu
	@mkdir -p $(dir $@)
	$(CC) $(ZS_CFLAGS) $(ZS_COORD_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/bin/zanshin-api: $(ZS_COORD_OBJS) $(BUILD)/lib/libzanshin.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(ZS_COORD_OBJS) $(BUILD)/lib/libzanshin.a $(ZS_LIBS) $(ZS_COORD_LIBS)

-include $(ZS_COORD_OBJS:.o=.d)

.PHONY: install-coordinator
install: install-coordinator
install-coordinator: $(BUILD)/bin/zanshin-api
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(BUILD)/bin/zanshin-api $(DESTDIR)$(PREFIX)/sbin/zanshin-api
	install -m 0644 coordinator/zanshin-api.service $(DESTDIR)$(PREFIX)/lib/systemd/system/zanshin-api.service

# the agent and the runtime talk to the coordinator (lib/coord_client.c)
$(BUILD)/bin/zanshind $(BUILD)/bin/zanshin: ZS_LIBS += -lcurl
