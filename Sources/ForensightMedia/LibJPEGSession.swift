import CJPEG
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Why libjpeg runs on its own thread
//
// libjpeg reports a fatal error by calling `error_exit`, which must not return: libjpeg's own code after the call
// assumes control never comes back (returning leaves the decoder half-initialised and the next access may crash).
// C programs leave with `longjmp` to a `setjmp` taken before the call; Swift cannot call `setjmp` (functions that
// return twice are unavailable in Swift), and the brief allows no C shim beyond headers.
//
// The exit we use instead is the thread. Every libjpeg session runs on a short-lived POSIX thread spawned for it;
// our `error_exit` records libjpeg's message in the session and calls `pthread_exit`, which never returns. glibc
// unwinds that thread (C and Swift frames both carry unwind tables; none of them has cleanups to run), the spawning
// thread's `pthread_join` returns, reads the recorded message and calls `jpeg_destroy_*` — libjpeg's documented
// recovery after an error, and legal from any thread. The session memory is allocated by the spawning thread and
// holds only plain values and raw pointers, so abandoning the worker's frames leaks nothing the caller cares about.
//
// libjpeg's *warnings* (corrupt entropy data, premature end of data) do not stop decoding; they are counted, and
// a premature end of data is detected exactly by our own source manager (see `JPEGDecoding.swift`).

/// Plain-value state shared between a libjpeg worker thread and the thread that spawned it.
/// Lives in manually allocated memory (stable address, reachable from libjpeg callbacks via `client_data`).
struct LibJPEGSession {
    /// libjpeg's error manager; `cinfo.err` points here.
    var errorManager = jpeg_error_mgr()
    /// Set by `error_exit` before the worker thread ends.
    var failed = false
    /// libjpeg's formatted fatal message (NUL-terminated, `JMSG_LENGTH_MAX` bytes).
    var message: UnsafeMutablePointer<CChar>
    /// Number of warnings libjpeg emitted, and the first one's text.
    var warningCount = 0
    var firstWarning: UnsafeMutablePointer<CChar>
    /// Task-specific state (a decode or encode job), owned by the caller.
    var job: UnsafeMutableRawPointer?

    static let messageCapacity = Int(JMSG_LENGTH_MAX)

    init() {
        message = .allocate(capacity: LibJPEGSession.messageCapacity)
        message.initialize(repeating: 0, count: LibJPEGSession.messageCapacity)
        firstWarning = .allocate(capacity: LibJPEGSession.messageCapacity)
        firstWarning.initialize(repeating: 0, count: LibJPEGSession.messageCapacity)
    }

    /// Frees the message buffers (the session struct itself is freed by its owner).
    func releaseBuffers() {
        message.deallocate()
        firstWarning.deallocate()
    }

    var messageText: String { String(cString: message) }
    var firstWarningText: String? { warningCount > 0 ? String(cString: firstWarning) : nil }
}

/// Finds the session of a libjpeg object (stored in `client_data`).
@inline(__always)
func libjpegSession(_ cinfo: j_common_ptr?) -> UnsafeMutablePointer<LibJPEGSession>? {
    cinfo?.pointee.client_data?.assumingMemoryBound(to: LibJPEGSession.self)
}

/// Records `text` as the fatal message of the session and ends the worker thread. Never returns.
func libjpegAbandonWorker(_ session: UnsafeMutablePointer<LibJPEGSession>, text: StaticString) -> Never {
    session.pointee.failed = true
    let count = min(text.utf8CodeUnitCount, LibJPEGSession.messageCapacity - 1)
    text.withUTF8Buffer { bytes in
        for i in 0..<count { session.pointee.message[i] = CChar(bitPattern: bytes[i]) }
    }
    session.pointee.message[count] = 0
    pthread_exit(nil)
}

/// `error_exit`: format libjpeg's message into the session, then end the worker thread (see the file comment).
private let libjpegErrorExit: @convention(c) (j_common_ptr?) -> Void = { cinfo in
    guard let cinfo, let session = libjpegSession(cinfo) else { pthread_exit(nil) }
    session.pointee.errorManager.format_message(cinfo, session.pointee.message)
    session.pointee.failed = true
    pthread_exit(nil)
}

/// `emit_message`: count warnings (level -1) and keep the first one's text; ignore trace messages.
private let libjpegEmitMessage: @convention(c) (j_common_ptr?, Int32) -> Void = { cinfo, level in
    guard level < 0, let cinfo, let session = libjpegSession(cinfo) else { return }
    if session.pointee.warningCount == 0 {
        session.pointee.errorManager.format_message(cinfo, session.pointee.firstWarning)
    }
    session.pointee.warningCount += 1
}

/// `output_message`: libjpeg's default prints to stderr; a library must stay quiet.
private let libjpegOutputMessage: @convention(c) (j_common_ptr?) -> Void = { _ in }

/// Allocates a session with libjpeg's standard error manager, its exits replaced by ours.
func makeLibJPEGSession() -> UnsafeMutablePointer<LibJPEGSession> {
    let session = UnsafeMutablePointer<LibJPEGSession>.allocate(capacity: 1)
    session.initialize(to: LibJPEGSession())
    _ = jpeg_std_error(&session.pointee.errorManager)
    session.pointee.errorManager.error_exit = libjpegErrorExit
    session.pointee.errorManager.emit_message = libjpegEmitMessage
    session.pointee.errorManager.output_message = libjpegOutputMessage
    return session
}

func freeLibJPEGSession(_ session: UnsafeMutablePointer<LibJPEGSession>) {
    session.pointee.releaseBuffers()
    session.deinitialize(count: 1)
    session.deallocate()
}

/// Runs `entry(argument)` on a new thread and waits for it; returns false when the thread could not be started.
/// Used for libjpeg and libpng alike (both end the thread from their error callbacks).
///
/// `entry` must touch only memory owned by the caller (the thread may be ended early by `pthread_exit`).
func runOnCodecWorkerThread(_ argument: UnsafeMutableRawPointer,
                        _ entry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?) -> Bool {
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    // The codecs need little stack; 4 MiB leaves ample room for our frames and is only reserved, not committed.
    pthread_attr_setstacksize(&attributes, 4 << 20)
    #if canImport(Glibc)
    var thread = pthread_t()
    guard pthread_create(&thread, &attributes, entry, argument) == 0 else { return false }
    pthread_join(thread, nil)
    #else
    var thread: pthread_t?
    guard pthread_create(&thread, &attributes, entry, argument) == 0, let thread else { return false }
    pthread_join(thread, nil)
    #endif
    return true
}
