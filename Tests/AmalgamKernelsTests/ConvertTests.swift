import AmalgamKernels
import Foundation
import Testing

@Suite("Whole-buffer conversions against their reference twins")
struct ConvertTests {
    /// Lengths where tails and chunk boundaries live: empty, one, SIMD width ± 1, a page and a
    /// bit, and just over one parallel chunk.
    static let lengths = [0, 1, 7, 8, 9, 67, 4097, Convert.chunkElements + 3]

    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
    }

    @Test("decode equals referenceDecode for every format at awkward lengths, at 1 and 2 threads",
          arguments: ScalarFormat.allCases)
    func decodeMatchesReference(format: ScalarFormat) {
        for length in Self.lengths {
            // An odd offset makes every multi-byte load unaligned, as safetensors data may be.
            let raw = Self.randomBytes(length * format.byteWidth + 1, seed: UInt64(length))
            let bytes = OwnedBytes.copying(raw).region.slice(offset: 1, length: length * format.byteWidth)
            let one = Convert.decode(bytes, as: format, threads: 1)
            let two = Convert.decode(bytes, as: format, threads: 2)
            #expect(one.count == length)
            #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
            var mismatches = 0
            for i in 0..<length {
                let expected = referenceDecode(bytes, as: format, index: i)
                let same = expected.isNaN ? one[i].isNaN : expected.bitPattern == one[i].bitPattern
                if !same { mismatches += 1 }
            }
            #expect(mismatches == 0, "\(format) length \(length)")
        }
    }

    @Test("encode equals referenceEncode at awkward lengths, at 1 and 2 threads",
          arguments: [ScalarFormat.float64, .float32, .float16, .bfloat16])
    func encodeMatchesReference(format: ScalarFormat) {
        for length in Self.lengths {
            let raw = Self.randomBytes(length * 4, seed: 99 &+ UInt64(length))
            let values = Convert.decode(OwnedBytes.copying(raw).region, as: .float32)
            let one = Convert.encode(values, as: format, threads: 1).region.array
            let two = Convert.encode(values, as: format, threads: 2).region.array
            #expect(one == two)
            #expect(one == referenceEncode(values, as: format), "\(format) length \(length)")
        }
    }

    @Test("float8 E4M3 and E5M2 decode to their defined values")
    func float8Values() {
        let e4m3 = Convert.decode(OwnedBytes.copying([0x00, 0x01, 0x08, 0x38, 0x7E, 0x7F, 0xFE, 0x80]).region, as: .float8E4M3)
        #expect(Array(e4m3[0..<5]) == [0, 0x1p-9, 0x1p-6, 1, 448])
        #expect(e4m3[5].isNaN && e4m3[6] == -448 && e4m3[7] == 0 && e4m3[7].sign == .minus)
        let e5m2 = Convert.decode(OwnedBytes.copying([0x3C, 0x7B, 0x7C, 0x7D, 0x01]).region, as: .float8E5M2)
        #expect(e5m2[0] == 1 && e5m2[1] == 57344 && e5m2[2] == .infinity && e5m2[3].isNaN && e5m2[4] == 0x1p-16)
    }
}

@Suite("Streaming statistics")
struct MomentsTests {
    @Test("Chunked, parallel moments equal a one-at-a-time Float64 reference, identically at 1 and 2 threads")
    func momentsMatchReference() {
        for length in [0, 1, 5, Moments.chunkElements * 3 + 17] {
            var values = (0..<length).map { Float(sin(Double($0) * 0.37)) * 3 + 1 }
            if length > 5 { values[3] = .nan; values[4] = .infinity; values[length - 1] = -.infinity }
            let bytes = Convert.encode(values, as: .float32).region
            let one = Moments.of(bytes, as: .float32, threads: 1)
            let two = Moments.of(bytes, as: .float32, threads: 2)
            #expect(one == two)
            var reference = Moments()
            for v in values { reference.add(v) }
            #expect(one.count == reference.count && one.nanCount == reference.nanCount && one.infCount == reference.infCount)
            #expect(one.min == reference.min && one.max == reference.max)
            #expect(abs(one.mean - reference.mean) <= 1e-12 * max(1, abs(reference.mean)))
            #expect(abs(one.standardDeviation - reference.standardDeviation) <= 1e-10 * max(1, reference.standardDeviation))
        }
    }

    @Test("Hand-computed moments of [1, 2, 3, 4, NaN]")
    func handComputed() {
        let m = Moments.of(Convert.encode([1, 2, 3, 4, .nan] as [Float], as: .float32).region, as: .float32)
        // mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; population variance 5 / 4.
        #expect(m.mean == 2.5 && m.standardDeviation == (1.25 as Double).squareRoot())
        #expect(m.min == 1 && m.max == 4 && m.nanCount == 1 && m.infCount == 0 && m.finiteCount == 4)
    }
}

@Suite("Parallel chunking")
struct ParallelTests {
    @Test("mapChunks returns chunk results in chunk order whatever the thread count", arguments: [1, 2, 3, 8])
    func order(threads: Int) {
        let ranges = Parallel.mapChunks(count: 1000, chunkSize: 64, threads: threads) { $0 }
        #expect(ranges == Parallel.chunks(count: 1000, chunkSize: 64))
        #expect(ranges.last == 960..<1000)
    }
}

