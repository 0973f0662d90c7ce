"""Drives bwv's Axis content destination with python-swiftclient, the way an Axis docking system
speaks to it (a Swift subset). Prints one JSON object; exits non-zero on failure.

Used by tests/serve_axis.rs.
"""
import argparse
import hashlib
import json
import sys
import threading
import time
import uuid

import requests
from swiftclient import client as swift
from swiftclient.exceptions import ClientException


def connect(args, retries=0):
    return swift.Connection(authurl=args.url + "/auth/v1.0", user=args.dock, key=args.secret,
                            auth_version="1", retries=retries, cacert=args.cacert)


def caps(args):
    """Authenticates and reads the capabilities: enough to prove the transport works."""
    headers, body = connect(args).get_object("System", "Capabilities.json")
    return {"etag_ok": headers["etag"] == md5_of(body)}


def status_of(fn):
    try:
        fn()
        return 201
    except ClientException as e:
        return e.http_status


def container_headers(user, camera, status="Transferring", **extra):
    h = {
        "X-Container-Meta-UserID": user,
        "X-Container-Meta-BWCSerialNumber": camera,
        "X-Container-Meta-SCUSerialNumber": "SCU-0001",
        "X-Container-Meta-FirmwareVersion": "11.2.3",
        "X-Container-Meta-TriggerOn": "Button",
        "X-Container-Meta-TriggerOnTime": "1764065700",
        "X-Container-Meta-TriggerOnTimeISO": "2025-11-25T10:15:00Z",
        "X-Container-Meta-StartTimeISO": "2025-11-25T10:14:30Z",
        "X-Container-Meta-TimeZone": "Europe/London",
        "X-Container-Meta-BWCModel": "W110",
        "X-Container-Meta-Status": status,
    }
    h.update(extra)
    return h


def md5_of(data):
    return hashlib.md5(data).hexdigest()


def full(args):
    conn = connect(args, retries=3)
    out = {}
    for name in ("Capabilities.json", "Categories.json"):
        headers, body = conn.get_object("System", name)
        out[name] = {"etag_ok": headers["etag"] == md5_of(body), "body": json.loads(body)}
    conn.put_object("System", "SYSTEM-0001", contents=b"", headers={
        "X-Object-Meta-ConnectionId": "conn-1", "X-Object-Meta-SystemName": "Custody suite docks"})
    headers, _ = conn.get_object("System", "SYSTEM-0001")
    out["system_name"] = requests.utils.unquote(headers.get("x-object-meta-systemname", ""))
    user_uuid = str(uuid.uuid4())
    conn.put_object("Users", user_uuid, contents=b"", headers={
        "X-Object-Meta-UserID": args.user, "X-Object-Meta-Name": "PC Jane Smith", "X-Object-Meta-Active": "True"})
    conn.put_object("Devices", args.camera, contents=b"", headers={
        "X-Object-Meta-Model": "W110", "X-Object-Meta-Name": "Camera 7", "X-Object-Meta-Active": "True"})

    complete = f"{args.user}_{args.camera}_20251125T101500Z"
    conn.put_container(complete, headers=container_headers(args.user, args.camera))
    etags = []
    for i, path in enumerate(args.clips):
        data = open(path, "rb").read()
        name = f"2025112{i}T101430Z_rec{i}.mkv"
        etag = conn.put_object(complete, name, contents=data, etag=md5_of(data), headers={
            "X-Object-Meta-StartTimeISO": "2025-11-25T10:14:30Z", "X-Object-Meta-ContainerType": "mkv"})
        etags.append({"name": name, "etag": etag, "md5": md5_of(data), "sha256": hashlib.sha256(data).hexdigest()})
        key = json.dumps({"EncryptedKey": "c2VjcmV0", "ContentEncryptionIV": "aXY="}).encode()
        conn.put_object(complete, f"2025112{i}T101430Z_rec{i}.key", contents=key, headers={"X-Object-Meta-FileType": "key"})
    conn.put_object(complete, "bookmark_20251125T101600Z_1", contents="Suspect detained at the scene".encode(), headers={
        "X-Object-Meta-CategoryID": "1", "X-Object-Meta-CategoryName": "Arrest",
        "X-Object-Meta-Tags": "incident:CAD-1234;unknownkey:x", "X-Object-Meta-StartTime": "2025-11-25T10:16:00Z"})
    track = {"CoordinateEntries": [
        {"LocationWKT": "POINT(-1.8904 52.4862)", "SecondsFromStart": 0.0, "Timestamp": "2025-11-25T10:14:30Z"},
        {"LocationWKT": "POINT(-1.8910 52.4870)", "SecondsFromStart": 64.0, "Timestamp": "2025-11-25T10:15:34Z"},
    ]}
    conn.put_object(complete, f"20251125_101430_rec0_{args.camera}_gpstrail.json", contents=json.dumps(track).encode(),
                    headers={"X-Object-Meta-FileType": "json"})
    conn.post_container(complete, headers={"X-Container-Meta-Status": "Complete",
                                           "X-Container-Meta-StopTimeISO": "2025-11-25T10:20:00Z"})

    unfinished = f"{args.user}_{args.camera}_20251125T113000Z"
    conn.put_container(unfinished, headers=container_headers(args.user, args.camera))
    data = open(args.clips[0], "rb").read()
    conn.put_object(unfinished, "20251125T113000Z_rec9.mkv", contents=data)
    out.update({"complete": complete, "unfinished": unfinished, "clips": etags})
    return out


