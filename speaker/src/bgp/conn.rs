//! The I/O of one BGP connection: a reader task that frames and decodes,
//! and a writer task that batches writes. Both are thin: every decision is
//! the owner's, reached over bounded channels.
//!
//! ```text
//!  TcpStream --read--> reader task --Framer--> ConnEvent::Input ----> owner
//!  TcpStream <-write-- writer task <--Vec<u8> (encoded messages) ---- owner
//! ```
//!
//! A full channel to the owner stops the reader, and TCP flow control then
//! slows the peer: memory stays bounded under any feed rate.

use std::net::SocketAddr;

use proto::bgp::Open;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::collision::ConnId;
use super::event::Input;
use super::framer::Framer;

/// What a connection's tasks tell the owner.
#[derive(Debug)]
pub enum ConnEvent {
    /// A decoded message or a decode error, as an FSM input.
    Input {
        peer: usize,
        conn: ConnId,
        input: Box<Input>,
    },
    /// The connection is gone (end of stream, read or write error).
    Closed {
        peer: usize,
        conn: ConnId,
        error: Option<String>,
    },
}

/// The owner's side of a live connection.
#[derive(Debug)]
pub struct ConnIo {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    writer: mpsc::Sender<Vec<u8>>,
    /// Messages of this turn, sent as one write when the turn ends.
    outbox: Vec<u8>,
    reader: JoinHandle<()>,
    writer_task: JoinHandle<()>,
}

/// Turns' worth of output queued toward one connection before the owner
/// gives up on a peer that does not read.
const WRITE_QUEUE: usize = 1024;

impl ConnIo {
    /// Starts the reader and writer tasks for `stream`.
    pub fn start(
        stream: TcpStream,
        peer: usize,
        conn: ConnId,
        local_open: Open,
        external: bool,
        events: mpsc::Sender<ConnEvent>,
    ) -> std::io::Result<Self> {
        let local = stream.local_addr()?;
        let remote = stream.peer_addr()?;
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let framer = Framer::new(local_open, external);
        let reader = tokio::spawn(read_loop(read, framer, peer, conn, events.clone()));
        let writer_task = tokio::spawn(write_loop(write, rx, peer, conn, events));
        Ok(Self {
            local,
            remote,
            writer: tx,
            outbox: Vec::new(),
            reader,
            writer_task,
        })
    }

    /// The buffer this turn's encoded messages are appended to.
    pub fn outbox(&mut self) -> &mut Vec<u8> {
        &mut self.outbox
    }

    /// Hands this turn's messages to the writer task as one buffer.
    /// Returns false when the writer is gone or its queue is full (the peer
    /// stopped reading for [`WRITE_QUEUE`] turns): the owner closes then.
    pub fn flush(&mut self) -> bool {
        if self.outbox.is_empty() {
            return true;
        }
        let bytes = std::mem::take(&mut self.outbox);
        self.writer.try_send(bytes).is_ok()
    }
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        // The writer drains what is queued (a NOTIFICATION) and then exits
        // when the sender is dropped; the reader is stopped at once.
        self.reader.abort();
        let _ = &self.writer_task;
    }
}

async fn read_loop(
    mut read: OwnedReadHalf,
    mut framer: Framer,
    peer: usize,
    conn: ConnId,
    events: mpsc::Sender<ConnEvent>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let error = loop {
        let n = match read.read(&mut buf).await {
            Ok(0) => break None,
            Ok(n) => n,
            Err(e) => break Some(e.to_string()),
        };
        framer.push(buf.get(..n).unwrap_or_default());
        while let Some(decoded) = framer.next_message() {
            let failed = decoded.is_err();
            let input = Box::new(Input::from(decoded));
            if events
                .send(ConnEvent::Input { peer, conn, input })
                .await
                .is_err()
            {
                return;
            }
            if failed {
                // The stream is out of sync; the owner sends the
                // NOTIFICATION and closes.
                return;
            }
        }
    };
    let _ = events.send(ConnEvent::Closed { peer, conn, error }).await;
}

async fn write_loop(
    mut write: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
    peer: usize,
    conn: ConnId,
    events: mpsc::Sender<ConnEvent>,
) {
    let mut batch = Vec::with_capacity(64 * 1024);
    while let Some(mut first) = rx.recv().await {
        // Small buffers queued behind this one go out in the same write.
        while first.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(more) => {
                    batch.clear();
                    batch.append(&mut first);
                    batch.extend_from_slice(&more);
                    std::mem::swap(&mut first, &mut batch);
                }
                Err(_) => break,
            }
        }
        if let Err(e) = write.write_all(&first).await {
            let _ = events
                .send(ConnEvent::Closed {
                    peer,
                    conn,
                    error: Some(e.to_string()),
                })
                .await;
            return;
        }
    }
    let _ = write.shutdown().await;
}
