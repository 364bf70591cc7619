"""Reference codec fixtures for ForensightMediaTests (Pillow is the reference).

Writes into Tests/ForensightMediaTests/Fixtures/:
  source.png                      synthetic 64x48 RGB test image (gradients, hard edges, a checkerboard)
  pillow_q{Q}.jpg                 Pillow's JPEG of source.png at Q in 100, 90, 75, 50, 30 (default settings: 4:2:0)
  pillow_q{Q}_decoded.png         Pillow's decode of that JPEG (what our decoder must reproduce)
  exif_orientation_{N}.jpg        a 40x24 image stored with EXIF orientation N = 2..8 (little-endian EXIF)
  exif_orientation_{N}_upright.png  Pillow's decode + ImageOps.exif_transpose (what we must produce)
  gray.jpg, cmyk.jpg, progressive.jpg (+ _decoded.png = Pillow's decode converted to RGB)
  source.bmp, source.tiff, source_lossless.webp: source.png in formats decoded through ffmpeg (exact)
  source.gif (+ source_gif_decoded.png = Pillow's decode of the palettised GIF)
  png_*.png (+ png_*_expected.png): PNG colour types / bit depths / Adam7 interlacing, written by a small PNG writer
      below so that every variant exists; expected = colour samples with alpha dropped, 16-bit reduced by >> 8.
Run: python3 scripts/reference/make_jpeg_fixtures.py   (needs PyPI pillow, numpy)
"""
import io, os, struct, zlib
import numpy as np
from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ForensightMediaTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)


def path(name):
    return os.path.join(OUT, name)


