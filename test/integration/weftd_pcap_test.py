"""weftd's data plane against the offline analyzer: a capture through the real pipeline
(net_pcap port -> rx burst -> parse -> ICRC -> flow table, on a DPDK worker lcore) with
`weftd --passive --pcap FILE --exit-on-eof --dump-flows OUT` must give exactly the
document of `weftctl analyze --json` on the same file. Captures: the real SoftRoCE
fixtures (microsecond pcaps: compared field for field) and weft-gen scenarios including
malformed frames (nanosecond pcaps: net_pcap hands DPDK microsecond timestamps, so
first_ns/last_ns are compared to the microsecond; every other field exactly).
Then weftd's configuration errors: one clear line each, before anything starts.

Each capture is made, and weftd run on it, once per pytest run, the first time a check
needs it: a single selected check runs only its own weftd."""
import json
import os

import pytest
from weftkit import pcap
from weftkit.docs import flows_in_microseconds, split_dataplane, weftd_ports, weftd_workers
from weftkit.proc import analyze, generate, sh

SMALL = ["--hosts=4", "--message-size=64K", "--iterations=2", "--clients=4", "--requests=4",
         "--kv-block=32K", "--attack-count=64", "--mtu=1024"]
# name -> weft-gen arguments (None: the committed SoftRoCE fixture of that name)
CAPTURES = {
    "softroce-small": None,
    "softroce-loss": None,
    "gradient": ["gradient", *SMALL],
    "inference": ["inference", *SMALL],
    "loss": ["loss", *SMALL],
    "malformed": ["malformed", *SMALL],
    "gradient-v6-vlan": ["gradient", "--ipv6", "--vlan=42", "--hosts=3", "--message-size=64K",
                         "--iterations=1"],
}
# one worker, then two: net_pcap has one RX queue, so worker 0 reads it and hands each
# frame to its flow's owner (software dispatch); the flows must not change
RUNS = [(name, workers) for workers in (1, 2) for name in CAPTURES]
RUN_IDS = [f"{name}-{workers}worker{'s' if workers > 1 else ''}" for name, workers in RUNS]


class Run:
    """One weftd run over a capture: its result, its --dump-flows document with the
    dataplane block apart, and the analyzer's document of the same file."""

    def __init__(self, tools, work_dir, path, nanosecond, workers):
        name = os.path.basename(path)
        dump = os.path.join(work_dir, f"{name}.{workers}w.weftd.json")
        self.result = sh(tools.weftd, "--passive", "--pcap", path, "--exit-on-eof", "--dump-flows", dump,
                         "--file-prefix", f"weftd-test-{os.getpid()}", "--workers", workers,
                         "--control-socket", "none", timeout=120)
        self.ok = self.result.returncode == 0 and "end of input" in self.result.stderr
        self.want = analyze(tools.weftctl, path)
        self.want.pop("source", None)
        self.got, self.dataplane = None, None
        if self.ok:
            with open(dump) as f:
                self.got, self.dataplane = split_dataplane(json.load(f))
            if nanosecond:
                flows_in_microseconds(self.got)
                flows_in_microseconds(self.want)

    def require_ok(self):
        if not self.ok:
            pytest.fail(f"weftd did not run to the end of the file (exit {self.result.returncode}): "
                        f"{self.result.stderr[-800:]}", pytrace=False)


@pytest.fixture(scope="module")
def capture(tools, source_root, work_dir):
    """capture(name) -> (path, nanosecond): a fixture file, or weft-gen's output made once."""
    made = {}

    def get(name):
        if name not in made:
            if CAPTURES[name] is None:
                made[name] = (os.path.join(source_root, "test", "fixtures", name, "capture.pcap"), False)
            else:
                scenario, *args = CAPTURES[name]
                made[name] = (generate(tools.weft_gen, scenario, os.path.join(work_dir, f"{name}.pcap"), *args),
                              True)
        return made[name]
    return get


@pytest.fixture(scope="module")
def weftd_run(tools, work_dir, capture):
    """weftd_run(name, workers) -> Run, each run once."""
    runs = {}

    def get(name, workers):
        if (name, workers) not in runs:
            runs[name, workers] = Run(tools, work_dir, *capture(name), workers)
        return runs[name, workers]
    return get


@pytest.mark.parametrize("name,workers", RUNS, ids=RUN_IDS)
def test_weftd_ran_to_the_end_of_the_file(weftd_run, name, workers):
    r = weftd_run(name, workers)
    assert r.ok, f"exit {r.result.returncode}: {r.result.stderr[-800:]}"


@pytest.mark.parametrize("name,workers", RUNS, ids=RUN_IDS)
def test_weftd_flows_equal_analyze(weftd_run, name, workers):
    r = weftd_run(name, workers)
    r.require_ok()
    t = r.want["totals"]
    assert r.got == r.want, (f"{t['frames']} frames, {len(r.want['flows'])} flows, {t['malformed']} malformed; "
                             f"differs: {[k for k in r.want if r.got.get(k) != r.want[k]]}")


