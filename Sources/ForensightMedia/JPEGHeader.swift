/// What the marker segments before the first scan of a JPEG say, read without libjpeg.
///
/// Reading the header in Swift first lets the decoder refuse decompression bombs before anything is allocated,
/// tell a truncated header from a corrupt one, and find the EXIF orientation (APP1 "Exif", TIFF tag 0x0112).
struct JPEGHeader: Equatable {
    var width = 0
    var height = 0
    var components = 0
    var bitsPerSample = 8
    var progressive = false
    /// EXIF orientation 1...8 (1 when absent or unreadable).
    var orientation = 1
    /// Set when an Adobe APP14 segment was seen (its colour transform byte).
    var adobeTransform: UInt8?

    /// Why a header could not be read.
    enum Problem: Error, Equatable {
        case truncated(String)
        case corrupt(String)
        case unsupported(String)
    }

    /// Scans markers from SOI up to the first SOS.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(Problem) -> JPEGHeader {
        guard bytes.count >= 2, bytes[0] == 0xFF, bytes[1] == 0xD8 else {
            throw .corrupt("no JPEG start-of-image marker")
        }
        var header = JPEGHeader()
        var sawFrame = false
        var offset = 2
        while true {
            // Markers are 0xFF followed by a code; any number of 0xFF fill bytes may precede the code.
            guard offset < bytes.count else { throw .truncated("JPEG header ends before the image data") }
            guard bytes[offset] == 0xFF else {
                throw .corrupt("JPEG header has garbage where a marker should be (offset \(offset))")
            }
            while offset < bytes.count && bytes[offset] == 0xFF { offset += 1 }
            guard offset < bytes.count else { throw .truncated("JPEG header ends before the image data") }
            let code = bytes[offset]
            offset += 1
            switch code {
            case 0xD8, 0x01, 0xD0...0xD7:
                continue  // stray SOI, TEM, RSTn: no payload
            case 0xD9:
                throw .corrupt("JPEG ends (EOI) before any image data")
            default:
                break
            }
            guard offset + 2 <= bytes.count else { throw .truncated("JPEG header ends inside a segment length") }
            let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            guard length >= 2 else { throw .corrupt("JPEG segment 0xFF\(hex(code)) has invalid length \(length)") }
            let payloadStart = offset + 2
            let payloadEnd = offset + length
            guard payloadEnd <= bytes.count else {
                throw .truncated("JPEG header ends inside segment 0xFF\(hex(code))")
            }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<payloadEnd])
            switch code {
            case 0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
                try header.readFrame(code: code, payload)
                sawFrame = true
            case 0xE1:
                if let orientation = exifOrientation(payload) { header.orientation = orientation }
            case 0xEE:
                if payload.count >= 12, payload.starts(with: Array("Adobe".utf8)) { header.adobeTransform = payload[11] }
            case 0xDA:
                guard sawFrame else { throw .corrupt("JPEG scan starts before any frame header (SOF)") }
                return header
            default:
                break
            }
            offset = payloadEnd
        }
    }

    private mutating func readFrame(code: UInt8, _ p: UnsafeRawBufferPointer) throws(Problem) {
        guard p.count >= 6 else { throw .corrupt("JPEG frame header is too short") }
        bitsPerSample = Int(p[0])
        height = Int(p[1]) << 8 | Int(p[2])
        width = Int(p[3]) << 8 | Int(p[4])
        components = Int(p[5])
        progressive = code == 0xC2 || code == 0xC6 || code == 0xCA || code == 0xCE
        if code == 0xC3 || code == 0xC7 || code == 0xCB || code == 0xCF {
            throw .unsupported("lossless JPEG is not supported")
        }
        guard bitsPerSample == 8 else { throw .unsupported("\(bitsPerSample)-bit JPEG is not supported (8-bit only)") }
        guard width > 0 else { throw .corrupt("JPEG frame header gives width 0") }
        // Height 0 means "defined later by a DNL marker", which libjpeg does not support either.
        guard height > 0 else { throw .unsupported("JPEG with height defined by DNL is not supported") }
        guard [1, 3, 4].contains(components) else {
            throw .unsupported("JPEG with \(components) colour components is not supported")
        }
        guard p.count >= 6 + 3 * components else { throw .corrupt("JPEG frame header is too short") }
    }
}

private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

/// The orientation (1...8) in an APP1 payload "Exif\0\0" + TIFF, or nil when absent or malformed.
///
/// TIFF layout: byte order "II" (little endian) or "MM" (big endian), the number 42, the offset of IFD0; IFD0 is a
/// 16-bit entry count followed by 12-byte entries (tag, type, count, value). Tag 0x0112 (Orientation) is a SHORT.
func exifOrientation(_ payload: UnsafeRawBufferPointer) -> Int? {
    guard payload.count >= 14, payload.starts(with: [0x45, 0x78, 0x69, 0x66, 0, 0]) else { return nil }
    let tiff = UnsafeRawBufferPointer(rebasing: payload[6...])
    let littleEndian: Bool
    switch (tiff[0], tiff[1]) {
    case (0x49, 0x49): littleEndian = true
    case (0x4D, 0x4D): littleEndian = false
    default: return nil
    }
    func u16(_ at: Int) -> Int? {
        guard at >= 0, at + 2 <= tiff.count else { return nil }
        return littleEndian ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
    }
    func u32(_ at: Int) -> Int? {
        guard let a = u16(at), let b = u16(at + 2) else { return nil }
        return littleEndian ? a | b << 16 : a << 16 | b
    }
    guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
    for entry in 0..<count {
        let at = ifd + 2 + 12 * entry
        guard let tag = u16(at) else { return nil }
        guard tag == 0x0112 else { continue }
        guard u16(at + 2) == 3, let value = u16(at + 8), (1...8).contains(value) else { return nil }
        return value
    }
    return nil
}
