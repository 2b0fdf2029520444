//! Just enough of Rust's lexical grammar for the source checks: comments and string literals
//! blanked out (line breaks kept, so line numbers stay right), so a rule never fires on a word
//! in a comment, a doc example or a message.

/// What to blank besides comments.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    /// Keep string and character literals (to read an attribute's `reason = "..."`).
    Strings,
    /// Blank their contents too (to look at code only).
    CodeOnly,
}

/// `text` with every comment (line, block, doc) replaced by spaces and, unless
/// [`Keep::Strings`], the contents of every string and character literal too; byte offsets and
/// line breaks are kept.
pub(super) fn blank(text: &str, keep: Keep) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    // Copies `c`, or one space per byte of it when blanking (a line break always stays), so
    // byte offsets are the same in every blanked form of a text.
    let put = |out: &mut String, c: char, blanked: bool| {
        if blanked && c != '\n' {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        } else {
            out.push(c);
        }
    };
    let blank_strings = keep == Keep::CodeOnly;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                put(&mut out, chars[i], true);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    put(&mut out, chars[i], true);
                    i += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && (i == 0 || !is_ident(chars[i - 1]))
            && raw_string_start(&chars, i + usize::from(c == 'b') + 1).is_some()
        {
            // r"..." / r#"..."# / br"..."
            let open = i + usize::from(c == 'b') + 1;
            let hashes = raw_string_start(&chars, open).unwrap_or(0);
            let body = open + hashes + 1;
            for ch in &chars[i..body] {
                out.push(*ch);
            }
            i = body;
            while i < chars.len() {
                if chars[i] == '"' && (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#')) {
                    out.push('"');
                    out.extend(std::iter::repeat_n('#', hashes));
                    i += 1 + hashes;
                    break;
                }
                put(&mut out, chars[i], blank_strings);
                i += 1;
            }
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    put(&mut out, chars[i], blank_strings);
                    i += 1;
                }
                put(&mut out, chars[i], blank_strings);
                i += 1;
            }
            if i < chars.len() {
                out.push('"');
                i += 1;
            }
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), or a lifetime / label ('a).
            let end = if next == Some('\\') {
                (i + 2..chars.len()).find(|&k| chars[k] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.push('\'');
                    for ch in &chars[i + 1..end] {
                        put(&mut out, *ch, blank_strings);
                    }
                    out.push('\'');
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// At `i`: `#`* then `"`, the opening of a raw string after its `r`; the number of `#`s.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    let hashes = chars[i.min(chars.len())..].iter().take_while(|c| **c == '#').count();
    (chars.get(i + hashes) == Some(&'"')).then_some(hashes)
}

/// Byte offsets of `word` in `code` standing alone: not preceded or followed by an identifier
/// character (`print!` is not found in `eprint!`, `opendal` not in `opendal_x`).
pub(super) fn find_word(code: &str, word: &str) -> Vec<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let word_ends_in_ident = word.chars().last().is_some_and(is_ident);
    code.match_indices(word)
        .filter(|(at, _)| {
            let before = code[..*at].chars().next_back();
            let after = code[at + word.len()..].chars().next();
            !(before.is_some_and(is_ident) || word_ends_in_ident && after.is_some_and(is_ident))
        })
        .map(|(at, _)| at)
        .collect()
}

/// The 1-based line of byte offset `at`.
pub(super) fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_strings_are_blanked_with_lines_kept() {
        let src =
            "let a = \"println!(x) // no\"; // println!\n/* dbg!( /* nested */ ) */ b('\"', 'c, r#\"eprint!\"#)\n";
        let code = blank(src, Keep::CodeOnly);
        assert_eq!(code.lines().count(), 2);
        assert!(!code.contains("println") && !code.contains("dbg") && !code.contains("eprint"), "{code}");
        assert!(code.contains("b('") && code.contains("'c"), "{code}");
        let with_strings = blank(src, Keep::Strings);
        assert!(with_strings.contains("\"println!(x) // no\"") && !with_strings.contains("nested"));
        let accents = "/* é */ \"ü\" x";
        assert_eq!(blank(accents, Keep::CodeOnly).len(), accents.len(), "byte offsets are kept");
    }

    #[test]
    fn words_stand_alone() {
        assert_eq!(find_word("eprint!(x); print!(y)", "print!"), vec![12]);
        assert_eq!(find_word("opendal_x opendal::Operator", "opendal"), vec![10]);
    }
}
