"""The classic BPF program a forked run installs, run here by a small interpreter of the
instructions it uses, against the seccomp_data the kernel would hand it."""

import errno
import struct

import pytest

from sandbox_harness.seccomp import (
    AUDIT_ARCH_X86_64,
    BPF_JEQ_K,
    BPF_JGE_K,
    BPF_JSET_K,
    BPF_LD_W_ABS,
    BPF_RET_K,
    SECCOMP_RET_ALLOW,
    SECCOMP_RET_ERRNO,
    SECCOMP_RET_KILL_PROCESS,
    X32_SYSCALL_BIT,
    seccomp_program,
)

AUDIT_ARCH_I386 = 0x40000003


def verdict(program, nr, args=(0,) * 6, arch=AUDIT_ARCH_X86_64):
    """What the filter returns for one syscall: struct seccomp_data is nr, arch, ip, args[6]."""
    code, length = program
    instructions = [struct.unpack("=HBBI", code[i * 8 : i * 8 + 8]) for i in range(length)]
    data = struct.pack("=IIQ6Q", nr, arch, 0, *args, *(0,) * (6 - len(args)))
    pc, accumulator = 0, 0
    while True:
        op, jump_true, jump_false, k = instructions[pc]
        pc += 1
        if op == BPF_LD_W_ABS:
            accumulator = struct.unpack_from("=I", data, k)[0]
        elif op == BPF_RET_K:
            return k
        elif op in (BPF_JEQ_K, BPF_JGE_K, BPF_JSET_K):
            taken = {BPF_JEQ_K: accumulator == k, BPF_JGE_K: accumulator >= k, BPF_JSET_K: accumulator & k != 0}[op]
            pc += jump_true if taken else jump_false
        else:
            raise AssertionError(f"an instruction the builder should not emit: {op:#x}")


DENIED = SECCOMP_RET_ERRNO | errno.EPERM
PTRACE, IOCTL, CLONE, KILL, PERSONALITY = 101, 16, 56, 62, 135


@pytest.fixture
def program():
    return seccomp_program(
        [
            {"nr": PTRACE, "errno": errno.EPERM},
            {"nr": IOCTL, "errno": errno.EPERM, "arg": 1, "lowWordEquals": 0x5412},  # TIOCSTI
            {"nr": CLONE, "errno": errno.EPERM, "arg": 0, "maskedNonZero": 0x10000000},  # CLONE_NEWUSER
            {"nr": KILL, "errno": errno.EPERM, "arg": 1, "atLeast": 32},
            {"nr": PERSONALITY, "errno": errno.EPERM, "arg": 0, "notIn": [0, 8, 0xFFFFFFFF]},
        ]
    )


def test_a_rule_without_an_argument_test_denies_its_syscall_with_its_errno(program):
    assert verdict(program, PTRACE) == DENIED
    assert verdict(program, 0) == SECCOMP_RET_ALLOW


def test_another_architecture_is_killed_and_x32_numbers_are_enosys(program):
    assert verdict(program, 0, arch=AUDIT_ARCH_I386) == SECCOMP_RET_KILL_PROCESS
    assert verdict(program, X32_SYSCALL_BIT | PTRACE) == SECCOMP_RET_ERRNO | errno.ENOSYS


def test_low_word_equals_ignores_the_high_word_as_the_kernel_reads_an_int(program):
    assert verdict(program, IOCTL, (0, 0x5412, 0, 0, 0, 0)) == DENIED
    assert verdict(program, IOCTL, (0, (1 << 32) | 0x5412, 0, 0, 0, 0)) == DENIED
    assert verdict(program, IOCTL, (0, 0x5413, 0, 0, 0, 0)) == SECCOMP_RET_ALLOW


def test_masked_non_zero_tests_the_flag_bits(program):
    assert verdict(program, CLONE, (0x10000000 | 0x11,)) == DENIED
    assert verdict(program, CLONE, (0x11,)) == SECCOMP_RET_ALLOW


def test_at_least_compares_unsigned_64_bit_values(program):
    assert verdict(program, KILL, (0, 31)) == SECCOMP_RET_ALLOW
    assert verdict(program, KILL, (0, 32)) == DENIED
    assert verdict(program, KILL, (0, 1 << 32)) == DENIED  # high word set: larger than any 32-bit value


def test_not_in_denies_every_value_but_the_listed_ones(program):
    for allowed in (0, 8, 0xFFFFFFFF):
        assert verdict(program, PERSONALITY, (allowed,)) == SECCOMP_RET_ALLOW
    for denied in (1, 9, (1 << 32) | 8):
        assert verdict(program, PERSONALITY, (denied,)) == DENIED
