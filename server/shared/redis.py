"""Redis SharedState: keys with TTLs, so a crashed node's entries expire on their own.

Presence of session S lives under `halqa:pres:S:`:
  u        ZSET identity key → expiry (ms, Redis clock); ZCARD is the live count
  n        HASH identity key → display name (who is online)
  peak     the highest count seen
  t:{key}  ZSET connection → expiry, with PEXPIRE ttl: one identity's tabs
Every operation is one Lua script (one EVALSHA round trip), run atomically and
on Redis's clock, so processes with skewed clocks still agree. The scripts
build key names from ARGV: fine on one Redis (or a Sentinel pair), not Cluster.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Collection, Sequence
from typing import Any

from redis.asyncio import Redis

from server.shared.base import Counts, Member, Presence

_LIB = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function purge(P, now)
  local gone = redis.call('ZRANGEBYSCORE', P..'u', '-inf', now)
  for i = 1, #gone, 500 do
    redis.call('HDEL', P..'n', unpack(gone, i, math.min(i + 499, #gone)))
  end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', P..'u', '-inf', now) end
end
local function counts(P)
  local count = redis.call('ZCARD', P..'u')
  local peak = tonumber(redis.call('GET', P..'peak') or '0')
  if count > peak then
    peak = count
    redis.call('SET', P..'peak', peak)
  end
  return {count, peak}
end
local function add(P, key, conn, name, now, ttl)
  local t = P..'t:'..key
  redis.call('ZADD', t, now + ttl, conn)
  redis.call('PEXPIRE', t, ttl)
  redis.call('ZADD', P..'u', now + ttl, key)
  redis.call('HSET', P..'n', key, name)
end
"""

_JOIN = _LIB + """
local P, ttl = ARGV[1], tonumber(ARGV[5])
local now = now_ms()
add(P, ARGV[2], ARGV[3], ARGV[4], now, ttl)
purge(P, now)
return counts(P)
"""

_LEAVE = _LIB + """
local P, key = ARGV[1], ARGV[2]
local now = now_ms()
local t = P..'t:'..key
redis.call('ZREM', t, ARGV[3])
redis.call('ZREMRANGEBYSCORE', t, '-inf', now)
local last = redis.call('ZRANGE', t, -1, -1, 'WITHSCORES')
if #last == 0 then
  redis.call('ZREM', P..'u', key)
  redis.call('HDEL', P..'n', key)
else
  redis.call('ZADD', P..'u', last[2], key)
end
purge(P, now)
return counts(P)
"""

_REFRESH = _LIB + """
local ttl = tonumber(ARGV[1])
local now = now_ms()
for i = 2, #ARGV, 4 do
  add(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], now, ttl)
end
return #ARGV
"""

_COUNTS = _LIB + """
local now = now_ms()
local out = {}
for i = 1, #ARGV do
  purge(ARGV[i], now)
  local c = counts(ARGV[i])
  out[#out + 1] = c[1]
  out[#out + 1] = c[2]
end
return out
"""

_ONLINE = _LIB + """
local P = ARGV[1]
purge(P, now_ms())
local keys = redis.call('ZRANGE', P..'u', 0, -1)
local out = {}
for i = 1, #keys do
  out[#out + 1] = keys[i]
  out[#out + 1] = redis.call('HGET', P..'n', keys[i]) or ''
end
return out
"""

_CONNS = _LIB + """
return redis.call('ZRANGEBYSCORE', ARGV[1]..'t:'..ARGV[2], '('..now_ms(), '+inf')
"""


