/** Test-only: assertions shared by the API suites. */
import assert from 'node:assert/strict';
import type { Answer } from './test-app.ts';

/** The answer is an RFC 9457 problem with this status (SPEC §3). */
export function assertProblem(answer: Answer, status: number, label = ''): void {
  assert.equal(answer.status, status, `${label} ${JSON.stringify(answer.body)}`);
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/, label);
  assert.equal(typeof answer.body.type, 'string');
  assert.equal(typeof answer.body.title, 'string');
  assert.equal(answer.body.status, status);
  assert.equal(typeof answer.body.detail, 'string');
}
