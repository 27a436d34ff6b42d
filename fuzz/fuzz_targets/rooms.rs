//! The room registry as a state machine: any sequence of joins, resumes (with real,
//! stale and forged tokens), relays, detaches, expiries and leaves from a few
//! connections, some of which stop reading, and host commands from any of them. After
//! every step: no room holds more than its capacity, a room with anyone in it has one
//! host, who is in it (and an empty one none), only the host's commands are carried out,
//! every queued message is valid protocol, and nothing panicked.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tandem::protocol::signaling::{PeerId, ServerMessage, Signal};
use tandem::server::ice::IceConfig;
use tandem::server::mailbox::Bounds;
use tandem::protocol::signaling::HostCommand;
use tandem::server::rooms::{
    Admitted, KnockOutcome, Knocking, Mailbox, NoSeat, RoomRules, Rooms, Seat,
};
use tandem::server::tokens::ResumeTokens;

const CONNECTIONS: usize = 5;
const ROOMS: [&str; 2] = ["a", "b"];
const CAPACITY: usize = 2;
/// Room for `joined` and a few more messages.
const BOUNDS: Bounds = Bounds {
    total: 1_400,
    reserved: 700,
};

#[derive(Arbitrary, Debug)]
enum Op {
    Join { conn: u8, room: u8, name: String },
    Resume { conn: u8, token: u8, fresh: bool },
    ForgedResume { conn: u8, token: String },
    Relay { conn: u8, to: u8, offer: bool },
    RelayToUnknown { conn: u8, to: u64 },
    Detach { conn: u8 },
    Expire { conn: u8 },
    Leave { conn: u8 },
    /// The connection reads what was queued for it.
    Read { conn: u8 },
    /// The connection is replaced by a fresh one (a reconnect).
    Reconnect { conn: u8 },
    /// A host command about someone (any id seen, the sender's own included).
    Host { conn: u8, about: u8, kind: u8 },
    /// The host locks or unlocks the connection's room.
    Lock { conn: u8, lock: bool },
    /// The host answers a knock (any knock seen).
    Answer { conn: u8, knock: u8, admit: bool },
    /// A knocking connection gives up, or its knock times out.
    Withdraw { conn: u8 },
    ExpireKnock { conn: u8 },
}

struct Conn {
    mailbox: Mailbox,
    seat: Option<Seat>,
    knocking: Option<Knocking>,
}

