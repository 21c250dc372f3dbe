"""Balancing against real SoftRoCE (scripts/softroce/run balance): g1 -- weftd A =two
uplinks= weftd B -- g2, B's second uplink limited by tc tbf to 16 Mbit/s with a short queue
(about a tenth of what the guests move through the fast one). g2 writes to g1 with
ib_write_bw over 8 QPs four times in one boot: first with B's policy `ecmp` (each QP hashed
onto an uplink, as a switch would: the QPs on the slow one lose frames at the tbf and
go-back-N resends them), then, switched by `weftctl balance policy congestion`, with the
congestion policy (QPs start on the less loaded of two paths; a path whose resends and
NAKs pass the threshold for two rounds is congested, and its QPs move at their next gap);
then, the tbf removed, with `spray` (A offers to reorder for g1, B sprays every request
over both uplinks), and once more with A's reorder paused (the control). After the ecmp
and the congestion runs, weft-verbs inference runs beside a timed 8-QP ib_write_bw load,
its request latencies kept for each policy (measured and reported, not a pass/fail
threshold: rxe marks no DSCP, so no rule tells inference from gradient here, and the
policy in the "class-aware" run is congestion for every QP).

Checks: every program succeeded through both weftd; the ecmp run put QPs on the slow path
and B charged the losses to it (resends seen on the host side, NAK sequence errors mapped
back to the path by their PSN); the congestion run's goodput is at least 1.4x the ecmp
run's; in the congestion run the slow path carried less than the fast one; both weftd
stopped cleanly; the tbf really dropped frames (the control that the slow path is slow);
sprayed with A reordering, g1's rxe counts no out-of-sequence request, and with A's
reorder paused it does (the control that shows the buffer is what matters)."""
import json
import os
import re
import subprocess
from types import SimpleNamespace

import pytest
from weftkit.softroce import our_namespaces, read


@pytest.fixture(scope="module")
def run(tools, source_root, work_dir):
    before = our_namespaces()
    r = subprocess.run([os.path.join(source_root, "scripts", "softroce", "run"), "balance", work_dir],
                       env=dict(os.environ, WEFT_BUILD=tools.build), capture_output=True, text=True, timeout=900)
    with open(os.path.join(work_dir, "harness.log"), "w") as f:
        f.write(r.stdout + r.stderr)
    return SimpleNamespace(out=work_dir, rc=r.returncode, log=r.stdout[-2000:] + r.stderr[-2000:],
                           left=our_namespaces() - before)


def doc(run, name):
    try:
        return json.loads(read(os.path.join(run.out, name)))
    except ValueError:
        pytest.fail(f"{name}: not JSON: {read(os.path.join(run.out, name))[:400]}", pytrace=False)


def goodput(run, label):
    """ib_write_bw's average bandwidth (MB/s) of the run labelled `label`, from g2's side."""
    text = read(os.path.join(run.out, "g2", f"write_bw_multi-{label}.txt"))
    m = re.search(r"^\s*65536\s+\d+\s+[\d.]+\s+([\d.]+)", text, re.M)
    assert m, f"no ib_write_bw result for {label}: {text[-600:]}"
    return float(m.group(1))


def by_uplink(paths_doc):
    out = {}
    for p in paths_doc["paths"]:
        u = out.setdefault(p["uplink"], {"packets": 0, "retransmit": 0, "nak": 0, "moved_out": 0})
        u["packets"] += p["packets"]
        u["retransmit"] += p["signals"]["retransmit"]
        u["nak"] += p["signals"]["nak"]
        u["moved_out"] += p["moved_out"]
    return out


def by_uplink_signals(paths_doc):
    out = {}
    for p in paths_doc["paths"]:
        u = out.setdefault(p["uplink"], {})
        for k, v in p["signals"].items():
            u[k] = u.get(k, 0) + v
    return out


def rxe_after(run, guest, label):
    """rxe's counters in `guest` after the labelled run (write_bw_multi's, unless the label
    names the test)."""
    name = label if ":" in label else f"write_bw_multi:{label}"
    out = {}
    for line in read(os.path.join(run.out, guest, f"hw_counters-{name.replace(':', '-')}.txt")).splitlines():
        k, _, v = line.partition(" ")
        if v.strip().isdigit():
            out[k] = int(v)
    return out


def rxe_delta(run, guest, before, label, counter):
    return rxe_after(run, guest, label)[counter] - rxe_after(run, guest, before)[counter]


def test_every_program_ran_through_both_weftd(run):
    assert run.rc == 0, f"rc={run.rc}; see {run.out}/harness.log: {run.log}"


def test_no_network_namespace_left_behind(run):
    assert not run.left, " ".join(sorted(run.left))


def test_pingpong_completed_through_both_weftd(run):
    text = read(os.path.join(run.out, "g2", "pingpong.txt"))
    assert "iters in" in text, text[-800:]


def test_the_slow_uplink_really_dropped_frames(run):
    m = re.search(r"dropped (\d+)", read(os.path.join(run.out, "tbf.txt")))
    assert m and int(m.group(1)) > 0, read(os.path.join(run.out, "tbf.txt"))


def test_the_policy_was_switched_by_weftctl(run):
    assert "policy ecmp -> congestion" in read(os.path.join(run.out, "switch.txt"))
    assert doc(run, "paths-ecmp.json")["policy"] == "ecmp"
    assert doc(run, "paths-congestion.json")["policy"] == "congestion"


