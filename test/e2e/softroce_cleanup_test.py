"""The SoftRoCE harness leaves nothing behind when interrupted: start a guest, send the
harness SIGTERM while qemu runs (a Ctrl-C reaches the same trap as TERM does), then no
network namespace of ours, no tap and no qemu may remain. The interrupted run happens
once (a module fixture); each check reads what it left."""
import os
import signal
import subprocess
import time
from types import SimpleNamespace

import pytest
# (a namespace left by a run killed outright may be removed by this one)
from weftkit.softroce import our_namespaces


@pytest.fixture(scope="module")
def interrupted(tools, source_root, work_dir):
    def qemus():
        # only this checkout's guests: another one's harness may be running on the machine
        pattern = f"qemu-system-x86_64 -name g1 .*weft_cmd={source_root}/scripts/softroce/guest"
        return len(subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split())

    before = our_namespaces()
    out = os.path.join(work_dir, "interrupted")
    with open(out + ".log", "w") as log:
        harness = subprocess.Popen([os.path.join(source_root, "scripts", "softroce", "run"), "devices", out],
                                   env=dict(os.environ, WEFT_BUILD=tools.build), stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        for _ in range(120):
            if qemus() > 0:
                break
            time.sleep(0.5)
        started = qemus() > 0
        time.sleep(2)
        t0 = time.monotonic()
        harness.send_signal(signal.SIGTERM)
        rc = harness.wait(timeout=120)
        elapsed = time.monotonic() - t0
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
    time.sleep(1)
    return SimpleNamespace(started=started, rc=rc, elapsed=elapsed, qemus=qemus(),
                           left=our_namespaces() - before, log=out + ".log")


def test_qemu_started(interrupted):
    assert interrupted.started, f"no guest within 60 s; see {interrupted.log}"


def test_harness_stops_at_once_when_interrupted(interrupted):
    assert interrupted.rc != 0 and interrupted.elapsed <= 20, \
        f"rc={interrupted.rc}, {interrupted.elapsed:.0f} s after SIGTERM"


def test_no_qemu_left(interrupted):
    assert interrupted.qemus == 0, f"{interrupted.qemus} qemu process(es) of this checkout still running"


def test_no_network_namespace_left(interrupted):
    assert not interrupted.left, sorted(interrupted.left)
