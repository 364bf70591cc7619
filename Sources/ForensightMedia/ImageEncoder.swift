import CJPEG
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Encodes RGB images as JPEG (libjpeg-turbo) or PNG (libpng) and writes them atomically.
public enum ImageEncoder {
    /// JPEG bytes at `quality` 1...100 (clamped), encoded exactly as Pillow's `Image.save(…, quality=q)` does:
    /// `jpeg_set_defaults`, then `jpeg_set_quality(q, force_baseline: true)` — libjpeg's standard quality scaling of
    /// the Annex K tables —, 4:2:0 chroma subsampling (libjpeg's default for YCbCr), islow DCT, standard Huffman
    /// tables, baseline, JFIF header. Pillow and this encoder produce identical decoded pixels (see the tests).
    public static func jpeg(_ image: RGBImage, quality: Int = 95) throws -> [UInt8] {
        guard image.width > 0, image.height > 0 else {
            throw MediaError(.writeFailed, path: "<memory>", reason: "cannot encode an empty image as JPEG")
        }
        return try encodeJPEG(image, quality: min(max(quality, 1), 100))
    }

    /// PNG bytes (8-bit RGB, no alpha).
    public static func png(_ image: RGBImage) throws -> [UInt8] {
        try encodePNG(image)
    }

    /// Writes `image` to `path`, choosing the format from the extension (`.jpg`/`.jpeg` or `.png`, any case).
    ///
    /// The bytes go to a temporary file in the same directory that is renamed over `path`, so readers never see a
    /// half-written image and a failure leaves any previous file intact.
    public static func write(_ image: RGBImage, to path: String, jpegQuality: Int = 95) throws {
        let lower = path.lowercased()
        let bytes: [UInt8]
        do {
            if lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") {
                bytes = try jpeg(image, quality: jpegQuality)
            } else if lower.hasSuffix(".png") {
                bytes = try png(image)
            } else {
                throw MediaError(.unsupportedFormat, path: path, reason: "cannot tell the image format from the extension",
                                 hint: "use .jpg, .jpeg or .png")
            }
        } catch let error as MediaError where error.path == "<memory>" {
            throw MediaError(error.kind, path: path, reason: error.reason, hint: error.hint)
        }
        try writeAtomically(bytes, to: path)
    }
}

/// Writes `bytes` to a sibling temporary file, flushes it, then renames it over `path`.
func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { String(path[..<$0]) } ?? "."
    let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
    let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    func failure(_ what: String, _ code: Int32) -> MediaError {
        MediaError(.writeFailed, path: path, reason: "\(what): \(String(cString: strerror(code)))")
    }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw failure("cannot create a file in \(directory.isEmpty ? "/" : directory)", errno) }
    var written = 0
    let writeError: Int32? = bytes.withUnsafeBytes { raw in
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n > 0 { written += n } else if n < 0 && errno == EINTR { continue } else { return n < 0 ? errno : EIO }
        }
        return fsync(fd) == 0 ? nil : errno
    }
    close(fd)
    if let writeError {
        unlink(temporary)
        throw failure("cannot write", writeError)
    }
    if rename(temporary, path) != 0 {
        let code = errno
        unlink(temporary)
        throw failure("cannot replace the file", code)
    }
}

// MARK: - JPEG encoding on a libjpeg worker thread (see LibJPEGSession.swift)

private struct JPEGEncodeJob {
    var pixels: UnsafePointer<UInt8>
    var width: Int
    var height: Int
    var quality: Int32
    var cinfo: UnsafeMutablePointer<jpeg_compress_struct>
    /// Output of `jpeg_mem_dest`: a malloc'd buffer and its size, freed by the caller.
    var output: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>
    var outputSize: UnsafeMutablePointer<UInt>
    var row: UnsafeMutablePointer<JSAMPROW?>
    var finished = false
}

private let encodeEntry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { raw in
    let job = raw!.assumingMemoryBound(to: JPEGEncodeJob.self)
    let cinfo = job.pointee.cinfo
    jpeg_mem_dest(cinfo, job.pointee.output, job.pointee.outputSize)
    cinfo.pointee.image_width = JDIMENSION(job.pointee.width)
    cinfo.pointee.image_height = JDIMENSION(job.pointee.height)
    cinfo.pointee.input_components = 3
    cinfo.pointee.in_color_space = JCS_RGB
    jpeg_set_defaults(cinfo)
    jpeg_set_quality(cinfo, job.pointee.quality, 1)
    jpeg_start_compress(cinfo, 1)
    let rowBytes = job.pointee.width * 3
    while Int(cinfo.pointee.next_scanline) < job.pointee.height {
        job.pointee.row[0] = UnsafeMutablePointer(mutating: job.pointee.pixels + Int(cinfo.pointee.next_scanline) * rowBytes)
        _ = jpeg_write_scanlines(cinfo, job.pointee.row, 1)
    }
    jpeg_finish_compress(cinfo)
    job.pointee.finished = true
    return nil
}

private func encodeJPEG(_ image: RGBImage, quality: Int) throws -> [UInt8] {
    let session = makeLibJPEGSession()
    let cinfo = UnsafeMutablePointer<jpeg_compress_struct>.allocate(capacity: 1)
    cinfo.initialize(to: jpeg_compress_struct())
    let output = UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>.allocate(capacity: 1)
    output.initialize(to: nil)
    let outputSize = UnsafeMutablePointer<UInt>.allocate(capacity: 1)
    outputSize.initialize(to: 0)
    let row = UnsafeMutablePointer<JSAMPROW?>.allocate(capacity: 1)
    row.initialize(to: nil)
    defer {
        jpeg_destroy_compress(cinfo)
        free(output.pointee)
        cinfo.deallocate(); output.deallocate(); outputSize.deallocate(); row.deallocate()
        freeLibJPEGSession(session)
    }
    cinfo.pointee.err = withUnsafeMutablePointer(to: &session.pointee.errorManager) { $0 }
    jpeg_CreateCompress(cinfo, JPEG_LIB_VERSION, MemoryLayout<jpeg_compress_struct>.size)
    cinfo.pointee.client_data = UnsafeMutableRawPointer(session)

    return try image.pixels.withUnsafeBufferPointer { pixels in
        let job = UnsafeMutablePointer<JPEGEncodeJob>.allocate(capacity: 1)
        job.initialize(to: JPEGEncodeJob(pixels: pixels.baseAddress!, width: image.width, height: image.height,
                                         quality: Int32(quality), cinfo: cinfo, output: output,
                                         outputSize: outputSize, row: row))
        defer { job.deinitialize(count: 1); job.deallocate() }
        session.pointee.job = UnsafeMutableRawPointer(job)
        guard runOnCodecWorkerThread(UnsafeMutableRawPointer(job), encodeEntry) else {
            throw MediaError(.writeFailed, path: "<memory>", reason: "could not start a JPEG encoding thread")
        }
        if session.pointee.failed || !job.pointee.finished {
            throw MediaError(.writeFailed, path: "<memory>", reason: "JPEG encoding failed: \(session.pointee.messageText)")
        }
        guard let buffer = output.pointee else {
            throw MediaError(.writeFailed, path: "<memory>", reason: "JPEG encoding produced no data")
        }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(outputSize.pointee)))
    }
}
