"""The sample outputs in README.md and docs/*.md are what the binaries print today: every
fenced block whose first line is `$ weftctl analyze ...` is run from the source tree (at 80
columns, as a pipe is) and its output must equal the lines after the command, exactly. A
block may end with a line `...`: then only the lines before it are compared."""
import glob
import os
import re
import shlex
import subprocess

import pytest

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def samples():
    docs = [os.path.join(SOURCE_ROOT, "README.md")] + sorted(glob.glob(os.path.join(SOURCE_ROOT, "docs", "*.md")))
    for path in docs:
        lines = open(path, encoding="utf-8").read().splitlines()
        start, plain = None, False
        for n, line in enumerate(lines, 1):
            if start is None and line.startswith("```"):
                start, plain = n, re.match(r"^```\s*$", line) is not None  # a fence without a language
            elif start is not None and line.startswith("```"):
                block = lines[start:n - 1]
                if plain and block and block[0].startswith("$ weftctl analyze "):
                    yield f"{os.path.relpath(path, SOURCE_ROOT)}:{start + 1}", block[0][2:], block[1:]
                start = None


SAMPLES = list(samples())


def test_the_readme_has_an_analyze_sample():
    assert any(where.startswith("README.md") for where, _, _ in SAMPLES)


@pytest.mark.parametrize("where,command,expected", SAMPLES, ids=[w for w, _, _ in SAMPLES])
def test_sample_output_is_what_the_binary_prints(where, command, expected, tools):
    argv = shlex.split(command)
    argv[0] = os.path.join(tools.build, "tools", argv[0])
    r = subprocess.run(argv, cwd=SOURCE_ROOT, capture_output=True, text=True,
                       env=dict(os.environ, COLUMNS="80"))
    assert r.returncode == 0, r.stderr
    got = r.stdout.splitlines()
    if expected and expected[-1] == "...":
        expected = expected[:-1]
        got = got[:len(expected)]
    assert got == expected, f"{where}: `{command}` prints\n" + r.stdout
