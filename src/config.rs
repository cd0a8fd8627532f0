//! `lockstep.yaml`: found from the working directory upward, or given with `--config`.
//! Unknown keys and bad values are errors that point at the line in the file.

mod yaml_guard;

use crate::ops::ObjName;
use crate::settings::limits::{self, Bound};
use crate::settings::{RuleLevel, Settings, Severity, TableSize};
use crate::source::Layout;
use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const FILE_NAME: &str = "lockstep.yaml";

/// A configuration error with the place in the file.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{path}: {message}")]
#[diagnostic(code(lockstep::config))]
pub struct ConfigError {
    pub path: String,
    pub message: String,
    #[source_code]
    pub src: NamedSource<String>,
    #[label("{message}")]
    pub span: Option<SourceSpan>,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
}

/// A size written as a number (`1_000_000` or `1000000`) or with a unit (`48M`, `31GB`, `512MB`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity(pub u64);

/// A number as YAML writes it: integer (either sign, any size), float, or text with a unit.
enum RawNumber {
    I(i128),
    F(f64),
    S(String),
}

impl<'de> Deserialize<'de> for RawNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, v: i64) -> Result<RawNumber, E> {
                Ok(RawNumber::I(v as i128))
            }
            fn visit_u64<E>(self, v: u64) -> Result<RawNumber, E> {
                Ok(RawNumber::I(v as i128))
            }
            fn visit_i128<E>(self, v: i128) -> Result<RawNumber, E> {
                Ok(RawNumber::I(v))
            }
            fn visit_u128<E>(self, v: u128) -> Result<RawNumber, E> {
                Ok(RawNumber::I(v.min(i128::MAX as u128) as i128))
            }
            fn visit_f64<E>(self, v: f64) -> Result<RawNumber, E> {
                Ok(RawNumber::F(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<RawNumber, E> {
                Ok(RawNumber::S(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A size or count checked against `bound` (negative, fractional and overflowing values are
/// refused with the allowed range).
fn bounded_quantity<'de, D: Deserializer<'de>>(d: D, bound: Bound) -> Result<u64, D::Error> {
    let v: i128 = match RawNumber::deserialize(d).map_err(|_| {
        serde::de::Error::custom(format!(
            "expected a number (1_000_000) or a size with a unit (48M, 31GB, 512MB); allowed: {}",
            bound.range()
        ))
    })? {
        RawNumber::I(n) => n,
        RawNumber::F(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30 => f as i128,
        RawNumber::F(f) => {
            return Err(serde::de::Error::custom(format!(
                "{f} is not a whole number; allowed: {}",
                bound.range()
            )));
        }
        RawNumber::S(s) => {
            let t = s.trim();
            if t.starts_with('-') {
                return Err(serde::de::Error::custom(format!(
                    "`{s}` is negative; allowed: {}",
                    bound.range()
                )));
            } else {
                quantity_value(t)
                    .map(|v| v.round().min(1e30))
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            "`{s}` is not a size: write a number (1_000_000) or use a unit (48M, \
                         31GB, 512MB)"
                        ))
                    })? as i128
            }
        }
    };
    bound.check_i128(v).map_err(serde::de::Error::custom)
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        bounded_quantity(d, limits::ROWS.named("the value")).map(Quantity)
    }
}

/// `1_000_000`, `48M`, `1.5k`, `31GB`, `512MiB`, `10 kB` → the number.
pub fn parse_quantity(s: &str) -> Option<u64> {
    let v = quantity_value(s)?.round();
    // Beyond a bigint is no real size; `as` would saturate silently.
    (v.is_finite() && v <= i64::MAX as f64).then_some(v as u64)
}

/// The number a size or count stands for, unbounded.
fn quantity_value(s: &str) -> Option<f64> {
    let t: String = s
        .trim()
        .chars()
        .filter(|c| *c != '_' && *c != ' ')
        .collect();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0_f64.powi(4),
        _ => return None,
    };
    // Row counts with a suffix are decimal (48M rows = 48,000,000).
    let decimal = matches!(unit, "k" | "K" | "M" | "G" | "T");
    let mult = if decimal {
        match unit {
            "k" | "K" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            _ => 1e12,
        }
    } else {
        mult
    };
    Some(n * mult)
}

/// A duration written as `200ms`, `5s`, `2min`, or a number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Millis(pub Duration);

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bound = Bound {
            name: "the duration",
            min: 0,
            max: i32::MAX as u64,
            unit: limits::Unit::Millis,
            why_min: "",
        };
        bounded_millis(d, bound)
    }
}

