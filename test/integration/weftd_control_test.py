#!/usr/bin/python3
"""weftd's control plane while it runs: a capture goes through the real pipeline (net_pcap,
no --exit-on-eof, so weftd keeps running after the file), then

- `weftctl -s SOCK status|ports|flows` read the live instance: the live flow table (copied
  out by the worker between bursts) must equal `weftctl analyze` of the same file, in
  JSON, in the human table, and under the same filters and sorts;
- the control socket is mode 0600, a second weftd on it is refused, bad requests get one
  clear error each;
- the Prometheus endpoint passes Debian's `promtool check metrics`, and Debian's real
  prometheus server scrapes it and answers a query with weftd's frame count;
- SIGTERM stops weftd cleanly and removes its socket.
usage: weftd_control_test.py SOURCE_DIR BUILD_DIR WORKDIR"""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks  # noqa: E402

SRC, BUILD, WORK = sys.argv[1:4]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
weftd = os.path.join(BUILD, "tools", "weftd")
weftctl = os.path.join(BUILD, "tools", "weftctl")
weft_gen = os.path.join(BUILD, "tools", "weft-gen")
check = Checks()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def to_us(doc):
    # net_pcap hands DPDK microsecond timestamps; weft-gen's pcaps are nanosecond
    for f in doc["flows"]:
        f["first_ns"] //= 1000
        f["last_ns"] //= 1000
    return doc


def ctl(*args, check_rc=True):
    r = subprocess.run([weftctl, "-s", sock, *args], capture_output=True, text=True, timeout=30)
    if check_rc and r.returncode != 0:
        raise RuntimeError(f"weftctl {' '.join(args)}: rc {r.returncode}: {r.stderr}")
    return r


def analyze(*args):
    return subprocess.run([weftctl, "analyze", "-q", *args, capture], capture_output=True,
                          text=True, check=True).stdout


def raw_request(line):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(sock)
        s.sendall(line)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return json.loads(data)


capture = os.path.join(WORK, "mixed.pcap")
subprocess.run([weft_gen, "inference", "-o", capture, "--hosts=4", "--clients=4", "--requests=8",
                "--kv-block=32K", "--mtu=1024"], check=True, capture_output=True)
want = json.loads(analyze("--json"))
want.pop("source", None)
frames = want["totals"]["frames"]

sock = os.path.join(WORK, "weftd.sock")
metrics_port = free_port()
prefix = f"weftd-ctl-{os.getpid()}"
log = open(os.path.join(WORK, "weftd.log"), "w")
wd = subprocess.Popen([weftd, "--pcap", capture, "--control-socket", sock, "--metrics",
                       f"127.0.0.1:{metrics_port}", "--file-prefix", prefix, "--idle-sleep-us", "200"],
                      stdout=log, stderr=subprocess.STDOUT)