class RedisSharedState:
    def __init__(self, url: str, prefix: str = "halqa:") -> None:
        self.redis: Redis = Redis.from_url(url, decode_responses=True,
            # Bounded: with none, a command on a connection that never answers
            # waits for good, and so does what awaits it (a node's beat: its
            # claims would lapse and its stages move while it still runs).
            socket_timeout=5, socket_connect_timeout=2)
        self.prefix = prefix
        r = self.redis
        self._join = r.register_script(_JOIN)
        self._leave = r.register_script(_LEAVE)
        self._refresh = r.register_script(_REFRESH)
        self._counts = r.register_script(_COUNTS)
        self._online = r.register_script(_ONLINE)
        self._conns = r.register_script(_CONNS)

    def _p(self, session: str) -> str:
        return f"{self.prefix}pres:{session}:"

    async def hit(self, key: str, limit: int, window: float) -> bool:
        # Fixed window keyed by its start: one INCR and one EXPIRE, pipelined.
        slot = int(time.time() // window)
        k = f"{self.prefix}rl:{key}:{slot}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(k)
            pipe.expire(k, int(window) + 1)
            count, _ = await pipe.execute()
        return int(count) <= limit

    async def presence_join(self, p: Presence, ttl: float) -> Counts:
        res = await self._join(args=[self._p(p.session), p.key, p.conn, p.name, _ms(ttl)])
        return Counts(int(res[0]), int(res[1]))

    async def presence_leave(self, session: str, key: str, conn: str) -> Counts:
        res = await self._leave(args=[self._p(session), key, conn])
        return Counts(int(res[0]), int(res[1]))

    async def presence_refresh(self, entries: Sequence[Presence], ttl: float) -> None:
        # Batches keep one script call bounded in time (Redis runs it alone).
        for i in range(0, len(entries), 1000):
            args: list[Any] = [_ms(ttl)]
            for p in entries[i : i + 1000]:
                args += [self._p(p.session), p.key, p.conn, p.name]
            await self._refresh(args=args)

    async def presence_counts(self, sessions: Sequence[str]) -> dict[str, Counts]:
        if not sessions:
            return {}
        res = await self._counts(args=[self._p(s) for s in sessions])
        return {s: Counts(int(res[2 * i]), int(res[2 * i + 1])) for i, s in enumerate(sessions)}

    async def presence_online(self, session: str) -> list[Member]:
        res = await self._online(args=[self._p(session)])
        return [Member(res[i], res[i + 1]) for i in range(0, len(res), 2)]

    async def presence_conns(self, session: str, key: str) -> list[str]:
        res = await self._conns(args=[self._p(session), key])
        return sorted(str(c) for c in res)

    async def stages_set(self, node: str, sessions: Collection[str], ttl: float) -> None:
        # One sorted set for the cluster: member "<session>|<node>", score its
        # expiry; a node replaces its own members in one transaction.
        key = f"{self.prefix}stages"
        until = time.time() + ttl
        members: list[str] = await self.redis.zrange(key, 0, -1)  # type: ignore[assignment]
        mine = [m for m in members if m.endswith(f"|{node}")]
        async with self.redis.pipeline(transaction=True) as pipe:
            if mine:
                pipe.zrem(key, *mine)
            if sessions:
                pipe.zadd(key, {f"{s}|{node}": until for s in sessions})
            pipe.zremrangebyscore(key, "-inf", time.time())
            await pipe.execute()

    async def stages_live(self) -> set[str]:
        members: list[str] = await self.redis.zrangebyscore(  # type: ignore[assignment]
            f"{self.prefix}stages", time.time(), "+inf"
        )
        return {m.rsplit("|", 1)[0] for m in members}

    async def generation(self) -> str:
        info = await self.redis.info("server")
        return str(info.get("run_id", ""))
    async def visitor_salt(self, day: str, ttl: float) -> str:
        key = f"{self.prefix}vis:{day}:salt"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, secrets.token_hex(16), nx=True, px=_ms(ttl))
            pipe.get(key)
            _, salt = await pipe.execute()
        return str(salt)

    async def visitor_add(self, day: str, digest: str, ttl: float) -> None:
        key = f"{self.prefix}vis:{day}:set"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(key, digest)
            pipe.pexpire(key, _ms(ttl))
            await pipe.execute()

    async def visitor_count(self, day: str) -> int:
        return int(await self.redis.scard(f"{self.prefix}vis:{day}:set"))

    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        await self.redis.aclose()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
