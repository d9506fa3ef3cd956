import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

describe('HERALD_SMTP_URL', () => {
  it('is unset by default, and an smtp:// or smtps:// URL is kept as given', () => {
    assert.equal(loadConfig({}).smtpUrl, null);
    const urls = ['smtp://127.0.0.1:2525', 'smtps://u:p%40ss@mail.example:465', 'smtp://mail.example?ignoreTLS=true'];
    for (const url of urls) {
      assert.equal(loadConfig({ HERALD_SMTP_URL: url }).smtpUrl, url);
    }
  });

  it('anything else stops start-up with a ConfigError naming the variable', () => {
    for (const url of ['notaurl', 'http://mail.example', 'mailto:ops@example.com', 'smtp://', 'smtp:mail.example']) {
      assert.throws(
        () => loadConfig({ HERALD_SMTP_URL: url }),
        (error: unknown) =>
          error instanceof ConfigError && /^HERALD_SMTP_URL: must/.test(error.message) && /smtp/.test(error.message),
        url,
      );
    }
  });
});

describe('HERALD_SCHEMA_TIMEOUT_MS and HERALD_SCHEMA_THREADS', () => {
  it('default to 1000 ms and 2 threads, and take whole numbers in range', () => {
    assert.equal(loadConfig({}).schemaTimeoutMs, 1000);
    assert.equal(loadConfig({}).schemaThreads, 2);
    const config = loadConfig({ HERALD_SCHEMA_TIMEOUT_MS: '250', HERALD_SCHEMA_THREADS: '4' });
    assert.equal(config.schemaTimeoutMs, 250);
    assert.equal(config.schemaThreads, 4);
  });

  it('refuse anything else, naming the variable', () => {
    for (const [name, value] of [
      ['HERALD_SCHEMA_TIMEOUT_MS', '0'],
      ['HERALD_SCHEMA_TIMEOUT_MS', '1s'],
      ['HERALD_SCHEMA_TIMEOUT_MS', '600000'],
      ['HERALD_SCHEMA_THREADS', '0'],
      ['HERALD_SCHEMA_THREADS', 'two'],
    ] as const) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (error: unknown) => error instanceof ConfigError && error.message.startsWith(`${name}:`),
        `${name}=${value}`,
      );
    }
  });
});

describe('HERALD_MAX_DELIVERIES_PER_PUBLISH', () => {
  it('defaults to 50000 and refuses what is not a positive whole number', () => {
    assert.equal(loadConfig({}).maxDeliveriesPerPublish, 50_000);
    assert.equal(loadConfig({ HERALD_MAX_DELIVERIES_PER_PUBLISH: '1000' }).maxDeliveriesPerPublish, 1000);
    for (const value of ['0', '-1', 'many']) {
      assert.throws(
        () => loadConfig({ HERALD_MAX_DELIVERIES_PER_PUBLISH: value }),
        (error: unknown) => error instanceof ConfigError && error.message.startsWith('HERALD_MAX_DELIVERIES_PER_PUBLISH:'),
      );
    }
  });
});
