//! A TCP link to a server that a test can cut and mend: what a flaky network does to one
//! machine's connections, and nothing else.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct Link {
    pub port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<AbortHandle>>>,
    accepting: AbortHandle,
}

impl Link {
    /// A loopback port whose connections are passed on to `upstream`'s.
    pub async fn to(upstream: u16) -> Link {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (is_cut, opened) = (cut.clone(), open.clone());
        let accepting = tokio::spawn(async move {
            while let Ok((mut near, _)) = listener.accept().await {
                // Cut: the connection is dropped as it comes.
                if is_cut.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(mut far) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    continue;
                };
                let passing = tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut near, &mut far).await;
                });
                opened.lock().unwrap().push(passing.abort_handle());
            }
        })
        .abort_handle();
        Link {
            port,
            cut,
            open,
            accepting,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Every connection through the link is reset, and new ones are dropped.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for passing in self.open.lock().unwrap().drain(..) {
            passing.abort();
        }
    }

    pub fn mend(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.accepting.abort();
        self.cut();
    }
}
