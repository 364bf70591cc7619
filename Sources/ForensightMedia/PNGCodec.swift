import CPNG
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// PNG decoding uses libpng's standard (progressive-free, sequential) API on a codec worker thread, exactly like
// libjpeg (see LibJPEGSession.swift): libpng reports a fatal error through the error callback, which must not
// return; ours records the message and ends the worker thread with `pthread_exit`.
//
// libpng 1.6's simplified API (`png_image_*`), which needs no such care, was the first choice, but the libpng of
// Debian 12 (1.6.39-2+deb12u4) has upstream bug pnggroup/libpng#853: it scrambles the rows of Adam7-interlaced
// 16-bit images converted to 8 bits. The standard API also lets us reproduce Pillow and OpenCV exactly (16-bit →
// high byte, no gamma conversion). Encoding is our own container around zlib (`encodePNG`, below).

private let pngColorMaskPalette: Int32 = 1, pngColorMaskColor: Int32 = 2

/// A libpng decoding run: plain values and raw pointers only (the worker may be abandoned mid-way).
private struct PNGDecodeJob {
    var input: UnsafePointer<UInt8>
    var inputCount: Int
    var position = 0
    var maxPixels: Int
    var png: png_structp?
    var info: png_infop?
    var failed = false
    var endedEarly = false
    var tooLarge = false
    var message: UnsafeMutablePointer<CChar>
    var width = 0
    var height = 0
    /// Row pointers (malloc'd by the worker) into `output` (provided by the caller once the size is known).
    var rows: UnsafeMutablePointer<png_bytep?>?
    var output: UnsafeMutablePointer<UInt8>?
    var finished = false
}

private let pngMessageCapacity = 256

private func pngJob(_ png: png_structp?) -> UnsafeMutablePointer<PNGDecodeJob> {
    png_get_error_ptr(png)!.assumingMemoryBound(to: PNGDecodeJob.self)
}

/// libpng's error callback: keep the message, end the worker thread (never returns).
private let pngError: @convention(c) (png_structp?, png_const_charp?) -> Void = { png, text in
    let job = pngJob(png)
    job.pointee.failed = true
    if let text { _ = strncpy(job.pointee.message, text, pngMessageCapacity - 1) }
    pthread_exit(nil)
}

/// Warnings (e.g. a known-incorrect sRGB profile) do not affect the pixels: ignore them.
private let pngWarning: @convention(c) (png_structp?, png_const_charp?) -> Void = { _, _ in }

/// Reads from the in-memory file; running out of data is a (fatal) truncation.
private let pngRead: @convention(c) (png_structp?, png_bytep?, Int) -> Void = { png, destination, count in
    let job = pngJob(png)
    guard count <= job.pointee.inputCount - job.pointee.position, let destination else {
        job.pointee.endedEarly = true
        png_error(png, "file ends before the image data is complete")
    }
    destination.update(from: job.pointee.input + job.pointee.position, count: count)
    job.pointee.position += count
}

