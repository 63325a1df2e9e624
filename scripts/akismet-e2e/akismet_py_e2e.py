#!/usr/bin/env python3
"""End-to-end check of an Akismet-compatible server with the real, unmodified
PyPI `akismet` client (James Bennett, tested with akismet==25.10.1, httpx 0.28).

Environment:
  RG_URL            server base URL, e.g. http://127.0.0.1:8080   (required)
  RG_AKISMET_KEY    a valid API key                               (required)
  RG_BLOG_URL       blog URL to send (default http://blog.example.test/)
  RG_BAD_KEY        a key the server must reject (default "definitely-not-a-valid-key")
  RG_DISCARD_CONTENT / RG_DISCARD_AUTHOR   the "blatant spam" comment that must
                    come back as CheckResponse.DISCARD
  RG_SKIP_USAGE_LIMIT=1   skip the GET /1.2/usage-limit check

The library always builds absolute URLs https://rest.akismet.com/1.x/...;
we hand it an httpx client whose transport rewrites scheme/host/port (and the
Host header) to RG_URL, so the library code itself is untouched.

Exit status 0 = all passed; 1 = at least one check failed.
"""
import asyncio
import os
import sys
import traceback

import httpx

import akismet

RG_URL = os.environ.get("RG_URL")
KEY = os.environ.get("RG_AKISMET_KEY")
if not RG_URL or not KEY:
    sys.exit("RG_URL and RG_AKISMET_KEY must be set")
BLOG = os.environ.get("RG_BLOG_URL", "http://blog.example.test/")
BAD_KEY = os.environ.get("RG_BAD_KEY", "definitely-not-a-valid-key")
DISCARD_CONTENT = os.environ.get(
    "RG_DISCARD_CONTENT",
    "DISCARDME BUY CHEAP VIAGRA CIALIS NOW!!! http://spam.example/a http://spam.example/b "
    "http://spam.example/c casino payday loans",
)
DISCARD_AUTHOR = os.environ.get("RG_DISCARD_AUTHOR", "viagra-test-123")
USER_IP = "203.0.113.7"
BASE = httpx.URL(RG_URL)
TIMEOUT = float(os.environ.get("RG_TIMEOUT", "10"))


def _rewrite(request: httpx.Request) -> None:
    request.url = request.url.copy_with(scheme=BASE.scheme, host=BASE.host, port=BASE.port)
    request.headers["Host"] = BASE.netloc.decode("ascii")


class RewriteTransport(httpx.HTTPTransport):
    def handle_request(self, request):
        _rewrite(request)
        return super().handle_request(request)


class AsyncRewriteTransport(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request):
        _rewrite(request)
        return await super().handle_async_request(request)


def http_client() -> httpx.Client:
    # trust_env=False: otherwise an HTTP(S)_PROXY in the environment would be
    # mounted for https://rest.akismet.com and bypass our transport.
    return httpx.Client(
        transport=RewriteTransport(),
        headers={"User-Agent": akismet.USER_AGENT},
        timeout=TIMEOUT,
        trust_env=False,
    )


def async_http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=AsyncRewriteTransport(),
        headers={"User-Agent": akismet.USER_AGENT},
        timeout=TIMEOUT,
        trust_env=False,
    )


GOOD = akismet.Config(key=KEY, url=BLOG)
BAD = akismet.Config(key=BAD_KEY, url=BLOG)

HAM = dict(
    comment_type="comment",
    comment_author="Alice Example",
    comment_author_email="alice@example.com",
    comment_content="Thanks for the thoughtful write-up, it helped me fix my build. Have a nice day!",
    user_agent="Mozilla/5.0 (X11; Linux x86_64) e2e-test",
    referrer="http://blog.example.test/post/1",
    permalink="http://blog.example.test/post/1",
    is_test=True,
)
SPAM = {k: v for k, v in HAM.items() if k != "comment_author_email"}
SPAM.update(comment_author="viagra-test-123", comment_content="Nice post.")
BLATANT = dict(HAM, comment_author=DISCARD_AUTHOR, comment_content=DISCARD_CONTENT)

results = []


