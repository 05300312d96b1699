#!/usr/bin/env python3
"""Packs a directory into a cpio "newc" archive (the boot archive passed with -initrd).

usage: mkcpio.py DIR OUT.cpio [ARCHIVE_PATH=FILE ...]
Entries are stored relative to DIR, sorted, with uid/gid 0 and mtime 0, so the archive is
byte-identical for identical inputs. Each ARCHIVE_PATH=FILE adds FILE under that name.
"""
import os
import stat
import sys


def header(name, mode, size, ino, nlink=1):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name) + 1, 0]
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def pad4(n):
    return (4 - n % 4) % 4


def main():
    if len(sys.argv) < 3 or any("=" not in a for a in sys.argv[3:]):
        sys.exit(__doc__)
    root, out = sys.argv[1], sys.argv[2]
    extra = [a.split("=", 1) for a in sys.argv[3:]]
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            entries.append((rel, None))
        for f in sorted(filenames):
            entries.append((os.path.normpath(os.path.join(rel, f)), os.path.join(dirpath, f)))
    for name, path in extra:
        parent = os.path.dirname(name)
        if parent and (parent, None) not in entries:
            entries.append((parent, None))
        entries.append((name, path))
    data = bytearray()
    for ino, (name, path) in enumerate(entries, start=1):
        encoded = name.encode()
        if path is None:
            body, mode = b"", stat.S_IFDIR | 0o755
        else:
            with open(path, "rb") as fh:
                body = fh.read()
            mode = stat.S_IFREG | (os.stat(path).st_mode & 0o777)
        data += header(encoded, mode, len(body), ino) + encoded + b"\0"
        data += b"\0" * pad4(110 + len(encoded) + 1)
        data += body + b"\0" * pad4(len(body))
    trailer = b"TRAILER!!!"
    data += header(trailer, 0, 0, 0) + trailer + b"\0"
    data += b"\0" * pad4(110 + len(trailer) + 1)
    with open(out, "wb") as fh:
        fh.write(data)


if __name__ == "__main__":
    main()
