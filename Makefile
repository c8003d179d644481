# Thin wrapper over CMake. `make demo` runs the main job, `make test` the whole test suite;
# both install missing Debian packages and build first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test check fuzz demo bench clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# the safety-net gates: release suite, CPU suite under ASan+UBSan, HS_CUDA=ON with -Werror,
# 20 s of fuzzing per parser
check: deps
	bash scripts/check.sh $(BUILD)

# long libFuzzer runs of every parser (FUZZ_SECONDS each, default 600)
FUZZ_SECONDS ?= 600
fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECONDS) $(BUILD)-fuzz

demo: build
	bash scripts/demo.sh $(BUILD)/hesspec

bench: build
	bash bench/run-cpu.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-werror $(BUILD)-fuzz
