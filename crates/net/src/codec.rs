//! Size-capped byte frames for the request-response protocols.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes. The length
//! is read first and checked against the protocol's limit; a frame over the limit
//! is refused before a single byte of it is read, and the body is read through
//! `io.take(len)` into a buffer that grows only as bytes arrive (STYLE §5).
//!
//! An inbound request that breaks these rules is not an I/O error but a
//! [`Frame::Refused`] value: request-response 0.30 does not report a failed
//! `read_request` to the behaviour (only a debug log), so returning the verdict as
//! the request is the only way the event loop learns which peer sent it and can
//! charge it. Responses do fail with an `io::Error` that wraps a [`FrameError`],
//! which reaches the loop as `OutboundFailure::Io` with the peer attached.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::{StreamProtocol, request_response};

/// The length prefix: 4 bytes, big-endian.
const PREFIX_LEN: usize = 4;

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The announced length is over the protocol's limit; the body was not read.
    #[error("frame of {len} bytes is over the limit of {limit} bytes")]
    Oversize {
        /// The length the peer announced.
        len: u64,
        /// The limit of the protocol.
        limit: usize,
    },
    /// The stream ended inside the length prefix or the body.
    #[error("frame truncated: expected {expected} bytes, got {got}")]
    Truncated {
        /// Bytes announced (or 4 while the prefix itself was cut short).
        expected: u64,
        /// Bytes that arrived.
        got: u64,
    },
    /// The stream ended before the first byte of a frame: the peer sent nothing.
    #[error("the stream ended before a frame began")]
    Empty,
}

/// One inbound request as the codec read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A well-formed frame within the limit.
    Data(Vec<u8>),
    /// A frame the codec refused; the event loop charges the sender.
    Refused(FrameError),
}

/// The request-response codec: length-prefixed byte frames capped at `limit`.
///
/// `Default` gives the smallest built-in limit (that of `/swapmesh/agree/1`); the
/// event loop always builds its codecs with [`FrameCodec::new`] and the configured
/// limit of each protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCodec {
    limit: usize,
}

impl FrameCodec {
    /// A codec that reads and writes frames of at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }

    /// The largest frame this codec reads or writes.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl Default for FrameCodec {
    fn default() -> Self {
        Self::new(crate::config::FrameLimits::default().agree)
    }
}

impl From<FrameError> for io::Error {
    fn from(e: FrameError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// The [`FrameError`] inside an I/O error produced by this codec, if it is one.
pub(crate) fn frame_error(e: &io::Error) -> Option<&FrameError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<FrameError>())
}

/// Reads one frame of at most `limit` bytes.
///
/// The outer `io::Result` carries transport errors; the inner `Result` the
/// verdict on what the peer sent.
pub(crate) async fn read_frame<T>(
    io: &mut T,
    limit: usize,
) -> io::Result<Result<Vec<u8>, FrameError>>
where
    T: AsyncRead + Unpin + Send,
{
    let mut prefix = [0u8; PREFIX_LEN];
    let mut filled = 0;
    while filled < PREFIX_LEN {
        let n = io.read(&mut prefix[filled..]).await?;
        if n == 0 {
            return Ok(Err(if filled == 0 {
                FrameError::Empty
            } else {
                FrameError::Truncated {
                    expected: PREFIX_LEN as u64,
                    got: filled as u64,
                }
            }));
        }
        filled += n;
    }
    let len = u64::from(u32::from_be_bytes(prefix));
    if len > limit as u64 {
        // Refused before reading (or allocating) any of the body.
        return Ok(Err(FrameError::Oversize { len, limit }));
    }
    // `len <= limit`, so the buffer can never grow beyond the limit, and it only
    // grows as bytes actually arrive (no `with_capacity(len)` on a peer's word).
    let mut body = Vec::new();
    io.take(len).read_to_end(&mut body).await?;
    if (body.len() as u64) < len {
        return Ok(Err(FrameError::Truncated {
            expected: len,
            got: body.len() as u64,
        }));
    }
    Ok(Ok(body))
}

/// Writes one frame, refusing (without writing) data over `limit`.
pub(crate) async fn write_frame<T>(io: &mut T, limit: usize, data: &[u8]) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
{
    let len = u32::try_from(data.len())
        .ok()
        .filter(|&len| len as usize <= limit)
        .ok_or(FrameError::Oversize {
            len: data.len() as u64,
            limit,
        })?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(data).await?;
    io.flush().await
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Frame;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Frame>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(match read_frame(io, self.limit).await? {
            Ok(data) => Frame::Data(data),
            Err(e) => Frame::Refused(e),
        })
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(read_frame(io, self.limit).await??)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Frame,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            Frame::Data(data) => write_frame(io, self.limit, &data).await,
            Frame::Refused(e) => Err(io::Error::new(io::ErrorKind::InvalidInput, e)),
        }
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, self.limit, &res).await
    }
}
