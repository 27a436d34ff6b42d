//! The two shells held to one behaviour (issue 35, item 5): any sequence of joins (names
//! that fold alike included), leaves, dropped sockets, resumes, expiries and host
//! commands, run
//! through the single server's rooms and through the cluster's view of the room over an
//! in-process model of Redis's scripts, must tell every connection the same and leave
//! the same room (`tandem::server::cluster::differential`, which says what is left out
//! and why).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tandem::server::cluster::differential::{check, Step};

#[derive(Arbitrary, Debug)]
enum Op {
    Join { conn: u8, name: u8 },
    Leave { conn: u8 },
    Drop { conn: u8 },
    Expire { conn: u8 },
    Resume { conn: u8 },
    Lock { conn: u8, locked: bool },
    MakeHost { conn: u8, to: u8 },
    Remove { conn: u8, to: u8 },
    AskToMute { conn: u8, to: u8 },
}

/// Names that meet each other: the same, folding alike, and numbered as the server
/// numbers them.
const NAMES: [&str; 6] = ["Ann", "ann", "ANN", "Ann (2)", "Bo", "Åsa"];

fuzz_target!(|ops: Vec<Op>| {
    let steps: Vec<Step> = ops
        .into_iter()
        .take(200)
        .map(|op| match op {
            Op::Join { conn, name } => Step::Join {
                conn,
                name: NAMES[usize::from(name) % NAMES.len()].to_owned(),
            },
            Op::Leave { conn } => Step::Leave { conn },
            Op::Drop { conn } => Step::Drop { conn },
            Op::Expire { conn } => Step::Expire { conn },
            Op::Resume { conn } => Step::Resume { conn },
            Op::Lock { conn, locked } => Step::Lock { conn, locked },
            Op::MakeHost { conn, to } => Step::MakeHost { conn, to },
            Op::Remove { conn, to } => Step::Remove { conn, to },
            Op::AskToMute { conn, to } => Step::AskToMute { conn, to },
        })
        .collect();
    if let Err(difference) = check(&steps) {
        panic!("{difference}");
    }
});
