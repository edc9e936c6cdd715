//! Lookup keys for short codes written in patient records (frequencies, routes, units): lower
//! case, with some characters dropped, built on the stack.

/// `text` lower-cased into `buf` without the characters in `drop`, the micro sign read as `u`;
/// `None` when it does not fit or holds other non-ASCII characters (no known code does).
pub(crate) fn ascii_key<'b>(text: &str, drop: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b str> {
    let mut n = 0;
    for c in text.trim().chars() {
        let c = if matches!(c, '\u{b5}' | '\u{3bc}') {
            'u'
        } else {
            c
        };
        if !c.is_ascii() || n == buf.len() {
            return None;
        }
        let b = c as u8;
        if drop.contains(&b) {
            continue;
        }
        buf[n] = b.to_ascii_lowercase();
        n += 1;
    }
    std::str::from_utf8(&buf[..n]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_lower_case_without_dropped_characters() {
        let mut buf = [0; 32];
        assert_eq!(ascii_key(" Q.I.D. ", b". ", &mut buf), Some("qid"));
        assert_eq!(
            ascii_key("mL/min/{1.73_m2}", b" ", &mut buf),
            Some("ml/min/{1.73_m2}")
        );
        assert_eq!(ascii_key(&"x".repeat(40), b"", &mut buf), None);
        assert_eq!(ascii_key("µg", b"", &mut buf), Some("ug"));
        assert_eq!(ascii_key("2 × daily", b"", &mut buf), None);
    }
}
