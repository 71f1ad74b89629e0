# The coordinator's database layer (coordinator/db*.c) tested on a real
# SQLite file: build/tests/unit/db_pool_test, run by tests/unit/run.sh.

ZS_COORD_DB_OBJS := $(patsubst %,$(BUILD)/obj/coordinator/%.o,db db_stmts db_sqlite db_pg db_schema)

.PHONY: coord-db-tests
all: coord-db-tests
coord-db-tests: $(BUILD)/tests/unit/db_pool_test

$(BUILD)/tests/unit/db_pool_test: tests/unit/coord_db/db_pool_test.c $(ZS_COORD_DB_OBJS) $(BUILD)/lib/libzanshin.a
	@mkdir -p $(dir $@)
	$(CC) $(ZS_CFLAGS) $(CFLAGS) -iquote coordinator -o $@ $< $(ZS_COORD_DB_OBJS) $(BUILD)/lib/libzanshin.a $(ZS_LIBS) \
		-lsqlite3 -lpq -lpthread
