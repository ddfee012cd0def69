""".dockerignore rules as docker build applies them: moby/patternmatcher's
patterns (cases from its own tests), its ignorefile reader's cleaning, and
BuildKit's walk (a pattern that matched a directory keeps matching below it)."""
import pytest

from minictr.build.dockerignore import IgnoreRules, go_clean, rules_for
from minictr.build.errors import DockerfileError

# (pattern, path, ignored) — patternmatcher_test.go's TestMatches, each path
# walked from the top as BuildKit walks a context
SINGLE = [
    ("**", "file", True), ("**", "dir/file", True), ("**/", "file", True), ("**/", "dir/file", True),
    ("**/**", "dir/file", True), ("dir/**", "dir/file", True), ("dir/**", "dir/dir2/file", True),
    ("**/dir", "dir", True), ("**/dir", "dir/file", True), ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True), ("**file", "file", True), ("**file", "dir/file", True),
    ("**/file", "dir/file", True), ("**file", "dir/dir/file", True), ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True), ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True), ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True), ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False), ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True), ("a**/*.txt", "a/file.txt", True), ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True), ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True), ("a/*.txt**", "a/file.txt", True), ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True), ("a[b-d]e", "aae", False), ("a[^b-d]e", "aze", True), (".*", ".foo", True),
    (".*", "foo", False), ("abc.def", "abcdef", False), ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False), ("abc?def", "abcZdef", True), ("abc?def", "abcdef", False),
    ("**/foo/bar", "foo/bar", True), ("**/foo/bar", "dir/foo/bar", True), ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False), ("abc/**", "abc/def", True), ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True), ("**/.foo", "bar.foo", False), ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False), ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\\\", "a\\", True), ("a\\*b", "a*b", True), ("a\\*b", "ab", False),
    # filepath.Match's own cases
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True), ("a*", "ab/c", True),
    ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False), ("a*b*c*d*e*/f", "axbxcxdxe/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False), ("a*b?c*x", "abxbbxdbxebxczzx", True),
    ("a*b?c*x", "abxbbxdbxebxczzy", False), ("ab[c]", "abc", True), ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False), ("ab[^e-g]", "abc", True), ("a?b", "a☺b", True), ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False), ("[a-ζ]*", "α", True), ("*[a-ζ]", "A", False), ("a?b", "a/b", False),
    ("a*b", "a/b", False), ("[\\]a]", "]", True), ("[\\-]", "-", True), ("[x\\-]", "x", True),
    ("[x\\-]", "z", False), ("[\\-x]", "-", True), ("*x", "xxx", True),
]


@pytest.mark.parametrize("pattern, path, ignored", SINGLE)
def test_single_patterns(pattern, path, ignored):
    assert IgnoreRules.parse(pattern).ignored(path) is ignored


@pytest.mark.parametrize("patterns, path, ignored", [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/other.md", True),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "README-public.md", False),
    # BuildKit's walk: "!a" was skipped at "a" (nothing matched yet), so it
    # does not reach a/b, which "a/b" ignores (MatchesOrParentMatches would keep it)
    (["a/b", "!a"], "a/b", True),
    (["a", "!a/b"], "a/b/c", False),
    (["a", "!a/b", "a/b/c"], "a/b/c/d", True),
])
def test_pattern_order(patterns, path, ignored):
    assert IgnoreRules.parse("\n".join(patterns)).ignored(path) is ignored


def test_the_context_root_is_never_ignored():
    rules = IgnoreRules.parse("*\n**\n.")
    assert rules.ignored("") is False and rules.ignored(".") is False and rules.ignored("x") is True


def test_file_reading_rules():
    text = ("\ufeff# comment\r\n\r\n  spaced.txt  \r\n/abs/path\r\n./dot/./x/../y\r\n  # not a comment\r\n"
            "! /inverted/abs \r\n!keep//me/\r\nsub/#hash\r\n")
    rules = IgnoreRules.parse(text, "ctx/.dockerignore")
    assert [(p.text, p.exclusion) for p in rules.patterns] == [
        ("spaced.txt", False), ("abs/path", False), ("dot/y", False), ("# not a comment", False),
        ("inverted/abs", True), ("keep/me", True), ("sub/#hash", False)]
    assert rules.ignored("# not a comment") and rules.ignored("abs/path/deeper")
    assert not rules.ignored("comment") and not rules.ignored("abs")


def test_nothing_to_ignore():
    assert IgnoreRules.parse("").ignored("anything") is False
    assert IgnoreRules().ignored("a/b") is False
    assert IgnoreRules.parse("# only comments\n\n   \n").patterns == []


