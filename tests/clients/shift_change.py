"""A shift change at a station: many docking stations at once, each with its own credential,
half Axis controllers (python-swiftclient: sign in, register their officer as `Users/<UUID>`,
container, clip, Status: Complete) and half tus clients (tuspy), one clip each, all started
together. Prints one JSON object with every outcome; exits non-zero only if the script broke.

usage: shift_change.py --url URL --docks-file FILE --clip FILE --officer ID --camera SERIAL
(FILE: one JSON object per line, {"name": ..., "secret": ..., "door": "axis"|"tus"}, and
optionally "camera": the dock's own camera instead of --camera)
"""
import argparse
import base64
import hashlib
import io
import json
import sys
import threading
import time
import uuid

from swiftclient import client as swift
from swiftclient.exceptions import ClientException
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError


def axis(args, dock, data, barrier):
    conn = swift.Connection(authurl=args.url + "/auth/v1.0", user=dock["name"], key=dock["secret"],
                            auth_version="1", retries=0, timeout=120)
    barrier.wait()
    user = str(uuid.uuid4())
    conn.put_object("Users", user, contents=b"", headers={
        "X-Object-Meta-UserID": args.officer, "X-Object-Meta-Name": f"Officer at {dock['name']}",
        "X-Object-Meta-Active": "True"})
    camera = dock.get("camera", args.camera)
    container = f"{user}_{camera}_20251125T070000Z"
    conn.put_container(container, headers={
        "X-Container-Meta-UserID": user, "X-Container-Meta-BWCSerialNumber": camera,
        "X-Container-Meta-Status": "Transferring", "X-Container-Meta-StartTimeISO": "2025-11-25T07:00:00Z"})
    # Sent over a couple of seconds, as over a station's network, so every dock's body is open
    # at the same time.
    def slowly():
        for at in range(0, len(data), 64 << 10):
            yield data[at:at + (64 << 10)]
            time.sleep(0.25)

    etag = conn.put_object(container, "20251125T070000Z_1.mp4", contents=slowly(), etag=hashlib.md5(data).hexdigest())
    conn.post_container(container, headers={"X-Container-Meta-Status": "Complete"})
    return {"etag": etag}


def tus_upload(args, dock, data, barrier):
    token = base64.b64encode(f"{dock['name']}:{dock['secret']}".encode()).decode()
    client = tus.TusClient(args.url + "/files/", headers={"Authorization": f"Basic {token}"})
    barrier.wait()
    uploader = client.uploader(file_stream=io.BytesIO(data), chunk_size=1 << 20, retries=0,
                               metadata={"officer": args.officer, "device": dock.get("camera", args.camera),
                                         "filename": f"{dock['name']}.mp4"})
    uploader.upload()
    return {"url": uploader.url}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--docks-file", required=True)
    p.add_argument("--clip", required=True)
    p.add_argument("--officer", required=True)
    p.add_argument("--camera", required=True)
    args = p.parse_args()
    docks = [json.loads(line) for line in open(args.docks_file) if line.strip()]
    data = open(args.clip, "rb").read()
    barrier = threading.Barrier(len(docks), timeout=120)
    results = {}

    def run(dock):
        # Every camera's footage is its own: the same clip, ended with the dock's name.
        mine = data + dock["name"].encode()
        sha256 = hashlib.sha256(mine).hexdigest()
        started = time.monotonic()
        try:
            fn = axis if dock["door"] == "axis" else tus_upload
            out = fn(args, dock, mine, barrier)
            results[dock["name"]] = {"ok": True, "seconds": time.monotonic() - started, "sha256": sha256, **out}
        except ClientException as e:
            results[dock["name"]] = {"ok": False, "status": e.http_status,
                                     "error": (e.http_response_content or b"")[:300].decode(errors="replace")}
        except TusCommunicationError as e:
            results[dock["name"]] = {"ok": False, "status": e.status_code, "error": str(e)[:300]}
        except Exception as e:  # a timeout, a reset: reported as such
            results[dock["name"]] = {"ok": False, "status": None, "error": repr(e)[:300]}

    threads = [threading.Thread(target=run, args=(d,)) for d in docks]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"seconds": time.monotonic() - started, "results": results}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print(json.dumps({"exception": repr(e)}))
        sys.exit(1)
