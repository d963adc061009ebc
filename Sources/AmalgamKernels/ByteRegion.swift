// The byte containers every tensor sits on. They are the only way memory crosses out of this
// target: callers outside AmalgamKernels never see a pointer, only a region and its length.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An immutable view of `count` bytes that keeps whatever owns them alive.
///
/// A region either borrows memory-mapped file bytes (the owner is the mapping) or points into an
/// ``OwnedBytes`` allocation. Copying a region copies the view, never the bytes.
public struct ByteRegion: @unchecked Sendable {
    // SAFETY: `@unchecked Sendable` because the bytes are never written after the region is made
    // (mapped files are mapped read-only; OwnedBytes is filled before it is wrapped), and `owner`
    // keeps them alive for as long as any copy of the view exists.
    @usableFromInline let base: UnsafeRawPointer?
    /// Number of bytes in the region.
    public let count: Int
    @usableFromInline let owner: AnyObject?

    /// Creates a view over raw memory kept alive by `owner`.
    ///
    /// Only for memory owners inside the kernel corner and `AmalgamIO/MappedFile.swift`.
    public init(unsafeBase base: UnsafeRawPointer?, count: Int, owner: AnyObject?) {
        precondition(count >= 0, "ByteRegion count must be non-negative")
        precondition(count == 0 || base != nil, "ByteRegion with bytes needs a base address")
        self.base = base
        self.count = count
        self.owner = owner
    }

    /// An empty region.
    public static let empty = ByteRegion(unsafeBase: nil, count: 0, owner: nil)

    /// The sub-region `[offset, offset + length)`. Traps when out of bounds (a programmer error:
    /// every caller validates offsets against headers first).
    public func slice(offset: Int, length: Int) -> ByteRegion {
        precondition(offset >= 0 && length >= 0 && offset <= count && length <= count - offset,
                     "ByteRegion slice [\(offset), \(offset + length)) outside \(count) bytes")
        return ByteRegion(unsafeBase: base.map { $0 + offset }, count: length, owner: owner)
    }

    /// The bytes as an array (a copy).
    public var array: [UInt8] {
        guard let base, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Byte `index`, bounds-checked.
    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < count, "ByteRegion index \(index) outside \(count) bytes")
        // SAFETY: index checked against count just above.
        return base.unsafelyUnwrapped.load(fromByteOffset: index, as: UInt8.self)
    }

    /// Reads a little-endian `UInt64` at `offset` (any alignment).
    public func littleEndianUInt64(at offset: Int) -> UInt64 {
        precondition(offset >= 0 && offset <= count - 8, "ByteRegion read of 8 bytes at \(offset) outside \(count)")
        // SAFETY: bounds checked above; loadUnaligned has no alignment requirement.
        return UInt64(littleEndian: base.unsafelyUnwrapped.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Bytes equal? (content comparison)
    public func contentEquals(_ other: ByteRegion) -> Bool {
        guard count == other.count else { return false }
        if count == 0 { return true }
        // SAFETY: both regions hold `count` bytes.
        return memcmp(base.unsafelyUnwrapped, other.base.unsafelyUnwrapped, count) == 0
    }

    /// Calls `body` with the raw bytes. The buffer is valid only inside `body`.
    ///
    /// For I/O code that must hand bytes to the operating system (`write(2)`).
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try withExtendedLifetime(owner) { () throws(E) -> R in
            try body(UnsafeRawBufferPointer(start: base, count: count))
        }
    }
}

/// A 64-byte aligned heap allocation, written once through ``fill(_:)``-style initialisers and then
/// exposed read-only as a ``ByteRegion``.
public final class OwnedBytes: @unchecked Sendable {
    // SAFETY: `@unchecked Sendable` because the storage is mutated only inside the initialiser
    // closures below, before the object is shared; afterwards it is read-only.
    let pointer: UnsafeMutableRawPointer?
    /// Number of bytes.
    public let count: Int

    private init(count: Int) {
        precondition(count >= 0)
        self.count = count
        self.pointer = count == 0 ? nil : UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
    }

    deinit { pointer?.deallocate() }

    /// The bytes as a region.
    public var region: ByteRegion { ByteRegion(unsafeBase: pointer.map { UnsafeRawPointer($0) }, count: count, owner: self) }

    /// Allocates `count` bytes and lets `initialize` write them all.
    public static func make<E: Error>(
        count: Int, _ initialize: (UnsafeMutableRawBufferPointer) throws(E) -> Void
    ) throws(E) -> OwnedBytes {
        let bytes = OwnedBytes(count: count)
        try initialize(UnsafeMutableRawBufferPointer(start: bytes.pointer, count: count))
        return bytes
    }

    /// A copy of `bytes`.
    public static func copying(_ bytes: [UInt8]) -> OwnedBytes {
        make(count: bytes.count) { destination in
            bytes.withUnsafeBytes { source in
                if let base = source.baseAddress, let out = destination.baseAddress {
                    out.copyMemory(from: base, byteCount: source.count)
                }
            }
        }
    }

    /// A copy of `region`.
    public static func copying(_ region: ByteRegion) -> OwnedBytes {
        make(count: region.count) { destination in
            region.withUnsafeBytes { source in
                if let base = source.baseAddress, let out = destination.baseAddress {
                    out.copyMemory(from: base, byteCount: source.count)
                }
            }
        }
    }
}

/// A reusable, 64-byte aligned buffer that is refilled again and again (streaming conversion).
///
/// Not `Sendable`: one owner refills it; each ``region`` is valid only until the next ``refill(count:_:)``.
public final class ScratchBytes {
    private var pointer: UnsafeMutableRawPointer?
    private var capacity = 0
    private var count = 0

    public init() {}

    deinit { pointer?.deallocate() }

    /// Makes room for `count` bytes (growing only when needed) and lets `fill` write them.
    public func refill(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        precondition(count >= 0)
        if count > capacity {
            pointer?.deallocate()
            pointer = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
            capacity = count
        }
        self.count = count
        fill(UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }

    /// The bytes of the last refill. Valid until the next refill.
    public var region: ByteRegion {
        ByteRegion(unsafeBase: pointer.map { UnsafeRawPointer($0) }, count: count, owner: self)
    }
}
