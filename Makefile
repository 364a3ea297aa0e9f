# taskfleet build.
#
#   make                      build everything with strict warnings and -Werror
#   make test                 run the whole test suite (needs the local stand-ins: see docs/building.md)
#   make mutants              the mutation check (tests/mutants/; not part of the suite)
#   make SANITIZER=address    build (and test) under AddressSanitizer; also undefined, thread
#   make install PREFIX=/usr/local DESTDIR=
#   make clean
#
# Objects for each sanitizer go to their own build directory, so switching does
# not mix instrumented and plain objects.

CC        ?= cc
PREFIX    ?= /usr/local
DESTDIR   ?=
SANITIZER ?=

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wformat=2 -Wwrite-strings -Wpointer-arith -Wundef -Wcast-align \
       -Wnull-dereference -Wvla -Wdeclaration-after-statement -Wno-unused-parameter \
       -Wold-style-definition -Wmissing-declarations -Wredundant-decls -Werror

# The strict list first, the user's CFLAGS after it, as Redis does.
# A section per function and object, so that a runner's link keeps only
# the code it calls (--gc-sections below).
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g -pthread -fPIC -MMD -MP $(WARN) \
              -ffunction-sections -fdata-sections -Iinclude -Ilib
LIBS = -lcurl -luv -lcjson -lcrypto -luuid -ldl -lpthread -lm
# The HTTP servers (the consumer's /metrics, `taskfleet serve`): libmicrohttpd.
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)

BUILD = build
ifeq ($(SANITIZER),address)
  BASE_CFLAGS += -fsanitize=address -fno-omit-frame-pointer
  LDSAN = -fsanitize=address
  BUILD = build/asan
else ifeq ($(SANITIZER),undefined)
  BASE_CFLAGS += -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDSAN = -fsanitize=undefined
  BUILD = build/ubsan
else ifeq ($(SANITIZER),thread)
  BASE_CFLAGS += -fsanitize=thread -fno-omit-frame-pointer
  LDSAN = -fsanitize=thread
  BUILD = build/tsan
else ifneq ($(SANITIZER),)
  $(error SANITIZER must be address, undefined or thread)
endif

ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(LDSAN) $(LDFLAGS)

LIB_SRC      = $(wildcard lib/*/*.c)
CONSUMER_SRC = $(wildcard consumer/*.c)
PRODUCER_SRC = $(wildcard producer/*.c)
RUNNER_NAMES = $(notdir $(patsubst %/,%,$(dir $(wildcard runners/*/runner.c))))
UNIT_SRC     = $(wildcard tests/unit/*/test_*.c)
INTEG_SRC    = $(wildcard tests/integration/test_*.c)
TESTRUNNER_SRC = $(wildcard tests/runners/*.c)
TESTTOOL_SRC = $(wildcard tests/tools/*.c)

LIB_OBJ      = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CONSUMER_OBJ = $(CONSUMER_SRC:%.c=$(BUILD)/obj/%.o)
PRODUCER_OBJ = $(PRODUCER_SRC:%.c=$(BUILD)/obj/%.o)

LIBTF    = $(BUILD)/lib/libtaskfleet.a
BINS     = $(if $(CONSUMER_SRC),$(BUILD)/bin/taskfleet-consumer) \
           $(if $(PRODUCER_SRC),$(BUILD)/bin/taskfleet)
RUNNERS  = $(RUNNER_NAMES:%=$(BUILD)/runners/%.so)
TESTS    = $(addprefix $(BUILD)/tests/,$(basename $(notdir $(UNIT_SRC)))) \
           $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/%)
TEST_RUNNERS = $(TESTRUNNER_SRC:tests/runners/%.c=$(BUILD)/tests/runners/%.so)
TEST_TOOLS = $(TESTTOOL_SRC:tests/tools/%.c=$(BUILD)/tests/tools/%)

.PHONY: all test check-tests fuzz install clean FORCE
all: $(LIBTF) $(BINS) $(RUNNERS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBTF): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/taskfleet-consumer: $(CONSUMER_OBJ) $(LIBTF)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -rdynamic -o $@ $(CONSUMER_OBJ) $(LIBTF) $(LIBS) $(MHD_LIBS)
$(BUILD)/obj/consumer/metrics.o: ALL_CFLAGS += $(MHD_CFLAGS)
# lib/server/httpd.c starts both servers; only the binaries that serve pull it in.
$(BUILD)/obj/lib/server/httpd.o: ALL_CFLAGS += $(MHD_CFLAGS)

# The producer's REST API (producer/api*.c, `taskfleet serve`): libmicrohttpd,
# and its OpenAPI document compiled in as a byte array, so the binary serves
# exactly the document it was built with and needs no file at run time.
PRODUCER_GEN_OBJ = $(if $(PRODUCER_SRC),$(BUILD)/obj/gen/openapi_json.o \
                   $(BUILD)/obj/gen/console_files.o)
$(BUILD)/bin/taskfleet: $(PRODUCER_OBJ) $(PRODUCER_GEN_OBJ) $(LIBTF)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $(PRODUCER_OBJ) $(PRODUCER_GEN_OBJ) $(LIBTF) $(LIBS) $(MHD_LIBS)
# api.c and the files of its handlers (api_*.c) include microhttpd.h.
$(BUILD)/obj/producer/api.o: ALL_CFLAGS += $(MHD_CFLAGS)
$(BUILD)/obj/producer/api_%.o: ALL_CFLAGS += $(MHD_CFLAGS)
$(BUILD)/gen/openapi_json.c: producer/openapi.json
	@mkdir -p $(dir $@)
	{ echo '/* Generated from producer/openapi.json by the Makefile. */'; \
	  echo '#include <stddef.h>'; \
	  echo 'extern const unsigned char tf_api_openapi_json[];'; \
	  echo 'extern const size_t tf_api_openapi_json_len;'; \
	  echo 'const unsigned char tf_api_openapi_json[] = {'; \
	  od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00 };'; \
	  echo 'const size_t tf_api_openapi_json_len = sizeof(tf_api_openapi_json) - 1;'; \
	} >$@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/openapi_json.o: $(BUILD)/gen/openapi_json.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<