private let pngDecodeEntry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { raw in
    let job = raw!.assumingMemoryBound(to: PNGDecodeJob.self)
    guard let png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, pngError, pngWarning),
          let info = png_create_info_struct(png) else {
        return nil
    }
    (job.pointee.png, job.pointee.info) = (png, info)
    png_set_read_fn(png, nil, pngRead)
    png_read_info(png, info)
    let width = Int(png_get_image_width(png, info)), height = Int(png_get_image_height(png, info))
    (job.pointee.width, job.pointee.height) = (width, height)
    guard width * height <= job.pointee.maxPixels else { job.pointee.tooLarge = true; return nil }
    let colorType = Int32(png_get_color_type(png, info)), depth = Int32(png_get_bit_depth(png, info))
    // To 8-bit RGB the way Pillow's convert("RGB") and OpenCV's imread do: expand palette and low-depth gray,
    // keep the high byte of 16-bit samples, replicate gray, discard alpha and tRNS. No gamma handling.
    if colorType & pngColorMaskPalette != 0 { png_set_palette_to_rgb(png) }
    if colorType & pngColorMaskColor == 0 && depth < 8 { png_set_expand_gray_1_2_4_to_8(png) }
    if depth == 16 { png_set_strip_16(png) }
    if colorType & pngColorMaskColor == 0 { png_set_gray_to_rgb(png) }
    png_set_strip_alpha(png)  // the alpha channel, and the one palette expansion makes from tRNS

    _ = png_set_interlace_handling(png)
    png_read_update_info(png, info)
    guard Int(png_get_rowbytes(png, info)) == width * 3, let output = job.pointee.output else {
        png_error(png, "unexpected row layout after conversion to RGB")
    }
    guard let rows = malloc(height * MemoryLayout<png_bytep?>.stride)?.assumingMemoryBound(to: png_bytep?.self) else {
        png_error(png, "out of memory")
    }
    job.pointee.rows = rows
    for y in 0..<height { rows[y] = output + y * width * 3 }
    png_read_image(png, rows)
    // Chunks after the image data (and IEND itself) are not needed: a file cut after the pixels is accepted.
    job.pointee.finished = true
    return nil
}

/// The width and height in a PNG's IHDR chunk, which must be the first chunk after the signature.
private func pngHeaderSize(_ bytes: UnsafeRawBufferPointer, name: String) throws -> (width: Int, height: Int) {
    // 8-byte signature, then chunk: length (4) "IHDR" (4) width (4) height (4) ...
    guard bytes.count >= 24 else { throw MediaError(.truncated, path: name, reason: "truncated PNG: file ends inside the header") }
    guard bytes[12] == 0x49, bytes[13] == 0x48, bytes[14] == 0x44, bytes[15] == 0x52 else {
        throw MediaError(.corrupt, path: name, reason: "corrupt PNG: first chunk is not IHDR")
    }
    func u32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
    return (u32(16), u32(20))
}

/// Decodes a PNG held in memory (format already sniffed) to 8-bit RGB.
///
/// Every colour type and bit depth (palette, gray 1–16-bit, gray+alpha, RGB, RGBA, 8/16-bit) and Adam7 interlacing
/// are supported. Alpha (and tRNS transparency) is **dropped**: the stored colour samples are kept, not composited,
/// like Pillow's `convert("RGB")` and OpenCV's `imread(IMREAD_COLOR)`. 16-bit samples keep their high byte (as
/// Pillow and OpenCV). Gamma/ICC chunks are ignored (as both references do).
func decodePNG(_ bytes: UnsafeRawBufferPointer, name: String, maxPixels: Int) throws -> RGBImage {
    let size = try pngHeaderSize(bytes, name: name)
    try checkPixelLimit(width: size.width, height: size.height, maxPixels: maxPixels, name: name)
    let message = UnsafeMutablePointer<CChar>.allocate(capacity: pngMessageCapacity)
    message.initialize(repeating: 0, count: pngMessageCapacity)
    let job = UnsafeMutablePointer<PNGDecodeJob>.allocate(capacity: 1)
    job.initialize(to: PNGDecodeJob(input: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                    inputCount: bytes.count, maxPixels: maxPixels, message: message))
    defer {
        if job.pointee.png != nil { png_destroy_read_struct(&job.pointee.png, &job.pointee.info, nil) }
        free(job.pointee.rows)
        job.deinitialize(count: 1); job.deallocate()
        message.deallocate()
    }
    var started = true
    // The output is written straight into the array's storage; uninitialised pages are only touched as rows arrive.
    let pixels = [UInt8](unsafeUninitializedCapacity: size.width * size.height * 3) { storage, count in
        job.pointee.output = storage.baseAddress
        started = runOnCodecWorkerThread(UnsafeMutableRawPointer(job), pngDecodeEntry)
        let complete = job.pointee.finished && job.pointee.width == size.width && job.pointee.height == size.height
        count = complete ? size.width * size.height * 3 : 0
    }
    let result = job.pointee
    guard started else { throw MediaError(.unreadable, path: name, reason: "could not start a PNG decoding thread") }
    if result.tooLarge {
        try checkPixelLimit(width: result.width, height: result.height, maxPixels: maxPixels, name: name)
    }
    if result.failed || !result.finished {
        let detail = String(cString: message)
        if result.endedEarly {
            throw MediaError(.truncated, path: name, reason: "truncated PNG: data ends before the image is complete")
        }
        throw MediaError(.corrupt, path: name, reason: "corrupt PNG" + (detail.isEmpty ? "" : ": \(detail)"))
    }
    guard pixels.count == size.width * size.height * 3 else {
        throw MediaError(.corrupt, path: name, reason: "corrupt PNG: IHDR changed while decoding")
    }
    return RGBImage(width: size.width, height: size.height, pixels: pixels)
}

