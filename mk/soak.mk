# The randomized fault-injection soak (tests/soak/, issue 16):
#   make soak [SEED=S] [STEPS=N] [SOAK_MIB=M]
# replays exactly with the same SEED; `make check` runs a short one
# (tests/soak/run.sh). The long run's figures: tests/soak/long.sh writes
# bench/results/soak-*.
.PHONY: soak
soak: all
	@SEED=$(SEED) STEPS=$(STEPS) tests/soak/soak.sh