def test_ecmp_put_qps_on_the_slow_path_and_its_losses_were_charged_to_it(run):
    ecmp = by_uplink(doc(run, "paths-ecmp.json"))
    slow, fast = ecmp["fb1"], ecmp["fb0"]
    # with 8 QPs hashed onto 2 uplinks, none on fb1 has odds of 1 in 256: said, not skipped
    assert slow["packets"] > 0, f"ecmp hashed no QP onto the slow uplink this time: {ecmp}"
    assert slow["retransmit"] > 0 and slow["nak"] > 0, ecmp
    # the fast path may see a resend or two (rxe's retransmission timer under TCG), never
    # the slow path's storm
    assert fast["retransmit"] + fast["nak"] < (slow["retransmit"] + slow["nak"]) / 100, ecmp


def test_congestion_goodput_is_at_least_1_4x_ecmp(run):
    e, c = goodput(run, "ecmp"), goodput(run, "congestion")
    print(f"ib_write_bw over 8 QPs: ecmp {e} MB/s, congestion {c} MB/s, {c / e:.1f}x")
    assert c >= 1.4 * e, f"ecmp {e} MB/s, congestion {c} MB/s"


def test_in_the_congestion_run_the_slow_path_carried_less_than_the_fast_one(run):
    before, after = by_uplink(doc(run, "paths-ecmp.json")), by_uplink(doc(run, "paths-congestion.json"))
    slow = after["fb1"]["packets"] - before["fb1"]["packets"]
    fast = after["fb0"]["packets"] - before["fb0"]["packets"]
    moved = after["fb1"]["moved_out"] - before["fb1"]["moved_out"]
    print(f"congestion run: {fast} packets on fb0, {slow} on fb1, {moved} flowlets moved off fb1")
    assert fast > slow, (before, after)


def test_both_weftd_stopped_cleanly_and_b_counted_its_tx_drops_as_signals(run):
    for side in "ab":
        log = read(os.path.join(run.out, f"weftd-{side}.log"))
        assert "weftd: stopped by signal" in log and "weftd: error" not in log, log[-800:]
    # the slow uplink's TX queue backs up behind the tbf: what it refused is a signal too
    end = by_uplink_signals(doc(run, "paths-b-end.json"))
    assert end["fb0"]["tx_drop"] == 0, end


def test_b_learnt_as_offer_and_sprayed(run):
    before = doc(run, "paths-congestion.json")
    after = doc(run, "paths-spray.json")
    assert any(p["live"] and p["hosts"] == "10.99.0.1/32" for p in after["spray_peers"]), after["spray_peers"]
    sprayed = after["counters"]["sprayed"] - before["counters"]["sprayed"]
    assert sprayed > 1000, sprayed
    # both uplinks carried the sprayed QPs
    b, a = by_uplink(before), by_uplink(after)
    for uplink in ("fb0", "fb1"):
        assert a[uplink]["packets"] - b[uplink]["packets"] > sprayed / 4, (b, a)


def test_sprayed_with_reorder_g1_saw_no_out_of_sequence_request(run):
    # from the end of the run before it (inference beside a load, over the lossy path)
    seq = rxe_delta(run, "g1", "inference_loaded:congestion", "spray", "out_of_seq_request")
    held = doc(run, "paths-a-spray.json")["reorder"]["counters"]["held"] - \
        doc(run, "paths-a-congestion.json")["reorder"]["counters"]["held"]
    print(f"spray + reorder: {seq} out-of-sequence requests at g1, A held {held} frames; "
          f"{goodput(run, 'spray')} MB/s")
    assert held > 0, "A held nothing: the spray was never out of order, so this run shows nothing"
    assert seq == 0, seq


def test_sprayed_without_reorder_g1_saw_out_of_sequence_requests(run):
    assert doc(run, "paths-a-spraynoreorder.json")["reorder"]["paused"]
    seq = rxe_delta(run, "g1", "spray", "spraynoreorder", "out_of_seq_request")
    print(f"spray, reorder paused: {seq} out-of-sequence requests at g1; "
          f"{goodput(run, 'spraynoreorder')} MB/s")
    assert seq > 0, seq


def inference_p99(run, label):
    try:
        d = json.loads(read(os.path.join(run.out, "g2", f"inference_loaded-{label}.txt")))
    except ValueError:
        pytest.fail(f"no weft-verbs result for inference_loaded-{label}", pytrace=False)
    assert d["ok"], d.get("problems")
    op = next(o for o in d["operations"] if o["name"] == "request")
    return op["latency_us"]["p99"], op["latency_us"]["p50"], op["count"]


@pytest.mark.parametrize("label", ["ecmp", "congestion"])
def test_inference_under_gradient_load_completed_with_its_latencies(run, label):
    p99, p50, count = inference_p99(run, label)
    load = read(os.path.join(run.out, "g2", f"inference_loaded-{label}-load.txt"))
    m = re.search(r"^\s*65536\s+\d+\s+[\d.]+\s+([\d.]+)", load, re.M)
    print(f"inference beside an 8-QP ib_write_bw, policy {label}: {count} requests, "
          f"p50 {p50:.0f} us, p99 {p99:.0f} us; the load "
          + (f"{m.group(1)} MB/s" if m else "ended with an error (perftest -D over a lossy path)"))
    assert count == 200 and p99 > 0
