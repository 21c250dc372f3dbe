"""weftd's control plane while it runs: a capture goes through the real pipeline (net_pcap,
no --exit-on-eof, so weftd keeps running after the file), then

- `weftctl -s SOCK status|ports|flows` read the live instance: the live flow table (copied
  out by the worker between bursts) must equal `weftctl analyze` of the same file, in
  JSON, in the human table, and under the same filters and sorts;
- the control socket is mode 0600, a second weftd on it is refused, bad requests get one
  clear error each;
- the Prometheus endpoint passes Debian's `promtool check metrics`, and Debian's real
  prometheus server scrapes it and answers a query with weftd's frame count;
- SIGTERM stops weftd cleanly and removes its socket (the last checks of the file: they
  stop the weftd every other check reads).

One weftd serves every check of a run (a module fixture), started the first time a check
needs it."""
import json
import os
import signal
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from weftkit.docs import flows_in_microseconds, snapshot_missed_flows, split_dataplane, weftd_ports, weftd_workers
from weftkit.proc import generate, must, sh


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Weftd:
    """A weftd on a pcap with its control socket and metrics endpoint, and the analyzer's
    view of the same file to compare with."""

    def __init__(self, tools, work_dir):
        self.tools, self.work_dir = tools, work_dir
        self.capture = generate(tools.weft_gen, "inference", os.path.join(work_dir, "mixed.pcap"), "--hosts=4",
                                "--clients=4", "--requests=8", "--kv-block=32K", "--mtu=1024")
        self.want = json.loads(self.analyze("--json"))
        self.want.pop("source", None)
        self.frames = self.want["totals"]["frames"]
        self.sock = os.path.join(work_dir, "weftd.sock")
        self.metrics_port = free_port()
        self.prefix = f"weftd-ctl-{os.getpid()}"
        self.log_path = os.path.join(work_dir, "weftd.log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([tools.weftd, "--pcap", self.capture, "--control-socket", self.sock,
                                          "--metrics", f"127.0.0.1:{self.metrics_port}", "--file-prefix",
                                          self.prefix, "--idle-sleep-us", "200"],
                                         stdout=log, stderr=subprocess.STDOUT)
        self.stopped = None

    def analyze(self, *args):
        return must(self.tools.weftctl, "analyze", "-q", *args, self.capture).stdout

    def ctl(self, *args, check_rc=True):
        r = sh(self.tools.weftctl, "-s", self.sock, *args, timeout=30)
        if check_rc and r.returncode != 0:
            raise RuntimeError(f"weftctl {' '.join(args)}: rc {r.returncode}: {r.stderr}")
        return r

    def wait_for_every_frame(self):
        """The live status once the worker has taken every frame (or the last one read
        before 60 s passed or weftd died)."""
        status, deadline = {}, time.time() + 60
        while time.time() < deadline:
            if os.path.exists(self.sock):
                r = self.ctl("status", "--json", check_rc=False)
                if r.returncode == 0:
                    status = json.loads(r.stdout)
                    if status["totals"]["frames"] >= self.frames:
                        break
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        return status

    def stop(self):
        """SIGTERM once; (exit code or "hung", weftd's log)."""
        if self.stopped is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = "hung"
            with open(self.log_path) as f:
                self.stopped = (rc, f.read())
        return self.stopped


@pytest.fixture(scope="module")
def weftd(tools, work_dir):
    d = Weftd(tools, work_dir)
    try:
        d.status = d.wait_for_every_frame()
        yield d
    finally:
        d.stop()


def raw_request(weftd, line):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(weftd.sock)
        s.sendall(line)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return json.loads(data)


def test_status_weftd_running_every_frame_taken(weftd):
    s = weftd.status
    assert s.get("schema") == "weft.status/1" and s.get("running") is True \
        and s["totals"]["frames"] == weftd.frames, \
        f"{s.get('totals', {}).get('frames')} of {weftd.frames} frames: {s}"


