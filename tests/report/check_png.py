#!/usr/bin/python3
"""Checks a PNG screenshot is not blank: decodes it with zlib (stdlib only),
counts distinct colours and the fraction of non-white pixels.

usage: check_png.py SHOT.png [MIN_COLOURS] [MIN_NON_WHITE_FRACTION]
"""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG file")
    pos, idat = 8, b""
    width = height = depth = colour = interlace = None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise SystemExit(f"{path}: expected 8-bit RGB(A) non-interlaced, got depth {depth} "
                         f"colour type {colour} interlace {interlace}")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    rows = []
    i = 0
    for _ in range(height):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    path = sys.argv[1]
    min_colours = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    min_non_white = float(sys.argv[3]) if len(sys.argv) > 3 else 0.01
    width, height, bpp, rows = decode(path)
    colours = set()
    non_white = 0
    for row in rows:
        for x in range(0, width * bpp, bpp):
            px = row[x:x + 3]
            colours.add(px)
            if px != b"\xff\xff\xff":
                non_white += 1
    fraction = non_white / (width * height)
    print(f"{path}: {width}x{height}, {len(colours)} colours, {fraction:.1%} non-white")
    if len(colours) < min_colours or fraction < min_non_white:
        raise SystemExit(f"{path}: looks blank (want >= {min_colours} colours and "
                         f">= {min_non_white:.0%} non-white)")


if __name__ == "__main__":
    main()
