//! What relaying costs (issue 23): a TURN client pair streams media-sized packets through
//! a relay at a steady rate, and ping-pongs through it, against the same over plain UDP.
//! Prints CPU per relayed megabit (from the relay process's /proc times) and the round
//! trip through the relay against the direct one, as one line of JSON.
//!
//! `bench/relay.sh` runs it against Tandem's built-in relay and against coturn, one after
//! the other on one machine; by hand:
//!
//! ```sh
//! cargo bench --features ssr --bench relay -- --relay 127.0.0.1:3478 --pid <relay pid> \
//!   --username <user> --password <password> [--realm tandem] [--mbps 20] [--seconds 10]
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use turn::client::{Client, ClientConfig};
use webrtc_util::Conn;

struct Args {
    relay: SocketAddr,
    pid: u32,
    username: String,
    password: String,
    realm: String,
    mbps: f64,
    seconds: f64,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut relay = None;
    let mut pid = None;
    let mut username = None;
    let mut password = None;
    let mut realm = "tandem".to_owned();
    let mut mbps = 20.0;
    let mut seconds = 10.0;
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| panic!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--relay" => relay = Some(value().parse().expect("--relay host:port")),
            "--pid" => pid = Some(value().parse().expect("--pid number")),
            "--username" => username = Some(value()),
            "--password" => password = Some(value()),
            "--realm" => realm = value(),
            "--mbps" => mbps = value().parse().expect("--mbps number"),
            "--seconds" => seconds = value().parse().expect("--seconds number"),
            // cargo bench passes --bench.
            "--bench" => {}
            other => panic!("unknown flag {other}; see the file's header"),
        }
    }
    Args {
        relay: relay.expect("--relay"),
        pid: pid.expect("--pid"),
        username: username.expect("--username"),
        password: password.expect("--password"),
        realm,
        mbps,
        seconds,
    }
}

/// The relay process's CPU time so far (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the relay runs");
    // Fields after the command name (in parentheses, which may hold spaces).
    let after = stat.rsplit_once(')').expect("a stat line").1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    // USER_HZ is 100 on Linux.
    ticks / 100.0
}

async fn client(args: &Args) -> (Client, impl Conn) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("a socket");
    let client = Client::new(ClientConfig {
        stun_serv_addr: args.relay.to_string(),
        turn_serv_addr: args.relay.to_string(),
        username: args.username.clone(),
        password: args.password.clone(),
        realm: args.realm.clone(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(socket),
        vnet: None,
    })
    .await
    .expect("a TURN client");
    client.listen().await.expect("listening");
    let relayed = client.allocate().await.expect("an allocation");
    (client, relayed)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Round trips of `rounds` ping-pongs: `send` to the other side, which echoes.
async fn round_trips(
    rounds: usize,
    ping: &(dyn Conn + Send + Sync),
    pong: Arc<dyn Conn + Send + Sync>,
    to_pong: SocketAddr,
) -> Vec<f64> {
    let echo = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = pong.recv_from(&mut buf).await {
            if pong.send_to(&buf[..n], from).await.is_err() {
                return;
            }
        }
    });
    let mut times = Vec::with_capacity(rounds);
    let mut buf = [0u8; 1500];
    let mut packet = [1u8; 200];
    for round in 0..rounds as u64 {
        // Numbered, so that a late echo of an earlier round is never taken for this one's.
        packet[..8].copy_from_slice(&round.to_be_bytes());
        let start = Instant::now();
        ping.send_to(&packet, to_pong).await.expect("sent");
        let echoed = async {
            loop {
                let (n, _) = ping.recv_from(&mut buf).await?;
                if n == packet.len() && buf[..8] == round.to_be_bytes() {
                    return Ok::<(), webrtc_util::Error>(());
                }
            }
        };
        if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(1), echoed).await {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    echo.abort();
    times.sort_by(f64::total_cmp);
    times
}

#[tokio::main]
async fn main() {
    let args = args();
    let (_alice_client, alice) = client(&args).await;
    let (_bob_client, bob) = client(&args).await;
    let (at_alice, at_bob) = (
        alice.local_addr().expect("relayed"),
        bob.local_addr().expect("relayed"),
    );
    // Permissions both ways, then what waited is drained.
    bob.send_to(b"open", at_alice).await.expect("sent");
    alice.send_to(b"open", at_bob).await.expect("sent");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let bob: Arc<dyn Conn + Send + Sync> = Arc::new(bob);

    // Streaming: 1,200-byte packets (a video packet's size) at the rate asked.
    let received = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counting = tokio::spawn({
        let (bob, received) = (bob.clone(), received.clone());
        async move {
            let mut buf = [0u8; 1500];
            while let Ok((n, _)) = bob.recv_from(&mut buf).await {
                received.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    let packet = [9u8; 1200];
    let per_second = args.mbps * 1e6 / 8.0 / packet.len() as f64;
    let gap = Duration::from_secs_f64(1.0 / per_second);
    let cpu_before = cpu_seconds(args.pid);
    let start = Instant::now();
    let mut sent = 0u64;
    let mut next = Instant::now();
    while start.elapsed().as_secs_f64() < args.seconds {
        alice.send_to(&packet, at_bob).await.expect("sent");
        sent += packet.len() as u64;
        next += gap;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu = cpu_seconds(args.pid) - cpu_before;
    let elapsed = start.elapsed().as_secs_f64();
    counting.abort();
    let delivered = received.load(std::sync::atomic::Ordering::Relaxed);
    let megabits = delivered as f64 * 8.0 / 1e6;

    // Round trips through the relay, then directly between two sockets on loopback.
    let relayed = round_trips(500, &alice, bob.clone(), at_bob).await;
    let a = UdpSocket::bind("127.0.0.1:0").await.expect("a socket");
    let b: Arc<dyn Conn + Send + Sync> =
        Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("a socket"));
    let to_b = b.local_addr().expect("bound");
    let direct = round_trips(500, &a, b, to_b).await;

    println!(
        "{{\"relay\":\"{}\",\"mbps_offered\":{:.1},\"mbps_delivered\":{:.2},\"delivered\":{:.4},\
         \"cpu_seconds\":{:.3},\"cpu_ms_per_megabit\":{:.4},\"cpu_percent\":{:.1},\
         \"rtt_relayed_p50_ms\":{:.3},\"rtt_relayed_p99_ms\":{:.3},\
         \"rtt_direct_p50_ms\":{:.3},\"rtt_direct_p99_ms\":{:.3},\"rtt_added_p50_ms\":{:.3}}}",
        args.relay,
        args.mbps,
        megabits / elapsed,
        delivered as f64 / sent.max(1) as f64,
        cpu,
        cpu * 1e3 / megabits.max(1e-9),
        cpu / elapsed * 100.0,
        percentile(&relayed, 0.5),
        percentile(&relayed, 0.99),
        percentile(&direct, 0.5),
        percentile(&direct, 0.99),
        percentile(&relayed, 0.5) - percentile(&direct, 0.5),
    );
}
