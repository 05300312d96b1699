#!/usr/bin/env bash
# Installs the Debian packages the build, run and tests need. As root it installs what is
# missing; otherwise it prints the exact apt-get line and fails.
set -euo pipefail

packages=(qemu-system-x86 cmake ninja-build clang-14 lld-14 llvm-14 libgtest-dev libclang-rt-14-dev python3 make
          gcc libc6-dev linux-libc-dev musl-tools)
# `deps.sh bench` adds what make bench needs (the chart).
[ "${1:-}" = bench ] && packages+=(gnuplot-nox)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

line="apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "Tessera needs Debian packages that are not installed. Run as root:" >&2
    echo "  apt-get update && $line" >&2
    exit 1
fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
