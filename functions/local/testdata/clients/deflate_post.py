"""Sends web-tracking batches compressed with Python's zlib (zlib.compress:
zlib-wrapped deflate) with the x-log-* headers, through urllib.

Reads the same JSON spec on stdin as compressed.mjs (only "deflate") and
prints one JSON array of results."""
import base64
import json
import sys
import urllib.error
import urllib.request
import zlib


def post(url, headers, body):
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=15) as res:
            return res.status, res.headers.get("x-log-requestid", ""), res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("x-log-requestid", ""), e.read()


def main():
    spec = json.load(sys.stdin)
    results = []
    for r in spec["requests"]:
        if r["encoding"] != "deflate":
            raise SystemExit("deflate_post.py sends only deflate, not %r" % r["encoding"])
        raw = base64.b64decode(r["body"])
        body = zlib.compress(raw)
        headers = {
            "Content-Type": "application/json",
            "x-log-apiversion": "0.6.0",
            "x-log-bodyrawsize": str(len(raw)),
            "x-log-compresstype": "deflate",
        }
        status, request_id, answer = post("%s/logstores/%s/track" % (spec["url"], r["logstore"]), headers, body)
        results.append({
            "name": r["name"], "status": status, "requestId": request_id,
            "body": answer.decode("utf-8", "replace"),
            "rawSize": len(raw), "sentSize": len(body), "how": "zlib.compress (Python %s)" % sys.version.split()[0],
        })
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