fn connection() -> Conn {
    Conn {
        // Small queues, so that "stopped reading" and `peer_busy` happen often.
        mailbox: Mailbox::new(&BOUNDS),
        seat: None,
        knocking: None,
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let rooms = Rooms::new(RoomRules {
        capacity: CAPACITY,
        ice: IceConfig::none().into(),
        tokens: ResumeTokens::new(b"fuzzing secret, long enough", std::time::Duration::from_secs(60)),
        max_file_bytes: 1,
        upload_budget: 1,
    });
    let mut conns: Vec<Conn> = (0..CONNECTIONS).map(|_| connection()).collect();
    let mut tokens: Vec<String> = Vec::new();
    let mut ids: Vec<PeerId> = Vec::new();
    let mut knocks: Vec<Knocking> = Vec::new();
    for op in ops.into_iter().take(200) {
        let pick = |i: u8| usize::from(i) % CONNECTIONS;
        match op {
            Op::Join { conn, room, name } => {
                let c = &mut conns[pick(conn)];
                let room = ROOMS[usize::from(room) % ROOMS.len()];
                if let (Ok(name), None, None) = (
                    tandem::protocol::signaling::validate_name(&name),
                    &c.seat,
                    &c.knocking,
                ) {
                    match rooms.join(room, name, &c.mailbox, None) {
                        Ok(Admitted { seat, .. }) => {
                            ids.push(seat.id);
                            c.seat = Some(seat);
                        }
                        Err(NoSeat::Waiting(knocking)) => {
                            knocks.push(knocking.clone());
                            c.knocking = Some(knocking);
                        }
                        Err(_) => {}
                    }
                }
            }
            Op::Resume { conn, token, fresh } => {
                if !tokens.is_empty() {
                    let token = &tokens[usize::from(token) % tokens.len()];
                    let c = &mut conns[pick(conn)];
                    if c.seat.is_none() {
                        if let Ok(seat) = rooms.resume(token, fresh, &c.mailbox) {
                            ids.push(seat.id);
                            c.seat = Some(seat);
                        }
                    }
                }
            }
            Op::ForgedResume { conn, token } => {
                let c = &conns[pick(conn)];
                assert!(rooms.resume(&token, false, &c.mailbox).is_err());
            }
            Op::Relay { conn, to, offer } => {
                if let (Some(seat), false) = (&conns[pick(conn)].seat, ids.is_empty()) {
                    let to = ids[usize::from(to) % ids.len()];
                    let signal = if offer {
                        Signal::Offer { sdp: "v=0".into() }
                    } else {
                        Signal::Answer { sdp: "v=0".into() }
                    };
                    let _ = rooms.relay(seat, to, signal);
                }
            }
            Op::RelayToUnknown { conn, to } => {
                if let Some(seat) = &conns[pick(conn)].seat {
                    if !ids.contains(&PeerId(to)) {
                        assert!(rooms
                            .relay(seat, PeerId(to), Signal::Answer { sdp: String::new() })
                            .is_err());
                    }
                }
            }
            Op::Detach { conn } => {
                if let Some(seat) = &conns[pick(conn)].seat {
                    rooms.detach(seat, None);
                }
            }
            Op::Expire { conn } => {
                if let Some(seat) = &conns[pick(conn)].seat {
                    rooms.expire(seat);
                }
            }
            Op::Leave { conn } => {
                if let Some(seat) = conns[pick(conn)].seat.take() {
                    rooms.leave(&seat);
                }
            }
            Op::Read { conn } => {
                let c = &mut conns[pick(conn)];
                while let Some(text) = c.mailbox.try_next() {
                    let message: ServerMessage =
                        serde_json::from_str(&text).expect("queued messages are protocol");
                    match message {
                        ServerMessage::Joined { token, .. }
                        | ServerMessage::Resumed { token, .. }
                        | ServerMessage::Token { token }
                        | ServerMessage::SeatTaken { token } => tokens.push(token),
                        _ => {}
                    }
                }
            }
            Op::Host { conn, about, kind } => {
                if let (Some(seat), false) = (&conns[pick(conn)].seat, ids.is_empty()) {
                    let peer = ids[usize::from(about) % ids.len()];
                    let command = match kind % 3 {
                        0 => HostCommand::MakeHost(peer),
                        1 => HostCommand::Remove(peer),
                        _ => HostCommand::AskToMute(peer),
                    };
                    let host = rooms.host(&seat.room);
                    if rooms.host_command(seat, command).is_ok() {
                        assert_eq!(host, Some(seat.id), "{command:?} carried out from not the host");
                        assert_ne!(peer, seat.id, "a host command about oneself");
                        let members = rooms.members(&seat.room);
                        match command {
                            HostCommand::Remove(peer) => {
                                assert!(members.iter().all(|m| m.id != peer), "removed, still there")
                            }
                            // (Unless their held seat could not take the news, and was freed.)
                            HostCommand::MakeHost(peer) => assert!(
                                rooms.host(&seat.room) == Some(peer)
                                    || members.iter().all(|m| m.id != peer)
                            ),
                            _ => {}
                        }
                    }
                }
            }
            Op::Lock { conn, lock } => {
                if let Some(seat) = &conns[pick(conn)].seat {
                    let host = rooms.host(&seat.room);
                    if rooms.host_command(seat, HostCommand::Lock(lock)).is_ok() {
                        assert_eq!(host, Some(seat.id), "locked by not the host");
                    }
                }
            }
            Op::Answer { conn, knock, admit } => {
                if let (Some(seat), false) = (&conns[pick(conn)].seat, knocks.is_empty()) {
                    let knock = knocks[usize::from(knock) % knocks.len()].knock;
                    let command = if admit {
                        HostCommand::Admit(knock)
                    } else {
                        HostCommand::Deny(knock)
                    };
                    let host = rooms.host(&seat.room);
                    if rooms.host_command(seat, command).is_ok() {
                        assert_eq!(host, Some(seat.id), "{command:?} by not the host");
                    }
                }
            }
            Op::Withdraw { conn } => {
                let c = &mut conns[pick(conn)];
                if let Some(knocking) = c.knocking.take() {
                    if let Some(seat) = rooms.withdraw_knock(&knocking) {
                        rooms.leave(&seat);
                    }
                }
            }
            Op::ExpireKnock { conn } => {
                if let Some(knocking) = &conns[pick(conn)].knocking {
                    rooms.expire_knock(knocking);
                }
            }
            Op::Reconnect { conn } => {
                let c = &mut conns[pick(conn)];
                let seat = c.seat.take();
                *c = connection();
                c.seat = seat;
            }
        }
        // A knock let in becomes its connection's seat; one that ended, nothing.
        for c in &mut conns {
            if let Some(knocking) = &c.knocking {
                match rooms.knock_outcome(knocking) {
                    KnockOutcome::Waiting => {
                        let members = rooms.members(&knocking.room);
                        assert!(!members.is_empty(), "waiting at an empty room's door");
                    }
                    KnockOutcome::Seated(seat) => {
                        ids.push(seat.id);
                        c.seat = Some(seat);
                        c.knocking = None;
                    }
                    KnockOutcome::Ended => c.knocking = None,
                }
            }
        }
        for room in ROOMS {
            let members = rooms.members(room);
            assert!(members.len() <= CAPACITY, "room {room} over capacity");
            match rooms.host(room) {
                Some(host) => assert!(members.iter().any(|m| m.id == host), "a host not there"),
                None => assert!(members.is_empty(), "a room without a host"),
            }
        }
        for c in &conns {
            assert!(c.mailbox.queued_bytes() <= BOUNDS.total, "a queue past its bound");
        }
        // One seat, one socket: no two connections hold the same seat at once.
        let holders: Vec<_> = conns
            .iter()
            .filter_map(|c| c.seat.as_ref())
            .filter(|seat| rooms.fresh_token(seat).is_some())
            .map(|seat| (seat.room.clone(), seat.id))
            .collect();
        let mut unique = holders.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), holders.len(), "a seat held twice");
        let (_, seats) = rooms.counts();
        assert!(seats <= CAPACITY * ROOMS.len());
    }
});
