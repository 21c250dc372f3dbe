"""docs/DETECTION.md's table of the [detectors] keys is what weft-probe knows: the same
keys (from the list an unknown key is refused with), the same ranges (from the refusal of
a value out of range) and the same defaults (from --check-config of an empty table), with
units that match the keys' names; and README.md sends the reader to that table."""
import os
import re
import subprocess

import pytest

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = "| key | unit | valid range | default | meaning |"


def doc_table():
    """{key: {unit, range, default, meaning}} from the table under HEADER."""
    lines = open(os.path.join(SOURCE_ROOT, "docs", "DETECTION.md"), encoding="utf-8").read().splitlines()
    assert HEADER in lines, f"docs/DETECTION.md has no table headed {HEADER}"
    rows = {}
    for line in lines[lines.index(HEADER) + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 5, f"not 5 cells: {line}"
        key = cells[0].strip("`")
        assert key not in rows, f"{key} listed twice"
        rows[key] = dict(unit=cells[1], range=cells[2], default=cells[3], meaning=cells[4])
    return rows


def probe(tools, tmp_path, text):
    f = tmp_path / "probe.toml"
    f.write_text(text)
    return subprocess.run([tools.weft_probe, "--check-config", str(f)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def table():
    return doc_table()


@pytest.fixture
def known(tools, tmp_path):
    r = probe(tools, tmp_path, "[detectors]\nno_such_key = 1\n")
    m = re.search(r"unknown key; known: (.*)", r.stderr)
    assert r.returncode != 0 and m, r.stderr
    return [k.strip() for k in m.group(1).split(",")]


def test_the_table_names_exactly_the_known_keys(table, known):
    assert sorted(table) == sorted(known), \
        f"only in the doc: {sorted(set(table) - set(known))}; only in weft-probe: {sorted(set(known) - set(table))}"


def test_the_ranges_are_weft_probes(table, known, tools, tmp_path):
    numeric = [k for k in known if k != "job_allowlist"]
    r = probe(tools, tmp_path, "[detectors]\n" + "".join(f"{k} = -1\n" for k in numeric))
    ranges = dict(re.findall(r"detectors\.(\w+): must be an integer from (\d+ to \d+)", r.stderr))
    assert sorted(ranges) == sorted(numeric), r.stderr
    wrong = {k: (table[k]["range"], ranges[k]) for k in numeric if table[k]["range"] != ranges[k]}
    assert not wrong, f"(doc, weft-probe): {wrong}"


def test_the_defaults_are_weft_probes(table, tools, tmp_path):
    r = probe(tools, tmp_path, "[detectors]\n")
    defaults = dict(re.findall(r"^  (\w+) = (.*)$", r.stdout, re.M))
    assert r.returncode == 0 and defaults, r.stdout + r.stderr
    wrong = {k: (table[k]["default"], v) for k, v in defaults.items() if k in table and table[k]["default"] != v}
    assert not wrong, f"(doc, weft-probe): {wrong}"


def test_units_match_the_key_names(table):
    for key, row in table.items():
        if key.endswith("_ms"):
            assert row["unit"] == "ms", (key, row)
        if key.endswith("_bytes"):
            assert row["unit"] == "bytes", (key, row)
        assert row["meaning"], key


def test_readme_points_to_the_table_not_the_header():
    text = open(os.path.join(SOURCE_ROOT, "README.md"), encoding="utf-8").read()
    para = next((p for p in text.split("\n\n") if "thresholds in `[detectors]`" in p), "")
    assert "docs/DETECTION.md#the-detectors-keys" in para and "detectors.hpp" not in para, para
