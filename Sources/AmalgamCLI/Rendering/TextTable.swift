import Foundation

/// A plain-text table: a header row, aligned columns, numbers right-aligned.
struct TextTable {
    enum Alignment { case left, right }

    let headers: [String]
    let alignments: [Alignment]
    private(set) var rows: [[String]] = []

    init(_ columns: [(String, Alignment)]) {
        headers = columns.map(\.0)
        alignments = columns.map(\.1)
    }

    mutating func append(_ row: [String]) {
        precondition(row.count == headers.count, "table row has \(row.count) cells, expected \(headers.count)")
        rows.append(row)
    }

    /// The table, with a rule under the header and, if given, a rule above `footer`.
    func rendered(footer: [String]? = nil) -> String {
        let all = [headers] + rows + (footer.map { [$0] } ?? [])
        let widths = headers.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.indices.map { i in
                let padding = String(repeating: " ", count: widths[i] - cells[i].count)
                return alignments[i] == .left ? cells[i] + padding : padding + cells[i]
            }.joined(separator: "  ").replacing(/\s+$/, with: "")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        var out = [line(headers), rule] + rows.map(line)
        if let footer { out += [rule, line(footer)] }
        return out.joined(separator: "\n")
    }
}

/// `1,234,567`.
func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(c)
    }
    return n < 0 ? "-" + out : out
}

/// A float in 6 significant digits, C's `%g` style.
func compact(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    return String(format: "%.6g", value)
}
