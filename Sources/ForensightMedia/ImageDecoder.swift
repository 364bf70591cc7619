#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Still-image container formats, as recognised from their first bytes ("magic numbers"), never from the extension.
public enum ImageFormat: String, Sendable, CaseIterable {
    /// JPEG/JFIF/EXIF (FF D8 FF), decoded by libjpeg-turbo.
    case jpeg
    /// PNG (89 "PNG" 0D 0A 1A 0A), decoded by libpng.
    case png
    /// WebP ("RIFF" … "WEBP"), BMP ("BM"), GIF ("GIF87a"/"GIF89a") and TIFF ("II*\0"/"MM\0*"): decoded by ffmpeg.
    case webp, bmp, gif, tiff

    /// The leading bytes that identify each format (WebP also needs "WEBP" at offset 8, checked separately).
    fileprivate var signature: [UInt8] {
        switch self {
        case .jpeg: return [0xFF, 0xD8, 0xFF]
        case .png: return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        case .webp: return Array("RIFF".utf8)
        case .bmp: return Array("BM".utf8)
        case .gif: return Array("GIF8".utf8)
        case .tiff: return [0x49, 0x49, 0x2A, 0x00]
        }
    }

    /// The format of `bytes`, or nil when no known signature matches.
    public static func sniff<C: Collection<UInt8>>(_ bytes: C) -> ImageFormat? {
        let head = Array(bytes.prefix(16))
        if head.starts(with: [0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }  // big-endian TIFF
        for format in allCases where head.starts(with: format.signature) {
            if format == .webp { return head.count >= 12 && Array(head[8..<12]) == Array("WEBP".utf8) ? .webp : nil }
            if format == .gif { return head.count >= 6 && (head[4] == 0x37 || head[4] == 0x39) && head[5] == 0x61 ? .gif : nil }
            return format
        }
        return nil
    }

    /// Whether `bytes` are a proper prefix of a signature: a file cut off inside its first bytes.
    fileprivate static func isSignaturePrefix(_ bytes: [UInt8]) -> Bool {
        !bytes.isEmpty && allCases.contains { $0.signature.count > bytes.count && $0.signature.starts(with: bytes) }
    }
}

/// Decodes still images to 8-bit RGB.
///
/// JPEG uses libjpeg-turbo, PNG uses libpng; WebP, BMP, GIF (first frame) and TIFF go through an `ffmpeg`
/// subprocess. Every failure is a `MediaError` with a kind a program can branch on:
///
/// | input | kind |
/// |---|---|
/// | missing path | `.notFound` |
/// | permission denied, a directory, a FIFO/device | `.unreadable` |
/// | zero bytes | `.empty` |
/// | cut-off JPEG/PNG | `.truncated` |
/// | undecodable JPEG/PNG data | `.corrupt` |
/// | unknown content (e.g. text), 12-bit/lossless JPEG | `.unsupportedFormat` |
/// | header larger than `maxPixels` (checked before allocating) | `.tooLarge` |
/// | WebP/BMP/GIF/TIFF without ffmpeg | `.toolMissing` |
///
/// JPEG specifics: grayscale expands to RGB; CMYK/YCCK convert to RGB (inverted when an Adobe APP14 marker is
/// present, as Adobe writes them); progressive is supported; the EXIF orientation (APP1, tag 0x0112, either byte
/// order) is applied so the result is upright. Corrupt entropy-coded data that libjpeg can resynchronise past is
/// only a warning in libjpeg and is accepted (as Pillow and OpenCV do); data that ends before the last row is
/// `.truncated` (a single-scan JPEG missing only its final EOI marker is complete and accepted). PNG: every colour
/// type, bit depth and interlacing; alpha/tRNS are dropped, 16-bit keeps the high byte (as Pillow and OpenCV).
/// libjpeg and libpng signal fatal errors with longjmp, which Swift cannot catch: both run on a short-lived worker
/// thread whose error callback ends it (see `LibJPEGSession.swift`).
public enum ImageDecoder {
    /// Default decompression-bomb limit: 100 megapixels.
    public static let defaultMaxPixels = 100_000_000

