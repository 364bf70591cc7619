import Foundation
import Hummingbird
import MultipartKit
import ForensightMedia

/// Receives a `multipart/form-data` request body as it streams in (MultipartKit's parser), writing the part named
/// `file` to the media store chunk by chunk. Nothing is buffered whole: the size limit is enforced on the bytes
/// written so far, and the other parts of the form (at most `formFieldLimit` bytes) are ignored.
struct MultipartUpload {
    /// The client's name for the file (sanitised for display), and the stored bytes.
    struct Received {
        var filename: String
        var media: StoredMedia
        var sniffed: SniffedMedia
    }

    static let formFieldLimit = 64 << 10

    /// The multipart boundary of a `Content-Type` header, or nil when the request is not `multipart/form-data`.
    static func boundary(contentType: String?) -> String? {
        guard let contentType, let type = MediaType(from: contentType), type.isType(.multipartForm),
              let parameter = type.parameter, parameter.name.lowercased() == "boundary" else { return nil }
        var value = parameter.value
        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
        guard (1...70).contains(value.utf8.count) else { return nil }
        return value
    }

    /// Reads the whole body; throws an `APIError` (`malformed_multipart`, `missing_file`, `too_large`, `empty_file`).
    static func receive(_ body: RequestBody, boundary: String, store: MediaStore, limit: Int) async throws -> Received {
        let parser = MultipartParser(boundary: boundary)
        let state = ParseState()
        parser.onHeader = { name, value in state.header(name: name, value: value) }
        parser.onBody = { buffer in state.body(&buffer) }
        parser.onPartComplete = { state.partComplete() }
        state.writer = try store.beginUpload(limit: limit)
        do {
            for try await chunk in body {
                do { try parser.execute(chunk) } catch { throw APIError(.badRequest, "malformed_multipart", "the multipart body is malformed") }
                if let error = state.error { throw error }
            }
        } catch {
            state.writer?.abandon()
            throw error
        }
        guard state.fileComplete, let writer = state.writer else {
            state.writer?.abandon()
            if state.fileStarted { throw APIError(.badRequest, "malformed_multipart", "the multipart body ends inside the file part") }
            throw APIError(.badRequest, "missing_file", "the form has no part named `file`")
        }
        guard writer.size > 0 else { writer.abandon(); throw APIError(.badRequest, "empty_file", "the uploaded file is empty") }
        guard let sniffed = SniffedMedia.sniff(writer.head) else {
            writer.abandon()
            throw APIError(.unsupportedMediaType, "unsupported_type", "the file is neither an image nor a video this server can read")
        }
        let media: StoredMedia
        do { media = try writer.finish() } catch { throw APIError(.internalServerError, "storage_failed", "the upload could not be stored") }
        return Received(filename: state.filename, media: media, sniffed: sniffed)
    }

    /// What the parser callbacks learn, part by part.
    private final class ParseState {
        var writer: UploadWriter?
        var error: APIError?
        var filename = "upload"
        var fileStarted = false
        var fileComplete = false
        private var inFilePart = false
        private var otherBytes = 0
        private var headers: [(String, String)] = []
        private var partStarted = false

        func header(name: String, value: String) {
            if partStarted { (headers, partStarted) = ([], false) }
            headers.append((name.lowercased(), value))
            if name.lowercased() == "content-disposition" {
                let fields = Self.dispositionFields(value)
                if fields["name"] == "file" && !fileComplete {
                    inFilePart = true
                    fileStarted = true
                    if let name = fields["filename"] { filename = Self.displayName(name) }
                }
            }
        }

        func body(_ buffer: inout ByteBuffer) {
            partStarted = true
            guard error == nil else { return }
            if inFilePart {
                do { try writer?.write(buffer) } catch is UploadWriter.TooLarge {
                    writer = nil
                    error = APIError(.contentTooLarge, "too_large", "the upload is larger than this server accepts")
                } catch {
                    self.error = APIError(.internalServerError, "storage_failed", "the upload could not be stored")
                }
            } else {
                otherBytes += buffer.readableBytes
                if otherBytes > MultipartUpload.formFieldLimit {
                    error = APIError(.contentTooLarge, "too_large", "the form's other fields are too large")
                }
            }
            buffer.moveReaderIndex(to: buffer.writerIndex)
        }

        func partComplete() {
            if inFilePart { fileComplete = true; inFilePart = false }
            (headers, partStarted) = ([], true)
        }

        /// `form-data; name="file"; filename="clip.mp4"` → ["name": "file", "filename": "clip.mp4"].
        static func dispositionFields(_ value: String) -> [String: String] {
            var fields: [String: String] = [:]
            for piece in value.split(separator: ";").dropFirst() {
                let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pair.count == 2 else { continue }
                var v = pair[1]
                if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
                fields[pair[0].lowercased()] = v
            }
            return fields
        }

        /// The last path component, without control characters, at most 200 characters ("upload" when nothing is left).
        static func displayName(_ raw: String) -> String {
            let last = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
            let clean = String(String.UnicodeScalarView(last.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }).prefix(200))
            return clean.isEmpty || clean == "." || clean == ".." ? "upload" : clean
        }
    }
}
