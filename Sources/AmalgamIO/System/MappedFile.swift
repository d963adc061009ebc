// Read-only memory maps. With OutputFile.swift this folder is the one place in AmalgamIO that
// talks to the operating system with pointers (see Scripts/check-unsafe.sh).

import AmalgamKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only. Pages are read from disk only when touched, so a tensor's
/// bytes cost nothing until they are used.
public final class MappedFile: @unchecked Sendable {
    // SAFETY: `@unchecked Sendable` because the mapping is PROT_READ and never changes after
    // init; munmap happens in deinit, when no ByteRegion can refer to it any more (each region
    // holds this object as its owner).
    /// The path it was opened from.
    public let path: String
    /// File size in bytes.
    public let size: Int
    private let base: UnsafeMutableRawPointer?
    /// The open descriptor, kept for in-kernel copies (see OutputFile.copy(from:offset:length:)).
    let descriptor: Int32

    /// Maps `path`.
    ///
    /// - Throws: ``FileError`` when the file cannot be opened, is not a regular file, or cannot be mapped.
    public init(path: String) throws(FileError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, operation: .open, reason: Self.lastError()) }
        var keepOpen = false
        defer { if !keepOpen { close(fd) } }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError(path: path, operation: .stat, reason: Self.lastError()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FileError(path: path, operation: .open, reason: "not a regular file")
        }
        size = Int(info.st_size)
        descriptor = fd
        if size == 0 {
            base = nil
            keepOpen = true
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else {
            throw FileError(path: path, operation: .map, reason: Self.lastError())
        }
        base = address
        keepOpen = true
    }

    deinit {
        if let base { munmap(base, size) }
        close(descriptor)
    }

    /// The whole file.
    public var region: ByteRegion {
        ByteRegion(unsafeBase: base.map { UnsafeRawPointer($0) }, count: size, owner: self)
    }

    /// Hints that `[offset, offset + length)` will be read soon, sequentially (readahead).
    public func adviseWillNeed(offset: Int, length: Int) {
        guard let base, length > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        let end = min(size, offset + length)
        // SAFETY: [start, end) lies inside the mapping; madvise only reads the range.
        _ = madvise(base + start, end - start, MADV_WILLNEED)
    }

    /// Drops the process's pages of `[offset, offset + length)` (widened to whole pages): they
    /// leave its resident set but stay in the page cache, and a later read faults them back in.
    /// For a read-only file mapping this never changes what is read.
    public func adviseDontNeed(offset: Int, length: Int) {
        guard let base, length > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        let end = min(size, (offset + length + page - 1) / page * page)
        guard end > start else { return }
        // SAFETY: [start, end) lies inside the mapping, which is read-only and file-backed.
        _ = madvise(base + start, end - start, MADV_DONTNEED)
    }

    static func lastError() -> String { String(cString: strerror(errno)) }
}
