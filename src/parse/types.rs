//! Normalisation of column types to PostgreSQL's canonical spelling, expression
//! volatility, and timeout values.

use crate::ops::SqlType;

/// A normalised type plus whether `serial`/`bigserial`/`smallserial` was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormType {
    pub ty: SqlType,
    pub serial: bool,
}

/// Normalises a type as written (or as sqlparser displays it) to PostgreSQL's canonical
/// name: `int4` → `integer`, `VARCHAR(10)` → `character varying(10)`, `timestamptz` →
/// `timestamp with time zone`, `serial` → `integer` with `serial: true`, arrays keep `[]`.
/// Unknown (user) types are lower-cased unless quoted.
pub fn normalize_type(written: &str) -> NormType {
    let s = written.trim();
    // Split off array brackets: `int[3][]` → base `int`, two dimensions.
    let mut base = s;
    let mut dims = 0usize;
    loop {
        let t = base.trim_end();
        if t.ends_with(']')
            && let Some(open) = t.rfind('[')
        {
            base = &t[..open];
            dims += 1;
            continue;
        }
        break;
    }
    let mut base = base.trim();
    if let Some(rest) = base
        .strip_suffix("ARRAY")
        .or_else(|| base.strip_suffix("array"))
        && rest.ends_with(char::is_whitespace)
    {
        base = rest.trim_end();
        dims = dims.max(1);
    }
    // Pull out the modifier group `( … )`, which may sit mid-name (`timestamp(3) with time zone`).
    let (words_text, mods) = match (base.find('('), base.rfind(')')) {
        (Some(a), Some(b)) if b > a => {
            let inner: String = base[a + 1..b]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let mut w = String::with_capacity(base.len());
            w.push_str(&base[..a]);
            w.push(' ');
            w.push_str(&base[b + 1..]);
            (w, Some(inner))
        }
        _ => (base.to_string(), None),
    };
    let quoted = words_text.contains('"');
    let folded = if quoted {
        words_text.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        words_text
            .split_whitespace()
            .map(|w| w.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let name = folded
        .strip_prefix("pg_catalog.")
        .unwrap_or(&folded)
        .to_string();
    let mut serial = false;
    let m = mods.as_deref();
    let canonical: String = match name.as_str() {
        "int" | "int4" | "integer" => "integer".into(),
        "int8" | "bigint" => "bigint".into(),
        "int2" | "smallint" => "smallint".into(),
        "serial" | "serial4" => {
            serial = true;
            "integer".into()
        }
        "bigserial" | "serial8" => {
            serial = true;
            "bigint".into()
        }
        "smallserial" | "serial2" => {
            serial = true;
            "smallint".into()
        }
        "varchar" | "character varying" | "char varying" => with_mods("character varying", m),
        "char" | "character" => with_mods("character", Some(m.unwrap_or("1"))),
        "bpchar" => with_mods("bpchar", m),
        "float" => match m.and_then(|p| p.parse::<u32>().ok()) {
            Some(p) if p <= 24 => "real".into(),
            _ => "double precision".into(),
        },
        "float8" | "double precision" | "double" => "double precision".into(),
        "float4" | "real" => "real".into(),
        "decimal" | "numeric" | "dec" => with_mods("numeric", m),
        "timestamp" | "timestamp without time zone" => zoned("timestamp", m, "without time zone"),
        "timestamptz" | "timestamp with time zone" => zoned("timestamp", m, "with time zone"),
        "time" | "time without time zone" => zoned("time", m, "without time zone"),
        "timetz" | "time with time zone" => zoned("time", m, "with time zone"),
        "bool" | "boolean" => "boolean".into(),
        "varbit" | "bit varying" => with_mods("bit varying", m),
        "bit" => with_mods("bit", Some(m.unwrap_or("1"))),
        other => with_mods(other, m),
    };
    let mut out = canonical;
    for _ in 0..dims {
        out.push_str("[]");
    }
    NormType {
        ty: SqlType(out),
        serial,
    }
}

fn with_mods(name: &str, mods: Option<&str>) -> String {
    match mods {
        Some(m) if !m.is_empty() => format!("{name}({m})"),
        _ => name.to_string(),
    }
}

/// `timestamp(3) with time zone`: PostgreSQL puts the precision before the zone words.
fn zoned(name: &str, mods: Option<&str>, zone: &str) -> String {
    format!("{} {zone}", with_mods(name, mods))
}

/// Functions whose result changes per row: a default calling one forces a table rewrite
/// when a column is added.
const VOLATILE: &[&str] = &[
    "random",
    "random_normal",
    "clock_timestamp",
    "timeofday",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "uuid_generate_v7",
    "nextval",
    "setval",
    "txid_current",
    "pg_current_xact_id",
    "gen_random_bytes",
    "gen_salt",
    "crypt",
    "nanoid",
];

/// True when `sql` calls a volatile function (`random()`, `nextval('s')`, …). Looks at
/// identifiers followed by `(`, skipping string literals and quoted identifiers, so
/// `'random()'` as text does not count. `now()` and `current_timestamp` are stable.
pub fn is_volatile(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let word = &sql[start..i];
            let mut j = i;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            // Qualified names (`public.gen_random_uuid()`) are checked on their last part,
            // which is the identifier directly before `(`.
            if b.get(j) == Some(&b'(') && VOLATILE.iter().any(|v| v.eq_ignore_ascii_case(word)) {
                return true;
            }
            continue;
        }
        i += 1;
    }
    false
}

