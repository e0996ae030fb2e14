//! The raw peer's connection: what it sends, what it reads, and the
//! expectations that compare the two.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use ipnet::IpNet;
use proto::bgp::{Context, Message, Notification, Open, Update, frame_len};
use serde_json::json;

use super::{Options, Step, hex, number, say, wire};

/// Something that came from the speaker.
#[derive(Debug)]
pub(crate) enum Event {
    Open(Open),
    Keepalive,
    Update(Update),
    Notification(Notification),
    RouteRefresh,
    /// Bytes that did not decode; the stream is dead after them.
    Malformed(String),
    Closed,
}

impl Event {
    pub(crate) fn name(&self) -> String {
        match self {
            Event::Open(_) => "OPEN".into(),
            Event::Keepalive => "KEEPALIVE".into(),
            Event::Update(_) => "UPDATE".into(),
            Event::Notification(n) => {
                let (c, s) = n.error.codes();
                format!("NOTIFICATION {c}/{s} data {}", hex(&n.data))
            }
            Event::RouteRefresh => "ROUTE-REFRESH".into(),
            Event::Malformed(e) => format!("malformed message ({e})"),
            Event::Closed => "connection closed".into(),
        }
    }
}

pub(crate) struct Peer {
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    queue: VecDeque<Event>,
    local_open: Option<Open>,
    remote_open: Option<Open>,
    local_hold: u16,
    /// KEEPALIVE interval once our KEEPALIVE went out after the OPENs.
    keepalive_every: Option<Duration>,
    last_sent: Instant,
    timeout: Duration,
    updates: usize,
    /// `connect ... retry=` consumed the speaker's OPEN; the next
    /// expect-open takes it.
    open_arrived: bool,
    /// `keepalives off`: play a peer that stopped talking.
    silent: bool,
}

impl Peer {
    pub(crate) fn new() -> Self {
        Self {
            stream: None,
            buf: Vec::new(),
            queue: VecDeque::new(),
            local_open: None,
            remote_open: None,
            local_hold: 0,
            keepalive_every: None,
            last_sent: Instant::now(),
            timeout: Duration::from_secs(5),
            updates: 0,
            open_arrived: false,
            silent: false,
        }
    }

    pub(crate) fn run(&mut self, step: Step) -> Result<()> {
        match step {
            Step::Connect { to, from, retry } => self.connect(to, from, retry),
            Step::Listen(addr) => self.listen(addr),
            Step::Timeout(t) => {
                self.timeout = t;
                Ok(())
            }
            Step::Send(bytes) => self.send(&bytes),
            Step::SendOpen(opts) => self.send_open(&opts),
            Step::SendKeepalive => self.send_keepalive(),
            Step::SendUpdate(opts) => {
                let local_ip = match self.stream.as_ref().map(TcpStream::local_addr) {
                    Some(Ok(SocketAddr::V4(a))) => *a.ip(),
                    _ => Ipv4Addr::new(192, 0, 2, 2),
                };
                let local_as = self.local_open.as_ref().map_or(65002, Open::asn);
                let bytes = wire::update(&opts, &self.context(), local_ip, local_as)?;
                self.send(&bytes)
            }
            Step::WaitEstablished(opts) => {
                self.send_open(&opts)?;
                self.expect_open()?;
                self.send_keepalive()?;
                self.expect("KEEPALIVE", |e| matches!(e, Event::Keepalive))
            }
            Step::ExpectOpen => self.expect_open(),
            Step::ExpectKeepalive => self.expect("KEEPALIVE", |e| matches!(e, Event::Keepalive)),
            Step::ExpectNotification {
                code,
                subcode,
                data,
            } => self.expect_notification(code, subcode, data.as_deref()),
            Step::ExpectUpdate(opts) => self.expect_update(&opts),
            Step::ExpectUpdateCount(n) => self.expect_update_count(n),
            Step::ExpectQuiet(d) => self.expect_quiet(d),
            Step::ExpectClosed => self.expect("connection closed", |e| matches!(e, Event::Closed)),
            Step::Keepalives(on) => {
                self.silent = !on;
                Ok(())
            }
            Step::Sleep(d) => {
                let until = Instant::now() + d;
                while Instant::now() < until {
                    self.pump(until)?;
                }
                Ok(())
            }
            Step::Close => {
                self.reset_connection();
                say(json!({"event": "closed by us"}));
                Ok(())
            }
        }
    }

