//! The folded haystack: lower-case letters and digits only, so one pattern matches
//! `Smith`, `SMITH`, `S.M.I.T.H` and `51544914` in `MRN-5154-4914`; what was dropped is
//! kept as flags on the next kept byte, for the boundary rules of the matcher.

/// Something other than a letter or digit came before this character (or nothing did).
pub(super) const SEP: u8 = 1;
/// A lower-case letter came right before this upper-case one (`DouglasDavidson`).
pub(super) const CAMEL: u8 = 2;
/// Exactly one `.` separates this character from the previous one (`1.2.840`, `0.5`). A
/// comma does not join numbers: it separates fields (`id_old,id_new`) and values.
pub(super) const DOT: u8 = 4;
pub(super) const DIGIT: u8 = 8;
/// A script written without spaces between words (Han, kana, Hangul): no word
/// boundaries there.
pub(super) const FREE: u8 = 16;
/// Not the first byte of a character.
pub(super) const CONT: u8 = 32;
/// Raw bytes only: a control or binary byte was dropped before this one. A match never
/// spans it, so letters scattered through binary data do not spell a name.
pub(super) const BREAK: u8 = 64;

#[derive(Default)]
pub(super) struct Folded {
    pub bytes: Vec<u8>,
    flags: Vec<u8>,
    /// Offset of the character in the original text or bytes.
    origin: Vec<u32>,
}

/// Han, kana and Hangul: names in these scripts have no spaces to bound them.
pub(super) fn is_free(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x11FF | 0x3040..=0x30FF | 0x3100..=0x312F | 0x3130..=0x318F
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF
        | 0x20000..=0x2FFFF)
}

