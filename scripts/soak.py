"""The multi-node soak (issue 16): several `bwv serve` nodes and `bwv worker`s on one PostgreSQL
catalogue, one S3 bucket with Object Lock and one data directory, uploaded to by 30 docks while
processes are SIGKILLed and links to PostgreSQL and S3 are slowed, cut and paused. Then every
process is stopped and started once more, and the soak checks what must hold whatever happened:

1. every upload the server acknowledged is stored exactly once, with the right SHA-256;
2. every media job ran to completion exactly once (one `media_processed` record per clip);
3. no upload is left locked once the tus leases (20 s) have run out;
4. `bwv fsck` passes with no unreferenced objects, and `bwv audit verify` passes (every signed
   checkpoint a prefix of the one log: the checkpoints form one consistent chain);
5. lost (acknowledged but not stored) = 0 and duplicates (stored more than once) = 0.

It prints one summary line and exits non-zero if any check failed, if the harness itself failed,
or if nothing was acknowledged at all.

    .venv/bin/python scripts/soak.py --minutes 2 --bwv target/release/bwv [--workdir DIR] [--keep]

(`scripts/soak` installs what is missing, builds bwv and runs this.) Everything listens on
127.0.0.1 only:

- PostgreSQL on 5432 (user postgres, trust), in a fresh database `bwv_soak_<pid>`, and moto
  (`.venv/bin/moto_server`) as the S3 server, with a bucket created with Object Lock.
- A fault proxy in front of each (asyncio, in a child process so it forwards whatever this one is
  doing): per-chunk latency, every connection dropped at once, or a pause (nothing forwarded,
  sockets kept open). bwv is pointed at the proxies only; the soak's own setup and checks go
  straight to PostgreSQL and moto.
- 3 `bwv serve --no-workers` nodes and 2 `bwv worker`s, one TOML file for all (written here, with
  a short tus expiry, checkpoint interval, job lease and retry backoff, so that each happens
  within minutes), one data directory. Each process logs to <workdir>/logs/.
- 30 docks, each its own officer and camera: 10 Axis controllers (python-swiftclient: a user
  registered by UUID, a recording container, clips, a bookmark, `Status: Complete`), 10 tuspy
  docks and 10 tus-js-client docks (tests/soak/tus_dock.mjs, one Node process for the ten). Each
  upload is a real MP4 clip (made once with ffmpeg) with a top-level `free` box appended holding a
  unique id and padding (2-30 MiB, or up to --max-mib), so every upload is a distinct, valid, cheap-to-process file
  whose SHA-256 identifies it. Each upload starts on a live node; when a request fails (refused
  or reset connection, 5xx, 423, 429, 409, 460; for Axis and tus-js-client docks also no answer
  for 30 s, while the node left behind may still be finishing it) the dock moves to the next node
  and resumes there (tus: the same upload URL on the other node; Swift: the same request, same
  bytes).
- A chaos loop: every 15-30 s a random node or worker is SIGKILLed and restarted 1-3 s later;
  every 10-20 s the PostgreSQL or the S3 link gets 100-300 ms of latency for 5 s, loses every
  connection, or pauses for 3-8 s.

An upload counts as acknowledged only when the server said so: tus, the final PATCH answering 204
with `Bwv-Recording-Id` (or a HEAD with Upload-Offset = Upload-Length and that header); Axis, 201
to the clip's PUT and then 2xx to the container's `Status: Complete`. Each is written to
<workdir>/acknowledged.jsonl.

moto (5.2) and the S3 calls the soak makes bwv use: GetObjectLockConfiguration,
GetBucketVersioning, HeadBucket, HeadObject, GetObject, PutObject, PutObjectRetention, multipart
uploads (Create, UploadPart, Complete) and ListObjectsV2 (fsck) all work, and moto enforces Object
Lock (deleting a locked version is refused). What moto lacks: it does not verify the
x-amz-checksum-sha256 a client sends (a PUT or a part whose bytes do not match it is stored
anyway), it does not check request signatures, and it keeps objects only as long as its process
(so the bucket does not outlive a run), each in a temporary file it holds open and keeps in memory
up to 5 MiB (the soak makes it spill to disk, in <workdir>/moto-objects, from 64 KiB, and raises
the open-file limit). The soak scans moto's request log at the end and names any call it answered
with a 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import ctypes
import dataclasses
import hashlib
import json
import multiprocessing
import os
import queue
import random
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from swiftclient import client as swift
from swiftclient.exceptions import ClientException
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError

ROOT = Path(__file__).resolve().parent.parent
NODES, WORKERS, DOCKS_PER_KIND = 3, 2, 10
MIB = 1 << 20
# bwv's tus lease (src/ingest/tus.rs LEASE): a node that dies holds its upload this long at most.
TUS_LEASE_SECS = 20
# Settings the soak gives bwv so that expiry, job leases and retries all happen within minutes.
TUS_EXPIRY_SECS = 60
JOB_LEASE_SECS = 30
SHUTDOWN_GRACE_SECS = 10
# One upload in this many is left half-way (a camera taken off its dock), to expire.
ABANDON_ONE_IN = 20
# A dock gives an upload up after failing for this long (it is then never acknowledged).
GIVE_UP_SECS = 300
# Axis and tus-js-client docks give up a request that sends and hears nothing for this long and
# go to the next node, while the node they leave may still be finishing it (tuspy docks wait).
IDLE_SECS = 30
# At the end: how long docks may finish their uploads in flight, and how long the job queue may
# go without shrinking (a long soak leaves a backlog that takes its time; a stuck queue fails).
WIND_DOWN_SECS = 60
PSQL_ATTEMPTS = 3
DRAIN_STALL_SECS = 180
# Answers after which the same upload cannot go on: refused, or gone.
FATAL = {400, 401, 403, 404, 410, 413, 422}
STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"soak [{time.monotonic() - STARTED:7.1f}s] {message}", flush=True)


class SoakError(Exception):
    """The harness could not do what it needed (not a finding about bwv)."""


class Halted(Exception):
    """The soak is ending: the dock stops where it is."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def on_signal(signum, _frame) -> None:
    """SIGTERM and SIGHUP end the soak as Ctrl-C does: every child is killed on the way out."""
    sys.exit(128 + signum)