/// Parses a `lock_timeout`/`statement_timeout` value to milliseconds: `1000`, `'5s'`,
/// `'100ms'`, `'1min'`, `'2h'`, `'1d'`, `'1.5s'`, `'250us'`. Bare numbers are milliseconds.
/// `None` for anything else (including `DEFAULT`).
pub fn parse_millis(value: &str) -> Option<u64> {
    let v = value.trim().trim_matches('\'').trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = n * factor;
    if !ms.is_finite() || ms < 0.0 || ms > u64::MAX as f64 {
        return None;
    }
    Some(ms.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_type_names() {
        let cases = [
            ("INT4", "integer", false),
            ("int", "integer", false),
            ("INT8", "bigint", false),
            ("int2", "smallint", false),
            ("serial", "integer", true),
            ("bigserial", "bigint", true),
            ("smallserial", "smallint", true),
            ("VARCHAR(255)", "character varying(255)", false),
            ("VARCHAR", "character varying", false),
            ("CHARACTER VARYING(5)", "character varying(5)", false),
            ("CHAR(3)", "character(3)", false),
            ("CHAR", "character(1)", false),
            ("FLOAT8", "double precision", false),
            ("FLOAT", "double precision", false),
            ("FLOAT(24)", "real", false),
            ("FLOAT4", "real", false),
            ("DECIMAL(10,2)", "numeric(10,2)", false),
            ("NUMERIC(10, 2)", "numeric(10,2)", false),
            ("TIMESTAMP", "timestamp without time zone", false),
            ("TIMESTAMPTZ", "timestamp with time zone", false),
            (
                "TIMESTAMP(3) WITH TIME ZONE",
                "timestamp(3) with time zone",
                false,
            ),
            (
                "TIME(2) WITHOUT TIME ZONE",
                "time(2) without time zone",
                false,
            ),
            ("TIMETZ", "time with time zone", false),
            ("BOOL", "boolean", false),
            ("TEXT[]", "text[]", false),
            ("INT[][]", "integer[][]", false),
            ("INT4[3]", "integer[]", false),
            ("VARCHAR(10)[]", "character varying(10)[]", false),
            ("DOUBLE PRECISION[]", "double precision[]", false),
            ("public.Citext", "public.citext", false),
            ("\"MyType\"", "\"MyType\"", false),
            ("pg_catalog.int4", "integer", false),
            ("JSONB", "jsonb", false),
        ];
        for (written, want, serial) in cases {
            let n = normalize_type(written);
            assert_eq!(n.ty.0, want, "{written}");
            assert_eq!(n.serial, serial, "{written}");
        }
    }

    #[test]
    fn volatility() {
        assert!(is_volatile("random()"));
        assert!(is_volatile("nextval('s'::regclass)"));
        assert!(is_volatile("public.gen_random_uuid()"));
        assert!(is_volatile("UUID_GENERATE_V4 ()"));
        assert!(is_volatile("clock_timestamp()"));
        assert!(!is_volatile("now()"));
        assert!(!is_volatile("CURRENT_TIMESTAMP"));
        assert!(!is_volatile("statement_timestamp()"));
        assert!(!is_volatile("'random()'"));
        assert!(!is_volatile("0"));
    }

    #[test]
    fn timeout_values() {
        assert_eq!(parse_millis("'5s'"), Some(5000));
        assert_eq!(parse_millis("100ms"), Some(100));
        assert_eq!(parse_millis("1000"), Some(1000));
        assert_eq!(parse_millis("'1min'"), Some(60_000));
        assert_eq!(parse_millis("0"), Some(0));
        assert_eq!(parse_millis("1.5s"), Some(1500));
        assert_eq!(parse_millis("'2 h'"), Some(7_200_000));
        assert_eq!(parse_millis("DEFAULT"), None);
        assert_eq!(parse_millis("'5 parsecs'"), None);
    }
}
