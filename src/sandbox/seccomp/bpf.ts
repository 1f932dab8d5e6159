// Classic BPF as seccomp runs it: the opcodes the sandbox filter uses, the seccomp return values,
// the seccomp_data offsets, a small assembler with forward labels, and the byte encoding of
// struct sock_filter { u16 code; u8 jt; u8 jf; u32 k } (8 bytes, host order: little-endian on both
// supported architectures) that bubblewrap's `--seccomp FD` reads.
// Values come from include/uapi/linux/filter.h, bpf_common.h and seccomp.h.

/** Opcodes (class | size/op | mode/source) of the instructions the filter uses. */
export const BPF_OP = {
  /** BPF_LD | BPF_W | BPF_ABS: A = 32-bit word of seccomp_data at offset k. */
  LD_W_ABS: 0x20,
  /** BPF_JMP | BPF_JEQ | BPF_K: if A == k goto jt else jf. */
  JEQ_K: 0x15,
  /** BPF_JMP | BPF_JGE | BPF_K: if A >= k (unsigned) goto jt else jf. */
  JGE_K: 0x35,
  /** BPF_JMP | BPF_JSET | BPF_K: if (A & k) != 0 goto jt else jf. */
  JSET_K: 0x45,
  /** BPF_RET | BPF_K: return k. */
  RET_K: 0x06,
} as const;

/** Seccomp filter return values (SECCOMP_RET_*). */
export const SECCOMP_RET = {
  /** Kills the whole thread group with SIGSYS (kernel >= 4.14). */
  KILL_PROCESS: 0x80000000,
  /** Fails the call with the errno in the low 16 bits. */
  ERRNO: 0x00050000,
  ALLOW: 0x7fff0000,
} as const;

/** Offsets into struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }. */
export const SECCOMP_DATA = {
  NR: 0,
  ARCH: 4,
  /** Offset of the low 32 bits of args[i] (little-endian). */
  argLow: (index: number): number => 16 + 8 * index,
} as const;

/** The kernel's limit on a filter's length (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** One struct sock_filter. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** A jump target: a label defined later in the program, or NEXT (the following instruction). */
export type JumpTarget = string;
export const NEXT: JumpTarget = '';

type Item = { kind: 'label'; name: string } | { kind: 'insn'; code: number; k: number; jt: JumpTarget; jf: JumpTarget };

/**
 * Collects instructions and labels, then resolves every jump to its relative offset. Classic BPF
 * jumps only forward, by at most 255 instructions; assemble() throws if a jump breaks either rule.
 */
export class BpfAssembler {
  private readonly items: Item[] = [];

  /** Marks the position of the next instruction with `name`. */
  label(name: string): this {
    if (name === NEXT) throw new Error('a label needs a name');
    if (this.items.some((item) => item.kind === 'label' && item.name === name)) throw new Error(`label ${name} defined twice`);
    this.items.push({ kind: 'label', name });
    return this;
  }

  /** A = the 32-bit word at `offset` of seccomp_data. */
  load(offset: number): this {
    return this.insn(BPF_OP.LD_W_ABS, offset, NEXT, NEXT);
  }

  /** if A == k goto jt else goto jf. */
  jeq(k: number, jt: JumpTarget, jf: JumpTarget): this {
    return this.insn(BPF_OP.JEQ_K, k, jt, jf);
  }

  /** if A >= k (unsigned) goto jt else goto jf. */
  jge(k: number, jt: JumpTarget, jf: JumpTarget): this {
    return this.insn(BPF_OP.JGE_K, k, jt, jf);
  }

  /** if (A & k) != 0 goto jt else goto jf. */
  jset(k: number, jt: JumpTarget, jf: JumpTarget): this {
    return this.insn(BPF_OP.JSET_K, k, jt, jf);
  }

  /** return k (a SECCOMP_RET_* value). */
  ret(k: number): this {
    return this.insn(BPF_OP.RET_K, k, NEXT, NEXT);
  }

  /** Resolves the labels into jump offsets. */
  assemble(): SockFilter[] {
    const positions = new Map<string, number>();
    let count = 0;
    for (const item of this.items) {
      if (item.kind === 'label') positions.set(item.name, count);
      else count += 1;
    }
    if (count > BPF_MAXINSNS) throw new Error(`filter has ${count} instructions, over the kernel's ${BPF_MAXINSNS}`);
    const program: SockFilter[] = [];
    for (const item of this.items) {
      if (item.kind === 'label') continue;
      const at = program.length;
      const offset = (target: JumpTarget): number => {
        if (target === NEXT) return 0;
        const position = positions.get(target);
        if (position === undefined) throw new Error(`jump to undefined label ${target}`);
        const distance = position - (at + 1);
        if (distance < 0) throw new Error(`jump from ${at} back to label ${target}: classic BPF jumps only forward`);
        if (distance > 255) throw new Error(`jump from ${at} to label ${target} spans ${distance} instructions, over 255`);
        return distance;
      };
      program.push({ code: item.code, jt: offset(item.jt), jf: offset(item.jf), k: item.k });
    }
    if (program.at(-1)?.code !== BPF_OP.RET_K) throw new Error('a filter must end with a return');
    return program;
  }

  private insn(code: number, k: number, jt: JumpTarget, jf: JumpTarget): this {
    if (!Number.isInteger(k) || k < 0 || k > 0xffffffff) throw new Error(`BPF constant ${k} is not a u32`);
    this.items.push({ kind: 'insn', code, k, jt, jf });
    return this;
  }
}

/** Encodes a program as the array of struct sock_filter the kernel (and bwrap --seccomp) reads. */
export function encodeProgram(program: readonly SockFilter[]): Buffer {
  const bytes = Buffer.alloc(program.length * 8);
  program.forEach((insn, index) => {
    const at = index * 8;
    bytes.writeUInt16LE(insn.code, at);
    bytes.writeUInt8(insn.jt, at + 2);
    bytes.writeUInt8(insn.jf, at + 3);
    bytes.writeUInt32LE(insn.k, at + 4);
  });
  return bytes;
}
