-- Create a job once: the client's id makes submission idempotent.
-- KEYS: job hash, active jobs set, events stream
-- ARGV: id, state (QUEUED | REJECTED), now, spec json, raw submission, reason, events maxlen
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', ARGV[2], 'created_at', ARGV[3], 'updated_at', ARGV[3],
  'spec', ARGV[4], 'raw', ARGV[5], 'reason', ARGV[6])
if ARGV[2] == 'QUEUED' then
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[3])
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', 'type', 'job', 'job', ARGV[1], 'from', '',
  'to', ARGV[2], 'at', ARGV[3], 'reason', ARGV[6])
return 1
