/**
 * Bench helper process: the webhook receiver. node:http on 127.0.0.1; reads each body, answers
 * 204, and records the arrival time of every (webhook-id, path) pair, grouped by the id's group
 * (see common.ts). The bench asks for counts and arrivals over IPC.
 */
import { createServer } from 'node:http';
import { serveCommands } from './children.ts';
import { groupOf, nowMs } from './common.ts';

interface Group {
  /** `${webhookId}|${path}` → first arrival (ms). */
  arrivals: Map<string, number>;
  total: number;
  duplicates: number;
  firstAt: number;
  lastAt: number;
  bytes: number;
}

const groups = new Map<string, Group>();
/** Every request of every group: lets a wait tell "Herald is busy with something else" from "stalled". */
let allTotal = 0;
let allLastAt = 0;

function groupFor(name: string): Group {
  let group = groups.get(name);
  if (!group) {
    group = { arrivals: new Map(), total: 0, duplicates: 0, firstAt: 0, lastAt: 0, bytes: 0 };
    groups.set(name, group);
  }
  return group;
}

const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    const at = nowMs();
    const header = req.headers['webhook-id'];
    const id = typeof header === 'string' ? header : '';
    const group = groupFor(groupOf(id));
    const key = `${id}|${req.url ?? ''}`;
    allTotal += 1;
    allLastAt = at;
    group.total += 1;
    group.bytes += bytes;
    if (group.arrivals.has(key)) group.duplicates += 1;
    else group.arrivals.set(key, at);
    if (group.firstAt === 0) group.firstAt = at;
    group.lastAt = at;
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 70_000;

export interface GroupStats {
  distinct: number;
  total: number;
  duplicates: number;
  firstAt: number;
  lastAt: number;
  bytes: number;
  /** Requests of all groups so far, and the last one's arrival. */
  allTotal: number;
  allLastAt: number;
}

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  serveCommands(
    {
      stats: ({ group }: { group: string }): GroupStats => {
        const g = groupFor(group);
        return { distinct: g.arrivals.size, total: g.total, duplicates: g.duplicates, firstAt: g.firstAt, lastAt: g.lastAt, bytes: g.bytes, allTotal, allLastAt };
      },
      /** webhook-id → its earliest arrival over all paths. */
      arrivals: ({ group }: { group: string }): Record<string, number> => {
        const out: Record<string, number> = {};
        for (const [key, at] of groupFor(group).arrivals) {
          const id = key.slice(0, key.lastIndexOf('|'));
          const seen = out[id];
          if (seen === undefined || at < seen) out[id] = at;
        }
        return out;
      },
      clear: ({ group }: { group: string }) => groups.delete(group),
      memory: () => process.memoryUsage().rss,
    },
    { port },
  );
});