/// A duration (`200ms`, `5s`, `2min`, or a number of milliseconds) checked against `bound`.
fn bounded_millis<'de, D: Deserializer<'de>>(d: D, bound: Bound) -> Result<Millis, D::Error> {
    let duration = match RawNumber::deserialize(d).map_err(|_| {
        serde::de::Error::custom(format!(
            "expected a duration such as 200ms, 5s or 2min; allowed: {}",
            bound.range()
        ))
    })? {
        RawNumber::I(n) => {
            let ms = bound.check_i128(n).map_err(serde::de::Error::custom)?;
            Duration::from_millis(ms)
        }
        RawNumber::F(f) => {
            if !f.is_finite() || f < 0.0 {
                return Err(serde::de::Error::custom(format!(
                    "{f} is not a duration; allowed: {}",
                    bound.range()
                )));
            }
            Duration::from_secs_f64((f / 1e3).min(1e12))
        }
        RawNumber::S(s) => {
            if s.trim().starts_with('-') {
                return Err(serde::de::Error::custom(format!(
                    "`{s}` is negative; allowed: {}",
                    bound.range()
                )));
            }
            parse_duration(&s).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "`{s}` is not a duration: write e.g. 200ms, 5s or 2min"
                ))
            })?
        }
    };
    bound
        .check_duration(duration)
        .map(Millis)
        .map_err(serde::de::Error::custom)
}

fn de_batch_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    bounded_quantity(d, limits::BATCH_SIZE).map(Some)
}
fn de_target_batch_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
    bounded_millis(d, limits::TARGET_BATCH_TIME).map(Some)
}
fn de_sleep<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
    bounded_millis(d, limits::SLEEP).map(Some)
}
fn de_max_replica_lag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
    bounded_millis(d, limits::MAX_REPLICA_LAG).map(Some)
}
fn de_throughput<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Quantity>, D::Error> {
    bounded_quantity(d, limits::THROUGHPUT).map(|q| Some(Quantity(q)))
}

/// `200ms`, `5s`, `1.5s`, `2min`, `1h`, `250` (ms).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" | "sec" => n * 1e3,
        "min" | "m" => n * 60e3,
        "h" => n * 3600e3,
        "us" => n / 1e3,
        _ => return None,
    };
    // Beyond ~31,000 years is no real duration; `as` would saturate silently.
    (0.0..1e15)
        .contains(&ms)
        .then(|| Duration::from_micros((ms * 1e3) as u64))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeHint {
    pub rows: Option<Quantity>,
    pub bytes: Option<Quantity>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillConfig {
    #[serde(default, deserialize_with = "de_batch_size")]
    pub batch_size: Option<u64>,
    #[serde(default, deserialize_with = "de_target_batch_time")]
    pub target_batch_time: Option<Millis>,
    #[serde(default, deserialize_with = "de_sleep")]
    pub sleep: Option<Millis>,
    #[serde(default, deserialize_with = "de_max_replica_lag")]
    pub max_replica_lag: Option<Millis>,
}

/// A per-rule level in the file.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Off,
    Info,
    Warning,
    Error,
}

/// One or several paths.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Paths {
    One(String),
    Many(Vec<String>),
}

/// The file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub migrations: Option<Paths>,
    pub layout: Option<String>,
    pub pg_version: Option<u32>,
    pub fail_on: Option<Severity>,
    pub large_table: Option<SizeHint>,
    pub tables: Option<BTreeMap<String, SizeHint>>,
    pub rules: Option<BTreeMap<String, Level>>,
    pub assume_lock_timeout: Option<bool>,
    pub exclude: Option<Vec<String>>,
    pub small_table_severity: Option<Severity>,
    pub unknown_table_severity: Option<Severity>,
    /// `rollback` (default: only rollback rules on down scripts) or `full`.
    pub down_scripts: Option<crate::settings::DownScripts>,
    /// The server's TimeZone (`UTC`, `Europe/Paris`): decides whether timestamp ↔
    /// timestamptz rewrites.
    pub server_timezone: Option<String>,
    pub backfill: Option<BackfillConfig>,
    /// Rewrite/scan throughput used for duration estimates, e.g. `100MB` (per second).
    #[serde(default, deserialize_with = "de_throughput")]
    pub throughput: Option<Quantity>,
}

