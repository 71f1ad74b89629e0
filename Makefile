# zanshin — top-level build.  See README.md.
#
#   make deps     install every Debian package the build, tests and demo need
#   make          build patched CRIU + libcriu (build/bin/criu, build/lib) and the runtime
#   make check    deps + build + every test; last line "N passed, N failed[, N skipped]"
#                 (SANITIZE=address,undefined: with ASan/UBSan, mk/sanitize.mk)
#   make demo     deps + build + the main job, printed
#   make bench    regenerate bench/results/
#   make install  PREFIX=/usr/local (zanshin in sbin/; our criu in libexec/zanshin/criu,
#                 libcriu in lib/zanshin/, so neither shadows a distribution criu; man pages)
#   make deb      build/zanshin_<version>_<arch>.deb (docs/packaging.md)
#   make lint     formatting and house rules
#   make clean

PREFIX ?= /usr/local
TOP := $(abspath .)
BUILD := $(TOP)/build
CC ?= gcc
export TOP BUILD

.PHONY: all deps criu criu-stock check demo bench bench-quick install lint clean test man deb
all: criu

deps:
	@scripts/deps.sh

criu: $(BUILD)/bin/criu
# Re-run the build script whenever the series or a patch changes; the script
# itself decides whether to re-extract.
$(BUILD)/bin/criu: criu-patches/series $(wildcard criu-patches/*.patch) scripts/criu-build.sh
	@scripts/criu-build.sh patched
	@touch $@

criu-stock: $(BUILD)/stock/bin/criu
$(BUILD)/stock/bin/criu: scripts/criu-build.sh
	@scripts/criu-build.sh stock
	@touch $@

# Component makefiles add to `all` (runtime, tests' helper programs, ...).
-include mk/*.mk

# Stock CRIU (same verified tarball, no patches) is built too: tests compare
# against it (e.g. an unpatched CRIU must still dump a tracked tree).
# SANITIZE=address,undefined: sanitized runtime and agent, SAN_SUITES, and
# the sanitizers' reports checked (mk/sanitize.mk).
check: deps
	@$(MAKE) --no-print-directory all criu-stock
	@mkdir -p $(SAN_LOG) && touch $(SAN_LOG)/.check-start
	@tests/run-all.sh $(CHECK_SUITES); rc=$$?; $(CHECK_AFTER) || rc=1; exit $$rc

test: all
	@tests/run-all.sh $(SUITES)

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo-container.sh
	@echo
	@echo "The same at the CRIU level, on a plain process:"
	@scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all criu-stock
	@bench/run-all.sh

bench-quick: deps
	@$(MAKE) --no-print-directory all criu-stock
	@BENCH_QUICK=1 bench/run-all.sh

install: all man
	install -d $(DESTDIR)$(PREFIX)/libexec/zanshin $(DESTDIR)$(PREFIX)/lib/zanshin $(DESTDIR)$(PREFIX)/include/zanshin/criu
	install -m 0755 $(BUILD)/bin/criu $(DESTDIR)$(PREFIX)/libexec/zanshin/criu
	cp -a $(BUILD)/lib/libcriu.so* $(DESTDIR)$(PREFIX)/lib/zanshin/
	install -m 0644 $(BUILD)/include/criu/* $(DESTDIR)$(PREFIX)/include/zanshin/criu/
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/bin/zanshin $(DESTDIR)$(PREFIX)/sbin/zanshin
	@for m in $(MAN_PAGES); do \
		sec=$${m##*.}; \
		install -d $(DESTDIR)$(PREFIX)/share/man/man$$sec; \
		install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$sec/; \
	done

lint:
	@scripts/lint.sh

clean:
	rm -rf $(BUILD)
