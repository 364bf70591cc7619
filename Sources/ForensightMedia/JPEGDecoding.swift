import CJPEG
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A libjpeg decompression run: plain values only (see `LibJPEGSession.swift` for why).
private struct JPEGDecodeJob {
    var input: UnsafePointer<UInt8>
    var inputCount: Int
    var maxPixels: Int
    var cinfo: UnsafeMutablePointer<jpeg_decompress_struct>
    var source: UnsafeMutablePointer<jpeg_source_mgr>
    var progress: UnsafeMutablePointer<jpeg_progress_mgr>
    /// Two bytes 0xFF 0xD9 (EOI) handed to libjpeg when the data runs out.
    var fakeEOI: UnsafeMutablePointer<UInt8>
    /// Row pointers handed to `jpeg_read_scanlines` (16 slots).
    var rows: UnsafeMutablePointer<JSAMPROW?>
    var headerWidth = 0
    var headerHeight = 0
    /// Set when libjpeg asked for data past the end before every output row was produced, with the warning count
    /// at that moment (a later "premature end of data segment" warning means the decoder was starved).
    var hitEndBeforeLastRow = false
    var warningsAtEnd = 0
    var headerRead = false
    var multipleScans = false
    var allRowsRead = false
    var rowsRead = 0
    var tooLarge = false
    var tablesOnly = false
    var unsupportedColorSpace = false
    var sawAdobe = false
    // Output: malloc'd, `width * height * components` bytes; freed by the caller.
    var output: UnsafeMutablePointer<UInt8>?
    var width = 0
    var height = 0
    var components = 0
}

/// Progressive JPEGs may legally contain any number of scans; thousands of tiny scans are a known CPU bomb.
/// Like TurboJPEG's scan limit, we refuse more than this many.
private let maximumProgressiveScans: Int32 = 500

private func decodeSession(_ cinfo: j_decompress_ptr) -> UnsafeMutablePointer<LibJPEGSession> {
    cinfo.pointee.client_data!.assumingMemoryBound(to: LibJPEGSession.self)
}

private func decodeJob(_ cinfo: j_decompress_ptr?) -> UnsafeMutablePointer<JPEGDecodeJob>? {
    guard let cinfo else { return nil }
    return decodeSession(cinfo).pointee.job?.assumingMemoryBound(to: JPEGDecodeJob.self)
}

// Source manager over one in-memory buffer. At the end of the data it records whether the image was complete
// and hands libjpeg a fake EOI marker, as libjpeg's own memory source does (which only warns).
private let sourceInit: @convention(c) (j_decompress_ptr?) -> Void = { _ in }
private let sourceTerminate: @convention(c) (j_decompress_ptr?) -> Void = { _ in }

private let sourceFill: @convention(c) (j_decompress_ptr?) -> boolean = { cinfo in
    guard let cinfo, let job = decodeJob(cinfo) else { return 0 }
    if !job.pointee.allRowsRead && !job.pointee.hitEndBeforeLastRow {
        job.pointee.hitEndBeforeLastRow = true
        job.pointee.warningsAtEnd = decodeSession(cinfo).pointee.warningCount
    }
    cinfo.pointee.src.pointee.next_input_byte = UnsafePointer(job.pointee.fakeEOI)
    cinfo.pointee.src.pointee.bytes_in_buffer = 2
    return 1
}

private let sourceSkip: @convention(c) (j_decompress_ptr?, Int) -> Void = { cinfo, count in
    guard let cinfo, count > 0 else { return }
    let source = cinfo.pointee.src!
    if count > source.pointee.bytes_in_buffer {
        _ = sourceFill(cinfo)
    } else {
        source.pointee.next_input_byte += count
        source.pointee.bytes_in_buffer -= count
    }
}

private let progressMonitor: @convention(c) (j_common_ptr?) -> Void = { common in
    guard let common, common.pointee.is_decompressor != 0, let session = libjpegSession(common) else { return }
    let scans = common.withMemoryRebound(to: jpeg_decompress_struct.self, capacity: 1) { $0.pointee.input_scan_number }
    if scans > maximumProgressiveScans {
        libjpegAbandonWorker(session, text: "JPEG has more than 500 progressive scans (refused as a decoding bomb)")
    }
}

