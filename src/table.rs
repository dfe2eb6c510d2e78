//! Plain-text tables for the command line: a header row, columns two
//! spaces apart, numbers right-aligned on their decimal point.

/// A table being built.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
}

impl Table {
    /// A table with these column headers, every column left-aligned.
    pub(crate) fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            right: vec![false; header.len()],
        }
    }

    /// Right-aligns these columns (numbers), lining up decimal points.
    pub(crate) fn right(&mut self, cols: &[usize]) {
        for &c in cols {
            if let Some(r) = self.right.get_mut(c) {
                *r = true;
            }
        }
    }

    /// Adds a row; missing cells are empty, extra ones dropped.
    pub(crate) fn row(&mut self, mut cells: Vec<String>) {
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as lines, with a trailing newline.
    pub(crate) fn render(&self) -> String {
        let n = self.header.len();
        // Right-aligned cells get trailing spaces so that their decimal
        // points line up: the fraction (from '.') is padded to the longest.
        let frac = |s: &str| s.find('.').map_or(0, |i| s[i..].chars().count());
        let mut cells: Vec<Vec<String>> = self.rows.clone();
        for c in 0..n {
            if !self.right[c] {
                continue;
            }
            let widest = cells.iter().map(|r| frac(&r[c])).max().unwrap_or(0);
            for r in &mut cells {
                let pad = widest - frac(&r[c]);
                r[c].push_str(&" ".repeat(pad));
            }
        }
        let width: Vec<usize> = (0..n)
            .map(|c| {
                cells
                    .iter()
                    .map(|r| r[c].chars().count())
                    .chain([self.header[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |row: &[String]| {
            let mut s = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    s.push_str("  ");
                }
                let pad = " ".repeat(width[c] - cell.chars().count());
                if self.right[c] {
                    s.push_str(&pad);
                    s.push_str(cell);
                } else {
                    s.push_str(cell);
                    s.push_str(&pad);
                }
            }
            s.trim_end().to_owned()
        };
        let mut out = line(&self.header);
        out.push('\n');
        for r in &cells {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn numbers_line_up_on_their_decimal_point_under_their_header() {
        let mut t = Table::new(&["NAME", "AMOUNT"]);
        t.right(&[1]);
        t.row(vec!["a".into(), "2500.5".into()]);
        t.row(vec!["bb".into(), "1.25".into()]);
        t.row(vec!["c".into(), "7".into()]);
        assert_eq!(
            t.render(),
            "NAME   AMOUNT\na     2500.5\nbb       1.25\nc        7\n"
        );
    }
}