/// The folded form of a value: what dictionary entries are made of.
pub(super) fn fold_str(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

impl Folded {
    /// Folds decoded text.
    pub fn text(&mut self, s: &str) {
        self.clear();
        let (mut dropped, mut dot, mut prev_lower) = (0usize, false, false);
        let mut utf8 = [0u8; 4];
        for (off, c) in s.char_indices() {
            if !c.is_alphanumeric() {
                dropped += 1;
                dot = c == '.';
                prev_lower = false;
                continue;
            }
            let class = if c.is_numeric() {
                DIGIT
            } else if is_free(c) {
                FREE
            } else {
                0
            };
            let mut first = class;
            if self.bytes.is_empty() || dropped > 0 {
                first |= SEP;
            }
            if dropped == 1 && dot {
                first |= DOT;
            }
            if prev_lower && c.is_uppercase() {
                first |= CAMEL;
            }
            let mut lead = true;
            for lc in c.to_lowercase() {
                for &b in lc.encode_utf8(&mut utf8).as_bytes() {
                    self.bytes.push(b);
                    self.flags.push(if lead { first } else { class | CONT });
                    self.origin.push(off as u32);
                    lead = false;
                }
            }
            prev_lower = c.is_lowercase();
            dropped = 0;
        }
    }

    /// Folds raw bytes: ASCII letters and digits kept (lower-cased), bytes above 0x7F
    /// kept as they are (UTF-8 or Latin-1 text), other ASCII dropped; control bytes
    /// break words.
    pub fn raw(&mut self, data: &[u8]) {
        self.clear();
        let (mut dropped, mut dot, mut prev_lower, mut broken) = (0usize, false, false, false);
        for (off, &b) in data.iter().enumerate() {
            if b.is_ascii_alphanumeric() || b >= 0x80 {
                let mut f = if b.is_ascii_digit() { DIGIT } else { 0 };
                if self.bytes.is_empty() || dropped > 0 {
                    f |= SEP;
                }
                if dropped == 1 && dot {
                    f |= DOT;
                }
                if broken {
                    f |= BREAK;
                }
                if prev_lower && b.is_ascii_uppercase() {
                    f |= CAMEL;
                }
                self.bytes.push(b.to_ascii_lowercase());
                self.flags.push(f);
                self.origin.push(off as u32);
                prev_lower = b.is_ascii_lowercase();
                (dropped, broken) = (0, false);
            } else {
                dropped += 1;
                dot = b == b'.';
                broken |= !is_printable(b);
                prev_lower = false;
            }
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.flags.clear();
        self.origin.clear();
    }

    /// Offset in the original of the character at `i`.
    pub fn origin(&self, i: usize) -> usize {
        self.origin[i] as usize
    }

    /// A word boundary right before folded byte `i` (`i == len` is the end).
    pub fn boundary(&self, i: usize) -> bool {
        if i == 0 || i >= self.bytes.len() {
            return true;
        }
        let (f, p) = (self.flags[i], self.flags[i - 1]);
        f & CONT == 0 && (f & (SEP | CAMEL) != 0 || (f ^ p) & DIGIT != 0 || (f | p) & FREE != 0)
    }

    /// The digits before and at `i` belong to one number (nothing or a single `.`
    /// between them): a match may not start or end there (`1234` in `51234`, in `1.1234`).
    pub fn digit_joined(&self, i: usize) -> bool {
        if i == 0 || i >= self.bytes.len() {
            return false;
        }
        let (f, p) = (self.flags[i], self.flags[i - 1]);
        f & p & DIGIT != 0 && (f & SEP == 0 || f & DOT != 0)
    }

    /// Raw bytes: a control or binary byte lies inside `start..end`, or separators split
    /// it at more than every third character. Text writes values whole or in groups
    /// (`555-123-4567`, `12 Apr 1960`); one character per separator (`1\t2\t3\t4`) is
    /// a table of numbers or a ramp, not a value.
    pub fn broken(&self, start: usize, end: usize) -> bool {
        let inner = &self.flags[start + 1..end];
        inner.iter().any(|f| f & BREAK != 0)
            || inner.iter().filter(|f| *f & SEP != 0).count() * 3 > end - start
    }
}

/// Printable ASCII and the usual white space.
pub(super) fn is_printable(b: u8) -> bool {
    matches!(b, 0x20..=0x7E | b'\t' | b'\n' | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Folded {
        let mut f = Folded::default();
        f.text(s);
        f
    }

    #[test]
    fn folds_case_and_punctuation() {
        assert_eq!(text("Smith^John-Paul").bytes, b"smithjohnpaul");
        assert_eq!(fold_str("O'Brien, Mary"), "obrienmary");
        assert_eq!(fold_str("MÜLLER"), "müller");
        let f = text("Smith^John");
        assert!(f.boundary(5) && !f.boundary(4));
        assert_eq!(f.origin(5), 6);
    }

    #[test]
    fn camel_case_and_digits_are_boundaries() {
        let f = text("DouglasDavidson46198");
        assert!(f.boundary(7), "camel case");
        assert!(f.boundary(15), "letter to digit");
        assert!(!f.boundary(3));
        let caps = text("DOUGLASDAVIDSON");
        assert!(!caps.boundary(7));
    }

    #[test]
    fn numbers_are_not_split() {
        let f = text("1.2.840.51544914");
        let at = f.bytes.len() - 8;
        assert!(f.digit_joined(at), "a UID component is part of the UID");
        let f = text("MRN51544914");
        assert!(!f.digit_joined(3));
        let f = text("12-51544914");
        assert!(!f.digit_joined(2), "a dash separates two numbers");
    }

    #[test]
    fn raw_bytes_break_on_binary() {
        let mut f = Folded::default();
        f.raw(b"SM\x01ITH jo\x00hn DOE");
        assert_eq!(f.bytes, b"smithjohndoe");
        assert!(f.broken(0, 5), "smith spans a control byte");
        assert!(!f.broken(9, 12));
        assert_eq!(f.origin(9), 13);
        f.raw(b"1\t2\t3\t4\t5\t6 555-123-4567");
        assert!(f.broken(0, 6), "a ramp of numbers");
        assert!(!f.broken(6, 16), "a phone number in groups");
        f.raw("Müller".as_bytes());
        assert_eq!(f.bytes, "müller".as_bytes());
    }

    #[test]
    fn free_scripts_have_boundaries_everywhere() {
        let f = text("山田太郎");
        assert!(f.boundary(3) && f.boundary(6));
        assert!(!f.boundary(1), "inside a character");
    }
}
