//! Sending and receiving files over data channels of their own (see `crate::transfer`).
//!
//! Each transfer runs in its own task, so a large file never holds up the call. The
//! sender paces itself on `bufferedAmount`, so the browser never buffers more than a
//! little over [`HIGH_WATER`] of it; the receiver hashes as bytes arrive and offers the
//! file only if the checksum matches.

use crate::call_state::{CallState, Transfer, TransferFailure, TransferState};
use crate::mesh::notice::Notice;
use crate::protocol::file::{
    check_size, chunks, crosses_percent, safe_file_name, Checksum, FileFrame, FileHeader,
    TransferError, CHANNEL_PREFIX, RECEIVED_FILE_TYPE,
};
use futures::channel::mpsc;
use futures::StreamExt;
use js_sys::{Array, ArrayBuffer, Promise, Uint8Array};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AddEventListenerOptions, Blob, BlobPropertyBag, Event, File, MessageEvent, RtcDataChannel,
    RtcDataChannelState, RtcDataChannelType, RtcPeerConnection, Url,
};

/// Pause sending above this much buffered…
const HIGH_WATER: u32 = 1024 * 1024;
/// …and go on once the buffer drains below this.
const LOW_WATER: u32 = 256 * 1024;

/// Starts sending `file` as transfer `id` to `peer` (their name, for the progress row);
/// the channel is returned so it can be closed to cancel, and `ended` is called once this
/// side is done with it. A file over `limit` is refused before anything is sent.
pub fn send(
    pc: &RtcPeerConnection,
    id: u32,
    peer: String,
    file: File,
    limit: u64,
    view: CallState,
    ended: impl FnOnce() + 'static,
) -> Result<RtcDataChannel, Notice> {
    let size = file.size() as u64;
    if check_size(size, limit).is_err() {
        return Err(Notice::FileTooLarge {
            name: file.name(),
            size,
            limit,
        });
    }
    let channel = pc.create_data_channel(&format!("{CHANNEL_PREFIX}{id}"));
    channel.set_binary_type(RtcDataChannelType::Arraybuffer);
    view.transfers.update(|all| {
        all.push(Transfer {
            id,
            name: file.name(),
            peer,
            size,
            sending: true,
            done_bytes: 0,
            state: TransferState::Preparing,
        })
    });
    let sending = channel.clone();
    spawn_local(async move {
        let state = match run_send(&sending, &file, id, view).await {
            Ok(()) => TransferState::Done { url: None },
            Err(None) => TransferState::Cancelled,
            Err(Some(why)) => TransferState::Failed(why),
        };
        view.update_transfer(id, |t| t.state = state);
        ended();
    });
    Ok(channel)
}

/// `Err(None)`: cancelled (the channel closed); `Err(Some(why))`: failed.
async fn run_send(
    channel: &RtcDataChannel,
    file: &File,
    id: u32,
    view: CallState,
) -> Result<(), Option<TransferFailure>> {
    let size = file.size() as u64;
    // The checksum goes ahead of the bytes, so the file is read twice.
    let mut checksum = Checksum::default();
    for (start, end) in chunks(size) {
        checksum.update(&read(file, start, end).await?.to_vec());
        if channel.ready_state() == RtcDataChannelState::Closed {
            return Err(None);
        }
    }
    let header = FileHeader {
        name: file.name(),
        size,
        mime: file.type_(),
        sha256: checksum.hex(),
    };
    if channel.ready_state() == RtcDataChannelState::Connecting {
        next_event(channel, &["open", "close"]).await;
    }
    send_frame(channel, &FileFrame::Header(header))?;
    view.update_transfer(id, |t| t.state = TransferState::Active);
    channel.set_buffered_amount_low_threshold(LOW_WATER);
    for (start, end) in chunks(size) {
        if channel.buffered_amount() > HIGH_WATER {
            next_event(channel, &["bufferedamountlow", "close"]).await;
        }
        if channel.ready_state() != RtcDataChannelState::Open {
            return Err(None);
        }
        let bytes = read(file, start, end).await?;
        channel
            .send_with_array_buffer_view(&bytes)
            .map_err(|_| None)?;
        if crosses_percent(start, end, size) {
            view.update_transfer(id, |t| t.done_bytes = end);
        }
    }
    send_frame(channel, &FileFrame::Done)?;
    // Sent is not received: wait for the receiver's verdict.
    // The receiver's frame is theirs: sized before it is parsed, like every file frame.
    match next_message(channel)
        .await
        .and_then(|t| FileFrame::decode(&t))
    {
        Some(FileFrame::Received) => Ok(()),
        Some(FileFrame::Rejected { reason, failure }) => {
            Err(Some(TransferFailure::Theirs(failure.ok_or(reason))))
        }
        _ => Err(None),
    }
}

