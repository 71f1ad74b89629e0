# TAP helpers for shell test suites.  Source it, call t_plan-free helpers,
# finish with t_done.  Every result line is what tests/run-all.sh counts.
#   t_ok NAME            a passed test
#   t_fail NAME WHY      a failed test (WHY is printed as a diagnostic)
#   t_skip NAME WHY      a skipped test; WHY must say why
#   t_check NAME CMD...  runs CMD; ok if it exits 0
#   t_done               prints the plan; exits 1 if any failed
_t_n=0
_t_failed=0
t_ok() { _t_n=$((_t_n + 1)); echo "ok $_t_n - $1"; }
t_fail() {
	_t_n=$((_t_n + 1)); _t_failed=$((_t_failed + 1))
	echo "not ok $_t_n - $1"
	shift
	[ $# -gt 0 ] && printf '%s\n' "$*" | sed 's/^/# /'
	return 0
}
t_skip() { _t_n=$((_t_n + 1)); echo "ok $_t_n - $1 # skip ${2:?t_skip needs a reason}"; }
t_check() {
	local name=$1
	shift
	local out
	if out=$("$@" 2>&1); then t_ok "$name"; else t_fail "$name" "command: $*" "$out"; fi
}
t_diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
t_done() { echo "1..$_t_n"; [ $_t_failed -eq 0 ]; }
