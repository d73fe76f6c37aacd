import { startRedisServer } from '/work/main/test/helpers/redis-server.js';
import { connectRedis, waitForRedis, RedisStore } from '/work/main/src/store/index.js';
const s = await startRedisServer();
const redis = connectRedis(s.url); await waitForRedis(redis, 5000);
const store = new RedisStore({ redis, prefix: 'x:' });
s.kill9();
for (let i = 0; i < 4; i++) {
  const t = Date.now();
  try { await store.ping(); console.log('ok?'); } catch (e) { console.log(Date.now() - t, 'ms', (e as Error).name, (e as Error).message); }
}
await store.close(); await s.stop();
