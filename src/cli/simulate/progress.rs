//! A progress bar on stderr for long simulations, only when stderr is a terminal (a pipe or a
//! CI log gets no bar, so `--json` output and logs stay clean).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Below this many simulated ticks a run takes well under a second: no bar, no flicker.
const MIN_TICKS_FOR_BAR: u64 = 500_000;

/// Progress over all the ticks a command simulates (every policy on every trace).
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for `total_ticks`, shown only on a terminal and for a long run.
    pub fn new(total_ticks: u64) -> Self {
        let show = total_ticks >= MIN_TICKS_FOR_BAR && std::io::stderr().is_terminal();
        let bar = show.then(|| {
            let bar = ProgressBar::new(total_ticks);
            let style = ProgressStyle::with_template(
                "{prefix} {msg} [{bar:40}] {percent:>3}% {elapsed_precise} (eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Progress { bar }
    }

    /// A callback for one run that starts `done` ticks into the total, labelled `what`.
    pub fn run(&self, what: &str, done: u64) -> impl FnMut(usize) + '_ {
        if let Some(bar) = &self.bar {
            bar.set_message(what.to_string());
        }
        move |tick| {
            if let Some(bar) = &self.bar {
                bar.set_position(done + tick as u64);
            }
        }
    }

    /// Count `ticks` more as done (for runs on several threads, which cannot share a
    /// position).
    pub fn add(&self, ticks: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(ticks);
        }
    }

    /// Name the trace being simulated (for a run over several traces).
    pub fn trace(&self, name: &str) {
        if let Some(bar) = &self.bar {
            bar.set_prefix(name.to_string());
        }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
