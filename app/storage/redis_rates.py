"""Rate limit windows in Redis, so that every instance behind a load balancer counts toward the same limits.

One round trip per rule and request: a script increments the caller's key and, when that opened the window (or the
key has somehow lost its expiry), sets its expiry to the window's length, then answers the count and the time left.
Redis drops closed windows by itself. If Redis cannot be reached the request is not counted (it passes, as in
Parse Server) and the outage is logged once until Redis answers again.
"""

from __future__ import annotations

import logging
import time

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.domain.rate_limits import Window

log = logging.getLogger("app.rate_limits")

_COUNT = """
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if count == 1 or left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {count, left}
"""


class RedisCounter:
    def __init__(self, url: str, app_id: str) -> None:
        self.client: redis.Redis = redis.from_url(url)
        self.prefix = f"parseql:{app_id}:rate:"
        self._count = self.client.register_script(_COUNT)
        self._failing = False

    async def hit(self, key: str, window_ms: int) -> Window | None:
        try:
            count, left = await self._count(keys=[self.prefix + key], args=[window_ms])
        except RedisError as error:
            if not self._failing:
                log.error("cannot count requests in Redis (%s); rate limits counted there let requests pass", error)
            self._failing = True
            return None
        if self._failing:
            log.info("Redis counts requests again")
            self._failing = False
        return Window(int(count), time.time() + int(left) / 1000)

    async def close(self) -> None:
        await self.client.aclose()
