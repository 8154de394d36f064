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
CORE := log util json gojson conninfo config migrations migrate db job outcome registry pool complete \
        fetch daemon notify keys crypto encrypt hooks insert cron periodic_parse \
        leader maint reindex control metrics crash
CLI := cli/main cli/migrate cli/enqueue cli/keygen cli/keys cli/reencrypt cli/jobs cli/queues \
       cli/table
CORE_OBJ := $(CORE:%=$(B)/obj/%.o)
CLI_OBJ := $(CLI:%=$(B)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TEST_PLUGINS := $(patsubst tests/plugins/%.c,$(B)/tests/plugins/%.so,$(wildcard tests/plugins/*.c))

BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/sluice
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
PLUGINDIR ?= $(LIBDIR)/sluice/plugins
PCDIR ?= $(LIBDIR)/pkgconfig

.PHONY: all deps check check-asan check-tsan check-valgrind run clean install uninstall bench \
	torture fuzz
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
	$(Q)$(CC) -std=c11 $(OPT) $(WARN) $(SAN) -fPIC -shared -Iinclude \
		$(shell pkg-config --cflags libpq) -o $@ $< $(shell pkg-config --libs libsodium libpq)

$(B)/tests/%: tests/unit/%.c tests/unit/unit.h $(B)/libsluice.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(ALL_CFLAGS) -o $@ $< $(B)/libsluice.a \
		$(ALL_LDFLAGS) $(PKG_LIBS) -ldl -lm

$(B)/tests/tools/%: tests/tools/%.c $(B)/.deps-ok
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TOOL    $@")
	$(Q)$(CC) -std=c11 -D_DEFAULT_SOURCE $(OPT) $(WARN) $(SAN) -o $@ $<

TEST_TOOLS := $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(wildcard tests/tools/*.c))
# sql-text prints the statements of src/sql.h, rendered by the library's
# sql_render.
$(B)/tests/tools/sql-text: tests/tools/sql-text.c src/sql.h $(B)/libsluice.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TOOL    $@")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(B)/libsluice.a $(ALL_LDFLAGS) $(PKG_LIBS) -ldl -lm

$(B)/bench/%: tests/bench/%.c $(B)/libsluice.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BENCH   $@")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(B)/libsluice.a $(ALL_LDFLAGS) $(PKG_LIBS) -ldl -lm

# Fault loops, long form (make check runs the short one).
torture: tests
	@scripts/deps test
	SLUICE_BUILD=$(B) tests/torture/run $(TORTURE_ARGS)

# Throughput side by side with the peers and the SQL ceiling (not a test).
bench: all $(B)/bench/ceiling $(B)/bench/crypto
	@scripts/deps test bench
	SLUICE_BUILD=$(B) tests/bench/run

# Fuzz harnesses: here replaying their corpora (a regression test in make
# check); `make fuzz` builds them with libFuzzer and explores.
FUZZERS := config conninfo envelope json row
FUZZ_REPLAY := $(FUZZERS:%=$(B)/tests/fuzz/fuzz_%)
$(B)/tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/driver.c $(B)/libsluice.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< tests/fuzz/driver.c $(B)/libsluice.a \
		$(ALL_LDFLAGS) $(PKG_LIBS) -ldl -lm

# The benchmark's tools too: 38_bench_tools runs them.
tests: all $(UNIT_BIN) $(TEST_PLUGINS) $(TEST_TOOLS) $(FUZZ_REPLAY) $(B)/bench/ceiling $(B)/bench/crypto

# The whole suite against a PostgreSQL the runner starts (tests/run).
check: tests
	@scripts/deps test
	SLUICE_BUILD=$(B) tests/run

check-asan:
	$(MAKE) B=build/asan OPT='-O1 -g -fno-omit-frame-pointer' \
		SAN='-fsanitize=address,undefined -fno-sanitize-recover=all' check

# ThreadSanitizer over the whole suite (the worker pool, cancellation,
# key-ring swaps on reload).
check-tsan:
	$(MAKE) B=build/tsan OPT='-O1 -g' SAN='-fsanitize=thread' check

# The end-to-end tests with sluiced under valgrind (memcheck, full leak
# check); any error fails the run.
VALGRIND_TESTS ?= outcomes notify encryption reload hooks control children leader periodic \
	metrics bad_input secrets shutdown timeout reindex refused
VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite
check-valgrind: tests
	@scripts/deps test valgrind
	SLUICE_BUILD=$(B) SLUICED_WRAP='$(VALGRIND)' tests/run $(VALGRIND_TESTS)

# libFuzzer (clang) over each harness for FUZZ_SECONDS; findings land in
# build/fuzz/ and become regression inputs once added to tests/fuzz/corpus.
# The library is built with fuzzer-no-link: without its coverage counters
# libFuzzer sees only the harness and explores blind.
FUZZ_SECONDS ?= 60
FB := build/fuzz
fuzz:
	@scripts/deps build fuzz
	$(MAKE) B=$(FB) CC=clang OPT='-O1 -g -fno-omit-frame-pointer' \
		SAN='-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all' $(FB)/libsluice.a
	@set -e; for f in $(FUZZERS); do \
		clang $(CPPFLAGS) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) \
			-o $(FB)/fuzz_$$f tests/fuzz/fuzz_$$f.c $(FB)/libsluice.a $(PKG_LIBS) -ldl -lm; \
		mkdir -p $(FB)/corpus-$$f $(FB)/findings; \
		echo "== fuzz_$$f for $(FUZZ_SECONDS)s"; \
		$(FB)/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix=$(FB)/findings/$$f- -print_final_stats=1 \
			$(FB)/corpus-$$f tests/fuzz/corpus/$$f 2>&1 | grep -E '^(#[0-9]|==|stat::number_of_executed_units|SUMMARY|INFO: Seed)' | tail -n 4; \
	done; \
	if ls $(FB)/findings/* >/dev/null 2>&1; then echo "findings in $(FB)/findings:"; ls $(FB)/findings; exit 1; fi

run: all
	@scripts/deps test
	SLUICE_BUILD=$(B) scripts/run-demo

# Paths substituted into the unit, the .pc file and the man pages.
SUBST = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@PREFIX@|$(PREFIX)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@PLUGINDIR@|$(PLUGINDIR)|g' \
	-e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/etc/sluice/|$(SYSCONFDIR)/sluice/|g'

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(INCLUDEDIR)/sluice \
		$(DESTDIR)$(PCDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/sluice \
		$(DESTDIR)$(DOCDIR)
	install -m 0755 $(B)/sluiced $(B)/sluice $(DESTDIR)$(BINDIR)/
	install -m 0755 $(B)/plugins/demo.so $(DESTDIR)$(PLUGINDIR)/
	install -m 0644 include/sluice/plugin.h $(DESTDIR)$(INCLUDEDIR)/sluice/
	$(SUBST) sluice-plugin.pc.in >$(DESTDIR)$(PCDIR)/sluice-plugin.pc
	$(SUBST) man/sluice.1 >$(DESTDIR)$(MANDIR)/man1/sluice.1
	$(SUBST) man/sluice.ini.5 >$(DESTDIR)$(MANDIR)/man5/sluice.ini.5
	$(SUBST) man/sluiced.8 >$(DESTDIR)$(MANDIR)/man8/sluiced.8
	$(SUBST) systemd/sluiced.service >$(DESTDIR)$(UNITDIR)/sluiced.service
	install -m 0644 config/sluice.ini $(DESTDIR)$(DOCDIR)/sluice.ini.example
	@# The live config is never overwritten.
	[ -e $(DESTDIR)$(SYSCONFDIR)/sluice/sluice.ini ] || \
		install -m 0640 config/sluice.ini $(DESTDIR)$(SYSCONFDIR)/sluice/sluice.ini

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sluiced $(DESTDIR)$(BINDIR)/sluice \
		$(DESTDIR)$(PLUGINDIR)/demo.so $(DESTDIR)$(INCLUDEDIR)/sluice/plugin.h \
		$(DESTDIR)$(PCDIR)/sluice-plugin.pc $(DESTDIR)$(MANDIR)/man1/sluice.1 \
		$(DESTDIR)$(MANDIR)/man5/sluice.ini.5 $(DESTDIR)$(MANDIR)/man8/sluiced.8 \
		$(DESTDIR)$(UNITDIR)/sluiced.service $(DESTDIR)$(DOCDIR)/sluice.ini.example
	-rmdir $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(LIBDIR)/sluice $(DESTDIR)$(INCLUDEDIR)/sluice \
		$(DESTDIR)$(DOCDIR) 2>/dev/null
	@echo "kept $(SYSCONFDIR)/sluice/sluice.ini (your configuration); remove it by hand if unwanted"

clean:
	rm -rf build .run

-include $(CORE_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(B)/obj/sluiced.d
