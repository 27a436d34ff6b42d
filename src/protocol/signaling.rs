//! The signaling wire protocol, compiled into both the server and the browser client.
//!
//! Every frame is a JSON text frame whose `type` field names the variant. The server
//! routes [`Signal`]s between peers of one room without looking inside them: SDP and ICE
//! candidates are the browsers' business. Fields a side does not know are ignored, so a
//! newer client can talk to an older server. `docs/protocol.md` shows every message.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How many people a room holds unless the server is told otherwise.
pub const DEFAULT_ROOM_CAPACITY: usize = 6;
/// The most a room may be set to hold: every person sends to every other (a full mesh),
/// so upload grows with the room; past 8 a call needs a media server.
pub const MAX_ROOM_CAPACITY: usize = 8;
/// Upload a browser shares among the people it sends video to, in bits per second, until
/// it has an estimate of its own.
pub const DEFAULT_UPLOAD_BUDGET: u64 = 2_500_000;
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 32;
/// Longest room key, in characters.
pub const MAX_ROOM_CHARS: usize = 64;
/// The close code of a socket whose seat another socket resumed (the same call opened in
/// another tab or on another device): one seat, one socket. The page says so and offers
/// to take the call back.
pub const SEAT_TAKEN_CLOSE_CODE: u16 = 4001;
/// The close code of a socket whose person the host removed from the call (after
/// `removed`): the page says so and does not reconnect.
pub const REMOVED_CLOSE_CODE: u16 = 4002;
/// The path the signaling WebSocket is served on.
pub const SIGNALING_PATH: &str = "/ws";

/// In the query of a socket a page's script opens before its app (`early_media`): until
/// the app sends anything but `join`, the seat is freed when the socket drops rather than
/// held for a resume.
pub const EARLY_QUERY: &str = "early=1";

/// A participant's id: random (so ids from before a server restart stay unique), and
/// below 2^53 so JavaScript numbers hold it exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PeerId(pub u64);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Someone waiting at a locked room's door: random, below 2^53, like a [`PeerId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KnockId(pub u64);

/// Client → server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Take a seat in `room` under `name`.
    Join { room: String, name: String },
    /// Take back the seat held before the connection dropped, with the latest token from
    /// `joined`, `resumed`, `token` or `seat_taken`. `fresh`: this page has no
    /// connections to the others (it was reloaded, or it is another tab or device), so
    /// they must connect to it anew: the seat is given back under a new id, as `joined`.
    Resume {
        token: String,
        #[serde(default)]
        fresh: bool,
    },
    /// Relay `signal` to peer `to`, who must be in the same room.
    Signal { to: PeerId, signal: Signal },
    /// Give up the seat; the socket stays open and may join again.
    Leave,
    /// Are you still there? The server answers `pong`. Browsers cannot see WebSocket
    /// pings, so this is how a client notices a server that went silent.
    Ping,
    /// Host only: make `peer` the room's host instead of you.
    MakeHost { peer: PeerId },
    /// Host only: take `peer` out of the call. Their seat and token are gone.
    Remove { peer: PeerId },
    /// Host only: ask `peer` to mute. Media is peer to peer, so only they can.
    AskToMute { peer: PeerId },
    /// Host only: from now on, whoever opens the room's link waits until the host lets
    /// them in (`knock`, `admit`, `deny`).
    Lock,
    /// Host only: the room opens to its link again.
    Unlock,
    /// Host only: let the person waiting as `knock` in.
    Admit { knock: KnockId },
    /// Host only: turn the person waiting as `knock` away.
    Deny { knock: KnockId },
}

/// What the room's host may do: each is one [`ClientMessage`] on the wire, and the same
/// value in the call's state machine and in the room registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostCommand {
    /// Hand the role to this person.
    MakeHost(PeerId),
    /// Take this person out of the call: seat and token gone.
    Remove(PeerId),
    /// Ask this person to mute.
    AskToMute(PeerId),
    /// Lock the room (newcomers knock), or unlock it.
    Lock(bool),
    /// Let the person waiting as this knock in.
    Admit(KnockId),
    /// Turn the person waiting as this knock away.
    Deny(KnockId),
}