private func sin(_ x: Double) -> Double {
    // Deterministic smooth test data without Foundation: a short Taylor series after range reduction.
    var r = x.truncatingRemainder(dividingBy: 2 * .pi)
    if r > .pi { r -= 2 * .pi }
    var term = r, sum = r
    for n in 1...10 {
        term *= -r * r / Double((2 * n) * (2 * n + 1))
        sum += term
    }
    return sum
}

@Suite("Parallel streams")
struct ParallelStreamTests {
    /// Items taken by producers and not yet consumed, and the most seen at once.
    final class Gauge: @unchecked Sendable {
        // SAFETY: every field is read and written with `lock` held.
        private let lock = NSLock()
        private var open = 0
        private(set) var most = 0
        func produced() { lock.withLock { open += 1; most = max(most, open) } }
        func consumed() { lock.withLock { open -= 1 } }
    }

    @Test("orderedStream keeps at most `lookahead` items (plus the one being consumed) ahead of a slow consumer, in order", arguments: [1, 3])
    func lookaheadBound(lookahead: Int) {
        let gauge = Gauge()
        var seen: [Int] = []
        Parallel.orderedStream(count: 40, threads: 2, lookahead: lookahead) { index in
            gauge.produced()
            return index * 2
        } consume: { index, value in
            Thread.sleep(forTimeInterval: 0.001)
            seen.append(value)
            gauge.consumed()
        }
        #expect(seen == (0..<40).map { $0 * 2 })
        // The item in the consumer's hands has already left the lookahead window.
        #expect(gauge.most <= lookahead + 1, "\(gauge.most) items produced ahead of the consumer")
    }

    final class Recorder: @unchecked Sendable {
        // SAFETY: `values` is only touched with `lock` held.
        private let lock = NSLock()
        private var values: [Int] = []
        func record(_ value: Int) { lock.withLock { values.append(value) } }
        var recorded: [Int] { lock.withLock { values } }
    }

    /// Production order of a stream of 40 items where 30 and 35 are early and cost `earlyCost`,
    /// the rest 1; the others take 2 ms each.
    func productionOrder(budget: Int, earlyCost: Int, lookahead: Int = 2) -> (produced: [Int], consumed: [Int]) {
        let order = Recorder()
        var consumed: [Int] = []
        Parallel.orderedStream(count: 40, threads: 2, lookahead: lookahead, budget: budget,
                               cost: { [30, 35].contains($0) ? earlyCost : 1 }, early: [30, 35]) { index in
            order.record(index)
            if ![30, 35].contains(index) { Thread.sleep(forTimeInterval: 0.002) }
            return index
        } consume: { index, value in
            #expect(index == value)
            consumed.append(value)
        }
        return (order.recorded, consumed)
    }

    @Test("orderedStream starts early items first when the budget admits them, still consuming in order")
    func earlyItems() {
        let run = productionOrder(budget: 100, earlyCost: 10)
        #expect(run.consumed == Array(0..<40))
        #expect(run.produced.sorted() == Array(0..<40))
        // Both were taken before anything else; the thread that took one may lose a few ms.
        #expect(run.produced.firstIndex(of: 30)! < 8 && run.produced.firstIndex(of: 35)! < 8, "\(run.produced)")
    }

    @Test("An early item waits while a large item the lookahead admits anyway would not leave room for it")
    func earlyItemLeavesRoomForTheWindow() {
        let events = Recorder()   // i: start of item i, 100 + i: its end
        Parallel.orderedStream(count: 20, threads: 2, lookahead: 2, budget: 100, cost: { [0, 15].contains($0) ? 60 : 1 }, early: [15]) { index in
            events.record(index)
            if index == 0 { Thread.sleep(forTimeInterval: 0.02) }
            events.record(100 + index)
            return index
        } consume: { _, _ in }
        let log = events.recorded
        #expect(log.firstIndex(of: 15)! > log.firstIndex(of: 100)!, "\(log)")
    }

    @Test("orderedStream runs early items in turn, without deadlock, when the budget never admits them early")
    func earlyItemsOverBudget() {
        for lookahead in [1, 3] {
            let run = productionOrder(budget: 20, earlyCost: 1000, lookahead: lookahead)
            #expect(run.consumed == Array(0..<40))
            #expect(run.produced.sorted() == Array(0..<40))
            // Neither starts before the consumer is within `lookahead` of it.
            #expect(run.produced.firstIndex(of: 30)! >= 30 - lookahead - 2, "\(run.produced)")
        }
    }
}

@Suite("Float64 decoding")
struct DecodeDoublesTests {
    @Test("decodeDoubles widens every format exactly", arguments: [ScalarFormat.float32, .float16, .bfloat16])
    func widensExactly(format: ScalarFormat) {
        // Lengths that end inside a strip (2,048) and span several parallel chunks (262,144).
        for n in [0, 1, 2_049, 600_001] {
            let values = (0..<n).map { Float($0 % 997) * 0.03125 - 7 }
            let bytes = Convert.encode(values, as: format).region
            let expected = Convert.decode(bytes, as: format).map { Double($0).bitPattern }
            for threads in [1, 2] {
                #expect(Convert.decodeDoubles(bytes, as: format, threads: threads).map(\.bitPattern) == expected, "\(n) values, \(threads) threads")
            }
        }
    }
}
