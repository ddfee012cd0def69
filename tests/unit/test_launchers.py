"""The console scripts .ci/install writes (minictr.launchers): Python
without site, the venv's import paths listed in the script instead."""
import subprocess
import sys
from pathlib import Path

from minictr import launchers

VENV_BIN = Path(sys.executable).parent


def test_site_paths_are_what_site_adds():
    paths = launchers.site_paths()
    assert any(p.endswith("site-packages") for p in paths)
    repo = str(Path(launchers.__file__).resolve().parents[1])
    assert repo in paths                     # the editable install's .pth
    assert len(paths) == len(set(paths))


def test_written_scripts_start_without_site_and_work(tmp_path):
    written = launchers.write(str(tmp_path))
    names = sorted(Path(p).name for p in written)
    assert names == ["minictr", "minictr-runtime"]
    script = tmp_path / "minictr"
    assert script.read_text().splitlines()[0] == f"#!{sys.executable} -S"
    res = subprocess.run([str(script), "version"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "minictr" in res.stdout, res.stderr
    probe = subprocess.run([str(tmp_path / "minictr-runtime"), "--version"], capture_output=True, text=True,
                           timeout=60)
    assert probe.returncode == 0 and "spec:" in probe.stdout, probe.stderr


def test_the_venv_scripts_are_the_launchers():
    first = (VENV_BIN / "minictr").read_text().splitlines()[0]
    if not first.endswith(" -S"):
        import pytest
        pytest.skip(f"{VENV_BIN}/minictr is pip's script (run .ci/install, or python -m minictr.launchers)")
    assert "minictr.cli.entry" in (VENV_BIN / "minictr").read_text()