    /// Decodes the image file at `path`.
    /// - Parameter maxPixels: refuse images whose header declares more pixels than this (`.tooLarge`).
    public static func decode(path: String, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        let bytes = try readImageFile(path)
        guard let format = ImageFormat.sniff(bytes) else { throw unrecognised(bytes, name: path) }
        switch format {
        case .jpeg, .png:
            return try decode(bytes, format: format, name: path, maxPixels: maxPixels)
        case .webp, .bmp, .gif, .tiff:
            return try decodeWithFFmpeg(path: path, maxPixels: maxPixels)
        }
    }

    /// Decodes an image held in memory; `name` (e.g. the original file name) appears in errors.
    public static func decode(data: [UInt8], name: String = "<memory>", maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        guard !data.isEmpty else { throw MediaError(.empty, path: name, reason: "empty data (0 bytes)") }
        guard let format = ImageFormat.sniff(data) else { throw unrecognised(data, name: name) }
        switch format {
        case .jpeg, .png:
            return try decode(data, format: format, name: name, maxPixels: maxPixels)
        case .webp, .bmp, .gif, .tiff:
            return try decodeWithFFmpeg(data: data, name: name, maxPixels: maxPixels)
        }
    }

    private static func decode(_ bytes: [UInt8], format: ImageFormat, name: String, maxPixels: Int) throws -> RGBImage {
        try bytes.withUnsafeBytes { raw in
            format == .jpeg ? try decodeJPEG(raw, name: name, maxPixels: maxPixels)
                            : try decodePNG(raw, name: name, maxPixels: maxPixels)
        }
    }

    private static func unrecognised(_ bytes: [UInt8], name: String) -> MediaError {
        if ImageFormat.isSignaturePrefix(bytes) {
            return MediaError(.truncated, path: name, reason: "truncated image: only \(bytes.count) bytes")
        }
        let printable = bytes.prefix(64).allSatisfy { $0 == 9 || $0 == 10 || $0 == 13 || (32...126).contains($0) }
        let what = printable ? "looks like text" : "unrecognised leading bytes"
        return MediaError(.unsupportedFormat, path: name,
                          reason: "not a supported image (\(what)); JPEG, PNG, WebP, BMP, GIF and TIFF are supported")
    }
}

/// Reads a whole regular file, mapping every failure to the `MediaError` kind the decoder documents.
/// Opens non-blocking so that a FIFO cannot hang the caller, then refuses anything but a regular file.
func readImageFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    if fd < 0 {
        let code = errno
        switch code {
        case ENOENT, ENOTDIR:
            throw MediaError(.notFound, path: path, reason: "no such file")
        case EACCES, EPERM:
            throw MediaError(.unreadable, path: path, reason: "permission denied", hint: "check the file's permissions")
        default:
            throw MediaError(.unreadable, path: path, reason: "cannot open: \(String(cString: strerror(code)))")
        }
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
        throw MediaError(.unreadable, path: path, reason: "cannot stat: \(String(cString: strerror(errno)))")
    }
    switch info.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw MediaError(.unreadable, path: path, reason: "is a directory, not an image file")
    default: throw MediaError(.unreadable, path: path, reason: "not a regular file")
    }
    let size = Int(info.st_size)
    guard size > 0 else { throw MediaError(.empty, path: path, reason: "empty file (0 bytes)") }
    var bytes = [UInt8](repeating: 0, count: size)
    var filled = 0
    let failure: Int32? = bytes.withUnsafeMutableBytes { buffer in
        while filled < size {
            let n = read(fd, buffer.baseAddress! + filled, size - filled)
            if n > 0 { filled += n; continue }
            if n == 0 { return nil }  // the file shrank while we read it
            if errno == EINTR { continue }
            return errno
        }
        return nil
    }
    if let failure {
        throw MediaError(.unreadable, path: path, reason: "read error: \(String(cString: strerror(failure)))")
    }
    if filled == 0 { throw MediaError(.empty, path: path, reason: "empty file (0 bytes)") }
    if filled < size { bytes.removeLast(size - filled) }
    return bytes
}
