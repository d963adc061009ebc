import AmalgamCore
import CAmalgamShims
import AmalgamIO
import AmalgamKernels
import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-level concerns of the CLI: error rendering, interrupt cleanup, core count.
enum AmalgamRuntime {
    static var availableCores: Int { Parallel.availableCores }

    /// Runs `body`, turning Amalgam errors into one `error:` line (and a `hint:` line) on stderr
    /// and exit code 1.
    static func run(_ body: () throws -> Void) throws {
        tuneAllocator()
        installInterruptHandler()
        do {
            try body()
        } catch let error as any AmalgamDiagnostic {
            printError(render(error))
            throw ExitCode.failure
        } catch let error as ExitCode {
            throw error
        } catch let error as CleanExit {
            throw error
        } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
    }

    /// `error: <description>` and, when there is one, `hint: <hint>`.
    static func render(_ error: any AmalgamDiagnostic) -> String {
        var text = "error: \(error.description)"
        if let hint = error.hint { text += "\nhint: \(hint)" }
        return text
    }

    static func printError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// glibc returns every freed block above 128 KiB (growing to 32 MiB) to the kernel, so chunked
    /// merges that free and reallocate 4 MiB buffers per chunk pay a page fault per 4 KiB each time
    /// (a quarter of a merge's time when measured). Keep such blocks in the allocator instead.
    static func tuneAllocator() {
        amalgam_tune_allocator()
    }

    /// Whole-tensor methods free and reallocate Float64 matrices of tens of MiB on worker
    /// threads, and glibc's per-thread arenas hand those back to the kernel anyway (OPCM on the
    /// research benchmark: 3.0–3.3 M page faults and 12–18 s of system time; 1.6 M and 8 s in one
    /// arena). Chunked merges allocate small blocks at a high rate, where one arena shared by
    /// many cores would contend, so they keep the default.
    static func useOneAllocatorArena() {
        amalgam_use_one_allocator_arena()
    }

    private static let interruptSources = InterruptSources()

    /// On SIGINT or SIGTERM: delete every partial output folder, then exit 130 / 143.
    static func installInterruptHandler() {
        interruptSources.install()
    }
}

/// Holds the dispatch sources that watch for SIGINT and SIGTERM.
private final class InterruptSources: @unchecked Sendable {
    // SAFETY: `@unchecked Sendable` because `sources` is written once, under `lock`.
    private let lock = NSLock()
    private var sources: [any DispatchSourceSignal] = []

    func install() {
        lock.lock()
        defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                PartialOutputs.shared.removeAll()
                AmalgamRuntime.printError("interrupted: partial output removed")
                exit(128 + signalNumber)
            }
            source.resume()
            sources.append(source)
        }
    }
}
