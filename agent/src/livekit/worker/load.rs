//! The worker's CPU load, as the fraction of the machine's cores this process uses.
//!
//! [`LoadMeter`] is sans-IO: it is fed cumulative CPU time samples with their `now` and
//! smooths the rate. [`process_cpu_time`] reads the sample from `/proc/self/stat`.

use std::time::{Duration, Instant};

/// Linux reports CPU times in USER_HZ ticks, which the kernel ABI fixes at 100 per second.
const USER_HZ: f64 = 100.0;
/// Weight of the newest sample in the moving average (samples arrive every ~2.5 s, so the
/// average follows a change within a few samples without flapping on one busy moment).
const ALPHA: f64 = 0.5;

/// Smoothed CPU load.
#[derive(Debug, Clone)]
pub struct LoadMeter {
    cores: f64,
    last: Option<(Instant, Duration)>,
    load: f64,
}

impl LoadMeter {
    /// A meter for a machine with `cores` usable cores.
    pub fn new(cores: usize) -> Self {
        Self { cores: cores.max(1) as f64, last: None, load: 0.0 }
    }

    /// Feeds the process's cumulative CPU time at `now`; returns the smoothed load (0..1).
    pub fn sample(&mut self, now: Instant, cpu: Duration) -> f64 {
        if let Some((then, cpu_then)) = self.last {
            let wall = now.saturating_duration_since(then).as_secs_f64();
            if wall > 0.0 {
                let used = cpu.saturating_sub(cpu_then).as_secs_f64();
                let instant = (used / wall / self.cores).clamp(0.0, 1.0);
                self.load = ALPHA * instant + (1.0 - ALPHA) * self.load;
            }
        }
        self.last = Some((now, cpu));
        self.load
    }

    /// The current smoothed load.
    pub fn load(&self) -> f64 {
        self.load
    }
}

/// Cumulative user+system CPU time of this process, if `/proc` is readable.
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat_cpu(&stat)
}

/// Parses utime+stime (fields 14 and 15) from a `/proc/<pid>/stat` line. The command name
/// (field 2) may contain spaces and parentheses, so fields are counted after its last `)`.
fn parse_stat_cpu(stat: &str) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / USER_HZ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock;

    #[test]
    fn load_is_cpu_time_per_wall_time_per_core_smoothed() {
        let t0 = clock::now();
        let mut m = LoadMeter::new(2);
        assert_eq!(m.sample(t0, Duration::from_secs(10)), 0.0);
        // One core busy for 2 s out of 2 s on a 2-core machine: 0.5, half-weighted.
        let l = m.sample(t0 + Duration::from_secs(2), Duration::from_secs(12));
        assert!((l - 0.25).abs() < 1e-9);
        let l = m.sample(t0 + Duration::from_secs(4), Duration::from_secs(14));
        assert!((l - 0.375).abs() < 1e-9);
        assert!((m.load() - 0.375).abs() < 1e-9);
    }

    #[test]
    fn parses_stat_with_a_hostile_command_name() {
        let line = "1234 (a) b (c) R 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 1 0 100 0 0";
        assert_eq!(parse_stat_cpu(line), Some(Duration::from_secs(4)));
        assert_eq!(parse_stat_cpu("garbage"), None);
        assert!(process_cpu_time().is_some());
    }
}
