#pragma once
// x86-64 instruction lengths, for the IC1 scanner's instruction-boundary mode (scanner.hpp):
// where each instruction of a linear sweep starts, and where its opcode starts after the
// prefixes. Covers what compilers emit for ring-0 code without SSE: legacy and REX
// prefixes, the one-byte map, 0F, 0F 38 and 0F 3A, VEX (C4/C5) and x87 escapes. EVEX (62),
// 3DNow! (0F 0F) and the opcodes that are invalid in 64-bit mode are not decoded.

#include "lib/types.hpp"

namespace kernel::ic1 {

struct DecodedInstruction {
    usize length;     // bytes, prefixes included
    usize opcode_at;  // offset of the first opcode byte (after legacy and REX prefixes)
};

// Decodes the instruction at `at`. False when the bytes there are not an instruction this
// decoder knows, or it would run past `size`.
bool decode_instruction(const u8* code, usize size, usize at, DecodedInstruction* out);

}  // namespace kernel::ic1
