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


def controller_user(conn, user_id=None, name="PC Jane Smith", active="True"):
    """Registers a user the way an Axis controller does: `Users/<UserUUID>`, the UUID its own,
    `UserID` (the force's id) only when it stores one. Returns the UUID recordings will name."""
    user_uuid = str(uuid.uuid4())
    headers = {"X-Object-Meta-Name": name, "X-Object-Meta-Active": active}
    if user_id:
        headers["X-Object-Meta-UserID"] = user_id
    conn.put_object("Users", user_uuid, contents=b"", headers=headers)
    return user_uuid


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
    user = controller_user(conn, args.user, "Jane Smith (BWM)")
    conn.put_object("Devices", args.camera, contents=b"", headers={
        "X-Object-Meta-Model": "W110", "X-Object-Meta-Name": "Camera 7", "X-Object-Meta-Active": "True"})

    complete = f"{user}_{args.camera}_20251125T101500Z"
    conn.put_container(complete, headers=container_headers(user, args.camera))
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

    unfinished = f"{user}_{args.camera}_20251125T113000Z"
    conn.put_container(unfinished, headers=container_headers(user, args.camera))
    data = open(args.clips[0], "rb").read()
    conn.put_object(unfinished, "20251125T113000Z_rec9.mkv", contents=data)
    out.update({"complete": complete, "unfinished": unfinished, "clips": etags, "user_uuid": user})
    return out


def refusals(args):
    conn = connect(args)
    out = {}
    user = controller_user(conn, args.user)
    good = f"{user}_{args.camera}_20251125T120000Z"
    conn.put_container(good, headers=container_headers(user, args.camera))
    stranger = str(uuid.uuid4())
    out["unknown_user"] = status_of(lambda: conn.put_container(f"{stranger}_{args.camera}_20251125T120000Z",
                                                               headers=container_headers(stranger, args.camera)))
    out["unknown_camera"] = status_of(lambda: conn.put_container(f"{user}_NOPE_20251125T120000Z", headers=container_headers(user, "NOPE")))
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
    user = controller_user(conn, args.user)
    name = f"{user}_{args.camera}_20251125T130000Z"
    conn.put_container(name, headers=container_headers(user, args.camera))
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
    user = controller_user(conn, args.user)
    name = f"{user}_{args.camera}_20251125T140000Z"
    conn.put_container(name, headers=container_headers(user, args.camera))
    return {"status": status_of(lambda: conn.put_object(name, "20251125T140000Z_big.mkv", contents=b"z" * (4 << 20)))}


def deliver_one(conn, user, camera, clips, stamp="20251125T150000Z", start_iso="2025-11-25T15:00:00Z", **extra):
    """One recording as a controller delivers it: container, clips, Status: Complete. Returns the
    container and the status of the step that failed (201 when none did)."""
    name = f"{user}_{camera}_{stamp}"
    steps = [
        ("container", lambda: conn.put_container(name, headers=container_headers(
            user, camera, **{"X-Container-Meta-StartTimeISO": start_iso,
                             "X-Container-Meta-TriggerOnTimeISO": start_iso}, **extra))),
    ]
    for i, path in enumerate(clips):
        data = open(path, "rb").read()
        steps.append((f"clip{i}", lambda i=i, data=data: conn.put_object(
            name, f"{stamp}_r{i}.mp4", contents=data, etag=md5_of(data))))
    steps.append(("complete", lambda: conn.post_container(name, headers={"X-Container-Meta-Status": "Complete"})))
    for step, fn in steps:
        try:
            fn()
        except ClientException as e:
            return {"container": name, "status": e.http_status, "step": step,
                    "message": (e.http_response_content or b"").decode(errors="replace")}
    return {"container": name, "status": 201}


def deliver(args):
    """Registers a user as a controller does (unless --user-uuid names one) and delivers one
    recording for it."""
    conn = connect(args)
    user = args.user_uuid or controller_user(conn, args.user or None, args.name)
    return {"user_uuid": user, **deliver_one(conn, user, args.camera, args.clips, args.stamp, args.start_iso)}


SCRIPT = "<script>alert('officer')</script>"


