"""Network namespaces and veth pairs that go away however the test or script ends."""
import contextlib

from weftkit.proc import sh


def delete(*names):
    for ns in names:
        sh("ip", "netns", "del", ns)


@contextlib.contextmanager
def namespaces(*names):
    """Fresh namespaces (a leftover of the same name from a killed run is removed first),
    loopback up, all deleted on exit."""
    delete(*names)
    try:
        for ns in names:
            sh("ip", "netns", "add", ns, check=True)
            sh("ip", "link", "set", "lo", "up", ns=ns, check=True)
        yield names
    finally:
        delete(*names)


def veth(ns_a, dev_a, ns_b, dev_b, *, tx_checksum=True):
    """A veth from dev_a in ns_a to dev_b in ns_b, both ends up, IPv6 off (no neighbour
    discovery or router solicitations in what is counted). tx_checksum=False makes the
    kernel compute TCP/UDP checksums itself: veth leaves them to "hardware" that never
    comes when a frame is forwarded through a packet socket (weftd inline)."""
    sh("ip", "link", "add", dev_a, "netns", ns_a, "type", "veth", "peer", "name", dev_b, "netns", ns_b,
       check=True)
    for ns, dev in ((ns_a, dev_a), (ns_b, dev_b)):
        sh("sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1", ns=ns, check=True)
        if not tx_checksum:
            sh("ethtool", "-K", dev, "tx", "off", ns=ns, check=True)
        sh("ip", "link", "set", dev, "up", ns=ns, check=True)


@contextlib.contextmanager
def veth_between_namespaces(ns_a, dev_a, ns_b, dev_b):
    """Two namespaces joined by a veth (see veth()); both namespaces go on exit."""
    with namespaces(ns_a, ns_b):
        veth(ns_a, dev_a, ns_b, dev_b)
        yield


def listed():
    """The names of every network namespace on the host."""
    return {line.split()[0] for line in sh("ip", "netns", "list").stdout.splitlines() if line.strip()}
