"""Variable substitution as BuildKit's shell lexer does it (cases taken from
the behaviour its lex_test.go pins down), the word splitting of
ProcessWords, and ENV/LABEL/ARG key=value parsing."""
import pytest

from minictr.build.errors import DockerfileError
from minictr.build.expand import expand, expand_words, key_values, parse_words

ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


@pytest.mark.parametrize("word, want", [
    ("hello", "hello"), ("he'll'o", "hello"), ('he"ll"o', "hello"), ("'$PWD'", "$PWD"),
    ('"$PWD"', "/home"), ("$PWD", "/home"), ("${PWD}", "/home"), ("he$PWD", "he/home"),
    ("he${PWD}x", "he/homex"), ("$KOREAN", "한국어"), ("$XXX", ""), ("${XXX}", ""),
    ("he\\$PWD", "he$PWD"), ("\\${}", "${}"), ("he\\x", "hex"), ("he\\\\x", "he\\x"), ("ab\\", "ab"),
    ('"he\\"llo"', 'he"llo'), ('"he\\llo"', "he\\llo"), ("'he\\llo'", "he\\llo"), ('"\\$PWD"', "$PWD"),
    ("$", "$"), ("x$", "x$"), ("$.", "$."), ("$$", ""), ("$1", ""), ("${PWD:-x}", "/home"),
    ("${XXX:-x}", "x"), ("${NULL:-x}", "x"), ("${NULL-x}", ""), ("${XXX-x}", "x"),
    ("${PWD:+x}", "x"), ("${NULL:+x}", ""), ("${NULL+x}", "x"), ("${XXX+x}", ""),
    ("${XXX:-$PWD/y}", "/home/y"), ("${XXX:-'a b'}", "a b"), ("${XXX:-${SHELL:-z}}", "bash"),
    ("${PWD?}", "/home"), ("${NULL?}", ""), ("${PWD:?}", "/home"), ("a b  c", "a b  c"),
])
def test_expand(word, want):
    assert expand(word, ENV) == want


