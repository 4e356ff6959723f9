//! The server under test: a child process running the release `skybridge serve`, its token, its memory.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// How often `/readyz` is polled while the server starts.
const READY_POLL: Duration = Duration::from_millis(5);
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const TOKEN_LINE: &str = "API token: ";
const STDERR_TAIL: usize = 40;

pub struct Server {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// The first partner administrator's API token, printed on first start.
    pub token: String,
    /// From spawning the process to the first 200 from `/readyz`.
    pub start_to_ready: Duration,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

/// A port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Reads a child's output line by line until it closes, so that the pipe never fills and blocks the server.
/// `on_line` sees every line.
fn drain<R: AsyncRead + Unpin + Send + 'static>(
    out: R,
    mut on_line: impl FnMut(String) + Send + 'static,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(out).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            on_line(line);
        }
    });
}

impl Server {
    /// Starts `bin serve` on a free port over `data_dir` (SQLite) or `database_url` (PostgreSQL) and waits
    /// until it is ready. `config`, when given, is TOML written to `data_dir/bench.toml` and passed with
    /// `--config`: settings the suite needs beyond the defaults.
    pub async fn start(
        bin: &Path,
        data_dir: &Path,
        database_url: Option<&str>,
        config: Option<&str>,
        http: &reqwest::Client,
    ) -> anyhow::Result<Server> {
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir);
        if let Some(url) = database_url {
            cmd.arg("--database-url").arg(url);
        }
        if let Some(toml) = config {
            let path = data_dir.join("bench.toml");
            std::fs::write(&path, toml).with_context(|| format!("writing {}", path.display()))?;
            cmd.arg("--config").arg(path);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);

        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child.id().context("server exited at once")?;

        let (token_tx, token_rx) = oneshot::channel::<String>();
        let mut token_tx = Some(token_tx);
        let stdout = child.stdout.take().context("no stdout")?;
        drain(stdout, move |line| {
            if let Some(t) = line.strip_prefix(TOKEN_LINE)
                && let Some(tx) = token_tx.take()
            {
                let _ = tx.send(t.trim().to_string());
            }
        });
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr_tail.clone();
        let stderr = child.stderr.take().context("no stderr")?;
        drain(stderr, move |line| {
            if let Ok(mut t) = tail.lock() {
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });

        let ready_url = format!("{base}/readyz");
        let start_to_ready = loop {
            if let Ok(r) = http.get(&ready_url).send().await
                && r.status() == reqwest::StatusCode::OK
            {
                break started.elapsed();
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "server exited before it was ready ({status}):\n{}",
                    tail_text(&stderr_tail)
                );
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!(
                    "server not ready after {READY_TIMEOUT:?}:\n{}",
                    tail_text(&stderr_tail)
                );
            }
            tokio::time::sleep(READY_POLL).await;
        };
        let token = tokio::time::timeout(Duration::from_secs(10), token_rx)
            .await
            .context("no `API token:` line on the server's stdout (not a first start?)")?
            .context("server closed stdout before printing its token")?;
        Ok(Server {
            child,
            pid,
            base,
            token,
            start_to_ready,
            stderr_tail,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Resident set size now, in bytes.
    pub fn rss(&self) -> anyhow::Result<u64> {
        proc_status_kb(self.pid, "VmRSS:").map(|kb| kb * 1024)
    }

    /// Peak resident set size since start, in bytes.
    pub fn hwm(&self) -> anyhow::Result<u64> {
        proc_status_kb(self.pid, "VmHWM:").map(|kb| kb * 1024)
    }

    /// Fails with the server's last log lines if it has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "server exited ({status}):\n{}",
                tail_text(&self.stderr_tail)
            );
        }
        Ok(())
    }

    /// SIGTERM, then waits up to 10 s for a graceful exit before killing it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await
            .map(|s| s.success())
            .unwrap_or(false);
        if sent
            && let Ok(waited) =
                tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await
        {
            waited?;
            return Ok(());
        }
        self.child.kill().await?;
        Ok(())
    }
}

fn tail_text(tail: &Mutex<VecDeque<String>>) -> String {
    tail.lock()
        .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// A `kB` field of `/proc/<pid>/status`, e.g. `VmRSS:`.
pub fn proc_status_kb(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    let kb = line
        .trim_start_matches(field)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("unreadable {line:?}"))?;
    Ok(kb)
}

/// CPU time (user + system) the process has used, in seconds, from `/proc/<pid>/stat` (clock ticks of
/// 1/100 s, Linux's USER_HZ).
pub fn cpu_secs(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name is in parentheses and may hold spaces; the numeric fields follow the last `)`.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unreadable /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .context("short /proc/<pid>/stat")?
            .parse::<u64>()
            .context("unreadable /proc/<pid>/stat field")
    };
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the command name.
    Ok((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// The server's RSS sampled every `every`, for its maximum, until finished.
pub struct Sampler {
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

impl Sampler {
    pub fn start(pid: u32, start: u64, every: std::time::Duration) -> Sampler {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let peak = std::sync::Arc::new(AtomicU64::new(start));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let task = {
            let (peak, stop) = (peak.clone(), stop.clone());
            tokio::spawn(async move {
                let mut samples = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(kb) = proc_status_kb(pid, "VmRSS:") {
                        peak.fetch_max(kb * 1024, Ordering::Relaxed);
                        samples += 1;
                    }
                    tokio::time::sleep(every).await;
                }
                samples
            })
        };
        Sampler { peak, stop, task }
    }

    /// Counts a reading taken elsewhere towards the maximum.
    pub fn see(&self, rss: u64) {
        self.peak
            .fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stops sampling: the maximum seen and the number of samples.
    pub async fn finish(self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.task.await.unwrap_or(0);
        (self.peak.load(Ordering::Relaxed), samples)
    }
}