def hostile(args):
    """What an insider with a dock credential tried: deactivate and rename the force's officer and
    camera for everyone, then deliver footage under that officer with a script for a name."""
    conn = connect(args)
    user = controller_user(conn, args.user, SCRIPT, active="False")
    out = {"user_uuid": user}
    out["device"] = status_of(lambda: conn.put_object("Devices", args.camera, contents=b"", headers={
        "X-Object-Meta-Active": "False", "X-Object-Meta-Name": SCRIPT, "X-Object-Meta-Model": SCRIPT}))
    out.update(deliver_one(conn, user, args.camera, args.clips, "20251125T160000Z", "2025-11-25T16:00:00Z"))
    return out


def after_complete(args):
    """Once a container is complete, its metadata and its objects' metadata stay as they were."""
    conn = connect(args)
    user = args.user_uuid or controller_user(conn, args.user)
    done = deliver_one(conn, user, args.camera, args.clips, "20251125T170000Z", "2025-11-25T17:00:00Z")
    name = done["container"]
    clip = "20251125T170000Z_r0.mp4"
    out = {"delivered": done["status"]}
    out["repeat_complete"] = status_of(lambda: conn.post_container(name, headers={"X-Container-Meta-Status": "Complete"}))
    out["post_user"] = status_of(lambda: conn.post_container(name, headers={"X-Container-Meta-UserID": "someone-else"}))
    out["put_start"] = status_of(lambda: conn.put_container(name, headers={
        "X-Container-Meta-StartTimeISO": "2020-01-01T00:00:00Z", "X-Container-Meta-Status": "Complete"}))
    out["post_serial"] = status_of(lambda: conn.post_container(name, headers={"X-Container-Meta-BWCSerialNumber": "OTHER"}))
    out["post_object"] = status_of(lambda: conn.post_object(name, clip, headers={"X-Object-Meta-StartTimeISO": "2020-01-01T00:00:00Z"}))
    out["container"] = name
    return out


def twice(args):
    """A clip sent twice under one name before Complete: both sets of bytes are kept."""
    conn = connect(args)
    user = args.user_uuid or controller_user(conn, args.user)
    name = f"{user}_{args.camera}_20251125T180000Z"
    conn.put_container(name, headers=container_headers(user, args.camera))
    first, second = (open(p, "rb").read() for p in args.clips[:2])
    conn.put_object(name, "20251125T180000Z_r0.mp4", contents=first, etag=md5_of(first))
    conn.put_object(name, "20251125T180000Z_r0.mp4", contents=second, etag=md5_of(second))
    conn.post_container(name, headers={"X-Container-Meta-Status": "Complete"})
    return {"container": name, "first": hashlib.sha256(first).hexdigest(), "second": hashlib.sha256(second).hexdigest()}


