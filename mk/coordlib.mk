# The coordinator's pure libraries (timetable, scheduler, policies, move modes):
# build/lib/libzanshin-coord.a, linked into zanshin-api, their unit tests
# (tests/unit/coord/*_test.c -> build/tests/unit/, run by tests/unit/run.sh)
# and the placement bench (bench/placement.sh).

ZS_COORDLIB_SRCS := coordinator/timetable.c coordinator/sched.c coordinator/policy.c coordinator/move_mode.c
ZS_COORDLIB_OBJS := $(patsubst coordinator/%.c,$(BUILD)/obj/coordlib/%.o,$(ZS_COORDLIB_SRCS))
ZS_COORDLIB_LIBS := $(BUILD)/lib/libzanshin-coord.a $(BUILD)/lib/libzanshin.a -lical -lm
ZS_COORD_UNIT_SRCS := $(wildcard tests/unit/coord/*_test.c)
ZS_COORD_UNIT_BINS := $(patsubst tests/unit/coord/%.c,$(BUILD)/tests/unit/%,$(ZS_COORD_UNIT_SRCS))

.PHONY: coordlib
all: coordlib
coordlib: $(BUILD)/lib/libzanshin-coord.a $(ZS_COORD_UNIT_BINS) $(BUILD)/bench/placement

$(ZS_COORDLIB_OBJS): $(BUILD)/obj/coordlib/%.o: coordinator/%.c | $(BUILD)/bin/criu
	@mkdir -p $(dir $@)
	$(CC) $(ZS_CFLAGS) $(CFLAGS) -Icoordinator -c -o $@ $<

$(BUILD)/lib/libzanshin-coord.a: $(ZS_COORDLIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(ZS_COORD_UNIT_BINS): $(BUILD)/tests/unit/%: tests/unit/coord/%.c $(BUILD)/lib/libzanshin-coord.a $(BUILD)/lib/libzanshin.a
	@mkdir -p $(dir $@)
	$(CC) $(ZS_CFLAGS) $(CFLAGS) -Icoordinator -o $@ $< $(ZS_COORDLIB_LIBS) $(ZS_LIBS)

$(BUILD)/bench/placement: bench/placement.c $(BUILD)/lib/libzanshin-coord.a $(BUILD)/lib/libzanshin.a
	@mkdir -p $(dir $@)
	$(CC) $(ZS_CFLAGS) $(CFLAGS) -Icoordinator -o $@ $< $(ZS_COORDLIB_LIBS) $(ZS_LIBS)

-include $(ZS_COORDLIB_OBJS:.o=.d)

# zanshin-api links the libraries above (coordinator/*.c are all built into it)
$(BUILD)/bin/zanshin-api: ZS_COORD_LIBS += -lical -lm
$(BUILD)/obj/coordinator/main.o $(BUILD)/obj/coordinator/web.o: CFLAGS += -DZS_WEB_ROOT='"$(PREFIX)/share/zanshin-api/web"'

.PHONY: install-web
install: install-web
install-web:
	install -d $(DESTDIR)$(PREFIX)/share/zanshin-api/web
	install -m 0644 coordinator/web/index.html coordinator/web/app.js coordinator/web/style.css \
		$(DESTDIR)$(PREFIX)/share/zanshin-api/web/

coordlib: $(BUILD)/bench/campus-day
$(BUILD)/bench/campus-day: bench/campus-day.c $(BUILD)/lib/libzanshin-coord.a $(BUILD)/lib/libzanshin.a
	@mkdir -p $(dir $@)
	$(CC) $(ZS_CFLAGS) $(CFLAGS) -Icoordinator -o $@ $< $(ZS_COORDLIB_LIBS) $(ZS_LIBS)
