# sluice -- plain GNU make. `make` builds build/sluiced, build/sluice and
# build/plugins/demo.so; `make check` runs every test against a real
# PostgreSQL; `make run` shows the daemon working demo jobs.

VERSION := 0.1.0
B ?= build
CC ?= cc
PKGS := libpq libuv libsodium json-c inih
PREFIX ?= /usr/local

# `make V=1` shows full commands.
Q := $(if $(V),,@)
OPT ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wno-format-nonliteral -Wvla
SAN ?=
# Recursive (=) so pkg-config runs after the deps check installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
CPPFLAGS := -D_DEFAULT_SOURCE -DSLUICE_VERSION='"$(VERSION)"' -Iinclude -Isrc
ALL_CFLAGS = -std=c11 $(OPT) $(WARN) $(SAN) -fPIC -pthread $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN) -pthread $(LDFLAGS)

# Everything but the two mains, shared by the daemon, the CLI and unit tests.
CORE := log util json config migrations migrate db job outcome registry pool complete \
        fetch daemon notify keys crypto encrypt hooks insert
CLI := cli/main cli/migrate cli/enqueue cli/keygen
CORE_OBJ := $(CORE:%=$(B)/obj/%.o)
CLI_OBJ := $(CLI:%=$(B)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TEST_PLUGINS := $(patsubst tests/plugins/%.c,$(B)/tests/plugins/%.so,$(wildcard tests/plugins/*.c))

.PHONY: all deps check check-asan run clean install uninstall
all: $(B)/sluiced $(B)/sluice $(B)/plugins/demo.so

$(B)/.deps-ok: scripts/deps
	@scripts/deps build
	@mkdir -p $(B) && touch $@

deps: $(B)/.deps-ok

$(B)/obj/%.o: src/%.c $(B)/.deps-ok
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libsluice.a: $(CORE_OBJ)
	$(Q)ar rcs $@ $^

$(B)/sluiced: $(B)/obj/sluiced.o $(B)/libsluice.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -ldl -lm

$(B)/sluice: $(CLI_OBJ) $(B)/libsluice.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -ldl -lm

# Plugins see only the public header (and link what they need themselves).
$(B)/plugins/demo.so: src/plugins/demo/demo.c include/sluice/plugin.h $(B)/.deps-ok
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  PLUGIN  $@")
	$(Q)$(CC) -std=c11 $(OPT) $(WARN) $(SAN) -fPIC -shared -Iinclude \
		$(shell pkg-config --cflags json-c) -o $@ $< $(shell pkg-config --libs json-c)

$(B)/tests/plugins/%.so: tests/plugins/%.c include/sluice/plugin.h $(B)/.deps-ok
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  PLUGIN  $@")
	$(Q)$(CC) -std=c11 $(OPT) $(WARN) $(SAN) -fPIC -shared -Iinclude -o $@ $< \
		$(shell pkg-config --libs libsodium)

$(B)/tests/%: tests/unit/%.c tests/unit/unit.h $(B)/libsluice.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(ALL_CFLAGS) -o $@ $< $(B)/libsluice.a \
		$(ALL_LDFLAGS) $(PKG_LIBS) -ldl -lm

tests: all $(UNIT_BIN) $(TEST_PLUGINS)

# The whole suite against a PostgreSQL the runner starts (tests/run).
check: tests
	@scripts/deps test
	SLUICE_BUILD=$(B) tests/run

check-asan:
	$(MAKE) B=build/asan OPT='-O1 -g -fno-omit-frame-pointer' \
		SAN='-fsanitize=address,undefined -fno-sanitize-recover=all' check

run: all
	@scripts/deps test
	SLUICE_BUILD=$(B) scripts/run-demo

clean:
	rm -rf build .run

-include $(CORE_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(B)/obj/sluiced.d