def race(args):
    """Clips sent while the container completes: those whose bytes all arrived before Complete
    are part of the recording; those still arriving when it completed are refused, and their
    bytes stay accounted for as refused content."""
    conn = connect(args)
    user = args.user_uuid or controller_user(conn, args.user)
    name = f"{user}_{args.camera}_20251125T190000Z"
    conn.put_container(name, headers=container_headers(user, args.camera))
    first = b"first clip " + uuid.uuid4().bytes
    conn.put_object(name, "20251125T190000Z_first.mp4", contents=first)
    url, token = conn.get_auth()
    statuses = {}
    arrived = threading.Barrier(9)

    def put(i, slow):
        data = f"racing clip {i} ".encode() + uuid.uuid4().bytes * 4096

        def body():
            yield data[: len(data) // 2]
            if slow:
                time.sleep(1.5)  # Complete is sent meanwhile
            yield data[len(data) // 2:]

        def fast():
            r = requests.put(f"{url}/{name}/20251125T190000Z_c{i}.mp4", headers={"X-Auth-Token": token}, data=data)
            arrived.wait()
            return r

        r = requests.put(f"{url}/{name}/20251125T190000Z_c{i}.mp4", headers={"X-Auth-Token": token},
                         data=body()) if slow else fast()
        statuses[hashlib.sha256(data).hexdigest()] = {"status": r.status_code, "slow": slow}

    threads = [threading.Thread(target=put, args=(i, i % 2 == 1)) for i in range(16)]
    for t in threads:
        t.start()
    arrived.wait()  # every fast clip has been answered
    time.sleep(0.3)
    completed = status_of(lambda: conn.post_container(name, headers={"X-Container-Meta-Status": "Complete"}))
    for t in threads:
        t.join()
    return {"container": name, "complete": completed, "statuses": statuses}


def two_nodes(args):
    """One container fed through two nodes (a dock behind a load balancer), its clips split
    between them, then Complete sent through both at the same moment: the recording completes
    once, with every clip."""
    conns = [connect(args), connect(argparse.Namespace(**{**vars(args), "url": args.url2}))]
    user = args.user_uuid or controller_user(conns[0], args.user)
    stamp = "20251125T200000Z"
    name = f"{user}_{args.camera}_{stamp}"
    conns[1].put_container(name, headers=container_headers(user, args.camera))
    clips = []
    for i, path in enumerate(args.clips):
        data = open(path, "rb").read()
        conns[i % 2].put_object(name, f"{stamp}_r{i}.mp4", contents=data, etag=md5_of(data))
        clips.append(hashlib.sha256(data).hexdigest())
    go = threading.Barrier(2)
    statuses = [None, None]

    def complete(i):
        go.wait()
        statuses[i] = status_of(lambda: conns[i].post_container(name, headers={"X-Container-Meta-Status": "Complete"}))

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"container": name, "complete": statuses, "clips": clips}


def refile(args):
    """An open container told afterwards that it is another user's or another camera's."""
    conn = connect(args)
    user = args.user_uuid or controller_user(conn, args.user)
    name = f"{user}_{args.camera}_20251125T210000Z"
    conn.put_container(name, headers=container_headers(user, args.camera))
    other = controller_user(conn, args.user, "Someone else")
    return {
        "post_user": status_of(lambda: conn.post_container(name, headers={"X-Container-Meta-UserID": other})),
        "post_serial": status_of(lambda: conn.post_container(name, headers={"X-Container-Meta-BWCSerialNumber": "CAM-2"})),
        "same_again": status_of(lambda: conn.post_container(name, headers={"X-Container-Meta-UserID": user})),
    }


def put_user(args):
    """A controller registering or updating one of its users."""
    conn = connect(args)
    user = args.user_uuid or str(uuid.uuid4())
    headers = {"X-Object-Meta-Name": args.name, "X-Object-Meta-Active": args.active}
    if args.user:
        headers["X-Object-Meta-UserID"] = args.user
    return {"user_uuid": user, "status": status_of(lambda: conn.put_object("Users", user, contents=b"", headers=headers))}


def junk(args):
    """A non-clip object sent chunked, with no length, is bounded like any small object."""
    conn = connect(args)
    user = args.user_uuid or controller_user(conn, args.user)
    name = f"{user}_{args.camera}_20251125T200000Z"
    conn.put_container(name, headers=container_headers(user, args.camera))
    url, token = conn.get_auth()

    def body():
        for _ in range(100):
            yield b"j" * (1 << 20)

    try:
        r = requests.put(f"{url}/{name}/junk.bin", headers={"X-Auth-Token": token}, data=body())
        status = r.status_code
    except requests.RequestException:
        status = "reset"
    return {"junk": status}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("--url", required=True)
    p.add_argument("--url2", help="a second node on the same catalogue and store")
    p.add_argument("--dock", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--user", default="5512")
    p.add_argument("--camera", default="W110-0001")
    p.add_argument("--clips", nargs="*")
    p.add_argument("--cacert")
    p.add_argument("--name", default="PC Jane Smith")
    p.add_argument("--user-uuid")
    p.add_argument("--stamp", default="20251125T150000Z")
    p.add_argument("--start-iso", default="2025-11-25T15:00:00Z")
    p.add_argument("--active", default="True")
    args = p.parse_args()
    scenarios = {"caps": caps, "full": full, "refusals": refusals, "rejected": rejected, "register": register, "busy": busy,
                 "big": big, "deliver": deliver, "hostile": hostile, "after-complete": after_complete, "twice": twice,
                 "race": race, "junk": junk, "put-user": put_user, "refile": refile,
                 "two-nodes": two_nodes}
    print(json.dumps(scenarios[args.scenario](args)))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print(json.dumps({"exception": repr(e)}))
        sys.exit(1)
