#!/usr/bin/env node
/**
 * The `switchboard` binary. On Node.js 22.1 and later it first turns on Node's on-disk compile cache
 * (in the OS temp folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so that from the second start
 * on the CLI's code is not compiled again: `switchboard mcp` must answer its host's first request
 * fast. Static imports would be evaluated before the cache is on, hence the dynamic import.
 */
import module from 'node:module';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
await import('./cli.js');
