# Entry points. The real build is CMake + Ninja in build/; tools/run boots, tools/test tests.
# make run uses CONFIG (default perf); make test runs every manifest unless CONFIG is given.
CONFIG ?=
BUILD := build
QEMU_ARGS ?=

.PHONY: all deps build run test bench clean

all: build

deps:
	@tools/deps.sh

$(BUILD)/build.ninja: | deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_ASM_COMPILER=clang-14 >/dev/null

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD)

# Boots into Debian's busybox sh on the serial console (/init mounts, then runs the shell;
# `exit` or `poweroff -f` ends the machine).
run: build
	@tools/run --no-build --config $(or $(CONFIG),perf) --append 'init=bin/busybox initargs="sh /init"' $(QEMU_ARGS)

test: build
	@tools/test $(if $(CONFIG),--config $(CONFIG))

# Tessera against Debian's Linux 6.1 in the same QEMU (fetches the kernel package).
bench: build
	@tools/deps.sh bench
	@tools/bench-report

clean:
	rm -rf $(BUILD)
