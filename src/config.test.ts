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