/// Takes an incoming transfer channel; the file is offered once it has arrived intact.
/// Its download link is added to `links`, for the session to release at the end; `ended`
/// is called once this side is done with it.
pub fn receive(
    channel: RtcDataChannel,
    id: u32,
    peer: String,
    limit: u64,
    view: CallState,
    links: Rc<RefCell<Vec<String>>>,
    ended: impl FnOnce() + 'static,
) {
    channel.set_binary_type(RtcDataChannelType::Arraybuffer);
    spawn_local(async move {
        let outcome = run_receive(&channel, id, peer, limit, view).await;
        let verdict = match &outcome {
            Ok(_) => Some(FileFrame::Received),
            Err(Some(why)) => Some(FileFrame::Rejected {
                reason: why.to_string(),
                failure: Some(*why),
            }),
            Err(None) => None,
        };
        if let Some(verdict) = verdict {
            let _ = send_frame::<()>(&channel, &verdict);
        }
        let state = match outcome {
            Ok(url) => {
                links.borrow_mut().push(url.clone());
                TransferState::Done { url: Some(url) }
            }
            Err(None) => TransferState::Cancelled,
            Err(Some(why)) => TransferState::Failed(TransferFailure::Here(why)),
        };
        channel.close();
        view.update_transfer(id, |t| t.state = state);
        ended();
    });
}

enum Incoming {
    Text(String),
    Bytes(ArrayBuffer),
    Closed,
}

