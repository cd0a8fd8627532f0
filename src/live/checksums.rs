//! The checksums flyway and sqlx store for every applied migration, recomputed from the
//! files on disk the way each framework computes them, so `dry-run` can say which applied
//! migration was edited after it ran (the framework itself would refuse to migrate, or
//! worse, a fresh database built from the files would differ from production).
//!
//! | framework | column | how the framework computes it |
//! |---|---|---|
//! | sqlx | `_sqlx_migrations.checksum` (bytea) | SHA-384 of the migration file's bytes, exactly as read (the `.up.sql` file of a reversible migration) |
//! | flyway | `flyway_schema_history.checksum` (int) | CRC-32 over the script's lines without their terminators, a UTF-8 byte-order mark dropped from the first line, stored as a signed 32-bit int |
//!
//! flyway re-applies a repeatable (`R__`) migration whenever its checksum changes, so a
//! changed repeatable is not an error: it is pending again. flyway checksums a repeatable
//! after substituting its `${placeholders}`, whose values we do not know, so repeatables
//! that contain placeholders are not compared.

use super::LiveError;
use super::connect::Db;
use super::history::{History, normalize_version, quote_table};
use crate::source::{Layout, Migration, MigrationKind};
use serde::Serialize;
use sha2::{Digest, Sha384};
use std::collections::{HashMap, HashSet};

