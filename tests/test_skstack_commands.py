"""Command builders: exact bytes, validation, secrets kept out of errors."""

import pytest

from logger.skstack import commands as c
from logger.skstack.commands import CommandError

PWD = "0123456789AB"
RBID = "0123456789ABCDEF0123456789ABCDEF"


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (c.skver(), b"SKVER\r\n"),
        (c.skappver(), b"SKAPPVER\r\n"),
        (c.skinfo(), b"SKINFO\r\n"),
        (c.skreset(), b"SKRESET\r\n"),
        (c.sksreg("SFE", "0"), b"SKSREG SFE 0\r\n"),
        (c.sksreg("S2", 0x21), b"SKSREG S2 21\r\n"),
        (c.sksreg("S3", 0x0257), b"SKSREG S3 0257\r\n"),
        (c.sksreg("S3", "8888"), b"SKSREG S3 8888\r\n"),
        (c.sksreg("SA2", 1), b"SKSREG SA2 1\r\n"),
        (c.sksreg("sfd"), b"SKSREG SFD\r\n"),
        (c.sksetpwd(PWD), b"SKSETPWD C 0123456789AB\r\n"),
        (c.sksetrbid(RBID), b"SKSETRBID " + RBID.encode() + b"\r\n"),
        (c.skjoin("fe80:0000:0000:0000:021c:6400:03dd:6393"), b"SKJOIN FE80:0000:0000:0000:021C:6400:03DD:6393\r\n"),
        (c.skrejoin(), b"SKREJOIN\r\n"),
        (c.skterm(), b"SKTERM\r\n"),
        (c.skll64("001C640003DD6393"), b"SKLL64 001C640003DD6393\r\n"),
        (c.sktable("E"), b"SKTABLE E\r\n"),
        (c.sktable(0xE), b"SKTABLE E\r\n"),
        (c.sktable(1), b"SKTABLE 1\r\n"),
        (c.ropt(), b"ROPT\r"),
        (c.wopt(1), b"WOPT 01\r"),
        (c.wopt(0), b"WOPT 00\r"),
        (c.ruart(), b"RUART\r"),
        (c.wuart(0x80), b"WUART 80\r"),
    ],
)
def test_command_bytes(built, expected):
    assert built == expected


def test_rohm_product_commands_end_with_cr_only():
    for built in (c.ropt(), c.wopt(1), c.ruart(), c.wuart(0)):
        assert built.endswith(b"\r") and not built.endswith(b"\r\n")


@pytest.mark.parametrize(
    ("addr64", "expected"),
    [
        ("001C640003DD6393", "FE80:0000:0000:0000:021C:6400:03DD:6393"),
        ("C0F9450040191875", "FE80:0000:0000:0000:C2F9:4500:4019:1875"),
        ("021d129100040000", "FE80:0000:0000:0000:001D:1291:0004:0000"),
        ("0000000000000000", "FE80:0000:0000:0000:0200:0000:0000:0000"),
    ],
)
def test_ll64_flips_universal_local_bit_and_never_compresses(addr64, expected):
    assert c.ll64(addr64) == expected


@pytest.mark.parametrize("bad", ["001C640003DD639", "001C640003DD63930", "001C640003DD639G", "", None])
def test_ll64_rejects_bad_mac(bad):
    with pytest.raises(CommandError, match="16 hex digits"):
        c.ll64(bad)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: c.sksreg("X2", 1), "register"),
        (lambda: c.sksreg("S2", "2 1"), "hex digits"),
        (lambda: c.sksreg("S2", -1), "integer from 0"),
        (lambda: c.sksreg("S2", True), "bool"),
        (lambda: c.skjoin("FE80::1"), "8 groups of 4 hex digits"),
        (lambda: c.sktable(3), "1, 2 or E"),
        (lambda: c.wopt(2), "WOPT mode"),
        (lambda: c.wuart(0x100), "WUART mode"),
    ],
)
def test_bad_arguments_are_named(call, match):
    with pytest.raises(CommandError, match=match):
        call()


@pytest.mark.parametrize(
    ("secret", "call", "match"),
    [
        ("0123456789A", c.sksetpwd, r"exactly 12 characters \(got 11\)"),
        ("0123456789ABC", c.sksetpwd, r"exactly 12 characters \(got 13\)"),
        ("01234 6789AB", c.sksetpwd, "position 6"),
        ("01234567\u00e99AB", c.sksetpwd, "position 9"),
        (RBID[:-1], c.sksetrbid, r"exactly 32 characters \(got 31\)"),
        (RBID[:10] + '"' + RBID[11:], c.sksetrbid, "position 11"),
    ],
)
def test_credential_errors_never_contain_the_secret(secret, call, match):
    with pytest.raises(CommandError, match=match) as info:
        call(secret)
    message = str(info.value)
    assert secret not in message
    # not even a long fragment of it
    assert not any(secret[i : i + 6] in message for i in range(len(secret) - 5))


def test_credential_must_be_text():
    with pytest.raises(CommandError, match="must be text"):
        c.sksetpwd(123456789012)
