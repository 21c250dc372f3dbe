"""weft-verbs' command line as an operator first meets it, no RDMA needed: the server
listens only where --bind says (required; every address only when asked for, with a
warning), --help says what the side channel gives away, and every number is
range-checked, refused with its range."""
import os
import socket
import subprocess
import time

import pytest
from weftkit.proc import sh


@pytest.fixture(scope="module")
def verbs(tools):
    return tools.weft_verbs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_without_bind_is_refused(verbs):
    # before --bind was required this listened on every address (until the timeout)
    r = sh(verbs, "server", "--connect-timeout", "1", "--port", str(free_port()), timeout=30)
    assert r.returncode == 2 and "--bind" in r.stderr, (r.returncode, r.stderr)


@pytest.mark.parametrize("address", ["0.0.0.0", "::"])
def test_every_address_is_warned_about(verbs, address):
    r = sh(verbs, "server", "--bind", address, "--connect-timeout", "1", "--port", str(free_port()),
           timeout=30)
    assert r.returncode == 1 and "warning" in r.stderr and "every address" in r.stderr \
        and "rkey" in r.stderr, (r.returncode, r.stderr)


def test_a_named_address_gets_no_warning(verbs):
    r = sh(verbs, "server", "--bind", "127.0.0.1", "--connect-timeout", "1", "--port", str(free_port()),
           timeout=30)
    assert r.returncode == 1 and "warning" not in r.stderr and "no client connected to 127.0.0.1" \
        in r.stderr, (r.returncode, r.stderr)


def listeners(port):
    """Local addresses (hex, as /proc/net/tcp{,6} show them) in LISTEN state on port."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, p = local.rsplit(":", 1)
                if state == "0A" and int(p, 16) == port:
                    found.append(addr)
    return found


def test_server_listens_only_on_the_bound_address(verbs):
    port = free_port()
    server = subprocess.Popen([verbs, "server", "--bind", "127.0.0.1", "--port", str(port),
                               "--connect-timeout", "10"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if listeners(port):
                break
            time.sleep(0.05)
        found = listeners(port)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert found == ["0100007F"], f"listening on {found} (127.0.0.1 is 0100007F)"


def test_help_says_what_the_side_channel_exposes(verbs):
    r = sh(verbs, "server", "--help")
    text = " ".join(r.stdout.split())
    assert r.returncode == 0, r.stderr
    for words in ("no authentication", "buffer address and rkey of its registered memory",
                  "first peer that connects", "trusted test fabric", "--bind TEXT REQUIRED"):
        assert words in text, f"{words!r} not in: {r.stdout}"


SERVER = ["server", "--bind", "127.0.0.1", "--connect-timeout", "1"]
CLIENT = ["client", "127.0.0.1", "--connect-timeout", "1"]
BAD_NUMBERS = [
    (SERVER, "--port", "0", "1 to 65535"),
    (SERVER, "--port", "65536", "1 to 65535"),
    (SERVER, "--ib-port", "0", "1 to 255"),
    (SERVER, "--ib-port", "256", "1 to 255"),
    (SERVER, "--gid-index", "-1", "0 to 255"),
    (SERVER, "--gid-index", "256", "0 to 255"),
    (["server", "--bind", "127.0.0.1"], "--connect-timeout", "0", "1 to 86400"),
    (SERVER, "--timeout", "0", "1 to 86400"),
    (SERVER, "--timeout", "86401", "1 to 86400"),
    (CLIENT, "--qps", "0", "1 to 256"),
    (CLIENT, "--qps", "257", "1 to 256"),
    (CLIENT, "--iterations", "0", "1 to 4294967295"),
    (CLIENT, "--iterations", "-1", "1 to 4294967295"),
    (CLIENT, "--read-every", "-1", "0 to 4294967295"),
    (CLIENT, "--read-every", "4x", "0 to 4294967295"),
]


@pytest.mark.parametrize("base,option,value,range_words", BAD_NUMBERS,
                         ids=[f"{b[0]} {o} {v}" for b, o, v, _ in BAD_NUMBERS])
def test_bad_number_refused_with_its_range(verbs, base, option, value, range_words):
    r = sh(verbs, *base, "--port", str(free_port()), option, value, timeout=30) if option != "--port" \
        else sh(verbs, *base, option, value, timeout=30)
    assert r.returncode == 2 and option in r.stderr and range_words in r.stderr, (r.returncode, r.stderr)
