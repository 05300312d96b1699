#!/usr/bin/env bash
# Fetches Debian's Linux 6.1 cloud kernel (the comparison kernel for the benchmarks) into
# build/linux/ with apt-get download + dpkg-deb -x. Never committed; prints the vmlinuz path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/build/linux
existing=$(ls "$dest"/boot/vmlinuz-* 2>/dev/null | head -1 || true)
if [ -n "$existing" ]; then echo "$existing"; exit 0; fi
resolve() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'; }
package=$(resolve)
if [ -z "$package" ] && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    package=$(resolve)
fi
if [ -z "$package" ]; then
    echo "fetch-linux: cannot resolve linux-image-cloud-amd64 (run apt-get update as root first)" >&2
    exit 1
fi
mkdir -p "$dest"
(cd "$dest" && apt-get download -q "$package" >/dev/null 2>&1) || {
    echo "fetch-linux: apt-get download $package failed" >&2
    exit 1
}
dpkg-deb -x "$dest"/"$package"_*.deb "$dest"
rm -f "$dest"/*.deb
ls "$dest"/boot/vmlinuz-* | head -1
