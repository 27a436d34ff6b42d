hold(ARGV[1], ARGV[2], now_ms() + tonumber(ARGV[3]))
