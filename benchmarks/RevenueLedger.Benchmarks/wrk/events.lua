-- wrk script: POST events for new accounts, each request with N ContractStarted events (N = 1: POST /v1/events;
-- N > 1: POST /v1/events/batch, all or nothing). Usage: wrk -t1 -c4 -d20s -s events.lua URL -- WRITER_KEY N
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tag", os.time() .. "-" .. threads)
end

function init(args)
  token = args[1]
  size = tonumber(args[2] or "1")
  n = 0
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
end

local function started()
  n = n + 1
  return '{"type":"ContractStarted","accountId":"wrk-' .. tag .. '-' .. n ..
    '","contractId":"c1","effectiveDate":"2025-06-01","mrr":"99.5","currency":"USD"}'
end

function request()
  if size == 1 then return wrk.format("POST", "/v1/events", headers, started()) end
  local parts = {}
  for i = 1, size do parts[i] = started() end
  return wrk.format("POST", "/v1/events/batch", headers, '{"events":[' .. table.concat(parts, ",") .. ']}')
end
