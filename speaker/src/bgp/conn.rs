//! The I/O of one BGP connection: a reader task that frames and decodes,
//! and a writer task that batches writes. Both are thin: every decision is
//! the owner's, reached over bounded channels.
//!
//! ```text
//!  TcpStream --read--> reader task --Framer--> ConnEvent::Input ----> owner
//!  TcpStream <-write-- writer task <--Vec<u8> (encoded messages) ---- owner
//!      ^                                                               |
//!      '------------- try_write, when the writer has nothing queued ---'
//! ```
//!
//! A full channel to the owner stops the reader, and TCP flow control then
//! slows the peer: memory stays bounded under any feed rate. An UPDATE the
//! owner sends while the writer task is idle goes straight to the socket
//! (non-blocking), saving a task wake-up on the event-to-wire path; what
//! does not fit, and everything after it until the writer catches up, goes
//! through the writer task, so bytes never overtake each other.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proto::bgp::Open;
use tokio::io::AsyncReadExt;
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
    socket: Arc<OwnedWriteHalf>,
    /// Messages handed to the writer task and not yet written.
    queued: Arc<AtomicUsize>,
    /// Messages of this turn, sent as one write when the turn ends.
    outbox: Vec<u8>,
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
        let socket = Arc::new(write);
        let queued = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let framer = Framer::new(local_open, external);
        let reader = tokio::spawn(read_loop(read, framer, peer, conn, events.clone()));
        let writer = Writer {
            socket: Arc::clone(&socket),
            queued: Arc::clone(&queued),
            peer,
            conn,
        };
        let writer_task = tokio::spawn(writer.run(rx, events));
        Ok(Self {
            local,
            remote,
            writer: tx,
            socket,
            queued,
            outbox: Vec::new(),
            reader,
            writer_task,
        })
    }

    /// The buffer this turn's encoded messages are appended to.
    pub fn outbox(&mut self) -> &mut Vec<u8> {
        &mut self.outbox
    }

    /// Sends this turn's messages as one buffer (see [`ConnIo::send`]).
    /// Returns false when the peer stopped reading: the owner closes then.
    pub fn flush(&mut self) -> bool {
        if self.outbox.is_empty() {
            return true;
        }
        let bytes = std::mem::take(&mut self.outbox);
        self.send(bytes)
    }

    /// Sends encoded bytes: straight to the socket if the writer task has
    /// nothing queued and the socket takes them all, else through the
    /// writer task. Returns false when the writer is gone or its queue is
    /// full (the peer stopped reading): the owner closes then.
    pub fn send(&self, mut bytes: Vec<u8>) -> bool {
        // Zero: the writer has written everything it was given, so these
        // bytes cannot overtake any.
        if self.queued.load(Ordering::Acquire) == 0 {
            match self.socket.try_write(&bytes) {
                Ok(n) if n == bytes.len() => return true,
                Ok(n) => drop(bytes.drain(..n)),
                // Full socket buffer: the writer waits for room. Any other
                // error: the writer meets it too and reports the close.
                Err(_) => {}
            }
        }
        self.queue(bytes)
    }

    fn queue(&self, bytes: Vec<u8>) -> bool {
        self.queued.fetch_add(1, Ordering::AcqRel);
        if self.writer.try_send(bytes).is_err() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Waits for room in the queue, for bulk sends such as a table dump.
    pub async fn send_wait(&self, bytes: Vec<u8>) -> bool {
        self.queued.fetch_add(1, Ordering::AcqRel);
        let sent = self.writer.send(bytes).await.is_ok();
        if !sent {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
        sent
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

/// The writer task's side: the socket shared with [`ConnIo::send`].
struct Writer {
    socket: Arc<OwnedWriteHalf>,
    queued: Arc<AtomicUsize>,
    peer: usize,
    conn: ConnId,
}

impl Writer {
    /// Writes what is queued, in batches. When the owner's handle is gone
    /// and the queue is drained, the last reference to the write half
    /// drops, which shuts its direction down (FIN).
    async fn run(self, mut rx: mpsc::Receiver<Vec<u8>>, events: mpsc::Sender<ConnEvent>) {
        let mut batch = Vec::with_capacity(64 * 1024);
        while let Some(first) = rx.recv().await {
            batch.clear();
            batch.extend_from_slice(&first);
            let mut messages = 1;
            while batch.len() < 256 * 1024 {
                match rx.try_recv() {
                    Ok(more) => {
                        batch.extend_from_slice(&more);
                        messages += 1;
                    }
                    Err(_) => break,
                }
            }
            if let Err(e) = self.write_all(&batch).await {
                let _ = events
                    .send(ConnEvent::Closed {
                        peer: self.peer,
                        conn: self.conn,
                        error: Some(e.to_string()),
                    })
                    .await;
                return;
            }
            self.queued.fetch_sub(messages, Ordering::AcqRel);
        }
    }

    async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            self.socket.writable().await?;
            match self.socket.try_write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = buf.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
