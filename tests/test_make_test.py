"""`make test` on a fresh machine: it installs Debian's Chromium when it may (or says the command to run),
refuses a database or Redis database it could damage once and before anything starts, and a run that
collects no tests fails loudly."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENSURE_CHROMIUM = ROOT / "tests" / "e2e" / "ensure-chromium"


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_a_database_without_test_in_its_name_is_refused_once_before_any_test_runs():
    run = _pytest("tests/test_tenancy.py", "tests/contacts",
                  DATABASE_URL="postgresql://postgres@127.0.0.1:5432/turnaround")
    output = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert output.count("refusing to run tests against database 'turnaround'") == 1
    assert "passed" not in output and "error" not in output.replace("ERROR: refusing", "")


def test_redis_database_0_is_refused_because_make_run_keeps_its_queues_there():
    run = _pytest("tests/test_tenancy.py", REDIS_URL="redis://127.0.0.1:6379/0")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert (run.stdout + run.stderr).count("refusing to run tests against Redis database 0") == 1


def _stub(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def _ensure_chromium(tmp_path: Path, *, uid: int, sudo: str | None) -> tuple[subprocess.CompletedProcess, str]:
    """Run ensure-chromium with Chromium missing, as user ``uid``, with a recording apt-get; ``sudo`` is the
    stub sudo's script (None: no sudo at all). Returns the run and what apt-get was asked to do."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    chromium = tmp_path / "chromium"
    _stub(bin_dir, "id", f"echo {uid}\n")
    _stub(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}\n'
                              f'case "$*" in *install*) touch {chromium}; chmod +x {chromium};; esac\n')
    if sudo is not None:
        _stub(bin_dir, "sudo", sudo)
    system_path = "/usr/bin:/bin" if sudo is not None else _path_without("sudo")
    run = subprocess.run([str(ENSURE_CHROMIUM)], capture_output=True, text=True, timeout=30,
                         env={"PATH": f"{bin_dir}:{system_path}", "CHROMIUM_PATH": str(chromium)})
    return run, log.read_text() if log.exists() else ""


def _path_without(program: str) -> str:
    """A PATH of the system's directories, minus those that hold ``program`` (so it seems not installed)."""
    directories = [d for d in ("/usr/local/bin", "/usr/bin", "/bin") if not (Path(d) / program).exists()]
    for needed in ("sh", "env"):
        assert any((Path(d) / needed).exists() for d in directories), f"{needed} lives beside {program}"
    return ":".join(directories)


def test_ensure_chromium_does_nothing_when_chromium_is_there():
    run = subprocess.run([str(ENSURE_CHROMIUM)], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "CHROMIUM_PATH": sys.executable})
    assert run.returncode == 0 and run.stdout == "" and run.stderr == ""


def test_ensure_chromium_installs_debians_chromium_as_root(tmp_path):
    run, apt = _ensure_chromium(tmp_path, uid=0, sudo=None)
    assert run.returncode == 0, run.stderr
    assert apt.splitlines() == ["apt-get update -qq", "apt-get install -y -qq chromium"]


def test_ensure_chromium_installs_with_passwordless_sudo(tmp_path):
    run, apt = _ensure_chromium(tmp_path, uid=1000, sudo='[ "$1" = -n ] && shift\nexec "$@"\n')
    assert run.returncode == 0, run.stderr
    assert apt.splitlines() == ["apt-get update -qq", "apt-get install -y -qq chromium"]


def test_ensure_chromium_stops_with_the_command_to_run_when_it_may_not_install(tmp_path):
    run, apt = _ensure_chromium(tmp_path, uid=1000, sudo="exit 1\n")
    assert run.returncode != 0
    assert "sudo apt-get update && sudo apt-get install -y chromium" in run.stderr
    assert apt == ""


def test_make_test_installs_chromium_first_and_fails_loudly_when_no_test_is_collected(tmp_path):
    # A stand-in for the set-up .venv and node_modules, so make goes straight to the tests.
    (tmp_path / "bin").mkdir()
    _stub(tmp_path / "bin", "python", f'exec {sys.executable} "$@"\n')
    (tmp_path / ".installed").touch()
    (tmp_path / "npm-installed").touch()
    make = ["make", "--no-print-directory", "-C", str(ROOT), "test", f"VENV={tmp_path}",
            f"NPM_STAMP={tmp_path / 'npm-installed'}"]

    dry_run = subprocess.run([*make, "-n"], capture_output=True, text=True, timeout=30)
    assert "tests/e2e/ensure-chromium" in dry_run.stdout

    run = subprocess.run([*make, "PYTEST_ARGS=-p no:cacheprovider -k no_test_has_this_name tests/test_tenancy.py"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "make test: pytest collected no tests" in run.stderr
