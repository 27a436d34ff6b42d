//! The room model, shared by both ways of keeping rooms: one process (`server::rooms`)
//! and several sharing them through Redis (`server::cluster`). What is decided the same way
//! in both is decided here, once; so far who hosts a room ([`host`]) and the door of a
//! locked room ([`door`]). Issue 35 brings the rest of the model here, one part at a time.

pub mod door;
pub mod host;
pub mod roster;
pub mod seat;
