"""Attacks bwv's doors as an insider with a dock credential, or anyone on the network, would:
guessing secrets, slow and silent connections, uploads that never finish, quotas. Each attacker
connects from its own loopback address (127.0.0.x), as distinct hosts would. Prints one JSON
object; exits non-zero on failure.

Used by tests/serve_abuse.rs.
"""
import argparse
import json
import socket
import statistics
import sys
import threading
import time
import uuid
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter


class SourceAdapter(HTTPAdapter):
    """Sends from a chosen loopback address."""

    def __init__(self, source, **kw):
        self.source = source
        super().__init__(**kw)

    def init_poolmanager(self, *a, **kw):
        kw["source_address"] = (self.source, 0)
        return super().init_poolmanager(*a, **kw)


def session(source):
    s = requests.Session()
    s.mount("http://", SourceAdapter(source))
    return s


def sign_in(s, url, dock, key):
    return s.get(url + "/auth/v1.0", headers={"X-Auth-User": dock, "X-Auth-Key": key})


def sign_ins(args):
    """The dock signs in from its own address; attackers guess its secret from others."""
    url = args.url
    out = {"dock_first": sign_in(session("127.0.0.1"), url, args.dock, args.secret).status_code}
    # 48 wrong keys at once from one host.
    statuses = []

    def guess():
        statuses.append(sign_in(session("127.0.0.2"), url, args.dock, "dk_wrong").status_code)

    threads = [threading.Thread(target=guess) for _ in range(48)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["concurrent"] = sorted(statuses)
    # A few guesses each from many hosts: no address is locked out, but the dock name is.
    out["spread"] = [sign_in(session(f"127.0.1.{h}"), url, args.dock, "dk_wrong").status_code
                     for h in range(1, 9) for _ in range(3)]
    # 200 guesses in a row from another host, at a dock name that does not exist: locked out
    # after a few, then answered at once.
    s = session("127.0.0.3")
    started = time.monotonic()
    seq = [sign_in(s, url, "dock-z", f"dk_wrong{i}") for i in range(200)]
    out["sequential_seconds"] = time.monotonic() - started
    out["sequential_401"] = sum(r.status_code == 401 for r in seq)
    out["sequential_429"] = sum(r.status_code == 429 for r in seq)
    out["retry_after"] = seq[-1].headers.get("Retry-After")
    # Random tokens count as failures too.
    s = session("127.0.0.5")
    tokens = [s.get(url + "/v1/AUTH_" + args.dock + "/System/Capabilities.json",
                    headers={"X-Auth-Token": "bwv_" + uuid.uuid4().hex}).status_code for _ in range(30)]
    out["tokens_401"] = tokens.count(401)
    out["tokens_429"] = tokens.count(429)
    # The dock name is now locked out, except from the address the dock itself signed in from.
    out["dock_again"] = sign_in(session("127.0.0.1"), url, args.dock, args.secret).status_code
    out["dock_elsewhere"] = sign_in(session("127.0.0.4"), url, args.dock, args.secret).status_code
    return out


def timing(args):
    """An unknown dock name must cost what a wrong secret costs."""
    s = session("127.0.0.6")
    for _ in range(3):
        sign_in(s, args.url, args.dock, "warm-up")

    def median(name):
        times = []
        for i in range(12):
            t = time.monotonic()
            r = sign_in(s, args.url, name, f"dk_wrong{i}")
            times.append(time.monotonic() - t)
            assert r.status_code == 401, r.status_code
        return statistics.median(times)

    return {"wrong_secret": median(args.dock), "unknown_dock": median("no-such-dock-" + uuid.uuid4().hex[:8])}


def raw(host, port, source):
    s = socket.create_connection((host, port), source_address=(source, 0))
    s.settimeout(1.0)
    return s


def closed_after(s, send=None, every=0.5, limit=60):
    """Seconds until the server closes the connection (None if it never did within `limit`)."""
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < limit:
        if send and sent < len(send):
            try:
                s.sendall(send[sent:sent + 1])
            except OSError:
                return time.monotonic() - started
            sent += 1
        try:
            if s.recv(1024) == b"":
                return time.monotonic() - started
        except socket.timeout:
            pass
        except OSError:
            return time.monotonic() - started
        if send:
            time.sleep(every)
    return None


def slow_headers(args):
    u = urlparse(args.url)
    silent = raw(u.hostname, u.port, "127.0.0.7")
    dribble = raw(u.hostname, u.port, "127.0.0.8")
    out = {}
    t = threading.Thread(target=lambda: out.__setitem__("silent", closed_after(silent)))
    t.start()
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 400 + b"\r\n\r\n"
    out["dribble"] = closed_after(dribble, send=request)
    t.join()
    return out


def slow_bodies(args):
    """Uploads that declare 1 MB and send 10 bytes, as many as the dock can open, then what
    another dock and the same dock get meanwhile, and once the stalled ones are cut off."""
    from swiftclient import client as swift
    conn = swift.Connection(authurl=args.url + "/auth/v1.0", user=args.dock, key=args.secret, auth_version="1", retries=0)
    user = str(uuid.uuid4())
    conn.put_object("Users", user, contents=b"", headers={"X-Object-Meta-UserID": args.officer, "X-Object-Meta-Name": "PC"})
    container = f"{user}_{args.camera}_20251125T100000Z"
    conn.put_container(container, headers={"X-Container-Meta-UserID": user, "X-Container-Meta-BWCSerialNumber": args.camera})
    storage, token = conn.get_auth()
    u = urlparse(storage)
    stalled = []
    answers = []
    for i in range(32):
        s = raw(u.hostname, u.port, "127.0.0.9")
        s.sendall((f"PUT {u.path}/{container}/stall-{i}.mp4 HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\n"
                   "Content-Length: 1000000\r\n\r\n").encode() + b"0123456789")
        stalled.append(s)
    time.sleep(1.0)
    for s in stalled:
        s.settimeout(0.1)
        try:
            head = s.recv(64)
            answers.append(head.split(b" ")[1].decode() if head else "closed")
        except socket.timeout:
            answers.append("waiting")
        s.settimeout(1.0)
    out = {"stalled": sorted(answers)}
    other = swift.Connection(authurl=args.url + "/auth/v1.0", user=args.other_dock, key=args.other_secret, auth_version="1", retries=0)
    other_user = str(uuid.uuid4())
    other.put_object("Users", other_user, contents=b"", headers={"X-Object-Meta-UserID": args.officer, "X-Object-Meta-Name": "PC"})
    other_container = f"{other_user}_{args.camera}_20251125T100000Z"
    other.put_container(other_container, headers={"X-Container-Meta-UserID": other_user})
    data = open(args.clip, "rb").read()
    started = time.monotonic()
    try:
        other.put_object(other_container, "clip.mp4", contents=data)
        out["other_dock"] = 201
    except Exception as e:
        out["other_dock"] = getattr(e, "http_status", repr(e))
    out["other_dock_seconds"] = time.monotonic() - started
    try:
        conn.put_object(container, "meanwhile.mp4", contents=data)
        out["same_dock_meanwhile"] = 201
    except Exception as e:
        out["same_dock_meanwhile"] = getattr(e, "http_status", repr(e))
    # The stalled bodies are cut off once idle for the server's body timeout.
    waited = time.monotonic()
    cut = [closed_after(s, limit=30) for s in stalled]
    out["stalled_cut_within"] = max((c for c in cut if c is not None), default=None)
    out["stalled_never_cut"] = sum(c is None for c in cut)
    out["waited"] = time.monotonic() - waited
    try:
        conn.put_object(container, "afterwards.mp4", contents=data)
        out["same_dock_afterwards"] = 201
    except Exception as e:
        out["same_dock_afterwards"] = getattr(e, "http_status", repr(e))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("--url", required=True)
    p.add_argument("--dock", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--other-dock")
    p.add_argument("--other-secret")
    p.add_argument("--officer", default="4471")
    p.add_argument("--camera", default="CAM-1")
    p.add_argument("--clip")
    args = p.parse_args()
    scenarios = {"sign-ins": sign_ins, "timing": timing, "slow-headers": slow_headers, "slow-bodies": slow_bodies}
    print(json.dumps(scenarios[args.scenario](args)))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print(json.dumps({"exception": repr(e)}))
        sys.exit(1)
