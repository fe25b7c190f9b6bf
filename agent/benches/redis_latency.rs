//! Redis decision latency on loopback: p50 / p99 / max of one full limit decision (one
//! EVALSHA over participant, room and global scopes) through the limiter facade.
//!
//! `cargo bench -p voice-agent --bench redis_latency`
//!
//! Starts its own `redis-server` on a free port (install it with `scripts/setup`).

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use voice_agent::clock;
use voice_agent::core::quota::{Quotas, Usage};
use voice_agent::limits::{
    Decision, LimitRequest, Limiter, LimitsConfig, Mode, Now, Origin, RedisConfig, ResilienceMetrics,
    SharedOptions,
};

const WARMUP: usize = 1_000;
const SAMPLES: usize = 20_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let port =
        TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port");
    let dir = std::env::temp_dir().join(format!("va-bench-redis-{port}"));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): run scripts/setup"));

    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let result = rt.block_on(async {
        let cfg = LimitsConfig {
            quotas: Quotas::default(),
            redis: Some(RedisConfig {
                url: format!("redis://127.0.0.1:{port}").into(),
                key_prefix: "bench".into(),
                session_lease: Duration::from_secs(120),
                // The production 5 ms budget: a slower answer would show up as a local decision.
                shared: SharedOptions::default(),
            }),
            ..LimitsConfig::default()
        };
        let limiter =
            Limiter::new(&cfg, ResilienceMetrics::default(), "bench", clock::now()).expect("limiter");
        for _ in 0..200 {
            limiter.maintain(Now::read()).await;
            if limiter.mode() == Mode::Shared {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(limiter.mode(), Mode::Shared, "redis-server did not come up");
        let room: Arc<str> = Arc::from("room");
        let names: Vec<Arc<str>> = (0..1000).map(|i| Arc::from(format!("p{i}"))).collect();
        let usage = Usage { turns: 1, input_tokens: 500, output_tokens: 200, ..Usage::default() };
        let mut lat = Vec::with_capacity(SAMPLES);
        let mut local = 0;
        for i in 0..WARMUP + SAMPLES {
            let req = LimitRequest {
                participant: &names[i % names.len()],
                room: &room,
                model: "gpt-4o-mini",
                usage,
            };
            let start = clock::now();
            let d = limiter.check(&req, Now::read()).await;
            let took = start.elapsed();
            if matches!(&d, Decision::Allowed { reservation, .. } if reservation.origin() == Origin::Local) {
                local += 1;
            }
            if i >= WARMUP {
                lat.push(took);
            }
        }
        lat.sort();
        (lat, local)
    });
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let (lat, local) = result;
    println!(
        "redis decision (facade, 3 scopes, one EVALSHA), {SAMPLES} samples: p50 {:?}  p90 {:?}  p99 {:?}  p99.9 {:?}  max {:?}  (decided locally: {local})",
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        lat[lat.len() - 1],
    );
}
