-- wrk script: POST /v1/events, one ContractStarted for a new account per request.
-- Usage: wrk -t2 -c32 -d20s -s single.lua URL -- WRITER_KEY
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tag", os.time() .. "-" .. threads)
end

function init(args)
  token = args[1]
  n = 0
end

function request()
  n = n + 1
  return wrk.format("POST", "/v1/events",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
    '{"type":"ContractStarted","accountId":"wrk1-' .. tag .. '-' .. n ..
      '","contractId":"c1","effectiveDate":"2025-06-01","mrr":"99.5","currency":"USD"}')
end