impl HostCommand {
    /// The person in the room the command is about, if it is about one.
    pub fn peer(self) -> Option<PeerId> {
        match self {
            HostCommand::MakeHost(peer)
            | HostCommand::Remove(peer)
            | HostCommand::AskToMute(peer) => Some(peer),
            HostCommand::Lock(_) | HostCommand::Admit(_) | HostCommand::Deny(_) => None,
        }
    }

    /// The message that asks for it.
    pub fn message(self) -> ClientMessage {
        match self {
            HostCommand::MakeHost(peer) => ClientMessage::MakeHost { peer },
            HostCommand::Remove(peer) => ClientMessage::Remove { peer },
            HostCommand::AskToMute(peer) => ClientMessage::AskToMute { peer },
            HostCommand::Lock(true) => ClientMessage::Lock,
            HostCommand::Lock(false) => ClientMessage::Unlock,
            HostCommand::Admit(knock) => ClientMessage::Admit { knock },
            HostCommand::Deny(knock) => ClientMessage::Deny { knock },
        }
    }
}

/// A client message as the server handles it: a host command (checked as one, whichever
/// it is), or one of the others.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Host(HostCommand),
    Join { room: String, name: String },
    Resume { token: String, fresh: bool },
    Signal { to: PeerId, signal: Signal },
    Leave,
    Ping,
}

impl From<ClientMessage> for Request {
    fn from(message: ClientMessage) -> Request {
        let host = |command| Request::Host(command);
        match message {
            ClientMessage::Join { room, name } => Request::Join { room, name },
            ClientMessage::Resume { token, fresh } => Request::Resume { token, fresh },
            ClientMessage::Signal { to, signal } => Request::Signal { to, signal },
            ClientMessage::Leave => Request::Leave,
            ClientMessage::Ping => Request::Ping,
            ClientMessage::MakeHost { peer } => host(HostCommand::MakeHost(peer)),
            ClientMessage::Remove { peer } => host(HostCommand::Remove(peer)),
            ClientMessage::AskToMute { peer } => host(HostCommand::AskToMute(peer)),
            ClientMessage::Lock => host(HostCommand::Lock(true)),
            ClientMessage::Unlock => host(HostCommand::Lock(false)),
            ClientMessage::Admit { knock } => host(HostCommand::Admit(knock)),
            ClientMessage::Deny { knock } => host(HostCommand::Deny(knock)),
        }
    }
}

