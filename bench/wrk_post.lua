-- wrk script for the throughput run: POST one JSON body (path given after "--"), print a JSON summary.
-- Each request gets its own hookInstance (as real traffic does), so nothing can answer from a cache keyed by
-- the body. Used by bench/load.py; see https://github.com/wg/wrk/blob/master/SCRIPTING

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local body = file:read("*a")
  file:close()
  local _, open = string.find(body, '"hookInstance":"', 1, true)
  local close = string.find(body, '"', open + 1, true)
  prefix, suffix, counter = string.sub(body, 1, open), string.sub(body, close), 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local instance = string.format("%08x-0000-4000-8000-%012x", tid, counter)
  return wrk.format(nil, nil, nil, prefix .. instance .. suffix)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
