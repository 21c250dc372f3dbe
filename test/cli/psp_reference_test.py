"""weftctl psp against Google's reference PSP tools and an independent AES-GCM:

- `weftctl psp seal --iv-start 1 --outer-sport xor` of each reference input gives, frame for
  frame, the bytes the reference psp_encrypt wrote (test/fixtures/psp-reference, README there
  says how they were made), in transport and tunnel mode, IPv4 and IPv6, AES-GCM-128 and
  -256, with and without a cookie, crypt offsets 0, 5, 7, 10, 17;
- `weftctl psp open` of each reference output gives back the input, frame for frame;
- python3-cryptography's AES-GCM, given the key derived as the spec says (its CMAC), opens
  what Weft seals: an implementation that shares nothing with Weft's;
- a frame with one flipped bit is not written by `open`; the key file's rules hold at the
  command line."""
import os
import stat
import struct

import pytest
from weftkit import pcap
from weftkit.ci import require_program
from weftkit.proc import sh

KEY0 = "34448a064292601b11a0978f56a2d34cf3fc35ede1a6bc04f8db3e5243a2b0ca"
KEY1 = "563952565d3a78ae773ec1b779f2f2d99f4a7f53a6fbb9b07d5b71f39364d739"

CASES = [
    # reference output, input, weftctl psp seal options
    ("transport-gcm128-off5-novc-v4.pcap", "roce-v4.pcap", ["--spi", "12345678", "--psp-version", "0",
                                                            "--crypt-offset", "5"]),
    ("transport-gcm256-off7-vc-v4.pcap", "roce-v4.pcap", ["--spi", "9A345678", "--psp-version", "1",
                                                          "--crypt-offset", "7", "--vc"]),
    ("tunnel-gcm128-off10-novc-v4.pcap", "roce-v4.pcap", ["--spi", "12345678", "--psp-version", "0",
                                                          "--crypt-offset", "10", "--mode", "tunnel"]),
    ("transport-gcm128-off5-novc-v6.pcap", "roce-v6.pcap", ["--spi", "12345678", "--psp-version", "0",
                                                            "--crypt-offset", "5"]),
    ("tunnel-gcm256-off17-vc-v6.pcap", "roce-v6.pcap", ["--spi", "9A345678", "--psp-version", "1",
                                                        "--crypt-offset", "17", "--vc", "--mode", "tunnel"]),
    ("transport-gcm128-off0-novc-v4.pcap", "roce-v4.pcap", ["--spi", "12345678", "--psp-version", "0",
                                                            "--crypt-offset", "0"]),
]


@pytest.fixture(scope="module")
def ref(source_root):
    return os.path.join(source_root, "test", "fixtures", "psp-reference")


@pytest.fixture(scope="module")
def key_file(work_dir):
    path = os.path.join(work_dir, "master.keys")
    with open(path, "w") as f:
        f.write(f"# test keys: the PSP specification's example master keys\n{KEY0}\n{KEY1}\n")
    os.chmod(path, 0o600)
    return path


def frames(path):
    return list(pcap.frames(path))


@pytest.mark.parametrize("expected,source,options", CASES, ids=[c[0] for c in CASES])
def test_seal_is_byte_identical_to_the_reference(tools, ref, key_file, work_dir, expected, source, options):
    out = os.path.join(work_dir, "sealed-" + expected)
    r = sh(tools.weftctl, "psp", "seal", os.path.join(ref, source), out, "--master-keys", key_file,
           "--iv-start", "1", "--outer-sport", "xor", *options)
    assert r.returncode == 0, r.stderr
    ours, theirs = frames(out), frames(os.path.join(ref, expected))
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"frame {i + 1} differs from the reference's"


@pytest.mark.parametrize("expected,source,options", CASES, ids=[c[0] for c in CASES])
def test_open_of_the_reference_gives_back_its_input(tools, ref, key_file, work_dir, expected, source, options):
    out = os.path.join(work_dir, "opened-" + expected)
    r = sh(tools.weftctl, "psp", "open", os.path.join(ref, expected), out, "--master-keys", key_file, "--json")
    assert r.returncode == 0, r.stderr
    assert frames(out) == frames(os.path.join(ref, source))


def test_an_independent_aes_gcm_opens_what_weft_seals(tools, ref, key_file, work_dir):
    cryptography = pytest.importorskip("cryptography", reason="python3-cryptography (scripts/setup)")
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.cmac import CMAC
    from cryptography.hazmat.primitives.ciphers import algorithms
    out = os.path.join(work_dir, "sealed-for-python.pcap")
    # entropy source ports and a first IV of 1000: nothing the reference fixtures pin
    r = sh(tools.weftctl, "psp", "seal", os.path.join(ref, "roce-v4.pcap"), out, "--master-keys", key_file,
           "--spi", "9A345678", "--psp-version", "1", "--iv-start", "1000")
    assert r.returncode == 0, r.stderr

    def derive(spi, counter):  # SP 800-108 counter mode, AES-256-CMAC, as the spec says
        c = CMAC(algorithms.AES(bytes.fromhex(KEY1 if spi & 0x80000000 else KEY0)))
        c.update(struct.pack(">I4sII", counter, b"Pv1\0", spi, 256))
        return c.finalize()

    key = derive(0x9A345678, 1) + derive(0x9A345678, 2)
    originals = frames(os.path.join(ref, "roce-v4.pcap"))
    for i, f in enumerate(frames(out)):
        ihl = (f[14] & 0x0F) * 4
        psp = 14 + ihl + 8
        co = (f[psp + 2] & 0x3F) * 4
        nonce = f[psp + 4:psp + 16]
        assert struct.unpack(">Q", f[psp + 8:psp + 16])[0] == 1000 + i
        aad, enc = f[psp:psp + 16 + co], f[psp + 16 + co:]
        plain = AESGCM(key).decrypt(nonce, enc, aad)  # raises on a wrong tag
        inner = f[psp + 16:psp + 16 + co] + plain
        assert inner == originals[i][14 + ihl:], f"frame {i + 1}"


