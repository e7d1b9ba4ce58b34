//! Letting the broker forget messages once what they caused is durable.
//!
//! Takes the number of messages the runner handled from each source since
//! the last sync, and the counters the MQTT links acknowledge from; gives
//! [`Release`], a token every observer that keeps something durable holds
//! until it has made everything it saw before the sync durable. When the
//! last holder calls [`Release::done`], the counts are added to the
//! counters (and the links acknowledge those messages). A holder that
//! drops its token without calling `done` — a history that could never
//! commit, a writer thread that is gone — keeps the counts from ever being
//! added, so the broker keeps those messages for the next run: a token
//! that is lost errs on the side of a duplicate, never of a lost message.
//!
//! An observer completes its tokens in the order it got them, so tokens
//! complete in the order the runner made them, which is the order the
//! links acknowledge in.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Messages handled since the last sync, acknowledged once every holder
/// is [`Release::done`] with it. Cloning gives another holder.
#[derive(Clone)]
pub struct Release {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    /// Messages handled per source.
    counts: Vec<u64>,
    /// What the links acknowledge from, per source.
    handled: Arc<[AtomicU64]>,
    /// Set when a holder let go without being done.
    abandoned: AtomicBool,
}

impl Release {
    /// A token for `counts` messages per source, to add to `handled`.
    pub fn new(counts: Vec<u64>, handled: Arc<[AtomicU64]>) -> Release {
        Release {
            inner: Some(Arc::new(Inner {
                counts,
                handled,
                abandoned: AtomicBool::new(false),
            })),
        }
    }

    /// This holder has made durable everything it saw before the token
    /// was made.
    pub fn done(mut self) {
        // Dropping the last reference releases the counts (`Inner::drop`).
        self.inner.take();
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.abandoned.store(true, Ordering::Release);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.abandoned.load(Ordering::Acquire) {
            return;
        }
        for (n, counter) in self.counts.iter().zip(self.handled.iter()) {
            counter.fetch_add(*n, Ordering::Release);
        }
    }
}

impl std::fmt::Debug for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts = self.inner.as_ref().map(|i| i.counts.as_slice());
        f.debug_struct("Release").field("counts", &counts).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(n: usize) -> Arc<[AtomicU64]> {
        (0..n).map(|_| AtomicU64::new(0)).collect()
    }

    fn read(c: &[AtomicU64]) -> Vec<u64> {
        c.iter().map(|a| a.load(Ordering::Acquire)).collect()
    }

    #[test]
    fn counts_are_released_when_the_last_holder_is_done() {
        let handled = counters(2);
        let token = Release::new(vec![3, 4], handled.clone());
        let other = token.clone();
        token.done();
        assert_eq!(read(&handled), [0, 0], "one holder is not done yet");
        other.done();
        assert_eq!(read(&handled), [3, 4]);
    }

    #[test]
    fn a_holder_that_lets_go_without_being_done_releases_nothing() {
        let handled = counters(1);
        let token = Release::new(vec![5], handled.clone());
        let other = token.clone();
        drop(token);
        other.done();
        assert_eq!(read(&handled), [0]);
        drop(Release::new(vec![1], handled.clone()));
        assert_eq!(read(&handled), [0]);
    }

    #[test]
    fn tokens_add_up() {
        let handled = counters(1);
        Release::new(vec![2], handled.clone()).done();
        Release::new(vec![3], handled.clone()).done();
        assert_eq!(read(&handled), [5]);
    }
}
