//! Raised hands and reactions: who has a hand up and in what order, and which reactions
//! float over whose tile right now.

use crate::protocol::peer::{Reaction, MAX_HAND_UP_MS};
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

/// When a hand went up, in this page's clock, from what its owner says: `for_ms` ago.
/// Comparing these orders hands without comparing two browsers' clocks.
pub fn raised_at(now_ms: f64, for_ms: u32) -> f64 {
    now_ms - f64::from(for_ms.min(MAX_HAND_UP_MS))
}

/// How long a hand raised at `since_ms` has been up, as its owner tells it.
pub fn up_for(since_ms: f64, now_ms: f64) -> u32 {
    (now_ms - since_ms).clamp(0.0, f64::from(MAX_HAND_UP_MS)) as u32
}

/// Orders hands by when they went up; hands raised in the same millisecond keep the
/// order given (the order people arrived in).
pub fn in_order(mut hands: Vec<(f64, RaisedHand)>) -> Vec<RaisedHand> {
    hands.sort_by(|a, b| a.0.total_cmp(&b.0));
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
        let carol = (raised_at(now, 1_000), hand("Carol"));
        let bob = (raised_at(now + 20.0, 5_000), hand("Bob"));
        let names: Vec<String> = in_order(vec![carol, bob])
            .into_iter()
            .map(|h| h.name)
            .collect();
        assert_eq!(names, ["Bob", "Carol"]);
        // What a page says of its own hand is what the next page computes back.
        assert_eq!(up_for(raised_at(now, 2_500), now), 2_500);
        // A hand from the future, or older than a day, is neither.
        assert_eq!(up_for(now + 10.0, now), 0);
        assert_eq!(raised_at(now, u32::MAX), now - f64::from(MAX_HAND_UP_MS));
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
