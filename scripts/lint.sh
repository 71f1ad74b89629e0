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

mapfile -t csrc < <(git ls-files '*.c' '*.h' | grep -Ev '^(criu-patches|build)/')

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
grep -nE '%m[^a-zA-Z]' $mine 2>/dev/null | grep -v strftime | sed 's/^/lint: %m in format: /' && bad=1
grep -nE '\bopen(at)?\s*\(' $mine 2>/dev/null | grep -v O_CLOEXEC | grep -Ev '^\S+:\s*[0-9]+:\s*(//|\*|/\*)' |
	grep -vE 'open\(\)|openat\(\)|#define|xopen|safe_open' | sed 's/^/lint: open without O_CLOEXEC: /' && bad=1
grep -nE '(^|[^x_a-z])(malloc|calloc|realloc|strdup)\s*\(' $mine 2>/dev/null | grep -v 'lib/utils.c' |
	sed 's/^/lint: bare allocation (use xmalloc & co.): /' && bad=1

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
