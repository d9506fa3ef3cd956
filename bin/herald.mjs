#!/usr/bin/env node
// The `herald` command. Herald runs its TypeScript sources through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/cli.ts');
