"""What Weft's Python integration tests and measurement scripts share: PASS/FAIL lines
with a final count, running commands, and a veth pair between two network namespaces
that is removed however the script ends."""
import contextlib
import subprocess
import sys


class Checks:
    """check(name, cond, detail) prints PASS/FAIL; finish() prints the count and exits."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
        print(("PASS " if cond else "FAIL ") + name + ("" if cond else f" {str(detail)[:1200]}"),
              flush=True)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


# The small weft-gen scenarios weft-probe is tested (probe_live_test.py) and measured
# (bench/detection_eval.py) on, what each must raise (and no other alert), and the probe
# configuration they need: at this size a 4 MiB bulk READ stands for the real thing.
SMALL_SCENARIO_ARGS = ["--hosts=4", "--iterations=1", "--message-size=64K", "--clients=4",
                       "--requests=4", "--kv-block=32K", "--attack-count=64", "--mtu=1024"]
SCENARIO_ALERTS = {
    "gradient": set(), "inference": set(), "congestion": set(), "loss": set(),
    "qpn-scan": {"qpn-scan"}, "psn-injection": {"psn-injection"}, "rkey-guessing": {"rkey-guessing"},
    "fan-out": {"fan-out"}, "bulk-read": {"bulk-read"}, "cnp-storm": {"cnp-storm"},
    "nak-storm": {"nak-storm"}, "malformed": {"malformed-roce"},
}
SMALL_SCENARIO_PROBE_CONFIG = "[detectors]\nbulk_read_bytes = 4194304\n"


def sh(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@contextlib.contextmanager
def veth_between_namespaces(ns_a, dev_a, ns_b, dev_b):
    """Two namespaces joined by a veth, both ends up, IPv6 off (no neighbour discovery or
    router solicitations in what is counted); both namespaces go on exit."""
    def remove():
        for ns in (ns_a, ns_b):
            sh("ip", "netns", "del", ns)
    remove()
    try:
        for ns in (ns_a, ns_b):
            sh("ip", "netns", "add", ns, check=True)
        sh("ip", "link", "add", dev_a, "netns", ns_a, "type", "veth", "peer", "name", dev_b, "netns", ns_b,
           check=True)
        for ns, dev in ((ns_a, dev_a), (ns_b, dev_b)):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            sh("ip", "-n", ns, "link", "set", dev, "up", check=True)
        yield
    finally:
        remove()
