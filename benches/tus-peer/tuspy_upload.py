"""One tus upload through tuspy, in chunks of CHUNK bytes (one PATCH each). Prints the final
response's Bwv-Sha256 header (null from servers that do not send one). For benches/tus.rs.

usage: python tuspy_upload.py ENDPOINT FILE CHUNK [AUTHORIZATION]
"""

import json
import sys

from tusclient import client

endpoint, path, chunk = sys.argv[1:4]
headers = {"Authorization": sys.argv[4]} if len(sys.argv) > 4 else {}
uploader = client.TusClient(endpoint, headers=headers).uploader(
    file_path=path,
    chunk_size=int(chunk),
    metadata={"officer": "4471", "device": "BENCH-1", "filename": "footage.mp4"},
)
uploader.upload()
print(json.dumps({"sha256": uploader.request.response_headers.get("bwv-sha256")}))
