//! Photos (issue 19): fetching 100 photos of 400 KiB between two nodes over
//! TCP, against a plain loopback TCP copy of the same bytes, measured in one
//! run and reported as a ratio (DESIGN §9: these machines are noisy, so only
//! ratios within a run are compared); and the time to normalise one
//! 12-megapixel upload.
//!
//! - **nodes**: two whole nodes (`Node`, each with its own sled store and blob
//!   directory) on `/ip4/127.0.0.1/tcp/0` (noise, yamux), connected. The holder
//!   has 100 blobs of 400 KiB of random bytes (incompressible; stored through
//!   the blob store as a fetched photo would be, since normalising would not
//!   give 100 photos of one size). A round reads all 100 on the other node with
//!   `Node::photo`: each a `/swapmesh/blob/1` request to the holder (which reads
//!   the file and checks its hash), the blake3 check, the file written,
//!   fsynced and renamed, the index entry, then the read back from disk that
//!   `Node::photo` answers with. Sequential (one read at a time, as a
//!   command-line `blob get` loop would) and 8 at a time (as a browser showing
//!   a page of listings would). Between rounds the fetched blobs are removed.
//! - **plain TCP**: the same 100 × 400 KiB written by a tokio task on one
//!   loopback TCP connection (a 4-byte length before each) and read into 100
//!   buffers on the other end. No encryption, no multiplexing, no disk.
//! - **plain TCP + files**: the plain copy, each buffer then written to a file
//!   with fsync and rename, as the blob store does — to tell the network's
//!   share of the gap from the disk's.
//! - **normalise**: `Node::add_photo` of a 4,000 × 3,000 JPEG (a smooth
//!   pattern with noise, quality 90): decode, scale to 1,600 px, encode as
//!   JPEG within 512 KiB, store and flush.
//!
//! Rounds interleave the kinds. Run with
//! `cargo bench -p swapmesh-node --bench blobs`; `SWAPMESH_BENCH_ROUNDS` sets
//! the rounds (default 7), `SWAPMESH_BENCH_UPLOADS` the 12-megapixel uploads
//! timed (default 3).

use std::io::{Cursor, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, RgbImage};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use swapmesh_net::{Multiaddr, Transport, multiaddr::Protocol};
use swapmesh_node::blobs::PhotoSize;
use swapmesh_node::{Node, NodeConfig};
use swapmesh_protocol::BlobHash;
use swapmesh_store::BlobStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PHOTOS: usize = 100;
const PHOTO_BYTES: usize = 400 * 1024;
const CONCURRENT: usize = 8;
const LIMIT: Duration = Duration::from_secs(30);

fn config(dir: &Path) -> NodeConfig {
    let mut config = NodeConfig::new(dir);
    config.transport = Transport::Tcp;
    config.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("a valid multiaddr")];
    config.mdns = false;
    // The blob request flood limit (100 a second per peer after a burst of
    // 1,000) would charge the fetching node after a few rounds: a measured
    // round asks 100 photos in well under a second. See BENCHMARKS.md.
    config.misbehaviour.flood.blob_requests_per_second = 100_000.0;
    config.misbehaviour.flood.blob_request_burst = 100_000.0;
    config
}

async fn listen_address(node: &Node) -> Multiaddr {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(a) = node.listen_addresses().await.expect("running").first() {
            return a.clone().with(Protocol::P2p(node.peer_id()));
        }
        assert!(Instant::now() < deadline, "no listen address");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A second handle on a node's blob store (same sled tree, same directory),
/// to arrange and clear its contents.
fn blob_store(node: &Node) -> BlobStore {
    node.store()
        .blobs(node.config().data_dir.blobs())
        .expect("blob store")
}

/// Reads every photo on `node`, `at_once` at a time; checks each one's size.
async fn fetch_all(node: &Node, hashes: &[BlobHash], at_once: usize) -> Duration {
    let start = Instant::now();
    futures::stream::iter(hashes.iter().copied())
        .map(|hash| async move {
            let bytes = match node.photo(hash, PhotoSize::Full).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    let metrics = node.metrics_text().await.unwrap_or_default();
                    let blobs: Vec<&str> = metrics
                        .lines()
                        .filter(|l| l.starts_with("swapmesh_blob"))
                        .collect();
                    panic!("photo: {e}; {blobs:#?}");
                }
            };
            assert_eq!(bytes.len(), PHOTO_BYTES);
        })
        .buffer_unordered(at_once)
        .collect::<Vec<()>>()
        .await;
    start.elapsed()
}

