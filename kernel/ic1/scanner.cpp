// Forbidden encodings for IC1 services.
//
// The rule: an IC1 image is refused if a byte sequence that the CPU would decode as one of the
// instructions below starts at any offset of its executable bytes. Where an entry is broader
// than the instruction (a whole ModRM group, a prefix ignored), that is on purpose: a false
// positive means a service must be rebuilt, a false negative breaks isolation. "/n" is the
// ModRM reg field; "mem" means ModRM.mod != 11b, matched as three patterns (mod 00, 01, 10).
//
// One byte (skipped by ScanMode::MultiByteOnly, see scanner.hpp):
//   F4        HLT          stops the CPU (with IF=0 for good).
//   FA / FB   CLI / STI    IF belongs to the kernel; CLI is a denial of service for the core.
//   9D        POPF         at CPL 0 writes IF, IOPL and AC; AC=1 switches SMAP off.
//   CF        IRET(Q)      (48 CF too) loads CS:RIP, RFLAGS, SS:RSP from the stack: can drop to
//                          ring 3 with chosen registers and issue syscalls as the current
//                          process (a confused deputy), or load any flags.
//   CA / CB   RETF         far return to an outer ring: the same escape as IRET.
//   CD ib     INT n        at CPL 0 every IDT gate passes the DPL check: a service could fake a
//                          device interrupt or any exception vector (spurious EOIs, scheduler
//                          ticks). CC (INT3) and F1 (INT1) are ALLOWED: they raise #BP/#DB,
//                          which the kernel charges to the service like any other fault, and CC
//                          is the padding byte of every linker. CE (INTO) is #UD in 64-bit mode.
//   E4-E7     IN/OUT imm8  port I/O is unrestricted at CPL 0 (CPL <= IOPL): PCI config space,
//   EC-EF     IN/OUT DX    the PIC, the PIT, DMA engines -- everything.
//   6C-6F     INS/OUTS
//
// Segment registers:
//   8E /4 /5      MOV FS/GS, r/m  in 64-bit mode loading FS or GS also loads the base from the
//   0F A1, 0F A9  POP FS / POP GS descriptor: it clobbers the kernel's per-CPU GS base.
//   0F B4, 0F B5  LFS / LGS
//   MOV SS (8E /2) is allowed: SS is ignored in 64-bit mode, and its interrupt shadow only
//   matters together with SYSCALL/INT n/debug registers, all forbidden here (CVE-2018-8897).
//   Far JMP/CALL (FF /3 /5) are allowed: they cannot lower CPL, and the GDT holds no call
//   gate and no 32-bit ring-0 code segment, so the only reachable ring-0 CS is the kernel's.
//
// 0F xx:
//   0F 00 /2 /3   LLDT, LTR.            0F 00 /6 /7   LKGS (F2 0F 00 /6, FRED), reserved.
//                                       (SLDT, STR, VERR, VERW: harmless, allowed.)
//   0F 01 xx      the system group, forbidden for every following byte except:
//                   D0 XGETBV (reads XCR0; runtime feature detection), D5 XEND, D6 XTEST (TSX),
//                   E8 SERIALIZE (but F3 0F 01 E8 SETSSBSY is forbidden), EE RDPKRU (reads the
//                   user-key register), F9 RDTSCP (TSC reads are always allowed at CPL 0).
//                 Forbidden members: mem forms /0-/7 SGDT, SIDT, LGDT, LIDT, SMSW, RSTORSSP,
//                 LMSW, INVLPG; C0-CF ENCLV, VMCALL, VMLAUNCH, VMRESUME, VMXOFF, PCONFIG,
//                 WRMSRNS/RDMSRLIST/WRMSRLIST, MONITOR, MWAIT, CLAC, STAC (flip SMAP),
//                 ERETU/ERETS, TDCALL/SEAMCALL, ENCLS; D1 XSETBV; D4 VMFUNC; D7 ENCLU; D8-DF
//                 VMRUN..INVLPGA (SVM); E0-E7 SMSW; E9-ED SAVEPREVSSP, UIRET, TESTUI, reserved;
//                 EF WRPKRU; F0-F7 LMSW; F8 SWAPGS; FA-FB MONITORX/MWAITX/MCOMMIT; FC-FF CLZERO,
//                 RDPRU, INVLPGB, TLBSYNC; D2-D3 reserved.
//   0F 05 SYSCALL  from ring 0 it enters the kernel's syscall entry, which assumes CPL 3 and
//                  SWAPGSes: the kernel would run on the user GS base.
//   0F 06 CLTS    0F 07 SYSRET    0F 08 INVD    0F 09 WBINVD (F3 0F 09 WBNOINVD)
//   0F 20 / 0F 22 MOV from/to CRn (CR3, CR4.PKS/SMEP/SMAP, CR8 with REX.R).
//   0F 21 / 0F 23 MOV from/to DRn (hardware breakpoints on kernel data).
//   0F 30 WRMSR (IA32_PKRS itself)   0F 32 RDMSR   0F 33 RDPMC (only gated by CR4.PCE at
//                  CPL > 0, but counters leak other domains' activity: forbidden anyway)
//   0F 34 SYSENTER / 0F 35 SYSEXIT  ring transitions through MSR-defined targets.
//   0F 37 GETSEC  SMX leaves (SENTER) at CPL 0.
//   0F 78 / 0F 79 VMREAD / VMWRITE (66/F2 forms are AMD's EXTRQ/INSERTQ: rejected too).
//   0F AA RSM
//   0F AE D0-DF   WRFSBASE / WRGSBASE (F3 0F AE /2 /3, mod 11): rewrites the per-CPU GS base.
//                 Matched without the F3 because REX and other prefixes may sit between.
//                 RDFSBASE/RDGSBASE, LFENCE/MFENCE/SFENCE, INCSSP, UMWAIT/TPAUSE are allowed.
//   0F AE /5 mem  XRSTOR: can load PKRU (and, if ever enabled, other supervisor-visible
//                 user state). FXRSTOR (/1) only loads x87/SSE and is allowed.
//   F3 0F AE /6 mem  CLRSSBSY (supervisor shadow stack). XSAVEOPT and CLWB share the bytes
//                 without F3 and stay allowed.
//   0F C7 /3 /5   XRSTORS / XSAVES (supervisor state components).
//   0F C7 /6 /7 mem  VMPTRLD, VMCLEAR, VMXON, VMPTRST. The register forms (RDRAND, RDSEED,
//                 RDPID) are allowed.
// 0F 38 xx / 0F 3A xx (matched with or without their mandatory prefix, which may be separated
// from the opcode by REX and other prefixes):
//   0F 38 80 / 81 INVEPT / INVVPID    0F 38 82 INVPCID
//   F3 0F 38 DC mod 11  LOADIWKEY (Key Locker). Without F3 the bytes are AESENC, allowed.
//   0F 38 F5      WRUSS (66): writes user shadow-stack pages from CPL 0.
//   0F 38 F8      ENQCMDS (F3), URDMSR/UWRMSR (F2/F3 mod 11). Also rejects MOVDIR64B and
//                 ENQCMD, which share the opcode.
//   0F 3A F0      HRESET (F3 0F 3A F0 C0 ib).
// VEX:
//   C4 [map 7] .. F6  RDMSR / WRMSRNS with an immediate MSR number (VEX.M7 F6 /0).
//
// Not listed, with reason: other VEX/EVEX/XOP encodings (no privileged instruction is encoded
// there except map 7 above), UD0/UD1/UD2 and undefined opcodes (#UD, charged to the service),
// RDTSC, CPUID, LAR/LSL, CLFLUSH/CLFLUSHOPT, PREFETCH*, ENDBR64 (plain CPL-independent
// instructions). MOV TRn (0F 24/26) is #UD on every 64-bit CPU.

