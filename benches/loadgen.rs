//! The signaling load generator: P pairs of WebSocket clients, each pair in a room of its
//! own, playing R ping-pong round trips of S-byte signals through the server, one message
//! in flight per pair. Speaks Tandem's protocol, or PeerJS's for the side-by-side
//! comparison (`bench/compare.sh`).
//!
//! ```text
//! cargo bench --features ssr --bench loadgen -- --url ws://127.0.0.1:3000/ws --pid <server pid>
//! ```
//!
//! With `--pid` it reads the server's CPU time (utime+stime, /proc/<pid>/stat) before and
//! after the relays, and its RSS (/proc/<pid>/status) before connecting and once every
//! client has joined, to report CPU per relayed message and memory per connection.
//!
//! Several servers sharing rooms (`bench/cluster.sh`): give `--url` once per server and
//! `--pid` once per process to measure (the servers and redis-server). Pair n then joins
//! the server n mod N, both clients on it; with `--split` each pair's two clients join
//! two different servers, so that every relay crosses Redis. The CPU figures are then
//! the sum over every `--pid`, with each process's share listed too.

use clap::{Parser, ValueEnum};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Protocol {
    Tandem,
    Peerjs,
}

#[derive(Parser, Debug)]
#[command(about = "Signaling load generator")]
struct Args {
    /// The signaling socket: ws://HOST:PORT/ws for Tandem, ws://HOST:PORT/peerjs for PeerJS.
    /// Once per server when several share rooms.
    #[arg(long, default_value = "ws://127.0.0.1:3000/ws")]
    url: Vec<String>,
    /// Each pair's second client joins the next server (of `--url`), not its partner's.
    #[arg(long)]
    split: bool,
    #[arg(long, value_enum, default_value = "tandem")]
    protocol: Protocol,
    /// Pairs of clients (two connections each).
    #[arg(long, default_value_t = 1000)]
    pairs: usize,
    /// Round trips per pair (two relayed messages each).
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// Bytes of payload in each relayed signal.
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// The server's process id, for its CPU time and memory; once per process to measure.
    #[arg(long)]
    pid: Vec<u32>,
    /// Connections opened at once while joining.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Only connect and join, measure memory, hold the connections this many seconds.
    #[arg(long)]
    hold: Option<u64>,
    /// Rooms are named PREFIX-n: two load generators sharing servers need their own.
    #[arg(long, default_value = "bench")]
    room_prefix: String,
    /// This run's name in the one-line summary.
    #[arg(long, default_value = "")]
    label: String,
}

/// One client's socket and its id in the protocol.
struct Client {
    socket: Socket,
    id: String,
}

struct Pair {
    a: Client,
    b: Client,
}

fn text(message: Message) -> Option<String> {
    match message {
        Message::Text(text) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

/// The next text frame, skipping pings and the like.
async fn next_text(socket: &mut Socket) -> Result<String, String> {
    loop {
        match socket.next().await {
            Some(Ok(message)) => {
                if let Some(text) = text(message) {
                    return Ok(text);
                }
            }
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed".into()),
        }
    }
}

fn field<'a>(value: &'a serde_json::Value, key: &str) -> Result<&'a serde_json::Value, String> {
    value.get(key).ok_or_else(|| format!("no {key} in {value}"))
}

async fn open(url: &str) -> Result<Socket, String> {
    // Browsers send WebSocket frames without Nagle's delay; so does the load.
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .map_err(|e| format!("connect {url}: {e}"))?;
    Ok(socket)
}