def test_control_socket_is_mode_0600(weftd):
    mode = stat.S_IMODE(os.stat(weftd.sock).st_mode) if os.path.exists(weftd.sock) else None
    assert mode == 0o600, oct(mode) if mode is not None else "missing"


def test_status_counters_per_worker_and_the_flow_tables_size(weftd):
    s = weftd.status
    frames = weftd_workers(s)[0]["frames"] if s.get("workers") else None
    assert frames == weftd.frames and s.get("flows") == len(weftd.want["flows"]), s


# ---- live flows == the offline analyzer, document for document

@pytest.fixture(scope="module")
def live_flows(weftd):
    return json.loads(weftd.ctl("flows", "--json").stdout)


def test_flows_json_live_equals_analyze_json(weftd, live_flows):
    got, _ = split_dataplane(live_flows)
    want = json.loads(json.dumps(weftd.want))
    same = flows_in_microseconds(got) == flows_in_microseconds(want)
    assert same, f"{len(want['flows'])} flows, {weftd.frames} frames; differs: " \
                 f"{[k for k in want if got.get(k) != want.get(k)]}"


def test_the_snapshot_missed_no_flow(live_flows):
    _, dataplane = split_dataplane(live_flows)
    assert snapshot_missed_flows(dataplane) == 0, dataplane


# the same filters and sorts as analyze; the host and QPN come from the analyzer's flows
FILTERS = {"host": lambda w: ["--host", w["flows"][0]["src"]],
           "qpn": lambda w: ["--qpn", hex(w["flows"][-1]["dqpn"])],
           "host-sort-packets-n3": lambda w: ["--host", w["flows"][0]["src"], "--sort", "packets", "-n", "3"],
           "sort-messages-all": lambda w: ["--sort", "messages", "--all"]}


@pytest.mark.parametrize("which", FILTERS)
def test_flows_filtered_equals_analyzes(weftd, which):
    args = FILTERS[which](weftd.want)
    live = flows_in_microseconds(json.loads(weftd.ctl("flows", "--json", *args).stdout))["flows"]
    offline = flows_in_microseconds(json.loads(weftd.analyze("--json", *args)))["flows"]
    assert live == offline and len(offline) > 0, \
        f"weftctl flows {' '.join(args)}: {len(live)} flows live, {len(offline)} from analyze"


def test_flows_table_equals_analyze_table(weftd):
    table = weftd.ctl("flows").stdout
    assert table == weftd.analyze(), table[:600]


def test_ports_the_pcap_port_weftds_and_the_drivers_counts(weftd):
    doc = json.loads(weftd.ctl("ports", "--json").stdout)
    p = weftd_ports(doc)[0] if doc.get("ports") else {}
    assert doc.get("schema") == "weft.ports/1" and p.get("rx_packets") == weftd.frames \
        and p.get("driver_counters", {}).get("rx_packets") == weftd.frames, doc


def test_status_text_says_what_runs(weftd):
    out = weftd.ctl("status").stdout
    assert "passive mode, running" in out, out


# ---- errors: each one clear line

def test_flows_qpn_out_of_range_usage_error(weftd):
    r = weftd.ctl("flows", "--qpn", "0x1000000", check_rc=False)
    assert r.returncode == 2 and "24-bit" in r.stderr, r.stderr


def test_weftctl_to_no_weftd_exit_1_says_so(tools, work_dir):
    r = sh(tools.weftctl, "-s", os.path.join(work_dir, "nobody.sock"), "status")
    assert r.returncode == 1 and "cannot reach weftd" in r.stderr, r.stderr


def test_a_request_that_is_not_json_gets_an_error_reply(weftd):
    reply = raw_request(weftd, b"status please\n")
    assert "not a JSON object" in reply.get("error", ""), reply


def test_an_unknown_command_gets_an_error_reply_naming_the_commands(weftd):
    reply = raw_request(weftd, b'{"command":"reboot"}\n')
    assert "status, ports, flows, paths, explain-path, balance-policy, balance-reorder, keys or keys-rotate" in reply.get("error", ""), reply


