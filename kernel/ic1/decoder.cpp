// x86-64 instruction lengths (see decoder.hpp). The tables follow the opcode maps of the
// Intel SDM volume 2, appendix A: for each opcode, whether a ModRM byte follows and how
// large the immediate is.

#include "ic1/decoder.hpp"

namespace kernel::ic1 {
namespace {

// Immediate kinds.
enum Imm : u8 {
    kNone,
    kB,       // 1 byte
    kW,       // 2 bytes
    kZ,       // 2 bytes with a 66 prefix, else 4
    kV,       // B8-BF: 8 bytes with REX.W, 2 with 66, else 4
    kWB,      // ENTER: 2 + 1
    kMoffs,   // A0-A3: 8 bytes (4 with a 67 prefix)
    kGroup3,  // F6/F7: an immediate (1 byte / kZ) only when ModRM.reg is 0 or 1 (TEST)
};

struct Op {
    bool valid;
    bool modrm;
    Imm imm;
};

constexpr Op I{false, false, kNone};  // invalid in 64-bit mode (or a prefix, handled before)
constexpr Op N{true, false, kNone};
constexpr Op M{true, true, kNone};
constexpr Op Mb{true, true, kB};
constexpr Op Mz{true, true, kZ};
constexpr Op B{true, false, kB};
constexpr Op W{true, false, kW};
constexpr Op Z{true, false, kZ};
constexpr Op V{true, false, kV};
constexpr Op O{true, false, kMoffs};
constexpr Op G3{true, true, kGroup3};
constexpr Op E{true, false, kWB};

// The one-byte map. Prefixes (26 2E 36 3E 40-4F 64-67 F0 F2 F3) and escapes (0F C4 C5) are
// dealt with before the table is read; their rows say invalid.
constexpr Op kOneByte[256] = {
    M,  M,  M, M,  B, Z,  I,  I,  M, M,  M, M,  B, Z, I, I,  // 00
    M,  M,  M, M,  B, Z,  I,  I,  M, M,  M, M,  B, Z, I, I,  // 10
    M,  M,  M, M,  B, Z,  I,  I,  M, M,  M, M,  B, Z, I, I,  // 20
    M,  M,  M, M,  B, Z,  I,  I,  M, M,  M, M,  B, Z, I, I,  // 30
    I,  I,  I, I,  I, I,  I,  I,  I, I,  I, I,  I, I, I, I,  // 40 REX
    N,  N,  N, N,  N, N,  N,  N,  N, N,  N, N,  N, N, N, N,  // 50 PUSH/POP
    I,  I,  I, M,  I, I,  I,  I,  Z, Mz, B, Mb, N, N, N, N,  // 60 MOVSXD, PUSH, IMUL, INS/OUTS
    B,  B,  B, B,  B, B,  B,  B,  B, B,  B, B,  B, B, B, B,  // 70 Jcc rel8
    Mb, Mz, I, Mb, M, M,  M,  M,  M, M,  M, M,  M, M, M, M,  // 80 group 1, TEST, XCHG, MOV, LEA, POP
    N,  N,  N, N,  N, N,  N,  N,  N, N,  I, N,  N, N, N, N,  // 90 XCHG, CBW, CWD, PUSHF, POPF
    O,  O,  O, O,  N, N,  N,  N,  B, Z,  N, N,  N, N, N, N,  // A0 moffs, string ops, TEST
    B,  B,  B, B,  B, B,  B,  B,  V, V,  V, V,  V, V, V, V,  // B0 MOV imm
    Mb, Mb, W, N,  I, I,  Mb, Mz, E, N,  W, N,  N, B, I, N,  // C0 shifts, RET, MOV, ENTER, INT
    M,  M,  M, M,  I, I,  I,  N,  M, M,  M, M,  M, M, M, M,  // D0 shifts, XLAT, x87
    B,  B,  B, B,  B, B,  B,  B,  Z, Z,  I, B,  N, N, N, N,  // E0 LOOP, IN/OUT, CALL, JMP
    I,  N,  I, I,  N, N,  G3, G3, N, N,  N, N,  N, N, M, M,  // F0 INT1, HLT, CMC, group 3, flags, FE FF
};

// The 0F map: ModRM everywhere except the rows below; immediates on the few that have one.
Op two_byte(u8 op) {
    switch (op) {
    case 0x0f: case 0x38: case 0x3a:  // 3DNow! and the three-byte escapes: handled (or refused) by the caller
    case 0x04: case 0x0a: case 0x0c: case 0x24: case 0x25: case 0x26: case 0x27: case 0x36: case 0x39:
    case 0x3b: case 0x3c: case 0x3d: case 0x3e: case 0x3f: case 0x7a: case 0x7b: case 0xa6: case 0xa7:
        return I;
    case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0b: case 0x0e:  // SYSCALL .. UD2, FEMMS
    case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x37:  // WRMSR .. GETSEC
    case 0x77: case 0xa0: case 0xa1: case 0xa2: case 0xa8: case 0xa9: case 0xaa:  // EMMS, PUSH/POP FS GS, CPUID, RSM
    case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf:  // BSWAP
        return N;
    case 0x70: case 0x71: case 0x72: case 0x73: case 0xa4: case 0xac: case 0xba: case 0xc2: case 0xc4:
    case 0xc5: case 0xc6:
        return Mb;
    default: break;
    }
    if (op >= 0x80 && op <= 0x8f) return Z;  // Jcc rel32
    return M;
}

// Bytes of ModRM, SIB and displacement at `at`; 0 when they run past `size`.
usize modrm_length(const u8* code, usize size, usize at) {
    if (at >= size) return 0;
    u8 modrm = code[at];
    u8 mod = modrm >> 6, rm = modrm & 7;
    usize n = 1;
    if (mod != 3 && rm == 4) {
        if (at + 1 >= size) return 0;
        u8 sib = code[at + 1];
        ++n;
        if (mod == 0 && (sib & 7) == 5) n += 4;  // no base: disp32
    }
    if (mod == 0 && rm == 5) n += 4;  // RIP-relative
    if (mod == 1) n += 1;
    if (mod == 2) n += 4;
    return at + n <= size ? n : 0;
}

}  // namespace

bool decode_instruction(const u8* code, usize size, usize at, DecodedInstruction* out) {
    usize p = at;
    bool operand16 = false, address32 = false, rex_w = false;
    // Legacy prefixes (any order, up to the architectural 15-byte limit), then REX.
    for (;; ++p) {
        if (p >= size || p - at >= 14) return false;
        u8 b = code[p];
        if (b == 0x66) operand16 = true;
        else if (b == 0x67) address32 = true;
        else if (b != 0xf0 && b != 0xf2 && b != 0xf3 && b != 0x2e && b != 0x36 && b != 0x3e && b != 0x26 &&
                 b != 0x64 && b != 0x65)
            break;
    }
    if ((code[p] & 0xf0) == 0x40) {
        rex_w = code[p] & 8;
        if (++p >= size) return false;
    }
    usize opcode_at = p;
    u8 op = code[p++];
    Op info;
    u8 modrm_reg = 0;
    if (op == 0xc4 || op == 0xc5) {
        // VEX: C5 [R vvvv L pp] op, map 0F; C4 [RXB m-mmmm] [W vvvv L pp] op, maps 0F, 0F 38, 0F 3A.
        usize vex_bytes = op == 0xc5 ? 1 : 2;
        if (p + vex_bytes >= size) return false;
        u8 map = op == 0xc5 ? 1 : code[p] & 0x1f;
        if (map < 1 || map > 3) return false;
        p += vex_bytes;
        ++p;  // the opcode
        info = {true, true, map == 3 ? kB : kNone};
    } else if (op == 0x0f) {
        if (p >= size) return false;
        u8 second = code[p++];
        if (second == 0x38 || second == 0x3a) {
            if (p >= size) return false;
            ++p;  // the third opcode byte
            info = {true, true, second == 0x3a ? kB : kNone};
        } else {
            info = two_byte(second);
        }
    } else {
        info = kOneByte[op];
    }
    if (!info.valid) return false;
    if (info.modrm) {
        if (p >= size) return false;
        modrm_reg = (code[p] >> 3) & 7;
        usize n = modrm_length(code, size, p);
        if (!n) return false;
        p += n;
    }
    usize imm = 0;
    switch (info.imm) {
    case kNone: break;
    case kB: imm = 1; break;
    case kW: imm = 2; break;
    case kZ: imm = operand16 ? 2 : 4; break;
    case kV: imm = rex_w ? 8 : operand16 ? 2 : 4; break;
    case kWB: imm = 3; break;
    case kMoffs: imm = address32 ? 4 : 8; break;
    case kGroup3: imm = modrm_reg > 1 ? 0 : op == 0xf6 ? 1 : operand16 ? 2 : 4; break;
    }
    p += imm;
    if (p > size || p - at > 15) return false;
    *out = {p - at, opcode_at - at};
    return true;
}

}  // namespace kernel::ic1
