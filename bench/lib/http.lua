-- wrk script shared by the HTTP measurements of bench/run.
--
-- Environment (set by bench/lib/bench.py):
--   BENCH_TOKEN   API token, sent as `Authorization: Bearer`
--   BENCH_METHOD  GET or POST
--   BENCH_PATH    a fixed path (list measurements), or unset
--   BENCH_N       with BENCH_PATH unset: ids are picked uniformly among the seeded builds
--                 "1" .. %016d of 1..BENCH_N, the same ids pgbench draws
--   BENCH_SUFFIX  appended to /v2/actor-builds/<id> ("/abort", or "")
--
-- At the end it prints one line `BENCH_JSON {...}` with the counts and latency percentiles
-- (microseconds) that bench.py reads.

local token = os.getenv("BENCH_TOKEN") or ""
local method = os.getenv("BENCH_METHOD") or "GET"
local fixed_path = os.getenv("BENCH_PATH")
local n = tonumber(os.getenv("BENCH_N") or "1")
local suffix = os.getenv("BENCH_SUFFIX") or ""
local headers = { ["Authorization"] = "Bearer " .. token }
local body = nil
if method == "POST" then body = "" end

local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_no", thread_count)
end

function init(args)
  -- Each wrk thread has its own Lua state: seed each differently.
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
  for _ = 1, 10 do math.random() end
end

function request()
  local path = fixed_path
  if path == nil then
    path = "/v2/actor-builds/1" .. string.format("%016d", math.random(1, n)) .. suffix
  end
  return wrk.format(method, path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