    fn reset_connection(&mut self) {
        if let Some(s) = self.stream.take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        self.buf.clear();
        self.queue.clear();
        self.local_open = None;
        self.remote_open = None;
        self.keepalive_every = None;
        self.updates = 0;
        self.open_arrived = false;
        self.silent = false;
    }

    fn connect(
        &mut self,
        to: SocketAddr,
        from: Option<IpAddr>,
        retry: Option<Duration>,
    ) -> Result<()> {
        let deadline = Instant::now() + retry.unwrap_or_default();
        let mut attempts = 0u32;
        loop {
            self.reset_connection();
            attempts += 1;
            let attempt = self.connect_once(to, from);
            if retry.is_none() {
                return attempt;
            }
            if attempt.is_ok() {
                // Wait for the speaker's OPEN: a speaker in Idle accepts
                // and closes at once.
                let until = (Instant::now() + Duration::from_secs(1)).min(deadline);
                match self.next_event(until)? {
                    Some(Event::Open(_)) => {
                        self.open_arrived = true;
                        say(json!({"event": "connected", "attempts": attempts}));
                        return Ok(());
                    }
                    Some(other) => say(json!({"event": "retrying", "after": other.name()})),
                    None => {}
                }
            }
            if Instant::now() >= deadline {
                let why = match attempt {
                    Err(e) => format!("{e:#}"),
                    Ok(()) => "closed before its OPEN".to_string(),
                };
                bail!("no OPEN from {to} after {attempts} attempts: {why}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn connect_once(&mut self, to: SocketAddr, from: Option<IpAddr>) -> Result<()> {
        use socket2::{Domain, Protocol, SockAddr, Socket, Type};
        let domain = if to.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        if let Some(ip) = from {
            socket
                .bind(&SockAddr::from(SocketAddr::new(ip, 0)))
                .with_context(|| format!("binding {ip}"))?;
        }
        socket
            .connect_timeout(&to.into(), Duration::from_secs(2))
            .with_context(|| format!("connecting to {to}"))?;
        let stream: TcpStream = socket.into();
        stream.set_nodelay(true)?;
        say(
            json!({"event": "tcp up", "local": stream.local_addr()?.to_string(), "remote": to.to_string()}),
        );
        self.stream = Some(stream);
        Ok(())
    }

    fn listen(&mut self, addr: SocketAddr) -> Result<()> {
        self.reset_connection();
        let listener = TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
        listener.set_nonblocking(true)?;
        let deadline = Instant::now() + self.timeout;
        loop {
            match listener.accept() {
                Ok((stream, remote)) => {
                    stream.set_nonblocking(false)?;
                    stream.set_nodelay(true)?;
                    say(json!({"event": "accepted", "remote": remote.to_string()}));
                    self.stream = Some(stream);
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    ensure!(Instant::now() < deadline, "no connection on {addr}");
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn stream(&mut self) -> Result<&mut TcpStream> {
        self.stream.as_mut().ok_or_else(|| anyhow!("not connected"))
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream()?
            .write_all(bytes)
            .context("writing to the speaker")?;
        self.last_sent = Instant::now();
        say(json!({"sent": hex(bytes)}));
        Ok(())
    }

    fn send_keepalive(&mut self) -> Result<()> {
        let ka = Message::Keepalive.to_bytes(&Context::default())?;
        self.send(&ka)?;
        if let (Some(_), Some(remote)) = (&self.local_open, &self.remote_open) {
            let hold = self.local_hold.min(remote.hold_time.seconds());
            self.keepalive_every =
                (hold > 0).then(|| Duration::from_secs(u64::from(hold / 3).max(1)));
        }
        Ok(())
    }

    fn send_open(&mut self, opts: &Options) -> Result<()> {
        let (bytes, open, hold) = wire::open(opts)?;
        self.send(&bytes)?;
        self.local_hold = hold;
        self.local_open = Some(open);
        Ok(())
    }

    fn context(&self) -> Context {
        match (&self.local_open, &self.remote_open) {
            (Some(local), Some(remote)) => Context::negotiate(local, remote, true),
            _ => Context::default(),
        }
    }

    /// Reads what arrives until `until` (at most), sending KEEPALIVEs as
    /// they fall due; queues every decoded message.
    fn pump(&mut self, until: Instant) -> Result<()> {
        let keepalive_every = self.keepalive_every.filter(|_| !self.silent);
        if let Some(every) = keepalive_every
            && self.stream.is_some()
            && self.last_sent.elapsed() >= every
        {
            self.send_keepalive()?;
        }
        let Some(stream) = self.stream.as_mut() else {
            std::thread::sleep(until.saturating_duration_since(Instant::now()));
            return Ok(());
        };
        let mut wait = until.saturating_duration_since(Instant::now());
        if let Some(every) = keepalive_every {
            wait = wait.min(every.saturating_sub(self.last_sent.elapsed()));
        }
        stream.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        let mut chunk = [0u8; 65536];
        match stream.read(&mut chunk) {
            Ok(0) => self.closed(None),
            Ok(n) => {
                self.buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default());
                self.frames();
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => self.closed(Some(e.to_string())),
        }
        Ok(())
    }

    fn closed(&mut self, error: Option<String>) {
        match error {
            Some(e) => say(json!({"recv": "closed", "reason": e})),
            None => say(json!({"recv": "closed"})),
        }
        self.stream = None;
        self.keepalive_every = None;
        self.queue.push_back(Event::Closed);
    }

    /// Decodes every complete message in the buffer.
    fn frames(&mut self) {
        loop {
            let len = match frame_len(&self.buf, u16::MAX) {
                Ok(Some(len)) => len,
                Ok(None) => return,
                Err(e) => {
                    self.malformed(format!("{e}"), self.buf.clone());
                    return;
                }
            };
            let frame: Vec<u8> = self.buf.drain(..len).collect();
            match Message::decode(&frame, &self.context()) {
                Ok(d) => {
                    let (line, event) = wire::describe(d.message, &self.context());
                    say(line);
                    if let Event::Open(o) = &event {
                        self.remote_open = Some(o.clone());
                    }
                    if matches!(event, Event::Update(_)) {
                        self.updates += 1;
                    }
                    self.queue.push_back(event);
                }
                Err(e) => {
                    self.malformed(format!("{e}"), frame);
                    return;
                }
            }
        }
    }

    fn malformed(&mut self, error: String, bytes: Vec<u8>) {
        say(json!({"recv": "malformed", "error": error, "hex": hex(&bytes)}));
        self.buf.clear();
        self.queue.push_back(Event::Malformed(error));
    }

    fn next_event(&mut self, until: Instant) -> Result<Option<Event>> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Ok(Some(e));
            }
            if Instant::now() >= until {
                return Ok(None);
            }
            self.pump(until)?;
        }
    }

    /// The speaker's OPEN; already there if `connect ... retry=` waited
    /// for it.
    fn expect_open(&mut self) -> Result<()> {
        if std::mem::take(&mut self.open_arrived) {
            return Ok(());
        }
        self.expect("OPEN", |e| matches!(e, Event::Open(_)))
    }

    /// Waits for the first event that is neither a KEEPALIVE nor an UPDATE
    /// (unless `want` takes it) and checks it.
    fn expect(&mut self, what: &str, want: impl Fn(&Event) -> bool) -> Result<()> {
        let until = Instant::now() + self.timeout;
        loop {
            let Some(e) = self.next_event(until)? else {
                bail!(
                    "expected {what}, got nothing in {} ms",
                    self.timeout.as_millis()
                );
            };
            if want(&e) {
                return Ok(());
            }
            if !matches!(e, Event::Keepalive | Event::Update(_)) {
                bail!("expected {what}, got {}", e.name());
            }
        }
    }

    fn expect_notification(&mut self, code: u8, subcode: u8, data: Option<&[u8]>) -> Result<()> {
        let until = Instant::now() + self.timeout;
        loop {
            let Some(e) = self.next_event(until)? else {
                bail!("expected NOTIFICATION {code}/{subcode}, got nothing");
            };
            match e {
                Event::Keepalive | Event::Update(_) => {}
                Event::Notification(n) => {
                    ensure!(
                        n.error.codes() == (code, subcode),
                        "expected NOTIFICATION {code}/{subcode}, got {}",
                        Event::Notification(n).name()
                    );
                    if let Some(d) = data {
                        ensure!(
                            n.data == d,
                            "NOTIFICATION {code}/{subcode}: data {} where {} was expected",
                            hex(&n.data),
                            hex(d)
                        );
                    }
                    return Ok(());
                }
                other => bail!(
                    "expected NOTIFICATION {code}/{subcode}, got {}",
                    other.name()
                ),
            }
        }
    }

    fn expect_update(&mut self, opts: &Options) -> Result<()> {
        let announce = opts.get("announce").map(str::parse::<IpNet>).transpose()?;
        let withdraw = opts.get("withdraw").map(str::parse::<IpNet>).transpose()?;
        let code: Option<u8> = opts.get("attr").map(number).transpose()?;
        let absent: Option<u8> = opts.get("no-attr").map(number).transpose()?;
        let flags: Option<u8> = opts
            .get("flags")
            .map(|f| u8::from_str_radix(f.trim_start_matches("0x"), 16))
            .transpose()?;
        let until = Instant::now() + self.timeout;
        let mut skipped = 0;
        loop {
            let Some(e) = self.next_event(until)? else {
                bail!("expected an UPDATE, got none that matches ({skipped} others)");
            };
            let u = match e {
                Event::Keepalive => continue,
                Event::Update(u) => u,
                other => bail!("expected an UPDATE, got {}", other.name()),
            };
            let (ann, wd) = wire::prefixes(&u);
            let attribute = code.map(|c| u.attributes.iter().find(|a| a.type_code() == c));
            if announce.is_some_and(|p| !ann.contains(&p))
                || withdraw.is_some_and(|p| !wd.contains(&p))
                || attribute.is_some_and(|a| a.is_none())
            {
                skipped += 1;
                continue;
            }
            if let (Some(Some(a)), Some(f)) = (attribute, flags) {
                // Extended Length is the sender's choice.
                ensure!(
                    a.flags & !0x10 == f & !0x10,
                    "attribute {} has flags {:#04x}, not {f:#04x}",
                    a.type_code(),
                    a.flags
                );
            }
            if let Some(c) = absent {
                let found = u.attributes.iter().any(|a| a.type_code() == c);
                ensure!(!found, "the UPDATE carries attribute {c}");
            }
            return Ok(());
        }
    }

    fn expect_update_count(&mut self, n: usize) -> Result<()> {
        let until = Instant::now() + self.timeout;
        while self.updates < n && Instant::now() < until {
            self.pump(until)?;
        }
        self.drain_harmless()?;
        ensure!(
            self.updates == n,
            "{} UPDATEs received, {n} expected",
            self.updates
        );
        Ok(())
    }

    fn expect_quiet(&mut self, d: Duration) -> Result<()> {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.pump(until)?;
            self.drain_harmless()?;
        }
        Ok(())
    }

    /// Drops queued KEEPALIVEs and UPDATEs; fails on anything else.
    fn drain_harmless(&mut self) -> Result<()> {
        while let Some(e) = self.queue.pop_front() {
            if !matches!(e, Event::Keepalive | Event::Update(_)) {
                bail!("unexpected {}", e.name());
            }
        }
        Ok(())
    }
}
