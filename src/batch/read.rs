//! Reading input lines as other people's tools write them: a UTF-8 byte-order mark at the start
//! is skipped (Windows tools write one, and it would make the first record unreadable), and a
//! line longer than the limit is passed over to its newline without being held in memory whole.

use std::io::{self, BufRead, Read};

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The default limit on one record's line: 16 MiB, far above any one patient's record (a
/// Synthea patient with decades of history is a few MiB as a Bundle) and far below what would
/// exhaust memory when a chunk of lines is held at once.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 16 << 20;

/// The input with a leading byte-order mark, if any, removed.
pub fn skip_bom<R: BufRead>(mut input: R) -> io::Result<io::Chain<io::Cursor<Vec<u8>>, R>> {
    let mut head = Vec::with_capacity(BOM.len());
    while head.len() < BOM.len() && BOM.starts_with(&head) {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        let take = (BOM.len() - head.len()).min(buf.len());
        head.extend_from_slice(&buf[..take]);
        input.consume(take);
    }
    if head == BOM {
        head.clear();
    }
    Ok(io::Cursor::new(head).chain(input))
}

/// The text without a leading byte-order mark.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// What one call of [`read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// The input had ended: no line.
    End,
    /// A line, in the buffer (with its newline, if it had one).
    Read,
    /// A line of this many bytes (newline excluded), over the limit: skipped, the buffer empty.
    TooLong(u64),
}

/// Reads one line into `line` (cleared first), holding at most `limit` bytes of it (plus its
/// newline): a longer line is read through to its newline and dropped.
pub fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>, limit: usize) -> io::Result<Line> {
    line.clear();
    let mut total: u64 = 0;
    let mut over = false;
    let mut newline = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        let (n, done) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = (limit + 1).saturating_sub(line.len());
        if !over && n <= room {
            line.extend_from_slice(&buf[..n]);
        } else {
            // INVARIANT: past the limit nothing more is kept, so memory stays bounded.
            over = true;
            line.clear();
        }
        input.consume(n);
        total += n as u64;
        if done {
            newline = true;
            break;
        }
    }
    let content = total - u64::from(newline);
    Ok(if total == 0 {
        Line::End
    } else if over && content > limit as u64 {
        line.clear();
        Line::TooLong(content)
    } else {
        Line::Read
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8], limit: usize) -> Vec<(Line, Vec<u8>)> {
        // A tiny buffer, so lines span many reads.
        let mut input = io::BufReader::with_capacity(3, text);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            let got = read_line(&mut input, &mut buf, limit).unwrap();
            if got == Line::End {
                return out;
            }
            out.push((got, buf.clone()));
        }
    }

    #[test]
    fn a_line_at_the_limit_is_read_one_over_is_skipped() {
        let got = lines(b"12345\n123456\nab\n1234567", 5);
        assert_eq!(
            got,
            vec![
                (Line::Read, b"12345\n".to_vec()),
                (Line::TooLong(6), vec![]),
                (Line::Read, b"ab\n".to_vec()),
                (Line::TooLong(7), vec![]),
            ]
        );
    }

    #[test]
    fn a_last_line_without_newline_at_the_limit_is_read() {
        assert_eq!(lines(b"12345", 5), vec![(Line::Read, b"12345".to_vec())]);
        assert_eq!(lines(b"", 5), vec![]);
        assert_eq!(lines(b"\n", 0), vec![(Line::Read, b"\n".to_vec())]);
    }

    fn unbommed(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        skip_bom(io::BufReader::with_capacity(1, text))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn a_byte_order_mark_is_skipped_once_and_only_at_the_start() {
        assert_eq!(unbommed(b"\xEF\xBB\xBF{\"id\":1}"), b"{\"id\":1}");
        assert_eq!(unbommed(b"\xEF\xBB\xBF\xEF\xBB\xBFx"), b"\xEF\xBB\xBFx");
        assert_eq!(unbommed(b"\xEF\xBBx"), b"\xEF\xBBx");
        assert_eq!(unbommed(b"\xEF"), b"\xEF");
        assert_eq!(unbommed(b"x\xEF\xBB\xBF"), b"x\xEF\xBB\xBF");
        assert_eq!(unbommed(b""), b"");
        assert_eq!(strip_bom("\u{feff}rule"), "rule");
        assert_eq!(strip_bom("rule\u{feff}"), "rule\u{feff}");
    }
}
