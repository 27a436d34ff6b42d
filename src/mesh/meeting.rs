//! Raised hands and reactions: who has a hand up and in what order, and which reactions
//! float over whose tile right now.

use super::clock::Millis;
use crate::protocol::peer::{Reaction, MAX_HAND_TURN, MAX_HAND_UP_MS};
use crate::protocol::signaling::PeerId;
use std::collections::VecDeque;

/// How long a reaction floats over a tile.
pub const REACTION_SHOWN_MS: u64 = 3_000;
/// Reactions over one tile at once; a newer one pushes the oldest off.
pub const MAX_REACTIONS_PER_TILE: usize = 3;

/// A raised hand, in the order hands went up.
#[derive(Clone, Debug, PartialEq)]
pub struct RaisedHand {
    /// `None`: this person's own hand.
    pub who: Option<PeerId>,
    pub name: String,
}

/// A hand that is up: its turn, and when it went up in this page's clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UpHand {
    /// It comes after every hand with a lower turn (see [`next_turn`]).
    pub turn: u32,
    pub since: Millis,
}

impl UpHand {
    /// A hand as its owner tells it: raised `for_ms` ago, at `turn`. Comparing these
    /// orders hands without comparing two browsers' clocks.
    pub fn told(now: Millis, for_ms: u32, turn: u32) -> UpHand {
        UpHand {
            turn: turn.min(MAX_HAND_TURN),
            since: now - u64::from(for_ms.min(MAX_HAND_UP_MS)),
        }
    }
}

/// The turn of a hand raised now, after `up`: one more than the highest turn among the
/// hands its owner sees up. A hand raised after seeing Bob's comes after Bob's on every
/// page, however late either message reaches it (a Lamport clock); only hands raised at
/// once, by people who had not yet seen each other's, fall back on how long each was up.
pub fn next_turn(up: impl Iterator<Item = UpHand>) -> u32 {
    up.map(|hand| hand.turn)
        .max()
        .unwrap_or(0)
        .saturating_add(1)
        .min(MAX_HAND_TURN)
}

/// How long a hand raised at `since` has been up, as its owner tells it.
pub fn up_for(since: Millis, now: Millis) -> u32 {
    u32::try_from(now.since(since).min(u64::from(MAX_HAND_UP_MS))).unwrap_or(MAX_HAND_UP_MS)
}

/// Orders hands by turn, then by when they went up; hands equal in both keep the order
/// given (the order people arrived in).
pub fn in_order(mut hands: Vec<(UpHand, RaisedHand)>) -> Vec<RaisedHand> {
    hands.sort_by_key(|(hand, _)| (hand.turn, hand.since));
    hands.into_iter().map(|(_, hand)| hand).collect()
}

/// One reaction on screen.
#[derive(Clone, Debug, PartialEq)]
pub struct ShownReaction {
    /// Counts up within a call: keys the reaction on screen.
    pub id: u64,
    /// `None`: this person's own.
    pub from: Option<PeerId>,
    pub name: String,
    pub reaction: Reaction,
    until: Millis,
}

/// The reactions on screen, oldest first.
#[derive(Debug, Default)]
pub struct Reactions {
    shown: VecDeque<ShownReaction>,
    next_id: u64,
}

impl Reactions {
    /// Shows a reaction until `now` + [`REACTION_SHOWN_MS`].
    pub fn show(&mut self, from: Option<PeerId>, name: String, reaction: Reaction, now: Millis) {
        self.next_id += 1;
        let over_tile = self.shown.iter().filter(|r| r.from == from).count();
        if over_tile >= MAX_REACTIONS_PER_TILE {
            let oldest = self
                .shown
                .iter()
                .position(|r| r.from == from)
                .expect("the tile has reactions: it was just counted");
            self.shown.remove(oldest);
        }
        self.shown.push_back(ShownReaction {
            id: self.next_id,
            from,
            name,
            reaction,
            until: now + REACTION_SHOWN_MS,
        });
    }

    /// Reactions whose time is up go.
    pub fn expire(&mut self, now: Millis) {
        self.shown.retain(|r| r.until > now);
    }

    /// When the next reaction is to go.
    pub fn next_expiry(&self) -> Option<Millis> {
        self.shown.iter().map(|r| r.until).min()
    }