def wait_for(predicate, timeout: float, what: str, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SoakError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def on_node(url: str, node: str) -> str:
    """The same URL on another serve node: every node serves every upload and every account."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=urlsplit(node).netloc))


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- Child processes ------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Runs in a child before exec: the kernel SIGKILLs it when this script dies, however it
    dies. (Tied to the thread that started the child: only the main thread starts them.)"""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Children:
    """Every long-lived child, so that each is killed however the soak ends (atexit, signals)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def spawn(self, argv: list[str], log_path: Path, **kw) -> subprocess.Popen:
        with open(log_path, "ab") as out:
            out.write(f"=== {datetime.now().isoformat()} {' '.join(map(str, argv))}\n".encode())
            out.flush()
            kw.setdefault("stdout", out)
            proc = subprocess.Popen(argv, stderr=out, preexec_fn=die_with_parent, **kw)
        self.procs.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


CHILDREN = Children()
atexit.register(CHILDREN.kill_all)


def bwv_env() -> dict[str, str]:
    """The environment for bwv: the config file says everything, so no stray BWV_* setting of
    the caller's may change it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BWV_", "AWS_"))}
    env.update(BWV_LOG="info", NO_COLOR="1")
    return env


class BwvProcess:
    """One `bwv serve` node or `bwv worker`: started, SIGKILLed and restarted by the chaos loop."""

    def __init__(self, name: str, argv: list[str], log_path: Path, url: str | None = None):
        self.name, self.argv, self.log_path, self.url = name, argv, log_path, url
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = CHILDREN.spawn(self.argv, self.log_path, env=bwv_env(), stdin=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def signal_stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float) -> int | None:
        """The exit status after SIGTERM, or None when it had to be killed."""
        if self.proc is None:
            return 0
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None

    def ready(self) -> bool:
        if not self.alive():
            raise SoakError(f"{self.name} exited with {self.proc.returncode}:\n{tail(self.log_path)}")
        if self.url is None:
            return True
        try:
            return requests.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False


# --- Fault proxy ----------------------------------------------------------------------------

class FaultProxy:
    """A TCP proxy with faults, run on the proxy child's event loop. Each accepted connection is
    joined to a new connection to the target; bytes are forwarded in chunks of up to 1 MiB each
    way, after `latency` seconds each while it is set, and not at all while `flowing` is clear
    (a paused link: sockets stay open, nothing moves, not even a close)."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.latency = 0.0
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.timers: list[asyncio.TimerHandle] = []
        self.port = 0

    async def listen(self) -> None:
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0, limit=4 * MIB)
        self.port = server.sockets[0].getsockname()[1]

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        await self.flowing.wait()
        try:
            target_r, target_w = await asyncio.open_connection("127.0.0.1", self.target_port, limit=4 * MIB)
        except OSError:
            client_w.transport.abort()
            return
        link = (client_w, target_w)
        for w in link:
            w.transport.set_write_buffer_limits(high=8 * MIB)
        self.links.add(link)
        try:
            await asyncio.gather(self._pipe(client_r, target_w, link), self._pipe(target_r, client_w, link))
        finally:
            self.links.discard(link)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link) -> None:
        try:
            while True:
                data = await reader.read(MIB)
                await self.flowing.wait()
                if not data:
                    break
                if self.latency:
                    await asyncio.sleep(self.latency)
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            for w in link:
                w.close()

    def _later(self, secs: float, fn) -> None:
        self.timers.append(asyncio.get_running_loop().call_later(secs, fn))

    # Commands, from the soak through the control pipe.

    def slow(self, arg) -> None:
        latency, secs = arg
        self.latency = latency
        self._later(secs, lambda: setattr(self, "latency", 0.0))

    def drop(self, _arg) -> None:
        for link in list(self.links):
            for w in link:
                w.transport.abort()  # RST both ways, as a network fault or a firewall does

    def pause(self, secs) -> None:
        self.flowing.clear()
        self._later(secs, self.flowing.set)

    def calm(self, _arg) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()
        self.latency = 0.0
        self.flowing.set()


def _proxy_child(control, targets: dict[str, int]) -> None:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the soak ends this process, not Ctrl-C

    async def serve() -> None:
        proxies = {name: FaultProxy(port) for name, port in targets.items()}
        for p in proxies.values():
            await p.listen()
        control.send({name: p.port for name, p in proxies.items()})

        def command() -> None:
            op, name, arg = control.recv()
            getattr(proxies[name], op)(arg)

        asyncio.get_running_loop().add_reader(control.fileno(), command)
        await asyncio.Event().wait()  # until the soak kills this process (or dies: die_with_parent)

    asyncio.run(serve())


class FaultProxies:
    """The proxies between bwv and PostgreSQL/S3, in a child process of their own so that they
    forward at full speed whatever the soak's threads are doing. Started before any thread."""

    def __init__(self, targets: dict[str, int]):
        ctx = multiprocessing.get_context("fork")
        self.control, child_end = ctx.Pipe()
        self.process = ctx.Process(target=_proxy_child, args=(child_end, targets), daemon=True)
        self.process.start()
        if not self.control.poll(30):
            raise SoakError("the fault proxies did not start")
        self.ports: dict[str, int] = self.control.recv()

    def send(self, op: str, name: str, arg=None) -> None:
        self.control.send((op, name, arg))

    def calm(self) -> None:
        for name in self.ports:
            self.send("calm", name)

    def stop(self) -> None:
        self.process.kill()
        self.process.join(5)


# --- PostgreSQL and S3 ----------------------------------------------------------------------

class Catalogue:
    """The soak's own view of the catalogue, through psql straight to PostgreSQL (not through
    the faulty link), for setup and checks."""

    def __init__(self, name: str):
        self.name = name

    def _psql(self, database: str, sql: str) -> str:
        # The soak's own reads: a machine still busy with the drain after the chaos can be slow to
        # answer one, which says nothing about bwv, so a read that times out is asked again.
        for attempt in range(1, PSQL_ATTEMPTS + 1):
            try:
                out = subprocess.run(
                    ["psql", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", database,
                     "-AtqX", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                    input=sql, capture_output=True, text=True, timeout=120)
                break
            except subprocess.TimeoutExpired:
                if attempt == PSQL_ATTEMPTS:
                    raise
                log(f"psql took over 120 s on {sql[:60]!r}; asking again ({attempt}/{PSQL_ATTEMPTS})")
        if out.returncode != 0:
            raise SoakError(f"psql failed on {sql!r}: {out.stderr.strip()}")
        return out.stdout

    def create(self) -> None:
        self._psql("postgres", f"CREATE DATABASE {self.name};")

    def drop(self) -> None:
        self._psql("postgres", f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE);")

    def rows(self, sql: str) -> list[list[str]]:
        return [line.split("\t") for line in self._psql(self.name, sql).splitlines() if line]

    def count(self, sql: str) -> int:
        return int(self._psql(self.name, sql).strip() or 0)

    def url(self, port: int) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/{self.name}"


def start_moto(workdir: Path) -> tuple[int, Path]:
    """moto's S3 server, and a bucket with Object Lock (unsigned requests: moto does not check)."""
    port = free_port()
    log_path = workdir / "logs" / "moto.log"
    moto = Path(sys.executable).parent / "moto_server"
    # moto holds each object in a spooled temporary file kept in memory up to 5 MiB: a 30-minute
    # soak of small uploads grew it to 23 GiB and the kernel killed it. Spooling to disk (in the
    # work directory, removed with it) from the first 64 KiB keeps its memory flat.
    spool = workdir / "moto-objects"
    spool.mkdir(exist_ok=True)
    env = {**os.environ, "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(64 << 10), "TMPDIR": str(spool)}
    # Each spooled object keeps its file open: allow far more than a 30-minute soak makes
    # (the children inherit the limit; without root, as much as the hard limit allows).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (1 << 20, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            break
        except (ValueError, OSError):
            continue
    CHILDREN.spawn([str(moto), "-H", "127.0.0.1", "-p", str(port)], log_path, env=env,
                   stdin=subprocess.DEVNULL)

    def answers() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/", timeout=2).ok
        except requests.RequestException:
            return False

    wait_for(answers, 60, "moto_server")
    return port, log_path


def create_lock_bucket(port: int, bucket: str) -> None:
    base = f"http://127.0.0.1:{port}/{bucket}"
    requests.put(base, headers={"x-amz-bucket-object-lock-enabled": "True"}, timeout=30).raise_for_status()
    lock = requests.get(f"{base}?object-lock", timeout=30)
    if "<ObjectLockEnabled>Enabled</ObjectLockEnabled>" not in lock.text:
        raise SoakError(f"bucket {bucket} has no Object Lock: {lock.text}")


def moto_failures(log_path: Path) -> Counter:
    """Requests moto answered with a 5xx, by method and path shape (ids and keys blanked)."""
    seen: Counter = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)  # moto colours its error lines
        m = re.search(r'"(\w+) (\S+) HTTP/[\d.]+" (5\d\d)', line)
        if m:
            path, _, query = m.group(2).partition("?")
            keys = ",".join(sorted(k.split("=")[0] for k in query.split("&") if k))
            shape = "/".join(p if i < 2 else "…" for i, p in enumerate(path.split("/")))
            seen[f"{m.group(1)} {shape}{'?' + keys if keys else ''} -> {m.group(3)}"] += 1
    return seen


def write_config(path: Path, data_dir: Path, database_url: str, s3_port: int, bucket: str) -> None:
    """The one configuration file every process uses (src/config.rs, deploy/bwv.example.toml)."""
    path.write_text(f"""\
data_dir = "{data_dir}"
database_url = "{database_url}"
actor = "staff:soak"

[log]
origin = "soak.bwv.localhost/audit/v1"
checkpoint_interval_secs = 5

[store]
backend = "s3"

[store.s3]
bucket = "{bucket}"
region = "us-east-1"
endpoint = "http://127.0.0.1:{s3_port}"
force_path_style = true
access_key_id = "soak"
secret_access_key = "soak"
part_size_mib = 5

[server]
shutdown_grace_secs = {SHUTDOWN_GRACE_SECS}

[tus]
expiry_secs = {TUS_EXPIRY_SECS}

[worker]
processes = 0
concurrency = 2
lease_secs = {JOB_LEASE_SECS}
backoff_secs = 2
max_attempts = 5
""")


class BwvCli:
    """`bwv --config FILE ...` as an operator runs it."""

    def __init__(self, binary: str, config: Path):
        self.binary, self.config = binary, config

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--config", str(self.config), *args]

    def run(self, *args: str, codes=(0,), timeout: float = 120) -> str:
        out = subprocess.run(self.argv(*args), capture_output=True, text=True, env=bwv_env(), timeout=timeout)
        if out.returncode not in codes:
            raise SoakError(f"bwv {' '.join(args)} exited {out.returncode}:\n{out.stderr.strip()}")
        return out.stdout

    def json(self, *args: str, codes=(0,), timeout: float = 120) -> list[dict]:
        return [json.loads(line) for line in self.run("--json", *args, codes=codes, timeout=timeout).splitlines()
                if line.strip()]


# --- Footage --------------------------------------------------------------------------------

@dataclasses.dataclass
class Clip:
    path: Path
    size: int
    sha256: str
    md5: str

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class Footage:
    """Real MP4 clips made once with ffmpeg; each upload is one of them with a top-level `free`
    box appended (a unique id, then padding), so it stays valid and cheap to process while its
    SHA-256 is its own and its size takes long enough to send to be cut by a kill."""

    SOURCES = [
        "testsrc=duration=2:size=320x240:rate=25",
        "testsrc2=duration=3:size=320x240:rate=25",
        "smptebars=duration=2:size=320x240:rate=25",
    ]

    def __init__(self, directory: Path, run_id: str):
        self.directory, self.run_id = directory, run_id
        directory.mkdir(parents=True, exist_ok=True)
        self.bases: list[bytes] = []
        for i, source in enumerate(self.SOURCES):
            out = directory / f"base-{i}.mp4"
            subprocess.run(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source,
                 "-f", "lavfi", "-i", "sine=frequency=440", "-shortest", "-c:v", "libx264",
                 "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-movflags", "+faststart",
                 str(out)], check=True, capture_output=True, timeout=120)
            self.bases.append(out.read_bytes())

    def make(self, size: int, label: str) -> Clip:
        base = random.choice(self.bases)
        unique = f"bwv-soak {self.run_id} {label} {uuid.uuid4()}\n".encode()
        box = max(8 + len(unique), size - len(base))
        path = self.directory / f"{uuid.uuid4().hex}.mp4"
        sha, md5 = hashlib.sha256(), hashlib.md5()
        with open(path, "wb") as f:
            for part in (base, struct.pack(">I", box) + b"free" + unique):
                f.write(part)
                sha.update(part)
                md5.update(part)
            left, zeros = box - 8 - len(unique), bytes(MIB)
            while left > 0:
                part = zeros[: min(left, MIB)]
                f.write(part)
                sha.update(part)
                md5.update(part)
                left -= len(part)
        return Clip(path, len(base) + box, sha.hexdigest(), md5.hexdigest())


# --- What the docks saw ---------------------------------------------------------------------

class Ledger:
    """Acknowledged uploads (also written to acknowledged.jsonl as they come) and counts of what
    else happened to uploads. Frozen once every node is stopped: nothing can be acknowledged
    after that."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.acks: list[dict] = []
        self.counts: Counter = Counter()
        self.notes: Counter = Counter()
        self.frozen = False

    def acknowledge(self, **ack) -> None:
        with self.lock:
            if self.frozen:
                raise Halted()
            self.acks.append(ack)
            with open(self.path, "a") as f:
                f.write(json.dumps(ack) + "\n")

    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n

    def note(self, what: str) -> None:
        """An upload that ended without acknowledgement, by why (listed at the end)."""
        with self.lock:
            self.notes[what[:160]] += 1

    def freeze(self) -> list[dict]:
        with self.lock:
            self.frozen = True
            return list(self.acks)


class Cluster:
    """The serve nodes and which are up as the chaos loop last left them: a dock starts each
    upload on a live node and, when that fails, goes round the others in turn."""

    def __init__(self, urls: list[str]):
        self.urls = urls
        self.down: set[str] = set()
        self.lock = threading.Lock()

    def mark(self, url: str, up: bool) -> None:
        with self.lock:
            (self.down.discard if up else self.down.add)(url)

    def rotation(self) -> list[str]:
        with self.lock:
            live = [u for u in self.urls if u not in self.down] or self.urls
        i = self.urls.index(random.choice(live))
        return self.urls[i:] + self.urls[:i]


class Soak:
    """What every dock shares: the nodes, the footage, the ledger and the signals to stop."""

    def __init__(self, cluster: Cluster, footage: Footage, ledger: Ledger, max_mib: int):
        self.cluster, self.footage, self.ledger = cluster, footage, ledger
        self.max_mib = max(3, max_mib)
        self.stopping = threading.Event()  # no new uploads
        self.halt = threading.Event()  # no new requests either
        self.dock_errors: list[str] = []

    def check_halt(self) -> None:
        if self.halt.is_set():
            raise Halted()

    def upload_size(self) -> int:
        """A tus upload's size: 3 MiB up to --max-mib."""
        return random.randint(3, self.max_mib) * MIB

    def clip_size(self) -> int:
        """An Axis clip's size: 2 MiB up to two fifths of --max-mib (a recording has one or two)."""
        return random.randint(2, max(2, self.max_mib * 2 // 5)) * MIB


def pause_after(status: int | None) -> float:
    """How long a dock waits before its next try: a refused connection moves on at once; a lease
    held by a request that died (423) lasts up to 20 s."""
    if status is None:
        return 0.2
    return 2.0 if status == 423 else 1.0


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Dock(threading.Thread):
    """One docking station: uploads one recording after another until the soak stops."""

    kind = client = ""

    def __init__(self, soak: Soak, name: str, secret: str, officer: str, device: str):
        super().__init__(name=name, daemon=True)
        self.soak, self.dock, self.secret = soak, name, secret
        self.officer, self.device = officer, device
        self.seq = 0

    def run(self) -> None:
        try:
            self.prepare()
            while not self.soak.stopping.is_set():
                self.seq += 1
                self.deliver()
                self.soak.stopping.wait(random.uniform(0.5, 2.0))
        except Halted:
            pass
        except Exception:
            self.soak.dock_errors.append(f"{self.dock}: {traceback.format_exc()}")

    def prepare(self) -> None:
        """Anything a dock does once before its first recording."""

    def deliver(self) -> None:
        raise NotImplementedError

    def acknowledge(self, clip: Clip, **fields) -> None:
        self.soak.ledger.acknowledge(kind=self.kind, client=self.client, dock=self.dock, sha256=clip.sha256,
                                     size=clip.size, **fields)

    def tus_metadata(self, clip: Clip) -> dict[str, str]:
        meta = {"officer": self.officer, "device": self.device, "filename": f"{self.dock}-{self.seq}.mp4",
                "recorded_at": iso(datetime.now(timezone.utc))}
        if random.random() < 0.5:
            meta["sha256"] = clip.sha256  # the dock's own hash: bwv refuses bytes that differ
        return meta


class TuspyDock(Dock):
    """A dock uploading with tuspy. A failed request moves it to the next node, where a new
    Uploader built with the upload's URL on that node asks for the offset (HEAD) and goes on."""

    kind, client = "tus", "tuspy"

    def deliver(self) -> None:
        clip = self.soak.footage.make(self.soak.upload_size(), f"{self.dock}-{self.seq}")
        try:
            self.upload(clip)
        finally:
            clip.remove()

    def upload(self, clip: Clip) -> None:
        auth = {"Authorization": "Basic " + base64.b64encode(f"{self.dock}:{self.secret}".encode()).decode()}
        chunk = random.choice([1, 2, 4]) * MIB
        abandon_at = clip.size // 2 if random.randrange(ABANDON_ONE_IN) == 0 else None
        nodes = self.soak.cluster.rotation()
        url = created_on = uploader = None
        turn, give_up = 0, time.monotonic() + GIVE_UP_SECS
        while True:
            self.soak.check_halt()
            if time.monotonic() > give_up:
                return self.soak.ledger.note("tus: gave up after failing for 5 minutes")
            node = nodes[turn % len(nodes)]
            client = tus.TusClient(f"{node}/files/", headers=auth)
            try:
                if url is None:
                    uploader = client.uploader(file_path=str(clip.path), chunk_size=chunk,
                                               metadata=self.tus_metadata(clip))
                    url, created_on = uploader.create_url(), node
                    uploader.set_url(url)
                elif uploader is None:
                    uploader = client.uploader(file_path=str(clip.path), url=on_node(url, node), chunk_size=chunk)
                    if node != created_on:
                        self.soak.ledger.count(f"resumes across nodes: {self.client}")
                while uploader.offset < clip.size:
                    self.soak.check_halt()
                    if abandon_at is not None and uploader.offset >= abandon_at:
                        self.soak.ledger.count("abandoned")
                        return
                    uploader.upload_chunk()
                last = uploader.request.response_headers if uploader.request else {}
                recording = last.get("bwv-recording-id") or confirm_tus(on_node(url, node), auth)
                if recording:
                    return self.acknowledge(clip, recording=recording, upload=url, node=node)
                uploader = None  # whole, by our count, but not by the server's: ask again
            except TusCommunicationError as e:
                if e.status_code in FATAL:
                    return self.soak.ledger.note(f"tus: {e.status_code} {e.response_content!r}")
                uploader = None
                turn += 1
                time.sleep(pause_after(e.status_code))


def confirm_tus(url: str, auth: dict) -> str | None:
    """The recording an upload became, when a HEAD says the server has all of it."""
    try:
        r = requests.head(url, headers={**auth, "Tus-Resumable": "1.0.0"}, timeout=60)
    except requests.RequestException:
        return None
    whole = r.ok and r.headers.get("Upload-Offset") == r.headers.get("Upload-Length")
    return r.headers.get("Bwv-Recording-Id") if whole else None


class NodeDocks:
    """The Node process (tests/soak/tus_dock.mjs) through which the tus-js-client docks upload:
    one JSON request per line in, events per line out."""

    def __init__(self, log_path: Path):
        script = ROOT / "tests" / "soak" / "tus_dock.mjs"
        self.proc = CHILDREN.spawn(["node", str(script)], log_path, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, cwd=script.parent)
        self.lock = threading.Lock()
        self.waiting: dict[int, queue.Queue] = {}
        self.next_id = 0
        threading.Thread(target=self._read, name="tus-js events", daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            event = json.loads(line)
            with self.lock:
                q = self.waiting.get(event["id"])
            if q is not None:
                q.put(event)
        with self.lock:
            for q in self.waiting.values():
                q.put({"event": "failed", "reason": "the Node docks' process ended"})

    def _send(self, message: dict) -> None:
        with self.lock:
            try:
                self.proc.stdin.write((json.dumps(message) + "\n").encode())
                self.proc.stdin.flush()
            except (OSError, ValueError):
                pass  # the process ended: the caller hears so while it waits

    def upload(self, request: dict, ledger: Ledger, client: str) -> dict:
        """Sends one upload and follows its events to the last one, which it returns."""
        q: queue.Queue = queue.Queue()
        with self.lock:
            self.next_id += 1
            request = {**request, "op": "upload", "id": self.next_id}
            self.waiting[self.next_id] = q
        try:
            self._send(request)
            while True:
                try:
                    event = q.get(timeout=5)
                except queue.Empty:
                    if self.proc.poll() is None:
                        continue
                    return {"event": "failed", "reason": "the Node docks' process ended"}
                if event["event"] == "resumed":
                    if event["node"] != event["created_node"]:
                        ledger.count(f"resumes across nodes: {client}")
                elif event["event"] == "timed_out":
                    ledger.count("requests given up after 30 s")
                elif event["event"] != "created":
                    return event
        finally:
            with self.lock:
                self.waiting.pop(request["id"], None)

    def stop(self) -> None:
        """Every upload in flight is aborted and answers `stopped`; then the process exits."""
        self._send({"op": "stop"})
        with self.lock:
            try:
                self.proc.stdin.close()
            except OSError:
                pass


class TusJsDock(Dock):
    """A dock uploading with tus-js-client, through the Node process (see tus_dock.mjs for how it
    resumes on another node)."""

    kind, client = "tus", "tus-js-client"

    def __init__(self, soak: Soak, node: NodeDocks, *args):
        super().__init__(soak, *args)
        self.node = node

    def deliver(self) -> None:
        clip = self.soak.footage.make(self.soak.upload_size(), f"{self.dock}-{self.seq}")
        try:
            event = self.node.upload({
                "dock": self.dock, "secret": self.secret, "file": str(clip.path), "size": clip.size,
                "nodes": self.soak.cluster.rotation(), "chunk": random.choice([1, 2, 4]) * MIB,
                "metadata": self.tus_metadata(clip),
                "abandon_at": clip.size // 2 if random.randrange(ABANDON_ONE_IN) == 0 else None,
            }, self.soak.ledger, self.client)
            if event["event"] == "done":
                self.acknowledge(clip, recording=event["recording"], node=event["node"])
            elif event["event"] == "abandoned":
                self.soak.ledger.count("abandoned")
            elif event["event"] == "failed":
                self.soak.ledger.note(f"tus-js: {event['reason']}")
            else:
                raise Halted()
        finally:
            clip.remove()


class Refused(Exception):
    """The server refused a Swift request in a way no other node can change."""


class AxisDock(Dock):
    """An Axis docking controller speaking Swift with python-swiftclient: it registers its user
    by UUID (`Users/<UUID>` naming the officer), then for each recording opens a container, sends
    one or two clips and a bookmark, and says `Status: Complete`. A failed request is sent again,
    the same bytes, to the next node, with the same token (tokens live in the catalogue)."""

    kind, client = "axis", "python-swiftclient"
    FIRST = datetime(2025, 11, 25, 8, 0, tzinfo=timezone.utc)

    def __init__(self, *args):
        super().__init__(*args)
        self.user = str(uuid.uuid4())
        self.token: str | None = None
        self.account = ""

    def prepare(self) -> None:
        self.swift(lambda c: c.put_object("Users", self.user, contents=b"", headers={
            "X-Object-Meta-UserID": self.officer, "X-Object-Meta-Name": f"PC {self.officer}",
            "X-Object-Meta-Active": "True"}))

    def swift(self, call):
        """Runs one Swift call on a live node, moving to the next when it fails, until it
        succeeds (or is refused, or the dock gives up)."""
        nodes = self.soak.cluster.rotation()
        turn, give_up = 0, time.monotonic() + GIVE_UP_SECS
        while True:
            self.soak.check_halt()
            if time.monotonic() > give_up:
                raise Refused("gave up after failing for 5 minutes")
            node = nodes[turn % len(nodes)]
            status = None
            try:
                if self.token is None:
                    url, self.token = swift.Connection(
                        authurl=f"{node}/auth/v1.0", user=self.dock, key=self.secret, auth_version="1",
                        retries=0, timeout=60).get_auth()
                    self.account = urlsplit(url).path
                conn = swift.Connection(preauthurl=node + self.account, preauthtoken=self.token,
                                        retries=0, timeout=IDLE_SECS)
                result = call(conn)
                if node != nodes[0]:
                    self.soak.ledger.count("axis requests sent again on another node")
                return result
            except ClientException as e:
                status = e.http_status
                if status == 401:
                    self.token = None
                elif status in FATAL:
                    raise Refused(f"{status} {e.http_response_content!r}") from e
            except requests.Timeout:
                self.soak.ledger.count("requests given up after 30 s")
            except (requests.RequestException, OSError):
                pass
            turn += 1
            time.sleep(pause_after(status))

    def deliver(self) -> None:
        clips = [self.soak.footage.make(self.soak.clip_size(), f"{self.dock}-{self.seq}-{i}")
                 for i in range(random.randint(1, 2))]
        try:
            self.recording(clips)
        except Refused as e:
            self.soak.ledger.note(f"axis: {e}")
        finally:
            for clip in clips:
                clip.remove()

    def recording(self, clips: list[Clip]) -> None:
        start = self.FIRST + timedelta(minutes=self.seq)
        stamp = start.strftime("%Y%m%dT%H%M%SZ")
        container = f"{self.user}_{self.device}_{stamp}"
        self.swift(lambda c: c.put_container(container, headers={
            "X-Container-Meta-UserID": self.user, "X-Container-Meta-BWCSerialNumber": self.device,
            "X-Container-Meta-SCUSerialNumber": f"SCU-{self.dock}", "X-Container-Meta-BWCModel": "W110",
            "X-Container-Meta-TriggerOn": "Button", "X-Container-Meta-TriggerOnTime": str(int(start.timestamp())),
            "X-Container-Meta-TriggerOnTimeISO": iso(start), "X-Container-Meta-StartTimeISO": iso(start),
            "X-Container-Meta-TimeZone": "Europe/London", "X-Container-Meta-Status": "Transferring"}))
        names = [f"{stamp}_r{i}.mp4" for i in range(len(clips))]
        for clip, name in zip(clips, names):
            def put(c, clip=clip, name=name):
                with open(clip.path, "rb") as f:
                    return c.put_object(container, name, contents=f, content_length=clip.size, etag=clip.md5,
                                        headers={"X-Object-Meta-StartTimeISO": iso(start)})
            self.swift(put)
        self.swift(lambda c: c.put_object(container, f"bookmark_{stamp}_1", contents=b"Soak bookmark", headers={
            "X-Object-Meta-CategoryID": "3", "X-Object-Meta-CategoryName": "Public order",
            "X-Object-Meta-StartTime": iso(start)}))
        self.swift(lambda c: c.post_container(container, headers={
            "X-Container-Meta-Status": "Complete", "X-Container-Meta-StopTimeISO": iso(start + timedelta(seconds=30))}))
        for clip, name in zip(clips, names):
            self.acknowledge(clip, container=container, object=name)


# --- Chaos ----------------------------------------------------------------------------------

class Chaos:
    """Kills and link faults on a timetable, from the main thread (the one that starts every
    child, see `die_with_parent`). Also notices a process that stopped on its own, notes it and
    starts it again."""

    def __init__(self, processes: list[BwvProcess], cluster: Cluster, proxies: FaultProxies):
        self.processes, self.cluster, self.proxies = processes, cluster, proxies
        self.kills = self.faults = 0
        self.restarts: dict[str, float] = {}
        self.exits: list[str] = []

    def run(self, seconds: float) -> None:
        now = time.monotonic()
        end, next_kill, next_fault = now + seconds, now + random.uniform(15, 30), now + random.uniform(10, 20)
        while (now := time.monotonic()) < end:
            self.restart_due(now)
            self.notice_exits()
            if now >= next_kill:
                self.kill_one(now)
                next_kill = now + random.uniform(15, 30)
            if now >= next_fault:
                self.fault_one()
                next_fault = now + random.uniform(10, 20)
            time.sleep(0.2)
        self.restart_due(float("inf"))

    def restart_due(self, now: float) -> None:
        for p in self.processes:
            if p.name in self.restarts and self.restarts[p.name] <= now:
                del self.restarts[p.name]
                p.start()
                if p.url:
                    self.cluster.mark(p.url, up=True)
                log(f"restarted {p.name}")

    def notice_exits(self) -> None:
        for p in self.processes:
            if p.name not in self.restarts and not p.alive():
                self.exits.append(f"{p.name} exited by itself with status {p.proc.returncode}; log "
                                  f"{p.log_path} ends:\n{tail(p.log_path, 8)}")
                log(f"{p.name} exited by itself ({p.proc.returncode}); starting it again in 1 s")
                if p.url:
                    self.cluster.mark(p.url, up=False)
                self.restarts[p.name] = time.monotonic() + 1

    def kill_one(self, now: float) -> None:
        nodes_up = [p for p in self.processes if p.url and p.alive() and p.name not in self.restarts]
        candidates = [p for p in self.processes if p.alive() and p.name not in self.restarts
                      and not (p.url and len(nodes_up) < 2)]
        if not candidates:
            return
        victim = random.choice(candidates)
        if victim.url:
            self.cluster.mark(victim.url, up=False)
        victim.kill9()
        self.kills += 1
        self.restarts[victim.name] = now + random.uniform(1, 3)
        log(f"SIGKILL {victim.name}")

    def fault_one(self) -> None:
        link = random.choice(sorted(self.proxies.ports))
        kind = random.choice(["slow", "drop", "pause"])
        if kind == "slow":
            latency = random.uniform(0.1, 0.3)
            self.proxies.send("slow", link, (latency, 5.0))
            log(f"link {link}: {latency * 1000:.0f} ms latency for 5 s")
        elif kind == "drop":
            self.proxies.send("drop", link)
            log(f"link {link}: every connection dropped")
        else:
            secs = random.uniform(3, 8)
            self.proxies.send("pause", link, secs)
            log(f"link {link}: paused for {secs:.1f} s")
        self.faults += 1


def stop_all(processes: list[BwvProcess]) -> list[str]:
    """SIGTERM to every process at once, as a service manager stops a host; how each ended."""
    for p in processes:
        p.signal_stop()
    notes = []
    for p in processes:
        status = p.wait_stopped(SHUTDOWN_GRACE_SECS + 20)
        if status is None:
            notes.append(f"{p.name} did not stop within {SHUTDOWN_GRACE_SECS + 20} s of SIGTERM (killed)")
        elif status != 0:
            notes.append(f"{p.name} exited {status} after SIGTERM; log {p.log_path}")
    return notes


def start_all(processes: list[BwvProcess]) -> None:
    for p in processes:
        p.start()
    wait_for(lambda: all(p.ready() for p in processes), 90, "every node to answer /readyz")


# --- Checks ---------------------------------------------------------------------------------

class Checks:
    """The end-of-soak checks against the catalogue, fsck and the audit log. Each failure is
    printed as it is found; `failed` is the list of them."""

    def __init__(self, catalogue: Catalogue, cli: BwvCli):
        self.catalogue, self.cli = catalogue, cli
        self.failed: list[str] = []
        self.figures: dict = {}

    def fail(self, message: str) -> None:
        self.failed.append(message)
        print(f"FAIL: {message}", flush=True)

    def drain_jobs(self) -> None:
        """Waits until no job is queued or running, for as long as the queue keeps shrinking."""
        sql = "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"
        lowest, moved, shown = None, time.monotonic(), 0.0
        while (waiting := self.catalogue.count(sql)) > 0:
            now = time.monotonic()
            if lowest is None or waiting < lowest:
                lowest, moved = waiting, now
            if now - moved > DRAIN_STALL_SECS:
                stuck = self.catalogue.rows(
                    "SELECT id, status, attempts, run_at, coalesce(last_error, '') FROM jobs"
                    " WHERE status IN ('queued', 'running') ORDER BY run_at LIMIT 5")
                return self.fail(f"the job queue stopped draining: {waiting} jobs queued or running, none done "
                                 f"in {DRAIN_STALL_SECS} s: " + "; ".join(" ".join(r)[:300] for r in stuck))
            if now - shown > 15:
                shown = now
                log(f"job queue: {waiting} queued or running")
            time.sleep(2)

    def leases(self) -> None:
        sql = ("SELECT count(*) FROM uploads WHERE state = 'receiving' AND lease_owner IS NOT NULL"
               " AND lease_until > now()")
        try:
            wait_for(lambda: self.catalogue.count(sql) == 0, TUS_LEASE_SECS + 15, "upload leases to run out", every=1)
        except SoakError:
            self.fail(f"{self.catalogue.count(sql)} uploads are still locked {TUS_LEASE_SECS + 15} s after "
                      "every node restarted: " + "; ".join(
                          " ".join(r) for r in self.catalogue.rows(
                              "SELECT id, lease_owner, lease_until FROM uploads WHERE state = 'receiving'"
                              " AND lease_owner IS NOT NULL AND lease_until > now() LIMIT 5")))

    def fsck_and_audit(self) -> set[str]:
        """Runs both; returns the hashes fsck found missing or corrupt."""
        fsck = self.cli.json("fsck", codes=(0, 1), timeout=900)[-1]
        damaged = {d["sha256"] for d in fsck["missing"] + fsck["corrupt"]}
        self.figures["fsck"] = fsck
        if not fsck["ok"] or damaged:
            self.fail(f"bwv fsck: {len(fsck['missing'])} missing, {len(fsck['corrupt'])} corrupt: "
                      f"{json.dumps(fsck['missing'] + fsck['corrupt'])[:2000]}")
        if fsck["unreferenced"]:
            self.fail(f"bwv fsck: {len(fsck['unreferenced'])} objects stored but not catalogued: "
                      f"{', '.join(fsck['unreferenced'][:10])}")
        if fsck["awaiting_purge"]:
            self.fail(f"bwv fsck: {len(fsck['awaiting_purge'])} purged objects still stored")
        audit = self.cli.json("audit", "verify", codes=(0, 1), timeout=900)[-1]
        self.figures["audit"] = audit
        if not audit.get("ok"):
            self.fail(f"bwv audit verify: {json.dumps(audit.get('problems'))[:2000]}")
        return damaged

    def acknowledged(self, acks: list[dict], damaged: set[str]) -> None:
        """Check 1 and 5: each acknowledged upload is one clip of a complete recording, with the
        right hash and size, in the recording the server named (tus) or its container's (Axis)."""
        clips: dict[str, list[tuple[str, str, int]]] = {}
        for sha, recording, status, size in self.catalogue.rows(
                "SELECT c.sha256, c.recording_id, r.status, o.size FROM clips c"
                " JOIN recordings r ON r.id = c.recording_id JOIN objects o ON o.sha256 = c.sha256"):
            clips.setdefault(sha, []).append((recording, status, int(size)))
        containers = dict(self.catalogue.rows("SELECT name, recording_id FROM axis_containers"))
        lost = duplicates = 0
        for ack in acks:
            found = clips.get(ack["sha256"], [])
            where = f"{ack['kind']} upload {ack['sha256']} ({ack['size']} bytes, dock {ack['dock']})"
            if not found or ack["sha256"] in damaged:
                lost += 1
                self.fail(f"lost: acknowledged {where} is {'damaged' if found else 'not catalogued'}")
                continue
            if len(found) > 1:
                duplicates += 1
                self.fail(f"duplicate: acknowledged {where} is stored {len(found)} times: {found}")
            recording, status, size = found[0]
            expected = ack.get("recording") or containers.get(ack.get("container"))
            if recording != expected:
                self.fail(f"acknowledged {where} is in recording {recording}, not {expected}")
            if status == "incomplete" or size != ack["size"]:
                self.fail(f"acknowledged {where}: recording {recording} is {status}, object size {size}")
        self.figures.update(lost=lost, duplicates=duplicates)

    def media(self) -> None:
        """Check 2: every clip of a complete recording settled playable by a succeeded media job,
        no job left over or dead, and one `media_processed` record per clip."""
        clips = self.catalogue.rows(
            "SELECT c.id, c.recording_id, c.seq, c.media_state, coalesce(c.media_error, '') FROM clips c"
            " JOIN recordings r ON r.id = c.recording_id WHERE r.status <> 'incomplete'")
        jobs = {clip: status for clip, status in self.catalogue.rows(
            "SELECT payload->>'clip', status FROM jobs WHERE kind = 'media'")}
        leftover = self.catalogue.rows(
            "SELECT id, status, attempts, coalesce(last_error, '') FROM jobs WHERE status <> 'succeeded'")
        records = {(item, seq): int(n) for item, seq, n in self.catalogue.rows(
            "SELECT item_id, convert_from(leaf, 'UTF8')::jsonb->'result'->>'clip', count(*) FROM tlog_leaf"
            " WHERE event = 'media_processed' GROUP BY 1, 2")}
        done = 0
        for clip, recording, seq, state, error in clips:
            problems = []
            if jobs.get(clip) != "succeeded":
                problems.append(f"its media job is {jobs.get(clip, 'missing')}")
            if state != "playable":
                problems.append(f"it is {state} {error}".strip())
            if records.get((recording, seq), 0) != 1:
                problems.append(f"{records.get((recording, seq), 0)} media_processed records")
            if problems:
                self.fail(f"clip {seq} of recording {recording}: {'; '.join(problems)}")
            else:
                done += 1
        for job, status, attempts, error in leftover:
            self.fail(f"job {job} is {status} after {attempts} attempts: {error[:300]}")
        self.figures.update(media_done=done, media_clips=len(clips))


# --- The run --------------------------------------------------------------------------------

def register(cli: BwvCli, count: int) -> list[tuple[str, str, str, str]]:
    """Officers, cameras and docks, as the force registers them (bwv officer-add, device-add,
    dock add): dock i may upload for officer 51<i> with camera SOAK-CAM-<i>."""
    people = [(f"soak-dock-{i:02d}", f"51{i:02d}", f"SOAK-CAM-{i:02d}") for i in range(count)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda a: cli.run(*a), [a for _, officer, camera in people for a in (
            ("officer-add", officer, "--name", f"PC Soak {officer}"), ("device-add", camera, "--model", "W110"))]))
        secrets = list(pool.map(lambda p: cli.json("dock", "add", p[0])[0]["secret"], people))
    return [(name, secret, officer, camera) for (name, officer, camera), secret in zip(people, secrets)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--bwv", required=True, help="the bwv binary")
    parser.add_argument("--max-mib", type=int, default=30,
                        help="largest tus upload in MiB (moto keeps every object on this machine's "
                             "disk: about 2.2 GB a minute at 30, 1.5 GB at 8; use 4 for 30 minutes)")
    parser.add_argument("--workdir", type=Path, help="an empty or new directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and the database")
    args = parser.parse_args()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    binary = str(Path(args.bwv).resolve())
    if not os.access(binary, os.X_OK):
        parser.error(f"no bwv binary at {binary}")
    if not (ROOT / "tests/soak/node_modules/tus-js-client").is_dir():
        parser.error("tus-js-client is not installed: run `npm ci` in tests/soak (scripts/soak does)")
    if args.workdir:
        if args.workdir.exists() and any(args.workdir.iterdir()):
            parser.error(f"--workdir {args.workdir} is not empty")
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="bwv-soak-"))).resolve()
    (workdir / "logs").mkdir()
    # Its own copy: a rebuild during the soak must not give restarted processes other code.
    shutil.copy2(binary, workdir / "bwv")
    binary = str(workdir / "bwv")
    catalogue = Catalogue(f"bwv_soak_{os.getpid()}")
    moto_log = proxies = None
    keep = args.keep
    code = 1
    try:
        catalogue.create()
        moto_port, moto_log = start_moto(workdir)
        bucket = f"bwv-soak-{os.getpid()}"
        create_lock_bucket(moto_port, bucket)
        proxies = FaultProxies({"postgres": 5432, "s3": moto_port})
        config = workdir / "bwv.toml"
        write_config(config, workdir / "data", catalogue.url(proxies.ports["postgres"]), proxies.ports["s3"], bucket)
        cli = BwvCli(binary, config)
        cli.run("migrate")
        log(f"work directory {workdir}, database {catalogue.name}, bucket {bucket} (Object Lock)")
        docks = register(cli, 3 * DOCKS_PER_KIND)
        footage = Footage(workdir / "footage", uuid.uuid4().hex[:8])

        processes = []
        for i in range(NODES):
            port = free_port()
            processes.append(BwvProcess(f"node-{i + 1}", cli.argv("serve", "--listen", f"127.0.0.1:{port}", "--no-workers"),
                                        workdir / "logs" / f"node-{i + 1}.log", f"http://127.0.0.1:{port}"))
        for i in range(WORKERS):
            processes.append(BwvProcess(f"worker-{i + 1}", cli.argv("worker"), workdir / "logs" / f"worker-{i + 1}.log"))
        start_all(processes)
        cluster = Cluster([p.url for p in processes if p.url])
        ledger = Ledger(workdir / "acknowledged.jsonl")
        soak = Soak(cluster, footage, ledger, args.max_mib)
        node_docks = NodeDocks(workdir / "logs" / "tus-js-docks.log")
        threads: list[Dock] = []
        for i, dock in enumerate(docks):
            kind = i // DOCKS_PER_KIND
            threads.append(AxisDock(soak, *dock) if kind == 0 else TuspyDock(soak, *dock) if kind == 1
                           else TusJsDock(soak, node_docks, *dock))
        log(f"{NODES} nodes, {WORKERS} workers, {len(threads)} docks (10 Axis, 10 tuspy, 10 tus-js-client): "
            f"soaking for {args.minutes:g} min")
        for t in threads:
            t.start()
        chaos = Chaos(processes, cluster, proxies)
        chaos.run(args.minutes * 60)

        log(f"docks finish their uploads in flight (up to {WIND_DOWN_SECS} s)")
        soak.stopping.set()
        deadline = time.monotonic() + WIND_DOWN_SECS
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        soak.halt.set()
        node_docks.stop()
        proxies.calm()
        log("stopping every process (SIGTERM)")
        stop_notes = stop_all(processes)
        for t in threads:
            t.join(10)
        acks = ledger.freeze()
        log("starting every process again")
        start_all(processes)

        checks = Checks(catalogue, cli)
        checks.drain_jobs()
        checks.leases()
        damaged = checks.fsck_and_audit()
        checks.acknowledged(acks, damaged)
        checks.media()
        if not acks:
            checks.fail("no upload was acknowledged at all")
        for error in soak.dock_errors:
            checks.fail(f"a dock failed (harness error): {error}")
        stop_notes += stop_all(processes)

        for note in stop_notes + chaos.exits:
            print(f"note: {note}")
        for reason, n in sorted(ledger.notes.items()):
            print(f"note: {n} upload(s) ended unacknowledged: {reason}")
        for call, n in moto_failures(moto_log).items():
            print(f"note: moto answered {n} x {call}")
        tus_acks = sum(a["kind"] == "tus" for a in acks)
        f = checks.figures
        by_client = Counter(a["client"] for a in acks)
        resumes = {k.split(": ")[1]: n for k, n in ledger.counts.items() if k.startswith("resumes across nodes: ")}
        print(f"detail: acknowledged by client {dict(by_client)}, resumes across nodes by client {resumes}, "
              f"abandoned uploads {ledger.counts['abandoned']}, Axis requests sent again on another node "
              f"{ledger.counts['axis requests sent again on another node']}, requests given up after 30 s "
              f"{ledger.counts['requests given up after 30 s']}, processes that exited by themselves "
              f"{len(chaos.exits)}, fsck checked {f['fsck']['checked']} objects, audit records {f['audit'].get('records')}")
        print(f"soak: {args.minutes:.1f} min, {NODES} nodes, {WORKERS} workers, {len(threads)} docks: "
              f"uploads acknowledged {len(acks)} (tus {tus_acks}, axis {len(acks) - tus_acks}), "
              f"{sum(a['size'] for a in acks) / (1 << 30):.1f} GiB, kills {chaos.kills}, link faults {chaos.faults}, "
              f"resumes across nodes {sum(resumes.values())}, lost {f['lost']}, "
              f"duplicates {f['duplicates']}, media jobs {f['media_done']}/{f['media_clips']}, "
              f"fsck {'ok' if f['fsck']['ok'] and not f['fsck']['unreferenced'] else 'FAILED'}, "
              f"audit {'ok' if f['audit'].get('ok') else 'FAILED'}", flush=True)
        code = 1 if checks.failed else 0
    except SoakError as e:
        print(f"FAIL: harness: {e}", flush=True)
    except Exception:
        print(f"FAIL: harness error:\n{traceback.format_exc()}", flush=True)
    finally:
        CHILDREN.kill_all()
        if proxies is not None:
            proxies.stop()
        if code != 0 and not keep:
            keep = True
            print(f"kept for inspection: {workdir} (logs/), database {catalogue.name}", file=sys.stderr)
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
            try:
                catalogue.drop()
            except SoakError as e:
                print(f"note: {e}")
    return code


if __name__ == "__main__":
    sys.exit(main())