/// The checksum sqlx stores: SHA-384 of the file's bytes, nothing normalised (a changed
/// line ending or a byte-order mark changes it, as it does for sqlx).
pub fn sqlx_checksum(file: &[u8]) -> Vec<u8> {
    Sha384::digest(file).to_vec()
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the one `java.util.zip.CRC32`
/// computes; a 256-entry table built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// A running CRC-32 that, like Java's `CRC32.update`, can be fed in pieces.
struct Crc32(u32);

impl Crc32 {
    fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = CRC_TABLE[((self.0 ^ u32::from(b)) & 0xFF) as usize] ^ (self.0 >> 8);
        }
    }
    fn finish(&self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

/// The checksum flyway stores for a SQL script: the script is read line by line (a line
/// ends at `\n`, `\r\n` or a lone `\r`, the terminator is dropped), a byte-order mark is
/// removed from the first line, each line's UTF-8 bytes update one CRC-32, and the result
/// is kept as a signed 32-bit int. Line endings and blank lines therefore do not count.
pub fn flyway_checksum(text: &str) -> i32 {
    let mut crc = Crc32::new();
    for (i, line) in java_lines(text).enumerate() {
        let line = if i == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        crc.update(line.as_bytes());
    }
    // flyway casts the unsigned value to a Java int: the same 32 bits, read as signed.
    crc.finish() as i32
}

/// Lines as Java's `BufferedReader.readLine` returns them: split at `\n`, `\r\n` or `\r`.
fn java_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\n', '\r']) {
            Some(at) => {
                let line = &rest[..at];
                let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[at + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One applied migration whose file no longer has the checksum it was applied with.
#[derive(Debug, Clone, Serialize)]
pub struct ChecksumMismatch {
    /// The migration's id.
    pub migration: String,
    /// The file's name (`V1.1__create_employees.sql`).
    pub file: String,
    /// The file's path as found.
    pub path: String,
    /// `flyway-crc32` or `sqlx-sha384`.
    pub algorithm: &'static str,
    /// What the history table stores (flyway: the signed int; sqlx: hex).
    pub stored: String,
    /// What the file has now, computed the same way.
    pub current: String,
    /// A flyway repeatable migration: flyway re-applies it, so it is not an error.
    pub repeatable: bool,
    /// Counts as an error for the exit code (every mismatch but a repeatable's).
    pub error: bool,
}

impl ChecksumMismatch {
    /// The line `dry-run` prints. Long (sqlx) checksums are shortened; JSON has them whole.
    pub fn message(&self) -> String {
        let short = |s: &str| {
            if s.chars().count() > 16 {
                format!("{}…", s.chars().take(16).collect::<String>())
            } else {
                s.to_string()
            }
        };
        if self.repeatable {
            format!(
                "checksum changed: {} was applied with checksum {}, the file now has {}: \
                 it is a repeatable migration and will be re-applied (listed as pending)",
                self.file,
                short(&self.stored),
                short(&self.current)
            )
        } else {
            format!(
                "checksum mismatch: {} was applied with checksum {}, the file now has {}: \
                 the file was edited after it ran",
                self.file,
                short(&self.stored),
                short(&self.current)
            )
        }
    }
}

/// What comparing the stored checksums found.
#[derive(Debug, Clone, Default)]
pub struct ChecksumCheck {
    /// Applied migrations whose checksum differs, in folder order.
    pub mismatches: Vec<ChecksumMismatch>,
    /// How many applied migrations were compared.
    pub compared: usize,
    /// Things to tell the user (NULL checksums, placeholders, an unreadable column).
    pub notes: Vec<String>,
}

/// The newest successful row the history table has for one migration.
struct StoredRow {
    rank: i64,
    checksum: Option<Stored>,
}

enum Stored {
    Flyway(i32),
    Sqlx(Vec<u8>),
}

/// A JSON scalar (number or string) as text: versions are numbers in sqlx, strings in flyway.
fn scalar(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `\x0a1b…` (bytea in PostgreSQL's default hex output) → bytes.
fn bytea_hex(s: &str) -> Option<Vec<u8>> {
    let h = s.strip_prefix("\\x")?;
    if h.len() % 2 != 0 {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}

fn file_name(m: &Migration) -> String {
    m.up.path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| m.id.clone())
}

/// Reads the stored checksums (one query, only for the flyway and sqlx layouts) and
/// compares them with the files of the applied migrations. Changed flyway repeatables are
/// moved from `history.applied` to `history.pending`, since flyway will run them again.
///
/// The rows are read as JSON (`to_jsonb(row)`) so a history table with unexpected columns
/// (a `--history-table` of another shape) yields no comparison instead of a failed query,
/// which would abort the surrounding read-only transaction.
pub fn compare(
    db: &mut Db,
    layout: Layout,
    history: &mut History,
    migrations: &[Migration],
) -> Result<ChecksumCheck, LiveError> {
    let mut check = ChecksumCheck::default();
    if !matches!(layout, Layout::Flyway | Layout::Sqlx) || !history.found {
        return Ok(check);
    }
    let Some(table) = history.table.clone() else {
        return Ok(check);
    };
    let rows = db.query(
        "reading the stored checksums",
        &format!("SELECT to_jsonb(h)::text FROM {} h", quote_table(&table)),
        &[],
    )?;

    // Key → newest successful row: flyway versioned rows by version, repeatables by file
    // name (`R:` prefix), sqlx rows by version.
    let mut stored: HashMap<String, StoredRow> = HashMap::new();
    let mut unreadable = 0usize;
    for (i, row) in rows.iter().enumerate() {
        let text: String = row.get(0);
        let Ok(serde_json::Value::Object(obj)) = serde_json::from_str(&text) else {
            continue;
        };
        let flyway = obj.contains_key("installed_rank") && obj.contains_key("script");
        if !obj.contains_key("checksum") || !obj.contains_key("version") {
            // Not a table that stores checksums: nothing to compare.
            return Ok(check);
        }
        if obj.get("success").and_then(|v| v.as_bool()) == Some(false) {
            continue;
        }
        let (key, rank, checksum) = if flyway {
            // Only SQL migrations have a file checksum; baselines, schema markers, undo
            // scripts and Java migrations do not.
            if obj.get("type").and_then(|v| v.as_str()) != Some("SQL") {
                continue;
            }
            let key = match scalar(obj.get("version")) {
                Some(v) => normalize_version(&v),
                None => {
                    let script = scalar(obj.get("script")).unwrap_or_default();
                    // flyway records the path below its location; we match by file name.
                    let name = script.rsplit(['/', '\\']).next().unwrap_or(&script);
                    format!("R:{name}")
                }
            };
            let rank = obj
                .get("installed_rank")
                .and_then(|v| v.as_i64())
                .unwrap_or(i as i64);
            let checksum = obj
                .get("checksum")
                .and_then(|v| v.as_i64())
                .and_then(|n| i32::try_from(n).ok())
                .map(Stored::Flyway);
            (key, rank, checksum)
        } else {
            let Some(v) = scalar(obj.get("version")) else {
                continue;
            };
            let checksum = match obj.get("checksum") {
                Some(serde_json::Value::String(s)) => match bytea_hex(s) {
                    Some(b) => Some(Stored::Sqlx(b)),
                    None => {
                        unreadable += 1;
                        continue;
                    }
                },
                _ => None,
            };
            (normalize_version(&v), i as i64, checksum)
        };
        match stored.get(&key) {
            Some(old) if old.rank > rank => {}
            _ => {
                stored.insert(key, StoredRow { rank, checksum });
            }
        }
    }
    if unreadable > 0 {
        check.notes.push(format!(
            "{unreadable} checksums in {table} are not in bytea hex format and were not compared"
        ));
    }

    let applied: HashSet<&str> = history.applied.iter().map(String::as_str).collect();
    let mut null = Vec::new();
    let mut placeholders = Vec::new();
    for m in migrations
        .iter()
        .filter(|m| applied.contains(m.id.as_str()))
    {
        let file = file_name(m);
        let repeatable = m.kind == MigrationKind::Repeatable;
        let key = if repeatable {
            format!("R:{file}")
        } else {
            normalize_version(&m.version)
        };
        let Some(row) = stored.get(&key) else {
            continue;
        };
        let Some(checksum) = &row.checksum else {
            null.push(file);
            continue;
        };
        let (algorithm, was, now) = match checksum {
            Stored::Flyway(was) => {
                if repeatable && m.up.source.contains("${") {
                    placeholders.push(file);
                    continue;
                }
                let now = flyway_checksum(&m.up.source);
                ("flyway-crc32", was.to_string(), now.to_string())
            }
            Stored::Sqlx(was) => {
                let now = sqlx_checksum(m.up.source.as_bytes());
                ("sqlx-sha384", hex(was), hex(&now))
            }
        };
        check.compared += 1;
        if was != now {
            check.mismatches.push(ChecksumMismatch {
                migration: m.id.clone(),
                file,
                path: m.up.path.display().to_string(),
                algorithm,
                stored: was,
                current: now,
                repeatable,
                error: !repeatable,
            });
        }
    }
    if !null.is_empty() {
        check.notes.push(format!(
            "no stored checksum (NULL) for {}: not compared",
            null.join(", ")
        ));
    }
    if !placeholders.is_empty() {
        check.notes.push(format!(
            "repeatable migrations with ${{placeholders}} not compared (flyway checksums them \
             after substitution): {}",
            placeholders.join(", ")
        ));
    }

    // flyway runs a changed repeatable again: it is pending, after the versioned ones.
    let rerun: HashSet<&str> = check
        .mismatches
        .iter()
        .filter(|m| m.repeatable)
        .map(|m| m.migration.as_str())
        .collect();
    if !rerun.is_empty() {
        history.applied.retain(|id| !rerun.contains(id.as_str()));
        let pending: HashSet<&str> = history
            .pending
            .iter()
            .map(String::as_str)
            .chain(rerun.iter().copied())
            .collect();
        history.pending = migrations
            .iter()
            .filter(|m| pending.contains(m.id.as_str()))
            .map(|m| m.id.clone())
            .collect();
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected CRC-32 values were computed independently with Python's `zlib.crc32`
    // (the same zlib CRC-32 that `java.util.zip.CRC32` implements) and converted to a
    // signed 32-bit int by hand (value - 2^32 when ≥ 2^31):
    //   zlib.crc32(b"SELECT 1;")          = 0x04B2335C = 78787420
    //   zlib.crc32(b"SELECT 1;SELECT 2;") = 0x9CC09AFC = 2629868284 → -1665099012
    //   zlib.crc32(b"123456789")          = 0xCBF43926, the published CRC-32 check value.
    #[test]
    fn crc32_matches_the_published_check_value() {
        let mut c = Crc32::new();
        c.update(b"123456789");
        assert_eq!(c.finish(), 0xCBF4_3926);
    }

    #[test]
    fn flyway_checksum_of_one_line() {
        assert_eq!(flyway_checksum("SELECT 1;"), 78_787_420);
    }

    #[test]
    fn flyway_checksum_ignores_line_endings_blank_lines_and_a_leading_bom() {
        let want = flyway_checksum("SELECT 1;");
        for text in [
            "SELECT 1;\n",
            "SELECT 1;\r\n",
            "\u{feff}SELECT 1;\n",
            "\n\nSELECT 1;\r\r\n",
        ] {
            assert_eq!(flyway_checksum(text), want, "{text:?}");
        }
        // A BOM anywhere but the start of the first line is content.
        assert_ne!(flyway_checksum("\nSELECT 1;\u{feff}"), want);
    }

    #[test]
    fn flyway_checksum_is_signed_and_joins_lines_without_terminators() {
        let want = -1_665_099_012;
        assert_eq!(flyway_checksum("SELECT 1;\nSELECT 2;\n"), want);
        assert_eq!(flyway_checksum("SELECT 1;\r\nSELECT 2;"), want);
        assert_eq!(flyway_checksum("SELECT 1;\rSELECT 2;"), want);
        assert_ne!(flyway_checksum("SELECT 1; SELECT 2;"), want);
    }

    #[test]
    fn sqlx_checksum_is_sha384_of_the_bytes() {
        // FIPS 180-2, appendix D.1: SHA-384("abc").
        assert_eq!(
            hex(&sqlx_checksum(b"abc")),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7"
        );
        // Unlike flyway's, line endings count.
        assert_ne!(
            sqlx_checksum(b"SELECT 1;\n"),
            sqlx_checksum(b"SELECT 1;\r\n")
        );
    }

    #[test]
    fn reads_bytea_hex_output() {
        assert_eq!(bytea_hex("\\x00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(bytea_hex("\\x0"), None);
        assert_eq!(bytea_hex("\\000"), None);
        assert_eq!(bytea_hex("\\xzz"), None);
    }

    #[test]
    fn messages_name_the_file_and_both_checksums() {
        let m = ChecksumMismatch {
            migration: "V1_1__create_employees".into(),
            file: "V1.1__create_employees.sql".into(),
            path: "db/V1.1__create_employees.sql".into(),
            algorithm: "flyway-crc32",
            stored: "123".into(),
            current: "-45".into(),
            repeatable: false,
            error: true,
        };
        assert_eq!(
            m.message(),
            "checksum mismatch: V1.1__create_employees.sql was applied with checksum 123, \
             the file now has -45: the file was edited after it ran"
        );
        let r = ChecksumMismatch {
            repeatable: true,
            error: false,
            file: "R__views.sql".into(),
            ..m
        };
        assert!(
            r.message().contains("will be re-applied"),
            "{}",
            r.message()
        );
    }
}
