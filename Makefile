# Thin wrapper over CMake. `make demo` runs the main job, `make test` the whole test suite;
# both install missing Debian packages and build first.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test check demo bench clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# the safety-net gates: release suite, CPU suite under ASan+UBSan, HS_CUDA=ON with -Werror
check: deps
	bash scripts/check.sh $(BUILD)

demo: build
	bash scripts/demo.sh $(BUILD)/hesspec

bench: build
	bash bench/run-cpu.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-werror