def test_open_writes_only_frames_that_authenticate(tools, ref, key_file, work_dir):
    src = frames(os.path.join(ref, "transport-gcm128-off5-novc-v4.pcap"))
    bad = [bytearray(f) for f in src[:10]]
    bad[3][-1] ^= 1            # the ICV
    bad[6][60] ^= 0x80         # the encrypted payload
    bad[8][14 + 20 + 8 + 2] |= 0x40  # a reserved bit of the PSP header (in the AAD)
    path = os.path.join(work_dir, "tampered.pcap")
    pcap.write(path, [bytes(f) for f in bad])
    out = os.path.join(work_dir, "tampered-opened.pcap")
    r = sh(tools.weftctl, "psp", "open", path, out, "--master-keys", key_file)
    assert r.returncode == 1, r.stderr  # some frames not opened: said in the exit status too
    assert len(frames(out)) == 7
    assert "auth_failed 3" in r.stderr, r.stderr


def test_a_truncated_capture_is_said_and_its_whole_frames_sealed(tools, ref, key_file, work_dir):
    src = os.path.join(ref, "roce-v4.pcap")
    data = open(src, "rb").read()
    cut = os.path.join(work_dir, "cut.pcap")
    with open(cut, "wb") as f:
        f.write(data[:len(data) - 10])
    out = os.path.join(work_dir, "cut-sealed.pcap")
    r = sh(tools.weftctl, "psp", "seal", cut, out, "--master-keys", key_file, "--spi", "12345678")
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "last record truncated" in r.stderr, r.stderr
    assert len(frames(out)) == len(frames(src)) - 1


def test_a_key_file_others_can_read_is_refused_without_a_key_byte_said(tools, ref, work_dir):
    path = os.path.join(work_dir, "open.keys")
    with open(path, "w") as f:
        f.write(f"{KEY0}\n{KEY1}\n")
    os.chmod(path, 0o644)
    r = sh(tools.weftctl, "psp", "seal", os.path.join(ref, "roce-v4.pcap"), os.path.join(work_dir, "x.pcap"),
           "--master-keys", path, "--spi", "12345678")
    assert r.returncode == 1
    assert "mode 0644" in r.stderr and KEY0[:8] not in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(work_dir, "x.pcap"))


@pytest.mark.parametrize("spi", ["0", "80000000", "zz", "123456789"])
def test_a_bad_spi_is_refused(tools, ref, key_file, work_dir, spi):
    r = sh(tools.weftctl, "psp", "seal", os.path.join(ref, "roce-v4.pcap"), os.path.join(work_dir, "y.pcap"),
           "--master-keys", key_file, "--spi", spi)
    assert r.returncode == 2 and "--spi" in r.stderr, r.stderr


@pytest.mark.parametrize("expected,source,options", CASES, ids=[c[0] for c in CASES])
def test_analyze_with_the_keys_sees_the_inner_roce_as_in_the_clear(tools, ref, key_file, expected, source,
                                                                   options):
    import json
    sealed = json.loads(sh(tools.weftctl, "analyze", "--json", "-q", "--master-keys", key_file,
                           os.path.join(ref, expected)).stdout)
    clear = json.loads(sh(tools.weftctl, "analyze", "--json", "-q", os.path.join(ref, source)).stdout)
    # the reference writes microsecond captures; the IPv6 input is nanosecond
    from weftkit.docs import flows_in_microseconds
    assert flows_in_microseconds(sealed)["flows"] == flows_in_microseconds(clear)["flows"]
    assert sealed["totals"] == clear["totals"]
    spi = options[options.index("--spi") + 1].lower()
    assert [(p["spi"], p["frames"], p["opened"]) for p in sealed["psp"]] == \
        [(spi, len(frames(os.path.join(ref, expected))), len(frames(os.path.join(ref, expected))))]


def test_analyze_without_keys_counts_psp_frames_per_spi(tools, ref):
    import json
    doc = json.loads(sh(tools.weftctl, "analyze", "--json", "-q",
                        os.path.join(ref, "transport-gcm256-off7-vc-v4.pcap")).stdout)
    assert [(p["spi"], p["version"], p["frames"]) for p in doc["psp"]] == [("9a345678", 1, 150)]
    assert doc["totals"]["roce_packets"] == 0
