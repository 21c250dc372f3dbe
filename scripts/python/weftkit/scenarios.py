"""The small weft-gen scenarios weft-probe is tested (test/integration/probe_live_test.py)
and measured (bench/detection_eval.py) on, what each must raise (and no other alert), and
the probe configuration they need: at this size a 4 MiB bulk READ stands for the real thing."""

SMALL_SCENARIO_ARGS = ["--hosts=4", "--iterations=1", "--message-size=64K", "--clients=4",
                       "--requests=4", "--kv-block=32K", "--attack-count=64", "--mtu=1024"]
SCENARIO_ALERTS = {
    "gradient": set(), "inference": set(), "congestion": set(), "loss": set(),
    "qpn-scan": {"qpn-scan"}, "psn-injection": {"psn-injection"}, "rkey-guessing": {"rkey-guessing"},
    "fan-out": {"fan-out"}, "bulk-read": {"bulk-read"}, "cnp-storm": {"cnp-storm"},
    "nak-storm": {"nak-storm"}, "malformed": {"malformed-roce"},
}
SMALL_SCENARIO_PROBE_CONFIG = "[detectors]\nbulk_read_bytes = 4194304\n"

# every scenario weft-gen knows (weft-gen --list), in its order
ALL = list(SCENARIO_ALERTS)