/// Server → client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The join succeeded. `peers` are already in the room: they will send the offer.
    /// `polite`: whether you yield when both sides offer at once (perfect negotiation);
    /// the newcomer is polite. `token` resumes this seat after a dropped connection.
    Joined {
        you: PeerId,
        /// The name you are seated under: the one asked for, or, if someone in the room
        /// already has it, the same with a number ("Alice (2)").
        #[serde(default)]
        name: String,
        peers: Vec<PeerInfo>,
        polite: bool,
        token: String,
        ice_servers: Vec<IceServer>,
        /// `relay`: use TURN only (the server's choice, e.g. to hide addresses).
        #[serde(default)]
        ice_transport_policy: IceTransportPolicy,
        /// Largest file the people in this room may send each other.
        max_file_bytes: u64,
        /// Bits per second to share among the people we send video to, until the browser
        /// estimates its own upload.
        #[serde(default = "default_upload_budget")]
        upload_budget: u64,
        /// The room's host (you, when you are the first in the room).
        #[serde(default)]
        host: Option<PeerId>,
        /// Whether the room is locked (newcomers wait for the host).
        #[serde(default)]
        locked: bool,
    },
    /// The seat is yours again, with the same id; nobody was told you had gone. `token`
    /// replaces the one just used, which no longer works.
    Resumed {
        you: PeerId,
        peers: Vec<PeerInfo>,
        #[serde(default)]
        token: String,
        ice_servers: Vec<IceServer>,
        #[serde(default)]
        ice_transport_policy: IceTransportPolicy,
        max_file_bytes: u64,
        #[serde(default = "default_upload_budget")]
        upload_budget: u64,
        #[serde(default)]
        host: Option<PeerId>,
        #[serde(default)]
        locked: bool,
    },
    /// Someone took a seat after you: you make the offer, and you are the impolite side
    /// towards them (`polite` is false).
    PeerJoined { peer: PeerInfo, polite: bool },
    /// A signal relayed from peer `from`.
    Signal { from: PeerId, signal: Signal },
    /// Peer `peer` left the room (hung up, its socket closed, or the host removed them).
    PeerLeft { peer: PeerId },
    /// The room's host is now `peer` (the host handed the role over, or left).
    Host { peer: PeerId },
    /// The host (`by`) removed you from the call: your seat and token are gone, and the
    /// server closes this socket next with [`REMOVED_CLOSE_CODE`].
    Removed { by: PeerId },
    /// The host (`by`) asks you to mute.
    MuteRequest { by: PeerId },
    /// The room is locked (or unlocked again): told to everyone in it.
    Locked { locked: bool },
    /// The room is locked: you wait at its door, taking no seat, until its host
    /// (`host_name`) lets you in (`joined` follows) or not (`knock_denied`), at most
    /// two minutes (`server::room::door::KNOCK_TIMEOUT`) (`knock_expired`). `leave` stops waiting.
    Waiting { host_name: String },
    /// To the host: `name` is at the door of the locked room, as `knock`.
    Knock { knock: KnockId, name: String },
    /// To the host: `knock` no longer waits (let in, turned away, gave up, or timed out).
    KnockEnded { knock: KnockId },
    /// Answer to `ping`.
    Pong,
    /// A fresh resume token for your seat, sent every minute: tokens are short-lived.
    Token { token: String },
    /// Another socket resumed your seat (the call was opened in another tab or on another
    /// device); the server closes this socket next, with [`SEAT_TAKEN_CLOSE_CODE`].
    /// `token` takes the call back (a `resume` with `fresh`), if the person wants to.
    SeatTaken { token: String },
    /// The last message was refused; the connection stays usable. `peer`: the person a
    /// refused signal was for (with `peer_busy`).
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<PeerId>,
    },
}

fn default_upload_budget() -> u64 {
    DEFAULT_UPLOAD_BUDGET
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub id: PeerId,
    pub name: String,
}

/// An `RTCIceServer` as the browser takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// What `GET /ice` answers, for the connection check a person may run before a call
/// (the same servers and fresh credentials `joined` would give, without taking a seat).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCheck {
    pub ice_servers: Vec<IceServer>,
}

/// The path of the connection check's ICE servers.
pub const ICE_CHECK_PATH: &str = "/ice";

/// Which candidates the browsers may use (`RTCConfiguration.iceTransportPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IceTransportPolicy {
    /// Direct paths where possible, TURN where not.
    #[default]
    All,
    /// Only TURN relays: neither side learns the other's address.
    Relay,
}

/// What one browser tells the other to set up the peer connection. Opaque to the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    Offer {
        sdp: String,
    },
    Answer {
        sdp: String,
    },
    Candidate {
        candidate: String,
        #[serde(default)]
        sdp_mid: Option<String>,
        #[serde(default)]
        sdp_m_line_index: Option<u16>,
    },
}

/// What kind of signal, without its content (for counting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalKind {
    Offer = 0,
    Answer = 1,
    Candidate = 2,
}

impl SignalKind {
    pub const ALL: [SignalKind; 3] = [SignalKind::Offer, SignalKind::Answer, SignalKind::Candidate];

    pub fn name(self) -> &'static str {
        match self {
            SignalKind::Offer => "offer",
            SignalKind::Answer => "answer",
            SignalKind::Candidate => "candidate",
        }
    }
}

impl Signal {
    pub fn kind(&self) -> SignalKind {
        match self {
            Signal::Offer { .. } => SignalKind::Offer,
            Signal::Answer { .. } => SignalKind::Answer,
            Signal::Candidate { .. } => SignalKind::Candidate,
        }
    }
}

