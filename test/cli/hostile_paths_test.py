"""The scripts that run as root and write files, against paths another local user could
have planted: scripts/softroce/run's OUTDIR and cache, scripts/demo's capture. A link,
a directory of someone else's or one holding files of its own is refused before anything
is written or deleted; what a link points to survives. No qemu is needed: the checks come
first, before anything slow (a run that got past them would boot a guest, so each such
call has a short timeout, and a guest's too)."""
import os
import stat
import subprocess

import pytest

MARKER = ".weft-softroce-run"


@pytest.fixture(scope="module")
def run(source_root):
    return os.path.join(source_root, "scripts", "softroce", "run")


@pytest.fixture
def victim(tmp_path):
    """A directory with a file that must survive whatever the scripts are given."""
    d = tmp_path / "victim"
    d.mkdir()
    (d / "canary").write_text("still here\n")
    return d


def survives(victim):
    return (victim / "canary").is_file() and (victim / "canary").read_bytes() == b"still here\n"


def harness(run, *args, tools=None, env=None):
    # WEFT_SOFTROCE_TIMEOUT: should a run get past its checks, its guest dies within seconds
    e = dict(os.environ, WEFT_SOFTROCE_TIMEOUT="5", **(env or {}))
    if tools:
        e["WEFT_BUILD"] = tools.build
    return subprocess.run([run, "devices", *map(str, args)], capture_output=True, text=True,
                          env=e, timeout=120)


def test_outdir_symlink_refused_and_its_target_kept(run, tools, victim, tmp_path):
    link = tmp_path / "out"
    link.symlink_to(victim)
    r = harness(run, link, tools=tools)
    assert survives(victim), "the link's target was emptied"
    assert r.returncode == 2 and "symbolic link" in r.stderr, (r.returncode, r.stderr[-2000:])


def test_outdir_of_foreign_files_refused_and_kept(run, tools, victim):
    r = harness(run, victim, tools=tools)
    assert survives(victim), "a directory the harness did not make was emptied"
    assert r.returncode == 2 and MARKER in r.stderr, (r.returncode, r.stderr[-2000:])


def test_outdir_that_is_a_file_refused(run, tools, tmp_path):
    f = tmp_path / "file"
    f.write_text("mine\n")
    r = harness(run, f, tools=tools)
    assert f.read_text() == "mine\n" and r.returncode == 2 and "not a directory" in r.stderr, \
        (r.returncode, r.stderr[-2000:])


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_outdir_of_another_user_refused(run, tools, tmp_path):
    d = tmp_path / "theirs"
    d.mkdir()
    os.chown(d, 65534, 65534)
    r = harness(run, d, tools=tools)
    assert r.returncode == 2 and "another user" in r.stderr and not os.listdir(d), \
        (r.returncode, r.stderr[-2000:])


def test_outdir_writable_by_others_refused(run, tools, tmp_path):
    d = tmp_path / "open"
    d.mkdir()
    os.chmod(d, 0o777)
    r = harness(run, d, tools=tools)
    assert r.returncode == 2 and "writable by other users" in r.stderr and not os.listdir(d), \
        (r.returncode, r.stderr[-2000:])


def test_new_outdir_made_and_marked(run, tmp_path):
    out = tmp_path / "new"
    r = harness(run, "--check-outdir", out)
    assert r.returncode == 0 and r.stdout.strip() == str(out), (r.returncode, r.stdout, r.stderr)
    assert out.is_dir() and not out.is_symlink() and sorted(os.listdir(out)) == [MARKER]


def test_outdir_of_an_earlier_run_emptied_links_inside_not_followed(run, victim, tmp_path):
    out = tmp_path / "earlier"
    out.mkdir()
    (out / MARKER).write_text("")
    (out / "capture.pcap").write_text("old\n")
    (out / "g1").mkdir()
    (out / "g1" / "link").symlink_to(victim)
    r = harness(run, "--check-outdir", out)
    assert r.returncode == 0 and sorted(os.listdir(out)) == [MARKER], (r.returncode, r.stderr, os.listdir(out))
    assert survives(victim)


def test_empty_outdir_of_our_own_adopted(run, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    r = harness(run, "--check-outdir", out)
    assert r.returncode == 0 and sorted(os.listdir(out)) == [MARKER], (r.returncode, r.stderr)


def test_default_outdir_is_private_and_new(run, victim, tmp_path):
    # the old default, a fixed name in TMPDIR, planted as a link
    (tmp_path / "weft-softroce-devices").symlink_to(victim)
    r = harness(run, "--check-outdir", env={"TMPDIR": str(tmp_path)})
    out = r.stdout.strip()
    assert r.returncode == 0 and os.path.dirname(out) == str(tmp_path), (r.returncode, r.stdout, r.stderr)
    assert os.path.basename(out).startswith("weft-softroce-devices.") and not os.path.islink(out)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700 and os.listdir(out) == [MARKER]
    assert survives(victim)


# --- the guests' kernel cache: what the guests boot, written under predictable names

@pytest.fixture
def planted_cache(tmp_path, source_root):
    """A cache someone else prepared: an initramfs newer than the script that makes it."""
    d = tmp_path / "their-cache"
    d.mkdir()
    img = d / "initramfs-9.9.9.cpio.gz"
    img.write_text("not what the harness would build\n")
    t = os.stat(os.path.join(source_root, "scripts", "softroce", "initramfs")).st_mtime + 60
    os.utime(img, (t, t))
    return d


def initramfs(source_root, cache):
    return subprocess.run([os.path.join(source_root, "scripts", "softroce", "initramfs"), "9.9.9"],
                          capture_output=True, text=True, env=dict(os.environ, WEFT_SOFTROCE_CACHE=str(cache)),
                          timeout=60)


def test_cache_symlink_refused(source_root, planted_cache, tmp_path):
    link = tmp_path / "cache"
    link.symlink_to(planted_cache)
    r = initramfs(source_root, link)
    assert r.returncode == 2 and "symbolic link" in r.stderr and not r.stdout, (r.returncode, r.stdout, r.stderr)


def test_cache_writable_by_others_refused(source_root, planted_cache):
    os.chmod(planted_cache, 0o1777)
    r = initramfs(source_root, planted_cache)
    assert r.returncode == 2 and "writable by other users" in r.stderr and not r.stdout, \
        (r.returncode, r.stdout, r.stderr)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory to another user")
def test_cache_of_another_user_refused(source_root, planted_cache):
    os.chown(planted_cache, 65534, 65534)
    r = initramfs(source_root, planted_cache)
    assert r.returncode == 2 and "another user" in r.stderr and not r.stdout, (r.returncode, r.stdout, r.stderr)


# --- scripts/demo

def test_demo_writes_nothing_through_a_planted_link(source_root, tools, tmp_path, victim):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp / "weft-demo-gradient.pcap").symlink_to(victim / "canary")  # the old fixed name
    r = subprocess.run([os.path.join(source_root, "scripts", "demo")], capture_output=True, text=True,
                       env=dict(os.environ, TMPDIR=str(tmp), WEFT_BUILD=tools.build), timeout=300)
    assert r.returncode == 0 and "QP flows" in r.stdout, (r.returncode, r.stderr[-2000:])
    assert survives(victim), "weft-gen wrote through the link"
    # its own directory is gone at exit, and only that
    assert os.listdir(tmp) == ["weft-demo-gradient.pcap"], os.listdir(tmp)
