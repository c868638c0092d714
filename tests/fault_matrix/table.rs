//! `docs/faults.md`: written from the measured rows with `PRESCALE_WRITE_FAULTS=1`,
//! otherwise checked against them.

use crate::measure::Row;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The command that regenerates the file, as the file and the README give it.
pub const COMMAND: &str = "PRESCALE_WRITE_FAULTS=1 cargo test --test fault_matrix";

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/faults.md")
}

/// The whole file for `rows`.
pub fn render(rows: &[Row]) -> String {
    let total = |f: fn(&Row) -> u32| rows.iter().map(f).sum::<u32>();
    let mut out = String::new();
    let _ = write!(
        out,
        "# Fault matrix

Every fault below is a scenario of `tests/fault_matrix.rs`, run against the real controller:
in-process through the real kube client and the API double over HTTP (`tests/support/api_double`),
with prescale's real Prometheus client against a Prometheus double where the fault is
Prometheus's, and as two real `prescale run` processes for SIGSTOP and SIGKILL. Each scenario
asserts its property; the test fails when a figure is off its target. This file is written by
the test from what it measured:

```sh
{COMMAND}
```

and `cargo test` (CI) fails when this file differs from what the run measured. (Prometheus
stopped mid-run is tested against the real Prometheus too, at the level of the decision:
`tests/prometheus_outage.rs`.)

## Figures over the whole matrix

| figure | target | measured |
|---|---:|---:|
| panics (ticks that panicked, a panicked `run` task or process, any panic in the test process) | 0 | {} |
| scale-downs written while data was missing | 0 | {} |
| `/scale` writes by a second writer: a replica writing after another's first write without taking the Lease since (never two writers) | 0 | {} |
| good configs lost to an invalid reload | 0 | {} |
| faults recovered from within their bound | {} | {} |

## The matrix

Time to recover: from the fault's end to the first correct decision or write, in ticks of the
target (200 ms each here), or for a leader fault in seconds from the fault to the other replica
leading (and writing, where the scenario gives it something to write; Lease 3 s in-process,
4 s for the processes). The real clock makes it vary by a
tick between runs, so the table gives the bound every run must meet; the run prints what it
measured (`cargo test --test fault_matrix -- --nocapture`).

| # | fault | property that must hold | measured | panics | blind scale-downs | second-writer writes | configs lost | time to recover |
|---:|---|---|---|---:|---:|---:|---:|---|
",
        total(|r| r.figures.panics),
        total(|r| r.figures.blind_scale_downs),
        total(|r| r.figures.second_writer_writes),
        total(|r| r.figures.configs_lost),
        rows.len(),
        rows.iter().filter(|r| within_bound(r)).count(),
    );
    for (i, r) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            r.fault,
            r.property,
            r.measured.replace('|', "\\|"),
            r.figures.panics,
            r.figures.blind_scale_downs,
            r.figures.second_writer_writes,
            r.figures.configs_lost,
            r.recovery.cell()
        );
    }
    out
}

fn within_bound(row: &Row) -> bool {
    use crate::measure::Recovery;
    match row.recovery {
        Recovery::Ticks { took, bound } => took <= bound,
        Recovery::Seconds { took, bound } => took <= bound as f64,
    }
}

/// Write the file (`PRESCALE_WRITE_FAULTS=1`, never under `CI=true`) or fail unless it
/// is exactly what `rows` render.
pub fn write_or_check(rows: &[Row]) {
    let table = render(rows);
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let write = std::env::var("PRESCALE_WRITE_FAULTS").is_ok_and(|v| v == "1");
    if write && !ci {
        std::fs::write(path(), &table).expect("write docs/faults.md");
        return;
    }
    let committed = std::fs::read_to_string(path()).unwrap_or_default();
    assert!(
        committed == table,
        "docs/faults.md differs from what this run measured; regenerate it with `{COMMAND}`.\n\
         This run's table:\n{table}"
    );
}
