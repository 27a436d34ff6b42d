//! Raised hands and reactions: who has a hand up and in what order, and which reactions
//! float over whose tile right now.

use crate::protocol::peer::{Reaction, MAX_HAND_TURN, MAX_HAND_UP_MS};
use crate::protocol::signaling::PeerId;
use std::collections::VecDeque;

/// How long a reaction floats over a tile.
pub const REACTION_SHOWN_MS: u32 = 3_000;
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
    pub since_ms: f64,
}

impl UpHand {
    /// A hand as its owner tells it: raised `for_ms` ago, at `turn`. Comparing these
    /// orders hands without comparing two browsers' clocks.
    pub fn told(now_ms: f64, for_ms: u32, turn: u32) -> UpHand {
        UpHand {
            turn: turn.min(MAX_HAND_TURN),
            since_ms: now_ms - f64::from(for_ms.min(MAX_HAND_UP_MS)),
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

/// How long a hand raised at `since_ms` has been up, as its owner tells it.
pub fn up_for(since_ms: f64, now_ms: f64) -> u32 {
    (now_ms - since_ms).clamp(0.0, f64::from(MAX_HAND_UP_MS)) as u32
}

/// Orders hands by turn, then by when they went up; hands equal in both keep the order
/// given (the order people arrived in).
pub fn in_order(mut hands: Vec<(UpHand, RaisedHand)>) -> Vec<RaisedHand> {
    hands.sort_by(|a, b| (a.0.turn.cmp(&b.0.turn)).then(a.0.since_ms.total_cmp(&b.0.since_ms)));
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
    until_ms: f64,
}

/// The reactions on screen, oldest first, and the one timer that takes them off.
#[derive(Debug, Default)]
pub struct Reactions {
    shown: VecDeque<ShownReaction>,
    next_id: u64,
    /// The timer is running (it is started for the oldest and restarted for the next).
    timer: bool,
}

impl Reactions {
    /// Shows a reaction until `now_ms` + [`REACTION_SHOWN_MS`]; returns the delay to start
    /// the timer with, if it is not running.
    pub fn show(
        &mut self,
        from: Option<PeerId>,
        name: String,
        reaction: Reaction,
        now_ms: f64,
    ) -> Option<u32> {
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
            until_ms: now_ms + f64::from(REACTION_SHOWN_MS),
        });
        (!std::mem::replace(&mut self.timer, true)).then_some(REACTION_SHOWN_MS)
    }

    /// The timer fired: reactions whose time is up go; returns the delay to start it
    /// again with, while any are left.
    pub fn expire(&mut self, now_ms: f64) -> Option<u32> {
        self.shown.retain(|r| r.until_ms > now_ms);
        let next = self.shown.iter().map(|r| r.until_ms).reduce(f64::min);
        self.timer = next.is_some();
        next.map(|until| (until - now_ms).ceil().max(1.0) as u32)
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
        let now = 100_000.0;
        let carol = (UpHand::told(now, 1_000, 1), hand("Carol"));
        let bob = (UpHand::told(now + 20.0, 5_000, 1), hand("Bob"));
        let names =
            |hands| -> Vec<String> { in_order(hands).into_iter().map(|h| h.name).collect() };
        assert_eq!(names(vec![carol.clone(), bob.clone()]), ["Bob", "Carol"]);
        // A later turn comes later, however long it says it has been up.
        let dave = (UpHand::told(now, 60_000, 2), hand("Dave"));
        assert_eq!(names(vec![dave, carol, bob]), ["Bob", "Carol", "Dave"]);
        // What a page says of its own hand is what the next page computes back.
        assert_eq!(up_for(UpHand::told(now, 2_500, 1).since_ms, now), 2_500);
        // A hand from the future, or older than a day, is neither.
        assert_eq!(up_for(now + 10.0, now), 0);
        assert_eq!(
            UpHand::told(now, u32::MAX, u32::MAX),
            UpHand {
                turn: MAX_HAND_TURN,
                since_ms: now - f64::from(MAX_HAND_UP_MS)
            }
        );
    }

    #[test]
    fn a_new_hand_takes_the_turn_after_the_highest_up() {
        let up = |turn| UpHand {
            turn,
            since_ms: 0.0,
        };
        assert_eq!(next_turn([].into_iter()), 1);
        assert_eq!(next_turn([up(3), up(1)].into_iter()), 4);
        assert_eq!(next_turn([up(MAX_HAND_TURN)].into_iter()), MAX_HAND_TURN);
    }

    #[test]
    fn a_tile_shows_at_most_three_reactions_each_for_three_seconds() {
        let mut reactions = Reactions::default();
        let bob = Some(PeerId(2));
        assert_eq!(
            reactions.show(bob, "Bob".into(), Reaction::Clap, 0.0),
            Some(REACTION_SHOWN_MS)
        );
        for at in [100.0, 200.0, 300.0] {
            assert_eq!(reactions.show(bob, "Bob".into(), Reaction::Heart, at), None);
        }
        reactions.show(None, "You".into(), Reaction::Party, 400.0);
        let bobs: Vec<u64> = reactions
            .shown()
            .filter(|r| r.from == bob)
            .map(|r| r.id)
            .collect();
        assert_eq!(bobs, [2, 3, 4], "the oldest went first");
        // At 3 s the first still shown (from 100 ms) has 100 ms left.
        assert_eq!(reactions.expire(3_000.0), Some(100));
        assert_eq!(reactions.shown().count(), 4);
        assert_eq!(reactions.expire(3_350.0), Some(50));
        assert_eq!(reactions.shown().count(), 1);
        assert_eq!(reactions.expire(3_400.0), None);
        assert_eq!(reactions.shown().count(), 0);
        // With nothing shown the timer is off: the next reaction starts it.
        assert_eq!(
            reactions.show(bob, "Bob".into(), Reaction::Clap, 9_000.0),
            Some(REACTION_SHOWN_MS)
        );
        reactions.forget(PeerId(2));
        assert_eq!(reactions.shown().count(), 0);
    }
}
