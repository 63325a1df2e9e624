-- wrk script: every request a distinct commenter (its own X-Forwarded-For,
-- email and text), posting JSON to /api/v1/comments. The ids answered 201 are
-- written to $BENCH_IDS, one per line, so the caller can check each is stored.
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  run = args[1] or "run"
  counter = 0
  ids = {}
  failures = 0
end

function request()
  counter = counter + 1
  local n = tid .. "-" .. counter
  local body = string.format(
    '{"post_id":"bench-post","author_name":"Reader %s","author_email":"reader-%s-%s@bench.example",'
      .. '"content":"An ordinary comment, number %s, about the article; benchmark run %s."}',
    n, run, n, n, run)
  local ip = string.format("10.%d.%d.%d", tid % 250, math.floor(counter / 250) % 250, counter % 250)
  return wrk.format("POST", "/api/v1/comments",
    { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip }, body)
end

function response(status, headers, body)
  if status == 201 then
    local id = body:match('"id":(%d+)')
    if id then ids[#ids + 1] = id end
  else
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local path = os.getenv("BENCH_IDS")
  local acked = 0
  local failed = 0
  local file = path and io.open(path, "w")
  for _, thread in ipairs(threads) do
    local list = thread:get("ids")
    failed = failed + thread:get("failures")
    for _, id in ipairs(list) do
      acked = acked + 1
      if file then file:write(id, "\n") end
    end
  end
  if file then file:close() end
  io.write(string.format("BENCH rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f ok=%d failed=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, acked, failed,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
