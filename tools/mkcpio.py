#!/usr/bin/env python3
"""Packs a directory into a cpio "newc" archive (the boot archive passed with -initrd).

usage: mkcpio.py DIR OUT.cpio [--list SPEC] [--busybox BINARY] [ARCHIVE_PATH=FILE ...]

Entries are stored relative to DIR (symlinks in DIR as symlinks), with uid/gid 0 and
mtime 0, in a fixed order, so the archive is byte-identical for identical inputs. Every
entry's parent directories come before it (Linux unpacks an initramfs in order).

  ARCHIVE_PATH=FILE  adds FILE under that name.
  --list SPEC        adds the entries a SPEC file lists, one a line ('#' starts a comment;
                     a FILE is relative to the SPEC file):
                       dir   NAME MODE
                       file  NAME FILE MODE
                       slink NAME TARGET
                       nod   NAME MODE c|b MAJOR MINOR
  --busybox BINARY   adds BINARY as bin/busybox and, for every applet `BINARY --list-full`
                     names, a symlink to it, except sbin/init (the kernel starts sbin/init
                     as init when the archive has one) and linuxrc (for old-style initrds).
"""
import os
import stat
import subprocess
import sys

BUSYBOX_SKIPPED = ("sbin/init", "linuxrc")


def header(name, mode, size, ino, nlink=1, rdev=(0, 0)):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def pad4(n):
    return (4 - n % 4) % 4


class Archive:
    """Entries by name in insertion order: (mode, body, rdev). A later entry with the same
    name replaces the earlier one in place."""

    def __init__(self):
        self.entries = {}

    def add(self, name, mode, body=b"", rdev=(0, 0)):
        name = os.path.normpath(name).lstrip("/")
        parent = os.path.dirname(name)
        if parent and parent not in self.entries:
            self.add(parent, stat.S_IFDIR | 0o755)
        self.entries[name] = (mode, body, rdev)

    def add_file(self, name, path, mode=None):
        with open(path, "rb") as fh:
            body = fh.read()
        self.add(name, stat.S_IFREG | (os.stat(path).st_mode & 0o777 if mode is None else mode), body)

    def add_symlink(self, name, target):
        self.add(name, stat.S_IFLNK | 0o777, target.encode())

    def add_tree(self, root):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            if rel != ".":
                self.add(rel, stat.S_IFDIR | 0o755)
            # os.walk lists a symlink to a directory among the directories and does not
            # descend into it; it is stored as the symlink it is.
            for f in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
                path = os.path.join(dirpath, f)
                if os.path.islink(path):
                    self.add_symlink(os.path.join(rel, f), os.readlink(path))
                else:
                    self.add_file(os.path.join(rel, f), path)

    def add_list(self, spec):
        base = os.path.dirname(os.path.abspath(spec))
        with open(spec) as fh:
            for number, line in enumerate(fh, start=1):
                words = line.split("#", 1)[0].split()
                if not words:
                    continue
                kind, args = words[0], words[1:]
                try:
                    if kind == "dir" and len(args) == 2:
                        self.add(args[0], stat.S_IFDIR | int(args[1], 8))
                    elif kind == "file" and len(args) == 3:
                        self.add_file(args[0], os.path.join(base, args[1]), int(args[2], 8))
                    elif kind == "slink" and len(args) == 2:
                        self.add_symlink(args[0], args[1])
                    elif kind == "nod" and len(args) == 5 and args[2] in ("c", "b"):
                        kind_bits = stat.S_IFCHR if args[2] == "c" else stat.S_IFBLK
                        self.add(args[0], kind_bits | int(args[1], 8), rdev=(int(args[3]), int(args[4])))
                    else:
                        raise ValueError("unknown entry or wrong number of fields")
                except (ValueError, OSError) as e:
                    sys.exit(f"mkcpio: {spec}:{number}: {e}")

    def add_busybox(self, binary):
        listed = subprocess.run([binary, "--list-full"], stdout=subprocess.PIPE, check=True).stdout.decode().split()
        if "bin/sh" not in listed:
            sys.exit(f"mkcpio: {binary} --list-full does not list bin/sh; is it busybox?")
        self.add_file("bin/busybox", binary)
        for applet in sorted(listed):
            if applet in BUSYBOX_SKIPPED or applet == "bin/busybox":
                continue
            # Relative targets, so a link resolves wherever the archive is unpacked.
            self.add_symlink(applet, os.path.relpath("bin/busybox", os.path.dirname(applet)))

    def write(self, out):
        data = bytearray()
        for ino, (name, (mode, body, rdev)) in enumerate(self.entries.items(), start=1):
            encoded = name.encode()
            data += header(encoded, mode, len(body), ino, rdev=rdev) + encoded + b"\0"
            data += b"\0" * pad4(110 + len(encoded) + 1)
            data += body + b"\0" * pad4(len(body))
        trailer = b"TRAILER!!!"
        data += header(trailer, 0, 0, 0) + trailer + b"\0"
        data += b"\0" * pad4(110 + len(trailer) + 1)
        with open(out, "wb") as fh:
            fh.write(data)


def main():
    args = sys.argv[1:]
    if len(args) < 2 or args[0].startswith("-") or args[1].startswith("-"):
        sys.exit(__doc__)
    archive = Archive()
    archive.add_tree(args[0])
    out, rest = args[1], args[2:]
    while rest:
        arg = rest.pop(0)
        if arg in ("--list", "--busybox") and rest:
            (archive.add_list if arg == "--list" else archive.add_busybox)(rest.pop(0))
        elif "=" in arg and not arg.startswith("-"):
            name, path = arg.split("=", 1)
            archive.add_file(name, path)
        else:
            sys.exit(__doc__)
    archive.write(out)


if __name__ == "__main__":
    main()
