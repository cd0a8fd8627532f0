//! A first pass over `lockstep.yaml` with libyaml's event parser (the parser serde_yaml
//! itself uses), so anchors and aliases are refused before serde_yaml would expand them: one
//! anchored 1 MB string referenced 5,000 times is 5 GB once deserialised. A configuration
//! file has no use for them, and refusing them is simpler than bounding the expansion.

use std::mem::MaybeUninit;

/// An anchor (`&name`) or alias (`*name`) in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// `true` for an alias, `false` for an anchor.
    pub alias: bool,
    /// 0-based line and column (in characters) where the node starts.
    pub line: usize,
    pub column: usize,
}

/// The first anchor or alias of `text`, if any. Syntax errors end the scan quietly: the
/// deserialiser that runs next reports them with their place.
pub fn first_anchor_or_alias(text: &str) -> Option<Found> {
    // SAFETY: the parser is initialised before use and deleted once; the input outlives
    // it (it is borrowed for the whole function); each event is read only between a
    // successful `yaml_parser_parse` and its `yaml_event_delete`, and only through the union
    // field that matches the event's type. This mirrors serde_yaml's own use of libyaml.
    unsafe {
        let mut parser: Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>> =
            Box::new(MaybeUninit::uninit());
        let p = parser.as_mut_ptr();
        if unsafe_libyaml::yaml_parser_initialize(p).fail {
            return None;
        }
        unsafe_libyaml::yaml_parser_set_encoding(p, unsafe_libyaml::YAML_UTF8_ENCODING);
        unsafe_libyaml::yaml_parser_set_input_string(p, text.as_ptr(), text.len() as u64);
        let mut found = None;
        loop {
            let mut event = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
            let e = event.as_mut_ptr();
            if unsafe_libyaml::yaml_parser_parse(p, e).fail {
                break;
            }
            let ev = &*e;
            let anchored = match ev.type_ {
                unsafe_libyaml::YAML_ALIAS_EVENT => Some(true),
                unsafe_libyaml::YAML_SCALAR_EVENT => {
                    (!ev.data.scalar.anchor.is_null()).then_some(false)
                }
                unsafe_libyaml::YAML_SEQUENCE_START_EVENT => {
                    (!ev.data.sequence_start.anchor.is_null()).then_some(false)
                }
                unsafe_libyaml::YAML_MAPPING_START_EVENT => {
                    (!ev.data.mapping_start.anchor.is_null()).then_some(false)
                }
                _ => None,
            };
            let end = ev.type_ == unsafe_libyaml::YAML_STREAM_END_EVENT;
            let mark = ev.start_mark;
            unsafe_libyaml::yaml_event_delete(e);
            if let Some(alias) = anchored {
                found = Some(Found {
                    alias,
                    line: mark.line as usize,
                    column: mark.column as usize,
                });
                break;
            }
            if end {
                break;
            }
        }
        unsafe_libyaml::yaml_parser_delete(p);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_anchors_and_aliases_not_lookalikes() {
        assert_eq!(first_anchor_or_alias("a: 1\nb: [x, y]\n"), None);
        // `&` and `*` inside scalars, quotes and comments are not anchors or aliases.
        assert_eq!(
            first_anchor_or_alias("exclude: ['*.sql', \"&x\"]\nlayout: a&b # *c\nx: |\n  *y\n"),
            None
        );
        let f = first_anchor_or_alias("a: 1\nb: &big x\nc: *big\n").unwrap();
        assert_eq!((f.alias, f.line), (false, 1));
        // The event parser does not resolve aliases: an undefined one is found too.
        let f = first_anchor_or_alias("a: 1\nc: *nope\n").map(|f| (f.alias, f.line));
        assert_eq!(f, Some((true, 1)));
        let f = first_anchor_or_alias("rules:\n  - &r {a: 1}\n").unwrap();
        assert_eq!((f.alias, f.line), (false, 1));
    }
}
