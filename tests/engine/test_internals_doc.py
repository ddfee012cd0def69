"""docs/internals.md stays true to the code: it has one section per stage of
the data path, each naming the files that do the step; every file it names
exists; and every line of its `text` blocks appears in a fresh
`minictr --explain run --rm busybox echo hi` transcript.

The transcript is made as the doc says: a private root, a private default
bridge, and busybox pushed by skopeo to Debian's docker-registry on
127.0.0.1 with token auth (Docker Hub's flow, tests/support/token_issuer.py),
which is docker.io's only mirror; the image is not pulled yet, so the pull's
stages print too. The registry is stopped by PID and the containers, rules
and bridge are removed, whatever the outcome."""
from __future__ import annotations

import difflib
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support import seeded_images
from support.bundles import BUSYBOX_LAYOUT, REPO
from support.engine_env import EngineEnv
from support.registry import Registry

DOC = REPO / "docs" / "internals.md"
STAGES = ["Reference", "Registry", "Content store", "Unpack", "Snapshot", "Bundle", "Namespaces",
          "Mounts and pivot_root", "Cgroups", "Seccomp", "Exec", "Shim", "Network"]
COMMAND = ("--explain", "run", "--rm", "busybox", "echo", "hi")

# A file of the repository named in the text: minictr/... or cshim/..., not
# part of a longer path (/sys/fs/cgroup/minictr/<id> is not one).
_FILE = re.compile(r"(?<![\w/.<>-])((?:minictr|cshim)/[\w./-]*[\w/])")
_PLACEHOLDER = re.compile(r"(<(?:[a-z-]+|\.\.\.)>)")
_FIXED = {
    "<pid>": r"\d+",
    "<n>": r"\d+",
    "<id>": r"[0-9a-f]{64}",
    "<short-id>": r"[0-9a-f]{12}",
    "<hex>": r"[0-9a-f]{64}",
    "<digest>": r"sha256:[0-9a-f]{64}",
    "<ip>": r"\d{1,3}(?:\.\d{1,3}){3}",
    "<mac>": r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}",
    "<name>": r"[\w.-]+",
    "<...>": r".+?",
}


def _doc_lines() -> list[str]:
    return DOC.read_text().splitlines()


def _sections(lines: list[str]) -> list[tuple[str, int, list[str]]]:
    """(title, line number, body lines) of each `## N. Title` section."""
    out = []
    for n, line in enumerate(lines, 1):
        m = re.match(r"## \d+\. (.+)", line)
        if m:
            out.append((m.group(1).strip(), n, []))
        elif out:
            out[-1][2].append(line)
    return out


def _quoted(lines: list[str]) -> list[tuple[int, str]]:
    """(line number, text) of every line inside a ```text block."""
    out, in_text, in_other = [], False, False
    for n, line in enumerate(lines, 1):
        fence = line.strip()
        if fence.startswith("```"):
            if in_text or in_other:
                in_text = in_other = False
            elif fence == "```text":
                in_text = True
            else:
                in_other = True
            continue
        if in_text and line.strip():
            out.append((n, line.strip()))
    return out


def _pattern(line: str, values: dict[str, str]) -> re.Pattern:
    parts = []
    for piece in _PLACEHOLDER.split(line):
        if _PLACEHOLDER.fullmatch(piece):
            if piece in values:
                parts.append(re.escape(values[piece]))
            elif piece in _FIXED:
                parts.append(_FIXED[piece])
            else:
                raise AssertionError(f"docs/internals.md: unknown placeholder {piece} in: {line}")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts))


def test_one_section_per_stage_in_data_path_order():
    sections = _sections(_doc_lines())
    assert [title for title, _, _ in sections] == STAGES, \
        "docs/internals.md: the sections must be the stages of the data path, in order"
    for title, n, body in sections:
        text = "\n".join(body)
        assert _FILE.search(text), f"docs/internals.md:{n}: section {title!r} names no file that does the step"
        assert "```text" in text, f"docs/internals.md:{n}: section {title!r} quotes no --explain line"


def test_every_file_the_doc_names_exists():
    missing = []
    for n, line in enumerate(_doc_lines(), 1):
        for path in _FILE.findall(line):
            if not (REPO / path).exists():
                missing.append(f"docs/internals.md:{n}: {path}")
    assert not missing, "docs/internals.md names files that do not exist:\n  " + "\n  ".join(missing)


def test_every_placeholder_is_known():
    for _, line in _quoted(_doc_lines()):
        _pattern(line, {"<root>": "", "<registry>": "", "<auth>": "", "<bridge>": ""})


@pytest.fixture
def transcript(tmp_path):
    """(stderr of a fresh `minictr --explain run --rm busybox echo hi`,
    the values of the run's own placeholders)."""
    if os.geteuid() != 0:
        pytest.skip("the engine needs root (namespaces, overlayfs, cgroups)")
    missing = [t for t in ("docker-registry", "skopeo") if not shutil.which(t)]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt install docker-registry skopeo)")
    if not BUSYBOX_LAYOUT.exists():
        pytest.skip(f"busybox layout missing: {BUSYBOX_LAYOUT}")
    registry = Registry(tmp_path / "registry", "token")
    env = EngineEnv(tmp_path / "engine")
    left: list[str] = []
    try:
        registry.start()
        seeded_images.skopeo_copy(f"oci:{BUSYBOX_LAYOUT}", f"docker://{registry.address}/library/busybox:latest",
                                  *registry.skopeo_creds("--dest-creds"))
        env.conf.write_text(json.dumps({"registry-mirrors": {"docker.io": [registry.url]},
                                        "mirror-fallback": False}))
        res = env(*COMMAND, timeout=180)
        assert res.returncode == 0 and res.stdout == "hi\n", \
            f"minictr {' '.join(COMMAND)} exited {res.returncode}\n{res.stdout}\n{res.stderr}"
        values = {"<root>": str(env.root), "<registry>": registry.address,
                  "<auth>": urlsplit(registry.issuer.realm).netloc, "<bridge>": env.bridge}
        yield res.stderr, values
    finally:
        try:
            left = env.teardown()
        finally:
            registry.stop()
            shutil.rmtree(tmp_path, ignore_errors=True)
    assert not left, f"left mounted: {left}"


@pytest.mark.root
def test_every_quoted_explain_line_appears_in_a_fresh_transcript(transcript):
    stderr, values = transcript
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    stale = []
    for n, quoted in _quoted(_doc_lines()):
        pattern = _pattern(quoted, values)
        if not any(pattern.fullmatch(line) for line in lines):
            near = difflib.get_close_matches(quoted, lines, n=1, cutoff=0.5)
            stale.append(f"docs/internals.md:{n}: {quoted}" + (f"\n      closest now: {near[0]}" if near else ""))
    assert not stale, (f"lines docs/internals.md quotes that `minictr {' '.join(COMMAND)}` no longer prints "
                       f"(update the doc, or the step):\n  " + "\n  ".join(stale))
