//! Session settings of the original migration (`SET timezone = 'UTC'`, `SET search_path …`).
//!
//! In the original migration a `SET` changes how every later statement behaves: a
//! timestamp → timestamptz conversion reads `TimeZone`, unqualified names follow
//! `search_path`. A plan runs its steps in other files, other transactions, other
//! connections, so a setting cannot stay behind in a step of its own: each later step sets it
//! again and resets it at its end (nothing leaks onto the runner's connection), and the
//! functions a plan creates carry it as a `SET` clause (a trigger runs in the application's
//! session, not ours).

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

/// One setting in effect: `name` is lower case and made of `[a-z0-9_.]` only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetting {
    pub name: String,
    /// The value as written in the migration (`'UTC'`, `app, public`).
    pub value: String,
}

impl SessionSetting {
    pub fn set_sql(&self) -> String {
        format!("SET {} = {};", self.name, self.value)
    }

    pub fn reset_sql(&self) -> String {
        format!("RESET {};", self.name)
    }

    /// Whether a function may carry it as a `SET` clause (`role` and
    /// `session_authorization` may not).
    pub fn fits_function(&self) -> bool {
        !matches!(self.name.as_str(), "role" | "session_authorization")
    }
}

/// What one `SET` / `RESET` statement does to the settings in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChange {
    Set(SessionSetting),
    Reset(String),
    ResetAll,
}

/// Reads a `SET`/`RESET` statement; `None` for forms that do not travel (`SET TRANSACTION`,
/// `SET SESSION AUTHORIZATION`, `SET CONSTRAINTS`, timeouts, which every step sets itself)
/// or that lockstep cannot read.
pub fn read(text: &str) -> Option<SessionChange> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, text)
        .tokenize()
        .ok()?;
    // Drop comments and the trailing semicolon; keep inner whitespace for the value.
    let tokens: Vec<Token> = tokens
        .into_iter()
        .filter(|t| {
            !matches!(
                t,
                Token::Whitespace(Whitespace::SingleLineComment { .. })
                    | Token::Whitespace(Whitespace::MultiLineComment(_))
            )
        })
        .collect();
    let mut i = 0;
    let next_word = |i: &mut usize| -> Option<String> {
        while let Some(t) = tokens.get(*i) {
            *i += 1;
            match t {
                Token::Whitespace(_) => continue,
                Token::Word(w) if w.quote_style.is_none() => return Some(w.value.to_lowercase()),
                _ => return None,
            }
        }
        None
    };
    let verb = next_word(&mut i)?;
    match verb.as_str() {
        "reset" => {
            let name = read_name(&tokens, &mut i)?;
            if rest_is_empty(&tokens[i..]) {
                Some(if name == "all" {
                    SessionChange::ResetAll
                } else {
                    SessionChange::Reset(canonical(&name))
                })
            } else {
                None
            }
        }
        "set" => {
            let mut save = i;
            let mut first = next_word(&mut save)?;
            if first == "session" || first == "local" {
                // `save` already points past SESSION/LOCAL: the name starts there.
                i = save;
                first = next_word(&mut save)?;
            }
            let (name, value_from) = match first.as_str() {
                "transaction" | "constraints" | "session" => return None,
                "time" => {
                    let mut j = save;
                    if next_word(&mut j)? != "zone" {
                        return None;
                    }
                    ("timezone".to_string(), j)
                }
                "role" => ("role".to_string(), save),
                _ => {
                    let name = read_name(&tokens, &mut i)?;
                    let mut j = i;
                    skip_ws(&tokens, &mut j);
                    match tokens.get(j) {
                        Some(Token::Eq) => j += 1,
                        Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("to") => j += 1,
                        _ => return None,
                    }
                    (canonical(&name), j)
                }
            };
            if matches!(
                name.as_str(),
                "lock_timeout" | "statement_timeout" | "idle_in_transaction_session_timeout"
            ) {
                return None;
            }
            let value: String = tokens[value_from..]
                .iter()
                .filter(|t| !matches!(t, Token::SemiColon))
                .map(|t| t.to_string())
                .collect::<String>()
                .trim()
                .to_string();
            if value.is_empty() {
                return None;
            }
            if value.eq_ignore_ascii_case("default") {
                return Some(SessionChange::Reset(name));
            }
            Some(SessionChange::Set(SessionSetting { name, value }))
        }
        _ => None,
    }
}

