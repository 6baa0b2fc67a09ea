-- The floor: a credprobe cycle's upstream requests from wrk, a minimal C
-- client. Run with one thread and one connection (-t1 -c1), so requests go
-- strictly one after the other: a client-credentials token request, then
-- GET /api/v1/workflows and GET /api/v1/act/remote-action with that token,
-- then the next tenant. FLOOR_DELAY_MS paces it (the pause before each
-- request); FLOOR_TENANTS is how many tenants it cycles through
-- (client_id tenant-NNNNN, secret secret-tenant-NNNNN, as the simulator's
-- accept_any expects).

local delay_ms = tonumber(os.getenv("FLOOR_DELAY_MS") or "4")
local tenants = tonumber(os.getenv("FLOOR_TENANTS") or "1000")

local step = 0      -- 0: token request next, 1 and 2: the endpoints
local cycle = 0
local token = nil
local form = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function request()
  if step == 0 or token == nil then
    step = 1
    token = nil
    local id = string.format("tenant-%05d", cycle % tenants)
    cycle = cycle + 1
    local body = "grant_type=client_credentials&client_id=" .. id .. "&client_secret=secret-" .. id
    return wrk.format("POST", "/oauth2/token", form, body)
  end
  local path = "/api/v1/workflows"
  if step == 2 then
    path = "/api/v1/act/remote-action"
    step = 0
  else
    step = 2
  end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

function response(status, headers, body)
  if step == 1 then
    token = body and string.match(body, '"access_token"%s*:%s*"([^"]+)"')
  end
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "{\"requests\":%d,\"duration_us\":%d,\"errors_connect\":%d,\"errors_read\":%d,\"errors_write\":%d,\"errors_status\":%d,\"errors_timeout\":%d}\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
end