/// The worker: header, limits, colour space, scanlines. libjpeg errors end this thread from `error_exit`.
private let decodeEntry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { raw in
    let job = raw!.assumingMemoryBound(to: JPEGDecodeJob.self)
    let cinfo = job.pointee.cinfo
    let source = job.pointee.source
    source.pointee.next_input_byte = job.pointee.input
    source.pointee.bytes_in_buffer = job.pointee.inputCount
    source.pointee.init_source = sourceInit
    source.pointee.fill_input_buffer = sourceFill
    source.pointee.skip_input_data = sourceSkip
    source.pointee.resync_to_restart = jpeg_resync_to_restart
    source.pointee.term_source = sourceTerminate
    cinfo.pointee.src = source
    job.pointee.progress.pointee.progress_monitor = progressMonitor
    cinfo.pointee.progress = job.pointee.progress

    guard jpeg_read_header(cinfo, 1) == JPEG_HEADER_OK else { job.pointee.tablesOnly = true; return nil }
    let width = Int(cinfo.pointee.image_width), height = Int(cinfo.pointee.image_height)
    (job.pointee.headerWidth, job.pointee.headerHeight) = (width, height)
    job.pointee.headerRead = true
    job.pointee.multipleScans = jpeg_has_multiple_scans(cinfo) != 0
    guard width * height <= job.pointee.maxPixels else { job.pointee.tooLarge = true; return nil }
    job.pointee.sawAdobe = cinfo.pointee.saw_Adobe_marker != 0
    switch cinfo.pointee.jpeg_color_space {
    case JCS_GRAYSCALE, JCS_RGB, JCS_YCbCr: cinfo.pointee.out_color_space = JCS_RGB
    case JCS_CMYK, JCS_YCCK: cinfo.pointee.out_color_space = JCS_CMYK
    default: job.pointee.unsupportedColorSpace = true; return nil
    }
    // libjpeg's defaults (islow DCT, fancy upsampling) are what Pillow and OpenCV use: same pixels.
    guard jpeg_start_decompress(cinfo) != 0 else { return nil }  // only with a suspending source
    let outWidth = Int(cinfo.pointee.output_width), outHeight = Int(cinfo.pointee.output_height)
    let components = Int(cinfo.pointee.output_components)
    let rowBytes = outWidth * components
    guard let output = malloc(rowBytes * outHeight)?.assumingMemoryBound(to: UInt8.self) else {
        libjpegAbandonWorker(decodeSession(cinfo), text: "out of memory for the decoded JPEG")
    }
    (job.pointee.output, job.pointee.width, job.pointee.height, job.pointee.components) =
        (output, outWidth, outHeight, components)
    let rows = job.pointee.rows
    while Int(cinfo.pointee.output_scanline) < outHeight {
        let first = Int(cinfo.pointee.output_scanline)
        let count = min(16, outHeight - first)
        for r in 0..<count { rows[r] = output + (first + r) * rowBytes }
        if jpeg_read_scanlines(cinfo, rows, JDIMENSION(count)) == 0 { break }
        job.pointee.rowsRead = Int(cinfo.pointee.output_scanline)
    }
    job.pointee.allRowsRead = true
    _ = jpeg_finish_decompress(cinfo)
    return nil
}