def test_a_bad_filter_gets_an_error_reply(weftd):
    reply = raw_request(weftd, b'{"command":"flows","filter":{"sort":"age"}}\n')
    assert "filter.sort" in reply.get("error", ""), reply


@pytest.mark.parametrize("line", [b'{"command":1}\n', b'{"command":"status","format":7}\n',
                                  b'{"command":"flows","filter":[1]}\n'],
                         ids=["command-not-a-string", "format-not-a-string", "filter-not-an-object"])
def test_a_field_of_the_wrong_type_gets_an_error_reply_and_weftd_stays_up(weftd, line):
    # {"command":1} used to throw in the server outside its error handler: weftd aborted
    reply = raw_request(weftd, line)
    assert reply.get("error"), reply
    assert raw_request(weftd, b'{"command":"status"}\n').get("schema") == "weft.status/1"


def test_an_oversized_request_is_refused(weftd):
    reply = raw_request(weftd, b"x" * 70000 + b"\n")
    assert "longer than" in reply.get("error", ""), reply


def test_a_second_weftd_on_the_same_socket_is_refused(tools, weftd):
    r = sh(tools.weftd, "--pcap", weftd.capture, "--control-socket", weftd.sock, "--file-prefix",
           weftd.prefix + "b", timeout=60)
    assert r.returncode == 1 and "in use by another weftd" in r.stderr, r.stderr[-500:]


# ---- Prometheus: the exposition passes promtool, and the real server scrapes it

@pytest.fixture(scope="module")
def metrics_text(weftd):
    return urllib.request.urlopen(f"http://127.0.0.1:{weftd.metrics_port}/metrics", timeout=10).read().decode()


def test_promtool_check_metrics_no_problem(metrics_text):
    pt = subprocess.run(["promtool", "check", "metrics"], input=metrics_text, capture_output=True, text=True)
    assert pt.returncode == 0 and not pt.stdout.strip() and not pt.stderr.strip(), pt.stdout + pt.stderr


def test_metrics_weft_frames_total_of_worker_0(weftd, metrics_text):
    line = f'weft_frames_total{{worker="0"}} {weftd.frames}\n'
    assert line in metrics_text, f"no line {line!r} in: {metrics_text[:1500]}"


def test_metrics_anything_but_metrics_is_404(weftd):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{weftd.metrics_port}/", timeout=10)
        code = 200
    except urllib.error.HTTPError as e:
        code = e.code
    assert code == 404, code


def test_prometheus_scraped_weftd_sum_of_weft_frames_total(weftd, work_dir):
    prom_port = free_port()
    cfg = os.path.join(work_dir, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                f"  - job_name: weftd\n    static_configs:\n      - targets: ['127.0.0.1:{weftd.metrics_port}']\n")
    with open(os.path.join(work_dir, "prometheus.log"), "w") as log:
        prom = subprocess.Popen(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={work_dir}/tsdb",
                                 f"--web.listen-address=127.0.0.1:{prom_port}"],
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        value, deadline = None, time.time() + 60
        while time.time() < deadline and value is None:
            time.sleep(1)
            try:
                q = urllib.request.urlopen(
                    f"http://127.0.0.1:{prom_port}/api/v1/query?query=sum(weft_frames_total)", timeout=5).read()
                res = json.loads(q)["data"]["result"]
                if res:
                    value = int(float(res[0]["value"][1]))
            except (OSError, ValueError, KeyError):
                pass
    finally:
        prom.terminate()
        prom.wait(timeout=30)
    assert value == weftd.frames, f"sum(weft_frames_total) {value}, want {weftd.frames}"


# ---- last: SIGTERM stops the weftd every check above read

def test_sigterm_weftd_stopped_cleanly_with_its_final_counters(weftd):
    rc, out = weftd.stop()
    assert rc == 0 and "stopped by signal" in out and f"frames {weftd.frames}" in out, f"rc={rc} {out[-800:]}"


def test_the_control_socket_is_gone(weftd):
    weftd.stop()
    assert not os.path.exists(weftd.sock), weftd.sock
