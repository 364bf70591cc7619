import Foundation

/// A video track's frame timestamps and keyframes read straight from an MP4 or QuickTime file's sample table
/// (ISO/IEC 14496-12: `stts`, `ctts`, `stss`, `mdhd`, `elst`), the same index `ffprobe` lists packet by packet.
///
/// Why our own reader: listing the packets of a long file with ffprobe demuxes all of it (about 1 s for 10 minutes
/// of FF++ video, and `detect` needs the index before it can seek), while the sample table is a few hundred KB at
/// one place in the file. This reads only box headers and the `moov` box.
///
/// It answers only where its timestamps are certainly ffmpeg's: one video track addressed as ffprobe numbers streams
/// (tracks in file order), at most one edit that shifts the whole track (`media_time` ≥ 0, rate 1, not cutting its
/// end), no fragments, and no frame placed before the edit (ffmpeg flags those as discarded and moves their
/// timestamps in ways a table alone does not tell). Anything else gives nil and the caller asks ffprobe.
/// `MP4SampleTableTests` compares both on H.264, HEVC, variable-frame-rate, QuickTime and FF++ files.
public enum MP4SampleTable {
    /// The largest `moov` box read (a 1-hour 25-fps file's is about 1.5 MB).
    static let moovLimit = 64 << 20

    /// The frame index of stream `stream` of the MP4/MOV file at `path`, or nil when the file is not such a file or
    /// the table is one this reader leaves to ffprobe.
    public static func frameIndex(path: String, stream: Int) -> VideoFrameIndex? {
        guard let moov = readMoov(path: path), let track = Track(moov: moov, stream: stream) else { return nil }
        return track.index()
    }

