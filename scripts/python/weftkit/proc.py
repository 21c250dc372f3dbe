"""Running Weft's programs and the system's tools from tests and scripts."""
import json
import subprocess


def sh(*cmd, ns=None, **kw):
    """Runs cmd (inside network namespace ns when given), output captured as text.
    Pass check=True to raise on a non-zero exit."""
    full = (["ip", "netns", "exec", ns] if ns else []) + [str(c) for c in cmd]
    return subprocess.run(full, capture_output=True, text=True, **kw)


def must(*cmd, ns=None, **kw):
    """sh() that raises with the command's stderr in the message when it fails: a test's
    setup step that went wrong then says why instead of CalledProcessError's exit code."""
    r = sh(*cmd, ns=ns, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: exit {r.returncode}: {r.stderr[-2000:]}")
    return r


def analyze(weftctl, capture, *args):
    """`weftctl analyze --json -q CAPTURE ARGS` as a document."""
    return json.loads(must(weftctl, "analyze", "--json", "-q", *args, capture).stdout)


def generate(weft_gen, scenario, out, *args):
    """A weft-gen scenario written to out (quietly); returns out."""
    must(weft_gen, scenario, "-q", "-o", out, *args)
    return out
