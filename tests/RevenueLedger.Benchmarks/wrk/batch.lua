-- wrk script: POST /v1/events/batch with 1,000 ContractStarted events for new accounts per request.
-- Usage: wrk -t1 -c4 -d20s -s batch.lua URL -- WRITER_KEY
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
  local parts = {}
  for i = 1, 1000 do
    n = n + 1
    parts[i] = '{"type":"ContractStarted","accountId":"wrk-' .. tag .. '-' .. n ..
      '","contractId":"c1","effectiveDate":"2025-06-01","mrr":"99.5","currency":"USD"}'
  end
  return wrk.format("POST", "/v1/events/batch",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
    '{"events":[' .. table.concat(parts, ",") .. ']}')
end
