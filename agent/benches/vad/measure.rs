//! How the VAD benchmark measures: CPU time from the kernel's per-thread run-time accounting
//! (time spent waiting for a core on a busy machine is not counted), wall-clock time,
//! context switches, allocations.

use std::path::Path;

use stats_alloc::Region;
use voice_agent::clock;

use crate::GLOBAL;
use crate::common::cpu_ns;

/// Timed passes; each figure is the best (the least disturbed by other work on the machine).
pub const PASSES: usize = 5;

/// Whose CPU time counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cpu {
    /// The calling thread only (work done inline).
    Thread,
    /// Every thread of the process (work handed to other threads).
    Process,
}

impl Cpu {
    /// CPU time used so far, in ns.
    pub fn ns(self) -> u64 {
        cpu_ns(self == Cpu::Process)
    }
}

/// Context switches of every thread of the process so far: (voluntary, involuntary).
/// Voluntary ones are a thread blocking (waiting for another); involuntary ones are the
/// scheduler taking the core away (other work on the machine).
pub fn context_switches() -> (u64, u64) {
    let field = |status: &str, name: &str| -> u64 {
        status.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0)
    };
    let mut total = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        total.0 += field(&status, "voluntary_ctxt_switches:");
        total.1 += field(&status, "nonvoluntary_ctxt_switches:");
    }
    total
}

/// A measurement per unit: CPU and wall-clock µs (each the best of [`PASSES`]), and
/// voluntary context switches (the pass with the least CPU).
#[derive(Clone, Copy, Debug)]
pub struct Us {
    /// CPU µs per unit.
    pub cpu: f64,
    /// Wall-clock µs per unit.
    pub wall: f64,
    /// Voluntary context switches per unit.
    pub switches: f64,
}

/// Times `f`, which does `units` units of work (after a warm-up run). Each pass repeats `f`
/// for at least a quarter second of CPU, so one pass is many scheduler slices long.
pub fn best_us(units: usize, cpu: Cpu, mut f: impl FnMut()) -> Us {
    let c = cpu.ns();
    f(); // warm-up: tensors for this batch size, caches
    let once = (cpu.ns() - c) as f64 * 1e-9;
    let reps = (0.25 / once.max(1e-6)).ceil().clamp(1.0, 10_000.0) as usize;
    let per = (units * reps) as f64;
    let mut best = Us { cpu: f64::INFINITY, wall: f64::INFINITY, switches: 0.0 };
    for _ in 0..PASSES {
        let (t, c, (s, _)) = (clock::now(), cpu.ns(), context_switches());
        for _ in 0..reps {
            f();
        }
        let wall = (clock::now() - t).as_secs_f64() * 1e6 / per;
        let used = (cpu.ns() - c) as f64 / 1e3 / per;
        let switches = (context_switches().0 - s) as f64 / per;
        best.wall = best.wall.min(wall);
        if used < best.cpu {
            best.cpu = used;
            best.switches = switches;
        }
    }
    best
}

/// Rust allocations per unit while `f` does `units` units (after a warm-up run).
pub fn allocs_per(units: usize, mut f: impl FnMut()) -> f64 {
    f();
    let region = Region::new(GLOBAL);
    f();
    region.change().allocations as f64 / units as f64
}

/// The 1-minute load average, as the kernel reports it.
pub fn load_average() -> String {
    std::fs::read_to_string(Path::new("/proc/loadavg"))
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
