/**
 * Group commit for settles: attempts that finish while one batch is being written wait and go
 * together in the next, so a busy worker commits once per batch instead of once per delivery,
 * and an idle one still commits each settle at once (on the next turn of the event loop).
 */
import type { SettleEffects, SettleInput } from '../queue/queue.ts';

interface Waiting {
  input: SettleInput;
  resolve: (effects: SettleEffects) => void;
  reject: (error: unknown) => void;
}

/** Bounds one transaction, so a flood of results cannot hold the database for long. */
const MAX_BATCH = 500;

export class Settler {
  private waiting: Waiting[] = [];
  private flushing = false;

  constructor(private readonly settleMany: (inputs: readonly SettleInput[]) => Promise<SettleEffects[]>) {}

  settle(input: SettleInput): Promise<SettleEffects> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      try {
        const effects = await this.settleMany(batch.map((w) => w.input));
        batch.forEach((w, i) => w.resolve(effects[i] as SettleEffects));
      } catch (error) {
        // The leases stay with this worker until they expire; the reaper puts them back in the queue.
        for (const w of batch) w.reject(error);
      }
    }
    this.flushing = false;
  }
}
