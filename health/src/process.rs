//! Process metrics (CPU, memory, threads, file descriptors), read from `/proc` at scrape time.
//!
//! Written in the OpenMetrics text format so they sit in the same exposition as the registry.
//! On systems without `/proc` the section is simply empty.

use std::fmt::Write as _;

/// Linux reports CPU times in USER_HZ ticks, which is 100 on every supported architecture.
const TICKS_PER_SEC: f64 = 100.0;

/// A snapshot of this process's resource use.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub resident_bytes: u64,
    /// Virtual memory size, bytes.
    pub virtual_bytes: u64,
    /// OS threads.
    pub threads: u64,
    /// Open file descriptors.
    pub open_fds: u64,
}

/// Reads the current process's statistics; `None` where `/proc` is unavailable.
pub fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let mut s = parse(&stat, &status)?;
    s.open_fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0);
    Some(s)
}

/// Parses `/proc/self/stat` and `/proc/self/status` contents.
pub fn parse(stat: &str, status: &str) -> Option<ProcessStats> {
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); utime is field 14, stime 15, threads 20.
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some(ProcessStats {
        cpu_seconds: (field(14)? + field(15)?) as f64 / TICKS_PER_SEC,
        resident_bytes: kb("VmRSS:").unwrap_or(0) * 1024,
        virtual_bytes: kb("VmSize:").unwrap_or(0) * 1024,
        threads: field(20)?,
        open_fds: 0,
    })
}

/// Appends the process metrics in OpenMetrics text form.
pub fn encode(out: &mut String, s: &ProcessStats) {
    let metrics: [(&str, &str, &str, String); 5] = [
        (
            "process_cpu_seconds",
            "counter",
            "Total user and system CPU time spent in seconds.",
            format!("{:.2}", s.cpu_seconds),
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            s.resident_bytes.to_string(),
        ),
        (
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            s.virtual_bytes.to_string(),
        ),
        ("process_threads", "gauge", "Number of OS threads in the process.", s.threads.to_string()),
        ("process_open_fds", "gauge", "Number of open file descriptors.", s.open_fds.to_string()),
    ];
    for (name, kind, help, value) in metrics {
        let sample = if kind == "counter" { format!("{name}_total") } else { name.to_owned() };
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{sample} {value}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files_with_odd_command_names() {
        let stat = "1234 (voice (agent)) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 7 0 100 1000 0";
        let status = "Name:\tvoice-agent\nVmSize:\t  20000 kB\nVmRSS:\t    1500 kB\n";
        let s = parse(stat, status).unwrap();
        assert_eq!(s.cpu_seconds, 3.0);
        assert_eq!(s.threads, 7);
        assert_eq!(s.resident_bytes, 1500 * 1024);
        assert_eq!(s.virtual_bytes, 20000 * 1024);
    }

    #[test]
    fn garbage_gives_none() {
        assert_eq!(parse("nonsense", ""), None);
        assert_eq!(parse("1 (x) S", ""), None);
    }

    #[test]
    fn reads_this_process() {
        let s = read().expect("/proc is available on Linux");
        assert!(s.resident_bytes > 0 && s.threads >= 1 && s.open_fds >= 1);
        let mut out = String::new();
        encode(&mut out, &s);
        assert!(out.contains("# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total "));
    }
}
