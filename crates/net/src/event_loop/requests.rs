//! Request-response on `/swapmesh/sync/1`, `/swapmesh/agree/1` and
//! `/swapmesh/blob/1`: requests we
//! send and wait on, requests we received and the app's answers to them.

use std::time::Instant;

use futures::future::BoxFuture;
use libp2p::{
    PeerId,
    request_response::{self, InboundRequestId, OutboundFailure},
};
use tracing::debug;

use super::{EventLoop, command::ResponseReply};
use crate::{
    codec::{Frame, FrameError, frame_error},
    error::{NetworkError, RequestError},
    misbehaviour::{Misbehaviour, Traffic},
    types::{Answer, NetworkEvent, Protocol, ResponseHandle},
};

/// Identifies one pending inbound request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct InboundKey {
    protocol: Protocol,
    id: InboundRequestId,
}

/// Resolves when the app answers an inbound request (`Some`) or drops its
/// [`ResponseHandle`] unanswered (`None`).
pub(super) type PendingAnswer = BoxFuture<'static, (InboundKey, Option<Answer>)>;

impl EventLoop {
    fn frame_limit(&self, protocol: Protocol) -> usize {
        match protocol {
            Protocol::Sync => self.frame_limits.sync,
            Protocol::Agree => self.frame_limits.agree,
            Protocol::Blob => self.frame_limits.blob,
            Protocol::Mail => self.frame_limits.mail,
        }
    }

    pub(super) fn send_request(
        &mut self,
        protocol: Protocol,
        peer: PeerId,
        data: Vec<u8>,
        reply: ResponseReply,
    ) {
        let limit = self.frame_limit(protocol);
        if data.len() > limit {
            let _ = reply.send(Err(RequestError::TooLarge {
                len: data.len(),
                limit,
            }));
            return;
        }
        let id = self
            .swarm
            .behaviour_mut()
            .protocol_mut(protocol)
            .send_request(&peer, Frame::Data(data));
        self.pending_outbound.insert((protocol, id), reply);
    }

    /// The app answered the request `key` (`Some`), or dropped its handle
    /// without answering (`None`): then the request's channel is dropped now,
    /// which closes the stream, and the peer's request fails at once rather than
    /// at its timeout.
    pub(super) fn on_answer(&mut self, key: InboundKey, answer: Option<Answer>) {
        match answer {
            Some(Answer { data, reply }) => {
                let _ = reply.send(self.respond(key, data));
            }
            None => {
                if self.pending_inbound.remove(&key).is_some() {
                    debug!(protocol = %key.protocol, "request declined: the app dropped its handle");
                }
            }
        }
    }

    fn respond(&mut self, key: InboundKey, data: Vec<u8>) -> Result<(), NetworkError> {
        let limit = self.frame_limit(key.protocol);
        if data.len() > limit {
            return Err(NetworkError::ResponseTooLarge {
                len: data.len(),
                limit,
            });
        }
        let channel = self
            .pending_inbound
            .remove(&key)
            .ok_or(NetworkError::RequestGone)?;
        self.swarm
            .behaviour_mut()
            .protocol_mut(key.protocol)
            .send_response(channel, data)
            .map_err(|_| NetworkError::RequestGone)
    }

    pub(super) fn on_request_response(
        &mut self,
        protocol: Protocol,
        event: request_response::Event<Frame, Vec<u8>>,
    ) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request_id,
                        request,
                        channel,
                    },
                ..
            } => {
                let traffic = match protocol {
                    Protocol::Blob => Traffic::BlobRequest,
                    Protocol::Sync => Traffic::SyncRequest,
                    Protocol::Agree | Protocol::Mail => Traffic::Request,
                };
                if !self.rates.allow(peer, traffic, Instant::now()) {
                    // Dropping the channel closes the stream: the peer sees a failure.
                    drop(channel);
                    self.charge(peer, Misbehaviour::Flooding);
                    return;
                }
                match request {
                    Frame::Data(data) => {
                        let key = InboundKey {
                            protocol,
                            id: request_id,
                        };
                        let (reply, answer) = ResponseHandle::new(protocol);
                        self.pending_inbound.insert(key, channel);
                        self.answers
                            .push(Box::pin(async move { (key, answer.await.ok()) }));
                        self.emit(NetworkEvent::InboundRequest {
                            protocol,
                            peer,
                            data,
                            reply,
                        });
                    }
                    Frame::Refused(error) => {
                        debug!(%peer, %protocol, %error, "refused inbound request");
                        drop(channel);
                        if let Some(misbehaviour) = misbehaviour_of(&error) {
                            self.charge(peer, misbehaviour);
                        }
                    }
                }
            }
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending_outbound.remove(&(protocol, request_id)) {
                    let _ = reply.send(Ok(response));
                }
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                debug!(%peer, %protocol, %error, "outbound request failed");
                let error = match error {
                    OutboundFailure::DialFailure => RequestError::DialFailure,
                    OutboundFailure::Timeout => RequestError::Timeout,
                    OutboundFailure::ConnectionClosed => RequestError::ConnectionClosed,
                    OutboundFailure::UnsupportedProtocols => RequestError::UnsupportedProtocol,
                    OutboundFailure::Io(e) => match frame_error(&e) {
                        Some(FrameError::Empty) => RequestError::NoResponse,
                        Some(frame) => {
                            let frame = frame.clone();
                            if let Some(misbehaviour) = misbehaviour_of(&frame) {
                                self.charge(peer, misbehaviour);
                            }
                            RequestError::BadResponse(frame)
                        }
                        None => RequestError::Io(e.to_string()),
                    },
                };
                if let Some(reply) = self.pending_outbound.remove(&(protocol, request_id)) {
                    let _ = reply.send(Err(error));
                }
            }
            request_response::Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                debug!(%peer, %protocol, %error, "inbound request failed");
                self.pending_inbound.remove(&InboundKey {
                    protocol,
                    id: request_id,
                });
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

/// The misbehaviour a refused frame amounts to (an empty stream is none: the
/// peer sent nothing, which costs us nothing).
fn misbehaviour_of(error: &FrameError) -> Option<Misbehaviour> {
    match error {
        FrameError::Oversize { .. } => Some(Misbehaviour::OversizeFrame),
        FrameError::Truncated { .. } => Some(Misbehaviour::MalformedFrame),
        FrameError::Empty => None,
    }
}