def refusals(args):
    conn = connect(args)
    out = {}
    conn.put_container(f"{args.user}_{args.camera}_20251125T120000Z", headers=container_headers(args.user, args.camera))
    good = f"{args.user}_{args.camera}_20251125T120000Z"
    out["unknown_user"] = status_of(lambda: conn.put_container("9999_CAM_20251125T120000Z", headers=container_headers("9999", args.camera)))
    out["unknown_camera"] = status_of(lambda: conn.put_container(f"{args.user}_NOPE_20251125T120000Z", headers=container_headers(args.user, "NOPE")))
    out["zero_length_clip"] = status_of(lambda: conn.put_object(good, "20251125T120000Z_a.mkv", contents=b""))
    out["etag_mismatch"] = status_of(lambda: conn.put_object(good, "20251125T120000Z_b.mkv", contents=b"clip bytes", etag=md5_of(b"other")))
    out["control_chars_object"] = status_of(lambda: conn.put_object(good, "clip\x01.mkv", contents=b"x"))
    out["dot_object"] = status_of(lambda: conn.put_object(good, ".hidden.mkv", contents=b"x"))
    out["oversized_metadata"] = status_of(lambda: conn.put_object(good, "20251125T120000Z_c.mkv", contents=b"x",
                                                                  headers={"X-Object-Meta-StartLocation": "x" * 300}))
    url, token = conn.get_auth()
    h = {"X-Auth-Token": token}
    # Dot segments a client would normalise away are sent encoded, as an attacker would.
    out["traversal_container"] = requests.put(f"{url}/..%2F..%2Fetc", headers=h).status_code
    out["traversal_object"] = requests.put(f"{url}/{good}/..%2F..%2Fescape.mkv", headers=h, data=b"x").status_code
    out["other_account"] = requests.put(url.rsplit("/", 1)[0] + "/AUTH_someoneelse/box", headers=h).status_code
    out["read_outside_system"] = requests.get(f"{url}/{good}/20251125T120000Z_b.mkv", headers=h).status_code
    out["delete"] = requests.delete(f"{url}/{good}", headers=h).status_code
    out["no_token"] = requests.put(f"{url}/{good}/x.mkv", data=b"x").status_code
    out["bad_key"] = requests.get(args.url + "/auth/v1.0", headers={"X-Auth-User": args.dock, "X-Auth-Key": "wrong"}).status_code
    out["missing_system_object"] = requests.get(f"{url}/System/nothing-here", headers=h).status_code
    out["complete_without_clips"] = status_of(lambda: conn.post_container(good, headers={"X-Container-Meta-Status": "Complete"}))
    return out


def rejected(args):
    conn = connect(args)
    name = f"RejectedContent_UnknownTime_{uuid.uuid4()}"
    conn.put_container(name, headers={"X-Container-Meta-RejectedContentOriginalContainer": "broken_container",
                                      "X-Container-Meta-RejectedContentReason": "UnknownUser"})
    conn.put_object(name, "whatever.bin", contents=b"odd bytes")
    conn.put_object(name, "20251125T101430Z_r.mkv", contents=b"")
    conn.post_container(name, headers={"X-Container-Meta-Status": "Complete"})
    return {"container": name}


def register(args):
    """Registers cameras until the licence limit refuses one."""
    conn = connect(args)
    return {"statuses": [status_of(lambda i=i: conn.put_object("Devices", f"LIC-{i}", contents=b"",
                                                               headers={"X-Object-Meta-Active": "True"})) for i in range(3)]}


def busy(args):
    """A second upload while the only slot is taken gets 503 with Retry-After."""
    conn = connect(args)
    name = f"{args.user}_{args.camera}_20251125T130000Z"
    conn.put_container(name, headers=container_headers(args.user, args.camera))
    url, token = conn.get_auth()
    result = {}

    def slow():
        def body():
            for _ in range(10):
                yield b"y" * 65536
                time.sleep(0.2)
        result["slow"] = requests.put(f"{url}/{name}/slow.mkv", headers={"X-Auth-Token": token}, data=body()).status_code

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.6)
    second = requests.put(f"{url}/{name}/quick.mkv", headers={"X-Auth-Token": token}, data=b"quick")
    t.join()
    result.update({"second": second.status_code, "retry_after": second.headers.get("Retry-After")})
    return result


def big(args):
    """One clip larger than the store can keep: refused before a byte is accepted."""
    conn = connect(args)
    name = f"{args.user}_{args.camera}_20251125T140000Z"
    conn.put_container(name, headers=container_headers(args.user, args.camera))
    return {"status": status_of(lambda: conn.put_object(name, "20251125T140000Z_big.mkv", contents=b"z" * (4 << 20)))}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("--url", required=True)
    p.add_argument("--dock", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--user", default="5512")
    p.add_argument("--camera", default="W110-0001")
    p.add_argument("--clips", nargs="*")
    p.add_argument("--cacert")
    args = p.parse_args()
    scenarios = {"caps": caps, "full": full, "refusals": refusals, "rejected": rejected, "register": register, "busy": busy, "big": big}
    print(json.dumps(scenarios[args.scenario](args)))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print(json.dumps({"exception": repr(e)}))
        sys.exit(1)
