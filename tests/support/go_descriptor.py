"""The CRI's FileDescriptorProto as compiled into a Go program (crictl,
kubelet): protoc-gen-go embeds the serialized descriptor as raw bytes, so
the API a real client speaks can be compared with ours field by field."""
from __future__ import annotations

import re
from pathlib import Path

_START = re.compile(rb"\n.[^\x00]{0,80}?api\.proto\x12\nruntime\.v1", re.S)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(10):
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at
    raise ValueError("varint longer than 10 bytes")


def cri_descriptor(binary: Path):
    """The runtime.v1 FileDescriptorProto inside binary, or None."""
    from google.protobuf import descriptor_pb2
    data = binary.read_bytes()
    found = _START.search(data)
    if not found:
        return None
    at = start = found.start()
    for _ in range(100000):   # top-level fields, until bytes that cannot be one
        key, after = _varint(data, at)
        field, wire = key >> 3, key & 7
        if not 1 <= field <= 20 or wire not in (0, 2):
            break
        if wire == 0:
            _, after = _varint(data, after)
        else:
            length, after = _varint(data, after)
            after += length
        at = after
    return descriptor_pb2.FileDescriptorProto.FromString(data[start:at])


def comparable(fd):
    """Without what differs by generator only: file name, json_name, source info."""
    fd.name = "api.proto"
    fd.ClearField("source_code_info")

    def strip(messages):
        for m in messages:
            for f in m.field:
                f.ClearField("json_name")
            strip(m.nested_type)
    strip(fd.message_type)
    return fd
