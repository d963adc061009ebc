// The one home of parallelism in Amalgam (the llama2.c habit of a single `#pragma omp`).
//
// Work is cut into chunks whose boundaries depend only on the problem size and the chunk size,
// never on the thread count. Each chunk's result is therefore the same whatever the number of
// threads, and reductions that combine chunk results in chunk order are deterministic.

import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Chunked, deterministic parallel loops.
public enum Parallel {
    /// The number of cores online, at least 1.
    public static var availableCores: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// The chunks `[0, count)` is cut into for a given chunk size (the last one may be shorter).
    public static func chunks(count: Int, chunkSize: Int) -> [Range<Int>] {
        precondition(count >= 0 && chunkSize > 0)
        return stride(from: 0, to: count, by: chunkSize).map { $0..<min($0 + chunkSize, count) }
    }

    /// Calls `body(chunkIndex, range)` for every chunk of `[0, count)`, on up to `threads` threads.
    ///
    /// Chunk `i` covers `[i * chunkSize, min((i + 1) * chunkSize, count))`. With one thread, or a
    /// single chunk, everything runs on the calling thread. `body` must only write state owned
    /// by its chunk.
    public static func forEachChunk(
        count: Int, chunkSize: Int, threads: Int, _ body: @Sendable (_ chunk: Int, _ range: Range<Int>) -> Void
    ) {
        precondition(count >= 0 && chunkSize > 0 && threads >= 1, "bad Parallel.forEachChunk arguments")
        let chunkCount = (count + chunkSize - 1) / chunkSize
        let workers = min(threads, chunkCount)
        if workers <= 1 {
            for chunk in 0..<chunkCount {
                body(chunk, chunk * chunkSize..<min((chunk + 1) * chunkSize, count))
            }
            return
        }
        // Static round-robin assignment: worker w takes chunks w, w + workers, ...
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var chunk = worker
            while chunk < chunkCount {
                body(chunk, chunk * chunkSize..<min((chunk + 1) * chunkSize, count))
                chunk += workers
            }
        }
    }

    /// Maps every chunk to a value, in parallel, returning the values in chunk order.
    public static func mapChunks<T: Sendable>(
        count: Int, chunkSize: Int, threads: Int, _ body: @Sendable (_ range: Range<Int>) -> T
    ) -> [T] {
        let chunkCount = (count + chunkSize - 1) / chunkSize
        let results = ResultSlots<T>(count: chunkCount)
        forEachChunk(count: count, chunkSize: chunkSize, threads: threads) { chunk, range in
            results.store(body(range), at: chunk)
        }
        return results.values()
    }
}

/// Write-once slots, one per chunk. Each chunk writes only its own slot.
private final class ResultSlots<T: Sendable>: @unchecked Sendable {
    // SAFETY: `@unchecked Sendable` because every index is written by exactly one chunk, and
    // values() is read only after DispatchQueue.concurrentPerform has returned (a barrier).
    private let storage: UnsafeMutablePointer<T?>
    private let count: Int

    init(count: Int) {
        self.count = count
        storage = .allocate(capacity: max(count, 1))
        storage.initialize(repeating: nil, count: max(count, 1))
    }

    deinit {
        storage.deinitialize(count: max(count, 1))
        storage.deallocate()
    }

    func store(_ value: T, at index: Int) {
        precondition(index >= 0 && index < count)
        storage[index] = value
    }

    func values() -> [T] {
        (0..<count).map { index in
            guard let value = storage[index] else { preconditionFailure("chunk \(index) produced no value") }
            return value
        }
    }
}

/// A mutable Float buffer that chunks of a parallel loop write disjoint ranges of.
///
/// `@unchecked Sendable` wrapper for a pointer whose ranges are partitioned between chunks.
struct SharedFloatOutput: @unchecked Sendable {
    // SAFETY: each parallel chunk writes only `[range]` of the buffer, ranges never overlap, and
    // the buffer outlives the loop (the caller holds it inside withUnsafeMutableBufferPointer).
    let base: UnsafeMutablePointer<Float>
}

/// Same for raw output bytes.
struct SharedRawOutput: @unchecked Sendable {
    // SAFETY: as SharedFloatOutput: disjoint ranges per chunk, buffer outlives the loop.
    let base: UnsafeMutableRawPointer
}
