"""Reads @peaktrade/serialize bytes (format version 2) with stock msgpack + zstandard.

    python3 test/read_peaktrade.py test/fixtures/types.bin          # prints a summary
    python3 test/read_peaktrade.py --json test/fixtures/table.bin   # prints the value as JSON
"""
import datetime
import json
import math
import struct
import sys
import zlib

import msgpack
import zstandard

TYPED = {0x10: "<b", 0x11: "<B", 0x12: "<B", 0x13: "<h", 0x14: "<H", 0x15: "<i",
         0x16: "<I", 0x17: "<f", 0x18: "<d", 0x19: "<q", 0x1A: "<Q"}
MAP_MARK, SET_MARK = object(), object()


def ext_hook(code, data):
    if code == 0x01:
        return MAP_MARK
    if code == 0x02:
        return SET_MARK
    if code == 0x03:  # BigInt beyond 64 bits: big-endian two's complement
        return int.from_bytes(data, "big", signed=True)
    if code == 0x04:  # ArrayBuffer
        return bytes(data)
    if code == 0x05:  # Table: the key list, then one little-endian float 64 column per key
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(data)
        keys = unpacker.unpack()
        values = data[unpacker.tell():]
        n = len(values) // (8 * len(keys))
        cols = [struct.unpack_from(f"<{n}d", values, j * n * 8) for j in range(len(keys))]
        return [{k: cols[j][i] for j, k in enumerate(keys)} for i in range(n)]
    if code in TYPED:  # typed array: raw little-endian elements (numpy: np.frombuffer(data, "<f8"))
        return [v[0] for v in struct.iter_unpack(TYPED[code], data)]
    if code == 0 and data == b"\x00":
        return None  # JavaScript undefined
    return msgpack.ExtType(code, data)


def restore(v):
    """Turns [MAP_MARK, k, v, ...] into a list of pairs and [SET_MARK, ...] into a list (keys may be unhashable)."""
    if isinstance(v, list):
        if v and v[0] is MAP_MARK:
            return {"__map__": [(restore(v[i]), restore(v[i + 1])) for i in range(1, len(v), 2)]}
        if v and v[0] is SET_MARK:
            return {"__set__": [restore(x) for x in v[1:]]}
        return [restore(x) for x in v]
    if isinstance(v, dict):
        return {k: restore(x) for k, x in v.items()}
    return v


def read(buf: bytes):
    assert buf[:2] == b"PT", "bad magic"
    assert buf[2] == 2, "unsupported version"
    flags = buf[3]
    length, crc = struct.unpack_from("<II", buf, 4)
    body = buf[12:]
    assert len(body) == length, "truncated or trailing bytes"
    assert zlib.crc32(body) == crc, "CRC-32 mismatch"
    if flags & 0x03 == 1:  # zstd frame (pass dict_data=zstandard.ZstdCompressionDict(...) if flags & 0x04)
        body = zstandard.ZstdDecompressor().decompress(body)
    value = msgpack.unpackb(body, ext_hook=ext_hook, timestamp=3, strict_map_key=False, raw=False)
    return restore(value)


def to_json(v):
    """A JSON-safe rendering for comparison from another language: special floats as strings."""
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        if v == 0 and math.copysign(1, v) < 0:
            return "-0"
        return v
    if isinstance(v, (bytes, bytearray)):
        return {"__bytes__": list(v)}
    if isinstance(v, datetime.datetime):
        return {"__date__": v.isoformat()}
    if isinstance(v, list) or isinstance(v, tuple):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {str(k): to_json(x) for k, x in v.items()}
    if isinstance(v, int) and abs(v) >= 2**53:
        return {"__bigint__": str(v)}
    return v


if __name__ == "__main__":
    as_json = "--json" in sys.argv
    for path in [a for a in sys.argv[1:] if a != "--json"]:
        with open(path, "rb") as f:
            value = read(f.read())
        if as_json:
            print(json.dumps(to_json(value)))
        else:
            print(path, repr(value)[:300])
