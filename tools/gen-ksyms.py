#!/usr/bin/env python3
"""Embeds the kernel's function symbols in the kernel image.

generate PASS1_ELF OUT_S: writes an assembly file with a sorted table of
    {address, size, name} for every function in PASS1_ELF's .text.
verify PASS1_ELF FINAL_ELF: fails the build if any function moved between the two links
    (the table would then name the wrong functions).
"""
import subprocess
import sys


def functions(elf):
    out = subprocess.run(["llvm-nm", "--defined-only", "-n", "-S", "-C", elf],
                         check=True, capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4:
            addr, size, kind, name = parts
        else:
            parts = line.split(" ", 2)
            if len(parts) != 3:
                continue
            addr, kind, name = parts
            size = "0"
        if kind not in ("t", "T", "W", "w"):
            continue
        syms.append((int(addr, 16), int(size, 16), name))
    return syms


def generate(pass1, out_path):
    syms = functions(pass1)
    lines = ['    .section .ksyms, "a"', "    .p2align 3",
             "    .globl ksyms_count, ksyms_entries",
             f"ksyms_count: .quad {len(syms)}", "ksyms_entries:"]
    for i, (addr, size, _) in enumerate(syms):
        lines.append(f"    .quad 0x{addr:x}, {size}, .Lname{i}")
    for i, (_, _, name) in enumerate(syms):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'.Lname{i}: .asciz "{escaped}"')
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")


def verify(pass1, final):
    a = {(addr, name) for addr, _, name in functions(pass1)}
    b = {(addr, name) for addr, _, name in functions(final)}
    if a != b:
        moved = sorted(a ^ b)[:5]
        sys.exit(f"gen-ksyms: functions moved between links, symbol table would lie: {moved}")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("generate", "verify"):
        sys.exit(__doc__)
    {"generate": generate, "verify": verify}[sys.argv[1]](sys.argv[2], sys.argv[3])
