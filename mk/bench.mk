# Benchmarks: `make bench` (never part of `make` or `make test`; see bench/README.md).
# Workloads are plain C programs built against the C library's malloc, so LD_PRELOAD chooses the
# allocator under test. The trace-replay programs for the spec engines are built only when the
# engine's public header is in the tree.
# Options (environment or make variables): BENCH_RUNS, BENCH_THREADS, BENCH_ONLY, BENCH_ALLOCATORS,
# BENCH_TIMEOUT, BENCH_SCALE, BENCH_NO_CALLGRIND.

BENCH_OUT    := $(BUILD)/bench
BENCH_CFLAGS := -std=gnu11 -O2 -g $(WARN) -pthread

BENCH_WORKLOADS := $(patsubst bench/workloads/%.c,$(BENCH_OUT)/workloads/%,\
	$(wildcard bench/workloads/*.c))
BENCH_MICRO  := $(BENCH_OUT)/micro/fastpath $(BENCH_OUT)/launch
BENCH_REPLAY := $(BENCH_OUT)/replay/gen_trace

# Each replay program: its header, its library, its binary.
define bench_replay
ifneq ($(wildcard include/$(1)),)
BENCH_REPLAY += $(BENCH_OUT)/replay/replay_$(2)
$(BENCH_OUT)/replay/replay_$(2): bench/replay/replay_$(2).c bench/replay/replay.h \
		bench/replay/trace.h $(BUILD_LIB)/lib$(3).so
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) $$(BENCH_CFLAGS) $$< -o $$@ -L$$(BUILD_LIB) -l$(3) \
		-Wl,-rpath,$$(abspath $$(BUILD_LIB))
endif
endef
$(eval $(call bench_replay,osmem.h,osmem,osmem))
$(eval $(call bench_replay,memalloc.h,memalloc,memalloc))
$(eval $(call bench_replay,UserAPI_MemoryManager.h,mm,mm))

$(BENCH_OUT)/workloads/%: bench/workloads/%.c bench/workloads/common.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $< -o $@

# The fast-path measure is built with plain -O2, as the project's shared measuring script builds
# it, so that both give the same instruction counts.
$(BENCH_OUT)/micro/fastpath: bench/micro/fastpath.c
	@mkdir -p $(dir $@)
	$(CC) -O2 $(WARN) $< -o $@

$(BENCH_OUT)/launch: bench/launch.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $< -o $@

$(BENCH_OUT)/replay/gen_trace: bench/replay/gen_trace.c bench/replay/trace.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) $< -o $@

.PHONY: bench-build
bench-build: $(BENCH_WORKLOADS) $(BENCH_MICRO) $(BENCH_REPLAY)

bench:
	bash tools/deps.sh bench
	$(MAKE) all bench-build
	python3 bench/run.py --build '$(BUILD)'

# Heaps of one's own against malloc/free: linked with libheapkit itself (not preloaded); the
# runner measures it as the heapkit-only workload request_arena (BENCH_ONLY=request_arena).
BENCH_HEAPAPI := $(BENCH_OUT)/heapapi/request_arena
$(BENCH_OUT)/heapapi/request_arena: bench/heapapi/request_arena.c bench/workloads/common.h \
		$(BUILD_LIB)/libheapkit.so
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BENCH_CFLAGS) $< -o $@ -L$(BUILD_LIB) -lheapkit \
		-Wl,-rpath,$(abspath $(BUILD_LIB))

bench-build: $(BENCH_HEAPAPI)