def check(name, fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        results.append((name, False))
        print(f"FAIL {name}: {type(exc).__name__}: {exc}")
        if exc.__cause__ is not None:
            print(f"     caused by {type(exc.__cause__).__name__}: {exc.__cause__}")
        if os.environ.get("RG_VERBOSE"):
            traceback.print_exc()
    else:
        results.append((name, True))
        print(f"ok   {name}")


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def main():
    client = akismet.SyncClient(config=GOOD, http_client=http_client())

    def verify_valid():
        r = client.verify_key()
        expect(r is True, f"verify_key() with RG_AKISMET_KEY returned {r!r}, expected True (server must answer 'valid')")

    def validated_constructor():
        c = akismet.SyncClient.validated_client(config=GOOD, http_client=http_client())
        with c:
            pass

    def verify_bad():
        r = client.verify_key(BAD_KEY, BLOG)
        expect(r is False, f"verify_key(bad key) returned {r!r}, expected False (server must answer 'invalid')")

    def validated_bad_raises():
        try:
            akismet.SyncClient.validated_client(config=BAD, http_client=http_client())
        except akismet.APIKeyError:
            return
        raise AssertionError("validated_client() with a bad key did not raise APIKeyError")

    def ham():
        r = client.comment_check(USER_IP, **HAM)
        expect(r == akismet.CheckResponse.HAM, f"friendly comment: got {r!r}, expected CheckResponse.HAM (body 'false')")

    def spam():
        r = client.comment_check(USER_IP, **SPAM)
        expect(
            r in (akismet.CheckResponse.SPAM, akismet.CheckResponse.DISCARD),
            f"author viagra-test-123: got {r!r}, expected SPAM (body 'true')",
        )

    def discard():
        r = client.comment_check(USER_IP, **BLATANT)
        expect(
            r == akismet.CheckResponse.DISCARD,
            f"blatant spam: got {r!r}, expected CheckResponse.DISCARD "
            "(body 'true' + header 'X-akismet-pro-tip: discard')",
        )

    def bad_key_comment_check_raises():
        bad = akismet.SyncClient(config=BAD, http_client=http_client())
        try:
            r = bad.comment_check(USER_IP, **HAM)
        except akismet.APIKeyError:
            return
        raise AssertionError(f"comment_check with a bad key returned {r!r}; expected APIKeyError (body 'invalid')")

    def submit_spam():
        r = client.submit_spam(USER_IP, **SPAM)
        expect(r is True, f"submit_spam returned {r!r}")

    def submit_ham():
        r = client.submit_ham(USER_IP, **HAM)
        expect(r is True, f"submit_ham returned {r!r}")

    def usage_limit():
        r = client.usage_limit()
        expect(isinstance(r, dict) and "limit" in r, f"usage_limit() returned {r!r}, expected JSON object with 'limit'")

    def async_client():
        async def run():
            async with akismet.AsyncClient(config=GOOD, http_client=async_http_client()) as c:
                r1 = await c.comment_check(USER_IP, **HAM)
                r2 = await c.comment_check(USER_IP, **SPAM)
                expect(r1 == akismet.CheckResponse.HAM, f"async ham: got {r1!r}")
                expect(r2 in (akismet.CheckResponse.SPAM, akismet.CheckResponse.DISCARD), f"async spam: got {r2!r}")

        asyncio.run(run())

    check("verify_key valid", verify_valid)
    check("validated_client() + context manager with good key", validated_constructor)
    check("verify_key bad key -> invalid", verify_bad)
    check("validated_client() bad key raises APIKeyError", validated_bad_raises)
    check("comment_check friendly -> HAM", ham)
    check("comment_check viagra-test-123 -> SPAM", spam)
    check("comment_check blatant -> DISCARD", discard)
    check("comment_check with bad key raises APIKeyError", bad_key_comment_check_raises)
    check("submit_spam", submit_spam)
    check("submit_ham", submit_ham)
    if os.environ.get("RG_SKIP_USAGE_LIMIT") != "1":
        check("usage_limit", usage_limit)
    check("AsyncClient ham/spam", async_client)

    passed = sum(ok for _, ok in results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
