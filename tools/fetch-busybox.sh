#!/usr/bin/env bash
# Fetches Debian's busybox-static (the Linux shell and utilities that go, unmodified, into the
# boot archives and the busybox session test) into build/busybox/ with apt-get download +
# dpkg-deb -x. Never committed; prints the path of the static busybox binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/build/busybox
binary=$dest/bin/busybox
if [ -x "$binary" ]; then echo "$binary"; exit 0; fi
package=busybox-static
mkdir -p "$dest"
download() { (cd "$dest" && apt-get download -q "$package" >/dev/null 2>&1); }
if ! download && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    download || true
fi
deb=$(ls "$dest"/"$package"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
    echo "fetch-busybox: apt-get download $package failed (no access to the Debian archive?" \
         "As root, run apt-get update first)" >&2
    exit 1
fi
dpkg-deb -x "$deb" "$dest"
rm -f "$dest"/*.deb
if [ ! -x "$binary" ]; then
    echo "fetch-busybox: $deb has no bin/busybox" >&2
    exit 1
fi
echo "$binary"
