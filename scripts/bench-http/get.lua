-- wrk script: GET one post's approved comments; counts the answers that are
-- not 200.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  failures = 0
end

function response(status, headers, body)
  if status ~= 200 then failures = failures + 1 end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + thread:get("failures") end
  io.write(string.format("BENCH rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f ok=%d failed=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.requests - failed, failed,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
