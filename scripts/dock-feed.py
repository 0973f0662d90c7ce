"""Acts as an Axis docking station: reads a bwv connection file and delivers media files to the
content destination the way a body worn system controller does (python-swiftclient). Like a
controller, it first registers its user as `Users/<UserUUID>` (a UUID of its own, with the
force's `UserID` and a display `Name`) and the camera as `Devices/<serial>`, then delivers one
recording container per file, named `<UserUUID>_<serial>_<TriggerOnTime>`: its clip, a bookmark
when the officer chose a category on the camera, then Status: Complete.
Used by scripts/run to feed the fixtures.

usage: dock-feed.py CONNECTION_FILE USER_ID CAMERA_SERIAL FILE...
"""
import hashlib
import json
import os
import sys
import time
import uuid

from swiftclient import client as swift
from swiftclient.exceptions import ClientException


# Categories the demo officer chose on the camera for some recordings (Categories.json ids).
CHOSEN = {
    "axis-h264-aac.mkv": ("1", "Arrest"),
    "h264-aac.mp4": ("2", "Stop and search"),
    "hevc-aac.mp4": ("3", "Public order"),
    "prerecord-noaudio.mp4": ("4", "Test recording"),
}


def main():
    conn_file, user, camera, *files = sys.argv[1:]
    cfg = json.load(open(conn_file))
    conn = swift.Connection(authurl=cfg["AuthenticationTokenURI"][0], user=cfg["BlobAPIUserName"],
                            key=cfg["BlobAPIKey"], auth_version="1", retries=2)
    # The controller's own id for the officer; recordings name it, never the force's UserID.
    user_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cfg['BlobAPIUserName']}/{user}"))
    conn.put_object("Users", user_uuid, contents=b"", headers={
        "X-Object-Meta-UserID": user, "X-Object-Meta-Name": "Demo officer", "X-Object-Meta-Active": "True"})
    conn.put_object("Devices", camera, contents=b"", headers={
        "X-Object-Meta-Name": "Demo camera", "X-Object-Meta-Model": "W110", "X-Object-Meta-Active": "True"})
    delivered = refused = 0
    for i, path in enumerate(sorted(files)):
        started = time.gmtime(os.path.getmtime(path) + i)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", started)
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", started)
        container = f"{user_uuid}_{camera}_{stamp}"
        name = os.path.basename(path)
        data = open(path, "rb").read()
        try:
            conn.put_container(container, headers={
                "X-Container-Meta-UserID": user_uuid, "X-Container-Meta-BWCSerialNumber": camera,
                "X-Container-Meta-Status": "Transferring", "X-Container-Meta-StartTimeISO": iso,
                "X-Container-Meta-TriggerOnTimeISO": iso})
            conn.put_object(container, f"{stamp}_{i:04d}_{name}", contents=data, etag=hashlib.md5(data).hexdigest())
            if name in CHOSEN:
                cat_id, cat_name = CHOSEN[name]
                conn.put_object(container, f"bookmark_{stamp}_1", contents=b"", headers={
                    "X-Object-Meta-CategoryID": cat_id, "X-Object-Meta-CategoryName": cat_name,
                    "X-Object-Meta-StartTime": iso})
            conn.post_container(container, headers={"X-Container-Meta-Status": "Complete"})
            print(f"delivered  {name:<28} sha256:{hashlib.sha256(data).hexdigest()}")
            delivered += 1
        except ClientException as e:
            # What a dock does with a 400: keep the footage and mark it "not transferred".
            print(f"refused    {name:<28} HTTP {e.http_status}: {e.http_response_content.decode(errors='replace')}")
            refused += 1
    print(f"{delivered} delivered, {refused} refused (kept on the dock for a person to look at)")


if __name__ == "__main__":
    main()