/// Why the server refused a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    RoomFull,
    InvalidRoom,
    /// A name that is empty or too long.
    InvalidName,
    /// A name with characters that hide what it is: control, bidi or invisible format
    /// characters.
    BadName,
    BadMessage,
    NotJoined,
    AlreadyJoined,
    UnknownPeer,
    InvalidToken,
    ResumeExpired,
    /// Too many messages too fast; this one was dropped. Keep it up and the socket closes.
    RateLimited,
    /// The server cannot reach what it shares with other servers just now; try again
    /// shortly. Nothing was changed.
    Unavailable,
    /// The peer addressed is not reading fast enough: what you already sent them fills
    /// your share of their queue (`server::mailbox::PEER_SHARE_BYTES`). This signal was dropped; try
    /// again later. The error's `peer` names them.
    PeerBusy,
    /// A host command (`make_host`, `remove`, `ask_to_mute`, `lock`, `unlock`, `admit`,
    /// `deny`) from someone who is not the room's host.
    NotHost,
    /// The room is locked and its waiting list is full (or holds as many people from
    /// your address as it takes).
    RoomLocked,
    /// The host did not let you in.
    KnockDenied,
    /// Nobody let you in in time (or everyone left).
    KnockExpired,
    /// `admit` or `deny` of a knock that no longer waits.
    UnknownKnock,
}

impl ErrorCode {
    /// A sentence a person can read.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorCode::RoomFull => "this room is full",
            ErrorCode::InvalidRoom => "the room key is not valid",
            ErrorCode::InvalidName => "the name is not valid",
            ErrorCode::BadName => "the name has invisible or direction-changing characters",
            ErrorCode::BadMessage => "the message could not be understood",
            ErrorCode::NotJoined => "join a room first",
            ErrorCode::AlreadyJoined => "already in a room; leave it first",
            ErrorCode::UnknownPeer => "no such peer in this room",
            ErrorCode::InvalidToken => "the resume token is not valid",
            ErrorCode::ResumeExpired => "the seat was given up; join again",
            ErrorCode::RateLimited => "too many messages; slow down",
            ErrorCode::Unavailable => "the server is busy; try again shortly",
            ErrorCode::PeerBusy => "that person is not keeping up; try again shortly",
            ErrorCode::NotHost => "only the host can do that",
            ErrorCode::RoomLocked => "this room is locked and its waiting list is full",
            ErrorCode::KnockDenied => "the host did not let you in",
            ErrorCode::KnockExpired => "nobody let you in in time",
            ErrorCode::UnknownKnock => "nobody is waiting as that knock",
        }
    }

    /// The code as it appears on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::RoomFull => "room_full",
            ErrorCode::InvalidRoom => "invalid_room",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::BadName => "bad_name",
            ErrorCode::BadMessage => "bad_message",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::AlreadyJoined => "already_joined",
            ErrorCode::UnknownPeer => "unknown_peer",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::ResumeExpired => "resume_expired",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::PeerBusy => "peer_busy",
            ErrorCode::NotHost => "not_host",
            ErrorCode::RoomLocked => "room_locked",
            ErrorCode::KnockDenied => "knock_denied",
            ErrorCode::KnockExpired => "knock_expired",
            ErrorCode::UnknownKnock => "unknown_knock",
        }
    }

    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::RoomFull,
        ErrorCode::InvalidRoom,
        ErrorCode::InvalidName,
        ErrorCode::BadName,
        ErrorCode::BadMessage,
        ErrorCode::NotJoined,
        ErrorCode::AlreadyJoined,
        ErrorCode::UnknownPeer,
        ErrorCode::InvalidToken,
        ErrorCode::ResumeExpired,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::PeerBusy,
        ErrorCode::NotHost,
        ErrorCode::RoomLocked,
        ErrorCode::KnockDenied,
        ErrorCode::KnockExpired,
        ErrorCode::UnknownKnock,
    ];
}