/// Removes what a round fetched.
fn clear(store: &BlobStore, hashes: &[BlobHash]) {
    for hash in hashes {
        assert!(store.remove(hash).expect("remove"), "a photo was not held");
    }
}

/// Sends `photos` on one loopback connection and reads them back into buffers;
/// with `dir`, each buffer is then written to a file there as the blob store
/// does (temp file, fsync, rename, directory fsync).
async fn plain_copy(photos: &[Vec<u8>], dir: Option<&Path>) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let sent: Vec<Vec<u8>> = photos.to_vec();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        socket.set_nodelay(true).expect("nodelay");
        for photo in &sent {
            socket
                .write_all(&(photo.len() as u32).to_be_bytes())
                .await
                .expect("write");
            socket.write_all(photo).await.expect("write");
        }
        socket.shutdown().await.expect("shutdown");
    });
    let start = Instant::now();
    let mut socket = TcpStream::connect(address).await.expect("connect");
    socket.set_nodelay(true).expect("nodelay");
    for n in 0..photos.len() {
        let mut len = [0; 4];
        socket.read_exact(&mut len).await.expect("read");
        let mut buf = vec![0; u32::from_be_bytes(len) as usize];
        socket.read_exact(&mut buf).await.expect("read");
        if let Some(dir) = dir {
            let dir = dir.to_owned();
            tokio::task::spawn_blocking(move || {
                let mut tmp = tempfile::NamedTempFile::new_in(&dir).expect("temp file");
                tmp.write_all(&buf).expect("write");
                tmp.as_file().sync_all().expect("fsync");
                tmp.persist(dir.join(format!("{n}"))).expect("rename");
                std::fs::File::open(&dir)
                    .and_then(|d| d.sync_all())
                    .expect("dir fsync");
            })
            .await
            .expect("file task");
        } else {
            assert_eq!(buf.len(), PHOTO_BYTES);
        }
    }
    let elapsed = start.elapsed();
    server.await.expect("server");
    elapsed
}

