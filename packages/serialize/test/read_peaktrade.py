"""Reads @peaktrade/serialize bytes (format version 1) with stock msgpack + zstandard.

    python3 test/read_peaktrade.py test/fixtures/types.bin
"""
import datetime
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
    assert buf[2] == 1, "unsupported version"
    flags = buf[3]
    length, crc = struct.unpack_from("<II", buf, 4)
    body = buf[12:]
    assert len(body) == length, "truncated or trailing bytes"
    assert zlib.crc32(body) == crc, "CRC-32 mismatch"
    if flags & 0x03 == 1:  # zstd frame (pass dict_data=zstandard.ZstdCompressionDict(...) if flags & 0x04)
        body = zstandard.ZstdDecompressor().decompress(body)
    value = msgpack.unpackb(body, ext_hook=ext_hook, timestamp=3, strict_map_key=False, raw=False)
    return restore(value)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            value = read(f.read())
        print(path, repr(value)[:300])
