//! The seat record, Rust's side: `<seq> <holder> <fold> <name>` under a seat's id in its
//! room's hash (`seat.lua` is the Lua side: one parser and one encoder on each).

use crate::protocol::signaling::{PeerId, PeerInfo};

/// Who holds a seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Holder {
    /// The server its person is connected to.
    Server(String),
    /// Nobody, until then (Redis's clock, ms): its server is gone, and any server may
    /// resume the seat meanwhile. Stored as `~<ms>`.
    Nobody { until_ms: u64 },
}

impl Holder {
    pub(super) fn parse(text: &str) -> Option<Holder> {
        match text.strip_prefix('~') {
            Some(ms) => Some(Holder::Nobody {
                until_ms: ms.parse().ok()?,
            }),
            None if !text.is_empty() => Some(Holder::Server(text.to_owned())),
            None => None,
        }
    }

    /// The server to tell of changes to this seat, if any.
    pub(super) fn server(&self) -> Option<&str> {
        match self {
            Holder::Server(server) => Some(server),
            Holder::Nobody { .. } => None,
        }
    }
}

/// A seat as a script lists it: `<id>` and `<seq> <holder> <fold> <name>`, where `fold` is
/// the name's [folded form](fold_name) in hex (no spaces: the scripts compare it).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Listed {
    pub info: PeerInfo,
    /// The seat's number in the room's order.
    pub seq: u64,
    pub holder: Holder,
}

impl Listed {
    pub(super) fn parse(id: &str, record: &str) -> Option<Listed> {
        let mut parts = record.splitn(4, ' ');
        let (seq, holder, _fold, name) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some(Listed {
            info: PeerInfo {
                id: PeerId(id.parse().ok()?),
                name: name.to_owned(),
            },
            seq: seq.parse().ok()?,
            holder: Holder::parse(holder)?,
        })
    }

    /// `[id, record, …]`, as the scripts return them.
    pub(super) fn all(pairs: &[String]) -> Option<Vec<Listed>> {
        pairs
            .chunks(2)
            .map(|pair| match pair {
                [id, record] => Listed::parse(id, record),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod records {
    use super::super::contract::fold_hex;
    use super::*;

    #[test]
    fn a_seat_record_names_its_holder_or_when_it_is_held_for_nobody_until() {
        let seat = Listed::parse("7", "3 abc 616e6e206c6565 Ann Lee").expect("a valid record");
        assert_eq!(seat.seq, 3);
        assert_eq!(seat.info.name, "Ann Lee");
        assert_eq!(seat.holder, Holder::Server("abc".into()));
        let held = Listed::parse("7", "3 ~1700 616e6e Ann").expect("a valid record");
        assert_eq!(held.holder, Holder::Nobody { until_ms: 1700 });
        assert_eq!(held.holder.server(), None);
        for bad in [
            "3 ~soon f Ann",
            "x abc f Ann",
            "3 abc f",
            "3  f Ann",
            "3 abc Ann",
        ] {
            assert_eq!(Listed::parse("7", bad), None, "{bad}");
        }
        assert_eq!(Listed::parse("seven", "3 abc f Ann"), None);
        assert_eq!(fold_hex("Ann Lee"), "616e6e206c6565");
        assert_eq!(fold_hex("ÅSA"), fold_hex("åsa"));
        assert_eq!(Listed::all(&["1".into()]), None);
    }
}
