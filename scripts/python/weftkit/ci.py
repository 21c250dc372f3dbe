"""The rule for a test whose prerequisite (a tool, a file beside the repository) is
missing: a developer's run skips it, reported as a skip; CI's run (CI=true) fails it, since
a suite that shrank there would still pass and nobody would notice."""
import os
import shutil

import pytest


def in_ci():
    return os.environ.get("CI") == "true"


def missing(what):
    """Skips the current test, or fails it in CI; `what` says what is missing and how to get it."""
    if in_ci():
        pytest.fail(f"{what} (CI=true: a missing prerequisite fails the run instead of skipping)",
                    pytrace=False)
    pytest.skip(what)


def require_program(name, hint):
    """The program's path; skips (or fails in CI) when it is not on PATH."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} not found on PATH ({hint})")
    return path


def require_file(path, hint):
    if not os.path.exists(path):
        missing(f"{path} not found ({hint})")
    return path
