// End-to-end check of an Akismet-compatible server with the real, unmodified
// npm `akismet-api` client (tested with akismet-api@6.0.0 / superagent 8.1.2, Node 20).
//
// Environment:
//   RG_URL          server base URL, e.g. http://127.0.0.1:8080   (required)
//   RG_AKISMET_KEY  a valid API key                               (required)
//   RG_BLOG_URL     blog URL to send (default http://blog.example.test/)
//   RG_BAD_KEY      a key the server must reject (default "definitely-not-a-valid-key")
//
// How the library builds URLs (lib/akismet.js):
//   verifyKey:  `${protocol}://${host}/${version}/verify-key`        (key in form body)
//   others:     `${protocol}://${key}.${host}/${version}/<endpoint>` (key ONLY in Host)
// It has no `port` option: the port goes into `host` ("127.0.0.1:PORT").
// With RG_URL=http://127.0.0.1:PORT the server therefore sees
//   Host: 127.0.0.1:PORT           for verify-key
//   Host: KEY.127.0.0.1:PORT       for comment-check / submit-spam / submit-ham
// "KEY.127.0.0.1" / "KEY.localhost" do not resolve via getaddrinfo here (ENOTFOUND),
// so we wrap dns.lookup (which net.connect uses; superagent passes agent:false
// so an http.Agent `lookup` option would be ignored) to map "<anything>.<RG_URL
// host>" to the RG_URL host's loopback address. Everything else goes to the real
// dns.lookup. The request URL and Host header are untouched.
//
// Exit status 0 = all passed; 1 = at least one check failed.

import dns from 'node:dns'
import net from 'node:net'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { AkismetClient } = require('akismet-api')

const RG_URL = process.env.RG_URL
const KEY = process.env.RG_AKISMET_KEY
if (!RG_URL || !KEY) {
  console.error('RG_URL and RG_AKISMET_KEY must be set')
  process.exit(2)
}
const BLOG = process.env.RG_BLOG_URL || 'http://blog.example.test/'
const BAD_KEY = process.env.RG_BAD_KEY || 'definitely-not-a-valid-key'
const base = new URL(RG_URL)
const protocol = base.protocol.replace(':', '') // 'http'
const baseHostname = base.hostname.replace(/^\[|\]$/g, '') // '127.0.0.1' | 'localhost'
const host = base.host // '127.0.0.1:PORT' (port omitted by URL if default)

// --- DNS shim: "<label>.<baseHostname>" -> baseHostname's loopback address ---
function loopbackFor(name) {
  if (net.isIP(name)) return name
  if (name === 'localhost') return '127.0.0.1'
  return null
}
const realLookup = dns.lookup
function lookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options
    options = {}
  }
  if (typeof options === 'number') options = { family: options }
  let target = hostname
  if (hostname.endsWith('.' + baseHostname)) target = baseHostname
  const addr = loopbackFor(target)
  if (addr === null) return realLookup(hostname, options, callback)
  const family = net.isIP(addr)
  if (options && options.all) return callback(null, [{ address: addr, family }])
  return callback(null, addr, family)
}
dns.lookup = lookup

const client = new AkismetClient({ key: KEY, blog: BLOG, host, protocol })
const badClient = new AkismetClient({ key: BAD_KEY, blog: BLOG, host, protocol })

const HAM = {
  ip: '203.0.113.7',
  useragent: 'Mozilla/5.0 (X11; Linux x86_64) e2e-test',
  referrer: 'http://blog.example.test/post/1',
  permalink: 'http://blog.example.test/post/1',
  type: 'comment',
  name: 'Alice Example',
  email: 'alice@example.com',
  content: 'Thanks for the thoughtful write-up, it helped me fix my build. Have a nice day!',
  isTest: true,
}
const SPAM = { ...HAM, name: 'viagra-test-123', email: undefined, content: 'Nice post.' }
// snake_case Akismet names are accepted too (mapped 1:1)
const SPAM_SNAKE = {
  user_ip: '203.0.113.8',
  comment_author: 'viagra-test-123',
  comment_content: 'Nice post.',
  comment_type: 'comment',
  is_test: true,
}

const results = []
async function check(name, fn) {
  try {
    await fn()
    results.push(true)
    console.log(`ok   ${name}`)
  } catch (err) {
    results.push(false)
    console.log(`FAIL ${name}: ${err && err.message ? err.message : err}`)
    if (err && err.status) console.log(`     HTTP status ${err.status}: ${JSON.stringify(err.response && err.response.text)}`)
    if (process.env.RG_VERBOSE) console.log(err)
  }
}
function expect(cond, msg) {
  if (!cond) throw new Error(msg)
}

await check('verifyKey valid', async () => {
  const r = await client.verifyKey()
  expect(r === true, `verifyKey() returned ${r}, expected true (server must answer 'valid')`)
})
await check('verifyKey bad key -> invalid', async () => {
  const r = await badClient.verifyKey()
  expect(r === false, `verifyKey() with bad key returned ${r}, expected false (server must answer 'invalid')`)
})
await check('checkSpam friendly -> false', async () => {
  const r = await client.checkSpam(HAM)
  expect(r === false, `friendly comment: got ${r}, expected false (body 'false')`)
})
await check('checkSpam viagra-test-123 -> true', async () => {
  const r = await client.checkSpam(SPAM)
  expect(r === true, `viagra-test-123: got ${r}, expected true (body 'true')`)
})
await check('checkSpam viagra-test-123 (snake_case fields) -> true', async () => {
  const r = await client.checkSpam(SPAM_SNAKE)
  expect(r === true, `viagra-test-123 (snake_case): got ${r}, expected true`)
})
await check('checkSpam with bad key (in Host) rejects "Invalid API key"', async () => {
  let r
  try {
    r = await badClient.checkSpam(HAM)
  } catch (err) {
    expect(/Invalid API key/.test(err.message), `rejected with unexpected error: ${err.message}`)
    return
  }
  throw new Error(`resolved ${r}; expected rejection (server must answer 'invalid' when the Host key is bad)`)
})
// submitSpam/submitHam: the library itself only rejects on network errors or
// non-2xx; it never looks at the body. Its promise (typed Promise<void>) actually
// resolves with the superagent response, so we check the body ourselves.
const THANKS = 'Thanks for making the web a better place.'
function expectThanks(res, what) {
  expect(res && typeof res.text === 'string', `${what}: library resolved without a response object`)
  expect(res.status === 200, `${what}: HTTP ${res.status}`)
  expect(res.text === THANKS, `${what}: body ${JSON.stringify(res.text)}, expected ${JSON.stringify(THANKS)}`)
}
await check('submitSpam', async () => {
  expectThanks(await client.submitSpam(SPAM), 'submitSpam')
})
await check('submitHam', async () => {
  expectThanks(await client.submitHam(HAM), 'submitHam')
})
// Discard: akismet-api resolves checkSpam() to a plain boolean and never exposes
// response headers, so X-akismet-pro-tip: discard cannot be observed through it.

const failed = results.filter(x => !x).length
console.log(`${results.length - failed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
