"""The seccomp filter each forked run installs before its script: nsjail.cfg's policy, given as
rules by the server (seccomp-policy.ts), compiled here to classic BPF."""

import ctypes
import errno
import struct

from .libc import check, libc

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
# struct seccomp_data: nr, arch, instruction pointer, then args[6] as 64-bit little-endian words.
NR_OFFSET, ARCH_OFFSET, ARGS_OFFSET = 0, 4, 16


def rule_block(rule):
    """The instructions after a rule's syscall number matched, every path ending in a return:
    the rule's errno when its argument test holds (Kafel's unsigned 64-bit comparisons, with
    32-bit constants, so the argument's high word decides first), else allow."""
    deny = (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | rule["errno"])
    allow = (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)
    if "arg" not in rule:
        return [deny]
    low = (BPF_LD_W_ABS, 0, 0, ARGS_OFFSET + 8 * rule["arg"])
    high = (BPF_LD_W_ABS, 0, 0, ARGS_OFFSET + 8 * rule["arg"] + 4)
    if "maskedNonZero" in rule:  # (x & mask) != 0
        return [low, (BPF_JSET_K, 0, 1, rule["maskedNonZero"]), deny, allow]
    if "lowWordEquals" in rule:  # low == value, whatever the high word (the kernel reads an int)
        return [low, (BPF_JEQ_K, 0, 1, rule["lowWordEquals"]), deny, allow]
    if "atLeast" in rule:  # high != 0 or low >= value
        return [high, (BPF_JEQ_K, 0, 2, 0), low, (BPF_JGE_K, 0, 1, rule["atLeast"]), deny, allow]
    values = rule["notIn"]  # high != 0 or low is none of the values
    block = [high, (BPF_JEQ_K, 0, len(values) + 1, 0), low]
    for index, value in enumerate(values):
        block.append((BPF_JEQ_K, len(values) - index, 0, value))
    return block + [deny, allow]


def seccomp_program(rules):
    """A classic BPF program: x86-64 only, x32 numbers refused, each rule's syscall denied with its errno."""
    program = [
        (BPF_LD_W_ABS, 0, 0, ARCH_OFFSET),
        (BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        (BPF_LD_W_ABS, 0, 0, NR_OFFSET),
        (BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
    ]
    for rule in rules:
        block = rule_block(rule)
        program.append((BPF_JEQ_K, 0, len(block), rule["nr"]))
        program.extend(block)
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program), len(program)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def install_seccomp(program):
    code, length = program
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(SockFprog(length, code)), 0, 0), "seccomp")
