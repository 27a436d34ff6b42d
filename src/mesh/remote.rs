//! Each other person in the room: what the call screen shows of them ([`Person`]) and
//! what the session keeps about them ([`Remote`]): their connection, their rate gates,
//! their hand, their code.

use super::gates::RateGate;
use super::meeting::UpHand;
use super::{IceState, MediaState, Millis};
use crate::protocol::signaling::PeerId;

/// How far one pair's connection got (`RTCPeerConnection.connectionState`, simplified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// Seated, but their offer has not come yet: no connection is open.
    Awaiting,
    Connecting,
    Connected,
    /// Disconnected or failed: ICE is being restarted.
    Interrupted,
    /// The connection could not be set up (the browser's reason).
    Failed(String),
}

/// One other person in the room, as the call screen shows them.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    pub id: PeerId,
    pub name: String,
    pub link: Link,
    /// What they say they send.
    pub media: MediaState,
    /// Their chat channel is open.
    pub chat_open: bool,
    /// The person marked them verified, and the connection's code has not changed since.
    pub verified: bool,
    /// They say they are recording the call.
    pub recording: bool,
}

pub(super) struct Remote {
    pub(super) person: Person,
    /// We yield to their offer when both offer at once.
    pub(super) polite: bool,
    /// A peer connection to them is open.
    pub(super) open: bool,
    /// The last reported ICE state, to decide at the end of a grace period.
    pub(super) ice: IceState,
    pub(super) chat_gate: RateGate,
    pub(super) reaction_gate: RateGate,
    /// Their hand, while it is up.
    pub(super) hand: Option<UpHand>,
    pub(super) hand_gate: RateGate,
    /// The last hand they told (up, or `None`: down) while changes were held back, read
    /// when it arrived; shown when the [`Timer::HandSettled`] fires.
    pub(super) hand_pending: Option<Option<UpHand>>,
    /// When we last said they sent an over-long line.
    pub(super) too_long_noticed: Option<Millis>,
    /// ICE candidates taken from them since their last description.
    pub(super) candidates: usize,
    /// `peer_busy` answers for them since the connection last connected, and whether a
    /// renegotiation is already waiting for its pause to end.
    pub(super) busy: u32,
    pub(super) busy_pending: bool,
    /// The connection's verification code as last read, and the one the person marked
    /// verified.
    pub(super) code: Option<String>,
    pub(super) verified_code: Option<String>,
}

/// How long a hand that changes too fast waits before where it ended up is shown.
pub const HAND_SETTLE_MS: u64 = 500;

/// Shows someone's hand as they said it is (`None`: down).
pub(super) fn set_hand(remote: &mut Remote, told: Option<UpHand>) {
    remote.hand = match (told, remote.hand) {
        (None, _) => None,
        // Told again (a new channel): it stays where it was in the order.
        (Some(_), Some(shown)) => Some(shown),
        (Some(told), None) => Some(told),
    };
}
