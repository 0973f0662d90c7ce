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
      "secret" of the response under that name)
  {"sign_out": "alice"}
"""
import argparse
import json
import sys
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
            r = s.request(step.get("method", "GET"), args.url + step["path"], headers=headers,
                          json=step.get("json"), allow_redirects=False)
            body = safe_json(r)
            if "save_token" in step and isinstance(body, dict) and "secret" in body:
                tokens[step["save_token"]] = body["secret"]
            results.append({"status": r.status_code, "body": body})
    print(json.dumps({"results": results}))


def safe_json(r):
    try:
        return r.json()
    except ValueError:
        return r.text


if __name__ == "__main__":
    sys.exit(main())
