//! Real receivers on 127.0.0.1 for the notification tests: a webhook endpoint
//! (HTTP/1.1) and an SMTP server, each on its own thread, recording what
//! arrives.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One HTTP request as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
    /// Whether the receiver answered 2xx.
    pub accepted: bool,
    pub at: Instant,
}

/// What a stub answers: status, extra headers, body.
pub type Answer = (u16, Vec<(String, String)>, String);
type Handler = dyn Fn(&Delivery, usize) -> Answer + Send + Sync;

/// A small HTTP/1.1 server that records every request and answers each with
/// `handler(request, how many came before it)`.
pub struct HttpStub {
    /// `http://127.0.0.1:port`, no trailing slash.
    pub base: String,
    received: Arc<Mutex<Vec<Delivery>>>,
}

impl HttpStub {
    pub fn start(handler: impl Fn(&Delivery, usize) -> Answer + Send + Sync + 'static) -> HttpStub {
        Self::start_on("127.0.0.1:0", handler)
    }

    /// The same on another loopback address, e.g. `[::1]:0`.
    pub fn start_on(
        address: &str,
        handler: impl Fn(&Delivery, usize) -> Answer + Send + Sync + 'static,
    ) -> HttpStub {
        let listener = TcpListener::bind(address).expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (handler, log) = (Arc::clone(&handler), Arc::clone(&log));
                std::thread::spawn(move || serve_http(stream, &*handler, &log));
            }
        });
        HttpStub { base, received }
    }

    /// `host:port`, as a grant or allow-list names it.
    pub fn authority(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    pub fn received(&self) -> Vec<Delivery> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until a request satisfies `found`.
    pub fn wait_for(&self, what: &str, found: impl Fn(&Delivery) -> bool) -> Delivery {
        wait(what, || self.received().into_iter().find(|d| found(d)))
    }
}

/// Accepts webhooks at `/hook`, or (while `failing`) answers 500.
pub struct WebhookReceiver {
    pub url: String,
    pub failing: Arc<AtomicBool>,
    stub: HttpStub,
}

impl WebhookReceiver {
    pub fn start() -> WebhookReceiver {
        let failing = Arc::new(AtomicBool::new(false));
        let fail = Arc::clone(&failing);
        let stub = HttpStub::start(move |_, _| {
            let status = if fail.load(Ordering::SeqCst) {
                500
            } else {
                200
            };
            (status, Vec::new(), String::new())
        });
        WebhookReceiver {
            url: format!("{}/hook", stub.base),
            failing,
            stub,
        }
    }

    pub fn received(&self) -> Vec<Delivery> {
        self.stub.received()
    }

    /// Waits until a delivery satisfies `found`.
    pub fn wait_for(&self, what: &str, found: impl Fn(&Delivery) -> bool) -> Delivery {
        self.stub.wait_for(what, found)
    }
}

fn serve_http(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Delivery>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let body = if headers
            .get("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            match read_chunked(&mut reader) {
                Some(body) => body,
                None => return,
            }
        } else {
            let length: usize = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            body
        };
        let mut delivery = Delivery {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            accepted: false,
            at: Instant::now(),
        };
        let before = log.lock().expect("lock").len();
        let (status, extra, text) = handler(&delivery, before);
        delivery.accepted = (200..300).contains(&status);
        log.lock().expect("lock").push(delivery);
        let mut answer = format!(
            "HTTP/1.1 {status} Stub\r\ncontent-length: {}\r\n",
            text.len()
        );
        for (name, value) in extra {
            answer.push_str(&format!("{name}: {value}\r\n"));
        }
        answer.push_str("\r\n");
        answer.push_str(&text);
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A chunked request body.
fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// One email as received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body, with quoted-printable soft breaks undone.
    pub data: String,
}

/// A minimal SMTP server (no TLS, no auth).
pub struct SmtpReceiver {
    pub port: u16,
    received: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpReceiver {
    pub fn start() -> SmtpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve_smtp(stream, &log));
            }
        });
        SmtpReceiver { port, received }
    }

    pub fn received(&self) -> Vec<Mail> {
        self.received.lock().expect("lock").clone()
    }

    pub fn wait_for(&self, what: &str, found: impl Fn(&Mail) -> bool) -> Mail {
        wait(what, || self.received().into_iter().find(|m| found(m)))
    }
}

fn serve_smtp(stream: TcpStream, log: &Mutex<Vec<Mail>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut say = |text: &str| writer.write_all(format!("{text}\r\n").as_bytes()).is_ok();
    if !say("220 receiver ESMTP") {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let ok = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            say("250-receiver") && say("250 8BITMIME")
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().to_owned();
            say("250 OK")
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().trim_matches(['<', '>']).to_owned());
            say("250 OK")
        } else if upper == "DATA" {
            if !say("354 go ahead") {
                return;
            }
            let mut data = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            let data = data.replace("=\r\n", "").replace("=3D", "=");
            log.lock().expect("lock").push(Mail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            say("250 queued")
        } else if upper == "QUIT" {
            let _ = say("221 bye");
            return;
        } else {
            say("250 OK")
        };
        if !ok {
            return;
        }
    }
}

fn wait<T>(what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = found() {
            return found;
        }
        assert!(Instant::now() < deadline, "never received: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
