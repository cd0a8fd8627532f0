//! Lint throughput benchmark: how fast `lockstep lint` gets through a long migration history.
//!
//! ```text
//! cargo bench --bench lint_throughput -- [--sizes 1000,2000,5000,10000] [--layout plain|goose]
//!                                        [--format pretty|json] [--runs 3] [--no-binary]
//! ```
//!
//! For each size it generates a deterministic folder (see `migration_gen.rs`), then
//! 1. runs the library pipeline (`source::load` → `analyze::analyze` → `report::render`) in a
//!    fresh child process of this bench, which reports per-stage times and its own peak
//!    memory (VmHWM from /proc/self/status), best of `--runs`;
//! 2. runs the real release binary (`lockstep lint DIR --format F`, output discarded) and
//!    times it end to end, best of `--runs`.
//!
//! `--generate DIR N [plain|goose]` only writes the folder, for profiling by hand.
//!
//! Parsing runs on every core (rayon) while the replay and the rules run in order on one
//! thread; `RAYON_NUM_THREADS=1` gives one-core numbers. The report is written to a sink
//! that only counts its bytes, as `lockstep lint` streams it to stdout. The last lines
//! compare each size's time with the smallest size's (time per migration should stay flat
//! when growth is linear).

mod migration_gen;

use lockstep::analyze;
use lockstep::report::{self, Format, ReportContext};
use lockstep::settings::Settings;
use lockstep::source::{self, Layout};
use migration_gen::{GenLayout, GenStats, write_folder};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// Fixed so every run lints the same bytes.
const SEED: u64 = 0x10c4_57e9;

struct Options {
    sizes: Vec<usize>,
    layout: GenLayout,
    format: Format,
    runs: usize,
    binary: bool,
}

/// What one in-process run measured (printed by the child as one line of key=value pairs).
#[derive(Debug, Clone, Copy, Default)]
struct ChildRun {
    load_s: f64,
    analyze_s: f64,
    render_s: f64,
    total_s: f64,
    statements: usize,
    findings: usize,
    output_bytes: usize,
    peak_kb: u64,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--generate") {
        return generate(&args[1..]);
    }
    let opts = match parse_options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lint_throughput: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lint_throughput: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        sizes: vec![1_000, 2_000, 5_000, 10_000],
        layout: GenLayout::Plain,
        format: Format::Pretty,
        runs: 3,
        binary: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--sizes" => {
                o.sizes = value()?
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse::<usize>()
                            .map_err(|e| format!("--sizes: {e}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--layout" => {
                o.layout = match value()?.as_str() {
                    "plain" => GenLayout::Plain,
                    "goose" => GenLayout::Goose,
                    other => return Err(format!("--layout {other}: expected plain or goose")),
                }
            }
            "--format" => o.format = parse_format(&value()?)?,
            "--runs" => {
                o.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?;
                o.runs = o.runs.max(1);
            }
            "--no-binary" => o.binary = false,
            // `cargo bench` passes `--bench`; libtest-style filters are ignored too.
            _ => {}
        }
    }
    Ok(o)
}

fn parse_format(s: &str) -> Result<Format, String> {
    match s {
        "pretty" => Ok(Format::Pretty),
        "json" => Ok(Format::Json),
        "sarif" => Ok(Format::Sarif),
        other => Err(format!("--format {other}: expected pretty, json or sarif")),
    }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Pretty => "pretty",
        Format::Json => "json",
        Format::Sarif => "sarif",
        Format::Github => "github",
        Format::Gcc => "gcc",
        Format::Codeclimate => "codeclimate",
        Format::Junit => "junit",
        Format::Markdown => "markdown",
    }
}

fn run(o: &Options) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_lockstep"));
    let layout_name = match o.layout {
        GenLayout::Plain => "plain",
        GenLayout::Goose => "goose",
    };
    println!(
        "lint throughput: layout {layout_name}, format {}, best of {} run(s), seed {SEED:#x}",
        format_name(o.format),
        o.runs
    );
    let mut rows: Vec<(usize, GenStats, ChildRun, Option<f64>)> = Vec::new();
    for &n in &o.sizes {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let stats = write_folder(dir.path(), n, o.layout, SEED)
            .map_err(|e| format!("generating {n} migrations: {e}"))?;
        let mut best: Option<ChildRun> = None;
        for _ in 0..o.runs {
            let r = run_child(&exe, dir.path(), o.format)?;
            if best.is_none_or(|b| r.total_s < b.total_s) {
                best = Some(r);
            }
        }
        let best = best.unwrap_or_default();
        let bin_s = if o.binary {
            let mut b = f64::INFINITY;
            for _ in 0..o.runs {
                b = b.min(run_binary(&bin, dir.path(), o.format)?);
            }
            Some(b)
        } else {
            None
        };
        eprintln!(
            "  {n} migrations: {:.3} s in-process, {}",
            best.total_s,
            bin_s.map_or("binary skipped".to_string(), |s| format!("{s:.3} s binary"))
        );
        rows.push((n, stats, best, bin_s));
    }
    print_table(&rows);
    Ok(())
}

