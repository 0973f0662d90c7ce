"""Drives bwv's tus door with tuspy (a tus client nobody here wrote) and, where a scenario needs
to misbehave on purpose, with plain requests. Prints one JSON object; exits non-zero on failure.

Used by tests/serve_tus.rs; every scenario takes --url (the server) and --dock/--secret.
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import threading
import time

import requests
from tusclient import client as tus


def auth_headers(args):
    token = base64.b64encode(f"{args.dock}:{args.secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def tus_client(args):
    return tus.TusClient(args.url + "/files/", headers=auth_headers(args))


def metadata(args, path):
    meta = {"officer": args.officer, "device": args.device, "filename": path.rsplit("/", 1)[-1]}
    for kv in args.meta or []:
        k, v = kv.split("=", 1)
        meta[k] = v
    return meta


def head(args, url):
    r = requests.head(url, headers={**auth_headers(args), "Tus-Resumable": "1.0.0"})
    return r


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def finished(args, url, path):
    r = head(args, url)
    return {
        "url": url,
        "status": r.status_code,
        "offset": int(r.headers.get("Upload-Offset", -1)),
        "recording_id": r.headers.get("Bwv-Recording-Id"),
        "sha256": sha256_file(path),
    }


def upload(args):
    uploader = tus_client(args).uploader(file_path=args.file, chunk_size=args.chunk, metadata=metadata(args, args.file))
    uploader.upload()
    return finished(args, uploader.url, args.file)


def partial(args):
    uploader = tus_client(args).uploader(file_path=args.file, chunk_size=args.chunk, metadata=metadata(args, args.file))
    uploader.upload(stop_at=args.stop_at)
    return {"url": uploader.url, "offset": uploader.offset}


def resume(args):
    # A new client that only knows the upload URL: it asks the server for the offset (HEAD).
    uploader = tus_client(args).uploader(file_path=args.file, url=args.upload_url, chunk_size=args.chunk)
    start = uploader.get_offset()
    uploader.upload()
    return {**finished(args, args.upload_url, args.file), "resumed_from": start}


def create_raw(args, length, meta=None):
    meta = meta or {"officer": args.officer, "device": args.device}
    encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    return requests.post(
        args.url + "/files/",
        headers={**auth_headers(args), "Tus-Resumable": "1.0.0", "Upload-Length": str(length), "Upload-Metadata": encoded},
    )


def patch_raw(args, url, offset, body, extra=None):
    headers = {**auth_headers(args), "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
               "Content-Type": "application/offset+octet-stream", **(extra or {})}
    return requests.patch(url, headers=headers, data=body)


def bad_checksum(args):
    """A PATCH whose Upload-Checksum does not match is refused whole; then the dock's own
    sha256 metadata, when wrong, refuses the finished upload: nothing is stored."""
    body = b"evidence that will not match"
    created = create_raw(args, len(body))
    url = created.headers["Location"]
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    first = patch_raw(args, url, 0, body, {"Upload-Checksum": f"sha256 {wrong}"})
    after_first = int(head(args, url).headers["Upload-Offset"])
    right = base64.b64encode(hashlib.sha256(body).digest()).decode()
    second = patch_raw(args, url, 0, body, {"Upload-Checksum": f"sha256 {right}"})
    meta = {"officer": args.officer, "device": args.device, "sha256": hashlib.sha256(b"not this").hexdigest()}
    created2 = create_raw(args, len(body), meta)
    url2 = created2.headers["Location"]
    final = patch_raw(args, url2, 0, body)
    return {
        "wrong_patch": first.status_code, "offset_after_wrong": after_first,
        "right_patch": second.status_code, "right_recording": second.headers.get("Bwv-Recording-Id"),
        "wrong_sha256_final": final.status_code, "final_error": final.json().get("error", {}).get("code"),
        "head_after": head(args, url2).status_code,
    }


def race(args):
    """Two PATCHes on one upload at once: the second is refused (423), not interleaved."""
    size = 8 << 20
    created = create_raw(args, size)
    url = created.headers["Location"]
    results = {}

    def slow_body():
        for _ in range(16):
            yield b"\0" * (256 << 10)
            time.sleep(0.1)

    def first():
        results["first"] = patch_raw(args, url, 0, slow_body()).status_code

    t = threading.Thread(target=first)
    t.start()
    time.sleep(0.5)
    results["second"] = patch_raw(args, url, 0, b"x" * 1024).status_code
    t.join()
    results["offset"] = int(head(args, url).headers["Upload-Offset"])
    return results


def many(args):
    """Several docks at once, each uploading its own file."""
    results = [None] * len(args.files)
    errors = []

    def run(i, dock, secret, path):
        try:
            a = argparse.Namespace(**{**vars(args), "dock": dock, "secret": secret})
            up = tus_client(a).uploader(file_path=path, chunk_size=args.chunk, metadata=metadata(a, path))
            up.upload()
            results[i] = finished(a, up.url, path)
        except Exception as e:  # reported, not swallowed: the scenario fails
            errors.append(f"{dock}: {e!r}")

    docks = [d.split(":", 1) for d in args.docks]
    threads = [threading.Thread(target=run, args=(i, d, s, f)) for i, ((d, s), f) in enumerate(zip(docks, args.files))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"results": results, "errors": errors}


def refused(args):
    """Requests that must be refused, with the status each got."""
    out = {}
    out["zero_length"] = create_raw(args, 0).status_code
    out["unknown_officer"] = create_raw(args, 10, {"officer": "9999", "device": args.device}).status_code
    out["traversal_filename"] = create_raw(args, 10, {"officer": args.officer, "device": args.device, "filename": "../../etc/passwd"}).status_code
    out["control_chars"] = create_raw(args, 10, {"officer": args.officer, "device": args.device, "filename": "clip\x07.mp4"}).status_code
    out["oversized_metadata"] = create_raw(args, 10, {"officer": args.officer, "device": args.device, "note": "x" * 5000}).status_code
    out["no_auth"] = requests.post(args.url + "/files/", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "10"}).status_code
    bad = argparse.Namespace(**{**vars(args), "secret": "wrong"})
    out["bad_secret"] = create_raw(bad, 10).status_code
    opts = requests.options(args.url + "/files/")
    out["options"] = {k: opts.headers.get(k) for k in ("Tus-Version", "Tus-Extension", "Tus-Checksum-Algorithm")}
    return out


def terminate(args):
    created = create_raw(args, 100)
    url = created.headers["Location"]
    patch_raw(args, url, 0, b"x" * 40)
    deleted = requests.delete(url, headers={**auth_headers(args), "Tus-Resumable": "1.0.0"})
    return {"delete": deleted.status_code, "head_after": head(args, url).status_code}


def create_only(args):
    created = create_raw(args, 100)
    patch_raw(args, created.headers["Location"], 0, b"x" * 10)
    return {"url": created.headers["Location"], "status": created.status_code}


def slow_patch(args):
    """Creates an upload and sends half of it slowly, so the server can be stopped mid-PATCH."""
    size = 8 << 20
    created = create_raw(args, size)
    url = created.headers["Location"]
    print(json.dumps({"url": url}), flush=True)

    def body():
        for _ in range(8):
            yield b"s" * (512 << 10)
            time.sleep(0.25)

    try:
        r = patch_raw(args, url, 0, body())
        return {"url": url, "status": r.status_code, "offset": r.headers.get("Upload-Offset")}
    except requests.RequestException as e:
        return {"url": url, "status": None, "error": repr(e)}


def slow_whole(args):
    """One PATCH carrying a whole upload, sent slowly (the test revokes the dock meanwhile)."""
    size = 4 << 20
    created = create_raw(args, size)
    url = created.headers["Location"]

    def body():
        for _ in range(16):
            yield b"w" * (256 << 10)
            time.sleep(0.15)

    r = patch_raw(args, url, 0, body())
    return {"status": r.status_code, "recording": r.headers.get("Bwv-Recording-Id"), "url": url}


def abandoned(args):
    """Creations whose first bytes never go in: the client never learns where the upload is."""
    body = b"evidence that will not match"
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                    {"officer": args.officer, "device": args.device}.items())
    headers = {**auth_headers(args), "Tus-Resumable": "1.0.0", "Upload-Length": str(len(body)),
               "Upload-Metadata": meta, "Content-Type": "application/offset+octet-stream",
               "Upload-Checksum": f"sha256 {wrong}"}
    checksum = requests.post(args.url + "/files/", headers=headers, data=body)
    # A client that declares a body and goes away after ten bytes.
    import socket
    from urllib.parse import urlparse
    u = urlparse(args.url)
    s = socket.create_connection((u.hostname, u.port))
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Upload-Length": "100000", "Content-Length": "100000"}.items()
                   if k != "Upload-Checksum")
    s.sendall(f"POST /files/ HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + b"0123456789")
    time.sleep(0.5)
    s.close()
    time.sleep(1.0)
    return {"checksum": checksum.status_code}


def create_len(args):
    """Creates an upload declaring --length bytes; reports the status."""
    r = create_raw(args, args.length)
    return {"status": r.status_code, "url": r.headers.get("Location"),
            "error": r.json().get("error", {}).get("code") if r.status_code >= 400 else None}


def create_many(args):
    """One dock creating many uploads at the same moment."""
    statuses = []

    def one():
        statuses.append(create_raw(args, 100).status_code)

    threads = [threading.Thread(target=one) for _ in range(args.count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"statuses": sorted(statuses)}


def patch_next(args):
    """One raw PATCH of the next --chunk bytes of --file from the offset the server reports,
    with an Upload-Checksum they do not match if --wrong-checksum; reports its status and error
    code, and the offset afterwards."""
    offset = int(head(args, args.upload_url).headers["Upload-Offset"])
    with open(args.file, "rb") as f:
        f.seek(offset)
        body = f.read(args.chunk)
    extra = None
    if args.wrong_checksum:
        wrong = base64.b64encode(hashlib.sha256(b"not this body").digest()).decode()
        extra = {"Upload-Checksum": f"sha256 {wrong}"}
    r = patch_raw(args, args.upload_url, offset, body, extra)
    return {"status": r.status_code, "from": offset,
            "error": r.json().get("error", {}).get("code") if r.status_code >= 400 else None,
            "offset_after": int(head(args, args.upload_url).headers["Upload-Offset"])}


def long_patch(args):
    """One PATCH carrying a whole upload of 72 MiB that, past 66 MiB, waits until HEAD shows the
    offset the server saved while the PATCH is still running, then sends the rest."""
    size, first = 72 << 20, 66 << 20
    data = os.urandom(size)
    url = create_raw(args, size).headers["Location"]
    seen = {}

    def body():
        for at in range(0, first, 1 << 20):
            yield data[at:at + (1 << 20)]
        deadline = time.time() + 30
        while time.time() < deadline:
            seen["offset"] = int(head(args, url).headers["Upload-Offset"])
            if seen["offset"] > 0:
                break
            time.sleep(0.1)
        yield data[first:]

    r = patch_raw(args, url, 0, body())
    return {"status": r.status_code, "saved_mid_patch": seen.get("offset"),
            "recording_id": r.headers.get("Bwv-Recording-Id"), "sha256": hashlib.sha256(data).hexdigest()}


def status(args):
    r = head(args, args.upload_url)
    return {"status": r.status_code, "offset": r.headers.get("Upload-Offset")}


def on_node(url, node):
    """The same upload URL on another node (docks behind a load balancer reach any of them)."""
    path = url.split("/files/", 1)[1]
    return f"{node}/files/{path}"


def race_nodes(args):
    """Two PATCHes of one upload at the same moment, one through each node, each carrying a
    different whole body: at most one may be taken, and what is stored is exactly its body."""
    size = args.length
    bodies = [os.urandom(16) + bytes([0x41 + i]) * (size - 16) for i in range(2)]
    created = create_raw(args, size)
    url = created.headers["Location"]
    urls = [on_node(url, args.url), on_node(url, args.url2)]
    go = threading.Barrier(2)
    statuses = [None, None]

    def send(i):
        go.wait()
        statuses[i] = patch_raw(args, urls[i], 0, bodies[i]).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = head(args, urls[1])
    return {
        "statuses": statuses,
        "offset": int(done.headers.get("Upload-Offset", -1)),
        "recording_id": done.headers.get("Bwv-Recording-Id"),
        "sha256": [hashlib.sha256(b).hexdigest() for b in bodies],
    }


def move_on(args):
    """A dock whose node stops answering mid-PATCH (the test stops or kills it) carries on with
    the same upload through another node, as it would behind a load balancer: its PATCH is given
    up after --timeout seconds, and the other node is asked until the lease has run out."""
    with open(args.file, "rb") as f:
        data = f.read()
    created = create_raw(args, len(data))
    url = created.headers["Location"]
    sent = {"bytes": 0}

    def trickle():
        for at in range(0, len(data), 256 << 10):
            chunk = data[at:at + (256 << 10)]
            sent["bytes"] += len(chunk)
            yield chunk
            time.sleep(0.05)

    first = None
    try:
        first = patch_raw_timeout(args, url, 0, trickle(), args.timeout).status_code
    except requests.RequestException as e:
        first = type(e).__name__
    other = on_node(url, args.url2)
    locked, deadline = 0, time.time() + 120
    while True:
        r = head(args, other)
        offset = int(r.headers["Upload-Offset"])
        if offset == len(data) and r.headers.get("Bwv-Recording-Id"):
            break
        p = patch_raw(args, other, offset, data[offset:])
        if p.status_code == 423:
            locked += 1
            if time.time() > deadline:
                raise RuntimeError(f"upload still locked after 120 s: {p.text}")
            time.sleep(0.5)
            continue
        if p.status_code != 204:
            raise RuntimeError(f"PATCH on the other node: {p.status_code} {p.text}")
    done = head(args, other)
    return {
        "first": first,
        "sent_first": sent["bytes"],
        "locked": locked,
        "offset": int(done.headers["Upload-Offset"]),
        "recording_id": done.headers.get("Bwv-Recording-Id"),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def patch_raw_timeout(args, url, offset, body, timeout):
    headers = {**auth_headers(args), "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
               "Content-Type": "application/offset+octet-stream"}
    return requests.patch(url, headers=headers, data=body, timeout=timeout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("--url", required=True)
    p.add_argument("--url2", help="a second node sharing the first one's catalogue and staging")
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--dock", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--officer", default="4471")
    p.add_argument("--device", default="CAM-1")
    p.add_argument("--file")
    p.add_argument("--files", nargs="*")
    p.add_argument("--docks", nargs="*")
    p.add_argument("--chunk", type=int, default=4 << 20)
    p.add_argument("--stop-at", type=int)
    p.add_argument("--upload-url")
    p.add_argument("--wrong-checksum", action="store_true")
    p.add_argument("--meta", action="append")
    p.add_argument("--length", type=int, default=100)
    p.add_argument("--count", type=int, default=12)
    args = p.parse_args()
    scenarios = {
        "upload": upload, "partial": partial, "resume": resume, "bad-checksum": bad_checksum,
        "race": race, "many": many, "refused": refused, "terminate": terminate,
        "create-only": create_only, "status": status, "slow-patch": slow_patch,
        "slow-whole": slow_whole, "abandoned": abandoned, "create-len": create_len,
        "create-many": create_many, "race-nodes": race_nodes, "move-on": move_on,
        "patch-next": patch_next, "long-patch": long_patch,
    }
    print(json.dumps(scenarios[args.scenario](args)))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print(json.dumps({"exception": repr(e)}))
        sys.exit(1)