    /// Someone left: their reactions go with their tile.
    pub fn forget(&mut self, peer: PeerId) {
        self.shown.retain(|r| r.from != Some(peer));
    }

    pub fn shown(&self) -> impl Iterator<Item = &ShownReaction> {
        self.shown.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hand(name: &str) -> RaisedHand {
        RaisedHand {
            who: None,
            name: name.into(),
        }
    }

    #[test]
    fn hands_are_ordered_by_how_long_they_have_been_up_not_by_clocks() {
        // Carol's hand is learned first but went up later than Bob's.
        let now = Millis(100_000);
        let carol = (UpHand::told(now, 1_000, 1), hand("Carol"));
        let bob = (UpHand::told(now + 20, 5_000, 1), hand("Bob"));
        let names =
            |hands| -> Vec<String> { in_order(hands).into_iter().map(|h| h.name).collect() };
        assert_eq!(names(vec![carol.clone(), bob.clone()]), ["Bob", "Carol"]);
        // A later turn comes later, however long it says it has been up.
        let dave = (UpHand::told(now, 60_000, 2), hand("Dave"));
        assert_eq!(names(vec![dave, carol, bob]), ["Bob", "Carol", "Dave"]);
        // What a page says of its own hand is what the next page computes back.
        assert_eq!(up_for(UpHand::told(now, 2_500, 1).since, now), 2_500);
        // A hand from the future, or older than a day, is neither.
        assert_eq!(up_for(now + 10, now), 0);
        assert_eq!(
            UpHand::told(now, u32::MAX, u32::MAX),
            UpHand {
                turn: MAX_HAND_TURN,
                since: now - u64::from(MAX_HAND_UP_MS)
            }
        );
        // Up since before this page opened: still ordered by how long.
        let early = (UpHand::told(Millis(50), 600_000, 1), hand("Early"));
        let earlier = (UpHand::told(Millis(60), 700_000, 1), hand("Earlier"));
        assert_eq!(names(vec![early, earlier]), ["Earlier", "Early"]);
    }

    #[test]
    fn a_new_hand_takes_the_turn_after_the_highest_up() {
        let up = |turn| UpHand {
            turn,
            since: Millis::ZERO,
        };
        assert_eq!(next_turn([].into_iter()), 1);
        assert_eq!(next_turn([up(3), up(1)].into_iter()), 4);
        assert_eq!(next_turn([up(MAX_HAND_TURN)].into_iter()), MAX_HAND_TURN);
    }

    #[test]
    fn a_tile_shows_at_most_three_reactions_each_for_three_seconds() {
        let mut reactions = Reactions::default();
        let bob = Some(PeerId(2));
        reactions.show(bob, "Bob".into(), Reaction::Clap, Millis(0));
        assert_eq!(
            reactions.next_expiry(),
            Some(Millis(REACTION_SHOWN_MS as i64))
        );
        for at in [100, 200, 300] {
            reactions.show(bob, "Bob".into(), Reaction::Heart, Millis(at));
        }
        reactions.show(None, "You".into(), Reaction::Party, Millis(400));
        let bobs: Vec<u64> = reactions
            .shown()
            .filter(|r| r.from == bob)
            .map(|r| r.id)
            .collect();
        assert_eq!(bobs, [2, 3, 4], "the oldest went first");
        // At 3 s the first still shown (from 100 ms) has 100 ms left.
        reactions.expire(Millis(3_000));
        assert_eq!(reactions.next_expiry(), Some(Millis(3_100)));
        assert_eq!(reactions.shown().count(), 4);
        reactions.expire(Millis(3_350));
        assert_eq!(reactions.next_expiry(), Some(Millis(3_400)));
        assert_eq!(reactions.shown().count(), 1);
        reactions.expire(Millis(3_400));
        assert_eq!(reactions.next_expiry(), None, "nothing left to take off");
        assert_eq!(reactions.shown().count(), 0);
        reactions.show(bob, "Bob".into(), Reaction::Clap, Millis(9_000));
        reactions.forget(PeerId(2));
        assert_eq!(reactions.shown().count(), 0);
        assert_eq!(reactions.next_expiry(), None);
    }
}
