"""Reading Weft's JSON documents. weftd's per-worker and per-port counters are read only
through weftd_workers() and weftd_ports(), so that a change of the documents' shape is
fixed here and not in every test."""

# the per-worker counters the tests read, and where each sits in a worker entry: weftd
# nests them by pipeline stage (docs/SCHEMA.md, "weftd's counters, by stage")
WORKER_COUNTERS = {
    "frames": ("account", "frames"), "roce_packets": ("account", "roce_packets"),
    "forwarded_roce": ("tx", "forwarded_roce"), "forwarded_other": ("tx", "forwarded_other"),
    "dropped_tx_full": ("tx", "dropped_tx_full"),
    "dropped_malformed": ("firewall", "dropped_malformed"),
    "dropped_bad_icrc": ("firewall", "dropped_bad_icrc"),
    "dispatched": ("rx", "dispatched"), "dropped_dispatch_full": ("rx", "dropped_dispatch_full"),
    "rx_unknown_spi": ("crypt", "rx_unknown_spi"), "multi_segment": ("rx", "multi_segment"),
}


def _dataplane(doc):
    # --dump-flows and `weftctl flows --json` keep the counters under "dataplane";
    # `weftctl status --json` and `weftctl ports --json` at their top
    return doc["dataplane"] if "dataplane" in doc else doc


def split_dataplane(doc):
    """A --dump-flows or `weftctl flows --json` document as (the flows document, which must
    equal `weftctl analyze --json`'s without its "source", and weftd's own blocks, for the
    accessors below). "source" says which program read what, so it is each program's own."""
    return ({k: v for k, v in doc.items() if k not in ("dataplane", "source")},
            {"dataplane": doc["dataplane"], "source": doc.get("source")})


def snapshot_missed_flows(doc):
    """Flows a live snapshot could not copy (None when the document does not say)."""
    return _dataplane(doc).get("snapshot_missed_flows")


def weftd_workers(doc):
    """weftd's counters per worker, one flat dict of WORKER_COUNTERS each."""
    return [{k: w[stage][name] for k, (stage, name) in WORKER_COUNTERS.items()}
            for w in _dataplane(doc)["workers"]]


def weftd_ports(doc):
    """weftd's ports, each a dict with at least name, role, rx_packets and tx_packets."""
    return _dataplane(doc)["ports"]


def flows_in_microseconds(doc):
    """The flows document with first_ns/last_ns cut to the microsecond (in place; returns
    doc): DPDK's net_pcap hands weftd microsecond timestamps, so a nanosecond capture's
    flows compare with the analyzer's only at that resolution."""
    for f in doc["flows"]:
        f["first_ns"] //= 1000
        f["last_ns"] //= 1000
    return doc
