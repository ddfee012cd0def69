"""BuildKit's RUN --mount: a cache dir kept between builds, a secret that
reaches no layer, config, history or cache key, a tmpfs and a read-only
bind of the context, none of them in the image."""
import gzip
import hashlib
import sqlite3

import pytest

pytestmark = pytest.mark.root

SECRET = "s3cr3t-VALUE-7f2c9"


def test_a_cache_mount_keeps_its_files_between_builds(mc, context):
    ctx = context("FROM busybox\nRUN --mount=type=cache,target=/var/cache/app,id=app "
                  "sh -c 'echo run >> /var/cache/app/log; wc -l < /var/cache/app/log > /count'\n")
    for n in (1, 2):
        res = mc("build", "--no-cache", "--network", "none", "-t", f"cachemount:{n}", str(ctx), timeout=300)
        assert res.returncode == 0, res.stderr
        out = mc("run", "--rm", "--network", "none", f"cachemount:{n}", "sh", "-c",
                 "cat /count; ls -A /var/cache/app | wc -l", check=True).stdout.split()
        assert out == [str(n), "0"], f"build {n}: count and what the image holds of the cache: {out}"


def test_a_secret_reaches_no_blob_config_history_or_cache_key(mc, context, tmp_path):
    secret_file = tmp_path / "token"
    secret_file.write_text(SECRET)
    ctx = context("FROM busybox\n"
                  "RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /len\n"
                  "RUN --mount=type=secret,id=tok,env=TOKEN,required=true "
                  "sh -c 'printf %s \"$TOKEN\" | sha256sum | cut -c1-64 > /env-sha'\n")
    res = mc("build", "--network", "none", "--secret", f"id=tok,src={secret_file}", "-t", "secret:1", str(ctx),
             timeout=300)
    assert res.returncode == 0, res.stderr
    out = mc("run", "--rm", "--network", "none", "secret:1", "sh", "-c",
             "cat /len /env-sha; ls /run/secrets 2>&1", check=True).stdout
    assert out.split()[:2] == [str(len(SECRET)), hashlib.sha256(SECRET.encode()).hexdigest()] and SECRET not in out
    needle = SECRET.encode()
    blobs = list((mc.root / "content").rglob("*"))
    assert blobs
    for blob in blobs:
        if not blob.is_file():
            continue
        data = blob.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        assert needle not in data, f"the secret is in {blob}"
    db = sqlite3.connect(mc.root / "minictr.db")
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert SECRET not in dump, "the secret is in the engine's database (cache keys, history)"
    history = mc("history", "--no-trunc", "secret:1", check=True).stdout
    assert SECRET not in history
    required = context("FROM busybox\nRUN --mount=type=secret,id=tok,required=true true\n", name="required")
    missing = mc("build", "--network", "none", str(required), timeout=120)
    assert missing.returncode != 0 and "secret tok not found" in missing.stderr and "Dockerfile:2:" in missing.stderr


def test_tmpfs_and_bind_mounts_are_not_in_the_image(mc, context):
    ctx = context("FROM busybox\n"
                  "RUN --mount=type=tmpfs,target=/scratch sh -c 'echo x > /scratch/f && grep -q \" /scratch tmpfs\" "
                  "/proc/mounts'\n"
                  "RUN --mount=type=bind,source=data,target=/mnt/data cp /mnt/data/x /copied\n",
                  {"data/x": "from the context\n"})
    res = mc("build", "--network", "none", "-t", "mounts:1", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    out = mc("run", "--rm", "--network", "none", "mounts:1", "sh", "-c",
             "cat /copied; ls -A /scratch /mnt/data 2>&1 | grep -c x || true", check=True).stdout.split("\n")
    assert out[0] == "from the context" and out[1] == "0"


@pytest.mark.parametrize("mount, message", [
    ("type=bogus,target=/x", "unsupported type"),
    ("type=cache", "needs a target"),
    ("type=cache,target=relative", "must be an absolute path"),
    ("type=bind,source=../../etc,target=/x", "outside the build context"),
    ("type=cache,target=/x,nonsense=1", "unknown option"),
])
def test_bad_mounts_name_the_line(mc, context, mount, message):
    ctx = context(f"FROM busybox\nRUN --mount={mount} true\n")
    res = mc("build", "--network", "none", str(ctx), timeout=120)
    assert res.returncode != 0 and "Dockerfile:2:" in res.stderr and message in res.stderr, res.stderr
    assert not mc("ps", "-aq").stdout.strip()