def synthetic(w, h):
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.int64)
    img[..., 0] = x * 255 // (w - 1)                        # horizontal ramp
    img[..., 1] = y * 255 // (h - 1)                        # vertical ramp
    img[..., 2] = np.where(((x // 6) + (y // 6)) % 2 == 0, 40, 210)   # checkerboard edges
    img[h // 3: h // 2 + 4, w // 4: w // 2 + 3] = [250, 20, 128]      # a saturated block with hard edges
    img[:, w - 6:] = (img[:, w - 6:] * 3 + 100) % 256                 # a strip of wrapped values
    return img.astype(np.uint8)


def save_rgb_png(arr, name):
    Image.fromarray(arr, "RGB").save(path(name))


# --- JPEG at the standard qualities -------------------------------------------------------------
src = synthetic(64, 48)
save_rgb_png(src, "source.png")
for q in (100, 90, 75, 50, 30):
    Image.fromarray(src).save(path(f"pillow_q{q}.jpg"), quality=q)
    save_rgb_png(np.asarray(Image.open(path(f"pillow_q{q}.jpg")).convert("RGB")), f"pillow_q{q}_decoded.png")

# --- EXIF orientation ---------------------------------------------------------------------------
small = synthetic(40, 24)
for n in range(2, 9):
    exif = Image.Exif()
    exif[0x0112] = n
    Image.fromarray(small).save(path(f"exif_orientation_{n}.jpg"), quality=95, exif=exif.tobytes())
    upright = ImageOps.exif_transpose(Image.open(path(f"exif_orientation_{n}.jpg"))).convert("RGB")
    save_rgb_png(np.asarray(upright), f"exif_orientation_{n}_upright.png")

# --- Other JPEG flavours ------------------------------------------------------------------------
Image.fromarray(src).convert("L").save(path("gray.jpg"), quality=90)
Image.fromarray(src).convert("CMYK").save(path("cmyk.jpg"), quality=90)   # Pillow writes Adobe-inverted CMYK
Image.fromarray(src).save(path("progressive.jpg"), quality=85, progressive=True)
for name in ("gray", "cmyk", "progressive"):
    save_rgb_png(np.asarray(Image.open(path(f"{name}.jpg")).convert("RGB")), f"{name}_decoded.png")

# --- Formats decoded through ffmpeg -------------------------------------------------------------
Image.fromarray(src).save(path("source.bmp"))
Image.fromarray(src).save(path("source.tiff"))
Image.fromarray(src).save(path("source_lossless.webp"), lossless=True)
Image.fromarray(src).save(path("source.gif"))
save_rgb_png(np.asarray(Image.open(path("source.gif")).convert("RGB")), "source_gif_decoded.png")


# --- PNG variants (hand-written so every colour type / depth / interlace exists) ----------------
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_rows(samples, bit_depth):
    """samples: (h, w*channels) ints -> list of raw scanline bytes (no filter byte)."""
    rows = []
    for row in samples:
        if bit_depth == 16:
            rows.append(b"".join(struct.pack(">H", int(v)) for v in row))
        elif bit_depth == 8:
            rows.append(bytes(int(v) for v in row))
        else:  # 1, 2, 4 bits: pack MSB first
            per = 8 // bit_depth
            out = bytearray()
            for i in range(0, len(row), per):
                byte = 0
                for j, v in enumerate(row[i:i + per]):
                    byte |= int(v) << (8 - bit_depth * (j + 1))
                out.append(byte)
            rows.append(bytes(out))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, pixels, color_type, bit_depth, interlace=False, palette=None, trns=None):
    """pixels: (h, w, channels) array of samples at bit_depth."""
    h, w, c = pixels.shape
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = pixels[y0::dy, x0::dx]
            if sub.size == 0:
                continue
            raw += b"".join(b"\x00" + r for r in pack_rows(sub.reshape(sub.shape[0], -1), bit_depth))
    else:
        raw = b"".join(b"\x00" + r for r in pack_rows(pixels.reshape(h, -1), bit_depth))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        data += chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path(name), "wb") as f:
        f.write(data)


h, w = 24, 33   # odd width exercises sub-byte packing and Adam7 edges
rgb8 = synthetic(w, h)
gray8 = (rgb8.astype(np.int64) @ [77, 150, 29] >> 8).astype(np.uint8)
ramp16 = (np.arange(h * w * 3).reshape(h, w, 3) * 997 + 12345) % 65536
alpha = ((np.arange(h * w).reshape(h, w, 1) * 37) % 256).astype(np.uint8)


def expect(name, rgb):
    save_rgb_png(np.asarray(rgb, np.uint8), name.replace(".png", "_expected.png"))


write_png("png_rgb8.png", rgb8, 2, 8); expect("png_rgb8.png", rgb8)
write_png("png_rgb8_interlaced.png", rgb8, 2, 8, interlace=True); expect("png_rgb8_interlaced.png", rgb8)
write_png("png_gray8.png", gray8[..., None], 0, 8); expect("png_gray8.png", np.repeat(gray8[..., None], 3, 2))
gray1 = ((np.arange(h * w).reshape(h, w) // 3) % 2)
write_png("png_gray1.png", gray1[..., None], 0, 1); expect("png_gray1.png", np.repeat(gray1[..., None] * 255, 3, 2))
write_png("png_rgb16.png", ramp16, 2, 16); expect("png_rgb16.png", ramp16 >> 8)
gray16 = ramp16[..., :1]
write_png("png_gray16_interlaced.png", gray16, 0, 16, interlace=True)
expect("png_gray16_interlaced.png", np.repeat(gray16 >> 8, 3, 2))
write_png("png_rgba8.png", np.concatenate([rgb8, alpha], 2), 6, 8); expect("png_rgba8.png", rgb8)
write_png("png_rgba16.png", np.concatenate([ramp16, (alpha.astype(np.int64) * 257)], 2), 6, 16)
expect("png_rgba16.png", ramp16 >> 8)
write_png("png_gray_alpha8.png", np.concatenate([gray8[..., None], alpha], 2), 4, 8)
expect("png_gray_alpha8.png", np.repeat(gray8[..., None], 3, 2))
palette = np.array([[(i * 53) % 256, (i * 91 + 7) % 256, (255 - i * 17) % 256] for i in range(16)])
index = (np.arange(h * w).reshape(h, w) * 7 // 5) % 16
write_png("png_palette4.png", index[..., None], 3, 4, palette=palette); expect("png_palette4.png", palette[index])
write_png("png_palette8_trns.png", index[..., None], 3, 8, palette=palette, trns=bytes([0, 128, 255, 64]))
expect("png_palette8_trns.png", palette[index])
print("fixtures written to", os.path.normpath(OUT))