fn print_table(rows: &[(usize, GenStats, ChildRun, Option<f64>)]) {
    println!();
    println!(
        "| migrations | statements | SQL MB | load s | analyze s | render s | total s | files/s | MB/s | statements/s | peak RSS MB | binary s | binary MB/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, g, r, bin) in rows {
        let mb = g.bytes as f64 / 1e6;
        println!(
            "| {n} | {} | {mb:.1} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} | {:.1} | {:.0} | {:.0} | {} | {} |",
            r.statements,
            r.load_s,
            r.analyze_s,
            r.render_s,
            r.total_s,
            *n as f64 / r.total_s,
            mb / r.total_s,
            r.statements as f64 / r.total_s,
            r.peak_kb as f64 / 1024.0,
            bin.map_or("-".into(), |s| format!("{s:.3}")),
            bin.map_or("-".into(), |s| format!("{:.1}", mb / s)),
        );
    }
    if let Some((n0, _, r0, _)) = rows.first() {
        println!();
        println!("growth (time per migration relative to {n0} migrations; 1.00 = linear):");
        let base = r0.total_s / *n0 as f64;
        for (n, _, r, _) in rows {
            println!(
                "  {n:>6}: {:.2}x the time of {n0}, {:.2} per-migration ratio",
                r.total_s / r0.total_s,
                (r.total_s / *n as f64) / base
            );
        }
    }
    if let Some((_, _, r, _)) = rows.last() {
        println!();
        println!(
            "last size: {} findings, {} bytes of report",
            r.findings, r.output_bytes
        );
    }
}

fn run_child(exe: &Path, dir: &Path, format: Format) -> Result<ChildRun, String> {
    let out = Command::new(exe)
        .arg("--child")
        .arg(dir)
        .arg(format_name(format))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("spawning the measuring child: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "child failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut r = ChildRun::default();
    for kv in text.split_whitespace() {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        match k {
            "load" => r.load_s = v.parse().unwrap_or(0.0),
            "analyze" => r.analyze_s = v.parse().unwrap_or(0.0),
            "render" => r.render_s = v.parse().unwrap_or(0.0),
            "total" => r.total_s = v.parse().unwrap_or(0.0),
            "statements" => r.statements = v.parse().unwrap_or(0),
            "findings" => r.findings = v.parse().unwrap_or(0),
            "output" => r.output_bytes = v.parse().unwrap_or(0),
            "peak_kb" => r.peak_kb = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    Ok(r)
}

fn run_binary(bin: &Path, dir: &Path, format: Format) -> Result<f64, String> {
    let start = Instant::now();
    let status = Command::new(bin)
        .arg("lint")
        .arg(dir)
        .arg("--format")
        .arg(format_name(format))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    let secs = start.elapsed().as_secs_f64();
    // 0 = clean, 1 = findings at the fail-on level; anything else is a broken run.
    match status.code() {
        Some(0 | 1) => Ok(secs),
        _ => Err(format!("lockstep lint exited with {status}")),
    }
}

/// `--generate DIR N [plain|goose]`: writes the folder only (for profiling by hand).
fn generate(args: &[String]) -> ExitCode {
    let (Some(dir), Some(Ok(n))) = (args.first(), args.get(1).map(|n| n.parse::<usize>())) else {
        eprintln!("usage: --generate DIR N [plain|goose]");
        return ExitCode::from(2);
    };
    let layout = match args.get(2).map(String::as_str) {
        Some("goose") => GenLayout::Goose,
        _ => GenLayout::Plain,
    };
    let dir = Path::new(dir);
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| write_folder(dir, n, layout, SEED)) {
        eprintln!("{}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The measuring child: one pipeline run in a fresh process so VmHWM is this size's peak.
fn child(args: &[String]) -> ExitCode {
    let (Some(dir), Some(fmt)) = (args.first(), args.get(1)) else {
        eprintln!("usage: --child DIR FORMAT");
        return ExitCode::from(2);
    };
    let Ok(format) = parse_format(fmt) else {
        eprintln!("bad format {fmt}");
        return ExitCode::from(2);
    };
    let t0 = Instant::now();
    let loaded = match source::load(&[PathBuf::from(dir)], None, &[]) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let t1 = Instant::now();
    let settings = Settings {
        single_statement_autocommit: loaded.layout.implicit_transaction(),
        ..Settings::default()
    };
    let analysis = analyze::analyze(&loaded.migrations, &settings, &|_| true);
    let t2 = Instant::now();
    let cx = ReportContext {
        analysis: &analysis,
        settings: &settings,
        layout: loaded.layout,
        color: false,
    };
    let mut out = Counter(0);
    if let Err(e) = report::write(format, &cx, &mut out) {
        eprintln!("writing the report: {e}");
        return ExitCode::FAILURE;
    }
    let t3 = Instant::now();
    let _: Layout = loaded.layout;
    println!(
        "load={} analyze={} render={} total={} statements={} findings={} output={} peak_kb={}",
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        (t3 - t2).as_secs_f64(),
        (t3 - t0).as_secs_f64(),
        analysis.statements_total,
        analysis.findings.len(),
        out.0,
        peak_kb()
    );
    ExitCode::SUCCESS
}

/// A writer that keeps nothing and counts the bytes written.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// This process's peak resident set size (VmHWM), in KiB; 0 where /proc is missing.
fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
