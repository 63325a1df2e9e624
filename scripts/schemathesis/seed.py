"""Gives the generated requests something to find: comments 1-3 on post
`hello-world` (the document's examples), one of them approved, a few labelled
examples and training job 1. Usage: seed.py BASE_URL TOKEN"""
import json
import sys
import urllib.request

base, token = sys.argv[1], sys.argv[2]


def call(method, path, body=None, admin=False):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if admin:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


for i, text in enumerate(["A kind word on the first chapter.",
                          "The second part reads better aloud.",
                          "Visit http://cheap-pills.example for deals"]):
    call("POST", "/api/v1/comments", {
        "post_id": "hello-world", "author_name": f"Reader {i}",
        "author_email": f"reader{i}@example.com", "content": text})
call("PATCH", "/api/v1/admin/comments/1", {"status": "approved"}, admin=True)
call("POST", "/api/v1/admin/training-examples", [
    {"content": "Buy cheap pills now, limited offer", "label": "spam"},
    {"content": "Win a free casino bonus today", "label": "spam"},
    {"content": "Thanks, this helped me fix my bike", "label": "ham"},
    {"content": "I disagree with the second point", "label": "ham"},
], admin=True)
call("POST", "/api/v1/admin/models/train", {}, admin=True)
