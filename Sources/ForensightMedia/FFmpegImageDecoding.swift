import Foundation

// WebP, BMP, GIF and TIFF are decoded by an `ffmpeg` subprocess (we link no codec for them):
//   ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0:s=x file:<path>
//   ffmpeg -nostdin -v error -i file:<path> -frames:v 1 -f rawvideo -pix_fmt rgb24 -
// The size comes from ffprobe first, so the pixel limit is enforced before ffmpeg decodes anything; the raw output
// must then be exactly width × height × 3 bytes. Both tools run with a timeout, so a pathological file cannot hang.
// (This helper is private to still images; video has its own reader.)

extension ImageDecoder {
    /// How long one ffprobe/ffmpeg call may run before it is killed.
    static let ffmpegTimeoutSeconds = 60.0

    /// Decodes the first frame of any image ffmpeg understands (the route used for WebP, BMP, GIF and TIFF).
    ///
    /// - Parameters:
    ///   - maxPixels: refuse images whose size (from ffprobe) exceeds this.
    ///   - searchPath: colon-separated directories to find `ffmpeg`/`ffprobe` in; when nil, `FORENSIGHT_FFMPEG` /
    ///     `FORENSIGHT_FFPROBE` and then `$PATH` (see `MediaTool`).
    /// - Throws: `MediaError` — `.toolMissing` when ffmpeg or ffprobe is not installed.
    public static func decodeWithFFmpeg(path: String, maxPixels: Int = defaultMaxPixels,
                                        searchPath: String? = nil) throws -> RGBImage {
        let ffprobe = try MediaTool.ffprobe.executableURL(for: path, searchPath: searchPath)
        let ffmpeg = try MediaTool.ffmpeg.executableURL(for: path, searchPath: searchPath)
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            throw MediaError(.notFound, path: path, reason: "no such file")
        }
        if isDirectory.boolValue { throw MediaError(.unreadable, path: path, reason: "is a directory, not an image file") }
        let input = "file:" + path
        let probe = try MediaTool.ffprobe.run(["-v", "error", "-select_streams", "v:0", "-show_entries",
                                               "stream=width,height", "-of", "csv=p=0:s=x", input],
                                              mediaPath: path, executable: ffprobe, timeout: ffmpegTimeoutSeconds)
        let text = String(decoding: probe.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: "\n").first.map { $0.split(separator: "x").compactMap { Int($0) } } ?? []
        guard probe.status == 0, parts.count == 2, parts[0] > 0, parts[1] > 0 else {
            throw MediaError(.corrupt, path: path, reason: "ffprobe cannot read the image: \(probe.errorSummary(or: "no video stream"))")
        }
        let (width, height) = (parts[0], parts[1])
        try checkPixelLimit(width: width, height: height, maxPixels: maxPixels, name: path)
        let decoded = try MediaTool.ffmpeg.run(["-nostdin", "-v", "error", "-i", input, "-frames:v", "1",
                                                "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                                               mediaPath: path, executable: ffmpeg, timeout: ffmpegTimeoutSeconds)
        guard decoded.status == 0 else {
            throw MediaError(.corrupt, path: path, reason: "ffmpeg cannot decode the image: \(decoded.errorSummary(or: "exit status \(decoded.status)"))")
        }
        guard decoded.stdout.count == width * height * 3 else {
            throw MediaError(.corrupt, path: path,
                             reason: "ffmpeg produced \(decoded.stdout.count) bytes, expected \(width * height * 3) for \(width)×\(height)")
        }
        return RGBImage(width: width, height: height, pixels: [UInt8](decoded.stdout))
    }

    /// In-memory variant: the bytes go to a private temporary file that is removed afterwards.
    static func decodeWithFFmpeg(data: [UInt8], name: String, maxPixels: Int) throws -> RGBImage {
        let directory = FileManager.default.temporaryDirectory
        let url = directory.appendingPathComponent("forensight-image-\(UUID().uuidString)")
        do {
            try Data(data).write(to: url, options: [.withoutOverwriting])
        } catch {
            throw MediaError(.unreadable, path: name, reason: "cannot stage the image for ffmpeg: \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            return try decodeWithFFmpeg(path: url.path, maxPixels: maxPixels)
        } catch let error as MediaError {
            throw MediaError(error.kind, path: name, reason: error.reason, hint: error.hint)
        }
    }
}