/// Encodes 8-bit RGB as PNG: the signature, IHDR, one IDAT holding the zlib stream of the rows, IEND.
///
/// Why not libpng's writer: its simplified API (used until 2026-12) offers no choice of filter or compression level
/// and spent three quarters of `forensight faces`' time in zlib at level 6 with adaptive filtering; its standard API
/// reports errors by longjmp, which would need the decoder's worker-thread machinery for a writer that cannot fail
/// on valid input. The container for one 8-bit RGB image is three fixed chunks, and zlib does the work that matters.
/// Every row uses the Up filter (the byte minus the byte above), which on face crops compresses nearly as well as
/// libpng's adaptive choice; deflate runs at level `level` (1, the default: about 6× faster than level 6 with
/// adaptive filters, files about 10 % larger on face crops). Lossless at every level.
func encodePNG(_ rgb: RGBImage, level: Int32 = 1) throws -> [UInt8] {
    guard rgb.width > 0, rgb.height > 0 else {
        throw MediaError(.writeFailed, path: "<memory>", reason: "cannot encode an empty image as PNG")
    }
    let rowBytes = rgb.width * 3
    var filtered = [UInt8](repeating: 0, count: (rowBytes + 1) * rgb.height)
    rgb.pixels.withUnsafeBufferPointer { src in filtered.withUnsafeMutableBufferPointer { dst in
        for y in 0..<rgb.height {
            let out = dst.baseAddress! + y * (rowBytes + 1), row = src.baseAddress! + y * rowBytes
            out[0] = 2  // filter type Up
            if y == 0 {
                (out + 1).update(from: row, count: rowBytes)
            } else {
                let above = row - rowBytes
                for x in 0..<rowBytes { out[1 + x] = row[x] &- above[x] }
            }
        }
    } }
    var deflated = [UInt8](repeating: 0, count: Int(compressBound(uLong(filtered.count))))
    var deflatedCount = uLongf(deflated.count)
    let status = deflated.withUnsafeMutableBufferPointer { out in
        filtered.withUnsafeBufferPointer { compress2(out.baseAddress, &deflatedCount, $0.baseAddress, uLong($0.count), level) }
    }
    guard status == Z_OK else {
        throw MediaError(.writeFailed, path: "<memory>", reason: "PNG encoding failed: zlib error \(status)")
    }
    var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    func chunk(_ type: String, _ data: ArraySlice<UInt8>) {
        let typeBytes = Array(type.utf8)
        png += bigEndian(UInt32(data.count)) + typeBytes
        png += data
        var crc = crc32(0, typeBytes, uInt(typeBytes.count))
        crc = data.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt($0.count)) }
        png += bigEndian(UInt32(truncatingIfNeeded: crc))
    }
    // IHDR: width, height, bit depth 8, colour type 2 (RGB), deflate, adaptive filtering method 0, no interlace.
    chunk("IHDR", ArraySlice(bigEndian(UInt32(rgb.width)) + bigEndian(UInt32(rgb.height)) + [8, 2, 0, 0, 0]))
    chunk("IDAT", deflated[0..<Int(deflatedCount)])
    chunk("IEND", [])
    return png
}
