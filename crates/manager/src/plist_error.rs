//! Why bytes are not a property list, in words.
//!
//! The `plist` crate's `Display` is the `Debug` of its error kind (`Io(Error { kind:
//! UnexpectedEof, .. })`, `InvalidXmlSyntax (offset 51)`), which must not reach a person.
//! Its public API tells end of input and I/O apart; the kind is otherwise only in that text,
//! so the leading identifier is read from it and translated, and anything unknown becomes
//! plain words without the Debug punctuation.

/// What kinds of damage read as, by the `plist` kind's name.
const KINDS: &[(&str, &str)] = &[
    ("InvalidXmlSyntax", "the XML is malformed"),
    ("UnclosedXmlElement", "an XML element is not closed"),
    ("UnexpectedXmlCharactersExpectedElement", "there is text where an XML element belongs"),
    ("UnexpectedXmlOpeningTag", "it has an XML element a property list cannot have"),
    ("UnknownXmlElement", "it has an XML element a property list cannot have"),
    ("InvalidXmlUtf8", "the text is not valid UTF-8"),
    ("InvalidUtf8AsciiStream", "the text is not valid UTF-8"),
    ("InvalidDataString", "a <data> value is not base64"),
    ("InvalidDateString", "a <date> value is not a date"),
    ("InvalidIntegerString", "an <integer> value is not an integer"),
    ("InvalidRealString", "a <real> value is not a number"),
    ("ExpectedEndOfEventStream", "it is text, not a property list"),
    ("UnexpectedEndOfEventStream", "it is not a property list"),
    ("UnexpectedEventType", "its structure is not a property list's"),
];

/// Binary property list damage: one sentence for all of it.
const BINARY_KINDS: &[&str] = &[
    "ObjectTooLarge",
    "InvalidMagic",
    "InvalidTrailerObjectOffsetSize",
    "InvalidTrailerObjectReferenceSize",
    "InvalidObjectLength",
    "ObjectReferenceTooLarge",
    "ObjectOffsetTooLarge",
    "RecursiveObject",
    "NullObjectUnimplemented",
    "FillObjectUnimplemented",
    "IntegerOutOfRange",
    "OverflowOrNanDate",
    "InvalidUtf8String",
    "InvalidUtf16String",
    "UnknownObjectType",
];

/// The byte offset the `plist` crate appends as ` (offset N)`.
fn offset(shown: &str) -> Option<u64> {
    let rest = &shown[shown.rfind("(offset ")? + "(offset ".len()..];
    rest.strip_suffix(')')?.parse().ok()
}

/// `SomeKindName` as `some kind name`.
fn words(identifier: &str) -> String {
    let mut out = String::new();
    for c in identifier.chars() {
        if c.is_ascii_uppercase() && !out.is_empty() {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A sentence saying why `e` stopped the parse of `len` bytes, with the byte where it did
/// when known. An element left open at the very end is the end itself: a cut file.
pub(crate) fn describe(e: &plist::Error, len: usize) -> String {
    let shown = e.to_string();
    let at = offset(&shown);
    let kind: String = shown.chars().take_while(char::is_ascii_alphanumeric).collect();
    let cut_off = e.is_eof()
        || e.as_io().is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
        || (kind == "UnclosedXmlElement" && at.is_some_and(|n| n >= len as u64));
    if cut_off {
        return match at {
            None | Some(0) => "the file is empty".into(),
            Some(n) => format!("it ends at byte {n}, in the middle (is the file truncated?)"),
        };
    }
    if let Some(io) = e.as_io() {
        return format!("reading it failed: {io}");
    }
    let what = match KINDS.iter().find(|(k, _)| *k == kind) {
        Some((_, sentence)) => (*sentence).to_owned(),
        None if BINARY_KINDS.contains(&kind.as_str()) => {
            "it is a damaged binary property list".into()
        }
        None if kind.is_empty() => "it is not a property list".into(),
        None => format!("it is not a property list ({})", words(&kind)),
    };
    match at {
        Some(n) => format!("{what} (at byte {n})"),
        None => what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>PayloadType</key><string>Configuration</string></dict></plist>"#;

    fn parse(bytes: &[u8]) -> String {
        let e = plist::Value::from_reader(std::io::Cursor::new(bytes)).expect_err("not a plist");
        describe(&e, bytes.len())
    }

    #[test]
    fn truncated_and_empty_files_say_so() {
        assert_eq!(parse(b""), "the file is empty");
        // Cut inside a tag and between elements: plist reports either as its own kind.
        for cut in [100, 130] {
            assert_eq!(
                parse(&PROFILE[..cut]),
                format!("it ends at byte {cut}, in the middle (is the file truncated?)")
            );
        }
    }

    #[test]
    fn malformed_xml_names_the_fault_and_the_byte() {
        assert_eq!(
            parse(b"<plist><dict><key>a</key><string>b</string></plist>"),
            "the XML is malformed (at byte 51)"
        );
        let bad = String::from_utf8_lossy(PROFILE)
            .replace("<string>Configuration</string>", "<integer>twelve</integer>");
        assert_eq!(parse(bad.as_bytes()), "an <integer> value is not an integer (at byte 113)");
    }

    #[test]
    fn text_and_damaged_binary_lists_are_told_apart() {
        assert_eq!(parse(b"hello world"), "it is text, not a property list");
        assert_eq!(parse(b"{\"json\": true}"), "it is not a property list");
        let mut binary = Vec::new();
        plist::Value::Dictionary(plist::Dictionary::new())
            .to_writer_binary(&mut binary)
            .expect("in memory");
        binary.truncate(binary.len() - 5);
        assert_eq!(parse(&binary), "it is a damaged binary property list (at byte 5)");
    }

    #[test]
    fn no_debug_text_survives_whatever_the_kind() {
        for input in [&b""[..], &PROFILE[..60], b"hello world", b"<plist><dict></plist>"] {
            let text = parse(input);
            for debug in ["{", "}", "Error", "kind:", "Io("] {
                assert!(!text.contains(debug), "{text:?} shows {debug:?}");
            }
        }
        assert_eq!(words("UnexpectedEventType"), "unexpected event type");
        assert_eq!(offset("X (offset 42)"), Some(42));
        assert_eq!(offset("X"), None);
    }
}
