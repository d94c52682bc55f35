package cluster

import "github.com/redis/rueidis"

// A dead node's streams leave their keys in the per-user connection sets
// (pw:uc:<user>, admit/userconns.go) when their Leaves never ran: the node was
// killed, or its Leaves were dropped. The admission script drops keys of
// dead nodes only when that user subscribes again, so the keys of users who
// never come back stayed for good. The janitor (redisgc.go) therefore takes
// the dead node's keys out of the sets of the users its user set names, page
// by page with the rest of its entries.

// dropNodeConnsScript removes from the sorted set KEYS[1] the conn keys of
// node ARGV[1] (a key's node is what follows its last '.').
const dropNodeConnsScript = `
local gone = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.match(m, '%.([^.]+)$') == ARGV[1] then
    gone[#gone + 1] = m
  end
end
for i = 1, #gone, 1000 do
  redis.call('ZREM', KEYS[1], unpack(gone, i, math.min(i + 999, #gone)))
end
return #gone`

// dropNodeConnsCmd removes node id's conn keys from user's set.
func dropNodeConnsCmd(c rueidis.Client, p, user, id string) rueidis.Completed {
	return c.B().Eval().Script(dropNodeConnsScript).Numkeys(1).Key(KeyUserConns(p, user)).Arg(id).Build()
}
