//! Every setting walked through the three places it can be given, checking which one
//! wins: the file, then the environment over it, then a flag over both. One test in its
//! own binary, because it changes this process's environment.

use clap::CommandFactory;
use std::path::Path;
use std::time::Duration;
use tandem::server::config::{Config, Secret};

/// One setting: a value for each place, what else it needs to be valid, and how to read
/// it back from the loaded configuration.
struct Walk {
    name: &'static str,
    /// As written in the file (TOML), in the environment, and on the command line.
    file: &'static str,
    env: &'static str,
    flag: &'static str,
    /// What each of those reads back as.
    read: fn(&Config) -> String,
    expect: [&'static str; 3],
    /// Flags the setting needs beside it to make a valid configuration.
    with: &'static [&'static str],
}

fn secret(secret: &Option<Secret>) -> String {
    secret
        .as_ref()
        .map(Secret::expose)
        .unwrap_or("-")
        .to_owned()
}

fn secs(duration: Duration) -> String {
    format!("{}", duration.as_millis())
}

const TURN: &[&str] = &["--turn-url", "turn:127.0.0.1:3478"];
const RELAY: &[&str] = &["--turn-listen", "127.0.0.1:3478"];

fn walks() -> Vec<Walk> {
    vec![
        Walk {
            name: "listen",
            file: "\"127.0.0.1:1001\"",
            env: "127.0.0.1:1002",
            flag: "127.0.0.1:1003",
            read: |c| c.listen.port().to_string(),
            expect: ["1001", "1002", "1003"],
            with: &[],
        },
        Walk {
            name: "room_capacity",
            file: "3",
            env: "4",
            flag: "5",
            read: |c| c.calls.room_capacity.to_string(),
            expect: ["3", "4", "5"],
            with: &[],
        },
        Walk {
            name: "upload_budget",
            file: "200000",
            env: "300000",
            flag: "400000",
            read: |c| c.calls.upload_budget.to_string(),
            expect: ["200000", "300000", "400000"],
            with: &[],
        },
        Walk {
            name: "max_file_bytes",
            file: "1000",
            env: "2000",
            flag: "3000",
            read: |c| c.calls.max_file_bytes.to_string(),
            expect: ["1000", "2000", "3000"],
            with: &[],
        },
        Walk {
            name: "resume_secret",
            file: "\"file-secret-0123456789\"",
            env: "env-secret-0123456789",
            flag: "flag-secret-0123456789",
            read: |c| secret(&c.calls.resume_secret),
            expect: [
                "file-secret-0123456789",
                "env-secret-0123456789",
                "flag-secret-0123456789",
            ],
            with: &[],
        },
        Walk {
            name: "allowed_origins",
            file: "[\"https://file.example\", \"https://file2.example\"]",
            env: "https://env.example",
            flag: "https://flag.example",
            read: |c| c.connections.allowed_origins.join(" "),
            expect: [
                "https://file.example https://file2.example",
                "https://env.example",
                "https://flag.example",
            ],
            with: &[],
        },
        Walk {
            name: "max_message_bytes",
            file: "5000",
            env: "6000",
            flag: "7000",
            read: |c| c.connections.max_message_bytes.to_string(),
            expect: ["5000", "6000", "7000"],
            with: &[],
        },
        Walk {
            name: "rate_limit",
            file: "1",
            env: "2",
            flag: "3",
            read: |c| c.connections.rate_limit.to_string(),
            expect: ["1", "2", "3"],
            with: &[],
        },
        Walk {
            name: "rate_burst",
            file: "4",
            env: "5",
            flag: "6",
            read: |c| c.connections.rate_burst.to_string(),
            expect: ["4", "5", "6"],
            with: &[],
        },
        Walk {
            name: "max_connections",
            file: "100",
            env: "200",
            flag: "300",
            read: |c| c.connections.max_connections.to_string(),
            expect: ["100", "200", "300"],
            with: &[],
        },
        Walk {
            name: "ipv6_prefix",
            file: "48",
            env: "56",
            flag: "128",
            read: |c| c.connections.ipv6_prefix.to_string(),
            expect: ["48", "56", "128"],
            with: &[],
        },
        Walk {
            name: "max_connections_per_ip",
            file: "7",
            env: "8",
            flag: "9",
            read: |c| c.connections.max_connections_per_ip.to_string(),
            expect: ["7", "8", "9"],
            with: &[],
        },
        Walk {
            name: "trusted_proxies",
            file: "[\"10.0.0.1\"]",
            env: "10.0.0.2,10.0.0.3",
            flag: "::1",
            read: |c| {
                let ips: Vec<String> = c
                    .connections
                    .trusted_proxies
                    .iter()
                    .map(|ip| ip.to_string())
                    .collect();
                ips.join(",")
            },
            expect: ["10.0.0.1", "10.0.0.2,10.0.0.3", "::1"],
            with: &[],
        },
        Walk {
            name: "resume_grace",
            file: "\"1s\"",
            env: "2s",
            flag: "3s",
            read: |c| secs(c.connections.resume_grace),
            expect: ["1000", "2000", "3000"],
            with: &[],
        },
        Walk {
            name: "heartbeat_interval",
            file: "\"1s\"",
            env: "2s",
            flag: "3s",
            read: |c| secs(c.connections.heartbeat_interval),
            expect: ["1000", "2000", "3000"],
            with: &[],
        },
        Walk {
            name: "heartbeat_timeout",
            file: "\"11s\"",
            env: "12s",
            flag: "13s",
            read: |c| secs(c.connections.heartbeat_timeout),
            expect: ["11000", "12000", "13000"],
            with: &[],
        },
        Walk {
            name: "write_timeout",
            file: "\"1s\"",
            env: "2s",
            flag: "3s",
            read: |c| secs(c.connections.write_timeout),
            expect: ["1000", "2000", "3000"],
            with: &[],
        },
        Walk {
            name: "stun_urls",
            file: "[\"stun:file\"]",
            env: "stun:env",
            flag: "stun:flag",
            read: |c| c.ice.stun_urls.join(" "),
            expect: ["stun:file", "stun:env", "stun:flag"],
            with: &[],
        },
        Walk {
            name: "turn_urls",
            file: "[\"turn:file\"]",
            env: "turn:env",
            flag: "turn:flag",
            read: |c| c.ice.turn_urls.join(" "),
            expect: ["turn:file", "turn:env", "turn:flag"],
            with: &["--turn-secret", "0123456789abcdef"],
        },
        Walk {
            name: "turn_secret",
            file: "\"file-turn-secret-0123\"",
            env: "env-turn-secret-0123",
            flag: "flag-turn-secret-0123",
            read: |c| secret(&c.ice.turn_secret),
            expect: [
                "file-turn-secret-0123",
                "env-turn-secret-0123",
                "flag-turn-secret-0123",
            ],
            with: TURN,
        },
        Walk {
            name: "turn_credential_lifetime",
            file: "\"1h\"",
            env: "2h",
            flag: "3h",
            read: |c| secs(c.ice.turn_credential_lifetime),
            expect: ["3600000", "7200000", "10800000"],
            with: &[],
        },
        Walk {
            name: "turn_username",
            file: "\"file-user\"",
            env: "env-user",
            flag: "flag-user",
            read: |c| c.ice.turn_username.clone().unwrap_or_default(),
            expect: ["file-user", "env-user", "flag-user"],
            with: &[
                "--turn-url",
                "turn:127.0.0.1:3478",
                "--turn-password",
                "password",
            ],
        },
        Walk {
            name: "turn_password",
            file: "\"file-password\"",
            env: "env-password",
            flag: "flag-password",
            read: |c| secret(&c.ice.turn_password),
            expect: ["file-password", "env-password", "flag-password"],
            with: &["--turn-url", "turn:127.0.0.1:3478", "--turn-username", "u"],
        },
        Walk {
            name: "ice_transport_policy",
            file: "\"relay\"",
            env: "all",
            flag: "relay",
            read: |c| format!("{:?}", c.ice.ice_transport_policy),
            expect: ["Relay", "All", "Relay"],
            with: &[],
        },
        Walk {
            name: "turn_listen",
            file: "\"127.0.0.1:3478\"",
            env: "127.0.0.1:3479",
            flag: "127.0.0.1:3480",
            read: |c| format!("{:?}", c.relay.turn_listen),
            expect: [
                "Some(127.0.0.1:3478)",
                "Some(127.0.0.1:3479)",
                "Some(127.0.0.1:3480)",
            ],
            with: &[],
        },
        Walk {
            name: "turn_public_address",
            file: "\"203.0.113.1\"",
            env: "203.0.113.2",
            flag: "203.0.113.3",
            read: |c| format!("{:?}", c.relay.turn_public_address),
            expect: [
                "Some(203.0.113.1)",
                "Some(203.0.113.2)",
                "Some(203.0.113.3)",
            ],
            with: RELAY,
        },
        Walk {
            name: "turn_relay_ports",
            file: "\"40000-40099\"",
            env: "41000-41099",
            flag: "42000-42099",
            read: |c| {
                let ports = c.relay.turn_relay_ports;
                format!("{}-{}", ports.first, ports.last)
            },
            expect: ["40000-40099", "41000-41099", "42000-42099"],
            with: RELAY,
        },
        Walk {
            name: "turn_allow_private_peers",
            file: "true",
            env: "false",
            flag: "true",
            read: |c| c.relay.turn_allow_private_peers.to_string(),
            expect: ["true", "false", "true"],
            with: RELAY,
        },
        Walk {
            name: "turn_max_allocations",
            file: "3",
            env: "4",
            flag: "5",
            read: |c| c.relay.turn_max_allocations.to_string(),
            expect: ["3", "4", "5"],
            with: RELAY,
        },
        Walk {
            name: "turn_max_bitrate",
            file: "1000000",
            env: "2000000",
            flag: "3000000",
            read: |c| c.relay.turn_max_bitrate.to_string(),
            expect: ["1000000", "2000000", "3000000"],
            with: RELAY,
        },
        Walk {
            name: "tls_cert",
            file: "\"file.pem\"",
            env: "env.pem",
            flag: "flag.pem",
            read: |c| format!("{:?}", c.tls.tls_cert.clone().unwrap_or_default()),
            expect: ["\"file.pem\"", "\"env.pem\"", "\"flag.pem\""],
            with: &["--tls-key", "key.pem"],
        },
        Walk {
            name: "tls_key",
            file: "\"file.pem\"",
            env: "env.pem",
            flag: "flag.pem",
            read: |c| format!("{:?}", c.tls.tls_key.clone().unwrap_or_default()),
            expect: ["\"file.pem\"", "\"env.pem\"", "\"flag.pem\""],
            with: &["--tls-cert", "cert.pem"],
        },
        Walk {
            name: "self_signed",
            file: "[\"file.example\"]",
            env: "env.example",
            flag: "flag.example",
            read: |c| c.tls.self_signed.clone().unwrap_or_default().join(" "),
            expect: ["file.example", "env.example", "flag.example"],
            with: &[],
        },
        Walk {
            name: "log_format",
            file: "\"json\"",
            env: "text",
            flag: "json",
            read: |c| format!("{:?}", c.log.log_format),
            expect: ["Json", "Text", "Json"],
            with: &[],
        },
        Walk {
            name: "log_level",
            file: "\"warn\"",
            env: "debug",
            flag: "trace",
            read: |c| c.log.log_level.clone(),
            expect: ["warn", "debug", "trace"],
            with: &[],
        },
        Walk {
            name: "redis_url",
            file: "\"redis://127.0.0.1:1/0\"",
            env: "redis://127.0.0.1:2/0",
            flag: "redis+unix:///tmp/tandem-redis.sock",
            read: |c| secret(&c.cluster.redis_url),
            expect: [
                "redis://127.0.0.1:1/0",
                "redis://127.0.0.1:2/0",
                "redis+unix:///tmp/tandem-redis.sock",
            ],
            with: &["--resume-secret", "a-secret-of-sixteen-bytes"],
        },
        Walk {
            name: "redis_prefix",
            file: "\"one\"",
            env: "two",
            flag: "three",
            read: |c| c.cluster.redis_prefix.clone(),
            expect: ["one", "two", "three"],
            with: &[],
        },
        Walk {
            name: "redis_ca",
            file: "\"/etc/hostname\"",
            env: "/etc/hosts",
            flag: "/etc/passwd",
            read: |c| c.cluster.redis_ca.as_ref().unwrap().display().to_string(),
            expect: ["/etc/hostname", "/etc/hosts", "/etc/passwd"],
            with: &[
                "--resume-secret",
                "a-secret-of-sixteen-bytes",
                "--redis-url",
                "rediss://127.0.0.1:1/0",
            ],
        },
        Walk {
            name: "server_liveness",
            file: "\"4s\"",
            env: "5s",
            flag: "6s",
            read: |c| secs(c.cluster.server_liveness),
            expect: ["4000", "5000", "6000"],
            with: &[],
        },
    ]
}

