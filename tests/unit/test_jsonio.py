"""minictr.jsonio agrees with the json package, and says where bad JSON breaks."""
import json

import pytest

from minictr import jsonio

SAMPLES = ['{"a": [1, 2.5, null, true, false, "x\\u00e9\\n"]}', " [] ", '""', "-0.5e3",
           '{"nested": {"deep": [[{}]]}, "unicode": "\\ud83d\\ude00"}']


@pytest.mark.parametrize("text", SAMPLES)
def test_same_values_as_json(text):
    assert jsonio.loads(text) == json.loads(text)
    assert jsonio.loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize("obj", [{"a": [1, 2.5, None, True]}, {"é": "ü", "n": {}}, [], "x"])
def test_dumps_like_json(obj):
    assert jsonio.dumps(obj) == json.dumps(obj)
    assert jsonio.dumps(obj, indent=2) == json.dumps(obj, indent=2)


@pytest.mark.parametrize("text,line,column", [
    ("", 1, 1), ("{", 1, 2), ('{"a": 1} x', 1, 10), ('{\n  "a": tru\n}', 2, 8), ("[1, 2", 1, 6),
    ('{"a": "\x01"}', 1, 8), ("{not json", 1, 2), ('{"a" 1}', 1, 6), ('{"a": 1,}', 1, 9),
])
def test_errors_say_where(text, line, column):
    with pytest.raises(jsonio.JSONError) as e:
        jsonio.loads(text)
    assert (e.value.line, e.value.column) == (line, column), str(e.value)
    with pytest.raises(json.JSONDecodeError) as ref:
        json.loads(text)
    assert (ref.value.lineno, ref.value.colno) == (line, column)
