"""What README.md and docs/WEFTD.md tell an operator to type, held to the programs: the
README's weft-gen scenario table lists exactly the scenarios weft-gen knows, and the ways
docs/WEFTD.md gives to run weftd without its control socket are the ones weftd takes."""
import os
import re
import subprocess

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(*path):
    return open(os.path.join(SOURCE_ROOT, *path), encoding="utf-8").read()


def readme_scenarios():
    lines = read("README.md").splitlines()
    start = lines.index("| scenario | what |")
    names = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        names += re.findall(r"`([a-z0-9-]+)`", line.split("|")[1])
    return names


def test_readme_scenario_table_is_weft_gens(tools):
    r = subprocess.run([tools.weft_gen, "--help"], capture_output=True, text=True)
    listed = re.findall(r"^  ([a-z0-9-]+) +\S", r.stdout.split("Scenarios:", 1)[1], re.M)
    doc = readme_scenarios()
    assert r.returncode == 0 and listed, r.stdout
    assert sorted(doc) == sorted(listed), \
        f"only in README: {sorted(set(doc) - set(listed))}; only in weft-gen: {sorted(set(listed) - set(doc))}"


# a passive weftd over a capture: --check-config says what it would run
PORT = '[[ports]]\nname = "cap"\nrole = "mirror"\ndevice = "net_pcap0"\nargs = "rx_pcap=/dev/null"\n'


def check(tools, tmp_path, toml, *args):
    f = tmp_path / "weftd.toml"
    f.write_text(toml + PORT)
    return subprocess.run([tools.weftd, "--check-config", str(f), *args], capture_output=True, text=True)


def test_weftd_doc_turns_the_control_socket_off_as_weftd_does(tools, tmp_path):
    doc = " ".join(read("docs", "WEFTD.md").split())
    # the doc's two ways, each with what it claims
    assert '`--control-socket none` on the command line, or `socket = ""` in `[control]`, runs weftd ' \
           'without the socket' in doc, "docs/WEFTD.md no longer says how to run weftd without the socket"
    assert '"" for no socket' in doc and "`none` disables" not in doc
    r = check(tools, tmp_path, "", "--control-socket", "none")
    assert r.returncode == 0 and "control socket off" in r.stdout, r.stdout + r.stderr
    r = check(tools, tmp_path, '[control]\nsocket = ""\n')
    assert r.returncode == 0 and "control socket off" in r.stdout, r.stdout + r.stderr
    # and what it says is refused
    assert '`socket = "none"` in the file is refused' in doc
    r = check(tools, tmp_path, '[control]\nsocket = "none"\n')
    assert r.returncode != 0 and "control.socket" in r.stderr, r.stdout + r.stderr
