# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# What the soaks (soak.sh, agent-soak.sh) share: the seeded generator,
# failures that say how to replay them, fault counting. Sourced after
# tests/cr/lib.sh; the soak sets RNG (from its seed), SEED, SOAK_MAKE (the
# make target that replays it), n_steps, n_faults and faults_by_kind.

# rnd N: REPLY = a number in [0, N) (an LCG: replays need only
# determinism; never called in a subshell, where bash would reseed)
rnd() {
	RNG=$(((RNG * 1103515245 + 12345) % 2147483648))
	REPLY=$(((RNG >> 4) % $1))
}
# pick WORD...: REPLY = one of the words
pick() {
	local a=("$@")
	rnd ${#a[@]}
	REPLY=${a[REPLY]}
}

# fail_step WHAT WHY...: a broken promise, with what replays it
fail_step() {
	local what=$1
	shift
	t_fail "step $n_steps: $what (seed $SEED)" "$@" "replay: make $SOAK_MAKE SEED=$SEED STEPS=$n_steps"
}

# fault KIND [DETAIL]: one injected fault, counted by kind
fault() {
	n_faults=$((n_faults + 1))
	faults_by_kind[$1]=$((${faults_by_kind[$1]:-0} + 1))
	t_diag "step $n_steps: fault $1${2:+ ($2)}"
}
