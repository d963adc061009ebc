import Foundation

/// Parses human byte sizes: `500M`, `5G`, `5GB`, `1.5GiB`, `4096`, `10K`.
///
/// Units are decimal (K = 1000, M = 10^6, G = 10^9, T = 10^12), as Hugging Face's `max_shard_size`
/// reads them; a bare `B` means billion, as in mergekit's `--out-shard-size 5B`; the `iB` forms
/// (KiB, MiB, GiB, TiB) are binary. Case is ignored.
public enum ByteCount {
    /// The number of bytes `text` denotes, or nil when it is not a size.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !trimmed.isEmpty else { return nil }
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        guard let number = Double(digits), number >= 0, number.isFinite else { return nil }
        let multipliers: [String: Double] = [
            "": 1, "b": 1e9,
            "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
            "kib": 1024, "mib": 1_048_576, "gib": 1_073_741_824, "tib": 1_099_511_627_776,
        ]
        guard let multiplier = multipliers[unit] else { return nil }
        let bytes = (number * multiplier).rounded()
        guard bytes >= 1, bytes < 9e18 else { return nil }
        return Int(bytes)
    }

    /// `1.70 GB`, `512.0 kB`, `12 B`: decimal units, three significant digits.
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let digits = value >= 100 ? 0 : (value >= 10 ? 1 : 2)
        return String(format: "%.\(digits)f", value) + " " + units[unit]
    }
}
