-- PLANNING -> RUNNING: store the plan and every segment, and queue them all for offers, in one step.
-- KEYS: job hash, segments hash, pending zset, events stream
-- ARGV: id, now, plan json, media json, events maxlen, then (segment key, segment json) pairs
-- Returns 'OK' or the job's current state
local cur = redis.call('HGET', KEYS[1], 'state')
if cur ~= 'PLANNING' then
  return cur or ''
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'state', 'RUNNING', 'updated_at', ARGV[2], 'plan', ARGV[3], 'media', ARGV[4])
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1] .. '/' .. ARGV[i])
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'type', 'job', 'job', ARGV[1], 'from', cur,
  'to', 'RUNNING', 'at', ARGV[2], 'reason', '')
return 'OK'
