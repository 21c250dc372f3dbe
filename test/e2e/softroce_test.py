#!/usr/bin/python3
"""End to end against real SoftRoCE: two qemu guests running Debian's kernel with rdma_rxe
(scripts/softroce/run pingpong) run weftctl devices, ibv_rc_pingpong, ib_write_bw and
ib_read_bw; the host captures the RoCEv2 on the bridge. Checks: every program succeeds;
weftctl devices lists rxe0 with the guest's RoCE v2 GID; weftctl analyze of the capture
agrees per QP with tshark, verifies every ICRC, and its packet total equals the sum of
the two guests' rxe sent_pkts counters.
usage: softroce_test.py SOURCE_DIR BUILD_DIR OUTDIR"""
import json
import os
import subprocess
import sys

SRC, BUILD, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(SRC, "test", "oracle"))
import tshark_oracle  # noqa: E402

passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    passed, failed = (passed + 1, failed) if cond else (passed, failed + 1)
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else f" {detail}"))


env = dict(os.environ, WEFT_BUILD=BUILD)
r = subprocess.run([os.path.join(SRC, "scripts", "softroce", "run"), "pingpong", OUT], env=env,
                   capture_output=True, text=True, timeout=900)
print(r.stdout[-2000:], r.stderr[-2000:])
check("both guests ran every program", r.returncode == 0, f"rc={r.returncode}")
netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
check("no network namespace left behind", "weftrxe" not in netns, netns)
qemu = subprocess.run(["pgrep", "-f", "qemu-system-x86_64 -name g[12] "], capture_output=True, text=True).stdout
check("no qemu left behind", qemu.strip() == "", qemu)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


weftctl = os.path.join(BUILD, "tools", "weftctl")
for guest, ip in (("g1", "10.99.0.1"), ("g2", "10.99.0.2")):
    try:
        doc = json.loads(read(os.path.join(OUT, guest, "devices.txt")))
        gids = [g for d in doc["devices"] if d["name"] == "rxe0" for p in d["ports"] for g in p["gids"]]
        ok = any(g["type"] == "RoCE v2" and g["ip"] == ip for g in gids)
    except (ValueError, KeyError):
        ok = False
    check(f"{guest}: weftctl devices lists rxe0 with RoCE v2 GID {ip}", ok)
check("ibv_rc_pingpong completed", "iters in" in read(os.path.join(OUT, "g2", "pingpong.txt")))
for t in ("write_bw", "read_bw"):
    check(f"ib_{t} completed", " 65536 " in read(os.path.join(OUT, "g2", f"{t}.txt")))

capture = os.path.join(OUT, "capture.pcap")
if os.path.exists(capture):
    check("weftctl analyze agrees with tshark per QP", tshark_oracle.compare(weftctl, capture))
    doc = json.loads(subprocess.run([weftctl, "analyze", "--json", "-q", capture],
                                    capture_output=True, text=True, check=True).stdout)
    t = doc["totals"]
    check("every ICRC verified and valid", t["icrc_checked"] == t["roce_packets"] > 0 and t["icrc_errors"] == 0)
    sent = 0
    for guest in ("g1", "g2"):
        for line in read(os.path.join(OUT, guest, "hw_counters.txt")).splitlines():
            k, _, v = line.partition(" ")
            if k == "sent_pkts":
                sent += int(v)
    check(f"packets captured ({t['roce_packets']}) == rxe sent_pkts of both guests ({sent})",
          t["roce_packets"] == sent)
    ops = set(o for f in doc["flows"] for o in f["opcodes"])
    for o in ("RC_SEND_FIRST", "RC_RDMA_WRITE_FIRST", "RC_RDMA_READ_REQUEST",
              "RC_RDMA_READ_RESPONSE_LAST", "RC_ACKNOWLEDGE"):
        check(f"saw {o}", o in ops)
    check("every RC flow paired with its reverse direction", all(f["reverse"] for f in doc["flows"]))
else:
    check("capture exists", False)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