async fn run_receive(
    channel: &RtcDataChannel,
    id: u32,
    peer: String,
    limit: u64,
    view: CallState,
) -> Result<String, Option<TransferError>> {
    let (tx, mut messages) = mpsc::unbounded::<Incoming>();
    let on_message = {
        let tx = tx.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            let item = match data.as_string() {
                Some(text) => Incoming::Text(text),
                None => Incoming::Bytes(data.unchecked_into()),
            };
            let _ = tx.unbounded_send(item);
        })
    };
    let on_close = Closure::<dyn FnMut()>::new(move || {
        let _ = tx.unbounded_send(Incoming::Closed);
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    channel.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    let result = collect(&mut messages, id, peer, limit, view).await;
    channel.set_onmessage(None);
    channel.set_onclose(None);
    result
}

async fn collect(
    messages: &mut mpsc::UnboundedReceiver<Incoming>,
    id: u32,
    peer: String,
    limit: u64,
    view: CallState,
) -> Result<String, Option<TransferError>> {
    let header = match messages.next().await {
        Some(Incoming::Text(text)) => match FileFrame::decode(&text) {
            Some(FileFrame::Header(header)) => header,
            _ => return Err(Some(TransferError::NotAFile)),
        },
        _ => return Err(None),
    };
    // The name is the peer's choice: shown and saved only once made safe.
    let name = safe_file_name(&header.name);
    view.transfers.update(|all| {
        all.push(Transfer {
            id,
            name,
            peer: peer.clone(),
            size: header.size,
            sending: false,
            done_bytes: 0,
            state: TransferState::Active,
        })
    });
    check_size(header.size, limit).map_err(Some)?;
    let parts = Array::new();
    let mut checksum = Checksum::default();
    while let Some(message) = messages.next().await {
        match message {
            Incoming::Bytes(buffer) => {
                let before = checksum.bytes();
                checksum.update(&Uint8Array::new(&buffer).to_vec());
                if checksum.bytes() > header.size {
                    return Err(Some(TransferError::MoreThanAnnounced));
                }
                parts.push(&buffer);
                let received = checksum.bytes();
                if crosses_percent(before, received, header.size) {
                    view.update_transfer(id, |t| t.done_bytes = received);
                }
            }
            Incoming::Text(text) => {
                if FileFrame::decode(&text) != Some(FileFrame::Done) {
                    return Err(Some(TransferError::Unexpected));
                }
                checksum.verify(&header).map_err(Some)?;
                // Whatever type the sender claims, the file is offered as bytes to save:
                // a peer's `text/html` must never open, and run, in our origin.
                let kind = BlobPropertyBag::new();
                kind.set_type(RECEIVED_FILE_TYPE);
                let blob = Blob::new_with_buffer_source_sequence_and_options(&parts, &kind)
                    .map_err(|_| Some(TransferError::NotKept))?;
                return Url::create_object_url_with_blob(&blob)
                    .map_err(|_| Some(TransferError::NotOffered));
            }
            Incoming::Closed => return Err(None),
        }
    }
    Err(None)
}

/// Bytes `[start, end)` of `file`.
async fn read(file: &File, start: u64, end: u64) -> Result<Uint8Array, Option<TransferFailure>> {
    let unreadable = |_| Some(TransferFailure::Unreadable);
    let slice = file
        .slice_with_f64_and_f64(start as f64, end as f64)
        .map_err(unreadable)?;
    let buffer = JsFuture::from(slice.array_buffer())
        .await
        .map_err(unreadable)?;
    Ok(Uint8Array::new(&buffer))
}

/// Sends one frame; `Err(None)`: the channel is gone (a cancel).
fn send_frame<E>(channel: &RtcDataChannel, frame: &FileFrame) -> Result<(), Option<E>> {
    let text = serde_json::to_string(frame).expect("file frames are plain data and serialize");
    channel.send_with_str(&text).map_err(|_| None)
}

/// The next text message on the channel, or `None` once it closes.
async fn next_message(channel: &RtcDataChannel) -> Option<String> {
    let promise = Promise::new(&mut |resolve, _| {
        let options = AddEventListenerOptions::new();
        options.set_once(true);
        let on_message = {
            let resolve = resolve.clone();
            Closure::once_into_js(move |event: MessageEvent| {
                let _ = resolve.call1(&JsValue::NULL, &event.data());
            })
        };
        let on_close = Closure::once_into_js(move |_: Event| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        for (name, listener) in [("message", on_message), ("close", on_close)] {
            let _ = channel.add_event_listener_with_callback_and_add_event_listener_options(
                name,
                listener.unchecked_ref(),
                &options,
            );
        }
    });
    JsFuture::from(promise).await.ok()?.as_string()
}

/// Resolves when the channel fires any of `events` (once).
async fn next_event(channel: &RtcDataChannel, events: &[&str]) {
    let promise = Promise::new(&mut |resolve, _| {
        let options = AddEventListenerOptions::new();
        options.set_once(true);
        for name in events {
            let resolve = resolve.clone();
            // Owned by the browser from here on; freed after it fires, or with the channel.
            let listener = Closure::once_into_js(move |_: Event| {
                let _ = resolve.call0(&JsValue::NULL);
            });
            let _ = channel.add_event_listener_with_callback_and_add_event_listener_options(
                name,
                listener.unchecked_ref(),
                &options,
            );
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Releases the memory behind a received file's download link.
pub fn forget(url: &str) {
    let _ = Url::revoke_object_url(url);
}