/// A Tandem client seated in `room` as `name`.
async fn join_tandem(url: &str, room: &str, name: &str) -> Result<Client, String> {
    let mut socket = open(url).await?;
    let join = serde_json::json!({"type": "join", "room": room, "name": name});
    socket
        .send(Message::text(join.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    let joined: serde_json::Value =
        serde_json::from_str(&next_text(&mut socket).await?).map_err(|e| e.to_string())?;
    let id = field(&joined, "you")?.to_string();
    Ok(Client { socket, id })
}

/// Two clients in room `n`, each knowing the other's id.
async fn make_pair(args: &Args, n: usize) -> Result<Pair, String> {
    match args.protocol {
        Protocol::Tandem => {
            let room = format!("{}-{n}", args.room_prefix);
            let servers = args.url.len();
            let (first, second) = (n % servers, (n + usize::from(args.split)) % servers);
            let mut a = join_tandem(&args.url[first], &room, "a").await?;
            let b = join_tandem(&args.url[second], &room, "b").await?;
            // A hears that B arrived.
            next_text(&mut a.socket).await?;
            Ok(Pair { a, b })
        }
        Protocol::Peerjs => {
            let client = |who: &str| {
                let id = format!("bench-{n}-{who}");
                let url = format!("{}?key=peerjs&id={id}&token=t{n}", args.url[0]);
                async move {
                    let mut socket = open(&url).await?;
                    let open = next_text(&mut socket).await?;
                    if !open.contains("\"OPEN\"") {
                        return Err(format!("expected OPEN, got {open}"));
                    }
                    Ok::<_, String>(Client { socket, id })
                }
            };
            let a = client("a").await?;
            let b = client("b").await?;
            Ok(Pair { a, b })
        }
    }
}

/// The frame that sends `payload` from one client to the one with id `to`.
fn signal(protocol: Protocol, to: &str, payload: &str) -> String {
    match protocol {
        Protocol::Tandem => format!(
            r#"{{"type":"signal","to":{to},"signal":{{"kind":"candidate","candidate":"{payload}"}}}}"#
        ),
        Protocol::Peerjs => {
            format!(r#"{{"type":"CANDIDATE","dst":"{to}","payload":{{"candidate":"{payload}"}}}}"#)
        }
    }
}

/// One pair from the moment it has joined: idle until `start`, then the round trips.
async fn play(
    mut pair: Pair,
    mut start: watch::Receiver<bool>,
    protocol: Protocol,
    rounds: usize,
    payload: Arc<str>,
) -> Result<Vec<Duration>, String> {
    idle(&mut pair, &mut start).await?;
    ping_pong(pair, protocol, rounds, payload).await
}

/// Keeps reading both sockets until `start`, so the server's pings get their pongs at once,
/// as a browser's would (tungstenite sends the pong on the next read). Unread, a client
/// that joined first would look dead to a server with a heartbeat timeout while thousands
/// of others are still joining.
async fn idle(pair: &mut Pair, start: &mut watch::Receiver<bool>) -> Result<(), String> {
    let alive = |frame: Option<Result<Message, _>>| match frame {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(format!("while idle: {e}")),
        None => Err("closed while idle".to_string()),
    };
    loop {
        tokio::select! {
            _ = start.wait_for(|go| *go) => return Ok(()),
            frame = pair.a.socket.next() => alive(frame)?,
            frame = pair.b.socket.next() => alive(frame)?,
        }
    }
}

/// Plays the round trips of one pair; returns each round trip's time.
async fn ping_pong(
    mut pair: Pair,
    protocol: Protocol,
    rounds: usize,
    payload: Arc<str>,
) -> Result<Vec<Duration>, String> {
    let to_b = Message::text(signal(protocol, &pair.b.id, &payload));
    let to_a = Message::text(signal(protocol, &pair.a.id, &payload));
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        hop(&mut pair.a.socket, &mut pair.b.socket, &to_b).await?;
        hop(&mut pair.b.socket, &mut pair.a.socket, &to_a).await?;
        times.push(started.elapsed());
    }
    Ok(times)
}

/// One relayed message: `from` sends it, `to` receives what the server forwards.
async fn hop(from: &mut Socket, to: &mut Socket, message: &Message) -> Result<(), String> {
    from.send(message.clone())
        .await
        .map_err(|e| e.to_string())?;
    next_text(to).await.map(drop)
}

/// The server's CPU time so far (user + system), from /proc/<pid>/stat.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in USER_HZ, which is 100 on every architecture Linux runs this on.
    Some(Duration::from_millis(ticks * 10))
}

/// The CPU time of every process in `pids`, in order; `None` if one cannot be read.
fn cpu_times(pids: &[u32]) -> Option<Vec<Duration>> {
    pids.iter().map(|&pid| cpu_time(pid)).collect()
}

/// The server's resident memory in KiB, from /proc/<pid>/status.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    if args.url.is_empty() {
        return Err("give at least one --url".into());
    }
    // Memory is the first process's (the server's; with several, one of them).
    let rss_before = args.pid.first().copied().and_then(rss_kib);

    // Join everyone, a bounded number of connections at a time. One task per pair, as
    // the server has one per connection: each gets a fair turn, and answers pings while
    // it waits for the start.
    let payload: Arc<str> = "x".repeat(args.size).into();
    let (start, started_signal) = watch::channel(false);
    let started = Instant::now();
    let mut runs = Vec::with_capacity(args.pairs);
    let mut joining = futures::stream::iter(0..args.pairs)
        .map(|n| make_pair(&args, n))
        .buffer_unordered(args.connect_concurrency);
    while let Some(pair) = joining.next().await {
        runs.push(tokio::spawn(play(
            pair?,
            started_signal.clone(),
            args.protocol,
            args.rounds,
            payload.clone(),
        )));
    }
    drop(joining);
    let join_time = started.elapsed();
    let connections = args.pairs * 2;
    println!(
        "joined {connections} clients in {:.2} s",
        join_time.as_secs_f64()
    );

    // Memory per connection, after the server has settled.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = args.pid.first().copied().and_then(rss_kib);
    let per_connection = match (rss_before, rss_after) {
        (Some(before), Some(after)) => {
            let kib = after.saturating_sub(before) as f64 / connections as f64;
            println!("server RSS {before} KiB → {after} KiB: {kib:.2} KiB per connection");
            Some(kib)
        }
        _ => None,
    };
    if let Some(seconds) = args.hold {
        println!("holding {connections} connections for {seconds} s");
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        println!(
            "SUMMARY {} hold pairs={} kib_per_conn={:.2}",
            args.label,
            args.pairs,
            per_connection.unwrap_or(f64::NAN)
        );
        return Ok(());
    }

    // The relays: every pair at once, one message in flight per pair.
    let cpu_before = cpu_times(&args.pid);
    let started = Instant::now();
    let _ = start.send(true);
    let mut results = Vec::with_capacity(runs.len());
    for run in runs {
        results.push(run.await.map_err(|e| e.to_string()).and_then(|r| r));
    }
    let elapsed = started.elapsed();
    let cpu_after = cpu_times(&args.pid);

    let mut times = Vec::with_capacity(args.pairs * args.rounds);
    let mut failures = 0;
    for result in results {
        match result {
            Ok(t) => times.extend(t),
            Err(e) => {
                failures += 1;
                if failures <= 3 {
                    eprintln!("pair failed: {e}");
                }
            }
        }
    }
    times.sort();
    let relays = times.len() * 2;
    let rate = relays as f64 / elapsed.as_secs_f64();
    let (p50, p99, max) = (
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or_default(),
    );
    println!(
        "{relays} relays in {:.2} s: {rate:.0} relays/s; round trip p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs; {failures} failed pairs",
        elapsed.as_secs_f64(),
        micros(p50),
        micros(p99),
        micros(max)
    );
    // Each process's CPU per relayed message, then their sum.
    let shares: Vec<f64> = match (cpu_before, cpu_after) {
        (Some(before), Some(after)) if relays > 0 => before
            .iter()
            .zip(&after)
            .map(|(b, a)| micros(a.saturating_sub(*b)) / relays as f64)
            .collect(),
        _ => Vec::new(),
    };
    let cpu_per_relay = (!shares.is_empty()).then(|| shares.iter().sum::<f64>());
    for (pid, per) in args.pid.iter().zip(&shares) {
        println!("process {pid}: {per:.1} µs of CPU per relayed message");
    }
    let shares_text: String = shares
        .iter()
        .enumerate()
        .map(|(i, per)| format!(" cpu_us_per_relay_{i}={per:.1}"))
        .collect();
    println!(
        "SUMMARY {} pairs={} relays_per_s={rate:.0} p50_us={:.0} p99_us={:.0} max_us={:.0} cpu_us_per_relay={:.1} kib_per_conn={:.2} join_s={:.2} failures={failures}{shares_text}",
        args.label,
        args.pairs,
        micros(p50),
        micros(p99),
        micros(max),
        cpu_per_relay.unwrap_or(f64::NAN),
        per_connection.unwrap_or(f64::NAN),
        join_time.as_secs_f64(),
    );
    if failures > 0 {
        return Err(format!("{failures} pairs failed"));
    }
    Ok(())
}
