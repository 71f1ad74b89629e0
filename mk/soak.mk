# The randomized fault-injection soak (tests/soak/, issue 16):
#   make soak [SEED=S] [STEPS=N] [SOAK_MIB=M]
# replays exactly with the same SEED; `make check` runs a short one
# (tests/soak/run.sh). The long run's figures: tests/soak/long.sh writes
# bench/results/soak-*.
.PHONY: soak
soak: all
	@SEED=$(SEED) STEPS=$(STEPS) tests/soak/soak.sh

# The agent soak: moves between three zanshind nodes with faults (agent
# kills, link cuts, cancels, a full target store):
#   make soak-agent [SEED=S] [STEPS=N] [SOAK_MIB=M] [SOAK_MODES="stop-copy post-copy"]
.PHONY: soak-agent
soak-agent: all
	@SEED=$(SEED) STEPS=$(STEPS) tests/soak/agent-soak.sh