fn load(file: &Path, setting: &Walk, flag: bool) -> Config {
    let flag_name = Config::command()
        .get_arguments()
        .find(|arg| arg.get_id() == setting.name)
        .and_then(|arg| arg.get_long())
        .map(|long| format!("--{long}"))
        .unwrap_or_else(|| panic!("{} has a flag", setting.name));
    let mut args = vec!["tandem".to_owned(), "--config".into()];
    args.push(file.display().to_string());
    args.extend(setting.with.iter().map(|s| s.to_string()));
    if flag {
        args.extend([flag_name, setting.flag.to_owned()]);
    }
    Config::load(&args).unwrap_or_else(|e| panic!("{}: {e}", setting.name))
}

#[test]
fn every_setting_is_read_from_the_file_then_the_environment_then_a_flag() {
    let walks = walks();
    let declared: Vec<String> = Config::command()
        .get_arguments()
        .map(|arg| arg.get_id().to_string())
        .filter(|id| !matches!(id.as_str(), "config" | "help" | "version"))
        .collect();
    let walked: Vec<String> = walks.iter().map(|w| w.name.to_owned()).collect();
    let mut missing: Vec<&String> = declared.iter().filter(|d| !walked.contains(d)).collect();
    missing.sort();
    assert!(missing.is_empty(), "walk these settings too: {missing:?}");

    let dir = std::env::temp_dir().join(format!("tandem-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tandem.toml");
    for setting in &walks {
        let variable = format!("TANDEM_{}", setting.name.to_uppercase());
        std::fs::write(&file, format!("{} = {}\n", setting.name, setting.file)).unwrap();
        // No test in this binary runs beside this one, so the environment is ours.
        std::env::remove_var(&variable);
        let from_file = (setting.read)(&load(&file, setting, false));
        std::env::set_var(&variable, setting.env);
        let from_env = (setting.read)(&load(&file, setting, false));
        let from_flag = (setting.read)(&load(&file, setting, true));
        std::env::remove_var(&variable);
        assert_eq!(
            [from_file.as_str(), &from_env, &from_flag],
            setting.expect,
            "{}: file, environment, flag",
            setting.name
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
