//! Every wire contract, compiled into both the server and the browser: what crosses the
//! signaling socket (`signaling`), and what one browser tells another over data channels
//! (`peer` for chat and media state, `file` for file transfers). Each states its limits
//! beside its messages, and each is written out in `docs/protocol.md`.

pub mod file;
pub mod peer;
pub mod signaling;