    /// The `moov` box's payload, found by walking the top-level boxes (it may follow `mdat`).
    static func readMoov(path: String) -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let fileSize = try? handle.seekToEnd() else { return nil }
        var offset: UInt64 = 0, first = true
        while offset + 8 <= fileSize {
            guard (try? handle.seek(toOffset: offset)) != nil, let head = try? handle.read(upToCount: 16), head.count >= 8 else { return nil }
            let bytes = [UInt8](head)
            var size = UInt64(be32(bytes, 0)), header: UInt64 = 8
            let type = String(decoding: bytes[4..<8], as: UTF8.self)
            if first, type != "ftyp", type != "moov", type != "wide", type != "free", type != "mdat" { return nil }
            first = false
            if size == 1 {
                guard bytes.count >= 16 else { return nil }
                size = UInt64(be32(bytes, 8)) << 32 | UInt64(be32(bytes, 12))
                header = 16
            } else if size == 0 {
                size = fileSize - offset
            }
            guard size >= header, size <= fileSize - offset else { return nil }
            if type == "moov" {
                guard size - header <= UInt64(moovLimit), (try? handle.seek(toOffset: offset + header)) != nil,
                      let payload = try? handle.read(upToCount: Int(size - header)), payload.count == Int(size - header) else { return nil }
                return [UInt8](payload)
            }
            if type == "moof" { return nil }
            offset += size
        }
        return nil
    }

    /// The boxes directly inside `bytes[range]`: type and payload range.
    static func children(_ bytes: [UInt8], _ range: Range<Int>) -> [(type: String, body: Range<Int>)]? {
        var out: [(String, Range<Int>)] = [], offset = range.lowerBound
        while offset + 8 <= range.upperBound {
            var size = Int(be32(bytes, offset)), header = 8
            if size == 1 {
                guard offset + 16 <= range.upperBound,
                      let large = Int(exactly: UInt64(be32(bytes, offset + 8)) << 32 | UInt64(be32(bytes, offset + 12))) else { return nil }
                size = large
                header = 16
            } else if size == 0 {
                size = range.upperBound - offset
            }
            guard size >= header, size <= range.upperBound - offset else { return nil }
            out.append((String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self), (offset + header)..<(offset + size)))
            offset += size
        }
        return out
    }

    static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    static func be64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(be32(b, i)) << 32 | UInt64(be32(b, i + 4)) }

    /// The boxes of one track that the index needs (payloads, after a full box's version and flags where it has them).
    struct Track {
        var bytes: [UInt8]
        var movieTimescale: UInt32
        var boxes: [String: Range<Int>] = [:]

        init?(moov: [UInt8], stream: Int) {
            guard let top = MP4SampleTable.children(moov, 0..<moov.count), !top.contains(where: { $0.type == "mvex" }),
                  let mvhd = top.first(where: { $0.type == "mvhd" })?.body, mvhd.count >= 24 else { return nil }
            let traks = top.filter { $0.type == "trak" }
            guard stream >= 0, stream < traks.count else { return nil }
            bytes = moov
            movieTimescale = MP4SampleTable.be32(moov, mvhd.lowerBound + (moov[mvhd.lowerBound] == 1 ? 20 : 12))
            guard collect(traks[stream].body), let hdlr = boxes["hdlr"], hdlr.count >= 12,
                  String(decoding: bytes[(hdlr.lowerBound + 8)..<(hdlr.lowerBound + 12)], as: UTF8.self) == "vide" else { return nil }
        }

        /// Records the leaf boxes under `range`, descending into the containers on the way to the sample table.
        private mutating func collect(_ range: Range<Int>) -> Bool {
            guard let list = MP4SampleTable.children(bytes, range) else { return false }
            for box in list {
                if ["edts", "mdia", "minf", "stbl"].contains(box.type) {
                    guard collect(box.body) else { return false }
                } else if boxes[box.type] == nil {
                    boxes[box.type] = box.body
                }
            }
            return true
        }

        /// Entries of a full box whose payload is version/flags, a 32-bit count, then `count` records of `width` bytes.
        func table(_ type: String, width: Int) -> (version: UInt8, start: Int, count: Int)? {
            guard let r = boxes[type], r.count >= 8 else { return nil }
            let count = Int(MP4SampleTable.be32(bytes, r.lowerBound + 4))
            guard count >= 0, r.count >= 8 + count * width else { return nil }
            return (bytes[r.lowerBound], r.lowerBound + 8, count)
        }

        func index() -> VideoFrameIndex? {
            guard let mdhd = boxes["mdhd"], mdhd.count >= 24 else { return nil }
            let timescale = MP4SampleTable.be32(bytes, mdhd.lowerBound + (bytes[mdhd.lowerBound] == 1 ? 20 : 12))
            guard timescale > 0, movieTimescale > 0, let stts = table("stts", width: 8) else { return nil }
            // Decode times: runs of (count, delta) from 0.
            var dts: [Int64] = [], t: Int64 = 0, lastDelta: Int64 = 0
            for e in 0..<stts.count {
                let count = Int(MP4SampleTable.be32(bytes, stts.start + 8 * e)), delta = Int64(MP4SampleTable.be32(bytes, stts.start + 8 * e + 4))
                guard count >= 0, dts.count + count <= 10_000_000 else { return nil }
                for _ in 0..<count { dts.append(t); t += delta }
                if count > 0 { lastDelta = delta }
            }
            guard !dts.isEmpty else { return nil }
            if let stsz = boxes["stsz"], stsz.count >= 12 { guard Int(MP4SampleTable.be32(bytes, stsz.lowerBound + 8)) == dts.count else { return nil } }
            // Composition offsets (signed, as ffmpeg reads them in both versions).
            var pts = dts
            if let ctts = table("ctts", width: 8) {
                var k = 0
                for e in 0..<ctts.count {
                    let count = Int(MP4SampleTable.be32(bytes, ctts.start + 8 * e))
                    let offset = Int64(Int32(bitPattern: MP4SampleTable.be32(bytes, ctts.start + 8 * e + 4)))
                    guard count >= 0, k + count <= pts.count else { return nil }
                    for _ in 0..<count { pts[k] += offset; k += 1 }
                }
                guard k == pts.count else { return nil }
            }
            // One edit shifting the whole track, or none.
            if let edits = boxes["elst"] {
                guard edits.count >= 8, let elst = table("elst", width: bytes[edits.lowerBound] == 1 ? 20 : 12), elst.count == 1 else { return nil }
                let v1 = elst.version == 1
                let duration = v1 ? MP4SampleTable.be64(bytes, elst.start) : UInt64(MP4SampleTable.be32(bytes, elst.start))
                let mediaTime = v1 ? Int64(bitPattern: MP4SampleTable.be64(bytes, elst.start + 8))
                    : Int64(Int32(bitPattern: MP4SampleTable.be32(bytes, elst.start + 4)))
                let rate = MP4SampleTable.be32(bytes, elst.start + (v1 ? 16 : 8))
                guard mediaTime >= 0, rate == 0x0001_0000 else { return nil }
                for i in pts.indices { pts[i] -= mediaTime }
                // The edit must reach the end of the media (a duration of 0 means the whole track).
                let end = (pts.max() ?? 0) + lastDelta
                let edited = Double(duration) * Double(timescale) / Double(movieTimescale)
                guard duration == 0 || edited + Double(lastDelta) >= Double(end) else { return nil }
            }
            guard pts.allSatisfy({ $0 >= 0 }) else { return nil }
            var keys: [Bool]
            if let stss = table("stss", width: 4) {
                keys = [Bool](repeating: false, count: pts.count)
                for e in 0..<stss.count {
                    let sample = Int(MP4SampleTable.be32(bytes, stss.start + 4 * e))
                    guard sample >= 1, sample <= pts.count else { return nil }
                    keys[sample - 1] = true
                }
            } else {
                keys = [Bool](repeating: true, count: pts.count)
            }
            let packets = zip(pts, keys).map { (pts: Optional($0), key: $1) }
            return try? VideoFrameIndex.make(timeBase: (1, Int64(timescale)), packets: packets).get()
        }
    }
}
