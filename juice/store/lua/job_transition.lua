-- Move a job from one of the allowed states to a new one. A terminal target also cancels every
-- segment that has not ended, removes them from the pending set and returns the tasks to kill.
-- KEYS: job hash, active jobs set, events stream, segments hash, pending zset, active tasks set,
--       progress hash (dropped when the job ends)
-- ARGV: id, allowed-from (comma list), to, now, fields json (flat string map), events maxlen, terminal (1|0)
-- Returns {1, from, task_id, agent_id, ...} | {0, current} | {-1, ''} (no such job)
local cur = redis.call('HGET', KEYS[1], 'state')
if not cur then
  return {-1, ''}
end
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do
  if s == cur then allowed = true end
end
if not allowed then
  return {0, cur}
end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'updated_at', ARGV[4])
local fields = cjson.decode(ARGV[5])
for k, v in pairs(fields) do
  redis.call('HSET', KEYS[1], k, v)
end
local out = {1, cur}
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[4])
  redis.call('SREM', KEYS[2], ARGV[1])
  redis.call('DEL', KEYS[7])
  local segs = redis.call('HGETALL', KEYS[4])
  for i = 1, #segs, 2 do
    local seg = cjson.decode(segs[i + 1])
    local from = seg.state
    if from == 'PENDING' or from == 'LAUNCHING' or from == 'RUNNING' then
      if from ~= 'PENDING' and seg.task_id ~= '' then
        table.insert(out, seg.task_id)
        table.insert(out, seg.agent_id)
        redis.call('SREM', KEYS[6], seg.task_id)
      end
      seg.state = 'CANCELLED'
      seg.updated_at = tonumber(ARGV[4])
      redis.call('HSET', KEYS[4], segs[i], cjson.encode(seg))
      redis.call('ZREM', KEYS[5], ARGV[1] .. '/' .. segs[i])
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'type', 'segment', 'job', ARGV[1],
        'seg', segs[i], 'from', from, 'to', 'CANCELLED', 'task', seg.task_id, 'at', ARGV[4])
    end
  end
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'type', 'job', 'job', ARGV[1], 'from', cur,
  'to', ARGV[3], 'at', ARGV[4], 'reason', fields['reason'] or '')
return out