prom = None
try:
    # wait until the worker has taken every frame, reading the live counters
    status, deadline = {}, time.time() + 60
    while time.time() < deadline:
        if os.path.exists(sock):
            r = ctl("status", "--json", check_rc=False)
            if r.returncode == 0:
                status = json.loads(r.stdout)
                if status["totals"]["frames"] >= frames:
                    break
        if wd.poll() is not None:
            break
        time.sleep(0.2)
    check(f"weftctl status: weftd running, every frame taken ({status.get('totals', {}).get('frames')} of {frames})",
          status.get("schema") == "weft.status/1" and status.get("running") is True
          and status["totals"]["frames"] == frames, status)
    mode = stat.S_IMODE(os.stat(sock).st_mode) if os.path.exists(sock) else None
    check(f"control socket is mode 0600 ({oct(mode) if mode is not None else 'missing'})", mode == 0o600)
    check("status: counters per worker and the flow table's size",
          status.get("workers", [{}])[0].get("account", {}).get("frames") == frames and status.get("flows") == len(want["flows"]),
          status)

    # live flows == the offline analyzer, document for document
    got = json.loads(ctl("flows", "--json").stdout)
    dataplane = got.pop("dataplane")
    same = to_us(got) == to_us(json.loads(json.dumps(want)))
    check(f"weftctl flows --json (live) == weftctl analyze --json ({len(want['flows'])} flows, {frames} frames)",
          same, [k for k in want if got.get(k) != want.get(k)])
    check("the snapshot missed no flow", dataplane.get("snapshot_missed_flows") == 0, dataplane)
    # the same filters and sorts as analyze
    host = want["flows"][0]["src"]
    qpn = hex(want["flows"][-1]["dqpn"])
    for args in (["--host", host], ["--qpn", qpn], ["--host", host, "--sort", "packets", "-n", "3"],
                 ["--sort", "messages", "--all"]):
        live = to_us(json.loads(ctl("flows", "--json", *args).stdout))["flows"]
        offline = to_us(json.loads(analyze("--json", *args)))["flows"]
        check(f"weftctl flows {' '.join(args)} == analyze's ({len(offline)} flows)",
              live == offline and len(offline) > 0, (len(live), len(offline)))
    table = ctl("flows").stdout
    check("weftctl flows (table) == weftctl analyze (table)", table == analyze(), table[:600])

    ports = json.loads(ctl("ports", "--json").stdout)
    p = ports["ports"][0] if ports.get("ports") else {}
    check("weftctl ports: the pcap port, weftd's and the driver's counts",
          ports.get("schema") == "weft.ports/1" and p.get("rx_packets") == frames
          and p.get("driver_counters", {}).get("rx_packets") == frames, ports)
    check("weftctl status (text) says what runs", "passive mode, running" in ctl("status").stdout)

    # errors: each one clear line
    r = ctl("flows", "--qpn", "0x1000000", check_rc=False)
    check("weftctl flows --qpn out of range: usage error", r.returncode == 2 and "24-bit" in r.stderr, r.stderr)
    r = subprocess.run([weftctl, "-s", os.path.join(WORK, "nobody.sock"), "status"],
                       capture_output=True, text=True)
    check("weftctl -s to no weftd: exit 1, says so", r.returncode == 1 and "cannot reach weftd" in r.stderr,
          r.stderr)
    check("a request that is not JSON gets an error reply",
          "not a JSON object" in raw_request(b"status please\n").get("error", ""))
    check("an unknown command gets an error reply naming the commands",
          "status, ports or flows" in raw_request(b'{"command":"reboot"}\n').get("error", ""))
    check("a bad filter gets an error reply",
          "filter.sort" in raw_request(b'{"command":"flows","filter":{"sort":"age"}}\n').get("error", ""))
    check("an oversized request is refused",
          "longer than" in raw_request(b"x" * 70000 + b"\n").get("error", ""))
    r = subprocess.run([weftd, "--pcap", capture, "--control-socket", sock, "--file-prefix", prefix + "b"],
                       capture_output=True, text=True, timeout=60)
    check("a second weftd on the same socket is refused",
          r.returncode == 1 and "in use by another weftd" in r.stderr, r.stderr[-500:])

    # Prometheus: the exposition passes promtool, and the real server scrapes it
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    pt = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    check("promtool check metrics: no problem", pt.returncode == 0 and not pt.stdout.strip()
          and not pt.stderr.strip(), pt.stdout + pt.stderr)
    check(f"metrics: weft_frames_total{{worker=\"0\"}} {frames}", f'weft_frames_total{{worker="0"}} {frames}\n' in text)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/", timeout=10)
        code = 200
    except urllib.error.HTTPError as e:
        code = e.code
    check("metrics: anything but /metrics is 404", code == 404, code)

    prom_port = free_port()
    cfg = os.path.join(WORK, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                f"  - job_name: weftd\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n")
    prom = subprocess.Popen(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={WORK}/tsdb",
                             f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(WORK, "prometheus.log"), "w"))
    value, deadline = None, time.time() + 60
    while time.time() < deadline and value is None:
        time.sleep(1)
        try:
            q = urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/query?query=sum(weft_frames_total)",
                                       timeout=5).read()
            res = json.loads(q)["data"]["result"]
            if res:
                value = int(float(res[0]["value"][1]))
        except (OSError, ValueError, KeyError):
            pass
    check(f"prometheus scraped weftd: sum(weft_frames_total) == {frames} ({value})", value == frames)
finally:
    if prom:
        prom.terminate()
        prom.wait(timeout=30)
    wd.send_signal(signal.SIGTERM)
    try:
        rc = wd.wait(timeout=30)
    except subprocess.TimeoutExpired:
        wd.kill()
        rc = "hung"
    log.close()
out = open(os.path.join(WORK, "weftd.log")).read()
check("SIGTERM: weftd stopped cleanly with its final counters",
      rc == 0 and "stopped by signal" in out and f"frames {frames}" in out, out[-800:])
check("the control socket is gone", not os.path.exists(sock))
check.finish()
