//! Everything the session reacts to, one event at a time.

use super::stats::StatsRead;
use crate::call_state::{DeviceKind, UiCommand};
use crate::client::peer::PeerEvent;
use crate::client::signaling::SocketEvent;
use crate::protocol::signaling::PeerId;
use web_sys::MediaStreamTrack;

/// Everything the session reacts to.
pub(super) enum Event {
    Ui(UiCommand),
    Socket(SocketEvent),
    Peer(PeerId, PeerEvent),
    /// The state machine's next deadline has come.
    Timeout,
    /// Time to read the call statistics.
    StatsTick,
    /// The statistics asked for at the last tick, one sample per connection read.
    StatsRead(Vec<StatsRead>),
    /// The person picked a screen to share (or declined).
    ScreenPicked(Result<MediaStreamTrack, String>),
    /// A newly chosen camera or microphone is open (or could not be).
    DeviceOpened(DeviceKind, Result<MediaStreamTrack, String>),
    /// Devices were plugged in or out.
    DevicesChanged,
    /// This side is done with a file transfer.
    TransferEnded(u32),
    /// Time to bring the screen up to date (an animation frame).
    Redraw,
    /// The browser reports a change of network.
    NetworkChanged,
}

impl Event {
    /// What the event is, for the console's note on a slow one.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Event::Ui(_) => "a control",
            Event::Socket(_) => "news from the server",
            Event::Peer(..) => "news from a peer connection",
            Event::Timeout => "a timer",
            Event::StatsTick => "the stats tick",
            Event::StatsRead(_) => "the stats read",
            Event::ScreenPicked(_) => "a picked screen",
            Event::DeviceOpened(..) => "an opened device",
            Event::DevicesChanged => "the device list",
            Event::TransferEnded(_) => "a finished transfer",
            Event::Redraw => "a redraw",
            Event::NetworkChanged => "a network change",
        }
    }
}