/// Refuses YAML anchors and aliases: serde_yaml expands aliases, so a small file can become
/// gigabytes. For every YAML file lockstep reads from a repository (`lockstep.yaml`,
/// `lockstep.lock`, plan files). `Err` holds the 1-based line and the message.
pub fn refuse_yaml_aliases(text: &str) -> Result<(), (usize, String)> {
    match yaml_guard::first_anchor_or_alias(text) {
        None => Ok(()),
        Some(found) => Err((found.line + 1, yaml_alias_message(found.alias))),
    }
}

fn yaml_alias_message(alias: bool) -> String {
    format!(
        "YAML {} are not supported (they can expand a small file into gigabytes); write the \
         value out in full",
        if alias {
            "aliases (*name)"
        } else {
            "anchors (&name)"
        }
    )
}

/// A loaded configuration: the file's values, resolved, plus where it came from.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub file: ConfigFile,
    /// Migration paths, relative to the config file's directory.
    pub migrations: Vec<PathBuf>,
    pub layout: Option<Layout>,
}

impl Config {
    /// Finds `lockstep.yaml` in `start` or a parent directory.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        let mut dir = Some(start);
        while let Some(d) = dir {
            let p = d.join(FILE_NAME);
            if p.is_file() {
                return Some(p);
            }
            dir = d.parent();
        }
        None
    }

    /// Loads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, Box<ConfigError>> {
        use std::io::Read;
        let fail = |message: String| {
            Box::new(ConfigError {
                path: path.display().to_string(),
                message,
                src: NamedSource::new(path.display().to_string(), String::new()),
                span: None,
                line: None,
            })
        };
        // Checked before opening: a FIFO or device would block or never end.
        let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        if !meta.is_file() {
            return Err(fail("not a regular file".into()));
        }
        let too_big = |n: u64| {
            fail(format!(
                "the file is {n} bytes; a configuration file may be at most {} bytes (1 MiB)",
                limits::MAX_CONFIG_BYTES
            ))
        };
        if meta.len() > limits::MAX_CONFIG_BYTES {
            return Err(too_big(meta.len()));
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(limits::MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|e| fail(format!("cannot read: {e}")))?;
        // The file may have grown since it was measured.
        if bytes.len() as u64 > limits::MAX_CONFIG_BYTES {
            return Err(too_big(bytes.len() as u64));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            fail(format!(
                "not valid UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        Self::parse(path, &text)
    }

    /// Parses config text (`path` is used in messages and to resolve relative paths).
    pub fn parse(path: &Path, text: &str) -> Result<Config, Box<ConfigError>> {
        // A snippet of a file with huge lines costs seconds to draw and shows nothing useful:
        // then the message keeps `path:line` and the snippet is left out.
        let drawable = text.len() <= 256 * 1024 && text.lines().all(|l| l.len() <= 2048);
        let err = |message: String, offset: Option<usize>| {
            let line = offset.map(|o| text[..o.min(text.len())].matches('\n').count() + 1);
            let offset = offset.filter(|_| drawable);
            Box::new(ConfigError {
                path: match line {
                    Some(l) => format!("{}:{l}", path.display()),
                    None => path.display().to_string(),
                },
                message,
                src: NamedSource::new(
                    path.display().to_string(),
                    if drawable {
                        text.to_string()
                    } else {
                        String::new()
                    },
                ),
                span: offset.map(|o| {
                    let end = text[o..].find('\n').map(|i| o + i).unwrap_or(text.len());
                    SourceSpan::new(o.into(), end.saturating_sub(o).max(1))
                }),
                line,
            })
        };
        if text.len() as u64 > limits::MAX_CONFIG_BYTES {
            return Err(err(
                format!(
                    "the file is {} bytes; a configuration file may be at most {} bytes (1 MiB)",
                    text.len(),
                    limits::MAX_CONFIG_BYTES
                ),
                None,
            ));
        }
        if let Some(found) = yaml_guard::first_anchor_or_alias(text) {
            let line_start: usize = text
                .split_inclusive('\n')
                .take(found.line)
                .map(str::len)
                .sum();
            let offset = text[line_start.min(text.len())..]
                .char_indices()
                .nth(found.column)
                .map(|(i, _)| line_start + i)
                .unwrap_or(line_start)
                .min(text.len());
            return Err(err(yaml_alias_message(found.alias), Some(offset)));
        }
        let file: ConfigFile = if text.trim().is_empty() {
            ConfigFile::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| {
                let offset = e.location().map(|l| l.index());
                let msg = e.to_string();
                // serde_yaml appends " at line X column Y"; the label already shows where.
                let msg = match msg.find(" at line ") {
                    Some(i) => msg[..i].to_string(),
                    None => msg,
                };
                err(msg, offset)
            })?
        };
        let key_offset = |key: &str| -> Option<usize> {
            let mut off = 0;
            for line in text.split_inclusive('\n') {
                let t = line.trim_start();
                if t.starts_with(&format!("{key}:")) || t.starts_with(&format!("\"{key}\":")) {
                    return Some(off + (line.len() - t.len()));
                }
                off += line.len();
            }
            None
        };
        if let Some(v) = file.pg_version
            && !crate::locks::PG_VERSIONS.contains(&v)
        {
            return Err(err(
                format!("pg_version {v} is not supported (11 to 17)"),
                key_offset("pg_version"),
            ));
        }
        if let Some(patterns) = &file.exclude {
            if patterns.len() > limits::MAX_EXCLUDE_PATTERNS {
                return Err(err(
                    format!(
                        "{} exclude patterns; at most {} are allowed",
                        patterns.len(),
                        limits::MAX_EXCLUDE_PATTERNS
                    ),
                    key_offset("exclude"),
                ));
            }
            if let Some((i, p)) = patterns
                .iter()
                .enumerate()
                .find(|(_, p)| p.len() > limits::MAX_PATTERN_LEN)
            {
                return Err(err(
                    format!(
                        "exclude pattern {} is {} bytes long; at most {} bytes are allowed",
                        i + 1,
                        p.len(),
                        limits::MAX_PATTERN_LEN
                    ),
                    key_offset("exclude"),
                ));
            }
        }
        let layout = match &file.layout {
            None => None,
            Some(l) if l == "auto" => None,
            Some(l) => Some(<Layout as clap::ValueEnum>::from_str(l, true).map_err(|_| {
                err(
                    format!(
                        "unknown layout `{l}` (auto|{})",
                        crate::source::layout_names()
                    ),
                    key_offset("layout"),
                )
            })?),
        };
        if let Some(rules) = &file.rules {
            for id in rules.keys() {
                if crate::rules::meta(id).is_none() && crate::rules::aliases::alias(id).is_none() {
                    return Err(err(
                        format!("unknown rule `{id}` (see `lockstep rules`)"),
                        key_offset(id),
                    ));
                }
            }
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let migrations = match &file.migrations {
            None => Vec::new(),
            Some(Paths::One(p)) => vec![base.join(p)],
            Some(Paths::Many(ps)) => ps.iter().map(|p| base.join(p)).collect(),
        };
        Ok(Config {
            path: Some(path.to_path_buf()),
            file,
            migrations,
            layout,
        })
    }

    /// Applies the file's values onto `settings`.
    pub fn apply(&self, settings: &mut Settings) {
        let f = &self.file;
        if let Some(v) = f.pg_version {
            settings.pg_version = v;
        }
        if let Some(b) = f.assume_lock_timeout {
            settings.assume_lock_timeout = b;
        }
        if let Some(lt) = &f.large_table {
            // A threshold not written keeps its default.
            if let Some(r) = lt.rows {
                settings.large_table.rows = r.0;
            }
            if let Some(b) = lt.bytes {
                settings.large_table.bytes = b.0;
            }
        }
        if let Some(s) = f.small_table_severity {
            settings.small_table_severity = s;
        }
        if let Some(s) = f.unknown_table_severity {
            settings.unknown_table_severity = s;
        }
        if let Some(d) = f.down_scripts {
            settings.down_scripts = d;
        }
        if let Some(tz) = &f.server_timezone {
            settings.server_timezone = Some(tz.clone());
        }
        if let Some(tables) = &f.tables {
            for (name, hint) in tables {
                settings.tables.insert(
                    parse_table_name(name),
                    TableSize {
                        rows: hint.rows.map(|q| q.0),
                        bytes: hint.bytes.map(|q| q.0),
                    },
                );
            }
        }
        if let Some(rules) = &f.rules {
            for (id, level) in rules {
                let l = match level {
                    Level::Off => RuleLevel::Off,
                    Level::Info => RuleLevel::On(Severity::Info),
                    Level::Warning => RuleLevel::On(Severity::Warning),
                    Level::Error => RuleLevel::On(Severity::Error),
                };
                // An alias (e.g. drop-breaks-clients) sets every rule it stands for.
                match crate::rules::aliases::alias(id) {
                    Some(ids) => {
                        for real in ids {
                            settings.rules.insert((*real).to_string(), l);
                        }
                    }
                    None => {
                        settings.rules.insert(id.clone(), l);
                    }
                }
            }
        }
    }
}

/// `users` → public.users; `billing.invoices` → billing.invoices. Unquoted names fold to lower case.
pub fn parse_table_name(s: &str) -> ObjName {
    let fold = |p: &str| {
        if p.starts_with('"') && p.ends_with('"') && p.len() >= 2 {
            p[1..p.len() - 1].replace("\"\"", "\"")
        } else {
            p.to_lowercase()
        }
    };
    match s.split_once('.') {
        Some((schema, name)) => ObjName::new(fold(schema), fold(name)),
        None => ObjName::public(fold(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_durations() {
        assert_eq!(parse_quantity("1_000_000"), Some(1_000_000));
        assert_eq!(parse_quantity("48M"), Some(48_000_000));
        assert_eq!(parse_quantity("1GB"), Some(1 << 30));
        assert_eq!(parse_quantity("lots"), None);
        assert_eq!(parse_duration("200ms"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2min"), Some(Duration::from_secs(120)));
    }

    #[test]
    fn unknown_key_points_at_its_line() {
        let text = "pg_version: 15\nlayuot: diesel\n";
        let e = Config::parse(Path::new("lockstep.yaml"), text).unwrap_err();
        assert_eq!(e.line, Some(2), "{}", e.message);
        assert!(e.message.contains("layuot"), "{}", e.message);
    }

    #[test]
    fn bad_version_points_at_its_line() {
        let text = "layout: diesel\npg_version: 9\n";
        let e = Config::parse(Path::new("lockstep.yaml"), text).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("not supported"));
    }

    #[test]
    fn aliases_set_the_rules_they_stand_for() {
        let text = "rules:\n  drop-breaks-clients: off\n  truncate: warning\n";
        let c = Config::parse(Path::new("lockstep.yaml"), text).unwrap();
        let mut s = Settings::default();
        c.apply(&mut s);
        assert_eq!(s.rules.get("drop-column"), Some(&RuleLevel::Off));
        assert_eq!(s.rules.get("drop-table"), Some(&RuleLevel::Off));
        assert_eq!(
            s.rules.get("truncate"),
            Some(&RuleLevel::On(Severity::Warning))
        );
        let e =
            Config::parse(Path::new("lockstep.yaml"), "rules:\n  no-such-rule: off\n").unwrap_err();
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn sizes_apply_to_settings() {
        let text = "tables:\n  users: { rows: 50_000_000 }\n  Billing.Invoices: { bytes: 2GB }\nlarge_table: { rows: 1000 }\n";
        let c = Config::parse(Path::new("lockstep.yaml"), text).unwrap();
        let mut s = Settings::default();
        c.apply(&mut s);
        assert_eq!(
            s.size(&ObjName::public("users")).and_then(|t| t.rows),
            Some(50_000_000)
        );
        assert!(s.size(&ObjName::new("billing", "invoices")).is_some());
        assert_eq!(s.large_table.rows, 1000);
    }
}
