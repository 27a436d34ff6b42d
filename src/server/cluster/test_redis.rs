//! A real redis-server for tests: the cluster's unit tests and the integration tests
//! (`tests/common`) start theirs with it.

/// A redis-server of the test's own on a free loopback port, keeping nothing on disk;
/// killed when dropped.
pub struct RedisServer {
    child: std::process::Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        RedisServer::start_on(port)
    }

    /// Starts on `port` (again, after [`RedisServer::kill`]) and returns once it accepts
    /// connections.
    pub fn start_on(port: u16) -> RedisServer {
        RedisServer::spawn(port, &["--save", "", "--appendonly", "no"])
    }

    /// Starts on `port` keeping every write in `dir` (an fsync each), so that it comes
    /// back with its data after a SIGKILL.
    pub fn start_keeping(port: u16, dir: &std::path::Path) -> RedisServer {
        let dir = dir.to_str().unwrap();
        RedisServer::spawn(
            port,
            &[
                "--dir",
                dir,
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
        )
    }

    /// Starts speaking TLS only, on `port`, with this certificate and key (PEM files).
    pub fn start_tls(port: u16, cert: &std::path::Path, key: &std::path::Path) -> RedisServer {
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        RedisServer::spawn(
            0,
            &[
                "--tls-port",
                &port.to_string(),
                "--tls-cert-file",
                cert,
                "--tls-key-file",
                key,
                "--tls-ca-cert-file",
                cert,
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
    }

    fn spawn(port: u16, keeping: &[&str]) -> RedisServer {
        use std::io::BufRead;
        let mut child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(keeping)
            .args(["--loglevel", "notice"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("redis-server is installed (scripts/setup.sh test)");
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .expect("redis-server exited before it was ready")
                .unwrap();
            if line.contains("Ready to accept connections") {
                break;
            }
        }
        // Keep reading its log so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        RedisServer { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// SIGKILL: gone at once, with everything it held.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A connection of the test's own, to look at what Tandem left there.
    pub async fn connect(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
