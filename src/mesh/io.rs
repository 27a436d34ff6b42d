//! What goes into the session and what comes out of it: the inputs it takes (from the
//! server, each peer connection, the person, the clock) and the effects it returns for
//! the browser layer to carry out, with the small types they carry.

use super::budget::{self, SenderLimits};
use super::notice::Notice;
use super::switches::{Switches, TrackKind};
use crate::protocol::peer::{PeerMessage, PeerMessageError, Reaction};
use crate::protocol::signaling::{
    ClientMessage, HostCommand, IceServer, IceTransportPolicy, PeerId, ServerMessage, Signal,
};

/// One line of chat.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatLine {
    /// Counts up within a call: keys the line on screen.
    pub id: u64,
    pub from: String,
    pub text: String,
    pub mine: bool,
}

/// What a person sends: shown by the others as "muted" or a placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaState {
    pub audio: bool,
    pub video: bool,
    pub screen: bool,
}

impl Default for MediaState {
    fn default() -> Self {
        MediaState {
            audio: true,
            video: true,
            screen: false,
        }
    }
}

/// `RTCPeerConnection.connectionState`, as the browser layer reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    Connecting,
    Connected,
    Disconnected,
    Failed,
}

/// `RTCPeerConnection.iceConnectionState`, as far as restarts care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceState {
    Other,
    Disconnected,
    Failed,
}

/// News about one pair's connection.
#[derive(Clone, Debug, PartialEq)]
pub enum PeerInput {
    State(ConnectionState),
    Ice(IceState),
    ChatOpen,
    ChatClosed,
    /// A text frame from their chat channel, still encoded.
    Message(String),
    /// A frame refused before decoding (binary, or too large to read).
    Unreadable(PeerMessageError),
    /// A description or candidate our browser made for them.
    LocalSignal(Signal),
    /// Our browser refused a description or candidate (its reason).
    NegotiationFailed(String),
    /// The verification code of the connection as it is now (see [`verify`]): read when
    /// it connects, and when the person asks for it.
    Code(String),
    /// They opened a channel to send us a file.
    FileOffered,
}

/// What the person asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    SendChat(String),
    HangUp,
    /// The call screen went away: end without showing anything.
    Leave,
    /// Take the call back from the tab or device that took it.
    TakeBack,
    /// The person compared the code with this person by voice, and it matched.
    MarkVerified(PeerId),
    /// As the host: hand the role on, remove or ask someone to mute, lock the room,
    /// answer a knock.
    Host(HostCommand),
    /// Mute or unmute (the microphone's switch).
    ToggleMicrophone,
    /// Turn the camera off or on (its switch).
    ToggleCamera,
    /// Raise this person's hand, or lower it.
    ToggleHand,
    /// As the host: ask this person to lower their hand.
    LowerHand(PeerId),
    /// Float a reaction over this person's tile, at every page.
    React(Reaction),
    /// This person started (or stopped) recording the call: everyone is told.
    Recording(bool),
    /// Send a file (the browser holds it) to `to`, or to everyone connected.
    SendFile {
        to: Option<PeerId>,
    },
}

/// Everything the session reacts to.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The camera and microphone are settled (or refused): the call may show itself.
    MediaReady,
    /// From the signaling socket of that generation.
    Server(u32, ServerMessage),
    SocketClosed(u32),
    /// The moment [`Session::poll_timeout`] named has come: every timer due fires.
    Timeout,
    Peer(PeerId, PeerInput),
    Command(Command),
    /// The tracks we have changed: `audio`, a microphone; `video`, a camera; `screen`, a
    /// shared screen in the camera's place. What we send follows with the switches.
    LocalTracks(MediaState),
    /// The browser's estimate of its upload, in bits per second.
    UploadEstimate(Option<u64>),
    /// What the browser says of each connection's link this stats tick: whether the link
    /// is the limit decides whether that estimate may lower the budget (`budget.rs`).
    LinkSamples(Vec<budget::LinkSample>),
    /// This side is done with a transfer: sent, received, failed or cancelled.
    TransferEnded(u32),
    /// A newly picked microphone or camera is open, in place of the old one.
    NewTrack(TrackKind),
    /// The browser reports a change of network (`online`, or `navigator.connection`'s
    /// `change`): the paths in use may be gone, so every connection looks for new ones
    /// now rather than after its ICE fails.
    NetworkChanged,
}

/// What the browser layer must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Open a new signaling socket; its news carries `generation`.
    OpenSocket {
        generation: u32,
    },
    /// Take over the socket the page's script opened and sent our `join` on
    /// (`early_media`), with what the server said on it so far; its news carries
    /// `generation`.
    AdoptSocket {
        generation: u32,
    },
    CloseSocket,
    Send(ClientMessage),
    /// Open a peer connection to `peer`, sending our tracks (with `screen`, the shared
    /// screen in the camera's place: a newcomer sees what the others see). The impolite
    /// side (the one seated first) also opens the chat channel, and so makes the first
    /// offer.
    OpenPeer {
        peer: PeerId,
        polite: bool,
        screen: bool,
    },
    ClosePeer {
        peer: PeerId,
    },
    /// Apply their description or candidate; an answer comes back as a local signal.
    ApplySignal {
        peer: PeerId,
        signal: Signal,
    },
    RestartIce {
        peer: PeerId,
    },
    SendToPeer {
        peer: PeerId,
        message: PeerMessage,
    },
    /// Limit every video sender (audio is never limited).
    LimitSenders(SenderLimits),
    /// Enable or disable the local microphone and camera tracks as the switches say (a
    /// disabled track sends silence or black, with no renegotiation).
    EnableTracks(Switches),
    /// Send the file just asked for to `peer`, as transfer `transfer`.
    SendFile {
        peer: PeerId,
        transfer: u32,
    },
    /// Take the file `peer` just offered, as transfer `transfer`.
    ReceiveFile {
        peer: PeerId,
        transfer: u32,
    },
    /// Refuse the file `peer` just offered (close its channel unread).
    RefuseFile {
        peer: PeerId,
    },
    /// Send the local track of this kind to everyone, in place of what goes now.
    PutOnWire(TrackKind),
    ShowChat(ChatLine),
    /// Tell the person something about the call (e.g. a peer misbehaving).
    Notice(Notice),
    /// The host (named) asks this person to mute: the page offers a Mute button.
    MuteRequest(String),
    /// Someone (named) knocks at the locked room's door: to the host, with a sound.
    Knocked(String),
    /// Note something for whoever reads the console (once per kind).
    Warn(String),
    /// Keep this resume token where a reload of the page finds it (`None`: forget it).
    KeepToken(Option<String>),
    /// The call is over: tear everything down.
    Stop,
}

/// What the server told us on joining, for opening connections.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomTerms {
    pub ice_servers: Vec<IceServer>,
    pub ice_policy: IceTransportPolicy,
    pub max_file_bytes: u64,
}