/// Why a name or room key typed by a person is refused. Shown inline on the home screen
/// and sent by the server as [`ErrorCode::InvalidName`], [`ErrorCode::BadName`] or
/// [`ErrorCode::InvalidRoom`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("Enter your name.")]
    NameEmpty,
    #[error("Your name can be at most {MAX_NAME_CHARS} characters.")]
    NameTooLong,
    #[error("Your name cannot contain control characters.")]
    NameControlChars,
    #[error("Your name cannot contain invisible or direction-changing characters.")]
    NameInvisibleChars,
    #[error("Enter a room, or press “New room”.")]
    RoomEmpty,
    #[error("The room can be at most {MAX_ROOM_CHARS} characters.")]
    RoomTooLong,
    #[error("The room may only contain letters, digits, “-” and “_”.")]
    RoomChars,
}

impl InputError {
    pub fn code(self) -> ErrorCode {
        match self {
            InputError::NameEmpty | InputError::NameTooLong => ErrorCode::InvalidName,
            InputError::NameControlChars | InputError::NameInvisibleChars => ErrorCode::BadName,
            InputError::RoomEmpty | InputError::RoomTooLong | InputError::RoomChars => {
                ErrorCode::InvalidRoom
            }
        }
    }
}

/// Checks a display name; returns it trimmed.
pub fn validate_name(name: &str) -> Result<&str, InputError> {
    let name = name.trim();
    if name.is_empty() {
        Err(InputError::NameEmpty)
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err(InputError::NameTooLong)
    } else if name.chars().any(char::is_control) {
        Err(InputError::NameControlChars)
    } else if has_invisible(name) {
        Err(InputError::NameInvisibleChars)
    } else {
        Ok(name)
    }
}

/// Whether `name` holds a character that changes how it looks without being seen: bidi
/// embeddings, overrides, isolates and marks (a name that reads "Alice" but is not),
/// zero-width spaces and joiners, and other invisible format characters. A zero-width
/// joiner between two emoji (👩‍💻) is what makes one picture of them, and stays.
fn has_invisible(name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| match c {
        '\u{200D}' => {
            let emoji = |c: Option<&char>| c.is_some_and(|&c| is_emoji(c));
            !(i > 0 && emoji(chars.get(i - 1)) && emoji(chars.get(i + 1)))
        }
        '\u{00AD}'
        | '\u{034F}'
        | '\u{061C}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{17B4}'
        | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0E}'
        | '\u{FEFF}'
        | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}' => true,
        _ => false,
    })
}

/// Pictographs, and the emoji presentation selector that may follow one.
fn is_emoji(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27BF}' | '\u{1F000}'..='\u{1FAFF}' | '\u{FE0F}')
}

/// The name a newcomer is seated under: `wanted`, or, when someone in the room already
/// looks like that (the same letters, whatever their case), "wanted (2)", "(3)"…, cut
/// to fit [`MAX_NAME_CHARS`]. `taken` lists the names already in the room.
pub fn distinct_name<'a>(wanted: &str, taken: impl Iterator<Item = &'a str> + Clone) -> String {
    name_candidates(wanted)
        .find(|candidate| !taken.clone().any(|t| fold_name(t) == fold_name(candidate)))
        .expect("a room holds fewer people than there are numbers")
}

/// The names a newcomer who asked for `wanted` may be seated under, in the order they
/// are tried: `wanted`, "wanted (2)", "wanted (3)"… (see [`distinct_name`]).
/// Each looks like no other: a long name that already ends in " (5)" is not tried again
/// as its own fifth.
pub fn name_candidates(wanted: &str) -> impl Iterator<Item = String> + '_ {
    let folded = fold_name(wanted);
    let numbered = (2..).map(move |n| {
        let suffix = format!(" ({n})");
        let room = MAX_NAME_CHARS - suffix.chars().count();
        let base: String = wanted.chars().take(room).collect();
        // Cut where a joiner would be left dangling, it would be invisible.
        let base = base.trim_end_matches(|c: char| c == '\u{200D}' || c.is_whitespace());
        format!("{base}{suffix}")
    });
    std::iter::once(wanted.to_owned())
        .chain(numbered.filter(move |candidate| fold_name(candidate) != folded))
}

/// What two names that look alike have in common: the same letters, whatever their case.
pub fn fold_name(name: &str) -> String {
    name.to_lowercase()
}

