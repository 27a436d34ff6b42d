return redis.call('HSET', ARGV[1] .. ':servers', ARGV[2], now_ms() + tonumber(ARGV[3]))