/// Decodes a JPEG held in memory (format already sniffed). `name` is used in errors.
func decodeJPEG(_ bytes: UnsafeRawBufferPointer, name: String, maxPixels: Int) throws -> RGBImage {
    let header: JPEGHeader
    do {
        header = try JPEGHeader.parse(bytes)
    } catch .truncated(let why) {
        throw MediaError(.truncated, path: name, reason: "truncated JPEG: \(why)")
    } catch .corrupt(let why) {
        throw MediaError(.corrupt, path: name, reason: "corrupt JPEG: \(why)")
    } catch .unsupported(let why) {
        throw MediaError(.unsupportedFormat, path: name, reason: why)
    }
    try checkPixelLimit(width: header.width, height: header.height, maxPixels: maxPixels, name: name)

    let session = makeLibJPEGSession()
    let cinfo = UnsafeMutablePointer<jpeg_decompress_struct>.allocate(capacity: 1)
    cinfo.initialize(to: jpeg_decompress_struct())
    let source = UnsafeMutablePointer<jpeg_source_mgr>.allocate(capacity: 1)
    source.initialize(to: jpeg_source_mgr())
    let progress = UnsafeMutablePointer<jpeg_progress_mgr>.allocate(capacity: 1)
    progress.initialize(to: jpeg_progress_mgr())
    let fakeEOI = UnsafeMutablePointer<UInt8>.allocate(capacity: 2)
    fakeEOI[0] = 0xFF
    fakeEOI[1] = 0xD9
    let rows = UnsafeMutablePointer<JSAMPROW?>.allocate(capacity: 16)
    rows.initialize(repeating: nil, count: 16)
    let job = UnsafeMutablePointer<JPEGDecodeJob>.allocate(capacity: 1)
    job.initialize(to: JPEGDecodeJob(input: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                     inputCount: bytes.count, maxPixels: maxPixels, cinfo: cinfo,
                                     source: source, progress: progress, fakeEOI: fakeEOI, rows: rows))
    defer {
        free(job.pointee.output)
        jpeg_destroy_decompress(cinfo)
        cinfo.deallocate(); source.deallocate(); progress.deallocate(); fakeEOI.deallocate(); rows.deallocate()
        job.deinitialize(count: 1); job.deallocate()
        freeLibJPEGSession(session)
    }
    cinfo.pointee.err = withUnsafeMutablePointer(to: &session.pointee.errorManager) { $0 }
    jpeg_CreateDecompress(cinfo, JPEG_LIB_VERSION, MemoryLayout<jpeg_decompress_struct>.size)
    session.pointee.job = UnsafeMutableRawPointer(job)
    cinfo.pointee.client_data = UnsafeMutableRawPointer(session)

    guard runOnCodecWorkerThread(UnsafeMutableRawPointer(job), decodeEntry) else {
        throw MediaError(.unreadable, path: name, reason: "could not start a JPEG decoding thread")
    }
    let result = job.pointee
    // Running out of data is harmless only when a single-scan image had all its entropy-coded data and merely
    // lacks the final EOI marker (libjpeg's look-ahead reaches the end without starving: no warning follows). For
    // progressive/multi-scan files, only EOI proves that no scan is missing.
    let truncated = result.hitEndBeforeLastRow &&
        (!result.headerRead || result.multipleScans || session.pointee.warningCount > result.warningsAtEnd || !result.allRowsRead)
    if session.pointee.failed {
        let kind: MediaError.Kind = result.hitEndBeforeLastRow ? .truncated : .corrupt
        let what = result.hitEndBeforeLastRow ? "truncated JPEG" : "corrupt JPEG"
        throw MediaError(kind, path: name, reason: "\(what): \(session.pointee.messageText)")
    }
    if result.tooLarge {
        try checkPixelLimit(width: result.headerWidth, height: result.headerHeight, maxPixels: maxPixels, name: name)
    }
    if result.tablesOnly { throw MediaError(.corrupt, path: name, reason: "JPEG holds only tables, no image") }
    if result.unsupportedColorSpace {
        throw MediaError(.unsupportedFormat, path: name, reason: "JPEG colour space is not gray, RGB, YCbCr, CMYK or YCCK")
    }
    guard let output = result.output else {
        throw MediaError(.corrupt, path: name, reason: "corrupt JPEG: libjpeg produced no image")
    }
    if truncated || !result.allRowsRead {
        throw MediaError(.truncated, path: name,
                         reason: "truncated JPEG: data ends before the image is complete (\(result.rowsRead) of \(result.height) rows)")
    }
    let count = result.width * result.height
    let rgb = [UInt8](unsafeUninitializedCapacity: count * 3) { storage, initialized in
        if result.components == 3 {
            storage.baseAddress!.initialize(from: output, count: count * 3)
        } else {
            convertCMYKToRGB(output, count: count, inverted: result.sawAdobe, into: storage.baseAddress!)
        }
        initialized = count * 3
    }
    let image = RGBImage(width: result.width, height: result.height, pixels: rgb)
    return header.orientation == 1 ? image : ImageGeometry.applyEXIFOrientation(image, orientation: header.orientation)
}

/// CMYK → RGB as Pillow does it: R = (255 − K) − (C · (255 − K)) / 255 (rounded), per channel.
/// Adobe applications write CMYK inverted (0 = full ink); an Adobe APP14 marker means the stored values are inverted.
private func convertCMYKToRGB(_ cmyk: UnsafePointer<UInt8>, count: Int, inverted: Bool, into rgb: UnsafeMutablePointer<UInt8>) {
    @inline(__always) func mulDiv255(_ a: Int, _ b: Int) -> Int {
        let t = a * b + 128
        return ((t >> 8) + t) >> 8
    }
    for i in 0..<count {
        var c = Int(cmyk[4 * i]), m = Int(cmyk[4 * i + 1]), y = Int(cmyk[4 * i + 2]), k = Int(cmyk[4 * i + 3])
        if inverted { (c, m, y, k) = (255 - c, 255 - m, 255 - y, 255 - k) }
        let nk = 255 - k
        rgb[3 * i] = UInt8(clamping: nk - mulDiv255(c, nk))
        rgb[3 * i + 1] = UInt8(clamping: nk - mulDiv255(m, nk))
        rgb[3 * i + 2] = UInt8(clamping: nk - mulDiv255(y, nk))
    }
}

/// Throws `.tooLarge` when `width × height` exceeds `maxPixels` (checked from headers, before allocating).
func checkPixelLimit(width: Int, height: Int, maxPixels: Int, name: String) throws {
    let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
    if overflow || pixels > maxPixels {
        throw MediaError(.tooLarge, path: name,
                         reason: "image is too large: \(width)×\(height) exceeds the limit of \(maxPixels) pixels",
                         hint: "raise maxPixels if the file is trusted")
    }
}
