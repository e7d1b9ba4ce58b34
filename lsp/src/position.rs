//! Byte offsets ↔ LSP positions.
//!
//! Takes a document's text; gives [`LineIndex`], which converts the
//! compiler's byte offsets to LSP positions (0-based line, and column in
//! UTF-16 code units, the LSP default) and back. Every conversion in the
//! server goes through here, so multibyte text (µ, CJK, emoji) is handled
//! in one place. Invariant: offsets given back are on `char` boundaries.

/// An LSP position: 0-based line and UTF-16 column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 0-based line.
    pub line: u32,
    /// 0-based column in UTF-16 code units.
    pub character: u32,
}

/// Where each line of a text starts, for position conversion.
#[derive(Clone, Debug)]
pub struct LineIndex {
    text: String,
    line_starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            text: text.to_string(),
            line_starts,
        }
    }

    /// The LSP position of a byte offset (clamped to the text, and moved
    /// back to a `char` boundary if inside one).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let character = self.text[start..offset].encode_utf16().count();
        Position {
            line: line as u32,
            character: character as u32,
        }
    }

    /// The byte offset of an LSP position. A column past the end of its
    /// line gives the line's end; a line past the end gives the text's
    /// end; a column inside a surrogate pair gives the char's start.
    pub fn offset(&self, pos: Position) -> usize {
        let Some(&start) = self.line_starts.get(pos.line as usize) else {
            return self.text.len();
        };
        let end = self
            .line_starts
            .get(pos.line as usize + 1)
            .map_or(self.text.len(), |&next| next - 1);
        let mut units = 0u32;
        for (i, c) in self.text[start..end].char_indices() {
            let next = units + c.len_utf16() as u32;
            if next > pos.character {
                return start + i;
            }
            units = next;
        }
        end
    }

    /// The indexed text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_round_trip() {
        let idx = LineIndex::new("twin A {\n  let x = 1\n}");
        assert_eq!(
            idx.position(11),
            Position {
                line: 1,
                character: 2
            }
        );
        assert_eq!(
            idx.offset(Position {
                line: 1,
                character: 2
            }),
            11
        );
    }

    #[test]
    fn multibyte_columns_count_utf16_units() {
        // `µ` is 2 bytes / 1 unit, `温` 3 bytes / 1 unit, `🚀` 4 bytes / 2 units.
        let text = "// µ温🚀\nlet x";
        let idx = LineIndex::new(text);
        let x = text.find('x').unwrap_or(0);
        assert_eq!(
            idx.position(x),
            Position {
                line: 1,
                character: 4
            }
        );
        let after_rocket = text.find('\n').unwrap_or(0);
        assert_eq!(
            idx.position(after_rocket),
            Position {
                line: 0,
                character: 7
            }
        );
        assert_eq!(
            idx.offset(Position {
                line: 0,
                character: 7
            }),
            after_rocket
        );
        // A column inside the surrogate pair lands on the emoji's start.
        let rocket = text.find('🚀').unwrap_or(0);
        assert_eq!(
            idx.offset(Position {
                line: 0,
                character: 6
            }),
            rocket
        );
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let idx = LineIndex::new("ab\ncd");
        assert_eq!(
            idx.offset(Position {
                line: 0,
                character: 99
            }),
            2
        );
        assert_eq!(
            idx.offset(Position {
                line: 9,
                character: 0
            }),
            5
        );
        assert_eq!(
            idx.position(99),
            Position {
                line: 1,
                character: 2
            }
        );
    }

    #[test]
    fn every_char_boundary_round_trips() {
        let text = "a µ\n温度 = 🚀x\n\nend";
        let idx = LineIndex::new(text);
        for (i, _) in text.char_indices().chain([(text.len(), ' ')]) {
            assert_eq!(idx.offset(idx.position(i)), i, "offset {i}");
        }
    }
}