@pytest.mark.parametrize("word, env, want", [
    ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx  ccc"),
    ("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx bbb ccc"),
    ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa bbb "),
    ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa  "),
    ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO": "()[]{}^$.*?|\\x"}, "x"),
    ("${FOO%%\\**}", {"FOO": "xx**"}, "xx"),
    ("${FOO#*x*y}", {"FOO": "xxyy"}, "y"),
    ("${FOO#*}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy"),
    ("${FOO##*x}", {"FOO": "xxyy"}, "yy"),
    ("${FOO#?\\?}", {"FOO": "???y"}, "?y"),
    ("${ABC:-.}${FOO%x}${ABC:-.}", {"FOO": "xxyy"}, ".xxyy."),
    ("${FOO%%\\**\\*}", {"FOO": "a***yy*"}, "a"),
    ("${FOO%y*}", {"FOO": "xxyy"}, "xxy"),
    ("${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", {"FOO": "/foo*/*/*.txt", "NEEDLE": "\\*/"},
     "/foo.*/*.txt - /foo..*.txt"),
    ("${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", {"FOO": "/tmp/tmp/bar.txt", "NEEDLE": "/tmp"},
     "/tmp/bar.txt - /bar.txt"),
    ("${FOO//\\//\\/}", {"FOO": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt"),
    ("${FOO/$BAR/ww}", {"FOO": "xxyy", "BAR": ""}, "wwxxyy"),
    ("${FOO///}", {"FOO": "xxyy"}, "xxyy"),
    ("v-${V}.${OS}-${ARCH}${VARIANT:+-${VARIANT}}.tgz", {"V": "1", "OS": "linux", "ARCH": "arm", "VARIANT": "v7"},
     "v-1.linux-arm-v7.tgz"),
    ("${A}", {"A": None}, ""),                     # None: an ARG without a value is not set
    ("${A-unset}", {"A": None}, "unset"),
])
def test_modifiers(word, env, want):
    assert expand(word, env) == want


def test_backtick_escape():
    assert expand("a`$PWD\\x", ENV, escape="`") == "a$PWD\\x"
    assert expand('"a`"b"', ENV, escape="`") == 'a"b'


@pytest.mark.parametrize("word, env, fragment", [
    ("${BAZ?ccc}", {}, "BAZ: ccc"), ("${BAR:?bbb}", {"BAR": ""}, "BAR: bbb"),
    ("${BAZ:?}", {}, "BAZ: is not allowed to be unset"), ("${BAR:?}", {"BAR": ""}, "is not allowed to be empty"),
    ("${FOO=aaa}", {"FOO": "x"}, "unsupported modifier (=) in substitution"),
    ("${X:=y}", {}, "unsupported modifier (:=)"), ("he${XXX:YYY}", {}, "unsupported modifier (:Y)"),
    ("${FOO//ww}", {"FOO": "x"}, "missing '/' in ${}"), ("he${}xx", {}, "bad substitution"),
    ("he${:xx}", {}, "bad substitution"), ("${{x}", {}, "bad substitution"),
    ("he${XXX", {}, "missing '}'"), ("${", {}, "missing '}'"), ("${X:-abc", {}, "missing '}'"),
    ("'abc", {}, "matching single-quote"), ('"abc', {}, "matching double-quote"),
    ('"abc\\', {}, "matching double-quote"), ("${X#\\x}", {"X": "a"}, "invalid escape"),
])
def test_errors_name_the_line(word, env, fragment):
    with pytest.raises(DockerfileError) as e:
        expand(word, env, "\\", "sub/Dockerfile", 12)
    assert (e.value.path, e.value.line) == ("sub/Dockerfile", 12)
    assert str(e.value).startswith("sub/Dockerfile:12: failed to process ")
    assert fragment in str(e.value)


def test_expand_words():
    env = {"X": "x y", "E": ""}
    assert expand_words('a "b c" $X d""e ""', env) == ["a", "b c", "x", "y", "de"]
    assert expand_words("  $E  '' ${E}x  ", env) == ["x"]
    assert expand_words('"$X" a\\ b', env) == ["x y", "a b"]
    assert expand_words("", env) == []
    with pytest.raises(DockerfileError) as e:
        expand_words("a 'b", env, "\\", "Dockerfile", 3)
    assert str(e.value).startswith("Dockerfile:3: ")


def test_parse_words_keeps_quotes_for_later():
    assert parse_words('A="a b" B=c\\ d  C=\'e\' ""') == ['A="a b"', "B=c\\ d", "C='e'", '""']
    assert parse_words("a\\") == ["a"]
    assert parse_words("a`\tb c", "`") == ["a`\tb", "c"]


def test_key_values_env_and_label():
    env = {"HOME": "/root"}
    assert key_values('A=1 B="two words" C=$HOME/x D=', env, "ENV") == \
        [("A", "1"), ("B", "two words"), ("C", "/root/x"), ("D", "")]
    assert key_values("PATH /usr/bin:$HOME  and 'more'", env, "ENV") == [("PATH", "/usr/bin:/root  and more")]
    assert key_values('"org.x.y"="a b" version=1', env, "label") == [("org.x.y", "a b"), ("version", "1")]
    assert key_values("maintainer Jane Doe", env, "LABEL") == [("maintainer", "Jane Doe")]
    assert key_values("${K}=v", {"K": "key"}, "ENV") == [("key", "v")]      # keys are expanded too
    assert key_values("A=a\\ b", env, "ENV") == [("A", "a b")]
    assert key_values("A=a` b", env, "ENV", escape="`") == [("A", "a b")]


def test_key_values_arg():
    env = {"V": "1.2"}
    assert key_values("A B= C=x D=$V E=${NOPE:-d}", env, "ARG") == \
        [("A", None), ("B", ""), ("C", "x"), ("D", "1.2"), ("E", "d")]
    assert key_values('MSG="hello world"', env, "ARG") == [("MSG", "hello world")]


@pytest.mark.parametrize("text, kw, fragment", [
    ("", "ENV", "ENV requires at least one argument"), ("A", "ENV", "ENV must have two arguments"),
    ("A=1 B", "LABEL", "Syntax error - can't find = in \"B\""), ("=1", "ENV", "ENV names can not be blank"),
    ("${E}=1", "ENV", "ENV names can not be blank"), ("=x", "ARG", "ARG names can not be blank"),
    ("", "ARG", "ARG requires at least one argument"), ('A="x', "ENV", "matching double-quote"),
    ("A=${B", "ARG", "missing '}'"), ("A=${U:?needed}", "ENV", "U: needed"),
])
def test_key_value_errors(text, kw, fragment):
    with pytest.raises(DockerfileError) as e:
        key_values(text, {"E": ""}, kw, "\\", "Dockerfile", 4)
    assert (e.value.path, e.value.line) == ("Dockerfile", 4)
    assert fragment in str(e.value)


def test_hostile_words():
    assert expand("a\x00b$X", {"X": "\x00"}) == "a\x00b\x00"
    long = "x" * 200_000
    assert expand("$L", {"L": long}) == long
    with pytest.raises(DockerfileError) as e:
        expand("${a:-" * 5000, {}, "\\", "Dockerfile", 2)
    assert "nested too deeply" in str(e.value) and len(str(e.value)) < 400
    with pytest.raises(DockerfileError):
        expand("${" + "x" * 100_000, {}, "\\", "Dockerfile", 2)
