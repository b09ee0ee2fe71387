//! Typed errors of the network layer (STYLE §4).

use crate::codec::FrameError;

/// A command could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// The event loop has stopped (shut down, or its task ended).
    #[error("the network event loop has stopped")]
    Stopped,
    /// The swarm could not be built from the configuration.
    #[error("could not build the network: {0}")]
    Build(String),
    /// Listening on an address failed.
    #[error("could not listen on {address}: {reason}")]
    Listen {
        /// The address.
        address: String,
        /// What went wrong.
        reason: String,
    },
    /// A dial could not be started.
    #[error("could not dial: {0}")]
    Dial(String),
    /// Joining a topic was refused.
    #[error("could not join topic {topic}: {reason}")]
    Subscribe {
        /// The topic.
        topic: String,
        /// What went wrong.
        reason: String,
    },
    /// A response is larger than the protocol's frame limit.
    #[error("response of {len} bytes is over the limit of {limit} bytes")]
    ResponseTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The metrics could not be encoded as Prometheus text.
    #[error("could not encode the metrics: {0}")]
    Metrics(String),
    /// The request being answered is no longer pending (timed out, or its
    /// connection closed).
    #[error("the request is no longer pending")]
    RequestGone,
    /// A configuration value the network cannot run with.
    #[error("invalid network configuration: {0}")]
    InvalidConfig(String),
}

/// Publishing a gossip message failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// No connected peer has joined the topic (yet): keep the message and publish
    /// it when one does.
    #[error("no peer has joined the topic")]
    NoPeers,
    /// These bytes were already published on this topic recently.
    #[error("the message was already published")]
    Duplicate,
    /// The message is over
    /// [`GossipConfig::max_message_bytes`](crate::GossipConfig::max_message_bytes)
    /// (less the part of a long topic name beyond
    /// [`MAX_TOPIC_BYTES`](crate::config::MAX_TOPIC_BYTES)).
    #[error("message of {len} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Every peer's send queue is full; try again later.
    #[error("the send queues of all peers are full")]
    QueuesFull,
    /// Gossipsub refused for another reason.
    #[error("gossipsub refused the message: {0}")]
    Other(String),
    /// The event loop has stopped.
    #[error("the network event loop has stopped")]
    Stopped,
}

/// A request got no (usable) response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The request is over the protocol's frame limit; nothing was sent.
    #[error("request of {len} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The peer could not be reached.
    #[error("could not dial the peer")]
    DialFailure,
    /// No response within the request timeout.
    #[error("the request timed out")]
    Timeout,
    /// The connection closed before the response arrived.
    #[error("the connection closed before the response arrived")]
    ConnectionClosed,
    /// The peer does not speak the protocol.
    #[error("the peer does not support the protocol")]
    UnsupportedProtocol,
    /// The peer closed the stream without answering (it declined, or refused
    /// our request).
    #[error("the peer sent no response")]
    NoResponse,
    /// The peer's response broke the framing rules; it was charged.
    #[error("the response was refused: {0}")]
    BadResponse(FrameError),
    /// Another I/O failure on the stream.
    #[error("i/o error on the request stream: {0}")]
    Io(String),
    /// The event loop has stopped.
    #[error("the network event loop has stopped")]
    Stopped,
}
