/**
 * Failure emails (SPEC §5, §6): when a delivery exhausts its retries or the subscription is
 * disabled, its `failureEmail` gets a message — at most one per subscription per hour, and that
 * one summarises everything since the last. The budget lives in the database (last_email_at,
 * email_pending_since), so it holds across restarts and processes.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { Subscription } from '../domain/types.ts';
import type { Store } from '../store/store.ts';

export const EMAIL_INTERVAL_MS = 60 * 60 * 1000;

export interface MailerOptions {
  store: Store;
  /** HERALD_SMTP_URL, e.g. smtp://127.0.0.1:2525. */
  smtpUrl: string;
  /** HERALD_EMAIL_FROM. */
  from: string;
  /** HERALD_PUBLIC_URL: links in the email. */
  publicUrl: string;
}

export class FailureMailer {
  private readonly transport: Transporter;

  constructor(private readonly options: MailerOptions) {
    this.transport = nodemailer.createTransport(options.smtpUrl);
  }

  /** Sends every summary owed whose hourly budget allows it now; how many were sent. */
  async sendOwed(now: number): Promise<number> {
    const owed = await this.options.store.subscriptionsOwedEmail(now - EMAIL_INTERVAL_MS, 50);
    let sent = 0;
    for (const { environmentId, subscription } of owed) {
      if (!subscription.failureEmail) {
        await this.options.store.recordEmailSent(environmentId, subscription.id, now);
        continue;
      }
      // Take the budget before sending: with several workers, only one sends this summary.
      if (!(await this.options.store.claimEmailBudget(environmentId, subscription.id, now, now - EMAIL_INTERVAL_MS))) {
        continue;
      }
      const since = subscription.lastEmailAt ?? 0;
      const failed = await this.options.store.listDeliveries(
        environmentId,
        { subscriptionId: subscription.id, status: 'failed' },
        { limit: 20, after: null },
      );
      const recent = failed.data.filter((d) => (d.lastAttemptAt ?? 0) >= since);
      await this.transport.sendMail({
        from: this.options.from,
        to: subscription.failureEmail,
        subject: subjectFor(subscription),
        text: bodyFor(subscription, environmentId, recent, this.options.publicUrl),
      });
      await this.options.store.recordEmailSent(environmentId, subscription.id, now);
      sent++;
    }
    return sent;
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

function subjectFor(subscription: Subscription): string {
  return subscription.status === 'disabled'
    ? `[Herald] Webhook "${subscription.name}" was disabled`
    : `[Herald] Webhook "${subscription.name}" is failing`;
}

function bodyFor(
  subscription: Subscription,
  environmentId: string,
  failed: { id: string; eventId: string; attempts: number; lastAttemptAt: number | null }[],
  publicUrl: string,
): string {
  const lines = [
    `Subscription ${subscription.name} (${subscription.id}) on topic ${subscription.topic}`,
    `URL: ${subscription.url}`,
    `Status: ${subscription.status}${subscription.disabledReason ? ` (${subscription.disabledReason})` : ''}`,
    `Consecutive failed deliveries: ${subscription.consecutiveFailures}`,
    '',
    failed.length > 0 ? 'Deliveries that exhausted their retries since the last email:' : '',
    ...failed.map(
      (d) =>
        `  ${d.id}  event ${d.eventId}  ${d.attempts} attempts  last ${d.lastAttemptAt ? new Date(d.lastAttemptAt).toISOString() : '-'}`,
    ),
    '',
    `Logs: ${publicUrl}/portal (environment ${environmentId})`,
    'Herald sends at most one email per subscription per hour.',
  ];
  return lines.join('\n');
}
