-- wrk script: a mix of survey submissions (POST /s/<slug>, each a new respondent with a unique
-- idempotency key) and API reads (GET /api/v1/customers with a bearer token).
-- Arguments after `--`: cookie csrf token slug post_percent key_prefix (unique per run)
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  cookie, csrf, token, slug, post_percent, prefix = args[1], args[2], args[3], args[4], tonumber(args[5]), args[6]
  acked, fivexx, other, posts, gets, n = 0, 0, 0, 0, 0, 0
end

function request()
  n = n + 1
  if (n * 37) % 100 < post_percent then
    posts = posts + 1
    local key = prefix .. id .. "-" .. n
    local body = "csrf_token=" .. csrf .. "&idempotency_key=" .. key .. "&page=0&score=" .. (n % 11)
    return wrk.format("POST", "/s/" .. slug,
      {["Cookie"] = cookie, ["Content-Type"] = "application/x-www-form-urlencoded"}, body)
  end
  gets = gets + 1
  return wrk.format("GET", "/api/v1/customers?limit=20&offset=" .. (n % 150),
    {["Authorization"] = "Bearer " .. token})
end

function response(status, headers, body)
  if status == 303 then
    acked = acked + 1
  elseif status >= 500 then
    fivexx = fivexx + 1
  elseif status ~= 200 then
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, f, o = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("acked")
    f = f + t:get("fivexx")
    o = o + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_s": %.3f, "acked_submissions": %d, "status_5xx": %d, ' ..
    '"status_other": %d, "socket_errors": %d, "timeouts": %d, "p50_ms": %.2f, "p90_ms": %.2f, ' ..
    '"p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration / 1e6, a, f, o, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
