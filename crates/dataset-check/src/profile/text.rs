//! Reading a text once for the profile: character classes, the script of letters, and tokens.
//!
//! A token is a maximal run of letters and digits, lower-cased (`¿Dónde está el pedido 123?` → `dónde`, `está`,
//! `el`, `pedido`, `123`). ASCII goes through a table; other characters through the standard library's Unicode
//! properties and a handful of code-point ranges for scripts and punctuation — a classifier's vocabulary needs no
//! more, and the `unicode-*` crates would add tables the size of this crate.

use serde::{Deserialize, Serialize};

/// The class of a character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CharClass {
    /// Letters of any script.
    Letter,
    /// Digits and other numeric characters.
    Digit,
    /// White space.
    Space,
    /// Punctuation: ASCII's, `¡ ¿ « » ·`, general punctuation (U+2010–U+205E) and CJK punctuation.
    Punctuation,
    /// Control characters.
    Control,
    /// Everything else: symbols, emoji, marks.
    Symbol,
}

impl CharClass {
    /// Every class, in the order of the profiler's counters.
    pub const ALL: [CharClass; 6] = [
        CharClass::Letter,
        CharClass::Digit,
        CharClass::Space,
        CharClass::Punctuation,
        CharClass::Control,
        CharClass::Symbol,
    ];

    fn of(c: char) -> CharClass {
        if c.is_alphabetic() {
            CharClass::Letter
        } else if c.is_numeric() {
            CharClass::Digit
        } else if c.is_whitespace() {
            CharClass::Space
        } else if c.is_control() {
            CharClass::Control
        } else if is_punctuation(c) {
            CharClass::Punctuation
        } else {
            CharClass::Symbol
        }
    }
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(c, '¡' | '¿' | '«' | '»' | '·' | '§' | '¶')
        || ('\u{2010}'..='\u{205E}').contains(&c)
        || ('\u{3000}'..='\u{303F}').contains(&c)
        || ('\u{FF01}'..='\u{FF0F}').contains(&c)
}

/// The script of a letter, by Unicode block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Script {
    /// Latin, with its supplements and extensions.
    Latin,
    /// Greek.
    Greek,
    /// Cyrillic.
    Cyrillic,
    /// Hebrew, and Armenian (the block before it).
    Hebrew,
    /// Arabic.
    Arabic,
    /// Devanagari and the other Indic scripts.
    Indic,
    /// Thai, Lao and the other scripts of South-East Asia.
    SoutheastAsian,
    /// Han ideographs.
    Han,
    /// Hiragana and Katakana.
    Kana,
    /// Hangul.
    Hangul,
    /// Any other.
    Other,
}

impl Script {
    /// Every script, in the order of the profiler's counters.
    pub const ALL: [Script; 11] = [
        Script::Latin,
        Script::Greek,
        Script::Cyrillic,
        Script::Hebrew,
        Script::Arabic,
        Script::Indic,
        Script::SoutheastAsian,
        Script::Han,
        Script::Kana,
        Script::Hangul,
        Script::Other,
    ];

    fn of(c: char) -> Script {
        match u32::from(c) {
            0x41..=0x24F
            | 0x1E00..=0x1EFF
            | 0x2C60..=0x2C7F
            | 0xA720..=0xA7FF
            | 0xFF21..=0xFF5A => Script::Latin,
            0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
            0x400..=0x52F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
            0x530..=0x5FF | 0xFB1D..=0xFB4F => Script::Hebrew,
            0x600..=0x8FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => Script::Arabic,
            0x900..=0xDFF => Script::Indic,
            0xE00..=0xEFF | 0x1000..=0x109F | 0x1780..=0x17FF => Script::SoutheastAsian,
            0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Script::Kana,
            0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Script::Hangul,
            0x2E80..=0x2FDF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xF900..=0xFAFF
            | 0x20000..=0x3FFFF => Script::Han,
            _ => Script::Other,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What an ASCII byte is: its class, and its lower-case form (the byte itself when it has no case).
const ASCII: [(CharClass, u8); 128] = {
    let mut table = [(CharClass::Control, 0u8); 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        table[b] = if c.is_ascii_alphabetic() {
            (CharClass::Letter, c.to_ascii_lowercase())
        } else if c.is_ascii_digit() {
            (CharClass::Digit, c)
        } else if c == b' ' || (c >= 9 && c <= 13) {
            (CharClass::Space, c)
        } else if c.is_ascii_punctuation() {
            (CharClass::Punctuation, c)
        } else {
            (CharClass::Control, c)
        };
        b += 1;
    }
    table
};

/// Reads `text` once: counts its characters by class and its letters by script, and hands each token to `each`,
/// lower-cased, with whether it has a digit. A token already in lower case is handed out as a slice of `text`; only one that changes is
/// copied, into `lowered`, so most tokens cost no copy at all.
pub(super) fn scan(
    text: &str,
    classes: &mut [u64; CharClass::ALL.len()],
    scripts: &mut [u64; Script::ALL.len()],
    lowered: &mut String,
    mut each: impl FnMut(&str, bool),
) {
    let mut token = Token {
        text,
        start: None,
        lowered,
        copying: false,
        numeric: false,
    };
    let bytes = text.as_bytes();
    let mut packed = Packed {
        counts: 0,
        pending: 0,
    };
    let mut counts = Counts { classes, scripts };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            let (class, lower) = ASCII[usize::from(b)];
            packed.add(class, &mut counts);
            match class {
                CharClass::Letter | CharClass::Digit => token.ascii(i, b, lower),
                _ => token.end(i, &mut each),
            }
            i += 1;
            continue;
        }
        // A multi-byte character: `i` is on a boundary, since every step advances by a whole character.
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        if let Some(lower) = latin1_letter(c) {
            // Accented Latin letters (á, Ñ, ü…): the common case in European text, without Unicode tables.
            counts.classes[CharClass::Letter as usize] += 1;
            counts.scripts[Script::Latin.index()] += 1;
            token.other(i, c, Some(lower), false);
        } else {
            let class = CharClass::of(c);
            counts.classes[class as usize] += 1;
            match class {
                CharClass::Letter | CharClass::Digit => {
                    if class == CharClass::Letter {
                        counts.scripts[Script::of(c).index()] += 1;
                    }
                    token.other(i, c, single_lowercase(c), class == CharClass::Digit);
                }
                _ => token.end(i, &mut each),
            }
        }
        i += c.len_utf8();
    }
    token.end(bytes.len(), &mut each);
    packed.flush(&mut counts);
}

/// ASCII class counts packed in one register, [`PACK_BITS`] bits per class: adding a byte's increment is one
/// register add, where incrementing `classes[class]` per byte would stall on the counter just written.
struct Packed {
    counts: u64,
    pending: u32,
}

const PACK_BITS: u32 = 10;

impl Packed {
    #[inline]
    fn add(&mut self, class: CharClass, counts: &mut Counts<'_>) {
        self.counts += 1 << (PACK_BITS * class as u32);
        self.pending += 1;
        if self.pending == (1 << PACK_BITS) - 1 {
            self.flush(counts);
        }
    }

