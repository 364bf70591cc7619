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
    ///   - searchPath: colon-separated directories to find `ffmpeg`/`ffprobe` in; `$PATH` when nil.
    /// - Throws: `MediaError` — `.toolMissing` when ffmpeg or ffprobe is not installed.
    public static func decodeWithFFmpeg(path: String, maxPixels: Int = defaultMaxPixels,
                                        searchPath: String? = nil) throws -> RGBImage {
        let ffprobe = try locateImageTool("ffprobe", searchPath: searchPath, name: path)
        let ffmpeg = try locateImageTool("ffmpeg", searchPath: searchPath, name: path)
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            throw MediaError(.notFound, path: path, reason: "no such file")
        }
        if isDirectory.boolValue { throw MediaError(.unreadable, path: path, reason: "is a directory, not an image file") }
        let input = "file:" + path
        let probe = try runImageTool(ffprobe, ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                               "stream=width,height", "-of", "csv=p=0:s=x", input], name: path)
        let text = String(decoding: probe.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: "\n").first.map { $0.split(separator: "x").compactMap { Int($0) } } ?? []
        guard probe.status == 0, parts.count == 2, parts[0] > 0, parts[1] > 0 else {
            throw MediaError(.corrupt, path: path, reason: "ffprobe cannot read the image: \(probe.errorSummary(or: "no video stream"))")
        }
        let (width, height) = (parts[0], parts[1])
        try checkPixelLimit(width: width, height: height, maxPixels: maxPixels, name: path)
        let decoded = try runImageTool(ffmpeg, ["-nostdin", "-v", "error", "-i", input, "-frames:v", "1",
                                                "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], name: path)
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

/// What one tool run produced.
private struct ImageToolOutput {
    var status: Int32
    var stdout: Data
    var stderr: Data

    /// The first line ffmpeg printed on stderr, or `fallback`.
    func errorSummary(or fallback: String) -> String {
        let line = String(decoding: stderr, as: UTF8.self).split(separator: "\n").first.map(String.init)
        return line?.trimmingCharacters(in: .whitespaces) ?? fallback
    }
}

private func locateImageTool(_ tool: String, searchPath: String?, name: String) throws -> String {
    let path = searchPath ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") where !directory.isEmpty {
        let candidate = directory.hasSuffix("/") ? "\(directory)\(tool)" : "\(directory)/\(tool)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw MediaError(.toolMissing, path: name, reason: "\(tool) is needed to decode this image format but was not found",
                     hint: "install ffmpeg: apt-get install ffmpeg")
}

/// Runs `executable` with `arguments`, collecting stdout and stderr concurrently (so neither pipe can fill and
/// block the child), and kills the child after `ImageDecoder.ffmpegTimeoutSeconds`.
private func runImageTool(_ executable: String, _ arguments: [String], name: String) throws -> ImageToolOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let stdoutPipe = Pipe(), stderrPipe = Pipe()
    process.standardOutput = stdoutPipe
    process.standardError = stderrPipe
    process.standardInput = FileHandle.nullDevice
    do {
        try process.run()
    } catch {
        throw MediaError(.toolMissing, path: name, reason: "cannot run \(executable): \(error.localizedDescription)",
                         hint: "install ffmpeg: apt-get install ffmpeg")
    }
    let stderrBox = ImageToolStderr()
    let stderrDone = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        stderrBox.data = stderrPipe.fileHandleForReading.readDataToEndOfFile()
        stderrDone.signal()
    }
    let timedOut = ImageToolFlag()
    let watchdog = DispatchWorkItem {
        guard process.isRunning else { return }
        timedOut.value = true
        process.terminate()
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + ImageDecoder.ffmpegTimeoutSeconds, execute: watchdog)
    let stdout = stdoutPipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    watchdog.cancel()
    stderrDone.wait()
    if timedOut.value {
        throw MediaError(.corrupt, path: name,
                         reason: "\(URL(fileURLWithPath: executable).lastPathComponent) took longer than \(Int(ImageDecoder.ffmpegTimeoutSeconds)) s and was stopped")
    }
    return ImageToolOutput(status: process.terminationStatus, stdout: stdout, stderr: stderrBox.data)
}

private final class ImageToolStderr: @unchecked Sendable { var data = Data() }
private final class ImageToolFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored = false
    var value: Bool {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
