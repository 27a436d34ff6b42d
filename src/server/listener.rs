//! What every TCP connection is held to, before it is a request: a cap on how many are
//! open at once, and how long and how large a request's head may be.
//!
//! The header timeout and size limits are hyper's own (`header_read_timeout` needs a
//! timer, which axum-server does not give hyper by itself). hyper starts that timer once
//! it knows the connection speaks HTTP/1, which it learns from the first 24 bytes; a
//! connection that sends fewer is held to the same limit here, in [`Counted`]. The cap is
//! an axum-server acceptor: past `max_connections`, a new connection is closed at once,
//! before TLS or HTTP, and those already open (calls among them) carry on.

use super::metrics::{CloseReason, Metrics};
use axum_server::accept::Accept;
use futures::future::{BoxFuture, FutureExt};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A connection that has not sent complete request headers within this is closed; so is
/// a keep-alive connection idle this long between requests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers) read from a connection.
pub const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;
/// Largest request body the server reads (the home form's query is in the URL; nothing
/// posts more than a few bytes).
pub const MAX_REQUEST_BODY_BYTES: usize = 16 * 1024;

/// Applies the head limits to every HTTP connection axum-server makes.
pub fn limit_requests<E>(builder: &mut hyper_util::server::conn::auto::Builder<E>) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .max_header_list_size(MAX_REQUEST_HEAD_BYTES as u32);
}

/// Wraps another acceptor: at most `max` connections are open through it at once.
#[derive(Clone)]
pub struct Capped<A> {
    inner: A,
    open: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl<A> Capped<A> {
    pub fn new(inner: A, max: usize, metrics: Arc<Metrics>) -> Capped<A> {
        Capped {
            inner,
            open: Arc::new(Semaphore::new(max)),
            metrics,
        }
    }
}

impl<A, I, S> Accept<I, S> for Capped<A>
where
    A: Accept<I, S> + Clone + Send + 'static,
    A::Future: Send,
    A::Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    A::Service: Send + 'static,
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = Counted<A::Stream>;
    type Service = A::Service;
    type Future = BoxFuture<'static, io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let Ok(permit) = self.open.clone().try_acquire_owned() else {
            self.metrics.closed(CloseReason::MaxConnections);
            // Dropping the stream closes it: refused at once, nothing read or written.
            drop(stream);
            return futures::future::ready(Err(io::Error::other("max_connections reached")))
                .boxed();
        };
        let metrics = self.metrics.clone();
        self.inner
            .accept(stream, service)
            .map(|accepted| {
                accepted.map(|(stream, service)| {
                    (
                        Counted {
                            stream: Some(stream),
                            permit: Some(permit),
                            first_bytes: Some((
                                Box::pin(tokio::time::sleep(HEADER_READ_TIMEOUT)),
                                0,
                            )),
                            unanswered: Some((Instant::now(), metrics)),
                        },
                        service,
                    )
                })
            })
            .boxed()
    }
}

/// Bytes hyper reads to tell HTTP/2 from HTTP/1 (the HTTP/2 preface), before its own
/// header timer runs.
const VERSION_BYTES: usize = 24;

/// How long, and how much, a closing connection is read for, so that what the client was
/// still sending does not make the kernel reset the connection (and lose the last words,
/// a WebSocket close frame 1009 among them).
const DRAIN_TIME: Duration = Duration::from_secs(1);
const DRAIN_BYTES: usize = 2 << 20;

/// A connection that counts against the cap until it is dropped, and is closed gently:
/// when dropped, it sends its end of file, then reads what still comes for a moment (see
/// [`DRAIN_TIME`]) before it lets go.
pub struct Counted<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    /// Taken only when dropped.
    stream: Option<S>,
    /// Held until the connection is closed, drain included.
    permit: Option<OwnedSemaphorePermit>,
    /// Until the first [`VERSION_BYTES`] have come: when the connection is closed if they
    /// have not, and how many have. Dropped (and its timer freed) once they have.
    first_bytes: Option<(Pin<Box<tokio::time::Sleep>>, usize)>,
    /// Until the server writes to it or the client closes it: since when it is open, and
    /// where to count it if it is dropped before either, past the header timeout (hyper
    /// gave up on its request's head).
    unanswered: Option<(Instant, Arc<Metrics>)>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Counted<S> {
    fn io(&mut self) -> Pin<&mut S> {
        Pin::new(
            self.stream
                .as_mut()
                .expect("the stream is taken only when dropped"),
        )
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for Counted<S> {
    fn drop(&mut self) {
        if let Some((opened, metrics)) = self.unanswered.take() {
            if opened.elapsed() >= HEADER_READ_TIMEOUT {
                metrics.closed(CloseReason::HeaderTimeout);
            }
        }
        let (Some(mut stream), Ok(runtime)) =
            (self.stream.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let permit = self.permit.take();
        runtime.spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let drain = async {
                stream.shutdown().await?;
                let mut buf = [0u8; 4096];
                let mut read = 0;
                while read < DRAIN_BYTES {
                    match stream.read(&mut buf).await? {
                        0 => break,
                        n => read += n,
                    }
                }
                io::Result::Ok(())
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
            drop(permit);
        });
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = self.io().poll_read(cx, buf);
        let this = &mut *self;
        match &read {
            // The client closed its end, or the connection broke: not a timeout.
            Poll::Ready(Ok(())) if buf.filled().len() == before => this.unanswered = None,
            Poll::Ready(Err(_)) => this.unanswered = None,
            _ => {}
        }
        if let Some((deadline, seen)) = &mut this.first_bytes {
            *seen += buf.filled().len() - before;
            if *seen >= VERSION_BYTES {
                this.first_bytes = None;
            } else if read.is_pending() && deadline.as_mut().poll(cx).is_ready() {
                // Counted when dropped, as for hyper's own timeout.
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request within the header timeout",
                )));
            }
        }
        read
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.unanswered = None;
        self.io().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.unanswered = None;
        self.io().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(S::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io().poll_shutdown(cx)
    }
}
