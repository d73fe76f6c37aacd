/** A Lua script as ioredis `defineCommand` takes it; keys come first in a call's arguments. */
export interface LuaScript {
  /** The command name the script is registered under on the connection. */
  name: string;
  numberOfKeys: number;
  lua: string;
}