@pytest.mark.parametrize("text, line, fragment", [
    ("ok\n!\n", 2, 'illegal exclusion pattern: "!"'),
    ("ok\n\n!   \n", 3, 'illegal exclusion pattern: "!"'),
    ("!/\n", 1, 'illegal exclusion pattern: "!"'),
    ("[", 1, "syntax error in pattern"), ("a[", 1, "syntax error in pattern"),
    ("x\n[^bc\n", 2, "syntax error in pattern"), ("[]a]", 1, "syntax error in pattern"),
    ("[-x]", 1, "syntax error in pattern"), ("[x-]", 1, "syntax error in pattern"),
    ("[a-b-c]", 1, "syntax error in pattern"), ("a\\", 1, "syntax error in pattern"),
])
def test_bad_patterns_name_the_file_and_line(text, line, fragment):
    with pytest.raises(DockerfileError) as e:
        IgnoreRules.parse(text, "ctx/.dockerignore")
    assert (e.value.path, e.value.line) == ("ctx/.dockerignore", line)
    assert str(e.value).startswith(f"ctx/.dockerignore:{line}: ") and fragment in str(e.value)


def test_go_clean():
    assert [go_clean(p) for p in ["", "a//b/", "./a/../b", "//x", "/..", "../a", "a/./b/."]] == \
        [".", "a/b", "b", "/x", "/", "../a", "a/b"]


def test_may_contain_kept():
    rules = IgnoreRules.parse("build\nnode_modules\n!build/keep.txt\n!src/*/gen\n")
    assert rules.may_contain_kept("build") is True            # build/keep.txt comes back
    assert rules.may_contain_kept("node_modules") is False    # nothing below can come back
    assert rules.may_contain_kept("src") is True               # not ignored at all
    assert IgnoreRules.parse("a\n").may_contain_kept("a") is False
    assert IgnoreRules.parse("a\n!**/x\n").may_contain_kept("a") is True
    assert IgnoreRules.parse("a\n!b/x\n").may_contain_kept("a") is False
    assert IgnoreRules.parse("*/deep\n!x/deep/keep\n").may_contain_kept("y/deep") is False
    assert IgnoreRules.parse("*/deep\n!x/deep/keep\n").may_contain_kept("x/deep") is True
    assert IgnoreRules.parse("a\n![a/b]/c\n").may_contain_kept("a") is True   # can't tell: assume it may


def test_skipping_agrees_with_ignored():
    rules = IgnoreRules.parse("*\n!src\nsrc/tmp\n!src/tmp/keep\nlogs\n")
    for d, below in [("logs", "logs/a/b"), ("other", "other/x"), ("src/tmp", "src/tmp/keep/x")]:
        if not rules.may_contain_kept(d):
            assert rules.ignored(below)
    assert not rules.ignored("src/tmp/keep/x") and rules.ignored("src/tmp/other")
    assert rules.may_contain_kept("src/tmp") is True and rules.may_contain_kept("logs") is False


def test_deep_paths_and_many_patterns():
    rules = IgnoreRules.parse("\n".join(f"dir{i}/**" for i in range(200)) + "\n!dir7/keep\n")
    deep = "/".join(["d"] * 3000)
    assert rules.ignored(deep) is False
    assert rules.ignored("dir7/x") is True and rules.ignored("dir7/keep") is False


def test_rules_for_prefers_the_dockerfile_specific_file(tmp_path):
    (tmp_path / ".dockerignore").write_text("root-rule\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "app.Dockerfile.dockerignore").write_text("specific-rule\n")
    specific = rules_for(str(tmp_path), "sub/app.Dockerfile")
    assert [p.text for p in specific.patterns] == ["specific-rule"]
    assert specific.path == "sub/app.Dockerfile.dockerignore"
    assert [p.text for p in rules_for(str(tmp_path), "Dockerfile").patterns] == ["root-rule"]
    assert [p.text for p in rules_for(str(tmp_path), None).patterns] == ["root-rule"]


def test_rules_for_a_dockerfile_outside_the_context(tmp_path):
    ctx, other = tmp_path / "ctx", tmp_path / "elsewhere"
    ctx.mkdir(), other.mkdir()
    (other / "Dockerfile.dockerignore").write_text("outside\n")
    assert [p.text for p in rules_for(str(ctx), str(other / "Dockerfile")).patterns] == ["outside"]
    assert rules_for(str(ctx), None).patterns == []


def test_rules_for_errors_name_the_file(tmp_path):
    (tmp_path / "Dockerfile.dockerignore").write_text("a\n[\n")
    with pytest.raises(DockerfileError) as e:
        rules_for(str(tmp_path), "Dockerfile")
    assert str(e.value).startswith("Dockerfile.dockerignore:2: ")
    (tmp_path / ".dockerignore").mkdir()
    (tmp_path / "Dockerfile.dockerignore").unlink()
    with pytest.raises(Exception) as e:
        rules_for(str(tmp_path), "Dockerfile")
    assert ".dockerignore" in str(e.value)
