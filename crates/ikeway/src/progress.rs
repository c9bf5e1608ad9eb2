//! Progress of long operations, for a person watching: drawn on stderr only when stderr is a
//! terminal and the output is not JSON, so logs, pipes and scripts never see it.

use std::io::IsTerminal;

use ikeway_service::Phase;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether to draw progress: a terminal on stderr, and neither `--quiet` nor `--json`.
pub(crate) fn wanted(quiet_or_json: bool) -> bool {
    !quiet_or_json && std::io::stderr().is_terminal()
}

/// A byte-count bar (the demo's transfer), hidden unless [`wanted`].
pub(crate) fn bytes(total: u64, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), target(wanted(quiet)));
    bar.set_style(
        ProgressStyle::with_template("  {bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn target(shown: bool) -> ProgressDrawTarget {
    if shown { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() }
}

/// A connection's phases as a spinner line: `office [2/5] IKE_SA_INIT sent, ...`.
pub(crate) struct Phases {
    bar: ProgressBar,
    last: Option<Phase>,
}

impl Phases {
    /// Phases of connecting `name`; drawn only when `shown`.
    pub(crate) fn new(name: &str, shown: bool) -> Self {
        let bar = ProgressBar::with_draw_target(Some(Phase::Resolving.steps()), target(shown));
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{pos}/{len}] {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(name.to_owned());
        if shown {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        Self { bar, last: None }
    }

    /// Moves to `phase` (a repeat changes nothing).
    pub(crate) fn set(&mut self, phase: Phase) {
        if self.last != Some(phase) {
            self.last = Some(phase);
            // IKEv1 has one phase more than IKEv2; the first snapshot says which it is.
            self.bar.set_length(phase.steps());
            self.bar.set_position(phase.step());
            self.bar.set_message(phase.to_string());
        }
    }

    /// The phase last shown.
    pub(crate) fn current(&self) -> Option<Phase> {
        self.last
    }
}

impl Drop for Phases {
    /// The line goes away: what follows (connected, or the error) is printed as usual.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_move_only_on_change_and_stay_hidden_unless_shown() {
        let mut p = Phases::new("office", false);
        assert!(p.bar.is_hidden(), "not drawn when not wanted");
        assert_eq!(p.current(), None);
        p.set(Phase::InitSent);
        p.set(Phase::InitSent);
        assert_eq!((p.current(), p.bar.position()), (Some(Phase::InitSent), 2));
        assert_eq!(p.bar.message(), "IKE_SA_INIT sent, waiting for the server");
        p.set(Phase::Connected);
        assert_eq!(p.bar.position(), 5);
        let mut v1 = Phases::new("cisco", false);
        v1.set(Phase::Xauth);
        assert_eq!((v1.bar.position(), v1.bar.length()), (3, Some(6)));
        assert_eq!(
            v1.bar.message(),
            "phase 1 done, extended authentication (XAUTH) with the server"
        );
    }

    #[test]
    fn quiet_or_json_never_draws() {
        assert!(!wanted(true));
        assert!(bytes(100, true).is_hidden());
    }
}
