"""What the SoftRoCE end-to-end tests share: reading what a run left behind, and the
namespaces the harness (scripts/softroce/run) makes, so a test can check none is left."""
from weftkit import netns


def read(path):
    """The text of a file a run left, or "" when it is not there."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def our_namespaces():
    """The harness's namespaces present now (weftrxe<pid>)."""
    return {ns for ns in netns.listed() if ns.startswith("weftrxe")}
