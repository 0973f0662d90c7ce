"""Plays people using bwv through a browser-like client (python-requests): signing in through a
real OpenID Connect provider (oidc-provider-mock on loopback), then calling the API with the
session cookie and its CSRF token, or with an API token. Prints one JSON object: the result of
each step, in order. Exits non-zero only when the script itself cannot go on.

Used by tests/people.rs. Steps come as a JSON list in --steps-file:
  {"put_user": "alice", "claims": {...}}        the provider's user and claims
  {"sign_in": "alice"}                          the whole code flow, in alice's browser
  {"as": "alice", "method": "GET", "path": "/api/v1/me"}
      optional: "json": body, "csrf": false (leave the CSRF token out), "token": "<name>" (use a
      token saved by "save_token" instead of the session), "save_token": "<name>" (keep the
      "secret" of the response under that name), "headers": {...} (extra request headers),
      "save": {"name": "dotted.path"} (keep a value of the JSON response; "$name" in a later
      path or JSON string is replaced by it, or by the nil UUID when nothing was saved),
      "until": {"dotted.path": "value"} (repeat the request until the response leaves that
      value, for polling a background task; at most two minutes)
  {"sign_out": "alice"}
Results carry the status, the JSON body (or, for other content, its length and SHA-256) and
the headers a player or a download relies on.
"""
import argparse
import hashlib
import json
import re
import sys
import time
from urllib.parse import urlparse, parse_qs

import requests


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--idp", required=True)
    p.add_argument("--steps-file", required=True)
    args = p.parse_args()
    with open(args.steps_file) as f:
        steps = json.load(f)
    browsers = {}
    csrf = {}
    tokens = {}
    saved = {}
    results = []
    for step in steps:
        if "put_user" in step:
            r = requests.put(f"{args.idp}/users/{step['put_user']}", json=step["claims"])
            r.raise_for_status()
            results.append({"status": r.status_code})
        elif "sign_in" in step:
            who = step["sign_in"]
            s = browsers.setdefault(who, requests.Session())
            r = s.get(f"{args.url}/auth/login", params={"next": "/api/v1/me"}, allow_redirects=False)
            result = {"login": r.status_code}
            if r.status_code == 303 or r.status_code == 302 or r.status_code == 307:
                authorize = r.headers["location"]
                q = parse_qs(urlparse(authorize).query)
                result["pkce"] = q.get("code_challenge_method", [None])[0]
                result["nonce"] = "nonce" in q
                # The provider's sign-in page, answered as the person would.
                r = requests.post(authorize, data={"sub": who}, allow_redirects=False)
                callback = r.headers["location"]
                r = s.get(callback, allow_redirects=False)
                result["callback"] = r.status_code
                result["then"] = r.headers.get("location")
                if r.status_code >= 400:
                    result["body"] = safe_json(r)
                cookie = [c for c in s.cookies if c.name == "bwv_session"]
                result["cookie"] = (
                    {"secure": cookie[0].secure, "httponly": cookie[0].has_nonstandard_attr("HttpOnly")}
                    if cookie else None
                )
                me = s.get(f"{args.url}/api/v1/me")
                if me.ok:
                    csrf[who] = me.json().get("csrf_token")
            results.append(result)
        elif "sign_out" in step:
            who = step["sign_out"]
            s = browsers[who]
            r = s.post(f"{args.url}/auth/logout", headers={"X-CSRF-Token": csrf.get(who) or ""},
                       allow_redirects=False)
            results.append({"status": r.status_code})
        else:
            who = step.get("as")
            headers = {}
            if "token" in step:
                s = requests.Session()
                headers["Authorization"] = f"Bearer {tokens.get(step['token'], step['token'])}"
            else:
                s = browsers.setdefault(who, requests.Session())
                if step.get("csrf", True) and csrf.get(who):
                    headers["X-CSRF-Token"] = csrf[who]
            headers.update(step.get("headers", {}))
            path = substitute(step["path"], saved)
            payload = substitute(step.get("json"), saved)
            deadline = time.monotonic() + 120
            while True:
                r = s.request(step.get("method", "GET"), args.url + path, headers=headers,
                              json=payload, allow_redirects=False)
                body = safe_json(r)
                waiting = any(dig(body, k) == v for k, v in step.get("until", {}).items())
                if not waiting or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            if "save_token" in step and isinstance(body, dict) and "secret" in body:
                tokens[step["save_token"]] = body["secret"]
            for name, path_in_body in step.get("save", {}).items():
                value = dig(body, path_in_body)
                if value is not None:
                    saved[name] = value
            result = {"status": r.status_code, "body": body}
            if not r.headers.get("content-type", "").startswith("application/json"):
                result["body"] = None
                result["length"] = len(r.content)
                result["sha256"] = hashlib.sha256(r.content).hexdigest()
            result["headers"] = {k: r.headers[k] for k in
                                 ("content-type", "content-range", "content-disposition",
                                  "accept-ranges", "etag", "cache-control")
                                 if k in r.headers}
            results.append(result)
    print(json.dumps({"results": results}))


NIL = "00000000-0000-0000-0000-000000000000"


def substitute(value, saved):
    """Replaces "$name" in strings (also inside lists and objects) with saved values."""
    if isinstance(value, str):
        return re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", lambda m: str(saved.get(m.group(1), NIL)), value)
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, saved) for k, v in value.items()}
    return value


def dig(body, dotted):
    for part in dotted.split("."):
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


def safe_json(r):
    try:
        return r.json()
    except ValueError:
        return r.text


if __name__ == "__main__":
    sys.exit(main())
