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
    reader: JoinHandle<()>,
    writer_task: JoinHandle<()>,
}

/// Messages queued toward one connection before the owner stops feeding it.
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
            reader,
            writer_task,
        })
    }

    /// Queues encoded bytes. Returns false when the writer is gone or the
    /// queue is full (the peer stopped reading): the owner closes then.
    pub fn send(&self, bytes: Vec<u8>) -> bool {
        self.writer.try_send(bytes).is_ok()
    }

    /// Waits for room in the queue, for bulk sends such as a table dump.
    pub async fn send_wait(&self, bytes: Vec<u8>) -> bool {
        self.writer.send(bytes).await.is_ok()
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
    while let Some(first) = rx.recv().await {
        batch.clear();
        batch.extend_from_slice(&first);
        while batch.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if let Err(e) = write.write_all(&batch).await {
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
