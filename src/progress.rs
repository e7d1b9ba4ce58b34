//! A progress bar on stderr for long runs.
//!
//! Takes "ticks done of total" updates from a run loop; gives an indicatif
//! bar once the run has taken more than a second, and nothing at all when
//! stderr is not a terminal (logs and CI output stay clean).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run goes before the bar appears.
const QUIET_FOR: Duration = Duration::from_secs(1);

/// A bar that shows itself only for runs longer than [`QUIET_FOR`].
pub struct Progress {
    started: Instant,
    enabled: bool,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress reporter, starting its clock now.
    pub fn new() -> Progress {
        Progress {
            started: Instant::now(),
            enabled: std::io::stderr().is_terminal(),
            bar: None,
        }
    }

    /// Records that `done` of `total` ticks have run.
    pub fn update(&mut self, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && done < total && self.started.elapsed() > QUIET_FOR {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {percent:>3}%  {human_pos}/{human_len} ticks  eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            if done >= total {
                bar.finish_and_clear();
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