/// Checks a room key; returns it trimmed. Keys go into URLs, hence the small alphabet.
pub fn validate_room(room: &str) -> Result<&str, InputError> {
    let room = room.trim();
    if room.is_empty() {
        Err(InputError::RoomEmpty)
    } else if room.chars().count() > MAX_ROOM_CHARS {
        Err(InputError::RoomTooLong)
    } else if !room
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Err(InputError::RoomChars)
    } else {
        Ok(room)
    }
}

/// Crockford's base-32 alphabet: no `i`, `l`, `o` or `u`, so a key read aloud or copied
/// by hand survives. 32 symbols, so one random byte masked to 5 bits picks one without bias.
pub const ROOM_KEY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Characters in a fresh room key: 12 × 5 = 60 bits, far beyond guessing.
pub const ROOM_KEY_LEN: usize = 12;

/// Turns random bytes (from a CSPRNG) into a room key of one character per byte.
pub fn room_key_from_random(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| ROOM_KEY_ALPHABET[usize::from(b & 31)] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_code_names_are_their_wire_names() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), json!(code.name()));
        }
    }

    fn round_trip_client(msg: ClientMessage) {
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(serde_json::from_str::<ClientMessage>(&text).unwrap(), msg);
    }

    fn round_trip_server(msg: ServerMessage) {
        let text = serde_json::to_string(&msg).unwrap();
        assert_eq!(serde_json::from_str::<ServerMessage>(&text).unwrap(), msg);
    }

    #[test]
    fn client_messages_round_trip() {
        round_trip_client(ClientMessage::Join {
            room: "room1".into(),
            name: "Alice".into(),
        });
        round_trip_client(ClientMessage::Signal {
            to: PeerId(7),
            signal: Signal::Offer {
                sdp: "v=0\r\n".into(),
            },
        });
        round_trip_client(ClientMessage::Signal {
            to: PeerId(7),
            signal: Signal::Candidate {
                candidate: "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
            },
        });
        round_trip_client(ClientMessage::Leave);
        round_trip_client(ClientMessage::Resume {
            token: "abc.def".into(),
            fresh: true,
        });
        round_trip_client(ClientMessage::Ping);
        round_trip_client(ClientMessage::MakeHost { peer: PeerId(3) });
        round_trip_client(ClientMessage::Remove { peer: PeerId(3) });
        round_trip_client(ClientMessage::AskToMute { peer: PeerId(3) });
        round_trip_client(ClientMessage::Lock);
        round_trip_client(ClientMessage::Unlock);
        round_trip_client(ClientMessage::Admit { knock: KnockId(5) });
        round_trip_client(ClientMessage::Deny { knock: KnockId(5) });
    }

    #[test]
    fn every_host_command_is_read_back_as_itself_and_nothing_else_is_one() {
        for command in [
            HostCommand::MakeHost(PeerId(1)),
            HostCommand::Remove(PeerId(2)),
            HostCommand::AskToMute(PeerId(3)),
            HostCommand::Lock(true),
            HostCommand::Lock(false),
            HostCommand::Admit(KnockId(4)),
            HostCommand::Deny(KnockId(5)),
        ] {
            assert_eq!(Request::from(command.message()), Request::Host(command));
        }
        assert_eq!(Request::from(ClientMessage::Ping), Request::Ping);
        assert_eq!(Request::from(ClientMessage::Leave), Request::Leave);
    }

    #[test]
    fn server_messages_round_trip() {
        round_trip_server(ServerMessage::Joined {
            you: PeerId(2),
            name: "Alice (2)".into(),
            peers: vec![PeerInfo {
                id: PeerId(1),
                name: "Alice".into(),
            }],
            polite: true,
            token: "t".into(),
            ice_transport_policy: IceTransportPolicy::Relay,
            max_file_bytes: 1 << 30,
            upload_budget: 1_000_000,
            host: Some(PeerId(1)),
            locked: true,
            ice_servers: vec![IceServer {
                urls: vec!["turn:127.0.0.1:3478".into()],
                username: Some("u".into()),
                credential: Some("p".into()),
            }],
        });
        round_trip_server(ServerMessage::PeerJoined {
            peer: PeerInfo {
                id: PeerId(3),
                name: "Bob".into(),
            },
            polite: false,
        });
        round_trip_server(ServerMessage::Token { token: "t".into() });
        round_trip_server(ServerMessage::SeatTaken { token: "t".into() });
        round_trip_server(ServerMessage::Resumed {
            you: PeerId(3),
            peers: vec![],
            token: "t2".into(),
            ice_servers: vec![],
            ice_transport_policy: IceTransportPolicy::All,
            max_file_bytes: 1_000_000,
            upload_budget: DEFAULT_UPLOAD_BUDGET,
            host: None,
            locked: false,
        });
        round_trip_server(ServerMessage::Locked { locked: true });
        round_trip_server(ServerMessage::Waiting {
            host_name: "Alice".into(),
        });
        round_trip_server(ServerMessage::Knock {
            knock: KnockId(5),
            name: "Dave".into(),
        });
        round_trip_server(ServerMessage::KnockEnded { knock: KnockId(5) });
        round_trip_server(ServerMessage::Host { peer: PeerId(3) });
        round_trip_server(ServerMessage::Removed { by: PeerId(1) });
        round_trip_server(ServerMessage::MuteRequest { by: PeerId(1) });

        round_trip_server(ServerMessage::Pong);
        round_trip_server(ServerMessage::Signal {
            from: PeerId(1),
            signal: Signal::Answer { sdp: "v=0".into() },
        });
        round_trip_server(ServerMessage::PeerLeft { peer: PeerId(1) });
        round_trip_server(ServerMessage::Error {
            code: ErrorCode::RoomFull,
            message: "this room is full".into(),
            peer: None,
        });
        round_trip_server(ServerMessage::Error {
            code: ErrorCode::PeerBusy,
            message: "busy".into(),
            peer: Some(PeerId(9)),
        });
    }

    #[test]
    fn wire_format_matches_the_docs() {
        let join: ClientMessage =
            serde_json::from_value(json!({"type": "join", "room": "r", "name": "n"})).unwrap();
        assert_eq!(
            join,
            ClientMessage::Join {
                room: "r".into(),
                name: "n".into()
            }
        );
        let left = serde_json::to_value(ServerMessage::PeerLeft { peer: PeerId(4) }).unwrap();
        assert_eq!(left, json!({"type": "peer_left", "peer": 4}));
        let remove: ClientMessage =
            serde_json::from_value(json!({"type": "remove", "peer": 4})).unwrap();
        assert_eq!(remove, ClientMessage::Remove { peer: PeerId(4) });
        let ask = serde_json::to_value(ClientMessage::AskToMute { peer: PeerId(4) }).unwrap();
        assert_eq!(ask, json!({"type": "ask_to_mute", "peer": 4}));
        let host = serde_json::to_value(ServerMessage::Host { peer: PeerId(4) }).unwrap();
        assert_eq!(host, json!({"type": "host", "peer": 4}));
        let err = serde_json::to_value(ServerMessage::Error {
            code: ErrorCode::UnknownPeer,
            message: "x".into(),
            peer: None,
        })
        .unwrap();
        assert_eq!(err["code"], "unknown_peer");
        let cand: Signal = serde_json::from_value(json!({"kind": "candidate", "candidate": "c"}))
            .expect("sdp_mid and sdp_m_line_index are optional");
        assert!(matches!(cand, Signal::Candidate { sdp_mid: None, .. }));
        let resume: ClientMessage =
            serde_json::from_value(json!({"type": "resume", "token": "t"})).unwrap();
        assert_eq!(
            resume,
            ClientMessage::Resume {
                token: "t".into(),
                fresh: false
            }
        );
        let leave: ClientMessage =
            serde_json::from_value(json!({"type": "leave", "from_the_future": 1})).unwrap();
        assert_eq!(leave, ClientMessage::Leave);
    }

    #[test]
    fn malformed_messages_are_rejected() {
        for bad in [
            r#"{"type":"join","room":"r"}"#,
            r#"{"type":"dance"}"#,
            r#"{"type":"signal","to":"x","signal":{"kind":"offer","sdp":""}}"#,
            r#"{"type":"signal","to":1,"signal":{"kind":"telepathy"}}"#,
            r#"[1,2,3]"#,
            "not json",
        ] {
            assert!(serde_json::from_str::<ClientMessage>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_validated() {
        assert_eq!(validate_name("  Alice "), Ok("Alice"));
        assert_eq!(validate_name("Zoë 🎥"), Ok("Zoë 🎥"));
        assert_eq!(validate_name("   "), Err(InputError::NameEmpty));
        assert_eq!(validate_name(&"x".repeat(32)), Ok(&*"x".repeat(32)));
        assert_eq!(validate_name(&"x".repeat(33)), Err(InputError::NameTooLong));
        assert_eq!(validate_name("a\u{7}b"), Err(InputError::NameControlChars));
        for hidden in [
            "\u{202E}ecilA",
            "Al\u{200B}ice",
            "Alice\u{2066}",
            "\u{FEFF}Bob",
            "A\u{200D}b",
        ] {
            assert_eq!(
                validate_name(hidden),
                Err(InputError::NameInvisibleChars),
                "{hidden:?}"
            );
        }
        // An emoji sequence joined by a zero-width joiner is one visible picture.
        assert_eq!(validate_name("Ada 👩\u{200D}💻"), Ok("Ada 👩\u{200D}💻"));
        assert_eq!(validate_name("Ünal Øster"), Ok("Ünal Øster"));
        assert_eq!(InputError::NameTooLong.code(), ErrorCode::InvalidName);
        assert_eq!(InputError::NameInvisibleChars.code(), ErrorCode::BadName);
        assert_eq!(InputError::NameControlChars.code(), ErrorCode::BadName);
    }

    #[test]
    fn a_name_already_in_the_room_gets_a_number() {
        let taken = ["Alice", "Bob", "bob (2)"];
        assert_eq!(distinct_name("Carol", taken.iter().copied()), "Carol");
        assert_eq!(distinct_name("Alice", taken.iter().copied()), "Alice (2)");
        assert_eq!(distinct_name("ALICE", taken.iter().copied()), "ALICE (2)");
        assert_eq!(distinct_name("Bob", taken.iter().copied()), "Bob (3)");
        let long = "x".repeat(MAX_NAME_CHARS);
        let numbered = distinct_name(&long, [long.as_str()].into_iter());
        assert_eq!(numbered.chars().count(), MAX_NAME_CHARS);
        assert!(numbered.ends_with(" (2)"));
        assert_eq!(validate_name(&numbered), Ok(numbered.as_str()));
        // Found by the `names` fuzz target: a full-length name ending in " (5)" is not its
        // own fifth candidate.
        let fifth = format!("{} (5)", "x".repeat(MAX_NAME_CHARS - 4));
        let candidates: Vec<String> = name_candidates(&fifth).take(6).collect();
        assert_eq!(candidates.iter().filter(|c| **c == fifth).count(), 1);
    }

    #[test]
    fn rooms_are_validated() {
        assert_eq!(validate_room("team-sync_2"), Ok("team-sync_2"));
        assert_eq!(validate_room(""), Err(InputError::RoomEmpty));
        assert_eq!(validate_room(&"r".repeat(64)), Ok(&*"r".repeat(64)));
        assert_eq!(validate_room(&"r".repeat(65)), Err(InputError::RoomTooLong));
        for bad in ["a b", "a/b", "é", "a?b", "<x>"] {
            assert_eq!(validate_room(bad), Err(InputError::RoomChars), "{bad}");
        }
        assert_eq!(InputError::RoomChars.code(), ErrorCode::InvalidRoom);
    }

    #[test]
    fn room_keys_use_the_unambiguous_alphabet() {
        let bytes: Vec<u8> = (0..=255).collect();
        let key = room_key_from_random(&bytes);
        assert_eq!(key.len(), 256);
        assert!(key.chars().all(|c| !"ilou".contains(c)));
        assert!(validate_room(&key[..ROOM_KEY_LEN]).is_ok());
        // Each symbol is hit equally often by a uniform byte: no modulo bias.
        for &symbol in ROOM_KEY_ALPHABET {
            assert_eq!(key.bytes().filter(|&b| b == symbol).count(), 8);
        }
    }
}
