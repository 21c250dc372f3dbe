"""Options and fixtures every Python test shares: where the build is, where scratch files
go, which binaries to run; and, for meson, exit 77 (SKIP) when every selected check was
skipped, so a skip shows as a skip and not as a pass."""
import collections
import os
import shutil
from types import SimpleNamespace

import pytest

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_addoption(parser):
    g = parser.getgroup("weft")
    g.addoption("--build-dir", default=os.environ.get("WEFT_BUILD") or os.path.join(SOURCE_ROOT, "build"),
                help="meson build directory whose tools/ are tested (default: $WEFT_BUILD or ./build "
                     "beside test/)")
    g.addoption("--work-dir", default=None,
                help="scratch files go in WORK_DIR/<test file> (default: pytest's temporary directory)")
    g.addoption("--oracle-capture", action="append", default=[], metavar="NAME",
                help="tshark_oracle_test.py: only these captures (repeatable; default: all)")
    g.addoption("--softroce-run", default="", metavar="OPTIONS",
                help="softroce_test.py: options for `scripts/softroce/run all`, e.g. '--scale small --loss 5'")
    g.addoption("--skip-exit-77", action="store_true",
                help="exit 77 (meson's SKIP) when every selected check was skipped")


@pytest.fixture(scope="session")
def source_root():
    return SOURCE_ROOT


@pytest.fixture(scope="session")
def tools(request):
    """The build's binaries. A build directory without them fails every test that needs
    one, with the fix in the message, rather than each failing on 'No such file'."""
    build = os.path.abspath(request.config.getoption("build_dir"))
    t = SimpleNamespace(build=build, **{name.replace("-", "_"): os.path.join(build, "tools", name)
                                        for name in ("weftd", "weftctl", "weft-gen", "weft-probe",
                                                     "weft-verbs")})
    if not os.path.isfile(t.weftctl):
        pytest.fail(f"{build} has no tools/weftctl: build first (meson setup build && ninja -C build) "
                    "or pass --build-dir", pytrace=False)
    return t


@pytest.fixture(scope="module")
def work_dir(request, tmp_path_factory):
    """A fresh scratch directory for this test file: WORK_DIR/<file name> when --work-dir
    is given (meson gives one in the build tree), else under pytest's temporary directory."""
    name = request.module.__name__.rpartition(".")[2]
    root = request.config.getoption("work_dir")
    if not root:
        return str(tmp_path_factory.mktemp(name))
    path = os.path.join(os.path.abspath(root), name)
    shutil.rmtree(path, ignore_errors=True)  # what an earlier run left would be read as this one's
    os.makedirs(path)
    return path


def pytest_collection_modifyitems(config, items):
    """softroce_test.py's checks marked run_option(X) exist only when X is among
    --softroce-run's options (--probe, --via-weftd, --loss): the others are deselected,
    which pytest's summary line counts, instead of being reported as skipped."""
    run = config.getoption("softroce_run").split()
    keep, drop = [], []
    for item in items:
        m = item.get_closest_marker("run_option")
        (drop if m and m.args[0] not in run else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


_outcomes = collections.Counter()


def pytest_runtest_logreport(report):
    # a skip is reported in the setup phase, a pass in the call phase, a failure in any
    if report.when == "call" or report.outcome != "passed":
        _outcomes[report.outcome] += 1


def pytest_sessionfinish(session, exitstatus):
    if (session.config.getoption("skip_exit_77") and exitstatus == 0 and _outcomes["skipped"]
            and not _outcomes["passed"] and not _outcomes["failed"]):
        session.exitstatus = 77
