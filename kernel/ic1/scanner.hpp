#pragma once
// Load-time scan of an IC1 service's executable bytes (DESIGN.md §2, "Isolation classes").
//
// An IC1 service runs in ring 0 inside the kernel address space and is fenced in only by its
// PKS key, W^X and SMEP/SMAP. None of those stop a privileged instruction, so the loader
// refuses an image whose executable bytes hold a forbidden encoding at ANY byte offset: a
// service can jump into the middle of one of its own instructions, so the linear disassembly
// says nothing about what can execute. The list and the reason for each entry are in
// scanner.cpp.

#include "lib/types.hpp"

namespace kernel::ic1 {

// The first forbidden encoding found, by lowest offset.
struct ScanFinding {
    usize offset;             // where the matched opcode bytes start (for a prefix-qualified
                              // entry, the prefix itself sits a few bytes earlier)
    const char* instruction;  // the entry's name, for the kernel log
};

// One forbidden byte pattern: byte k matches when (code[k] & mask[k]) == bytes[k]. A nonzero
// `prefix` restricts the entry to code where that legacy prefix occurs somewhere in the run of
// prefix bytes (legacy or REX) directly before the pattern, because prefixes may be separated
// by other prefixes and each of them is a possible entry point.
struct ForbiddenEncoding {
    const char* name;
    u8 bytes[4];
    u8 mask[4];
    u8 length;
    u8 prefix;
};

enum class ScanMode : u8 {
    // Every entry at every offset. The rule from the paper, and the only mode that is sound on
    // its own. Ordinary compiled code fails it: one-byte opcodes sit in common ModRM and
    // immediate bytes, e.g. `mov rbp, rsp` = 48 89 E5 (IN), `sub rsp, 8` = 48 83 EC 08 (IN),
    // endbr64 = F3 0F 1E FA (CLI), movdqa xmm, xmm = 66 0F 6F C1 (OUTS). Measured: about one
    // offending offset per 30-40 bytes (ScannerRealBinaries in tests/host/scanner_test.cpp).
    Strict,
    // Every multi-byte entry at every offset, one-byte entries (HLT, CLI, STI, POPF, IRET,
    // RETF, INT n, IN/OUT/INS/OUTS) skipped. NOT sound by itself: a jump into the middle of an
    // instruction can still reach those one-byte opcodes. Only a loader that also makes
    // mid-instruction offsets unreachable (supervisor CET: IBT + shadow stacks, or NaCl-style
    // aligned bundles, plus a decoder that checks the one-byte opcodes at every reachable
    // instruction start) may select it, and it must say so where it does.
    MultiByteOnly,
    // Every entry, one-byte ones included, at every instruction of a linear sweep from the
    // first byte (decoder.hpp), prefixes included; bytes that do not decode are refused.
    // Compiled code passes it; what it does not see are encodings inside other
    // instructions' bytes, which only a jump into the middle of an instruction reaches. Like
    // MultiByteOnly, then, it is sound only with mid-instruction offsets made unreachable
    // (supervisor CET-IBT), which also closes the larger gap of a jump into kernel text
    // (ic1_gate.S); what it buys without CET is the certainty that the module's own code,
    // as compiled, executes no privileged instruction. Larger modules need it: the FS module
    // holds seven multi-byte encodings inside displacements and SIB bytes.
    Instructions,
};

// Returns true when `code` holds no forbidden encoding at any offset; otherwise false with
// *finding (if non-null) set to the lowest offending offset. Never reads outside
// [code, code + size): a pattern cut off by the end does not match, so the caller must pass
// everything that will be mapped executable, including the zero fill up to the page end.
bool scan_executable_bytes(const u8* code, usize size, ScanFinding* finding,
                           ScanMode mode = ScanMode::Strict);

// The entry that matches at exactly `offset`, or nullptr. For logging every finding rather
// than the first.
const ForbiddenEncoding* forbidden_encoding_at(const u8* code, usize size, usize offset,
                                               ScanMode mode = ScanMode::Strict);

// The list, for documentation and the kernel log.
const ForbiddenEncoding* forbidden_encodings(usize* count);

}  // namespace kernel::ic1