@pytest.mark.parametrize("name,workers", RUNS, ids=RUN_IDS)
def test_every_frame_reached_a_worker_nothing_forwarded_in_passive_mode(weftd_run, name, workers):
    r = weftd_run(name, workers)
    r.require_ok()
    rx = weftd_ports(r.dataplane)[0]["rx_packets"]
    forwarded = [w["forwarded_roce"] for w in weftd_workers(r.dataplane)]
    assert rx == r.want["totals"]["frames"] and not any(forwarded), \
        f"rx {rx} of {r.want['totals']['frames']} frames; forwarded per worker {forwarded}"


@pytest.mark.parametrize("name,workers", [run for run in RUNS if run[1] > 1],
                         ids=[i for i, run in zip(RUN_IDS, RUNS) if run[1] > 1])
def test_worker_0_dispatched_worker_1s_share_nothing_dropped(weftd_run, name, workers):
    r = weftd_run(name, workers)
    r.require_ok()
    w0, w1 = weftd_workers(r.dataplane)[:2]
    assert w1["frames"] > 0 and w0["dispatched"] == w1["frames"] and w0["dropped_dispatch_full"] == 0, \
        f"worker 1 took {w1['frames']} of {r.want['totals']['frames']} frames; workers: {weftd_workers(r.dataplane)}"


# ---- configuration errors are one clear line each, before anything starts

@pytest.fixture(scope="module")
def bad_inline_plan(tools):
    r = sh(tools.weftd, "--inline", "--port", "host:net_bogus0", "--port", "mirror:net_null0", "--show-plan")
    return r, [line for line in r.stderr.splitlines() if line.startswith("weftd: ")]


def test_bad_inline_plan_exit_1_and_one_line_per_problem(bad_inline_plan):
    r, lines = bad_inline_plan
    assert r.returncode == 1 and len(lines) >= 3, r.stderr


def test_unknown_vdev_driver_named(bad_inline_plan):
    r, lines = bad_inline_plan
    assert any("net_bogus0" in line for line in lines), r.stderr


def test_inline_without_a_fabric_port_explained(bad_inline_plan):
    r, lines = bad_inline_plan
    assert any("fabric port" in line for line in lines), r.stderr


@pytest.fixture
def check_config(tools, work_dir):
    """check_config(TOML text) -> (weftd --check-config's result, the file's path)."""
    def run(text):
        conf = os.path.join(work_dir, "bad.toml")
        with open(conf, "w") as f:
            f.write(text)
        return sh(tools.weftd, "--check-config", conf), conf
    return run


def test_check_config_typod_key_and_bad_role_reported_with_the_files_name(check_config):
    r, conf = check_config('mode = "inline"\nworkerz = 2\n[[ports]]\nname = "h"\nrole = "host"\n'
                           'device = "net_null0"\n[[ports]]\nname = "h"\nrole = "uplink"\ndevice = "net_null1"\n')
    assert r.returncode == 1 and f"{conf}: workerz: unknown key" in r.stderr and "ports[1].role" in r.stderr, \
        r.stderr


def test_check_config_name_and_device_used_twice_reported(check_config):
    r, _ = check_config('mode = "inline"\n[[ports]]\nname = "h"\nrole = "host"\ndevice = "net_null0"\n'
                        '[[ports]]\nname = "h"\nrole = "fabric"\ndevice = "net_null0"\n')
    assert r.returncode == 1 and "name used twice" in r.stderr and "device net_null0 used twice" in r.stderr, \
        r.stderr


def test_check_config_toml_syntax_error_points_at_line_and_column(check_config):
    r, conf = check_config('mode = "inline"\nworkers = [\n')
    assert r.returncode == 1 and f"{conf}:2:" in r.stderr, r.stderr


def test_check_config_valid_file_explains_its_plan(check_config):
    r, _ = check_config('mode = "inline"\nworkers = 1\n[[ports]]\nname = "host"\nrole = "host"\n'
                        'device = "net_null0"\n[[ports]]\nname = "up0"\nrole = "fabric"\ndevice = "net_null1"\n')
    assert r.returncode == 0 and "valid" in r.stdout and "worker 0: CPU" in r.stdout \
        and "--vdev net_null0" in r.stdout, r.stdout + r.stderr


def test_impossible_plan_64_workers_refused_before_eal_starts(tools, capture):
    r = sh(tools.weftd, "--passive", "--pcap", capture("softroce-small")[0], "--workers", "64", "--show-plan")
    assert r.returncode == 1 and "workers" in r.stderr, r.stderr


def test_a_capture_cut_by_its_snap_length_is_refused_not_misread(tools, capture, work_dir):
    # net_pcap hands weftd only a record's captured bytes: frames cut by the snap length
    # would be judged malformed, while weftctl analyze counts them as truncated records
    src, _ = capture("softroce-small")
    cut = os.path.join(work_dir, "snap128.pcap")
    pcap.write(cut, [pcap.Record(r.ts_ns, r.orig_len, r.data[:128]) for r in pcap.records(src)],
               snaplen=128)
    r = sh(tools.weftd, "--passive", "--pcap", cut, "--exit-on-eof", "--no-huge",
           "--control-socket", "none", timeout=60)
    assert r.returncode == 1 and "cut short by the capture's snap length" in r.stderr \
        and "weftctl analyze" in r.stderr, r.stderr[-800:]