/// A 4,000 × 3,000 JPEG (quality 90) of a smooth pattern with noise: about
/// what a phone's 12-megapixel photo costs to decode and scale.
fn twelve_megapixels(seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let image = RgbImage::from_fn(4000, 3000, |x, y| {
        let noise = rng.gen_range(0..24u32);
        image::Rgb([
            ((x / 16 + noise) % 256) as u8,
            ((y / 12 + noise) % 256) as u8,
            (((x + y) / 28 + noise) % 256) as u8,
        ])
    });
    let mut out = Cursor::new(Vec::new());
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(image.as_raw(), 4000, 3000, image::ExtendedColorType::Rgb8)
        .expect("JPEG encodes");
    out.into_inner()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// MiB/s of the 100 photos in `d`.
fn rate(d: Duration) -> f64 {
    (PHOTOS * PHOTO_BYTES) as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

fn report(name: &str, samples: &mut [Duration]) -> Duration {
    let (min, max) = (
        *samples.iter().min().unwrap(),
        *samples.iter().max().unwrap(),
    );
    let median = median(samples);
    println!(
        "  {name:<22} median {:8.1} ms = {:7.1} MiB/s  (min {:.1}, max {:.1} ms)",
        ms(median),
        rate(median),
        ms(min),
        ms(max)
    );
    median
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rounds = env("SWAPMESH_BENCH_ROUNDS", 7);
    let uploads = env("SWAPMESH_BENCH_UPLOADS", 3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut rng = StdRng::seed_from_u64(19);
    let photos: Vec<Vec<u8>> = (0..PHOTOS)
        .map(|_| {
            let mut bytes = vec![0; PHOTO_BYTES];
            rng.fill_bytes(&mut bytes);
            bytes
        })
        .collect();
    let (mut sequential, mut concurrent, mut plain, mut plain_files) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut normalise = Vec::new();
    runtime.block_on(async {
        let holder_dir = tempfile::tempdir().expect("temp dir");
        let holder = Node::start(config(holder_dir.path()))
            .await
            .expect("holder starts");
        let held = blob_store(&holder);
        let hashes: Vec<BlobHash> = photos
            .iter()
            .map(|p| held.put(p, false).expect("put"))
            .collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let node = Node::start(config(dir.path())).await.expect("node starts");
        node.dial(listen_address(&holder).await)
            .await
            .expect("dial");
        let deadline = Instant::now() + LIMIT;
        while !node
            .peers()
            .await
            .expect("peers")
            .contains(&holder.peer_id())
        {
            assert!(Instant::now() < deadline, "no connection");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let fetched = blob_store(&node);
        let files = tempfile::tempdir().expect("temp dir");

        // One untimed round of each: warm the connection, the page cache and
        // the allocator.
        fetch_all(&node, &hashes, 1).await;
        clear(&fetched, &hashes);
        plain_copy(&photos, None).await;
        for n in 0..rounds {
            if n % 2 == 0 {
                plain.push(plain_copy(&photos, None).await);
                plain_files.push(plain_copy(&photos, Some(files.path())).await);
            }
            sequential.push(fetch_all(&node, &hashes, 1).await);
            clear(&fetched, &hashes);
            concurrent.push(fetch_all(&node, &hashes, CONCURRENT).await);
            clear(&fetched, &hashes);
            if n % 2 == 1 {
                plain_files.push(plain_copy(&photos, Some(files.path())).await);
                plain.push(plain_copy(&photos, None).await);
            }
        }

        for seed in 0..uploads as u64 {
            let upload = twelve_megapixels(seed);
            let start = Instant::now();
            let info = node.add_photo(upload).await.expect("upload");
            normalise.push(start.elapsed());
            assert_eq!((info.width, info.height), (1600, 1200));
            if seed == 0 {
                println!("a 12-megapixel upload normalises to {} bytes", info.bytes);
            }
        }
        node.shutdown().await.expect("shutdown");
        holder.shutdown().await.expect("shutdown");
    });
    println!(
        "{PHOTOS} photos of {} KiB, {rounds} rounds, 127.0.0.1:",
        PHOTO_BYTES / 1024
    );
    let plain = report("plain TCP", &mut plain);
    let plain_files = report("plain TCP + files", &mut plain_files);
    let sequential = report("nodes, one at a time", &mut sequential);
    let concurrent = report(&format!("nodes, {CONCURRENT} at a time"), &mut concurrent);
    println!(
        "  ratio nodes / plain TCP (medians): one at a time {:.2}, {CONCURRENT} at a time {:.2}",
        ms(plain) / ms(sequential),
        ms(plain) / ms(concurrent),
    );
    println!(
        "  ratio nodes / plain TCP + files (medians): one at a time {:.2}, {CONCURRENT} at a time {:.2}",
        ms(plain_files) / ms(sequential),
        ms(plain_files) / ms(concurrent),
    );
    let median = median(&mut normalise);
    println!(
        "normalising a 12-megapixel JPEG (Node::add_photo), {uploads} uploads: median {:.0} ms (min {:.0}, max {:.0})",
        ms(median),
        ms(*normalise.iter().min().unwrap()),
        ms(*normalise.iter().max().unwrap()),
    );
}
