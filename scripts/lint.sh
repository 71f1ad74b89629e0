#!/bin/bash
# make lint: formatting and the house rules a formatter cannot see
# (STYLE.md item 9). Exits non-zero when something is found.
#   - clang-format (.clang-format) on our C code
#   - no %m in format strings (errno is carried by the error object)
#   - O_CLOEXEC on every open()/openat() of ours
#   - no bare malloc/calloc/realloc/strdup (xmalloc & co. abort on OOM)
#   - patches in criu-patches/ are listed in series and have a subject
set -u
cd "$(dirname "$0")/.." || exit 1
bad=0
note() { echo "lint: $*"; bad=1; }

mapfile -t csrc < <(git ls-files -co --exclude-standard '*.c' '*.h' | grep -Ev '^(criu-patches|build)/')

if command -v clang-format >/dev/null; then
	for f in "${csrc[@]}"; do
		if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
			note "$f: not clang-formatted (clang-format -i $f)"
		fi
	done
else
	note "clang-format not installed"
fi

mine=$(printf '%s\n' "${csrc[@]}" | grep -Ev '^tests/')
report() { # PREFIX: lines on stdin become lint findings
	local line
	while IFS= read -r line; do note "$1: $line"; done
}
# shellcheck disable=SC2086
report "%m in a format" < <(grep -nE '%m[^a-zA-Z]' $mine 2>/dev/null | grep -v strftime)
# shellcheck disable=SC2086
report "open without O_CLOEXEC" < <(grep -nE '\bopen(at)?\s*\(' $mine 2>/dev/null | grep -v O_CLOEXEC |
	grep -Ev ':\s*(//|\*|/\*)' | grep -vE 'open\(\)|openat\(\)|#define|xopen|safe_open')
# shellcheck disable=SC2086
report "bare allocation (use xmalloc & co.)" < <(grep -nE '(^|[^x_a-z])(malloc|calloc|realloc|strdup)\s*\(' $mine 2>/dev/null |
	grep -v 'lib/utils.c')

while read -r p; do
	case "$p" in "" | \#*) continue ;; esac
	[ -f "criu-patches/$p" ] || note "criu-patches/series names missing $p"
	grep -q '^Subject: ' "criu-patches/$p" 2>/dev/null || note "criu-patches/$p has no Subject"
done <criu-patches/series
for p in criu-patches/*.patch; do
	grep -qxF "$(basename "$p")" criu-patches/series || note "$p is not in criu-patches/series"
done

[ $bad = 0 ] && echo "lint: clean"
exit $bad