/// PostgreSQL's names are case-insensitive; `TIME ZONE` and `TimeZone` are one setting.
fn canonical(name: &str) -> String {
    match name {
        "time zone" => "timezone".into(),
        n => n.to_string(),
    }
}

fn skip_ws(tokens: &[Token], i: &mut usize) {
    while matches!(tokens.get(*i), Some(Token::Whitespace(_))) {
        *i += 1;
    }
}

/// A setting name: unquoted words joined by dots (`timezone`, `myapp.tenant`).
fn read_name(tokens: &[Token], i: &mut usize) -> Option<String> {
    skip_ws(tokens, i);
    let mut name = String::new();
    loop {
        match tokens.get(*i) {
            Some(Token::Word(w)) if w.quote_style.is_none() => {
                name.push_str(&w.value.to_lowercase());
                *i += 1;
            }
            _ => return None,
        }
        if matches!(tokens.get(*i), Some(Token::Period)) {
            name.push('.');
            *i += 1;
        } else {
            break;
        }
    }
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        .then_some(name)
}

fn rest_is_empty(tokens: &[Token]) -> bool {
    tokens
        .iter()
        .all(|t| matches!(t, Token::Whitespace(_) | Token::SemiColon))
}

/// Applies `change` to the settings in effect.
pub fn apply(settings: &mut Vec<SessionSetting>, change: SessionChange) {
    match change {
        SessionChange::Set(s) => {
            settings.retain(|x| x.name != s.name);
            settings.push(s);
        }
        SessionChange::Reset(name) => settings.retain(|x| x.name != name),
        SessionChange::ResetAll => settings.clear(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, value: &str) -> Option<SessionChange> {
        Some(SessionChange::Set(SessionSetting {
            name: name.into(),
            value: value.into(),
        }))
    }

    #[test]
    fn reads_the_forms_migrations_use() {
        assert_eq!(read("SET timezone = 'UTC';"), set("timezone", "'UTC'"));
        assert_eq!(read("SET TIME ZONE 'UTC'"), set("timezone", "'UTC'"));
        assert_eq!(
            read("set TimeZone to 'Europe/Berlin'"),
            set("timezone", "'Europe/Berlin'")
        );
        assert_eq!(
            read("SET search_path TO app, public;"),
            set("search_path", "app, public")
        );
        assert_eq!(
            read("SET LOCAL search_path = app"),
            set("search_path", "app")
        );
        assert_eq!(read("SET ROLE owner"), set("role", "owner"));
        assert_eq!(read("SET myapp.tenant = '7'"), set("myapp.tenant", "'7'"));
        assert_eq!(
            read("RESET timezone"),
            Some(SessionChange::Reset("timezone".into()))
        );
        assert_eq!(read("RESET ALL;"), Some(SessionChange::ResetAll));
        assert_eq!(
            read("SET search_path TO DEFAULT"),
            Some(SessionChange::Reset("search_path".into()))
        );
    }

    #[test]
    fn leaves_out_what_every_step_sets_itself() {
        assert_eq!(read("SET lock_timeout = '5s'"), None);
        assert_eq!(read("SET statement_timeout TO 0"), None);
        assert_eq!(read("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"), None);
        assert_eq!(read("SET SESSION AUTHORIZATION bob"), None);
        assert_eq!(read("SET CONSTRAINTS ALL DEFERRED"), None);
        assert_eq!(read("SET \"Weird\" = 1"), None);
    }

    #[test]
    fn later_settings_replace_earlier_ones() {
        let mut s = Vec::new();
        apply(&mut s, read("SET timezone = 'UTC'").unwrap());
        apply(&mut s, read("SET search_path = app").unwrap());
        apply(&mut s, read("SET timezone = 'CET'").unwrap());
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].value, "'CET'");
        apply(&mut s, read("RESET search_path").unwrap());
        assert_eq!(s.len(), 1);
        apply(&mut s, read("RESET ALL").unwrap());
        assert!(s.is_empty());
    }
}
