//! The breaker's sliding window: call, failure and slow counts in fixed time buckets.
//!
//! A ring of at most [`MAX_BUCKETS`] buckets, each tagged with the absolute bucket number it
//! counts, so stale buckets are recognised (and skipped) without a timer sweeping them.

/// Upper bound on buckets, so the window lives inline in the breaker (no allocation).
pub const MAX_BUCKETS: usize = 60;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Absolute bucket number (`elapsed / bucket_len`); counts are valid only for it.
    index: u64,
    calls: u32,
    failures: u32,
    slow: u32,
}

/// Totals over the live part of the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Calls that completed (successes, failures and slow calls).
    pub calls: u32,
    /// Failed calls.
    pub failures: u32,
    /// Calls slower than the endpoint's threshold.
    pub slow: u32,
}

/// What one completed call was, for the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// Completed in time.
    Ok,
    /// Failed.
    Failure,
    /// Completed, but slower than the threshold.
    Slow,
}

/// A bucketed sliding window over `buckets × bucket_ns` nanoseconds.
#[derive(Debug, Clone)]
pub struct Window {
    buckets: [Bucket; MAX_BUCKETS],
    len: u64,
    bucket_ns: u64,
    /// Newest bucket number recorded into; buckets are expired up to it in order.
    head: u64,
    /// Running totals of the live buckets as of `head` (so recording needs no scan).
    sum: Totals,
}

impl Window {
    /// `buckets` (clamped to 1..=[`MAX_BUCKETS`]) buckets of `bucket_ns` (≥ 1) each.
    pub fn new(buckets: usize, bucket_ns: u64) -> Self {
        Self {
            buckets: [Bucket { index: u64::MAX, ..Bucket::default() }; MAX_BUCKETS],
            len: buckets.clamp(1, MAX_BUCKETS) as u64,
            bucket_ns: bucket_ns.max(1),
            head: 0,
            sum: Totals::default(),
        }
    }

    /// Moves the window forward to bucket `index`, dropping what fell out of it.
    fn advance(&mut self, index: u64) {
        if index <= self.head {
            return;
        }
        if index - self.head >= self.len || self.sum.calls == 0 {
            self.clear();
        } else {
            for i in self.head + 1..=index {
                let b = &mut self.buckets[(i % self.len) as usize];
                if b.index != u64::MAX {
                    self.sum.calls -= b.calls;
                    self.sum.failures -= b.failures;
                    self.sum.slow -= b.slow;
                }
                *b = Bucket { index: u64::MAX, ..Bucket::default() };
            }
        }
        self.head = index;
    }

    /// Totals after the last [`Window::record`], without scanning (what a trip check needs).
    pub fn current(&self) -> Totals {
        self.sum
    }

    /// Counts one completed call at `at_ns` (nanoseconds since the breaker's origin).
    pub fn record(&mut self, at_ns: u64, sample: Sample) {
        // Time never runs backwards here (monotonic `now`); a late sample joins the newest bucket.
        let index = (at_ns / self.bucket_ns).max(self.head);
        self.advance(index);
        let b = &mut self.buckets[(index % self.len) as usize];
        if b.index != index {
            *b = Bucket { index, ..Bucket::default() };
        }
        // A bucket's counts are bounded by its calls; saturate rather than wrap.
        if b.calls == u32::MAX {
            return;
        }
        b.calls += 1;
        self.sum.calls += 1;
        match sample {
            Sample::Ok => {}
            Sample::Failure => {
                b.failures += 1;
                self.sum.failures += 1;
            }
            Sample::Slow => {
                b.slow += 1;
                self.sum.slow += 1;
            }
        }
    }

    /// Totals over the buckets that still fall inside the window at `at_ns`.
    pub fn totals(&self, at_ns: u64) -> Totals {
        let current = at_ns / self.bucket_ns;
        let oldest = current.saturating_sub(self.len - 1);
        let mut t = Totals::default();
        for b in &self.buckets[..self.len as usize] {
            if b.index != u64::MAX && b.index >= oldest && b.index <= current {
                t.calls = t.calls.saturating_add(b.calls);
                t.failures = t.failures.saturating_add(b.failures);
                t.slow = t.slow.saturating_add(b.slow);
            }
        }
        t
    }

    /// Forgets everything (on closing, the past no longer counts).
    pub fn clear(&mut self) {
        for b in &mut self.buckets {
            *b = Bucket { index: u64::MAX, ..Bucket::default() };
        }
        self.sum = Totals::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn counts_inside_window_and_forgets_old_buckets() {
        let mut w = Window::new(10, S);
        for i in 0..10 {
            w.record(i * S, if i % 2 == 0 { Sample::Failure } else { Sample::Ok });
        }
        w.record(9 * S + 1, Sample::Slow);
        assert_eq!(w.totals(9 * S), Totals { calls: 11, failures: 5, slow: 1 });
        assert_eq!(w.current(), w.totals(9 * S));
        // One second later, bucket 0 (a failure) has left the window.
        assert_eq!(w.totals(10 * S), Totals { calls: 10, failures: 4, slow: 1 });
        // Far later, nothing is left; a reused slot is reset, not added to.
        assert_eq!(w.totals(100 * S), Totals::default());
        w.record(100 * S, Sample::Ok);
        assert_eq!(w.totals(100 * S), Totals { calls: 1, failures: 0, slow: 0 });
        assert_eq!(w.current(), w.totals(100 * S));
        w.clear();
        assert_eq!(w.totals(100 * S), Totals::default());
    }

    #[test]
    fn running_totals_match_a_full_scan() {
        let mut w = Window::new(10, S);
        let mut t = 0;
        for i in 0..5000u64 {
            t += (i * 7919) % (3 * S / 2);
            let sample = [Sample::Ok, Sample::Failure, Sample::Slow][(i % 3) as usize];
            w.record(t, sample);
            assert_eq!(w.current(), w.totals(t), "after {i} samples at {t}");
        }
    }

    #[test]
    fn bounds_are_clamped() {
        let mut w = Window::new(1000, 0);
        w.record(5, Sample::Failure);
        assert_eq!(w.totals(5).failures, 1);
        let w = Window::new(0, S);
        assert_eq!(w.totals(0), Totals::default());
    }
}