#include "ic1/scanner.hpp"

#include "ic1/decoder.hpp"

namespace kernel::ic1 {

namespace {

constexpr u8 kMod00 = 0x00;
constexpr u8 kMod01 = 0x40;
constexpr u8 kMod10 = 0x80;

constexpr ForbiddenEncoding op1(const char* name, u8 byte, u8 mask = 0xff) {
    return {name, {byte, 0, 0, 0}, {mask, 0, 0, 0}, 1, 0};
}
constexpr ForbiddenEncoding op2(const char* name, u8 b0, u8 b1, u8 m1 = 0xff) {
    return {name, {b0, b1, 0, 0}, {0xff, m1, 0, 0}, 2, 0};
}
// 0F xx plus a ModRM (or third opcode) byte under a mask.
constexpr ForbiddenEncoding op3(const char* name, u8 b1, u8 b2, u8 m2, u8 prefix = 0) {
    return {name, {0x0f, b1, b2, 0}, {0xff, 0xff, m2, 0}, 3, prefix};
}
// 0F 38 xx / 0F 3A xx plus a ModRM under a mask.
constexpr ForbiddenEncoding op4(const char* name, u8 b1, u8 b2, u8 b3, u8 m3, u8 prefix = 0) {
    return {name, {0x0f, b1, b2, b3}, {0xff, 0xff, 0xff, m3}, 4, prefix};
}

// Order matters only for naming: at one offset the first matching entry is reported, so the
// prefix-qualified entries precede the broader ones that share their bytes.
constexpr ForbiddenEncoding kForbidden[] = {
    // One byte.
    op1("HLT", 0xf4),
    op1("CLI", 0xfa),
    op1("STI", 0xfb),
    op1("POPF", 0x9d),
    op1("IRET", 0xcf),
    op1("RETF", 0xca, 0xfe),
    op1("INT n", 0xcd),
    op1("IN/OUT imm8", 0xe4, 0xfc),
    op1("IN/OUT DX", 0xec, 0xfc),
    op1("INS/OUTS", 0x6c, 0xfc),
    // Segment bases.
    op2("MOV FS/GS, r/m", 0x8e, 0x20, 0x30),
    op2("POP FS", 0x0f, 0xa1),
    op2("POP GS", 0x0f, 0xa9),
    op2("LFS/LGS", 0x0f, 0xb4, 0xfe),
    // 0F 00 group.
    op3("LLDT/LTR", 0x00, 0x10, 0x30),
    op3("LKGS/0F 00 /7", 0x00, 0x30, 0x30),
    // 0F 01 group: everything but XGETBV, XEND, XTEST, SERIALIZE, RDPKRU, RDTSCP.
    op3("SGDT/SIDT/LGDT/LIDT/SMSW/RSTORSSP/LMSW/INVLPG (0F 01 mem)", 0x01, kMod00, 0xc0),
    op3("SGDT/SIDT/LGDT/LIDT/SMSW/RSTORSSP/LMSW/INVLPG (0F 01 mem)", 0x01, kMod01, 0xc0),
    op3("SGDT/SIDT/LGDT/LIDT/SMSW/RSTORSSP/LMSW/INVLPG (0F 01 mem)", 0x01, kMod10, 0xc0),
    op3("VMX/SGX/PCONFIG/WRMSRNS/MONITOR/MWAIT/CLAC/STAC/ERETx (0F 01 C0-CF)", 0x01, 0xc0,
        0xf0),
    op3("XSETBV", 0x01, 0xd1, 0xff),
    op3("0F 01 D2/D3", 0x01, 0xd2, 0xfe),
    op3("VMFUNC", 0x01, 0xd4, 0xff),
    op3("ENCLU", 0x01, 0xd7, 0xff),
    op3("SVM (0F 01 D8-DF)", 0x01, 0xd8, 0xf8),
    op3("SMSW r (0F 01 E0-E7)", 0x01, 0xe0, 0xf8),
    op3("SETSSBSY", 0x01, 0xe8, 0xff, 0xf3),
    op3("0F 01 E9", 0x01, 0xe9, 0xff),
    op3("SAVEPREVSSP (0F 01 EA/EB)", 0x01, 0xea, 0xfe),
    op3("UIRET/TESTUI (0F 01 EC/ED)", 0x01, 0xec, 0xfe),
    op3("WRPKRU", 0x01, 0xef, 0xff),
    op3("LMSW r (0F 01 F0-F7)", 0x01, 0xf0, 0xf8),
    op3("SWAPGS", 0x01, 0xf8, 0xff),
    op3("MONITORX/MWAITX/MCOMMIT", 0x01, 0xfa, 0xfe),
    op3("CLZERO/RDPRU/INVLPGB/TLBSYNC", 0x01, 0xfc, 0xfc),
    // Plain two-byte system opcodes.
    op2("SYSCALL", 0x0f, 0x05),
    op2("CLTS", 0x0f, 0x06),
    op2("SYSRET", 0x0f, 0x07),
    op2("INVD", 0x0f, 0x08),
    {"WBNOINVD", {0x0f, 0x09, 0, 0}, {0xff, 0xff, 0, 0}, 2, 0xf3},
    op2("WBINVD", 0x0f, 0x09),
    op2("MOV r, CR", 0x0f, 0x20),
    op2("MOV r, DR", 0x0f, 0x21),
    op2("MOV CR, r", 0x0f, 0x22),
    op2("MOV DR, r", 0x0f, 0x23),
    op2("WRMSR", 0x0f, 0x30),
    op2("RDMSR", 0x0f, 0x32),
    op2("RDPMC", 0x0f, 0x33),
    op2("SYSENTER", 0x0f, 0x34),
    op2("SYSEXIT", 0x0f, 0x35),
    op2("GETSEC", 0x0f, 0x37),
    op2("VMREAD", 0x0f, 0x78),
    op2("VMWRITE", 0x0f, 0x79),
    op2("RSM", 0x0f, 0xaa),
    // 0F AE group.
    op3("WRFSBASE/WRGSBASE", 0xae, 0xd0, 0xf0),
    op3("XRSTOR", 0xae, kMod00 | 0x28, 0xf8),
    op3("XRSTOR", 0xae, kMod01 | 0x28, 0xf8),
    op3("XRSTOR", 0xae, kMod10 | 0x28, 0xf8),
    op3("CLRSSBSY", 0xae, kMod00 | 0x30, 0xf8, 0xf3),
    op3("CLRSSBSY", 0xae, kMod01 | 0x30, 0xf8, 0xf3),
    op3("CLRSSBSY", 0xae, kMod10 | 0x30, 0xf8, 0xf3),
    // 0F C7 group.
    op3("XRSTORS", 0xc7, 0x18, 0x38),
    op3("XSAVES", 0xc7, 0x28, 0x38),
    op3("VMPTRLD/VMCLEAR/VMXON/VMPTRST", 0xc7, kMod00 | 0x30, 0xf0),
    op3("VMPTRLD/VMCLEAR/VMXON/VMPTRST", 0xc7, kMod01 | 0x30, 0xf0),
    op3("VMPTRLD/VMCLEAR/VMXON/VMPTRST", 0xc7, kMod10 | 0x30, 0xf0),
    // Three-byte maps.
    op3("INVEPT/INVVPID", 0x38, 0x80, 0xfe),
    op3("INVPCID", 0x38, 0x82, 0xff),
    op4("LOADIWKEY", 0x38, 0xdc, 0xc0, 0xc0, 0xf3),
    op3("WRUSS", 0x38, 0xf5, 0xff),
    op3("ENQCMDS/URDMSR/UWRMSR (0F 38 F8)", 0x38, 0xf8, 0xff),
    op3("HRESET", 0x3a, 0xf0, 0xff),
    // VEX map 7: C4, then RXB + mmmmm = 00111, then W vvvv L pp, then F6.
    {"RDMSR/WRMSRNS imm (VEX.M7 F6)", {0xc4, 0x07, 0x00, 0xf6}, {0xff, 0x1f, 0x00, 0xff}, 4, 0},
};

constexpr usize kForbiddenCount = sizeof(kForbidden) / sizeof(kForbidden[0]);

// A pattern byte with a bit outside its mask could never match: catch typos at compile time.
constexpr bool table_is_consistent() {
    for (const auto& e : kForbidden) {
        if (e.name == nullptr || e.length == 0 || e.length > 4) return false;
        for (usize k = 0; k < 4; ++k) {
            if ((e.bytes[k] & e.mask[k]) != e.bytes[k]) return false;
            if (k >= e.length && (e.bytes[k] | e.mask[k]) != 0) return false;
        }
    }
    return true;
}
static_assert(table_is_consistent());

constexpr bool is_prefix_byte(u8 b) {
    switch (b) {
        case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
        case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
            return true;
        default:
            return (b & 0xf0) == 0x40;  // REX
    }
}

// Which bytes can start a match, so that most offsets cost one table lookup.
struct FirstByteFilter {
    bool any[256] = {};
    bool multi[256] = {};
};

constexpr FirstByteFilter make_filter() {
    FirstByteFilter f;
    for (const auto& e : kForbidden) {
        for (unsigned b = 0; b < 256; ++b) {
            if ((b & e.mask[0]) != e.bytes[0]) continue;
            f.any[b] = true;
            if (e.length > 1) f.multi[b] = true;
        }
    }
    return f;
}

constexpr FirstByteFilter kFilter = make_filter();

// An x86 instruction is at most 15 bytes, so at most 14 prefixes precede the opcode.
constexpr usize kMaxPrefixRun = 14;

bool prefix_run_contains(const u8* code, usize offset, u8 prefix) {
    for (usize back = 1; back <= kMaxPrefixRun && back <= offset; ++back) {
        u8 b = code[offset - back];
        if (!is_prefix_byte(b)) return false;
        if (b == prefix) return true;
    }
    return false;
}

bool matches(const ForbiddenEncoding& e, const u8* code, usize size, usize offset) {
    if (e.length > size - offset) return false;
    for (usize k = 0; k < e.length; ++k)
        if ((code[offset + k] & e.mask[k]) != e.bytes[k]) return false;
    return e.prefix == 0 || prefix_run_contains(code, offset, e.prefix);
}

}  // namespace

const ForbiddenEncoding* forbidden_encoding_at(const u8* code, usize size, usize offset,
                                               ScanMode mode) {
    if (offset >= size) return nullptr;
    const bool strict = mode != ScanMode::MultiByteOnly;
    u8 first = code[offset];
    if (!(strict ? kFilter.any[first] : kFilter.multi[first])) return nullptr;
    for (const auto& e : kForbidden) {
        if (!strict && e.length == 1) continue;
        if (matches(e, code, size, offset)) return &e;
    }
    return nullptr;
}

bool scan_executable_bytes(const u8* code, usize size, ScanFinding* finding, ScanMode mode) {
    if (mode == ScanMode::Instructions) {
        for (usize at = 0; at < size;) {
            DecodedInstruction insn;
            if (!decode_instruction(code, size, at, &insn)) {
                if (finding) *finding = {at, "bytes that do not decode as an instruction"};
                return false;
            }
            for (usize offset = at; offset <= at + insn.opcode_at; ++offset)
                if (const ForbiddenEncoding* e = forbidden_encoding_at(code, at + insn.length, offset)) {
                    if (finding) *finding = {offset, e->name};
                    return false;
                }
            at += insn.length;
        }
        return true;
    }
    for (usize offset = 0; offset < size; ++offset) {
        if (const ForbiddenEncoding* e = forbidden_encoding_at(code, size, offset, mode)) {
            if (finding) *finding = {offset, e->name};
            return false;
        }
    }
    return true;
}

const ForbiddenEncoding* forbidden_encodings(usize* count) {
    if (count) *count = kForbiddenCount;
    return kForbidden;
}

}  // namespace kernel::ic1