    /// Moves the packed counts to `counts`; ASCII letters are Latin.
    fn flush(&mut self, counts: &mut Counts<'_>) {
        for (i, count) in counts.classes.iter_mut().enumerate() {
            *count += (self.counts >> (PACK_BITS * i as u32)) & ((1 << PACK_BITS) - 1);
        }
        counts.scripts[Script::Latin.index()] +=
            (self.counts >> (PACK_BITS * CharClass::Letter as u32)) & ((1 << PACK_BITS) - 1);
        *self = Packed {
            counts: 0,
            pending: 0,
        };
    }
}

/// Where a scan counts characters.
struct Counts<'a> {
    classes: &'a mut [u64; CharClass::ALL.len()],
    scripts: &'a mut [u64; Script::ALL.len()],
}

/// The token being read.
struct Token<'t, 'b> {
    text: &'t str,
    /// Where it starts in `text`; `None` between tokens.
    start: Option<usize>,
    /// Its lower-cased copy, once a character of it changed case.
    lowered: &'b mut String,
    copying: bool,
    /// Whether it has a digit.
    numeric: bool,
}

impl Token<'_, '_> {
    /// Starts a token at `i` if none is open; returns its start.
    fn open(&mut self, i: usize) -> usize {
        *self.start.get_or_insert_with(|| {
            self.copying = false;
            self.numeric = false;
            i
        })
    }

    /// From here on the token differs from the text: copy what it has so far.
    fn copy_from_here(&mut self, start: usize, i: usize) {
        if !self.copying {
            self.copying = true;
            self.lowered.clear();
            self.lowered.push_str(&self.text[start..i]);
        }
    }

    fn ascii(&mut self, i: usize, byte: u8, lower: u8) {
        let start = self.open(i);
        self.numeric |= byte.is_ascii_digit();
        if lower != byte {
            self.copy_from_here(start, i);
        }
        if self.copying {
            self.lowered.push(char::from(lower));
        }
    }

    /// A letter or digit other than ASCII; `lower` is its lower case when that is one character.
    fn other(&mut self, i: usize, c: char, lower: Option<char>, digit: bool) {
        let start = self.open(i);
        self.numeric |= digit;
        if lower != Some(c) {
            self.copy_from_here(start, i);
        }
        if self.copying {
            match lower {
                Some(lower) => self.lowered.push(lower),
                None => self.lowered.extend(c.to_lowercase()),
            }
        }
    }

    /// Ends the token (if one is open) at `i`.
    fn end(&mut self, i: usize, each: &mut impl FnMut(&str, bool)) {
        if let Some(start) = self.start.take() {
            let token = if self.copying {
                self.lowered.as_str()
            } else {
                &self.text[start..i]
            };
            each(token, self.numeric);
        }
    }
}

/// The lower case of a Latin-1 letter (U+00C0–U+00FF but × and ÷), `None` for any other character.
fn latin1_letter(c: char) -> Option<char> {
    match c {
        '\u{C0}'..='\u{DE}' if c != '\u{D7}' => char::from_u32(u32::from(c) + 0x20),
        '\u{DF}'..='\u{FF}' if c != '\u{F7}' => Some(c),
        _ => None,
    }
}

/// The lower case of `c` when it is a single character.
fn single_lowercase(c: char) -> Option<char> {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => Some(l),
        _ => None,
    }
}

/// The tokens of `text`, lower-cased, as the profile counts them: what a monitor tokenizes new text with.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut classes = [0; CharClass::ALL.len()];
    let mut scripts = [0; Script::ALL.len()];
    scan(
        text,
        &mut classes,
        &mut scripts,
        &mut String::new(),
        |t, _| {
            out.push(t.to_owned());
        },
    );
    out
}
