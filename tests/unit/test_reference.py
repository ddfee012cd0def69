"""Image references normalize exactly as docker's (distribution/reference)."""
import pytest

from minictr.oci.reference import InvalidReference, parse

H = "a" * 64


@pytest.mark.parametrize("text, full, familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("user/app:1", "docker.io/user/app:1", "user/app:1"),
    (f"host:5000/a/b@sha256:{H}", f"host:5000/a/b@sha256:{H}", f"host:5000/a/b@sha256:{H}"),
    ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
    ("localhost:5000/x:y", "localhost:5000/x:y", "localhost:5000/x:y"),
    ("quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0"),
    ("localhost:5000", "docker.io/library/localhost:5000", "localhost:5000"),
    (f"busybox@sha256:{H}", f"docker.io/library/busybox@sha256:{H}", f"busybox@sha256:{H}"),
    ("a__b-c---d/f_g.h", "docker.io/a__b-c---d/f_g.h:latest", "a__b-c---d/f_g.h:latest"),
    ("[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest"),
])
def test_normalized_like_docker(text, full, familiar):
    ref = parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar


def test_parts():
    ref = parse(f"127.0.0.1:5000/team/app:v1@sha256:{H}")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == ("127.0.0.1:5000", "team/app", "v1", f"sha256:{H}")
    assert ref.reference == f"sha256:{H}"
    assert parse("busybox").reference == "latest"


@pytest.mark.parametrize("text, message", [
    ("", "at least one component"),
    ("Busybox", "must be lowercase"),
    ("user/App", "must be lowercase"),
    ("UPPER/case", "must be lowercase"),      # not a registry host: no '.', ':' or localhost
    ("a:b:c", "invalid reference format"),
    ("busybox:" + "t" * 300, "invalid tag"),
    ("busybox:", "invalid tag"),
    ("busybox:-x", "invalid tag"),
    ("busybox:" + "t" * 129, "invalid tag"),
    ("busy box", "whitespace"),
    ("busybox@sha256:1234", "64 lowercase hex"),
    ("busybox@md5:abc", "unsupported algorithm"),
    ("a//b", "invalid repository name"),
    ("-a/b", "invalid"),
    ("a_/b", "invalid repository name"),
    (H, "64-byte hexadecimal"),
    ("x" * 256, "255 characters"),
])
def test_invalid_refused_with_reason(text, message):
    with pytest.raises(InvalidReference) as e:
        parse(text)
    assert message in str(e.value)


# distribution's grammar as regular expressions (Go's \w is ASCII), the
# reference the hand-written matchers are checked against
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_GRAMMAR = {
    "is_path": rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*",
    "is_domain": r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
                 r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?",
    "is_tag": r"[\w][\w.-]{0,127}",
}
_ALPHABET = "ab09Z._-/:[]é "


@pytest.mark.parametrize("matcher", sorted(_GRAMMAR))
def test_matchers_agree_with_the_grammar(matcher):
    import random
    import re

    from minictr.oci import reference
    pattern = re.compile(_GRAMMAR[matcher], re.ASCII)
    check = getattr(reference, matcher)
    rng = random.Random(4)
    words = ["", "a", "a.b", "a__b", "a___b", "a--b", "a-", "_a", "[::1]", "[::1]:5000", "[]", "[::1]x",
             "host:", "host:50", "a.-b", "A-b.c", "x" * 128, "x" * 129, "a/b/c", "a//b", "é"]
    words += ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 9))) for _ in range(20000)]
    wrong = [w for w in words if bool(pattern.fullmatch(w)) != check(w)]
    assert not wrong, f"{matcher} disagrees with the grammar on {wrong[:10]}"
