-- Move one segment between states, compare-and-set on its state (and on its current task id when
-- given), keeping the pending set, the task index and the active-task set in step.
-- KEYS: job hash, segments hash, pending zset, active tasks set, events stream, task hash (of the
--       task id the segment will have after the patch)
-- ARGV: job id, segment key, allowed-from (comma list), to, expected task id ('*' = any), now,
--       patch json, pending score ('' = not pending), required job state ('' = any), events maxlen
-- Returns {1, segment json} | {0, why} | {-1, ''} (no such segment)
if ARGV[9] ~= '' then
  local js = redis.call('HGET', KEYS[1], 'state')
  if js ~= ARGV[9] then
    return {0, 'job is ' .. tostring(js)}
  end
end
local raw = redis.call('HGET', KEYS[2], ARGV[2])
if not raw then
  return {-1, ''}
end
local seg = cjson.decode(raw)
local allowed = false
for s in string.gmatch(ARGV[3], '[^,]+') do
  if s == seg.state then allowed = true end
end
if not allowed then
  return {0, 'segment is ' .. seg.state}
end
if ARGV[5] ~= '*' and seg.task_id ~= ARGV[5] then
  return {0, 'segment runs task ' .. seg.task_id}
end
local from = seg.state
local old_task = seg.task_id
local patch = cjson.decode(ARGV[7])
for k, v in pairs(patch) do
  seg[k] = v
end
seg.state = ARGV[4]
seg.updated_at = tonumber(ARGV[6])
redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(seg))
local member = ARGV[1] .. '/' .. ARGV[2]
if ARGV[8] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[8], member)
else
  redis.call('ZREM', KEYS[3], member)
end
if seg.state == 'LAUNCHING' or seg.state == 'RUNNING' then
  if old_task ~= '' and old_task ~= seg.task_id then
    redis.call('SREM', KEYS[4], old_task)
  end
  redis.call('HSET', KEYS[6], 'job', ARGV[1], 'key', ARGV[2], 'attempt', seg.attempt, 'agent_id', seg.agent_id)
  redis.call('SADD', KEYS[4], seg.task_id)
elseif old_task ~= '' then
  redis.call('SREM', KEYS[4], old_task)
end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[10], '*', 'type', 'segment', 'job', ARGV[1], 'seg', ARGV[2],
  'from', from, 'to', seg.state, 'task', seg.task_id, 'at', ARGV[6], 'reason', seg.reason or '')
return {1, cjson.encode(seg)}
