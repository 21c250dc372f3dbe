"""Every TOML example in README.md and docs/*.md is a configuration an operator may copy:
each must pass its program's --check-config. A block holding a [detectors] table is
weft-probe's, any other weftd's. A TOML block that no program accepts fails here, naming
the file and line."""
import glob
import os
import re
import subprocess

import pytest

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def toml_blocks():
    docs = [os.path.join(SOURCE_ROOT, "README.md")] + sorted(glob.glob(os.path.join(SOURCE_ROOT, "docs", "*.md")))
    for path in docs:
        lines = open(path, encoding="utf-8").read().splitlines()
        start = None
        for n, line in enumerate(lines, 1):
            if start is None and re.match(r"^```toml\s*$", line):
                start = n
            elif start is not None and line.startswith("```"):
                yield f"{os.path.relpath(path, SOURCE_ROOT)}:{start}", "\n".join(lines[start:n - 1]) + "\n"
                start = None


BLOCKS = list(toml_blocks())


def test_the_docs_hold_examples_of_both_programs():
    kinds = {"[detectors]" in text for _, text in BLOCKS}
    assert kinds == {True, False}, f"expected weftd and weft-probe examples, found {BLOCKS}"


@pytest.mark.parametrize("where,text", BLOCKS, ids=[w for w, _ in BLOCKS])
def test_example_passes_check_config(where, text, tools, tmp_path):
    f = tmp_path / "example.toml"
    f.write_text(text)
    program = tools.weft_probe if "[detectors]" in text else tools.weftd
    r = subprocess.run([program, "--check-config", str(f)], capture_output=True, text=True)
    assert r.returncode == 0 and "valid" in r.stdout, f"{where}: {r.stderr or r.stdout}"
