import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One analysis child (Foundation `Process`): its progress lines are read from stdout, the last line of its stderr
/// is kept for the failure reason (the rest goes to the server's stderr), and `kill` ends it with its process group.
final class ChildProcess: @unchecked Sendable {
    /// How the child ended.
    struct Exit: Sendable {
        var reason: Process.TerminationReason
        /// Exit status, or the signal number when `reason` is `.uncaughtSignal`.
        var status: Int32
        /// Killed at the deadline (rather than cancelled or dead on its own).
        var timedOut: Bool
        /// The Swift runtime's `Fatal error` line the child wrote to stderr, else its last non-empty line (at most
        /// 300 characters).
        var lastError: String?
    }

    private let process = Process()
    private let progress: @Sendable (Int, Int?) -> Void
    private let lock = NSLock()
    private var timedOut = false
    private var lastError: String?
    private var trapMessage: String?
    private var ended: Exit?
    private var waiter: CheckedContinuation<Exit, Never>?
    private let readersDone = DispatchGroup()

    init(arguments: [String], executable: String, environment: [String: String],
         progress: @escaping @Sendable (Int, Int?) -> Void) {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        self.progress = progress
    }

    /// The child's process id (valid once started).
    var pid: Int32 { process.processIdentifier }

    /// Starts the child and the threads that read its output.
    func start() throws {
        let (out, err) = (Pipe(), Pipe())
        (process.standardOutput, process.standardError, process.standardInput) = (out, err, FileHandle.nullDevice)
        process.terminationHandler = { [weak self] process in self?.terminated(process) }
        // Entered before the start: a child may end before `run` returns.
        readersDone.enter()
        readersDone.enter()
        do { try process.run() } catch {
            readersDone.leave()
            readersDone.leave()
            throw error
        }
        Self.readLines(out.fileHandleForReading) { [self] line in
            let words = line.split(separator: " ")
            if words.count == 3, words[0] == "progress", let done = Int(words[1]), let planned = Int(words[2]) {
                progress(done, planned < 0 ? nil : planned)
            }
        } end: { [self] in readersDone.leave() }
        Self.readLines(err.fileHandleForReading) { [self] line in
            FileHandle.standardError.write(Data("[analysis \(pid)] \(line)\n".utf8))
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            // A Swift runtime trap's message ("…: Fatal error: …") says more than the lines that may follow it.
            if !trimmed.isEmpty {
                lock.withLock {
                    if trimmed.contains("Fatal error:") { trapMessage = String(trimmed.prefix(300)) }
                    lastError = String(trimmed.prefix(300))
                }
            }
        } end: { [self] in readersDone.leave() }
    }

    /// Awaits the end of the child (and of its output).
    func exit() async -> Exit {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let ended {
                lock.unlock()
                continuation.resume(returning: ended)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }

    /// Sends SIGKILL to the child's process group (it makes its own, `forensight analyze-job`) and to the child.
    func kill(timedOut: Bool) {
        lock.withLock {
            guard ended == nil else { return }
            if timedOut { self.timedOut = true }
        }
        let pid = process.processIdentifier
        guard pid > 0 else { return }
        _ = Glibc.kill(-pid, SIGKILL)
        _ = Glibc.kill(pid, SIGKILL)
    }

    private func terminated(_ process: Process) {
        // The pipes close once every process holding them has gone: wait (briefly) for the last stderr line.
        _ = readersDone.wait(timeout: .now() + 2)
        lock.lock()
        let exit = Exit(reason: process.terminationReason, status: process.terminationStatus, timedOut: timedOut, lastError: trapMessage ?? lastError)
        ended = exit
        let waiter = waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(returning: exit)
    }

    /// Reads `handle` line by line on a thread of its own until end of file.
    private static func readLines(_ handle: FileHandle, _ line: @escaping @Sendable (String) -> Void, end: @escaping @Sendable () -> Void) {
        let thread = Thread {
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    line(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
                if pending.count > 1 << 16 { pending.removeAll() }
            }
            if !pending.isEmpty { line(String(decoding: pending, as: UTF8.self)) }
            try? handle.close()
            end()
        }
        thread.start()
    }
}
