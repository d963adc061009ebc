// The one home of parallelism in Amalgam (the llama2.c habit of a single `#pragma omp`).
//
// Work is cut into chunks whose boundaries depend only on the problem size and the chunk size,
// never on the thread count. Each chunk's result is therefore the same whatever the number of
// threads, and reductions that combine chunk results in chunk order are deterministic.

import Dispatch
import Foundation

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

/// Same for a Double buffer.
struct SharedDoubleOutput: @unchecked Sendable {
    // SAFETY: as SharedFloatOutput: disjoint ranges per chunk, buffer outlives the loop.
    let base: UnsafeMutablePointer<Double>
}

/// Same for raw output bytes.
struct SharedRawOutput: @unchecked Sendable {
    // SAFETY: as SharedFloatOutput: disjoint ranges per chunk, buffer outlives the loop.
    let base: UnsafeMutableRawPointer
}

extension Parallel {
    /// Runs `produce(i)` for every i in `0..<count` on `threads` workers, dynamically scheduled
    /// (a free worker takes the next index), and hands the results to `consume` in index order on
    /// the calling thread. Results depend only on `i`, so they are the same at any thread count.
    /// If `consume` throws, the workers stop taking new indices and the error is rethrown once
    /// they are idle.
    ///
    /// Memory bound: an index is taken only while it is within `lookahead` of the next one to
    /// consume, or while the `cost` of everything taken and not yet consumed stays within
    /// `budget` (so small items can run far ahead of a slow large one, large ones cannot). Once
    /// produced, an item costs `resultCost` until consumed (its working memory is freed).
    ///
    /// `early` (ascending) are items to start ahead of their turn whenever they are admissible
    /// (the long ones, so that a late one does not leave the other workers idle at the end).
    /// They are taken in index order, so the item the consumer waits for is always the next one
    /// of its queue and admissible: no deadlock.
    public static func orderedStream<T: Sendable>(
        count: Int, threads: Int, lookahead: Int, budget: Int = 0, cost: @escaping @Sendable (Int) -> Int = { _ in 0 },
        resultCost: @escaping @Sendable (Int) -> Int = { _ in 0 }, early: [Int] = [],
        produce: @escaping @Sendable (Int) -> T, consume: (Int, T) throws -> Void
    ) rethrows {
        precondition(count >= 0 && threads >= 1 && lookahead >= 1, "bad Parallel.orderedStream arguments")
        precondition(zip(early, early.dropFirst()).allSatisfy { $0 < $1 } && early.allSatisfy { (0..<count).contains($0) },
                     "Parallel.orderedStream: early items must be ascending indices")
        if threads == 1 || count <= 1 {
            for i in 0..<count { try consume(i, produce(i)) }
            return
        }
        let state = StreamState<T>(lookahead: lookahead, count: count, budget: budget, cost: cost, resultCost: resultCost, early: early)
        let group = DispatchGroup()
        for _ in 0..<min(threads, count) {
            DispatchQueue.global().async(group: group) {
                while let index = state.take() { state.put(produce(index), at: index) }
            }
        }
        defer {
            state.cancel()
            group.wait()
        }
        for i in 0..<count { try consume(i, state.result(at: i)) }
    }
}

/// The shared state of ``Parallel/orderedStream(count:threads:lookahead:budget:cost:resultCost:early:produce:consume:)``.
private final class StreamState<T: Sendable>: @unchecked Sendable {
    // SAFETY: `@unchecked Sendable` because every field is read and written with `condition` held.
    private let condition = NSCondition()
    /// The next index in order (items of `earlySet` are skipped: they come from `early`).
    private var next = 0
    /// Early items not yet taken, ascending.
    private var early: ArraySlice<Int>
    private let earlySet: Set<Int>
    private var consumed = 0
    private var cancelled = false
    private var results: [Int: T] = [:]
    private var reserved = 0
    private let lookahead: Int
    private let count: Int
    private let budget: Int
    private let cost: @Sendable (Int) -> Int
    private let resultCost: @Sendable (Int) -> Int

    init(lookahead: Int, count: Int, budget: Int, cost: @escaping @Sendable (Int) -> Int, resultCost: @escaping @Sendable (Int) -> Int,
         early: [Int]) {
        self.early = early[...]
        earlySet = Set(early)
        self.lookahead = lookahead
        self.count = count
        self.budget = budget
        self.cost = cost
        self.resultCost = resultCost
    }

    private func admissible(_ index: Int) -> Bool {
        // Without a budget only the lookahead admits (a zero budget must not admit zero-cost items).
        index < consumed + lookahead || (budget > 0 && reserved + cost(index) <= budget)
    }

    /// An early item in its turn, or ahead of it when it fits the budget on top of what is
    /// reserved and of the items the lookahead will admit anyway (so that, say, two
    /// embedding-sized tensors do not start together).
    private func earlyAdmissible(_ index: Int) -> Bool {
        if index < consumed + lookahead { return true }
        guard budget > 0 else { return false }
        var pending = 0
        for i in next..<max(next, min(count, consumed + lookahead)) where !earlySet.contains(i) { pending += cost(i) }
        return reserved + pending + cost(index) <= budget
    }

    /// The next index to produce, waiting while the lookahead and budget are full; nil when done
    /// or cancelled.
    func take() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            while next < count, earlySet.contains(next) { next += 1 }
            guard !cancelled, next < count || !early.isEmpty else { return nil }
            let index: Int
            if let first = early.first, earlyAdmissible(first) {
                index = first
                early.removeFirst()
            } else if next < count, admissible(next) {
                index = next
                next += 1
            } else {
                condition.wait()
                continue
            }
            reserved += cost(index)
            return index
        }
    }

    func put(_ value: T, at index: Int) {
        condition.lock()
        results[index] = value
        reserved -= cost(index) - resultCost(index)
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for result `index`, removes it, and frees its lookahead slot.
    func result(at index: Int) -> T {
        condition.lock()
        defer { condition.unlock() }
        while results[index] == nil { condition.wait() }
        consumed = index + 1
        reserved -= resultCost(index)
        condition.broadcast()
        return results.removeValue(forKey: index)!
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Work started now on its own thread (not the shared pool, whose workers may all be busy),
/// whose result is collected later with ``wait()``. A caller must wait before releasing what the
/// work reads.
public final class Background<T: Sendable>: @unchecked Sendable {
    // SAFETY: `@unchecked Sendable` because `result` is written once by the worker before it
    // signals `done`, and read only after `wait()` has received that signal.
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, any Error>?
    private var collected = false

    public init(_ body: @escaping @Sendable () throws -> T) {
        let thread = Thread { [self] in
            result = Result { try body() }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// The work's value (its error rethrown), once it has finished. Call once.
    public func wait() throws -> T {
        precondition(!collected, "Background.wait called twice")
        collected = true
        done.wait()
        return try result.unsafelyUnwrapped.get()
    }
}
