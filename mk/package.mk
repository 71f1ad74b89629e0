# Man pages (docs/man/*.md -> build/man/, go-md2man from Debian) and the
# Debian package (scripts/mkdeb.sh -> build/zanshin_<version>_<arch>.deb).
MAN_SRCS := $(wildcard docs/man/*.md)
MAN_PAGES := $(patsubst docs/man/%.md,$(BUILD)/man/%,$(MAN_SRCS))

.PHONY: man deb
man: $(MAN_PAGES)

$(BUILD)/man/%: docs/man/%.md
	@mkdir -p $(dir $@)
	@command -v go-md2man >/dev/null || { echo "go-md2man missing: make deps" >&2; exit 1; }
	go-md2man -in $< -out $@

deb: all man
	@scripts/mkdeb.sh
