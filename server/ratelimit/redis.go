package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is a Limiter shared by every node through Redis (GCRA via
// github.com/go-redis/redis_rate), so limits hold across a cluster.
type Redis struct {
	limiter *redis_rate.Limiter
	limits  map[string]Limit
}

// NewRedis connects to url (redis://…) and checks that it answers.
func NewRedis(ctx context.Context, url string, limits map[string]Limit) (*Redis, *redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, nil, fmt.Errorf("parse redis url: %w", err)
	}
	client := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("connect to redis: %w", err)
	}
	return &Redis{limiter: redis_rate.NewLimiter(client), limits: limits}, client, nil
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, bucket, key string) (bool, time.Duration, error) {
	l, ok := r.limits[bucket]
	if !ok {
		return true, 0, nil
	}
	res, err := r.limiter.Allow(ctx, "hivesync:rl:"+bucket+":"+key, redis_rate.Limit{Rate: l.Burst, Burst: l.Burst, Period: l.Per})
	if err != nil {
		return false, 0, fmt.Errorf("redis rate limit: %w", err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, res.RetryAfter, nil
}
