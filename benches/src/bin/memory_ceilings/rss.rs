//! A proxy's resident memory while a load runs: VmRSS of all its processes sampled every
//! [`PERIOD`] while the clients do their work, keeping the highest.

use std::future::Future;
use std::time::Duration;

use portcullis_benches::harness::running::Running;

/// How often memory is read while a load runs.
pub const PERIOD: Duration = Duration::from_millis(250);

/// The highest of the samples so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Highest(u64);

impl Highest {
    /// Takes in one sample (bytes); returns it.
    pub fn take(&mut self, bytes: u64) -> u64 {
        self.0 = self.0.max(bytes);
        bytes
    }

    /// The highest sample, bytes (0 before any).
    pub fn bytes(self) -> u64 {
        self.0
    }
}

/// `running`'s memory, read while the clients run.
pub struct Watch<'a> {
    running: &'a Running,
    highest: Highest,
}

impl<'a> Watch<'a> {
    /// Watches `running`; nothing sampled yet.
    pub fn new(running: &'a Running) -> Watch<'a> {
        Watch {
            running,
            highest: Highest::default(),
        }
    }

    /// VmRSS now, summed over its processes (bytes), taken into the highest.
    pub fn sample(&mut self) -> u64 {
        self.highest.take(self.running.rss())
    }

    /// Runs `work` to its end, sampling every [`PERIOD`] meanwhile.
    pub async fn during<F: Future>(&mut self, work: F) -> F::Output {
        let mut tick = tokio::time::interval(PERIOD);
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = tick.tick() => {
                    self.sample();
                }
            }
        }
    }

    /// Samples for `span` while the clients go on.
    pub async fn over(&mut self, span: Duration) {
        self.during(tokio::time::sleep(span)).await;
        self.sample();
    }

    /// The highest VmRSS sampled.
    pub fn highest(&self) -> u64 {
        self.highest.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_sample_is_kept() {
        let mut highest = Highest::default();
        assert_eq!(highest.bytes(), 0);
        for sample in [30, 900, 450] {
            assert_eq!(highest.take(sample), sample);
        }
        assert_eq!(highest.bytes(), 900);
    }
}
