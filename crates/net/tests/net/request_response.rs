//! `/swapmesh/sync/1` and `/swapmesh/agree/1`: round trips and frame rules.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use futures::{AsyncRead, AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{
    StreamProtocol,
    request_response::{self, Codec as _, ProtocolSupport},
    swarm::SwarmEvent,
};
use swapmesh_net::{
    Misbehaviour, NetworkEvent, Protocol, RequestError,
    codec::{Frame, FrameCodec, FrameError},
};
use tokio::sync::mpsc;

use crate::support::{Node, Seen, bare_swarm, bounded, connect, stop_all, test_config};

async fn round_trip(protocol: Protocol) {
    let mut a = Node::start().await;
    let mut b = Node::start().await;
    connect(&mut a, &mut b).await;
    let response = a
        .handle
        .send_request(protocol, b.peer, b"hello".to_vec())
        .await
        .expect("a response");
    assert_eq!(response, b"re:hello");
    b.wait_for_event(Seen::Request {
        protocol,
        peer: a.peer,
        data: b"hello".to_vec(),
    })
    .await;
    stop_all(vec![a, b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_on_sync() {
    bounded(round_trip(Protocol::Sync)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_on_agree() {
    bounded(round_trip(Protocol::Agree)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_response_handle_fails_the_request_at_once() {
    bounded(async {
        // Long enough that only a prompt decline can end the request in time.
        let request_timeout = Duration::from_secs(30);
        let prompt = Duration::from_secs(5);
        let mut config = test_config();
        config.request_timeout = request_timeout;
        let (b, mut events, event_loop) = swapmesh_net::new(config).expect("network builds");
        let b_loop = tokio::spawn(event_loop.run());
        let address = loop {
            if let Some(NetworkEvent::NewListenAddr { address }) = events.recv().await {
                break address.with_p2p(b.local_peer_id()).unwrap();
            }
        };
        // `b`'s app drops every request's handle without a word.
        let (declined_tx, mut declined) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let NetworkEvent::InboundRequest { data, reply, .. } = event {
                    drop(reply);
                    let _ = declined_tx.send(data);
                }
            }
        });

        let mut a = Node::start_with(|c| c.request_timeout = request_timeout).await;
        a.handle.dial(address).await.unwrap();
        a.wait_for_event(Seen::Connected(b.local_peer_id())).await;
        let result = tokio::time::timeout(
            prompt,
            a.handle
                .send_request(Protocol::Sync, b.local_peer_id(), b"hello".to_vec()),
        )
        .await
        .expect("the declined request failed long before its timeout");
        assert_eq!(result, Err(RequestError::NoResponse));
        assert_eq!(declined.recv().await, Some(b"hello".to_vec()));

        a.stop().await;
        b.shutdown().await;
        b_loop.await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_over_our_own_limit_is_not_sent() {
    bounded(async {
        let mut a = Node::start_with(|c| c.frame_limits.agree = 1024).await;
        let mut b = Node::start().await;
        connect(&mut a, &mut b).await;
        let result = a
            .handle
            .send_request(Protocol::Agree, b.peer, vec![0; 1025])
            .await;
        assert_eq!(
            result,
            Err(RequestError::TooLarge {
                len: 1025,
                limit: 1024
            })
        );
        stop_all(vec![a, b]).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_request_is_refused_and_charged_to_the_sender() {
    bounded(async {
        // `a` may send larger sync frames than `b` accepts.
        let mut a = Node::start_with(|c| c.frame_limits.sync = 64 * 1024).await;
        let mut b = Node::start_with(|c| c.frame_limits.sync = 1024).await;
        connect(&mut a, &mut b).await;
        let result = a
            .handle
            .send_request(Protocol::Sync, b.peer, vec![7; 4096])
            .await;
        assert!(result.is_err(), "an oversize request got {result:?}");
        b.wait_for_event(Seen::Misbehaved(a.peer, Misbehaviour::OversizeFrame))
            .await;
        assert!(
            !b.seen().iter().any(|s| matches!(s, Seen::Request { .. })),
            "the oversize request reached the app"
        );
        stop_all(vec![a, b]).await;
    })
    .await;
}

/// A reader that announces a frame one byte over the limit and would then
/// yield zeros forever, counting every body byte it hands out.
struct Announcing {
    prefix: [u8; 4],
    prefix_sent: usize,
    body_bytes_read: usize,
}

impl AsyncRead for Announcing {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.prefix_sent < 4 {
            let n = buf.len().min(4 - this.prefix_sent);
            buf[..n].copy_from_slice(&this.prefix[this.prefix_sent..this.prefix_sent + n]);
            this.prefix_sent += n;
            return Poll::Ready(Ok(n));
        }
        buf.fill(0);
        this.body_bytes_read += buf.len();
        Poll::Ready(Ok(buf.len()))
    }
}

#[tokio::test]
async fn oversize_frame_is_refused_without_reading_its_body() {
    let limit = 1024;
    for announced in [limit as u32 + 1, u32::MAX] {
        let mut io = Announcing {
            prefix: announced.to_be_bytes(),
            prefix_sent: 0,
            body_bytes_read: 0,
        };
        let mut codec = FrameCodec::new(limit);
        let frame = codec
            .read_request(&StreamProtocol::new(Protocol::Sync.name()), &mut io)
            .await
            .unwrap();
        assert_eq!(
            frame,
            Frame::Refused(FrameError::Oversize {
                len: u64::from(announced),
                limit
            })
        );
        assert_eq!(io.body_bytes_read, 0, "the codec read into the body");
    }
}

#[tokio::test]
async fn truncated_frame_is_refused_as_malformed() {
    let mut bytes = 100u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[1; 10]);
    let mut codec = FrameCodec::new(1024);
    let protocol = StreamProtocol::new(Protocol::Sync.name());
    let frame = codec
        .read_request(&protocol, &mut futures::io::Cursor::new(bytes))
        .await
        .unwrap();
    assert_eq!(
        frame,
        Frame::Refused(FrameError::Truncated {
            expected: 100,
            got: 10
        })
    );
    let cut_prefix = codec
        .read_request(&protocol, &mut futures::io::Cursor::new(vec![0, 0]))
        .await
        .unwrap();
    assert_eq!(
        cut_prefix,
        Frame::Refused(FrameError::Truncated {
            expected: 4,
            got: 2
        })
    );
}

/// A hostile codec: announces 100 bytes and sends 10.
#[derive(Debug, Clone, Default)]
struct TruncatingCodec;

impl request_response::Codec for TruncatingCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, _: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Err(io::Error::other("outbound only"))
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut buf = Vec::new();
        io.take(1024).read_to_end(&mut buf).await?;
        Ok(buf)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        io.write_all(&100u32.to_be_bytes()).await?;
        io.write_all(&request[..10]).await?;
        io.flush().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        _: Vec<u8>,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_request_is_reported_as_misbehaviour() {
    bounded(async {
        let mut b = Node::start().await;
        let mut evil = bare_swarm(|_| {
            request_response::Behaviour::with_codec(
                TruncatingCodec,
                [(
                    StreamProtocol::new(Protocol::Sync.name()),
                    ProtocolSupport::Outbound,
                )],
                request_response::Config::default().with_request_timeout(Duration::from_secs(5)),
            )
        });
        let evil_peer = *evil.local_peer_id();
        evil.dial(b.addr.clone()).unwrap();
        loop {
            if let SwarmEvent::ConnectionEstablished { .. } = evil.select_next_some().await {
                break;
            }
        }
        evil.behaviour_mut().send_request(&b.peer, vec![9; 100]);
        let driver = tokio::spawn(async move {
            loop {
                evil.select_next_some().await;
            }
        });

        b.wait_for_event(Seen::Misbehaved(evil_peer, Misbehaviour::MalformedFrame))
            .await;
        assert!(
            !b.seen().iter().any(|s| matches!(s, Seen::Request { .. })),
            "the malformed request reached the app"
        );
        driver.abort();
        b.stop().await;
    })
    .await;
}