# The web console (producer/console/: static files, no build step) is
# compiled in the same way: a table of {name, bytes, length} that api.c
# serves under / and /console/NAME.
CONSOLE_FILES = $(sort $(wildcard producer/console/*.html producer/console/*.js \
                producer/console/*.css))
$(BUILD)/gen/console_files.c: $(CONSOLE_FILES)
	@mkdir -p $(dir $@)
	{ echo '/* Generated from producer/console/ by the Makefile. */'; \
	  echo '#include <stddef.h>'; \
	  echo 'struct tf_console_file { const char *name; const unsigned char *data; size_t len; };'; \
	  echo 'extern const struct tf_console_file tf_console_files[];'; \
	  i=0; for f in $(CONSOLE_FILES); do \
	    echo "static const unsigned char file$$i[] = {"; \
	    od -An -v -tx1 $$f | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	    echo '0x00 };'; i=$$((i + 1)); \
	  done; \
	  echo 'const struct tf_console_file tf_console_files[] = {'; \
	  i=0; for f in $(CONSOLE_FILES); do \
	    echo "	{ \"$$(basename $$f)\", file$$i, sizeof(file$$i) - 1 },"; \
	    i=$$((i + 1)); \
	  done; \
	  echo '	{ NULL, NULL, 0 } };'; \
	} >$@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/console_files.o: $(BUILD)/gen/console_files.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Runners: every .c file of runners/NAME/ makes runners/NAME.so, with
# hidden visibility so only the entry point is exported. A runner may use
# libtaskfleet's modules: they are linked in privately (--exclude-libs), so
# the runner's copy never clashes with the consumer's, and only the
# functions it calls (--gc-sections): every runner file is mapped into every
# consumer, used or not. It may use cJSON (a
# shared library, so the host's allocation hooks reach it too), libcurl and
# OpenSSL.
RUNNER_LIBS = -Wl,--as-needed -lcurl -lcjson -lssl -lcrypto -lpthread
$(BUILD)/obj/runners/%.o: ALL_CFLAGS += -fvisibility=hidden
.SECONDEXPANSION:
$(BUILD)/runners/%.so: $$(addprefix $(BUILD)/obj/,$$(subst .c,.o,$$(wildcard runners/$$*/*.c))) $(LIBTF)
	@mkdir -p $(dir $@)
	$(CC) -shared $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) -Wl,--exclude-libs,ALL \
	    -Wl,--gc-sections $(LIBTF) $(RUNNER_LIBS)

$(BUILD)/tests/runners/%.so: tests/runners/%.c include/taskfleet/runner.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fvisibility=hidden -shared $(ALL_LDFLAGS) -o $@ $< $(RUNNER_LIBS)
# crashy's segv mode must fault for real (engine_crash.sh tests the crash
# journal's signal handler), not stop at UBSAN's null check.
$(BUILD)/tests/runners/crashy.so: ALL_LDFLAGS += -fno-sanitize=null

# The loader knows the installed runner directory, $(PREFIX)/lib/taskfleet/runners.
# The stamp holds the PREFIX runners.o was built with and changes only when
# PREFIX does, so `make install PREFIX=/opt/x` after `make` rebuilds it.
PREFIX_STAMP = $(BUILD)/prefix.stamp
$(PREFIX_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' >$@
$(BUILD)/obj/lib/task/runners.o: ALL_CFLAGS += -DTF_PREFIX='"$(PREFIX)"'
$(BUILD)/obj/lib/task/runners.o: $(PREFIX_STAMP)

# test_metrics, test_inflight, test_journal, test_once, test_runpool and
# test_sweep_lease test consumer modules: they link the consumer's objects
# (all but main.o).
CONSUMER_LIB_OBJ = $(filter-out %/consumer/main.o,$(CONSUMER_OBJ))
$(BUILD)/tests/test_metrics $(BUILD)/tests/test_inflight $(BUILD)/tests/test_journal $(BUILD)/tests/test_once $(BUILD)/tests/test_runpool $(BUILD)/tests/test_sweep_lease: $(BUILD)/tests/%: tests/unit/consumer/%.c $(CONSUMER_LIB_OBJ) $(LIBTF) tests/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -Iconsumer $(ALL_LDFLAGS) -rdynamic -o $@ $< \
	  $(CONSUMER_LIB_OBJ) $(LIBTF) $(LIBS) $(MHD_LIBS)

# test_heartbeat drives the consumer's heartbeat (consumer/inflight.c)
# against the stand-ins: an integration test linking the consumer's objects.
$(BUILD)/tests/test_heartbeat: tests/integration/test_heartbeat.c $(CONSUMER_LIB_OBJ) $(LIBTF) tests/harness.h tests/heartbeat_runs.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -Iconsumer $(ALL_LDFLAGS) -rdynamic -o $@ $< \
	  $(CONSUMER_LIB_OBJ) $(LIBTF) $(LIBS) $(MHD_LIBS)

# test_sweeper drives the consumer's sweeper (consumer/sweeper.c) on a loop
# against the stand-ins: an integration test linking the consumer's objects.
$(BUILD)/tests/test_sweeper: tests/integration/test_sweeper.c $(CONSUMER_LIB_OBJ) $(LIBTF) tests/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -Iconsumer $(ALL_LDFLAGS) -rdynamic -o $@ $< \
	  $(CONSUMER_LIB_OBJ) $(LIBTF) $(LIBS) $(MHD_LIBS)

# test_rate_limit tests a producer module: it links that one object.
$(BUILD)/tests/test_rate_limit: tests/unit/producer/test_rate_limit.c $(BUILD)/obj/producer/rate_limit.o $(LIBTF) tests/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -Iproducer $(ALL_LDFLAGS) -o $@ $< \
	  $(BUILD)/obj/producer/rate_limit.o $(LIBTF) $(LIBS)

# The unit tests of lib/ mirror its rooms (tests/unit/aws/ tests lib/aws/, ...);
# each builds to $(BUILD)/tests/NAME, so a program's name does not say its room.
define unit_test_rule
$$(BUILD)/tests/%: tests/unit/$(1)/%.c $$(LIBTF) tests/harness.h
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) -Itests $$(ALL_LDFLAGS) -o $$@ $$< $$(LIBTF) $$(LIBS)
endef
$(foreach room,$(notdir $(wildcard lib/*)),$(eval $(call unit_test_rule,$(room))))
# tests/unit/runners/test_R_F.c tests runners/R/F.c, which it compiles in.
$(eval $(call unit_test_rule,runners))
# The http runner's client.c uses OpenSSL's TLS API.
$(BUILD)/tests/test_http_client: LIBS += -lssl

$(BUILD)/tests/%: tests/integration/%.c $(LIBTF) tests/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) -o $@ $< $(LIBTF) $(LIBS)

# Programs the test scripts drive (tests/tools/*.c).
$(BUILD)/tests/tools/%: tests/tools/%.c $(LIBTF)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) -rdynamic -o $@ $< $(LIBTF) $(LIBS)

check-tests: all $(TESTS) $(TEST_RUNNERS) $(TEST_TOOLS)

# The whole suite: tests/run starts its own stand-ins and prints "N passed, N failed".
test: check-tests
	BUILD=$(BUILD) tests/run

# The mutation check (tests/mutants/run, docs/building.md "The mutation check"): each
# mutant of tests/mutants/mutants.txt built in a scratch copy and run against
# the tests that should catch it. Not part of `make test` or CI; plain build
# only. TF_MUTANTS=id,id runs a subset.
.PHONY: mutants
mutants: check-tests
	tests/mutants/run

# Benchmarks against the Node worker a user would otherwise write, and issue 21's
# behind a latency proxy (bench/README.md): starts its own stand-ins; BENCH_SCALE=0.1
# for a quick run, BENCH_ONLY=latency,burst for a subset.
.PHONY: bench
bench: all $(BUILD)/bench/proxy
	@mkdir -p $(BUILD)/bench
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -pthread -o $(BUILD)/bench/ceiling bench/ceiling.c -lcurl
	@[ bench/node/node_modules/.package-lock.json -nt bench/node/package-lock.json ] || \
	  (cd bench/node && npm ci --no-audit --no-fund)
	BENCH_BUILD=$(BUILD) bench/run

# The event loop against the synchronous client (bench/loop_calls.c; bench/README.md,
# "The event loop against threads"): about 10 s on loopback.
.PHONY: bench-loop
bench-loop: $(LIBTF)
	@mkdir -p $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $(BUILD)/bench/loop_calls bench/loop_calls.c $(LIBTF) $(LIBS)
	$(BUILD)/bench/loop_calls $(BENCH_LOOP_ARGS)

# The heartbeat keeping many slow runs on one loop (bench/heartbeat.c;
# bench/README.md, "The heartbeat on the loop"): needs the stand-ins
# (eval "$$(infra/local/up)"); BENCH_HEARTBEAT_ARGS: RUNS VISIBILITY_S SECONDS.
.PHONY: bench-heartbeat
bench-heartbeat: $(CONSUMER_LIB_OBJ) $(LIBTF) tests/heartbeat_runs.h
	@mkdir -p $(BUILD)/bench
	$(CC) $(ALL_CFLAGS) -Itests -Iconsumer $(ALL_LDFLAGS) -rdynamic -o $(BUILD)/bench/heartbeat \
	  bench/heartbeat.c $(CONSUMER_LIB_OBJ) $(LIBTF) $(LIBS) $(MHD_LIBS)
	$(BUILD)/bench/heartbeat $(BENCH_HEARTBEAT_ARGS)

# The loopback latency proxy of the issue 21 workloads (bench/proxy.c); also
# built by tests/scripts/bench_proxy.sh.
$(BUILD)/bench/proxy: bench/proxy.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(ALL_LDFLAGS)

# libFuzzer targets (clang only); tests/run runs each for a short fixed time.
# Undefined behaviour stops the target like a crash (libFuzzer keeps the input).
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
# They link the library's sources, but for the HTTP server (libmicrohttpd).
FUZZ_LIB_SRC = $(filter-out lib/server/httpd.c,$(LIB_SRC))
fuzz: $(FUZZ_BIN)
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRC) $(wildcard lib/*/*.h)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=undefined -Iinclude -Ilib \
	  -o $@ $< $(FUZZ_LIB_SRC) $(LIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/taskfleet/runners \
	  $(DESTDIR)$(PREFIX)/include/taskfleet
	$(if $(BINS),install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/)
	$(if $(RUNNERS),install -m 755 $(RUNNERS) $(DESTDIR)$(PREFIX)/lib/taskfleet/runners/)
	$(if $(wildcard include/taskfleet/*.h),install -m 644 include/taskfleet/*.h $(DESTDIR)$(PREFIX)/include/taskfleet/)

clean:
	rm -rf build

FORCE:

# The compiler's dependency lists, but for a list whose first source is gone:
# one written before a source moved (the unit tests went into rooms) would
# make make stop on a file that no longer exists.
DEP_FILES = $(shell find build -name '*.d' 2>/dev/null | xargs -r awk \
  'FNR == 1 { src = $$2; if (src == "" || src == "\\" || (getline l < src) >= 0) print FILENAME; close(src) }')
-include $(DEP_FILES)
